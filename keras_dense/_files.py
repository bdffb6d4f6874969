"""Files written so that nothing is lost: atomic writes, refused overwrites, locks, cleanup.

Stdlib only, and our own because the rules are ours: every temporary name we
create carries `TEMP_MARK` (so a cleanup never touches a file we did not make),
permissions follow the umask (a cache shared by two users stays readable), and
an existing output is replaced only when the caller says so.

Example:
    >>> refuse_existing("model.onnx", overwrite=False)   # raises OutputExistsError if present
    >>> write_atomic("metrics.json", "{}")
"""

import contextlib
import os
import pathlib
import shutil
import time
import uuid

TEMP_MARK = ".kd-tmp-"
STALE_AFTER_S = 86400


class OutputExistsError(FileExistsError):
    """An output path exists and the caller did not ask to replace it."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode():
    """The mode a new file gets under the process umask (0o666 & ~umask)."""
    return 0o666 & ~_umask()


def dir_mode():
    """The mode a new folder gets under the process umask (0o777 & ~umask)."""
    return 0o777 & ~_umask()


def temporary_path(path, suffix=""):
    """A unique temporary name beside `path`, marked as ours (`TEMP_MARK`, the process id).

    Args:
        path: the final path.
        suffix: appended (Keras wants `.keras` on the files it saves).

    Returns:
        a `pathlib.Path` in the same folder, so that `os.replace` is atomic.
    """
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def fsync_dir(folder):
    """Flushes a folder's entries (a rename is durable only then); a no-op where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(tmp, path):
    """Moves a finished temporary file or folder to `path` (fsync, umask mode, rename).

    Args:
        tmp: the temporary file or folder (from `temporary_path`).
        path: the final path; an existing file there is replaced atomically.

    Returns:
        `path`, as a `pathlib.Path`.
    """
    tmp, path = pathlib.Path(tmp), pathlib.Path(path)
    if tmp.is_file():
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
    else:
        os.chmod(tmp, dir_mode())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def write_atomic(path, data):
    """Writes bytes or text to `path` through a unique temporary file and `os.replace`.

    A reader sees the old file or the new one, never a part; the file gets the
    umask's mode; a failure leaves no temporary behind.

    Args:
        path: the file to write.
        data: `bytes` or `str` (written as UTF-8).

    Returns:
        `path`, as a `pathlib.Path`.

    Example:
        >>> write_atomic("metrics.json", "{}")
    """
    path = pathlib.Path(path)
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        return publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """A temporary path to write `path` through; published on success, removed on failure.

    Example:
        >>> with atomic_path("best.keras", suffix=".keras") as tmp:
        ...     model.save(tmp)
    """
    tmp = temporary_path(path, suffix)
    try:
        yield tmp
        publish(tmp, path)
    finally:
        remove(tmp)


def remove(path):
    """Removes a file or folder if it exists (for our own temporaries only)."""
    path = pathlib.Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(
            FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError
        ):
            path.unlink()


def refuse_existing(
    path, overwrite=False, fix="pass --overwrite to replace it, or choose another path"
):
    """Raises `OutputExistsError` when `path` exists and `overwrite` is false.

    Args:
        path: the output path.
        overwrite: the caller asked to replace it.
        fix: what the user can do, ending the one-line message.
    """
    path = pathlib.Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        kind = "folder" if path.is_dir() else "file"
        raise OutputExistsError(
            f"{str(path)!r} exists (a {kind} keras-dense will not overwrite): {fix}."
        )


def clean_stale(folder, max_age_s=STALE_AFTER_S):
    """Removes our temporaries (names with `TEMP_MARK`) older than `max_age_s` in `folder`.

    Returns:
        the number removed; a folder that cannot be read gives 0.
    """
    return _remove_stale(folder, max_age_s, lambda name: TEMP_MARK in name)


def _remove_stale(folder, max_age_s, is_temporary):
    """Removes the entries of `folder` whose names `is_temporary` accepts, older than
    `max_age_s`; returns the number removed (0 when the folder cannot be read)."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not is_temporary(entry.name):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > max_age_s:
                remove(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


def process_state(pid):
    """`(alive, start)` of process `pid`: `start` is its start time in clock ticks after boot
    where `/proc` tells it (it tells a reused process id apart), else None; a zombie is dead."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[0] not in ("Z", "X"), int(fields[19])
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return False, None
    except (OSError, ValueError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except OSError:  # alive, another user's
        pass
    return True, None


def _pid_alive(pid):
    return process_state(pid)[0]


class FolderLock:
    """An exclusive lock on a folder, a file holding the owner's process id.

    A lock whose process is gone is stale and is taken over. Use as a context
    manager; `LockedError` (one line) when another live process holds it.

    Example:
        >>> with FolderLock("runs/bc100"):
        ...     train()
    """

    FILE = ".keras-dense.lock"

    def __init__(self, folder, what="this folder"):
        self.path = pathlib.Path(folder) / self.FILE
        self.what = what

    def owner(self):
        try:
            return int(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def acquire(self):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                pid = self.owner()
                if pid and pid != os.getpid() and _pid_alive(pid):
                    raise LockedError(
                        f"{self.what} {str(self.path.parent)!r} is in use by "
                        f"process {pid}: wait for it to end, or stop it."
                    ) from None
                self.path.unlink(missing_ok=True)  # its process died without releasing it
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return self
        raise LockedError(
            f"could not lock {self.what} {str(self.path.parent)!r}: another "
            "process took it at the same moment; try again."
        )

    def release(self):
        if self.owner() == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class LockedError(OSError):
    """A folder is locked by another live process."""


_CLEANED = set()  # folders clean_stale_once has cleaned in this process


def clean_stale_once(folder, legacy=(), max_age_s=STALE_AFTER_S):
    """Removes stale temporaries in `folder` once per process: ours (`TEMP_MARK`) and those
    matching the glob patterns `legacy` (the names earlier versions gave them).

    Args:
        folder: the folder (a cache); one that cannot be read is left alone.
        legacy: `fnmatch` patterns of other temporary names, e.g. `".staging-*"`.
        max_age_s: the age (by modification time) from which a temporary is stale.

    Returns:
        the number removed (0 on every later call for the same folder).
    """
    import fnmatch

    key = os.path.abspath(folder)
    if key in _CLEANED:
        return 0
    _CLEANED.add(key)
    removed = clean_stale(folder, max_age_s)
    if not legacy:
        return removed

    def is_legacy(name):
        return TEMP_MARK not in name and any(fnmatch.fnmatchcase(name, p) for p in legacy)

    return removed + _remove_stale(folder, max_age_s, is_legacy)
