"""Test passes: fixed-shape prediction, flip test-time augmentation, averaged weights, reports.

Why not `fit(validation_data=...)` / `model.evaluate`: their last batch is
smaller (another compilation under XLA), `validation_freq` skips the last
epoch unless it divides it, and they have no test-time augmentation. Here the
test images are padded to whole batches and the padding's predictions dropped,
so every image counts once and every batch has one shape.

Example:
    >>> probabilities = predict_probabilities(model, x_test, batch_size=256, tta_flip=True)
    >>> evaluation_report(labels, probabilities.argmax(-1), class_names)["accuracy"]
    >>> evaluate("runs/bc100")["per_class_accuracy"]
"""

import contextlib
import os
import pathlib
import time

import keras
import numpy as np

from keras_dense._choices import ENGINES, EVALUATE_TTA_MODES
from keras_dense.imagenet import tta as tta_lib
from keras_dense.inference import cache, inference_model, runs
from keras_dense.inference import engines as engines_lib
from keras_dense.inference.batches import predict_batches
from keras_dense.training import augment, folder_data, run_folder
from keras_dense.training import data as data_lib

EVAL_BATCH_FLOOR = 256


def eval_batch_size(batch_size):
    """The test batch: the smallest multiple of the training batch that is >= 256.

    A multiple of the training batch divides over the same devices.
    """
    return batch_size * -(-EVAL_BATCH_FLOOR // batch_size)


def predict_probabilities(model, images, batch_size, tta_flip=False):
    """Class probabilities of every image, predicted in batches of one shape.

    Args:
        model: a compiled or uncompiled `keras.Model` on uint8 images, or its export
            opened in a runtime (`keras_dense.inference.runtimes.ExportedModel`).
        images: uint8 array `(n, height, width, channels)`, or the validation
            `folder_data.FolderBatches` of an image folder (streamed).
        batch_size: images per prediction batch (the last batch is padded).
        tta_flip: average with the predictions of the mirrored images.

    Returns:
        float32 array `(n, classes)`.
    """
    if isinstance(images, folder_data.FolderBatches):
        return folder_data.predict_folder(model, images, tta_flip)
    padded = data_lib.pad_to_multiple(images, batch_size)
    if hasattr(model, "predict"):
        run = lambda view: model.predict(view, batch_size=batch_size, verbose=0)  # noqa: E731
    else:  # an export opened in a runtime (`ExportedModel`)
        run = lambda view: predict_batches(model, view.astype("float32"), batch_size)  # noqa: E731
    probabilities = tta_lib.average(
        lambda view: run(view)[: len(images)], padded, "flip" if tta_flip else None, size=None
    )
    return probabilities.astype("float32")


def keeps_average(model):
    """Whether `model`'s optimizer keeps a moving average of the weights (`use_ema`)."""
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return bool(getattr(inner, "use_ema", False))


def load_averaged_weights(model):
    """Puts the optimizer's moving-average weights into `model`'s trainable variables.

    Each variable gets its own copy: Keras's `finalize_variable_values` makes
    it share the average's buffer, and under JAX the next `predict` donates
    (frees) the model's buffers, which would destroy the average.
    """
    variables = model.trainable_variables
    model.optimizer.finalize_variable_values(variables)
    for variable in variables:
        variable.assign(keras.ops.copy(variable))


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block, `model` holds its optimizer's moving-average weights (`use_ema`).

    Does nothing when the model has no optimizer or it keeps no average.
    """
    if not keeps_average(model):
        yield model
        return
    variables = model.trainable_variables
    current = [keras.ops.convert_to_numpy(variable) for variable in variables]
    load_averaged_weights(model)
    try:
        yield model
    finally:
        for variable, value in zip(variables, current):
            variable.assign(value)


def epoch_test_metrics(model, test, loss, batch_size, tta_flip=False):
    """The test loss, accuracy and predicted classes of `model` as it is (callers that test
    the moving average wrap the call in `averaged_weights`).

    Args:
        model: the compiled training model.
        test: `(x_test, y_test)`, uint8 images and one-hot labels.
        loss: the training loss (a `keras.losses.Loss`) for `val_loss`.
        batch_size: prediction batch.
        tta_flip: flip test-time augmentation.

    Returns:
        `{"val_loss", "val_accuracy", "predictions"}` (integer classes).
    """
    x_test, y_test = test
    probabilities = predict_probabilities(model, x_test, batch_size, tta_flip)
    predictions = np.argmax(probabilities, axis=-1)
    return {
        "val_loss": float(keras.ops.convert_to_numpy(loss(y_test, probabilities))),
        "val_accuracy": float(np.mean(predictions == np.argmax(y_test, axis=-1))),
        "predictions": predictions,
    }


def evaluation_report(labels, predictions, class_names):
    """Accuracy, per-class accuracy and the confusion matrix of integer predictions.

    Returns:
        `{"accuracy", "per_class_accuracy": {name: accuracy}, "confusion", "images"}`.
    """
    classes = len(class_names)
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    confusion = np.bincount(labels * classes + predictions, minlength=classes * classes)
    confusion = confusion.reshape(classes, classes)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float(np.mean(labels == predictions)),
        "per_class_accuracy": {name: float(acc) for name, acc in zip(class_names, per_class)},
        "confusion": confusion.tolist(),
        "images": int(len(labels)),
    }


def evaluate(
    target: "str | os.PathLike",
    data: "str | os.PathLike | None" = None,
    batch_size: int = 256,
    test_subset: "int | None" = None,
    tta: "str | None" = None,
    engine: str = "keras",
    precision: str = "float32",
    calibration: "str | os.PathLike | list | None" = None,
    calibration_size: "int | None" = None,
) -> dict:
    """Tests a run's best model (or a `.keras` file) on the CIFAR-10 test set.

    Args:
        target: a run folder (uses `best.keras`, and the run's data source
            unless `data` is given) or a `.keras` file. A model without an
            `ImageAugmentation` front gets one that only normalises.
        data: CIFAR-10 source; None: the run's, or the download.
        batch_size: images per prediction batch.
        test_subset: test on the first `test_subset` images only.
        tta: `"flip"` (average each image's probabilities with its mirror's),
            `"none"`, or `None`: the run's recipe (`tta_flip`; none for a
            `.keras` file).
        engine: `"keras"`, `"openvino"` or `"onnxruntime"` (the model exported once,
            checked and kept in the engine cache); `"auto"` is `"keras"` here.
        precision: `"float32"`, `"bfloat16"` (Keras's bfloat16 copy, or OpenVINO's
            bfloat16) or `"int8"` (OpenVINO, quantized by NNCF).
        calibration: for int8, calibration images (folders or files); default: the
            data source's training images (`calibration_size` of them).
        calibration_size: for int8, images that calibrate (default 300).

    Returns:
        The `evaluation_report` dict, plus `"model_file"`, `"tta"` (`"flip"` or
        `None`), `"engine"`, `"precision"`, `"seconds"` (the test pass) and, for int8,
        `"int8_check"` (the check report on held-out images).
    """
    tta_lib.check_mode(tta, allowed=EVALUATE_TTA_MODES)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")
    target = pathlib.Path(target)
    recipe = {}
    if target.is_dir():
        config = run_folder.read_config(target)
        if config.get("kind") == runs.FOLDER_KIND:
            if engine not in ("auto", "keras") or precision != "float32":
                raise ValueError(
                    "A run fine-tuned on an image folder is evaluated on the Keras engine in "
                    "float32; drop --engine and --precision."
                )
            return evaluate_folder(target, data, batch_size, tta)
        model_file = target / run_folder.BEST_FILE
        if not model_file.is_file():
            raise ValueError(
                f"{str(target)!r} has no {run_folder.BEST_FILE} yet: no epoch has completed."
            )
        data = data if data is not None else config["data"]
        recipe = config.get("recipe", {})
    elif target.is_file() and target.suffix == ".keras":
        model_file = target
    else:
        raise ValueError(f"{str(target)!r} is neither a run folder nor a .keras model file.")
    tta_flip = recipe.get("tta_flip", False) if tta is None else tta == "flip"
    (x_train, _), (x_test, y_test), names = data_lib.load_data(data, test_subset=test_subset)
    model = keras.saving.load_model(model_file, compile=False)
    if augment.find_augmentation(model) is None:
        model = augment.with_augmentation(
            model, augment.ImageAugmentation(padding=0, flip=False, name="normalize")
        )
    if precision == "int8" and engine in ("auto", "keras"):
        engine = "openvino"  # int8 exists there only
    runner, extra = engine_model(
        model, engine, precision, x_train if calibration is None else calibration, calibration_size
    )
    start = time.perf_counter()
    probabilities = predict_probabilities(runner, x_test, batch_size, tta_flip)
    seconds = time.perf_counter() - start
    report = evaluation_report(np.argmax(y_test, axis=-1), np.argmax(probabilities, axis=-1), names)
    return {
        **report,
        "model_file": str(model_file),
        "tta": "flip" if tta_flip else None,
        "engine": "keras" if engine == "auto" else engine,
        "precision": precision,
        "seconds": seconds,
        **extra,
    }


def evaluate_folder(
    run: "str | os.PathLike",
    data: "str | os.PathLike | None" = None,
    batch_size: int = 64,
    tta: "str | None" = None,
) -> dict:
    """Tests a fine-tuning run's best model on its validation images or another folder.

    Args:
        run: the run folder (`keras-dense train NAME --data DIR ...`).
        data: a folder with the run's class folders (or a `val/` of them);
            None: the run's own validation split.
        batch_size: images per prediction batch.
        tta: `"flip"`, `"none"`, or None (the run's recipe).

    Returns:
        The `evaluation_report` dict with the run's class names, plus
        `"model_file"`, `"tta"`, `"engine"`, `"precision"`, `"seconds"` and
        `"skipped"` (files that cannot be read).
    """
    config = runs.read_run_config(run)
    model = runs.load_run(run)
    names = config["class_names"]
    if data is None:
        items, skipped = folder_data.read_split(run).val, []
    else:
        items, skipped = folder_data.evaluation_files(data, names)
    batches = folder_data.FolderBatches(
        items, len(names), batch_size, config["image_size"], workers=config.get("workers", 4)
    )
    tta_flip = config["recipe"].get("tta_flip", False) if tta is None else tta == "flip"
    start = time.perf_counter()
    probabilities = folder_data.predict_folder(model, batches, tta_flip)
    seconds = time.perf_counter() - start
    report = evaluation_report(batches.labels, np.argmax(probabilities, axis=-1), names)
    return {
        **report,
        "model_file": str(pathlib.Path(run) / runs.BEST_FILE),
        "tta": "flip" if tta_flip else None,
        "engine": "keras",
        "precision": "float32",
        "seconds": seconds,
        "skipped": len(skipped) + len(batches.failed),
    }


def float_input(model):
    """`model` (uint8 pixels in, `ImageAugmentation` front) for the exporters: float32 pixels
    in, the normalisation as a `Rescaling` (constants in the graph: tf2onnx turns the
    `Normalization` layer's mean and variance into extra graph inputs, which the runtimes
    are not fed), the network's layers and weights as they are."""
    front = augment.find_augmentation(model)
    inputs = keras.Input(model.input_shape[1:], dtype="float32", name="pixels")
    std = np.asarray(front.std, "float32")
    x = keras.layers.Rescaling(
        scale=(1.0 / (255.0 * std)).tolist(),
        offset=(-np.asarray(front.mean, "float32") / std).tolist(),
        name="normalize",
    )(inputs)
    for layer in model.layers:
        if layer is not front and not isinstance(layer, keras.layers.InputLayer):
            x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def engine_model(model, engine, precision, calibration=None, calibration_size=None):
    """A CIFAR model (uint8 pixels in) on `engine` in `precision`, and report extras.

    Args:
        model: the `keras.Model` with its `ImageAugmentation` front (pixels 0-255 in).
        engine: `"keras"` (`"auto"`: the same), `"openvino"` or `"onnxruntime"`.
        precision: `"float32"`, `"bfloat16"` or `"int8"` (OpenVINO).
        calibration: for int8: training pixels `(n, 32, 32, 3)`, or image files/folders.
        calibration_size: for int8, images that calibrate.

    Returns:
        `(model to run, {"int8_check": report}` for int8, else `{}`).
    """
    if engine in ("auto", "keras"):
        return inference_model(model, precision), {}
    model = float_input(model)
    if precision == "int8":
        if engine != "openvino":
            raise ValueError("int8 runs on the OpenVINO engine: pass --engine openvino.")
        exported = engines_lib.quantize_model(model, calibration, calibration_size, raw_pixels=True)
        entry = cache.read_entry(
            cache.lookup_calibrated(engines_lib.model_key(model, "openvino", "int8"))[1]
        )
        return exported, {"int8_check": entry["check"] if entry else None}
    engines_lib.choose_engine(engine, precision)  # installed, and computes in `precision`
    # the export check feeds the bundled photographs as "tf" inputs: any realistic input
    # compares two implementations of the same graph
    return engines_lib.keras_engine_model(model, engine, precision, "tf"), {}
