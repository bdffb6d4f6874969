"""A detached `keras-dense export` that fills the engine cache, so that later runs use a runtime.

`keras-dense predict` with `--engine auto` runs a small job on Keras when the
runtime's export is not cached yet (exporting would cost more than it saves);
it then starts this export in its own low-priority process, and the next runs
find the export cached. One export per model, engine and precision runs at a
time: a lock file in the cache folder holds the export's process id and start
time, and a lock whose process is gone is stale at once.

An export that fails, or dies without a word (killed by a signal, by the
out-of-memory killer), leaves a failure record `<lock>.failed` (the error,
the number of attempts, when it failed and when it may be tried again);
attempts back off, 1 h, 4 h, 16 h, ... up to a week (`keras-dense export
NAME` shows the error at once). Set `KERAS_DENSE_BACKGROUND_EXPORT=0` to turn
it off (the tests do).

The export runs the installed keras_dense in a process that never imports from
the user's working folder: Python's `-P` (3.11+) and a start-up line that drops
the working folder from `sys.path` (3.10), with the cache folder as its working
folder. `-I` would do the same but also drop `PYTHONPATH` and the user's
site-packages, where keras_dense may be installed.

Example:
    >>> from keras_dense.inference import background
    >>> background.start("densenet169", "imagenet", "onnxruntime", "float32")
    True
"""

import json
import logging
import os
import pathlib
import subprocess
import sys
import time

import keras_dense
from keras_dense import _files
from keras_dense.inference import cache
from keras_dense.models import model_record

SWITCH = "KERAS_DENSE_BACKGROUND_EXPORT"
LOCK_STALE_S = 900  # a lock without a process id (an older version's) is stale after this
BACKOFF_S = 3600  # the wait after a first failure, times BACKOFF_FACTOR per further one
BACKOFF_FACTOR = 4
BACKOFF_MAX_S = 7 * 86400

# Run as `python [-P] -c _CHILD ROOT export ...`: drop the working folder ('' and its path)
# from sys.path before anything is imported, then find keras_dense where this process did
# (appended last, so it shadows nothing).
_CHILD = (
    "import os, sys; cwd = os.getcwd(); "
    "sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != cwd]; "
    "sys.path.append(sys.argv.pop(1)); "
    "from keras_dense.cli import main; sys.exit(main(sys.argv[1:]))"
)
# Folders the export finds through the environment: made absolute for its other working folder.
_PATH_VARIABLES = ("KERAS_DENSE_CACHE", "KERAS_HOME", "TORCH_HOME", "XDG_CACHE_HOME")

logger = logging.getLogger("keras_dense.inference")


def enabled():
    """Whether background exports are allowed (`KERAS_DENSE_BACKGROUND_EXPORT` is not `0`)."""
    return os.environ.get(SWITCH, "1") != "0"


def lock_path(name, engine, precision):
    return cache.cache_dir().absolute() / f".{name}-{engine}-{precision}.lock"


def failure_path(lock):
    """The failure record kept beside `lock`."""
    lock = pathlib.Path(lock)
    return lock.with_name(lock.name + ".failed")


def backoff_s(attempts):
    """Seconds to wait before attempt `attempts + 1`: 1 h, 4 h, 16 h, ... at most a week."""
    return min(BACKOFF_S * BACKOFF_FACTOR ** max(attempts - 1, 0), BACKOFF_MAX_S)


def read_failure(lock):
    """The failure record of `lock` as a dict (`error`, `attempts`, `failed_at`, `retry_at`),
    or None when there is none; an unreadable or older-format record counts as one failure
    at its modification time."""
    path = failure_path(lock)
    try:
        text = path.read_text(encoding="utf8")
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError as error:
        text, mtime = f"unreadable failure record ({error})", time.time()
    try:
        record = json.loads(text)
        if isinstance(record, dict) and isinstance(record.get("retry_at"), (int, float)):
            return record
    except ValueError:
        pass
    return {
        "error": text.strip(),
        "attempts": 1,
        "failed_at": mtime,
        "retry_at": mtime + backoff_s(1),
    }


def _record_failure(lock, error):
    previous = read_failure(lock) or {}
    attempts = int(previous.get("attempts", 0) or 0) + 1
    now = time.time()
    record = {
        "error": error,
        "attempts": attempts,
        "failed_at": now,
        "retry_at": now + backoff_s(attempts),
    }
    _files.write_atomic(failure_path(lock), json.dumps(record, indent=1) + "\n")
    return record


def _lock_record(pid):
    return json.dumps(
        {"pid": pid, "process_start": _files.process_state(pid)[1], "started_at": time.time()}
    )


def _lock_owner_dead(lock):
    """Whether `lock` is stale: its process is gone (or, for a lock without a process id,
    it is older than `LOCK_STALE_S`). False when it is held or already gone."""
    try:
        text = lock.read_text(encoding="utf8")
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    try:
        record = json.loads(text)
        pid = int(record["pid"])
    except (ValueError, TypeError, KeyError):
        return age > LOCK_STALE_S  # being written at this moment, or an older version's
    alive, start = _files.process_state(pid)
    recorded = record.get("process_start")
    return not alive or (start is not None and recorded is not None and start != recorded)


def _clear_dead_lock(lock):
    """Turns a lock whose export died without a word into a failure record."""
    claimed = _files.temporary_path(lock)
    try:
        os.replace(lock, claimed)  # only one process wins a stale lock
    except FileNotFoundError:
        return
    try:
        pid = json.loads(claimed.read_text(encoding="utf8")).get("pid", "?")
    except (OSError, ValueError, AttributeError):
        pid = "?"
    _record_failure(
        lock,
        f"the background export (process {pid}) ended without reporting: "
        "killed by a signal or out of memory",
    )
    _files.remove(claimed)


def _take_lock(lock):
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf8") as handle:
        handle.write(_lock_record(os.getpid()))
    return True


def _weights_argument(name, weights):
    """`weights` as the export in another working folder reads it: a tag stays a tag (names
    before paths), a path is made absolute."""
    try:
        model_record(name).weights_record(weights)
        return weights
    except ValueError:
        return os.path.abspath(weights) if os.path.exists(weights) else weights


def _child_environment():
    env = {**os.environ, SWITCH: "0", "PYTHONSAFEPATH": "1"}
    for variable in _PATH_VARIABLES:
        if env.get(variable):
            env[variable] = os.path.abspath(os.path.expanduser(env[variable]))
    # the working folder's weights/ is searched after $KERAS_DENSE_WEIGHTS (resolve.search_dirs)
    folders = [
        os.path.abspath(os.path.expanduser(p))
        for p in env.get("KERAS_DENSE_WEIGHTS", "").split(os.pathsep)
        if p
    ]
    env["KERAS_DENSE_WEIGHTS"] = os.pathsep.join([*folders, os.path.abspath("weights")])
    return env


def command(name, weights, engine, precision, lock):
    """The command line of the background export (without importing from the working folder)."""
    root = str(pathlib.Path(keras_dense.__file__).resolve().parents[1])
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []
    return [
        sys.executable,
        *safe_path,
        "-c",
        _CHILD,
        root,
        "export",
        name,
        "--weights",
        _weights_argument(name, weights),
        "--engine",
        engine,
        "--precision",
        precision,
        "--release-lock",
        str(lock),
    ]


def start(name, weights, engine, precision):
    """Starts `keras-dense export NAME --weights W --engine E` detached, unless one is running
    or a failed one's back-off has not passed.

    A cache folder that cannot be written only means no background export: a
    warning is logged and nothing is started.

    Args:
        name: the registry name.
        weights: a tag or a weights file (made absolute).
        engine: the runtime to export for.
        precision: its precision.

    Returns:
        True when an export was started.
    """
    if not enabled():
        return False
    try:
        folder = cache.cache_dir().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        cache.clean_stale(folder)
        lock = lock_path(name, engine, precision)
        if _lock_owner_dead(lock):
            _clear_dead_lock(lock)
        failure = read_failure(lock)
        if failure is not None and time.time() < failure["retry_at"]:
            return False
        if not _take_lock(lock):
            return False
    except OSError as error:
        logger.warning(
            "the engine cache %s cannot be written (%s); no background export",
            cache.cache_dir(),
            error,
        )
        return False
    try:
        child = subprocess.Popen(
            command(name, weights, engine, precision, lock),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=folder,
            env=_child_environment(),
        )
        # the export takes seconds to start, so it cannot have released the lock yet
        _files.write_atomic(lock, _lock_record(child.pid))
    except BaseException as error:
        lock.unlink(missing_ok=True)
        if isinstance(error, OSError):
            logger.warning("the background export could not be started (%s)", error)
            return False
        raise
    return True


def release(lock, error=None):
    """Deletes the lock of a background export (called by that export when it ends); an
    `error` is kept in the failure record, which holds off new attempts (`backoff_s`); a
    success deletes the record."""
    lock = pathlib.Path(lock)
    if error is not None:
        _record_failure(lock, f"{type(error).__name__}: {error}")
    else:
        failure_path(lock).unlink(missing_ok=True)
    lock.unlink(missing_ok=True)
