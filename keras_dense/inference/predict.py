"""`predict`: ImageNet top-k classes of image files, Pillow images or pixel arrays.

The model is a registry name (built once per process and reused) or an
already built Keras model, which is used as it is (no copy, no retrace per
call). The preprocessing mode comes from the weights' record (DenseNet:
torch) unless `preprocess=` says otherwise. `predict_files` is the same for
many files, one result or error per file, in order: what `keras-dense
predict` prints.

Examples:
    >>> import keras_dense
    >>> keras_dense.predict("elephant.jpg", model="densenet169")[0][:2]
    [('n02504458', 'African_elephant', 0.81), ('n01871265', 'tusker', 0.12)]
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np
import PIL.Image

from keras_dense.imagenet import classes
from keras_dense.imagenet import images as images_lib
from keras_dense.imagenet import tta as tta_lib
from keras_dense.inference import auto, loading, runs
from keras_dense.inference.inputs import (
    input_size,
    is_single,
    model_input,
    probabilities_of,
    to_pixel_batch,
)
from keras_dense.inference.precision import max_probability_difference

# what `images`, `model` and `weights` accept (see `predict`)
ImagesLike = (
    str
    | os.PathLike
    | np.ndarray
    | PIL.Image.Image
    | Sequence[str | os.PathLike | np.ndarray | PIL.Image.Image]
)
ModelLike = str | keras.Model
WeightsLike = str | os.PathLike | None


def classify(model, preprocess, pixels, top=5, batch_size=32, tta=None):
    """Decoded top-`top` ImageNet classes of a pixel batch.

    Args:
        model: the `keras.Model` (1000-class softmax output) or an exported model.
        preprocess: its preprocessing mode.
        pixels: `(n, height, width, 3)` RGB pixels 0-255.
        top: classes per image.
        batch_size: images per inference step.
        tta: test-time augmentation (`keras_dense.imagenet.tta`): `None`,
            `"flip"`, `"five_crop"` or `"ten_crop"` (pixels at `tta.load_size`).

    Returns:
        Per image, a list of `(wnid, label, probability)`; for a fine-tuning
        run's model, `(class index, class name, probability)`.
    """
    probabilities = tta_lib.average(
        lambda view: probabilities_of(model, preprocess, view, batch_size),
        pixels,
        tta,
        input_size(model),
    )
    names = runs.class_names_of(model)
    if names is not None:
        return runs.decode_run_predictions(probabilities, names, top)
    return [
        [(wnid, label, float(score)) for wnid, label, score in row]
        for row in classes.decode_predictions(probabilities, top=top)
    ]


def predict(
    images: ImagesLike,
    model: ModelLike = "densenet169",
    weights: WeightsLike = "imagenet",
    top: int = 5,
    batch_size: int = 32,
    preprocess: str | None = None,
    crop: bool = False,
    interpolation: str = "nearest",
    precision: str = "float32",
    fold_bn: bool = False,
    engine: str = "auto",
    tta: str | None = None,
) -> list[list[tuple[str, str, float]]]:
    """ImageNet top-`top` classes of images.

    Args:
        images: a path, a Pillow image, an RGB array `(h, w, 3)` or `(n, h, w, 3)`
            with values 0-255 (uint8 or float), or a list of paths / Pillow images.
        model: a registry name (built once and reused), a fine-tuning run
            folder (its best model and class names), a built `keras.Model`, or
            `"hf://user/repo"`: a Keras model saved on the Hugging Face Hub
            (`model.save("hf://user/repo")`), loaded by Keras's own `hf://` support.
        weights: `"imagenet"` (found offline first), a weight tag, a path, or
            `None`; only used when `model` is a name.
        top: classes per image.
        batch_size: images per inference step.
        preprocess: `"caffe"`, `"tf"` or `"torch"`; default: the weights' own.
        crop: resize the short side and take the centre crop instead of
            resizing to the model's size (Keras' example resizes).
        interpolation: resampling filter for files and Pillow images.
        precision: `"float32"`, or `"bfloat16"` for about 1.5x the speed on
            CPUs with bfloat16 units (probabilities differ by up to ~1e-2;
            `precision_difference` measures it).
        fold_bn: fold each batch norm that follows a convolution into it
            (same probabilities to float tolerance; Keras engine only).
        engine: `"auto"` (a CPU runtime when its export is cached or the job
            is large enough to pay for exporting, else Keras), `"keras"`,
            `"onnxruntime"` or `"openvino"` (exported once, checked, cached);
            see `keras_dense.inference.engines`.
        tta: test-time augmentation, probabilities averaged over the views:
            `None`, `"flip"` (and the mirror image), `"five_crop"` or
            `"ten_crop"` (crops of the model's size from the image loaded at
            size / 0.875; arrays must be at least the model's size).

    Returns:
        Per image, a list of `top` tuples `(wnid, label, probability)`.

    Raises:
        keras_dense.imagenet.images.ImageLoadError: an image file cannot be loaded.

    Examples:
        >>> predict(["a.jpg", "b.png"], model="densenet121", top=3)
    """
    tta_lib.check_mode(tta)
    count = 1 if is_single(images) else len(images)
    family = auto.family_of(model) if engine == "auto" else None
    model, preprocess = loading.load_engine_model(
        model, weights, preprocess, precision, fold_bn, engine, count
    )
    tta_lib.check_arrays(images, input_size(model), tta)
    pixels = to_pixel_batch(images, tta_lib.load_size(input_size(model), tta), crop, interpolation)
    start = time.perf_counter()
    result = classify(model, preprocess, pixels, top=top, batch_size=batch_size, tta=tta)
    if engine == "auto":  # the machine's figures `auto` decides with
        engine_name = getattr(model, "engine", "keras")
        seconds = time.perf_counter() - start
        auto.observe(model.name, engine_name, precision, len(pixels), seconds, family)
    return result


@dataclasses.dataclass(frozen=True)
class FileResult:
    """The outcome for one file: its top classes, or the reason it was skipped.

    Attributes:
        path: the file.
        predictions: list of `(wnid, label, probability)`, or `None` on error.
        error: the one-line error, or `None`.
    """

    path: str
    predictions: list = None
    error: str = None


def predict_files(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    model: ModelLike = "densenet169",
    weights: WeightsLike = "imagenet",
    top: int = 5,
    batch_size: int = 32,
    preprocess: str | None = None,
    crop: bool = False,
    interpolation: str = "nearest",
    precision: str = "float32",
    fold_bn: bool = False,
    engine: str = "auto",
    tta: str | None = None,
) -> Iterator[FileResult]:
    """Yields a `FileResult` per image file of `paths` (files and folders), in order.

    Files that cannot be read, and paths that do not exist, yield their error
    and are skipped; the rest are decoded and predicted `batch_size` at a time,
    the next batch decoded in a thread while the model runs the current one,
    so memory stays bounded (two batches of pixels) for folders of any size.

    Args:
        paths: image files and folders (walked recursively).
        model: as in `predict`.
        weights: as in `predict`.
        top: as in `predict`.
        batch_size: as in `predict`.
        preprocess: as in `predict`.
        crop: as in `predict`.
        interpolation: as in `predict`.
        precision: as in `predict`.
        fold_bn: as in `predict`.
        engine: as in `predict`.
        tta: as in `predict`.

    Yields:
        `FileResult`s.

    Examples:
        >>> for result in predict_files(["photos/"], top=1):
        ...     print(result.path, result.error or result.predictions[0][1])
    """
    tta_lib.check_mode(tta)

    def prepare(count):
        keras_model, mode = loading.load_engine_model(
            model, weights, preprocess, precision, fold_bn, engine, count
        )
        size = tta_lib.load_size(input_size(keras_model), tta)
        return size, lambda pixels: classify(keras_model, mode, pixels, top, batch_size, tta)

    for path, predictions, error in file_outcomes(paths, batch_size, crop, interpolation, prepare):
        yield FileResult(path, predictions, error)


def file_outcomes(paths, batch_size, crop, interpolation, prepare):
    """Yields `(path, value, error)` per image file of `paths`, in order, batch by batch.

    Missing paths and unreadable files yield their error; `prepare(file count)`,
    called once when there are files, returns `(size, run)`: the size to decode
    at and `run(pixels)`, one value per image of a batch. The next batch is
    decoded in a thread while `run` works on the current one."""
    files, missing = image_files(paths)
    for path, error in missing:
        yield str(path), None, error
    if not files:
        return
    size, run = prepare(len(files))
    chunks = [files[start : start + batch_size] for start in range(0, len(files), batch_size)]
    for chunk, (loaded, pixels, failed) in zip(
        chunks, decoded_ahead(chunks, size, crop, interpolation)
    ):
        values = dict(zip(loaded, run(pixels))) if loaded else {}
        for path in chunk:
            if path in failed:
                yield str(path), None, failed[path]
            else:
                yield str(path), values[path], None


def _decode(paths, size, crop, interpolation):
    """`(loaded paths, their pixels stacked or None, {path: error})` of one batch of files.

    `load_image` turns whatever goes wrong with one file into its `ImageLoadError`,
    so one bad file costs only its own result."""
    loaded, pixels, failed = [], [], {}
    for path in paths:
        try:
            pixels.append(images_lib.load_image(path, size, crop, interpolation))
            loaded.append(path)
        except images_lib.ImageLoadError as error:
            failed[path] = str(error)
    return loaded, np.stack(pixels) if pixels else None, failed


def decoded_ahead(chunks, size, crop, interpolation):
    """Yields `_decode` of each chunk, decoding the next one in a thread meanwhile
    (Pillow releases the GIL while it decodes and resizes)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for index, chunk in enumerate(chunks):
            current = pending or pool.submit(_decode, chunk, size, crop, interpolation)
            if index + 1 < len(chunks):
                pending = pool.submit(_decode, chunks[index + 1], size, crop, interpolation)
            yield current.result()


def image_files(
    paths: Iterable[str | os.PathLike],
) -> tuple[list[str], list[tuple[str, str]]]:
    """`(files, missing)`: the image files of `paths` (folders walked), and
    `(path, error)` for each path that does not exist."""
    files, missing = [], []
    for path in paths:
        try:
            files.extend(images_lib.find_images([path]))
        except images_lib.ImageLoadError as error:
            missing.append((path, str(error)))
    return files, missing


def precision_difference(
    images: ImagesLike,
    model: ModelLike = "densenet169",
    weights: WeightsLike = "imagenet",
    precision: str = "bfloat16",
    preprocess: str | None = None,
    crop: bool = False,
    interpolation: str = "nearest",
    fold_bn: bool = False,
    batch_size: int = 32,
    engine: str = "auto",
) -> float:
    """Largest probability difference between `precision` and float32 on `images`.

    Args:
        images: as in `predict`; of a list of files, those that cannot be read
            are left out (a sample is measured, not each file).
        model: as in `predict`.
        weights: as in `predict`.
        precision: the precision compared with float32 (which runs on Keras).
        preprocess: as in `predict`.
        crop: as in `predict`.
        interpolation: as in `predict`.
        fold_bn: as in `predict`.
        batch_size: as in `predict`.
        engine: as in `predict`.

    Returns:
        A float.

    Raises:
        keras_dense.imagenet.images.ImageLoadError: no image could be loaded.
    """
    fast, mode = loading.load_engine_model(model, weights, preprocess, precision, fold_bn, engine)
    exact, _ = loading.load_engine_model(model, weights, mode, "float32", fold_bn, "keras")
    if (
        isinstance(images, (list, tuple))
        and images
        and all(isinstance(item, (str, os.PathLike)) for item in images)
    ):
        _, pixels, failed = _decode(images, input_size(exact), crop, interpolation)
        if pixels is None:
            raise images_lib.ImageLoadError(next(iter(failed.values())))
    else:
        pixels = to_pixel_batch(images, input_size(exact), crop, interpolation)
    return max_probability_difference(exact, fast, model_input(exact, mode, pixels), batch_size)
