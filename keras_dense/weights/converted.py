"""torchvision and timm weight tags: the file found offline first, verified, converted once, cached.

The `.pth` file of a torchvision tag (e.g. `densenet161.tv_imagenet`) is
looked for in `resolve`'s folders (`$KERAS_DENSE_WEIGHTS`, `weights/`, the
Keras cache), then in torchvision's own cache, `$TORCH_HOME/hub/checkpoints`
(default `~/.cache/torch/hub/checkpoints`, where torchvision keeps the files
under the same names), and only then downloaded; its sha256 must start with
the prefix in its name, as torchvision checks. A timm tag's `model.safetensors`
is found by `keras_dense.weights.hub` instead (the Hugging Face cache first).
Either is converted once
(`keras_dense.weights.torchvision`) into a Keras `.weights.h5` kept in
`converted_dir()` beside a `.json` record of what it was made from: the
source's full sha256, the converter version, the architecture, and the
converted file's own sha256. A cached file is used only when all of these
match; a stale, damaged, half-written or unreadable one is converted again,
never trusted. The cache is an optimisation: when `converted_dir()` cannot be
written, the conversion is kept in a temporary file for this process (a
warning says so); temporaries of a killed process are removed after a day.

The model to convert into is built by the caller's function (the models'
registry passes it in: this package never builds or looks up a model).

Example:
    >>> from keras_dense.models import pretrained, weights_record
    >>> path = pretrained.converted_weights(weights_record("densenet161.tv_imagenet"))
"""

import atexit
import json
import logging
import os
import pathlib
import shutil
import tempfile

from keras_dense import _files, _paths
from keras_dense.weights import hub, resolve, torchvision
from keras_dense.weights.torch_state import read_state_dict

logger = logging.getLogger("keras_dense.weights")

CONVERTER_VERSION = 1  # bump when a conversion changes: every cached file is then rebuilt
LEGACY_TEMPORARIES = ("*.part[0-9]*",)  # earlier versions' partial files (`NAME.part<pid>.*`)


def torch_checkpoints_dir():
    """torchvision's cache, `$TORCH_HOME/hub/checkpoints` (as `torch.hub.get_dir()` finds it)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch"
    )
    return pathlib.Path(torch_home).expanduser() / "hub" / "checkpoints"


def converted_dir() -> pathlib.Path:
    """Where converted weights are cached: `_paths.cache_dir("converted")`,
    `$KERAS_DENSE_CACHE/converted`, else `$KERAS_HOME/keras_dense/converted` (default
    `~/.keras/keras_dense/converted`)."""
    return _paths.cache_dir(_paths.CONVERTED)


def _sidecar(target):
    return target.with_name(target.name.replace(".weights.h5", ".json"))


def _is_current(target, expected):
    """Whether `target` is a complete conversion of exactly what `expected` describes (one
    that cannot be read is not: a warning, and it is converted again)."""
    try:
        saved = json.loads(_sidecar(target).read_text(encoding="utf8"))
    except (FileNotFoundError, NotADirectoryError):  # not cached (yet)
        return False
    except (OSError, ValueError) as error:
        logger.warning(
            "the cached conversion record %s cannot be read (%s); converting again",
            _sidecar(target),
            error,
        )
        return False
    if not isinstance(saved, dict) or any(saved.get(k) != v for k, v in expected.items()):
        return False
    try:
        return target.is_file() and resolve.file_hash(target, "sha256") == saved.get("sha256")
    except OSError as error:
        logger.warning(
            "the cached conversion %s cannot be read (%s); converting again", target, error
        )
        return False


def save_weights_atomically(model, path, metadata=None):
    """`model.save_weights(path)` through a temporary file, renamed when complete.

    Args:
        model: the `keras.Model`.
        path: the `.weights.h5` file to write (its folder is created).
        metadata: optional dict written as `path`'s `.json` sidecar, with the
            written file's `sha256` added.

    Returns:
        `path` as a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"Keras weights files end in .weights.h5; got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _files.temporary_path(path, suffix=".weights.h5")
    try:
        model.save_weights(partial)
        record = (
            None
            if metadata is None
            else {**metadata, "sha256": resolve.file_hash(partial, "sha256")}
        )
        _files.publish(partial, path)
        if record is not None:  # last: weights without their matching record are not trusted
            _files.write_atomic(_sidecar(path), json.dumps(record, indent=1))
    finally:
        _files.remove(partial)
    return path


def source_path(record, download=True):
    """The verified local source file of a torchvision or timm `WeightsRecord`."""
    if record.file.hub_repo is not None:
        return hub.hub_path(record.file, download=download)
    return resolve.resolve(record.file, download=download, extra_dirs=[torch_checkpoints_dir()])


def converted_path(record, build, architecture, family, download=True):
    """The verified, converted Keras weights of a torchvision or timm `WeightsRecord`.

    Args:
        record: a `WeightsRecord` with `file_format="torch_state_dict"` (a `.pth`)
            or `"timm_safetensors"` (a Hub file).
        build: returns the model to convert into, without weights (`record.arch`
            applied, with its classifier); called only when no cached conversion fits.
        architecture: text that changes whenever that model's weights do (kept in
            the conversion's record: another architecture converts again).
        family: the model's family, which names torchvision's layout (`"densenet"`, ...).
        download: whether a missing source file may be downloaded.

    Returns:
        The `pathlib.Path` of a `.weights.h5` for the model built with
        `record.arch` and its classifier.

    Raises:
        WeightsUnavailableError, WeightsHashError: as `resolve.resolve` / `hub.hub_path`.
        TorchUnavailableError: a `.pth` conversion is needed and PyTorch is missing.
        WeightsFileError, WeightsMismatchError: the source is unreadable or does not fit.
    """
    source = source_path(record, download=download)
    expected = {
        "weights": record.name,
        "source": record.file.file_name,
        "source_sha256": resolve.file_hash(source, "sha256"),
        "converter": CONVERTER_VERSION,
        "architecture": architecture,
    }
    target = converted_dir() / f"{record.name}.weights.h5"
    _files.clean_stale_once(target.parent, LEGACY_TEMPORARIES)
    if _is_current(target, expected):
        return target
    logger.info("converting %s (%s) into %s", record.name, source, target)
    state = read_state_dict(source)  # a damaged file fails before the model is built
    model = build()
    torchvision.convert_into(model, state, family)
    try:
        return save_weights_atomically(model, target, expected)
    except OSError as error:
        logger.warning(
            "the converted weights could not be cached in %s (%s); they are "
            "converted again next time",
            target.parent,
            error,
        )
    folder = pathlib.Path(tempfile.mkdtemp(prefix="keras-dense-converted-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return save_weights_atomically(model, folder / target.name)
