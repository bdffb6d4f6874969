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

import collections
import concurrent.futures
import dataclasses
import os

import numpy as np

from keras_dense.imagenet import classes, images as images_lib, preprocessing, tta as tta_lib
from keras_dense.imagenet.preprocessing_layer import included_mode
from keras_dense.inference import inference_model, predict_batches

DEFAULT_SIZE = (224, 224)
_BUILT = collections.OrderedDict()  # (name, weights, precision, fold, engine) -> the last few
_BUILT_MAX = 2


def _weights_identity(weights):
    """A cache key for `weights`: a path counts with its size and time, so a rewritten file
    reloads (tags and paths told apart as the builder does, keywords first)."""
    from keras_dense.weights.resolve import classify_weights_argument

    kind, value = classify_weights_argument(weights)
    if kind != "path":
        return value
    path = os.path.expanduser(os.fspath(value))
    try:
        stat = os.stat(path)
    except (OSError, ValueError):  # the builder refuses it with its one line
        return path
    return path, stat.st_size, stat.st_mtime_ns


def preprocess_of(record, weights):
    """The preprocessing mode of `weights` (a tag, or a file: the record's default)."""
    from keras_dense.weights.resolve import classify_weights_argument

    if record is None:
        return None
    if classify_weights_argument(weights)[0] == "tag" and record.weights:
        try:
            return record.weights_record(weights).preprocess
        except ValueError:
            return record.preprocess
    return record.preprocess


def load_model(model="densenet169", weights="imagenet", preprocess=None, precision="float32",
               fold_bn=False, engine="auto", job_images=0):
    """Returns `(model, preprocess_mode)` for prediction.

    Args:
        model: a registry name (built with `weights` and cached, the last two
            kept), a built `keras.Model` (used as it is for float32 without
            folding; see `keras_dense.inference.inference_model`), or an
            exported model from `keras_dense.inference.runtimes.load_exported`.
        weights: `"imagenet"`, a weight tag, a path, or `None`; only used with a name.
        preprocess: `"caffe"`, `"tf"` or `"torch"`; default: the weights' mode.
        precision: `"float32"` or `"bfloat16"`.
        fold_bn: fold batch norms into the convolutions before them (Keras engine).
        engine: `"auto"`, `"keras"`, `"onnxruntime"` or `"openvino"`
            (`keras_dense.inference.engines`).
        job_images: how many images the model will run on (for `engine="auto"`).

    Returns:
        The model (a `keras.Model` or an `ExportedModel`) and its preprocessing mode.
    """
    from keras_dense.inference import engines, runtimes
    from keras_dense.models import _builder, model_record

    included = record = None
    if isinstance(model, str):
        record = model_record(model)
    else:
        weights = "imagenet"
        included = included_mode(model)
        if included:  # its own preprocessing layer: it runs as it is, on Keras
            engine = "keras"
        elif preprocess is None:
            # its record and weight tag: the builder's attributes, else its architecture or name
            record, tagged = _builder.record_of(model)
            weights = tagged.tag if tagged is not None else weights
    if preprocess is None:
        preprocess = included or preprocess_of(record, weights)
        if preprocess is None:
            raise ValueError(
                f"The preprocessing of model {getattr(model, 'name', model)!r} is not known; "
                f"pass preprocess= one of {', '.join(preprocessing.MODES)}."
            )
    if preprocess not in preprocessing.MODES:
        raise ValueError(
            f"preprocess must be one of {', '.join(preprocessing.MODES)}; got {preprocess!r}."
        )
    if isinstance(model, runtimes.ExportedModel):
        return model, preprocess
    if isinstance(model, str):
        return _load_named(record, weights, preprocess, precision, fold_bn, engine,
                           job_images), preprocess
    chosen = engines.choose_engine(engine, precision, job_images, keras_ready=True)
    if chosen == "keras":
        return inference_model(model, precision, fold_bn), preprocess
    return engines.keras_engine_model(model, chosen, precision, preprocess), preprocess


def _load_named(record, weights, preprocess, precision, fold_bn, engine, job_images):
    """The model of registry `record` with `weights` on the chosen engine (the last two kept)."""
    from keras_dense.inference import engines

    identity = _weights_identity(weights)
    chosen = engines.choose_engine(
        engine, precision, job_images, engines.record_cached(record, weights, precision),
        keras_ready=(record.name, identity, precision, bool(fold_bn), "keras") in _BUILT)
    key = (record.name, identity, precision, bool(fold_bn), chosen)
    if key not in _BUILT:
        if chosen == "keras":
            _BUILT[key] = inference_model(record.build(weights=weights), precision, fold_bn)
        else:
            _BUILT[key] = engines.record_engine_model(record, weights, chosen, precision,
                                                      preprocess)
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    _BUILT.move_to_end(key)
    return _BUILT[key]


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
        crop: as in `keras_dense.imagenet.images.to_rgb_array`.
        interpolation: as in `keras_dense.imagenet.images.to_rgb_array`.

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


def model_input(model, preprocess, pixels):
    """`pixels` preprocessed for `model` (as they are when it includes its preprocessing)."""
    if included_mode(model):
        return pixels
    return preprocessing.preprocess_input(pixels, mode=preprocess)


def probabilities_of(model, preprocess, pixels, batch_size=32):
    """The model's outputs on a pixel batch, each batch preprocessed just before it runs,
    so a large pixel array is never copied whole into float32 (600 MB for 1,000 images)."""
    return np.concatenate([
        predict_batches(model, model_input(model, preprocess, pixels[start:start + batch_size]),
                        batch_size)
        for start in range(0, len(pixels), batch_size)])


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
        Per image, a list of `(wnid, label, probability)`.
    """
    probabilities = tta_lib.average(
        lambda view: probabilities_of(model, preprocess, view, batch_size),
        pixels, tta, input_size(model))
    return [
        [(wnid, label, float(score)) for wnid, label, score in row]
        for row in classes.decode_predictions(probabilities, top=top)
    ]


def predict(images, model="densenet169", weights="imagenet", top=5, batch_size=32,
            preprocess=None, crop=False, interpolation="nearest", precision="float32",
            fold_bn=False, engine="auto", tta=None):
    """ImageNet top-`top` classes of images.

    Args:
        images: a path, a Pillow image, an RGB array `(h, w, 3)` or `(n, h, w, 3)`
            with values 0-255 (uint8 or float), or a list of paths / Pillow images.
        model: a registry name (built once and reused) or a built `keras.Model`.
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
    count = 1 if _is_single(images) else len(images)
    model, preprocess = load_model(model, weights, preprocess, precision, fold_bn, engine, count)
    tta_lib.check_arrays(images, input_size(model), tta)
    pixels = to_pixel_batch(images, tta_lib.load_size(input_size(model), tta), crop, interpolation)
    return classify(model, preprocess, pixels, top=top, batch_size=batch_size, tta=tta)


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


def predict_files(paths, model="densenet169", weights="imagenet", top=5, batch_size=32,
                  preprocess=None, crop=False, interpolation="nearest", precision="float32",
                  fold_bn=False, engine="auto", tta=None):
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
    files, missing = image_files(paths)
    for path, error in missing:
        yield FileResult(str(path), error=error)
    if not files:
        return
    keras_model, mode = load_model(model, weights, preprocess, precision, fold_bn, engine,
                                   len(files))
    chunks = [files[start:start + batch_size] for start in range(0, len(files), batch_size)]
    size = tta_lib.load_size(input_size(keras_model), tta)
    decoded_chunks = decoded_ahead(chunks, size, crop, interpolation)
    for chunk, (loaded, pixels, failed) in zip(chunks, decoded_chunks):
        decoded = dict(zip(loaded, classify(keras_model, mode, pixels, top,
                                            batch_size, tta))) if loaded else {}
        for path in chunk:
            if path in failed:
                yield FileResult(str(path), error=failed[path])
            else:
                yield FileResult(str(path), predictions=decoded[path])


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


def image_files(paths):
    """`(files, missing)`: the image files of `paths` (folders walked), and
    `(path, error)` for each path that does not exist."""
    files, missing = [], []
    for path in paths:
        try:
            files.extend(images_lib.find_images([path]))
        except images_lib.ImageLoadError as error:
            missing.append((path, str(error)))
    return files, missing


def precision_difference(images, model="densenet169", weights="imagenet", precision="bfloat16",
                         preprocess=None, crop=False, interpolation="nearest", fold_bn=False,
                         batch_size=32, engine="auto"):
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
    from keras_dense.inference.precision import max_probability_difference

    fast, mode = load_model(model, weights, preprocess, precision, fold_bn, engine)
    exact, _ = load_model(model, weights, mode, "float32", fold_bn, "keras")
    if (isinstance(images, (list, tuple)) and images
            and all(isinstance(item, (str, os.PathLike)) for item in images)):
        _, pixels, failed = _decode(images, input_size(exact), crop, interpolation)
        if pixels is None:
            raise images_lib.ImageLoadError(next(iter(failed.values())))
    else:
        pixels = to_pixel_batch(images, input_size(exact), crop, interpolation)
    return max_probability_difference(exact, fast, model_input(exact, mode, pixels), batch_size)
