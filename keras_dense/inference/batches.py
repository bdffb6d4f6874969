"""Batched inference through the model's compiled predict step.

`model.predict` on a NumPy array builds a data pipeline around every call;
`predict_on_batch` runs the backend's compiled step directly (a `tf.function`
under TensorFlow, `jax.jit` under JAX, `no_grad` eager under PyTorch), which is
what single-process inference over preloaded batches wants.

Example:
    >>> from keras_dense.inference.batches import predict_batches
    >>> probabilities = predict_batches(model, images, batch_size=32)
"""

import numpy as np


def predict_batches(model, x, batch_size=32):
    """Runs `model` over `x` in batches and returns the stacked outputs.

    Args:
        model: a `keras.Model` with one output.
        x: a NumPy array (or anything sliceable with `len`), batch first.
        batch_size: images per step; a smaller input runs as one step.

    Returns:
        A NumPy array with `len(x)` rows.

    Example:
        >>> predict_batches(model, np.zeros((5, 224, 224, 3), "float32"), 2).shape
        (5, 1000)
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    count = len(x)
    if count == 0:
        raise ValueError("predict_batches needs at least one input row; got an empty batch.")
    batch_size = min(batch_size, count)
    outputs = [
        np.asarray(model.predict_on_batch(x[start : start + batch_size]))
        for start in range(0, count, batch_size)
    ]
    return np.concatenate(outputs, axis=0)
