"""Writing files so that a reader never sees a partial one (stdlib only)."""

import os
import pathlib


def write_atomic(path, data):
    """Writes bytes or text to `path` through a temporary file and `os.replace`.

    Args:
        path: the file to write.
        data: `bytes` or `str` (written as UTF-8).

    Returns:
        `path`, as a `pathlib.Path`.

    Example:
        >>> write_atomic("metrics.json", "{}")
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
