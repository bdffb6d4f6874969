"""A detached `keras-dense export` that fills the engine cache, so that later runs use a runtime.

`keras-dense predict` with `--engine auto` runs a small job on Keras when the
runtime's export is not cached yet (exporting would cost more than it saves);
it then starts this export in its own low-priority process, and the next runs
find the export cached. One export per model, engine and precision runs at a
time (a lock file in the cache folder, stale after 15 minutes); one that
failed leaves its error in `<lock>.failed` and is not retried for a day
(`keras-dense export NAME` shows the error). Set
`KERAS_DENSE_BACKGROUND_EXPORT=0` to turn it off (the tests do).

Example:
    >>> from keras_dense.inference import background
    >>> background.start("densenet169", "imagenet", "onnxruntime", "float32")
    True
"""

import os
import subprocess
import sys
import time

from keras_dense.inference import cache

SWITCH = "KERAS_DENSE_BACKGROUND_EXPORT"
LOCK_STALE_S = 900
RETRY_FAILED_AFTER_S = 86400


def enabled():
    """Whether background exports are allowed (`KERAS_DENSE_BACKGROUND_EXPORT` is not `0`)."""
    return os.environ.get(SWITCH, "1") != "0"


def lock_path(name, engine, precision):
    return cache.cache_dir() / f".{name}-{engine}-{precision}.lock"


def _failed_recently(lock):
    failed = lock.with_name(lock.name + ".failed")
    try:
        return time.time() - failed.stat().st_mtime < RETRY_FAILED_AFTER_S
    except FileNotFoundError:
        return False


def _take_lock(lock):
    try:
        if time.time() - lock.stat().st_mtime > LOCK_STALE_S:
            lock.unlink(missing_ok=True)  # its export died without releasing it
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def start(name, weights, engine, precision):
    """Starts `keras-dense export NAME --weights W --engine E` detached, unless one is running.

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
    cache.cache_dir().mkdir(parents=True, exist_ok=True)
    lock = lock_path(name, engine, precision)
    if _failed_recently(lock) or not _take_lock(lock):
        return False
    if os.path.exists(weights):
        weights = os.path.abspath(weights)
    command = [sys.executable, "-m", "keras_dense", "export", name, "--weights", weights,
               "--engine", engine, "--precision", precision, "--release-lock", str(lock)]
    subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True,
                     env={**os.environ, SWITCH: "0"})
    return True


def release(lock, error=None):
    """Deletes the lock of a background export (called by that export when it ends); an
    `error` is kept in `<lock>.failed`, which holds off new attempts for a day."""
    failed = f"{lock}.failed"
    if error is not None:
        with open(failed, "w") as handle:
            handle.write(f"{type(error).__name__}: {error}\n")
    elif os.path.exists(failed):
        os.unlink(failed)
    try:
        os.unlink(lock)
    except FileNotFoundError:
        pass
