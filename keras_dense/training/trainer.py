"""CIFAR-10 training with `model.fit`, a run folder, resume, and evaluation.

A run folder (`out`) holds:

- `config.json`: model, recipe, data source, seed, precision (written first);
- `last.keras`: the model with its optimizer state after the last completed
  epoch, plus a `keras_dense_state.json` entry inside the same file (epoch,
  history, best accuracy), so model, optimizer and epoch can never disagree;
  it is written to a temporary file and moved into place (`os.replace`);
- `best.keras`: the model with the best test accuracy so far;
- `history.csv` and `curves.png`: loss and accuracy by epoch, train and test;
- `metrics.json` and `confusion.png`: written when training finishes.

The models take uint8 images: an `ImageAugmentation` layer in front of the
network normalises them (and augments them in training) inside the compiled step.

Example:
    >>> from keras_dense.training import train, resume, evaluate, preset
    >>> train("densenet_bc_100_k12", data="../shared/data/cifar10",
    ...       out="runs/bc100", recipe=preset("default", epochs=30))
    >>> evaluate("runs/bc100")["accuracy"]
"""

import csv
import io
import json
import math
import os
import pathlib
import time
import zipfile

import numpy as np

import keras

from keras_dense.training import augment, plots
from keras_dense.training import optim
from keras_dense.training import recipe as recipe_lib
from keras_dense.training.device import default_jit_compile, describe_device

CONFIG_FILE = "config.json"
LAST_FILE = "last.keras"
BEST_FILE = "best.keras"
STATE_ENTRY = "keras_dense_state.json"
HISTORY_COLUMNS = (
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
    "epoch_seconds", "train_seconds", "images_per_second",
)


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the run folder keeps the last good epoch."""


# ----------------------------------------------------------------- files


def _write_atomic(path, data):
    """Writes bytes or text to `path` through a temporary file and `os.replace`."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save_model_atomic(model, path, state=None):
    """Saves `model` (and optionally a state entry inside the .keras zip) atomically."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")  # Keras insists on the suffix
    try:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_state(checkpoint):
    """The state entry (epoch, history, best) saved inside a `last.keras` file."""
    try:
        with zipfile.ZipFile(checkpoint) as archive:
            return json.loads(archive.read(STATE_ENTRY))
    except (KeyError, zipfile.BadZipFile, ValueError) as error:
        raise ValueError(
            f"{str(checkpoint)!r} is not a keras-dense training checkpoint ({error})."
        ) from error


def _history_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_history(run_dir):
    """The rows of `history.csv` as dicts of numbers."""
    with open(pathlib.Path(run_dir) / "history.csv", newline="") as handle:
        return [
            {key: (int(value) if key == "epoch" else float(value)) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


# ------------------------------------------------------------------ data


def load_data(data, subset=None, test_subset=None):
    """CIFAR-10 arrays for training: uint8 images, one-hot float32 labels.

    Args:
        data: a source for `keras_dense.datasets.cifar10.load` (None: download).
        subset: keep the first `subset` training images.
        test_subset: keep the first `test_subset` test images.

    Returns:
        `(x_train, y_train), (x_test, y_test), class_names` with one-hot labels.
    """
    from keras_dense.datasets import cifar10

    (x_train, y_train), (x_test, y_test), names = cifar10.load(data)
    for flag, value in (("subset", subset), ("test_subset", test_subset)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{flag} must be a positive number of images; got {value!r}.")
    x_train, y_train = x_train[:subset], y_train[:subset]
    x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    eye = np.eye(len(names), dtype="float32")
    return (x_train, eye[y_train]), (x_test, eye[y_test]), names


# -------------------------------------------------------------- callback


class RunRecorder(keras.callbacks.Callback):
    """Records each epoch in the run folder and stops on a non-finite loss.

    After every completed epoch: `best.keras` when the test accuracy improved,
    then `last.keras` with the state entry, then `history.csv` and `curves.png`.
    A NaN or infinite loss stops training before anything of that epoch is
    written, so the last good checkpoint stays.
    """

    def __init__(self, run_dir, state, train_images):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.history = list(state["history"])
        self.best_accuracy = state.get("best_accuracy")
        self.best_epoch = state.get("best_epoch")
        self.train_images = train_images
        self.diverged = None
        self._epoch_start = self._train_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = (len(self.history) + 1, batch + 1, float(loss))
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.diverged is None:
            for key in ("loss", "val_loss"):
                if key in logs and not math.isfinite(float(logs[key])):
                    self.diverged = (epoch + 1, None, float(logs[key]))
                    self.model.stop_training = True
        if self.diverged is not None:
            return
        end = time.perf_counter()
        train_seconds = (self._train_end or end) - self._epoch_start
        row = {
            "epoch": epoch + 1,
            **{key: float(logs[key]) for key in ("loss", "accuracy", "val_loss", "val_accuracy")},
            "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "epoch_seconds": end - self._epoch_start,
            "train_seconds": train_seconds,
            "images_per_second": self.train_images / max(train_seconds, 1e-9),
        }
        self.history.append(row)
        if self.best_accuracy is None or row["val_accuracy"] > self.best_accuracy:
            self.best_accuracy, self.best_epoch = row["val_accuracy"], row["epoch"]
            _save_model_atomic(self.model, self.run_dir / BEST_FILE)
        state = {"epoch": epoch + 1, "history": self.history,
                 "best_accuracy": self.best_accuracy, "best_epoch": self.best_epoch}
        _save_model_atomic(self.model, self.run_dir / LAST_FILE, state=state)
        _write_atomic(self.run_dir / "history.csv", _history_csv(self.history))
        plots.plot_curves(self.history, self.run_dir / "curves.png")


# -------------------------------------------------------------- training


def _precision_and_jit(mixed_precision, jit_compile):
    accelerator = describe_device()["accelerator"]
    # float16 measured slower on the CPU, so it defaults to on only with an accelerator.
    mixed = accelerator is not None if mixed_precision is None else bool(mixed_precision)
    jit = default_jit_compile(accelerator) if jit_compile is None else bool(jit_compile)
    return mixed, jit


def build_model(name, classes, recipe, seed=0, model_kwargs=None):
    """The registry model `name` for 32x32 images behind an `ImageAugmentation` front.

    Args:
        name: registry name, e.g. `"densenet_bc_100_k12"`.
        classes: number of classes.
        recipe: the `Recipe` (for the augmentation settings).
        seed: the augmentation's seed.
        model_kwargs: extra builder arguments, e.g. `{"growth_rate": 4}`.

    Returns:
        A `keras.Model` taking uint8 images.
    """
    from keras_dense.models import get_model

    network = get_model(
        name, classes=classes, input_shape=(32, 32, 3), weights=None, **(model_kwargs or {})
    )
    front = augment.ImageAugmentation(
        padding=recipe.crop_padding, flip=recipe.flip, cutout=recipe.cutout, seed=seed,
        name="augment",
    )
    return augment.with_augmentation(network, front, name=network.name)


def _compile(model, recipe, steps_per_epoch, jit, optimizer=None):
    optimizer = optimizer or optim.make_optimizer(recipe, steps_per_epoch)
    optim.exclude_from_decay(optimizer)
    model.compile(
        optimizer=optimizer, loss=optim.make_loss(recipe), metrics=["accuracy"],
        jit_compile=jit,
    )


def train(model, data=None, out="runs/cifar10", recipe=None, subset=None, test_subset=None,
          seed=0, model_kwargs=None, mixed_precision=None, jit_compile=None, verbose="auto"):
    """Trains a registry model on CIFAR-10 into the run folder `out`.

    Args:
        model: registry name of the network, e.g. `"densenet_bc_100_k12"`.
        data: CIFAR-10 source (see `keras_dense.datasets.cifar10.load`); None downloads.
        out: the run folder; must not hold a run already.
        recipe: a `Recipe` (default: `preset("default")`).
        subset: train on the first `subset` images only.
        test_subset: test on the first `test_subset` images only.
        seed: seed of the weights, the shuffling and the augmentation.
        model_kwargs: extra builder arguments (e.g. `{"growth_rate": 4}`).
        mixed_precision: float16 compute; default on with a GPU, off on CPU.
        jit_compile: compile the step (XLA / torch.compile); default as above.
        verbose: `model.fit` verbosity ("auto": a progress bar per epoch).

    Returns:
        The metrics dict also written to `metrics.json`.

    Raises:
        TrainingDivergedError: the loss became NaN or infinite.
    """
    recipe = recipe or recipe_lib.preset("default")
    run_dir = pathlib.Path(out)
    if (run_dir / LAST_FILE).exists():
        raise ValueError(
            f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir} "
            "or choose another --out."
        )
    # A run that stopped before its first epoch ended left only config.json
    # (and perhaps a best.keras of nothing): it starts again from scratch.
    (run_dir / BEST_FILE).unlink(missing_ok=True)
    arrays = load_data(data, subset, test_subset)
    mixed, jit = _precision_and_jit(mixed_precision, jit_compile)
    config = {
        "model": model, "model_kwargs": model_kwargs or {}, "recipe": recipe.to_dict(),
        "data": None if data is None else str(pathlib.Path(data).expanduser().resolve()),
        "subset": subset, "test_subset": test_subset, "seed": seed,
        "mixed_precision": mixed, "jit_compile": jit,
        "keras_version": keras.__version__, "backend": keras.backend.backend(),
    }
    with _dtype_policy(mixed):
        keras.utils.set_random_seed(seed)
        network = build_model(model, len(arrays[2]), recipe, seed, model_kwargs)
        _compile(network, recipe, _steps(len(arrays[0][0]), recipe), jit)
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(run_dir / CONFIG_FILE, json.dumps(config, indent=2))
        state = {"epoch": 0, "history": [], "best_accuracy": None, "best_epoch": None}
        return _fit(network, run_dir, config, state, arrays, verbose)


def resume(run_dir, data=None, verbose="auto"):
    """Continues a run from its last completed epoch, with its optimizer state.

    Args:
        run_dir: the run folder written by `train`.
        data: a CIFAR-10 source if it moved since the run started.
        verbose: `model.fit` verbosity.

    Returns:
        The metrics dict also written to `metrics.json`.
    """
    run_dir = pathlib.Path(run_dir)
    config = read_config(run_dir)
    if not (run_dir / LAST_FILE).is_file():
        raise ValueError(
            f"{str(run_dir)!r} has no completed epoch to resume from ({LAST_FILE} is missing); "
            "start the run again."
        )
    state = read_state(run_dir / LAST_FILE)
    if data is not None:
        config["data"] = str(pathlib.Path(data).expanduser().resolve())
        _write_atomic(run_dir / CONFIG_FILE, json.dumps(config, indent=2))
    recipe = recipe_lib.Recipe.from_dict(config["recipe"])
    arrays = load_data(config["data"], config["subset"], config["test_subset"])
    print(f"Resuming {run_dir} after epoch {state['epoch']} of {recipe.epochs}.")
    with _dtype_policy(config["mixed_precision"]):
        model = keras.saving.load_model(run_dir / LAST_FILE)
        _compile(model, recipe, _steps(len(arrays[0][0]), recipe), config["jit_compile"],
                 optimizer=model.optimizer)
        # A new seed per resumed epoch: the shuffles after a resume differ from
        # those of the first start, as they would in an uninterrupted run.
        keras.utils.set_random_seed(config["seed"] + state["epoch"])
        return _fit(model, run_dir, config, state, arrays, verbose)


def read_config(run_dir):
    path = pathlib.Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{str(run_dir)!r} is not a training run folder ({CONFIG_FILE} is missing).")
    return json.loads(path.read_text())


def _steps(images, recipe):
    return math.ceil(images / recipe.batch_size)


class _dtype_policy:
    """Sets the global dtype policy for the block and restores the previous one."""

    def __init__(self, mixed):
        self.policy = "mixed_float16" if mixed else "float32"

    def __enter__(self):
        self.previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.policy)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)


def _fit(model, run_dir, config, state, arrays, verbose):
    (x_train, y_train), (x_test, y_test), names = arrays
    recipe = recipe_lib.Recipe.from_dict(config["recipe"])
    info = describe_device()
    print(
        f"Training {config['model']} ({model.count_params():,} params) on {len(x_train):,} "
        f"images, testing on {len(x_test):,}; backend {info['backend']}, device {info['device']}, "
        f"mixed precision {'on' if config['mixed_precision'] else 'off'}, "
        f"jit_compile {'on' if config['jit_compile'] else 'off'}; run folder {run_dir}."
    )
    recorder = RunRecorder(run_dir, state, len(x_train))
    if state["epoch"] < recipe.epochs:
        model.fit(
            x_train, y_train, batch_size=recipe.batch_size, epochs=recipe.epochs,
            initial_epoch=state["epoch"], validation_data=(x_test, y_test),
            validation_batch_size=max(recipe.batch_size, 256), shuffle=True,
            callbacks=[recorder], verbose=verbose,
        )
    if recorder.diverged is not None:
        epoch, batch, value = recorder.diverged
        where = f"epoch {epoch}" + (f", batch {batch}" if batch else "")
        kept = (f"the last good checkpoint (epoch {len(recorder.history)}) stays in "
                f"{run_dir / LAST_FILE}" if recorder.history else "no epoch had completed")
        raise TrainingDivergedError(
            f"Training stopped: the loss became {value} at {where}; {kept}. "
            "Lower the learning rate (--lr) and start a new run."
        )
    metrics = _finish(model, run_dir, config, recorder, (x_test, y_test), names, info)
    print(f"Test accuracy {metrics['test_accuracy']:.4f} (best {metrics['best_test_accuracy']:.4f} "
          f"at epoch {metrics['best_epoch']}); run folder {run_dir}.")
    return metrics


def _finish(model, run_dir, config, recorder, test, names, info):
    x_test, y_test = test
    report = evaluation_report(
        np.argmax(y_test, axis=-1),
        np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=-1),
        names,
    )
    rows = recorder.history
    # The first epoch of each process includes compilation: leave it out of the speed.
    speeds = [row["images_per_second"] for row in rows[1:]] or [rows[-1]["images_per_second"]]
    metrics = {
        "model": config["model"],
        "test_accuracy": report["accuracy"],
        "per_class_accuracy": report["per_class_accuracy"],
        "best_test_accuracy": recorder.best_accuracy,
        "best_epoch": recorder.best_epoch,
        "epochs": len(rows),
        "wall_seconds": sum(row["epoch_seconds"] for row in rows),
        "images_per_second": float(np.median(speeds)),
        "train_images": recorder.train_images,
        "test_images": len(x_test),
        **info,
        "mixed_precision": config["mixed_precision"],
        "jit_compile": config["jit_compile"],
        "keras_version": keras.__version__,
        "recipe": config["recipe"],
    }
    _write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    plots.plot_curves(rows, run_dir / "curves.png")
    plots.plot_confusion(report["confusion"], names, run_dir / "confusion.png")
    return metrics


# ------------------------------------------------------------ evaluation


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


def evaluate(target, data=None, batch_size=256, test_subset=None, tta=None):
    """Tests a run's best model (or a `.keras` file) on the CIFAR-10 test set.

    Args:
        target: a run folder (uses `best.keras`, and the run's data source
            unless `data` is given) or a `.keras` file. A model without an
            `ImageAugmentation` front gets one that only normalises.
        data: CIFAR-10 source; None: the run's, or the download.
        batch_size: images per prediction batch.
        test_subset: test on the first `test_subset` images only.
        tta: `None`, or `"flip"`: average the probabilities of each image and
            its mirror (`keras_dense.imagenet.tta`).

    Returns:
        The `evaluation_report` dict, plus `"model_file"`.
    """
    from keras_dense.imagenet import tta as tta_lib

    tta_lib.check_mode(tta, allowed=("flip",))
    target = pathlib.Path(target)
    if target.is_dir():
        config = read_config(target)
        model_file = target / BEST_FILE
        if not model_file.is_file():
            raise ValueError(f"{str(target)!r} has no {BEST_FILE} yet: no epoch has completed.")
        data = data if data is not None else config["data"]
    elif target.is_file() and target.suffix == ".keras":
        model_file = target
    else:
        raise ValueError(f"{str(target)!r} is neither a run folder nor a .keras model file.")
    model = keras.saving.load_model(model_file, compile=False)
    if augment.find_augmentation(model) is None:
        model = augment.with_augmentation(
            model, augment.ImageAugmentation(padding=0, flip=False, name="normalize")
        )
    _, (x_test, y_test), names = load_data(data, test_subset=test_subset)
    probabilities = tta_lib.average(
        lambda view: model.predict(view, batch_size=batch_size, verbose=0), x_test, tta,
        x_test.shape[1:3])
    predictions = np.argmax(probabilities, axis=-1)
    report = evaluation_report(np.argmax(y_test, axis=-1), predictions, names)
    return {**report, "model_file": str(model_file), "tta": tta}
