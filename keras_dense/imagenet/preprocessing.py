"""ImageNet input preprocessing, in `keras.applications`' argument order.

`preprocess_input(x, data_format=None, mode="caffe")` gives exactly the results
of `keras.applications.imagenet_utils.preprocess_input` (modes caffe, tf,
torch) but never writes over its input; each family module has its own
`preprocess_input(x, data_format=None)` with its weights' mode, as Keras's
family modules do.

Example:
    >>> x = preprocess_input(images, mode="torch")      # DenseNet
    >>> from keras_dense.models import densenet
    >>> x = densenet.preprocess_input(images)            # the same
"""

from typing import Any

import numpy as np

from keras_dense._choices import PREPROCESSING_MODES as MODES

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def _channel_axis(ndim, data_format):
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _shape_for(ndim, axis):
    shape = [1] * ndim
    shape[axis] = 3
    return shape


def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Scales a batch (or one image) of RGB pixels in [0, 255] for an ImageNet model.

    Args:
        x: NumPy array or backend tensor, 3D or 4D, with 3 colour channels.
            It is not modified.
        data_format: `"channels_last"`, `"channels_first"` or `None` (Keras' setting).
        mode: `"caffe"` (RGB->BGR, subtract the ImageNet mean: VGG, ResNet),
            `"tf"` (scale to [-1, 1]: Inception) or `"torch"` (scale to [0, 1],
            normalise by the ImageNet mean and std: DenseNet).

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


def family_preprocess_input(mode, family_label):
    """A family's `preprocess_input(x, data_format=None)` with its weights' `mode`.

    Args:
        mode: `"caffe"`, `"tf"` or `"torch"`.
        family_label: the family's name for the docstring, e.g. `"DenseNet"`.

    Returns:
        The function.
    """

    def family_preprocess(x, data_format=None):
        return preprocess_input(x, data_format=data_format, mode=mode)

    family_preprocess.__name__ = family_preprocess.__qualname__ = "preprocess_input"
    family_preprocess.__doc__ = (
        f"Preprocesses RGB pixels 0-255 for {family_label}'s published weights "
        f'(`mode="{mode}"`).\n\n'
        "Args:\n    x: array or tensor, 3D or 4D, 3 channels (not modified).\n"
        '    data_format: `"channels_last"`, `"channels_first"` or `None`.\n\n'
        "Returns:\n    The preprocessed array or tensor.\n\n"
        "Example:\n    >>> x = preprocess_input(pixels)\n"
    )
    return family_preprocess
