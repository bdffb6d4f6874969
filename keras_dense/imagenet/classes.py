"""The ImageNet class index and the decoding of 1000-class predictions.

`decode_predictions` reads the class index bundled with the package
(`keras_dense/data/imagenet_class_index.json`, the file Keras downloads), so
it never downloads, and returns Keras's tuples.

Example:
    >>> decode_predictions(model.predict(x), top=3)[0]
    [('n02504458', 'African_elephant', 0.83), ...]
"""

import functools
import importlib.resources
import json

import numpy as np

NUM_CLASSES = 1000


@functools.lru_cache(maxsize=1)
def class_index():
    """The ImageNet class index: `{index: (wnid, label)}` for the 1000 classes."""
    text = (
        importlib.resources.files("keras_dense")
        .joinpath("data", "imagenet_class_index.json")
        .read_text(encoding="utf8")
    )
    return {int(k): tuple(v) for k, v in json.loads(text).items()}


def top_k(outputs, k):
    """Indices of the `k` largest outputs of each row, largest first (ties: lower index first).

    Args:
        outputs: `(n, classes)` array.
        k: how many per row.

    Returns:
        An integer array `(n, k)`.
    """
    return np.argsort(-np.asarray(outputs), axis=1, kind="stable")[:, :k]


def decode_predictions(preds: np.ndarray, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Decodes a batch of 1000-class ImageNet predictions into the top classes.

    Args:
        preds: array or tensor of shape `(samples, 1000)`.
        top: how many classes to return per sample, 1 to 1000.

    Returns:
        Per sample, a list of `(wnid, label, score)` tuples, highest score first
        (the same tuples as `keras.applications` `decode_predictions`).

    Example:
        >>> decode_predictions(model.predict(x), top=1)
        [[('n02504458', 'African_elephant', 0.83)]]
    """
    from keras import ops

    preds = np.asarray(ops.convert_to_numpy(preds))
    if preds.ndim != 2 or preds.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"decode_predictions expects a batch of ImageNet predictions of shape "
            f"(samples, {NUM_CLASSES}); got shape {preds.shape}."
        )
    if (
        isinstance(top, bool)
        or not isinstance(top, (int, np.integer))
        or not 1 <= top <= NUM_CLASSES
    ):
        raise ValueError(f"top must be an integer from 1 to {NUM_CLASSES}; got {top!r}.")
    index = class_index()
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]  # Keras's tie order
        result = [index[int(i)] + (pred[i],) for i in top_indices]
        result.sort(key=lambda item: item[2], reverse=True)
        results.append(result)
    return results
