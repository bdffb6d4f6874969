"""Pixels in, model inputs out: image batches for a model, preprocessed batch by batch.

Examples:
    >>> from keras_dense.inference import inputs
    >>> pixels = inputs.to_pixel_batch(["a.jpg", "b.png"], inputs.input_size(model))
    >>> probabilities = inputs.probabilities_of(model, "torch", pixels)
"""

import os

import numpy as np

from keras_dense.imagenet import images as images_lib
from keras_dense.imagenet import preprocessing
from keras_dense.imagenet.preprocessing_layer import included_mode
from keras_dense.inference.batches import predict_batches

DEFAULT_SIZE = (224, 224)


def input_size(model):
    """The `(height, width)` a model takes; 224x224 when its input size is open."""
    height, width = model.input_shape[1:3]
    return (height or DEFAULT_SIZE[0], width or DEFAULT_SIZE[1])


def is_single(images):
    """Whether `images` is one image (a path, a Pillow image or an `(h, w, 3)` array)."""
    from PIL import Image

    if isinstance(images, (str, os.PathLike, Image.Image)):
        return True
    return isinstance(images, np.ndarray) and images.ndim == 3


def to_pixel_batch(images, size, crop=False, interpolation="nearest"):
    """A `(n, height, width, 3)` array of RGB pixels from paths, Pillow images or arrays.

    Args:
        images: a path, a Pillow image, an array `(h, w, 3)` or `(n, h, w, 3)`
            of RGB pixels 0-255, or a list of paths / Pillow images / arrays.
        size: `(height, width)` the files and Pillow images are resized to.
        crop: as in `keras_dense.imagenet.images.to_rgb_array`.
        interpolation: as in `keras_dense.imagenet.images.to_rgb_array`.

    Returns:
        A NumPy array (uint8 for files and Pillow images).
    """
    from PIL import Image

    if is_single(images):
        images = [images]
    if isinstance(images, np.ndarray):
        batch = images
    else:
        arrays = []
        for item in images:
            if isinstance(item, (str, os.PathLike)):
                arrays.append(images_lib.load_image(item, size, crop, interpolation))
            elif isinstance(item, Image.Image):
                arrays.append(images_lib.to_rgb_array(item, size, crop, interpolation))
            else:
                arrays.append(np.asarray(item))
        if not arrays:
            raise ValueError("predict needs at least one image; got none.")
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(
                f"The arrays given have different shapes {sorted(shapes)}; resize them "
                f"to {size[0]}x{size[1]}, or pass file paths or Pillow images."
            )
        batch = np.stack(arrays)
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(
            f"Images must be RGB arrays (n, height, width, 3); got shape {batch.shape}."
        )
    if tuple(batch.shape[1:3]) != tuple(size):
        raise ValueError(
            f"The model takes {size[0]}x{size[1]} images; the arrays are "
            f"{batch.shape[1]}x{batch.shape[2]}. Resize them, or pass paths or Pillow images."
        )
    return batch


def model_input(model, preprocess, pixels):
    """`pixels` preprocessed for `model` (as they are when it includes its preprocessing)."""
    if included_mode(model):
        return pixels
    return preprocessing.preprocess_input(pixels, mode=preprocess)


def probabilities_of(model, preprocess, pixels, batch_size=32):
    """The model's outputs on a pixel batch, each batch preprocessed just before it runs,
    so a large pixel array is never copied whole into float32 (600 MB for 1,000 images)."""
    return np.concatenate(
        [
            predict_batches(
                model,
                model_input(model, preprocess, pixels[start : start + batch_size]),
                batch_size,
            )
            for start in range(0, len(pixels), batch_size)
        ]
    )
