"""Finding a published weights file: local folders first, then one download.

Search order for `weights="imagenet"`:

1. `$KERAS_DENSE_WEIGHTS` (one folder, or several joined by `os.pathsep`);
2. the project's `weights/` folder (beside the `keras_dense` package);
3. the Keras cache, `$KERAS_HOME/models` (default `~/.keras/models`);

then a download with `keras.utils.get_file` into the Keras cache. Every file,
found or downloaded, must have the published md5. Offline, the download fails
within seconds with one error naming the file, its URL, its md5 and the
folders searched.

Example:
    >>> from keras_dense.weights import catalog, resolve
    >>> path = resolve.resolve(catalog.find("densenet169"))
"""

import hashlib
import os
import pathlib
import socket
import urllib.parse

PROJECT_WEIGHTS_DIR = pathlib.Path(__file__).resolve().parents[2] / "weights"
CONNECT_TIMEOUT_S = 5.0  # the reachability probe before a download
READ_TIMEOUT_S = 30.0  # a stalled download fails instead of hanging


class WeightsUnavailableError(OSError):
    """The file is in none of the folders and could not be downloaded."""


class WeightsHashError(ValueError):
    """A file's md5 differs from the published one."""


def keras_cache_dir():
    """`$KERAS_HOME/models`, default `~/.keras/models`, as Keras caches downloads."""
    return pathlib.Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "models"


def search_dirs():
    """The folders searched, in order (existing or not)."""
    dirs = [pathlib.Path(p).expanduser()
            for p in os.environ.get("KERAS_DENSE_WEIGHTS", "").split(os.pathsep) if p]
    return dirs + [PROJECT_WEIGHTS_DIR, keras_cache_dir()]


_MD5_CACHE = {}  # (path, size, mtime) -> md5, so a file is hashed once per process


def file_md5(path):
    """The md5 hex digest of the file at `path` (cached by size and mtime)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _MD5_CACHE:
        digest = hashlib.md5()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _MD5_CACHE[key] = digest.hexdigest()
    return _MD5_CACHE[key]


def check_md5(path, row):
    """Raises `WeightsHashError` unless the file at `path` has `row.md5`."""
    actual = file_md5(path)
    if actual != row.md5:
        raise WeightsHashError(
            f"{path} has md5 {actual}, but the published {row.file_name} has md5 {row.md5}; "
            f"the file is damaged or not the published one: delete it and download it again "
            f"from {row.url}."
        )


def find_local(row):
    """The first existing file named `row.file_name` in `search_dirs()`, or `None`."""
    for folder in search_dirs():
        candidate = folder / row.file_name
        if candidate.is_file():
            return candidate
    return None


def resolve(row, download=True):
    """Returns the path of the verified file of `row` (a `catalog.WeightsFile`).

    Args:
        row: the catalog row.
        download: whether to download the file when no folder holds it.

    Returns:
        A `pathlib.Path` to a file with the published md5.

    Raises:
        WeightsHashError: the file found or downloaded has another md5.
        WeightsUnavailableError: no folder holds it and the download failed.
    """
    local = find_local(row)
    if local is not None:
        check_md5(local, row)
        return local
    if not download:
        raise WeightsUnavailableError(_unavailable_message(row, "downloads are disabled"))
    return _download(row)


def _unavailable_message(row, reason):
    folders = ", ".join(str(d) for d in search_dirs())
    return (
        f"The weights file {row.file_name} (md5 {row.md5}) is not in any of {folders}, "
        f"and downloading it from {row.url} failed ({reason}); download it on a machine "
        f"with internet access and copy it into one of those folders "
        f"(or set KERAS_DENSE_WEIGHTS to its folder)."
    )


def _probe(url):
    """Raises OSError within `CONNECT_TIMEOUT_S` if the URL's host cannot be reached."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
        pass


def _download(row):
    from keras.utils import get_file

    target_dir = keras_cache_dir()
    target = target_dir / row.file_name
    partial_name = f"{row.file_name}.part{os.getpid()}"
    previous_timeout = socket.getdefaulttimeout()
    try:
        _probe(row.url)
        target_dir.mkdir(parents=True, exist_ok=True)
        socket.setdefaulttimeout(READ_TIMEOUT_S)
        partial = get_file(
            partial_name, row.url, file_hash=row.md5, hash_algorithm="md5",
            cache_dir=str(target_dir), cache_subdir="",
        )
    except ValueError as error:  # get_file's md5 check
        _remove(target_dir / partial_name)
        raise WeightsHashError(
            f"The download of {row.file_name} from {row.url} does not have the published "
            f"md5 {row.md5} ({error}); it was deleted."
        ) from None
    except Exception as error:  # get_file raises a bare Exception for URL errors
        _remove(target_dir / partial_name)
        raise WeightsUnavailableError(_unavailable_message(row, error)) from None
    finally:
        socket.setdefaulttimeout(previous_timeout)
    os.replace(partial, target)
    return target


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
