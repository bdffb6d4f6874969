"""Imports the Keras backend with TensorFlow's C++ start-up lines kept off the terminal.

TensorFlow prints "Could not find cuda drivers...", oneDNN and CPU-feature
notices straight to file descriptor 2 from C++ while it loads, before its
`TF_CPP_MIN_LOG_LEVEL` is read, so the only way to keep them out of a
command's output is to hold file descriptor 2 while Keras imports. Lines that
are not such notices are written out again afterwards.

Example:
    >>> import_backend_quietly()   # then `import keras` costs nothing and prints nothing
"""

import importlib
import os
import re
import sys
import tempfile

# glog-style lines ("I0000 00:00:...", "W0000 ...", "E0000 ...") and absl's preamble.
NOTICE = re.compile(
    r"^([IWE]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl|"
    r"To enable the following instructions|This TensorFlow binary is optimized)"
)


def import_backend_quietly():
    """Imports `keras` with the backend's start-up notices filtered out of stderr.

    Does nothing but the import when `KERAS_DENSE_DEBUG` is set, when the user
    asked for TensorFlow's logs with `TF_CPP_MIN_LOG_LEVEL=0`, or when Keras is
    already imported. (Any other value is no sign of a wish: Keras itself sets
    it to 1 in every process that imports it, and children inherit that.)
    """
    if (
        "keras" in sys.modules
        or os.environ.get("KERAS_DENSE_DEBUG")
        or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0"
    ):
        importlib.import_module("keras")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # also hides the later "failed call to cuInit"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module("keras")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf8", "replace").splitlines()
                if line.strip() and not NOTICE.match(line)
            ]
            if kept:
                print("\n".join(kept), file=sys.stderr)
