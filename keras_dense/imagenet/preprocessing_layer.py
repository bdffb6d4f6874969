"""`ImageNetPreprocessing`: the weights' preprocessing as a layer (kimm's `include_preprocessing`).

A model built with `include_preprocessing=True` starts with this layer, so it
takes RGB pixels 0-255 and a saved or exported model is self-contained. The
layer computes `preprocess_input(x, mode=...)` with `keras.ops` (same values
to float32 rounding) and is registered for `.keras` files.

Example:
    >>> layer = ImageNetPreprocessing("torch")
    >>> layer(np.full((1, 2, 2, 3), 255.0, "float32"))[0, 0, 0]   # (1 - mean) / std
"""

import keras

from keras_dense.imagenet import preprocessing

LAYER_NAME = "preprocessing"


@keras.saving.register_keras_serializable(package="keras_dense")
class ImageNetPreprocessing(keras.layers.Layer):
    """Scales RGB pixels 0-255 (channels last) as ImageNet weights expect.

    Args:
        mode: `"caffe"` (RGB->BGR, minus the ImageNet mean), `"tf"` (to [-1, 1])
            or `"torch"` (to [0, 1], then the ImageNet mean and std).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
        >>> model = keras_dense.get_model("densenet121", include_preprocessing=True)
        >>> model.get_layer("preprocessing").mode
        'torch'
    """

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in preprocessing.MODES:
            raise ValueError(f"mode must be one of {', '.join(preprocessing.MODES)}; got {mode!r}.")
        self.mode = mode

    def call(self, inputs):
        return preprocessing.preprocess_input(inputs, data_format="channels_last", mode=self.mode)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def included_mode(model):
    """The mode of the `ImageNetPreprocessing` layer `model` starts with, or `None`.

    Args:
        model: a `keras.Model`.

    Returns:
        `"caffe"`, `"tf"`, `"torch"`, or `None` when the model takes preprocessed input.
    """
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, ImageNetPreprocessing):
            return layer.mode
    return None
