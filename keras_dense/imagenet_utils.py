"""ImageNet input preprocessing and decoding of 1000-class predictions.

`preprocess_input` gives exactly the results of
`keras.applications.imagenet_utils.preprocess_input` (modes caffe, tf, torch),
but never writes over its input. `decode_predictions` reads the class index
bundled with the package (`keras_dense/data/imagenet_class_index.json`, the
file Keras downloads), so it never downloads.

Example:
    >>> x = preprocess_input(images, mode="torch")      # DenseNet
    >>> decode_predictions(model.predict(x), top=3)[0]
    [('n02504458', 'African_elephant', 0.83), ...]
"""

import functools
import importlib.resources
import json

import numpy as np

MODES = ("caffe", "tf", "torch")
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
NUM_CLASSES = 1000


def _channel_axis(ndim, data_format):
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _shape_for(ndim, axis):
    shape = [1] * ndim
    shape[axis] = 3
    return shape


def preprocess_input(x, mode="caffe", data_format=None):
    """Scales a batch (or one image) of RGB pixels in [0, 255] for an ImageNet model.

    Args:
        x: NumPy array or backend tensor, 3D or 4D, with 3 colour channels.
            It is not modified.
        mode: `"caffe"` (RGB->BGR, subtract the ImageNet mean: VGG, ResNet),
            `"tf"` (scale to [-1, 1]: Inception) or `"torch"` (scale to [0, 1],
            normalise by the ImageNet mean and std: DenseNet).
        data_format: `"channels_last"`, `"channels_first"` or `None` (Keras' setting).

    Returns:
        A new float array (float32 for integer input) or tensor.

    Example:
        >>> preprocess_input(np.full((1, 2, 2, 3), 255, "uint8"), mode="tf")[0, 0, 0]
        array([1., 1., 1.], dtype=float32)
    """
    import keras

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    if data_format is None:
        data_format = keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"data_format must be 'channels_last' or 'channels_first'; got {data_format!r}."
        )
    ndim = len(x.shape)
    axis = _channel_axis(ndim, data_format)
    if ndim not in (3, 4) or x.shape[axis] != 3:
        raise ValueError(
            f"preprocess_input expects one image (3D) or a batch (4D) with 3 channels "
            f"({data_format}); got shape {tuple(x.shape)}."
        )
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, mode, axis)
    return _preprocess_tensor(x, mode, axis)


def _preprocess_numpy(x, mode, axis):
    import keras

    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else keras.config.floatx()
    x = x.astype(dtype, copy=True)
    shape = _shape_for(x.ndim, axis)
    # The operations and their order are Keras's, so results are bit-identical.
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        x -= np.asarray(TORCH_MEAN, dtype).reshape(shape)
        x /= np.asarray(TORCH_STD, dtype).reshape(shape)
        return x
    x = np.flip(x, axis=axis).copy()  # RGB -> BGR
    x -= np.asarray(CAFFE_MEAN_BGR, dtype).reshape(shape)
    return x


def _preprocess_tensor(x, mode, axis):
    import keras
    from keras import ops

    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    shape = _shape_for(len(x.shape), axis)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        mean = ops.reshape(ops.convert_to_tensor(TORCH_MEAN, x.dtype), shape)
        std = ops.reshape(ops.convert_to_tensor(TORCH_STD, x.dtype), shape)
        return (x / 255.0 - mean) / std
    x = ops.flip(x, axis=axis)
    return x - ops.reshape(ops.convert_to_tensor(CAFFE_MEAN_BGR, x.dtype), shape)


@functools.lru_cache(maxsize=1)
def class_index():
    """The ImageNet class index: `{index: (wnid, label)}` for the 1000 classes."""
    text = importlib.resources.files("keras_dense").joinpath(
        "data", "imagenet_class_index.json"
    ).read_text(encoding="utf8")
    return {int(k): tuple(v) for k, v in json.loads(text).items()}


def decode_predictions(preds, top=5):
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
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= NUM_CLASSES:
        raise ValueError(f"top must be an integer from 1 to {NUM_CLASSES}; got {top!r}.")
    index = class_index()
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]  # Keras's tie order
        result = [index[int(i)] + (pred[i],) for i in top_indices]
        result.sort(key=lambda item: item[2], reverse=True)
        results.append(result)
    return results
