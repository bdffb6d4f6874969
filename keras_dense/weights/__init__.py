"""Model weights: published files found offline first, verified, and loaded all or nothing.

- `resolve`: the search folders, the hash check, one download.
- `h5`: reading Keras 2 `.h5` and Keras 3 `.weights.h5`, loading by order or by name.
- `sources`: the helpers the model records describe their published files with.
- `torch_state`: reading `.pth` state dicts safely (`torch.load(weights_only=True)`).
- `torchvision`: torchvision's state dicts into our models (`from_torchvision`).
- `converted`: torchvision tags' files found, verified, converted once and cached.

The published files themselves are described in the model records
(`keras_dense.models.model_record(name).weights`).

Example:
    >>> from keras_dense import weights
    >>> report = weights.load_weights(model, "my_weights.weights.h5")
    >>> weights.published_path("densenet169.keras_imagenet", include_top=False)
    >>> model = weights.from_torchvision("resnet18-f37072fd.pth", "resnet18")
"""

import logging
import os
import pathlib
import warnings

from keras_dense.weights.h5 import (
    LoadReport,
    WeightsFileError,
    WeightsMismatchError,
    load_weights,
    read_weights_file,
)
from keras_dense.weights.resolve import WeightsHashError, WeightsUnavailableError
from keras_dense.weights.torch_state import TorchUnavailableError
from keras_dense.weights.torchvision import from_torchvision

logger = logging.getLogger("keras_dense.weights")

__all__ = [
    "LoadReport", "TorchUnavailableError", "WeightsFileError", "WeightsHashError",
    "WeightsMismatchError", "WeightsUnavailableError", "find_published_file", "from_torchvision",
    "load_into", "load_weights", "published_path", "read_weights_file",
]
# A path ending so is a PyTorch state dict (converted on load); any other, a Keras file.
TORCH_SUFFIXES = (".pth", ".pt")


def published_path(name, include_top=True, download=True):
    """The verified local path of a published file, downloading it if allowed.

    Args:
        name: the weights' full name, e.g. `"densenet169.keras_imagenet"`.
        include_top: the file with the classifier, or the one without.
        download: whether a missing file may be downloaded.

    Returns:
        A `pathlib.Path`.
    """
    from keras_dense.models import weights_record
    from keras_dense.weights import converted, resolve

    record = weights_record(name)
    extra_dirs = [converted.torch_checkpoints_dir()] if record.file_format == "torch_state_dict" \
        else []
    return resolve.resolve(record.file_for(include_top), download=download, extra_dirs=extra_dirs)


def find_published_file(predicate):
    """`(WeightsRecord, include_top, WeightsFile)` of the first published file for which
    `predicate(weights_file)` is true, or `None`."""
    from keras_dense.models import weights_records

    for record in weights_records():
        for include_top, weights_file in record.files():
            if predicate(weights_file):
                return record, include_top, weights_file
    return None


def _load_keras_h5(model, record, include_top):
    from keras_dense.weights import resolve

    path = resolve.resolve(record.file_for(include_top))
    by_name = not include_top and record.notop_file is None
    return load_weights(model, path, by_name=by_name, require_all=True)


def _load_torch_state_dict(model, record, include_top):
    from keras_dense.weights import converted

    path = converted.converted_path(record)  # the file with the classifier, loaded by name
    return load_weights(model, path, by_name=True, require_all=True)


# file_format of a WeightsRecord -> loader(model, record, include_top) -> LoadReport
FORMAT_LOADERS = {"keras_h5": _load_keras_h5, "torch_state_dict": _load_torch_state_dict}


def load_into(model, source, include_top=True):
    """Loads published weights or a weights file into a model a builder just made.

    Args:
        model: the built `keras.Model`.
        source: a `WeightsRecord` (a weight tag) or a path to a weights file
            (a Keras `.h5` / `.weights.h5`, or a torchvision `.pth` state dict,
            converted on the way).
        include_top: whether the model has its classifier (picks the file).

    Returns:
        The `LoadReport` (also logged).

    Raises:
        WeightsFileError, WeightsMismatchError: the file cannot be read or does not fit.
        WeightsHashError: a published file has the wrong hash.
        WeightsUnavailableError: a published file is not available offline and
            cannot be downloaded.
    """
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        published = find_published_file(lambda f: f.file_name == path.name)
        if published is not None:  # a published file by name must be the published bytes
            from keras_dense.weights import resolve

            resolve.check_hash(path, published[2])
        if path.suffix.lower() in TORCH_SUFFIXES:
            from keras_dense.weights import torchvision

            report = torchvision.convert_into(model, path)
        else:
            report = load_weights(model, path)
    else:
        loader = FORMAT_LOADERS.get(source.file_format)
        if loader is None:
            raise ValueError(f"{source.name}: weights in the {source.file_format!r} format "
                             "cannot be loaded by this version of keras_dense.")
        report = loader(model, source, include_top)
    if report.skipped:
        warnings.warn(str(report), stacklevel=3)
    logger.info("%s", report)
    return report
