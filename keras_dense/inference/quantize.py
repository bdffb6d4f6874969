"""int8: an OpenVINO export quantized by NNCF on real calibration images, and checked.

Post-training quantization with NNCF (`nncf.quantize`, the library made for
it) of the float32 OpenVINO IR: NNCF runs the calibration images through the
model, sets each convolution's int8 scales from the activations it sees and
corrects the biases. The images are split once, deterministically: up to
`calibration_size` of them calibrate, the rest (up to `HELD_OUT_SIZE`) are the
held-out images the check compares the int8 model with the float32 one on
(top-1 agreement and the largest probability difference, thresholds in
`keras_dense.inference.check.THRESHOLDS`). With nothing left over, the
bundled check photographs are the held-out set (never a calibration image).

A calibration set's identity (`CalibrationSet.identity`: a hash of the
calibration files' resolved paths, sizes and modification times, or of the
pixels' bytes) goes into the int8 engine cache key, so other images make
another entry.

NNCF is an extra (`pip install keras-dense[int8]`): with SciPy, scikit-learn
and networkx it adds about 220 MB and takes 3 s to import, for a feature
only int8 users need.

Example:
    >>> from keras_dense.inference import quantize
    >>> calibration = quantize.calibration_set("calibration_images/", size=300)
    >>> report = quantize.write_int8("model.xml", "model-int8.xml", calibration, "torch")
    >>> report.top1_agreement
    0.98
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from keras_dense.imagenet import images as images_lib
from keras_dense.inference import check as check_lib
from keras_dense.inference import inputs, runtimes

# NNCF's own default number of calibration samples (`nncf.quantize(subset_size=300)`)
DEFAULT_CALIBRATION_SIZE = 300
HELD_OUT_SIZE = 100
SPLIT_SEED = 0
INSTALL = "pip install nncf (or keras-dense[int8])"

CalibrationLike = str | os.PathLike | Sequence[str | os.PathLike] | np.ndarray


@dataclasses.dataclass(frozen=True)
class CalibrationSet:
    """Calibration images and the held-out images the int8 check runs on (never the same).

    Attributes:
        calibrate: image files, or a uint8 pixel array `(n, height, width, 3)`.
        held_out: image files (or a pixel array) for the check.
        identity: `{"hash", "images", "source"}`: what the cache key holds.
    """

    calibrate: tuple | np.ndarray
    held_out: tuple | np.ndarray
    identity: dict

    def describe(self):
        """The identity and the held-out count, for the check report."""
        return {**self.identity, "held_out_images": len(self.held_out)}


def _check_size(size):
    if size is None:
        return DEFAULT_CALIBRATION_SIZE
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"calibration_size must be a positive integer; got {size!r}.")
    return int(size)


def _split(count, size):
    """Indices `(calibrate, held_out)`: a seeded permutation, so the split is reproducible."""
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    calibrate = np.sort(order[:size])
    return calibrate, np.sort(order[size : size + HELD_OUT_SIZE])


def _files_identity(files):
    entries = []
    for path in files:
        stat = path.stat()
        entries.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


def _image_files(calibration):
    paths = [calibration] if isinstance(calibration, str | os.PathLike) else list(calibration)
    for path in paths:
        if not isinstance(path, str | os.PathLike):
            raise ValueError(
                "calibration must be image files, folders or a uint8 pixel array; got a "
                f"{type(path).__name__} among the paths."
            )
    try:
        files = images_lib.find_images(paths)
    except OSError as error:  # a path too long, a folder that cannot be listed
        raise ValueError(f"The calibration images cannot be listed: {error}") from None
    files = sorted({pathlib.Path(f).resolve(): pathlib.Path(f) for f in files}.values(), key=str)
    if not files:
        shown = ", ".join(str(p) for p in paths[:3]) or "(nothing)"
        raise ValueError(
            f"No image files found in {shown} for the int8 calibration; pass a folder of "
            "real images (or image files)."
        )
    return files


def calibration_set(calibration: CalibrationLike, size: int | None = None) -> CalibrationSet:
    """The calibration images and the held-out check images from files, folders or pixels.

    Args:
        calibration: a folder or image file, a list of them (folders walked), or a
            uint8 array `(n, height, width, 3)` of pixels 0-255.
        size: images used to calibrate (default `DEFAULT_CALIBRATION_SIZE`); the rest
            (up to `HELD_OUT_SIZE`) check the result.

    Returns:
        A `CalibrationSet`.

    Raises:
        ValueError: no images, a path that does not exist, or a bad array or size.
    """
    size = _check_size(size)
    if isinstance(calibration, np.ndarray):
        if calibration.ndim != 4 or calibration.shape[-1] != 3 or not len(calibration):
            raise ValueError(
                "A calibration array must be pixels (n, height, width, 3) with n >= 1; "
                f"got shape {calibration.shape}."
            )
        calibrate, held_out = _split(len(calibration), size)
        digest = hashlib.sha256(str(calibration.shape).encode())
        digest.update(np.ascontiguousarray(calibration[calibrate]).tobytes())
        identity = {
            "hash": digest.hexdigest()[:16],
            "images": len(calibrate),
            "source": "arrays",
        }
        return CalibrationSet(calibration[calibrate], calibration[held_out], identity)
    if calibration is None:
        raise ValueError(
            "int8 needs calibration images: pass calibration= (--calibration) a folder or "
            "image files of real inputs, a few hundred."
        )
    files = _image_files(calibration)
    calibrate, held_out = _split(len(files), size)
    chosen = tuple(files[i] for i in calibrate)
    rest = tuple(files[i] for i in held_out)
    if not rest:  # every image calibrates: the check runs on the bundled photographs
        taken = {f.resolve() for f in chosen}
        rest = tuple(p for p in check_lib.bundled_images() if p.resolve() not in taken)
    identity = {"hash": _files_identity(chosen), "images": len(chosen), "source": "files"}
    return CalibrationSet(chosen, rest, identity)


def _pixels(images, size):
    if isinstance(images, np.ndarray):
        return images
    return inputs.to_pixel_batch(list(images), size)


def _model_inputs(reference, preprocess, images):
    """The preprocessed float32 inputs of `images` for `reference` (raw pixels when
    `preprocess` is None: a model that includes its preprocessing)."""
    pixels = _pixels(images, inputs.input_size(reference))
    if preprocess is None:
        x = pixels.astype("float32")
    else:
        x = inputs.model_input(reference, preprocess, pixels).astype("float32")
    if reference.input_shape[-1] == 1:  # a grayscale model (LeNet-5), as the check feeds it
        x = x.mean(axis=-1, keepdims=True)
    return x


@contextlib.contextmanager
def _quiet_nncf():
    """Keeps NNCF's progress bars and info lines out of the output."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def quantize_ir(float_xml, int8_xml, x) -> float:
    """Quantizes the float32 OpenVINO IR at `float_xml` to int8 at `int8_xml` with NNCF.

    Args:
        float_xml: the float32 `.xml` (its `.bin` beside it).
        int8_xml: where the int8 `.xml` (and `.bin`) go.
        x: the calibration inputs, a float32 array `(n, ...)` the model takes.

    Returns:
        Seconds taken.
    """
    ov = runtimes.require("openvino", "int8 quantization")
    nncf = runtimes.require("nncf", "int8 quantization (NNCF)")
    start = time.perf_counter()
    model = ov.Core().read_model(str(float_xml))
    items = [x[i : i + 1] for i in range(len(x))]  # one image per item, as NNCF advises
    with _quiet_nncf():
        quantized = nncf.quantize(model, nncf.Dataset(items), subset_size=len(items))
    ov.save_model(quantized, str(int8_xml), compress_to_fp16=False)
    return time.perf_counter() - start


def write_int8(
    float_xml,
    int8_xml,
    calibration: CalibrationSet,
    preprocess: str | None,
    tolerance: float | None = None,
    min_top1_agreement: float | None = None,
    name: str | None = None,
):
    """Quantizes a float32 IR with `calibration` and checks it against the float32 IR.

    Args:
        float_xml: the float32 OpenVINO IR (checked against Keras when it was made).
        int8_xml: where the int8 IR goes.
        calibration: from `calibration_set`.
        preprocess: the weights' preprocessing mode; None for a model that takes raw
            pixels (its preprocessing included).
        tolerance: largest probability difference accepted (default: int8's threshold).
        min_top1_agreement: smallest top-1 agreement accepted (default: int8's).
        name: the model's name.

    Returns:
        `(seconds, check.CheckReport)` on the held-out images; the caller decides what a
        failed report means (export and the cache keep nothing).
    """
    reference = runtimes.load_exported(float_xml, "openvino", "openvino", "float32", name=name)
    x = _model_inputs(reference, preprocess, calibration.calibrate)
    seconds = quantize_ir(float_xml, int8_xml, x)
    quantized = runtimes.load_exported(int8_xml, "openvino", "openvino", "int8", name=name)
    report = check_lib.check_export(
        reference,
        quantized,
        calibration.held_out,
        preprocess,
        tolerance,
        min_top1_agreement=min_top1_agreement,
        calibration=calibration.describe(),
    )
    return seconds, report
