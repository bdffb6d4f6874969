"""`predict`: ImageNet top-k classes for image files, Pillow images or pixel arrays.

The model is a registry name (built once per process and reused) or an
already built Keras model; its preprocessing mode comes from its registry
entry (DenseNet: torch) unless `preprocess=` says otherwise.

Example:
    >>> import keras_dense
    >>> keras_dense.predict("elephant.jpg", model="densenet169")[0][:2]
    [('n02504458', 'African_elephant', 0.81), ('n01871265', 'tusker', 0.12)]
"""

import collections
import os

import numpy as np

from keras_dense import images as images_lib
from keras_dense import imagenet_utils, inference

DEFAULT_SIZE = (224, 224)
_BUILT = collections.OrderedDict()  # (name, weights) -> model, the most recent few
_BUILT_MAX = 2


def _weights_identity(weights):
    """A cache key for `weights`: a path counts with its size and time, so a rewritten file reloads."""
    if weights is None or weights == "imagenet":
        return weights
    path = os.fspath(weights)
    try:
        stat = os.stat(path)
    except OSError:
        return path  # the build reports the missing file
    return path, stat.st_size, stat.st_mtime_ns


def build_for_predict(model="densenet169", weights="imagenet", preprocess=None,
                      precision="float32", fold_bn=True):
    """Returns `(keras_model, preprocess_mode)` for prediction.

    Args:
        model: a registry name (built with `weights` and cached), or a built
            `keras.Model` (used as it is when `precision="float32"` and
            `fold_bn=False`, else its fast copy is made).
        weights: `"imagenet"`, a path, or `None`; only used with a name.
        preprocess: `"caffe"`, `"tf"` or `"torch"`; default: the registry
            entry's mode for the model's name.
        precision: `"float32"` or `"bfloat16"` (`keras_dense.precision`).
        fold_bn: fold batch norms into the convolutions before them
            (`keras_dense.fold`); same outputs to float tolerance.

    Returns:
        The model and its preprocessing mode.
    """
    from keras_dense import precision as precision_lib
    from keras_dense import registry

    precision_lib.check_precision(precision)
    if isinstance(model, str):
        entry = registry.model_entry(model)
        key = (entry.name, _weights_identity(weights), precision, bool(fold_bn))
        if key not in _BUILT:
            _BUILT[key] = precision_lib.inference_model(
                entry.build(weights=weights), precision, fold_bn
            )
            while len(_BUILT) > _BUILT_MAX:
                _BUILT.popitem(last=False)
        _BUILT.move_to_end(key)
        model = _BUILT[key]
    else:
        model = precision_lib.inference_model(model, precision, fold_bn)
    if preprocess is None:
        try:
            preprocess = registry.model_entry(model.name).preprocess
        except ValueError:
            preprocess = None
        if preprocess is None:
            raise ValueError(
                f"The preprocessing of model {model.name!r} is not known; pass "
                f"preprocess= one of {', '.join(imagenet_utils.MODES)}."
            )
    if preprocess not in imagenet_utils.MODES:
        raise ValueError(
            f"preprocess must be one of {', '.join(imagenet_utils.MODES)}; got {preprocess!r}."
        )
    return model, preprocess


def input_size(model):
    """The `(height, width)` a model takes; 224x224 when its input size is open."""
    height, width = model.input_shape[1:3]
    return (height or DEFAULT_SIZE[0], width or DEFAULT_SIZE[1])


def _is_single(images):
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
        crop, interpolation: as in `keras_dense.images.to_rgb_array`.

    Returns:
        A NumPy array (uint8 for files and Pillow images).
    """
    from PIL import Image

    if _is_single(images):
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


def classify(model, preprocess, pixels, top=5, batch_size=32):
    """Decoded top-`top` ImageNet classes of a pixel batch.

    Args:
        model: the `keras.Model` (1000-class softmax output).
        preprocess: its preprocessing mode.
        pixels: `(n, height, width, 3)` RGB pixels 0-255.
        top: classes per image.
        batch_size: images per inference step.

    Returns:
        Per image, a list of `(wnid, label, probability)`.
    """
    x = imagenet_utils.preprocess_input(pixels, mode=preprocess)
    probabilities = inference.predict_batches(model, x, batch_size)
    return [
        [(wnid, label, float(score)) for wnid, label, score in row]
        for row in imagenet_utils.decode_predictions(probabilities, top=top)
    ]


def predict(images, model="densenet169", weights="imagenet", top=5, batch_size=32,
            preprocess=None, crop=False, interpolation="nearest", precision="float32",
            fold_bn=True):
    """ImageNet top-`top` classes of images.

    Args:
        images: a path, a Pillow image, an RGB array `(h, w, 3)` or `(n, h, w, 3)`
            with values 0-255 (uint8 or float), or a list of paths / Pillow images.
        model: a registry name (built once and reused) or a built `keras.Model`.
        weights: `"imagenet"` (found offline first), a path, or `None`; only
            used when `model` is a name.
        top: classes per image.
        batch_size: images per inference step.
        preprocess: `"caffe"`, `"tf"` or `"torch"`; default: the model's own.
        crop: resize the short side and take the centre crop instead of
            resizing to the model's size (Keras' example resizes).
        interpolation: resampling filter for files and Pillow images.
        precision: `"float32"`, or `"bfloat16"` for about twice the speed on
            CPUs with bfloat16 units (probabilities differ by up to ~1e-2;
            `keras_dense.precision.max_probability_difference` measures it).
        fold_bn: fold each batch norm that follows a convolution into it
            (same probabilities to float tolerance; faster).

    Returns:
        Per image, a list of `top` tuples `(wnid, label, probability)`.

    Raises:
        keras_dense.images.ImageLoadError: an image file cannot be loaded.

    Example:
        >>> predict(["a.jpg", "b.png"], model="densenet121", top=3)
    """
    model, preprocess = build_for_predict(model, weights, preprocess, precision, fold_bn)
    pixels = to_pixel_batch(images, input_size(model), crop, interpolation)
    return classify(model, preprocess, pixels, top=top, batch_size=batch_size)
