"""Loading images for ImageNet models with Pillow.

`load_image` applies the EXIF orientation, converts every mode (grayscale,
RGBA, palette, CMYK, 16-bit) to 8-bit RGB and resizes as the Keras examples
do (`keras.utils.load_img(path, target_size=(224, 224))`: nearest neighbour,
no crop), or optionally resizes the short side and takes the centre crop.
Huge images (decompression bombs), non-images and damaged files raise
`ImageLoadError` naming the file: whatever Pillow raises while decoding one
file (`OSError`, but also `ValueError`, `SyntaxError`, `struct.error`,
`EOFError` for malformed headers) becomes that one error, so a caller going
through many files can report it and go on with the rest. Sizes are checked
before anything is decoded: the file's size in bytes before it is opened, the
pixel count from the header before the pixels are read.

Example:
    >>> from keras_dense.imagenet.images import load_image, find_images
    >>> pixels = load_image("elephant.jpg")          # (224, 224, 3) uint8
    >>> paths = find_images(["photos/"])              # walks folders
"""

import os
import pathlib
import warnings
from collections.abc import Iterable
from stat import S_ISDIR, S_ISREG

import numpy as np

from keras_dense._files import refuse_existing, write_atomic

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
CROP_FRACTION = 0.875  # centre crop: 224 of a 256 short side, as torchvision evaluates
MAX_PIXELS = 89_478_485  # Pillow's default decompression-bomb limit (~ 0.25 GB of RGB)
# No image within MAX_PIXELS needs more on disk (16-bit RGBA, uncompressed: 716 MB).
MAX_IMAGE_BYTES = 1 << 30


class ImageLoadError(ValueError):
    """One file could not be loaded as an image; the message names it."""


def find_images(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Expands files and folders into a sorted list of image files.

    Args:
        paths: file and folder paths; folders are walked recursively and only
            files with an image extension are kept from them.

    Returns:
        A list of `pathlib.Path`, files given directly first, in argument order.

    Raises:
        ImageLoadError: a path does not exist.
    """
    found = []
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                )
            )
        elif path.exists():
            found.append(path)
        else:
            raise ImageLoadError(f"{path} does not exist.")
    return found


def _to_rgb(image):
    """8-bit RGB from any Pillow mode; transparency is composited over white."""
    from PIL import Image

    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit integers or floats: Pillow's convert clips at 255; rescale instead.
        values = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        values = np.clip(np.round(values * (255.0 / high)), 0, 255).astype(np.uint8)
        return Image.fromarray(values, mode="L").convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGB


def _resize(image, size, crop, interpolation, name):
    from PIL import Image

    resample = getattr(Image.Resampling, interpolation.upper())
    height, width = size
    if not crop:
        if image.size != (width, height):
            image = image.resize((width, height), resample)
        return image
    fraction = CROP_FRACTION if crop is True else float(crop)  # a number: timm's crop_pct
    if not 0 < fraction <= 1:
        raise ValueError(f"crop must be True, False or a fraction in (0, 1]; got {crop!r}.")
    scale = max(height, width) / fraction / min(image.size)
    new_size = (max(width, round(image.size[0] * scale)), max(height, round(image.size[1] * scale)))
    if new_size[0] * new_size[1] > MAX_PIXELS:  # a 1x100000 strip would grow to 256x25600000
        raise ImageLoadError(
            f"{name} at {image.size[0]}x{image.size[1]} pixels is too elongated to "
            f"centre-crop (its short side resized to {min(new_size)} makes "
            f"{new_size[0]}x{new_size[1]}); crop it first."
        )
    resized = image.resize(new_size, resample)
    left = (resized.size[0] - width) // 2
    top = (resized.size[1] - height) // 2
    return resized.crop((left, top, left + width, top + height))


def to_rgb_array(image, size=(224, 224), crop=False, interpolation="nearest", name="image"):
    """An RGB uint8 array `(height, width, 3)` from a Pillow image.

    Args:
        image: a `PIL.Image.Image` of any mode.
        size: `(height, width)`, or `None` to keep the image's size.
        crop: resize the short side to `size / 0.875`, then take the centre crop;
            a number in (0, 1] is the crop's fraction instead of 0.875 (timm's
            `crop_pct`); `False` resizes to `size` directly, as the Keras examples do.
        interpolation: one of `INTERPOLATIONS` (`"nearest"` is Keras' default).
        name: how errors name the image.

    Returns:
        A `numpy.ndarray` of dtype uint8.
    """
    from PIL import ImageOps

    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got {interpolation!r}."
        )
    try:
        image = ImageOps.exif_transpose(image) or image
        image = _to_rgb(image)
        if size is not None:
            image = _resize(image, tuple(size), crop, interpolation, name)
        return np.asarray(image, dtype=np.uint8)
    except ImageLoadError:
        raise
    except OSError as error:  # damaged or truncated pixel data
        raise ImageLoadError(f"{name} is damaged or truncated ({_one_line(error)}).") from None
    except Exception as error:  # Pillow's decoders raise ValueError, SyntaxError, struct.error...
        raise ImageLoadError(_undecodable(name, error)) from None


def _one_line(error):
    """An exception's message on one line."""
    return " ".join(str(error).split())


def _undecodable(name, error):
    return (
        f"{name} could not be decoded as an image ({type(error).__name__}: "
        f"{_one_line(error)}); "
        "it is damaged or not an image."
    )


def _check_file(path):
    """Refuses what is not a regular file of at most `MAX_IMAGE_BYTES`, before opening it
    (a FIFO or a device named `*.jpg` would block or never end)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise ImageLoadError(f"{path} does not exist.") from None
    except OSError as error:
        raise ImageLoadError(f"{path} cannot be read ({error.strerror or error}).") from None
    if S_ISDIR(stat.st_mode):
        raise ImageLoadError(f"{path} is a folder, not an image file.")
    if not S_ISREG(stat.st_mode):
        raise ImageLoadError(f"{path} is not a regular file (a device, pipe or socket).")
    if stat.st_size > MAX_IMAGE_BYTES:
        raise ImageLoadError(
            f"{path} is {stat.st_size:,} bytes, more than the {MAX_IMAGE_BYTES:,} an image of "
            f"at most {MAX_PIXELS:,} pixels needs; downscale or recompress it first."
        )


def load_image(
    path: str | os.PathLike,
    size: tuple[int, int] = (224, 224),
    crop: bool = False,
    interpolation: str = "nearest",
) -> np.ndarray:
    """Loads one image file as an RGB uint8 array `(height, width, 3)`.

    The file's size is checked before it is opened, and the pixel count in its
    header before the pixels are decoded.

    Args:
        path: the image file.
        size: as in `to_rgb_array`.
        crop: as in `to_rgb_array`.
        interpolation: as in `to_rgb_array`.

    Returns:
        A `numpy.ndarray` of dtype uint8.

    Raises:
        ImageLoadError: the file is missing, not an image, damaged, or so large
            that decoding it could exhaust memory (a decompression bomb); any
            exception while decoding it becomes this one error naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    _check_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                pixels = image.size[0] * image.size[1]
                if pixels > MAX_PIXELS:
                    raise ImageLoadError(
                        f"{path} is {image.size[0]}x{image.size[1]} pixels, more than the "
                        f"{MAX_PIXELS:,} allowed (a possible decompression bomb); "
                        "downscale it first."
                    )
                image.load()
                return to_rgb_array(image, size, crop, interpolation, name=path)
        except ImageLoadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageLoadError(
                f"{path} is larger than the {MAX_PIXELS:,} pixels allowed (a possible "
                "decompression bomb); downscale it first."
            ) from None
        except UnidentifiedImageError:
            raise ImageLoadError(f"{path} is not an image file Pillow can read.") from None
        except FileNotFoundError:
            raise ImageLoadError(f"{path} does not exist.") from None
        except IsADirectoryError:
            raise ImageLoadError(f"{path} is a folder, not an image file.") from None
        except OSError as error:
            raise ImageLoadError(f"{path} is damaged or truncated ({_one_line(error)}).") from None
        except Exception as error:  # a malformed header: ValueError, SyntaxError, struct.error...
            raise ImageLoadError(_undecodable(path, error)) from None


def image_format(path):
    """The Pillow format that writes `path` (by its extension).

    Raises:
        ValueError: the extension is not an image format Pillow writes.
    """
    from PIL import Image

    path = pathlib.Path(path)
    found = Image.registered_extensions().get(path.suffix.lower())
    if found is None or found not in Image.SAVE:
        raise ValueError(f"{path} has no image extension Pillow can write; use .png or .jpg.")
    return found


def save_image(
    pixels: np.ndarray, path: str | os.PathLike, overwrite: bool = False
) -> pathlib.Path:
    """Writes RGB uint8 pixels as an image file, through a temporary name (no partial file).

    Args:
        pixels: `(height, width, 3)` uint8.
        path: the file; its extension picks the format (`.png`, `.jpg`, ...).
        overwrite: replace an existing file at `path`.

    Returns:
        The path, as a `pathlib.Path`.

    Raises:
        ValueError: the extension is not an image format Pillow writes.
        OutputExistsError: `path` exists and `overwrite` is false.

    Example:
        >>> save_image(np.zeros((8, 8, 3), "uint8"), "black.png")
    """
    import io

    from PIL import Image

    path = pathlib.Path(path)
    image_type = image_format(path)
    refuse_existing(
        path,
        overwrite,
        "pass --overwrite (overwrite=True in Python) to replace it, or choose another path",
    )
    data = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(data, format=image_type)
    return write_atomic(path, data.getvalue())
