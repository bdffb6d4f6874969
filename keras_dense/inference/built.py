"""Registry models built once per process (the last two kept), and their weights' preprocessing.

`predict`, `validate` and `export` given a model name build it here, so that a
second call with the same name, weights, precision and engine reuses the model
(or the runtime's opened export) instead of building it again.

Examples:
    >>> from keras_dense.inference import built
    >>> model = built.keras_model(keras_dense.models.model_record("densenet121"), "imagenet")
    >>> built.preprocess_of(keras_dense.models.model_record("densenet121"), "imagenet")
    'torch'
"""

import collections
import os
from collections.abc import Callable, Hashable
from typing import Any

from keras_dense.imagenet import preprocessing
from keras_dense.inference.fast import inference_model
from keras_dense.models import ModelRecord, pretrained

_BUILT = collections.OrderedDict()  # (name, weights, precision, fold, engine) -> the last few
_BUILT_MAX = 2


def weights_identity(weights: Any) -> Hashable:
    """A cache key for `weights`: a path counts with its size and time, so a rewritten file
    reloads (tags and paths told apart as the builder does, keywords first)."""
    kind, value = pretrained.classify_weights_argument(weights)
    if kind != "path":
        return value
    path = os.path.expanduser(os.fspath(value))
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # the builder refuses it with its one line
        return path
    return path, stat.st_size, stat.st_mtime_ns


def preprocess_of(record: ModelRecord | None, weights: Any) -> str | None:
    """The preprocessing mode of `weights` (a tag, or a file: the record's default)."""
    if record is None:
        return None
    if pretrained.classify_weights_argument(weights)[0] == "tag" and record.weights:
        try:
            return record.weights_record(weights).preprocess
        except ValueError:
            return record.preprocess
    return record.preprocess


def check_preprocess(preprocess: str) -> None:
    """Raises ValueError unless `preprocess` is one of the ImageNet preprocessing modes."""
    if preprocess not in preprocessing.MODES:
        raise ValueError(
            f"preprocess must be one of {', '.join(preprocessing.MODES)}; got {preprocess!r}."
        )


def is_built(key: tuple) -> bool:
    """Whether the model of `key` is kept (built by this process and not yet dropped)."""
    return key in _BUILT


def remembered(key: tuple, make: Callable[[], Any]) -> Any:
    """The model kept for `key`, made with `make()` first when it is not (the last two kept).

    Args:
        key: `(name, weights_identity, precision, fold_bn, engine)`.
        make: builds the model (a `keras.Model` or an exported model).

    Returns:
        The kept model.
    """
    if key not in _BUILT:
        _BUILT[key] = make()
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    _BUILT.move_to_end(key)
    return _BUILT[key]


def keras_key(
    record: ModelRecord, weights: Any, precision: str = "float32", fold_bn: bool = False
) -> tuple:
    """The key of `record`'s Keras model with `weights` in `precision`."""
    return (record.name, weights_identity(weights), precision, bool(fold_bn), "keras")


def keras_model(
    record: ModelRecord, weights: Any, precision: str = "float32", fold_bn: bool = False
) -> Any:
    """`record`'s Keras model built with `weights` (kept), as `inference_model` runs it.

    Args:
        record: the model's `ModelRecord`.
        weights: `"imagenet"`, a weight tag, a path, or `None`.
        precision: `"float32"` or `"bfloat16"`.
        fold_bn: fold batch norms into the convolutions before them.

    Returns:
        A `keras.Model`.
    """
    return remembered(
        keras_key(record, weights, precision, fold_bn),
        lambda: inference_model(record.build(weights=weights), precision, fold_bn),
    )
