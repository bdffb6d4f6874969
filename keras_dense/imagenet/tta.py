"""Test-time augmentation: views of a pixel batch, and a model's probabilities averaged over them.

- `"flip"`: the image and its horizontal mirror.
- `"five_crop"`: the four corner crops and the centre crop of the model's
  size, from the image loaded at the size / 0.875 (torchvision's `Resize(256)`
  then `FiveCrop(224)`, as `load_size` says).
- `"ten_crop"`: those five and their mirrors (torchvision's `TenCrop`).

Example:
    >>> from keras_dense.imagenet import tta
    >>> size = (224, 224)
    >>> pixels = load_batch(tta.load_size(size, "ten_crop"))           # (n, 256, 256, 3)
    >>> probabilities = tta.average(lambda view: model.predict(view), pixels, "ten_crop", size)
"""

from keras_dense._choices import TTA_MODES
from keras_dense.imagenet.images import CROP_FRACTION

CROP_MODES = ("five_crop", "ten_crop")


def check_mode(tta, allowed=TTA_MODES):
    """Refuses a `tta` that is neither `None` nor one of `allowed`, listing the choices."""
    if tta is not None and tta not in allowed:
        raise ValueError(f"tta must be None or one of {', '.join(allowed)}; got {tta!r}.")


def load_size(size, tta):
    """The `(height, width)` to load images at for `tta`.

    Args:
        size: the model's `(height, width)`.
        tta: `None` or one of `TTA_MODES`.

    Returns:
        `size`, or `size / 0.875` (rounded) for the crop modes (256 for 224).
    """
    check_mode(tta)
    if tta in CROP_MODES:
        return tuple(round(side / CROP_FRACTION) for side in size)
    return tuple(size)


def check_arrays(images, size, tta):
    """Refuses pixel arrays of the wrong size for a crop mode, saying the size to use.

    Args:
        images: what `predict` was given (only arrays are checked).
        size: the model's `(height, width)`.
        tta: the mode.
    """
    import numpy as np

    wanted = load_size(size, tta)
    if (
        tta in CROP_MODES
        and isinstance(images, np.ndarray)
        and images.ndim in (3, 4)
        and tuple(images.shape[-3:-1]) != wanted
    ):
        raise ValueError(
            f"With tta={tta!r} the arrays must be {wanted[0]}x{wanted[1]} (the "
            f"model's {size[0]}x{size[1]} / 0.875), to be cropped to "
            f"{size[0]}x{size[1]}; they are {images.shape[-3]}x{images.shape[-2]}."
        )


def _five_crops(pixels, size):
    height, width = size
    full_height, full_width = pixels.shape[1:3]
    if full_height < height or full_width < width:
        raise ValueError(
            f"Crops of {height}x{width} need images at least that large; got "
            f"{full_height}x{full_width} (load them at {load_size(size, 'five_crop')})."
        )
    top = int(round((full_height - height) / 2.0))  # torchvision's centre_crop rounding
    left = int(round((full_width - width) / 2.0))
    corners = [
        (0, 0),
        (0, full_width - width),
        (full_height - height, 0),
        (full_height - height, full_width - width),
        (top, left),
    ]
    return [pixels[:, y : y + height, x : x + width] for y, x in corners]


def views(pixels, tta, size):
    """The view batches of `pixels` that `tta` averages over.

    Args:
        pixels: `(n, height, width, channels)` array.
        tta: `None` (the batch itself), `"flip"`, `"five_crop"` or `"ten_crop"`.
        size: the model's `(height, width)` (the crops' size).

    Returns:
        A list of arrays, each `(n, size..., channels)`.
    """
    check_mode(tta)
    if tta is None:
        return [pixels]
    if tta == "flip":
        return [pixels, pixels[:, :, ::-1]]
    crops = _five_crops(pixels, size)
    if tta == "five_crop":
        return crops
    return [view for crop in crops for view in (crop, crop[:, :, ::-1])]


def average(predict_fn, pixels, tta, size):
    """The mean of `predict_fn(view)` over the views of `pixels`.

    Args:
        predict_fn: maps a view batch to probabilities `(n, classes)` (NumPy).
        pixels: as in `views`.
        tta: as in `views`.
        size: as in `views`.

    Returns:
        The averaged probabilities, `(n, classes)`.
    """
    batches = views(pixels, tta, size)
    total = predict_fn(batches[0])
    for view in batches[1:]:
        total = total + predict_fn(view)
    return total / len(batches)
