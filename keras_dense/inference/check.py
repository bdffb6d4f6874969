"""The export check: the exported model and the Keras model on the same real images.

Both models classify the same preprocessed photographs (the four bundled in
`keras_dense/data/check_images/` unless others are given); the report holds
the largest absolute difference of their outputs (probabilities for a softmax
classifier) and how often their top-1 class and their top-5 classes agree. A
check passes when the largest difference is within the tolerance and, in low
precision, the top-1 agreement is at least the precision's threshold
(`THRESHOLDS`). An int8 export is checked on held-out images, never its
calibration images (`keras_dense.inference.quantize`). timm's
`onnx_validate.py` is the only anchor that validates an export this way.

Example:
    >>> from keras_dense.inference import check
    >>> report = check.check_export(model, exported, preprocess="torch")
    >>> report.passed, report.max_probability_difference
    (True, 3.1e-07)
"""

import dataclasses
import pathlib

import numpy as np

from keras_dense.imagenet.classes import top_k
from keras_dense.inference import inputs
from keras_dense.inference.batches import predict_batches

# precision -> (largest output difference, smallest top-1 agreement with float32) a check
# accepts: the one table. float32 runtimes differ from Keras by 1e-9 to 1e-6 on DenseNet-169
# (summation order), so their difference bound is the check; bfloat16 by up to ~1e-2. int8
# moves confident probabilities by tenths (the difference only catches a broken
# quantization); its measure is top-1 agreement on held-out images: published int8
# DenseNets lose 0.3-0.8 top-1 points, i.e. agree with float32 on ~97% of images.
THRESHOLDS = {"float32": (1e-4, None), "bfloat16": (5e-2, 0.75), "int8": (0.5, 0.9)}
TOLERANCES = {precision: bound for precision, (bound, _) in THRESHOLDS.items()}
MIN_TOP1_AGREEMENT = {precision: least for precision, (_, least) in THRESHOLDS.items()}
CHECK_IMAGES = pathlib.Path(__file__).resolve().parents[1] / "data" / "check_images"


class ExportCheckError(ValueError):
    """The exported model's outputs differ from the Keras model's by more than the tolerance."""


def bundled_images():
    """The photographs a check uses by default (sorted paths)."""
    return sorted(CHECK_IMAGES.glob("*.jpg"))


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The outcome of one export check.

    Attributes:
        engine: the runtime that ran the export.
        precision: the precision it ran in.
        images: the image files used.
        preprocess: the preprocessing mode applied to them.
        max_probability_difference: largest |exported - keras| over all outputs.
        top1_agreement: fraction of images whose top-1 class agrees.
        top5_agreement: fraction of images whose top-5 classes (as a set) agree.
        tolerance: the largest difference accepted.
        min_top1_agreement: the smallest top-1 agreement accepted (None: not a criterion).
        calibration: for int8, the calibration set's identity and size (its images are
            never among `images`).
    """

    engine: str
    precision: str
    images: tuple
    preprocess: str
    max_probability_difference: float
    top1_agreement: float
    top5_agreement: float
    tolerance: float
    min_top1_agreement: float | None = None
    calibration: dict | None = None

    @property
    def passed(self):
        agrees = self.min_top1_agreement is None or self.top1_agreement >= self.min_top1_agreement
        return bool(self.max_probability_difference <= self.tolerance and agrees)

    def summary(self):
        """One line: engine, images, largest difference, agreement, verdict."""
        count = len(self.images)
        return (
            f"check on {count} images with {self.engine} ({self.precision}): largest "
            f"probability difference {self.max_probability_difference:.1e} (tolerance "
            f"{self.tolerance:.0e}), top-1 agreement {round(self.top1_agreement * count)}/"
            f"{count}"
            + (
                f" (at least {self.min_top1_agreement:.0%})"
                if self.min_top1_agreement is not None
                else ""
            )
            + f", top-5 {round(self.top5_agreement * count)}/{count}: "
            + ("passed" if self.passed else "FAILED")
        )

    def to_json(self):
        return {
            **dataclasses.asdict(self),
            "images": [str(p) for p in self.images],
            "passed": self.passed,
        }


def compare_outputs(expected, actual):
    """`(max difference, top-1 agreement, top-5 agreement)` of two `(n, classes)` arrays."""
    expected = np.asarray(expected, "float64")
    actual = np.asarray(actual, "float64")
    if expected.shape != actual.shape:
        raise ExportCheckError(
            f"The exported model's output has shape {actual.shape}; the "
            f"Keras model's has {expected.shape}."
        )
    k = min(5, expected.shape[-1])
    top1 = np.mean(top_k(expected, 1)[:, 0] == top_k(actual, 1)[:, 0])
    top5 = np.mean([set(a) == set(b) for a, b in zip(top_k(expected, k), top_k(actual, k))])
    difference = (
        float(np.max(np.abs(expected - actual))) if np.all(np.isfinite(actual)) else float("inf")
    )
    return difference, float(top1), float(top5)


def check_export(
    model,
    exported,
    images=None,
    preprocess="torch",
    tolerance=None,
    batch_size=8,
    min_top1_agreement=None,
    calibration=None,
):
    """Runs `model` and its export on the same images and compares their outputs.

    Args:
        model: the Keras model that was exported (or, for int8, the float32 export it
            was quantized from, with `preprocess` None when its input is raw pixels).
        exported: the export, opened in a runtime (`runtimes.ExportedModel`).
        images: image files (default: `bundled_images()`), or a uint8 pixel array.
        preprocess: the preprocessing mode of the model's weights; None: the pixels as
            they are (a model that includes its preprocessing).
        tolerance: largest output difference accepted (default:
            `TOLERANCES[exported.precision]`).
        batch_size: images per step.
        min_top1_agreement: smallest top-1 agreement accepted (default:
            `MIN_TOP1_AGREEMENT[exported.precision]`).
        calibration: for int8, the calibration set's description (kept in the report).

    Returns:
        A `CheckReport` (see `.passed`); raising on failure is the caller's choice.
    """
    if isinstance(images, np.ndarray):  # pixels (the held-out part of a calibration array)
        pixels = images
        paths = [f"pixels[{i}]" for i in range(len(images))]
    else:
        paths = [pathlib.Path(p) for p in (images or bundled_images())]
        pixels = inputs.to_pixel_batch(paths, inputs.input_size(model)) if paths else None
    if not paths:
        raise ValueError("The export check needs at least one image; got none.")
    x = (
        pixels.astype("float32")
        if preprocess is None
        else inputs.model_input(model, preprocess, pixels)
    )
    if model.input_shape[-1] == 1:  # a grayscale model (LeNet-5)
        x = x.mean(axis=-1, keepdims=True)
    expected = predict_batches(model, x, batch_size)
    try:
        actual = predict_batches(exported, x, batch_size)
    except Exception as error:  # runtimes raise their own types; all mean "does not run"
        detail = " ".join(str(error).split())[:400]
        raise ExportCheckError(
            f"The export could not be run by {exported.engine} on "
            f"{len(paths)} images: {type(error).__name__}: {detail}"
        ) from error
    difference, top1, top5 = compare_outputs(expected, actual)
    precision = exported.precision
    return CheckReport(
        engine=exported.engine,
        precision=precision,
        images=tuple(paths),
        preprocess=preprocess,
        max_probability_difference=difference,
        top1_agreement=top1,
        top5_agreement=top5,
        tolerance=TOLERANCES[precision] if tolerance is None else float(tolerance),
        min_top1_agreement=(
            MIN_TOP1_AGREEMENT[precision] if min_top1_agreement is None else min_top1_agreement
        ),
        calibration=calibration,
    )
