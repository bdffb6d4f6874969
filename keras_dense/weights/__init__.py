"""Model weights: the published ImageNet files, found offline first, loaded all or nothing.

- `catalog`: the table of published Keras files (name, URL, md5, with/without top).
- `resolve`: `$KERAS_DENSE_WEIGHTS`, the project's `weights/`, the Keras
  cache, then one download; every file is md5-checked.
- `h5`: reading Keras 2 `.h5` and Keras 3 `.weights.h5` and loading by
  order or by name.

Example:
    >>> from keras_dense import weights
    >>> path = weights.imagenet_weights_path("densenet169", include_top=False)
    >>> report = weights.load_weights(model, path, by_name=True)
"""

import logging
import os
import warnings

from keras_dense.weights import catalog
from keras_dense.weights.h5 import (
    LoadReport,
    WeightsFileError,
    WeightsMismatchError,
    load_weights,
    read_weights_file,
)
from keras_dense.weights.resolve import WeightsHashError, WeightsUnavailableError

logger = logging.getLogger("keras_dense.weights")

__all__ = [
    "LoadReport", "WeightsFileError", "WeightsHashError", "WeightsMismatchError",
    "WeightsUnavailableError", "catalog", "imagenet_weights_path", "load_model_weights",
    "load_weights", "read_weights_file",
]


def imagenet_weights_path(weights_key, include_top=True, download=True):
    """The verified local path of a published file, downloading it if needed.

    Args:
        weights_key: the key, e.g. `"densenet169"` (see `catalog.keys()`).
        include_top: the file with the classifier, or without (`_notop`).
        download: whether a missing file may be downloaded.

    Returns:
        A `pathlib.Path`.
    """
    from keras_dense.weights import resolve

    return resolve.resolve(catalog.find(weights_key, include_top), download=download)


def load_model_weights(model, weights, weights_key=None, include_top=True):
    """Loads `weights` into a model a builder just made (called by `finish_model`).

    Args:
        model: the built `keras.Model`.
        weights: `"imagenet"` or a path to a weights file.
        weights_key: key of the model's published weights; `None` when it has none.
        include_top: whether the model has its classifier (picks the file).

    Returns:
        The `LoadReport` (also logged).

    Raises:
        ValueError: the model has no published weights, or the file does not fit.
        OSError: the published file is not available offline and cannot be downloaded.
    """
    if weights == "imagenet":
        if weights_key is None:
            raise ValueError(
                f"No ImageNet weights are published for model {model.name!r}; "
                "pass weights=None or a path to a weights file."
            )
        from keras_dense.weights import resolve

        row = catalog.find(weights_key, include_top)
        path = resolve.resolve(row)
        report = load_weights(model, path, by_name=False, require_all=True)
    else:
        path = os.fspath(weights)
        row = catalog.find_by_file_name(os.path.basename(path))
        if row is not None:  # a published file by name: it must be the published bytes
            from keras_dense.weights import resolve

            resolve.check_md5(path, row)
        report = load_weights(model, path)
    if report.skipped:
        warnings.warn(str(report), stacklevel=3)
    logger.info("%s", report)
    return report
