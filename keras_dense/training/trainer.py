"""CIFAR-10 training with `model.fit`: `train` starts a run folder, `resume` continues one.

The loop is Keras's own `fit`, kept lean: fixed-shape batches
(`data.EpochBatches`), one callback that acts only at epoch ends
(`callbacks.RunRecorder`: NaN check, test pass, checkpoints), so nothing reads
a value back from the device between steps. The models take uint8 images: an
`ImageAugmentation` layer in front of the network normalises them (and
augments them in training) inside the compiled step. The run folder's files
are described in `keras_dense.training.run_folder`.

Example:
    >>> from keras_dense.training import train, resume, evaluate, preset
    >>> train("densenet_bc_100_k12", data="../shared/data/cifar10",
    ...       out="runs/bc100", recipe=preset("default", epochs=30))
    >>> evaluate("runs/bc100")["accuracy"]
"""

import contextlib
import dataclasses
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_dense._device import default_jit_compile, describe_device
from keras_dense.models import get_model
from keras_dense.training import augment, distribute, evaluation, optim, plots, run_folder
from keras_dense.training import data as data_lib
from keras_dense.training import recipe as recipe_lib
from keras_dense.training.callbacks import RunRecorder

# `mixed_precision` values and the Keras dtype policy each selects.
DTYPE_POLICIES = {
    False: "float32",
    True: "mixed_float16",
    "float16": "mixed_float16",
    "bfloat16": "mixed_bfloat16",
}


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the run folder keeps the last good checkpoint."""


def dtype_policy_name(mixed_precision, accelerator):
    """The Keras dtype policy for `mixed_precision` (None: float16 with an accelerator).

    float16 measured slower on the CPU, so it defaults to on only with an accelerator.
    """
    if mixed_precision is None:
        mixed_precision = accelerator is not None
    if mixed_precision not in DTYPE_POLICIES:
        raise ValueError(
            "mixed_precision must be True, False, None, 'float16' or 'bfloat16'; "
            f"got {mixed_precision!r}."
        )
    return DTYPE_POLICIES[mixed_precision]


def set_bn_momentum(model, momentum):
    """Sets the momentum of every batch-norm layer in `model`, nested ones included."""
    # `_flatten_layers` reaches layers inside custom layers (the memory-efficient
    # DenseNet's recomputed batch norms), which `model.layers` does not.
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def build_training_model(
    name: str,
    classes: int,
    recipe: recipe_lib.Recipe,
    seed: int = 0,
    model_kwargs: dict | None = None,
) -> keras.Model:
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
    network = get_model(
        name, classes=classes, input_shape=(32, 32, 3), weights=None, **(model_kwargs or {})
    )
    front = augment.ImageAugmentation(
        padding=recipe.crop_padding,
        flip=recipe.flip,
        cutout=recipe.cutout,
        seed=seed,
        name="augment",
    )
    return augment.with_augmentation(network, front, name=network.name)


def compile_model(model, recipe, steps, jit, optimizer=None):
    """Compiles `model` for training with the recipe's optimizer (or `optimizer`), loss and
    `steps_per_execution`; `steps` is the number of steps per epoch (for the schedule)."""
    optimizer = optimizer or optim.make_optimizer(recipe, steps)
    optim.exclude_from_decay(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=optim.make_loss(recipe),
        metrics=["accuracy"],
        jit_compile=jit,
        steps_per_execution=recipe.steps_per_execution,
    )


@contextlib.contextmanager
def _dtype_policy(name):
    """Sets the global dtype policy for the block and restores the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def run_settings(policy, accelerator, jit_compile, count, batch_size, bn_momentum):
    """The config entries of how a run computes (dtype policy, jit, devices, batch-norm
    momentum, Keras and backend versions), shared by CIFAR-10 and fine-tuning runs."""
    return {
        "dtype_policy": policy,
        "mixed_precision": policy != "float32",
        "jit_compile": default_jit_compile(accelerator)
        if jit_compile is None
        else bool(jit_compile),
        "devices": count,
        "per_device_batch": batch_size // count,
        "bn_momentum": bn_momentum,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
    }


def new_run(run_dir, overwrite, config, fit, *writers):
    """Starts a run in `run_dir` under its lock: checked to be new, cleared, its
    config (and each `writers(run_dir)`) written; returns `fit(state)` from epoch 0."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with run_folder.lock(run_dir):
        run_folder.check_new_run(run_dir, overwrite)  # again, now that no one else writes
        run_folder.clear_run(run_dir)  # a previous run's files (--overwrite) only
        run_folder.write_json(run_dir / run_folder.CONFIG_FILE, config)
        for write in writers:
            write(run_dir)
        return fit({"epoch": 0, "history": [], "best_accuracy": None, "best_epoch": None})


def run_metrics(config, report, recorder):
    """The metrics every run reports: its accuracies (`report`: `evaluation_report`'s),
    epochs, time, speed and images (`recorder`: the run's `RunRecorder`)."""
    rows = recorder.history
    # The first epoch of each process includes compilation: leave it out of the speed.
    speeds = [row["images_per_second"] for row in rows[1:]] or [rows[-1]["images_per_second"]]
    return {
        "model": config["model"],
        "test_accuracy": report["accuracy"],
        "per_class_accuracy": report["per_class_accuracy"],
        "best_test_accuracy": recorder.best_accuracy,
        "best_epoch": recorder.best_epoch,
        "epochs": len(rows),
        "wall_seconds": sum(row["epoch_seconds"] for row in rows),
        "images_per_second": float(np.median(speeds)),
        "train_images": recorder.train_images,
    }


def train(
    name: str,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike = "runs/cifar10",
    recipe: recipe_lib.Recipe | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
    model_kwargs: dict | None = None,
    mixed_precision: bool | str | None = None,
    jit_compile: bool | None = None,
    devices: int | str | None = None,
    callbacks: Any = (),
    verbose: str | int = "auto",
    overwrite: bool = False,
) -> dict:
    """Trains a registry model on CIFAR-10 into the run folder `out`.

    Args:
        name: registry name of the network, e.g. `"densenet_bc_100_k12"`.
        data: CIFAR-10 source (see `keras_dense.datasets.cifar10.load`); None downloads.
        out: the run folder: missing or empty (a folder holding only the
            `config.json` of a run that stopped in its first epoch counts as
            empty); it is locked while the run writes it.
        recipe: a `Recipe` (default: `preset("default")`).
        subset: train on the first `subset` images only.
        test_subset: test on the first `test_subset` images only.
        seed: seed of the weights, the shuffling and the augmentation.
        model_kwargs: extra builder arguments (e.g. `{"growth_rate": 4}`).
        mixed_precision: True or `"float16"` (`mixed_float16`), `"bfloat16"`
            (`mixed_bfloat16`), False (float32); None: float16 with a GPU,
            float32 on the CPU.
        jit_compile: compile the step (XLA / torch.compile); default as above.
        devices: train data-parallel on this many devices (an integer or
            `"all"`; JAX only): `recipe.batch_size` is the global batch, split
            evenly, and the learning rate stays that of the global batch.
        callbacks: extra Keras callbacks, called after the run's own.
        verbose: `model.fit` verbosity ("auto": a progress bar per epoch).
        overwrite: start over a previous run in `out`, removing its files; a
            folder holding files that are not a run's is refused even then.

    Returns:
        The metrics dict also written to `metrics.json`.

    Raises:
        TrainingDivergedError: the loss became NaN or infinite.
        RunFolderExistsError: `out` holds a run (and `overwrite` is false) or
            files that are not a run's (an `OutputExistsError` and a `ValueError`).
        LockedError: another process is writing to `out`.
    """
    recipe = recipe or recipe_lib.preset("default")
    run_dir = pathlib.Path(out)
    run_folder.check_new_run(run_dir, overwrite)  # before any work
    count = distribute.device_count(devices)
    distribute.check_batch(recipe.batch_size, count)
    arrays = data_lib.load_data(data, subset, test_subset)
    steps = data_lib.steps_per_epoch(len(arrays[0][0]), recipe.batch_size, recipe.drop_remainder)
    accelerator = describe_device()["accelerator"]
    policy = dtype_policy_name(mixed_precision, accelerator)
    bn_momentum = recipe.bn_momentum
    if bn_momentum is None:
        bn_momentum = recipe_lib.auto_bn_momentum(recipe.epochs * steps)
    config = {
        "model": name,
        "model_kwargs": model_kwargs or {},
        "recipe": recipe.to_dict(),
        "data": None if data is None else str(pathlib.Path(data).expanduser().resolve()),
        "subset": subset,
        "test_subset": test_subset,
        "seed": seed,
        **run_settings(policy, accelerator, jit_compile, count, recipe.batch_size, bn_momentum),
    }
    with _dtype_policy(policy), distribute.data_parallel(count):
        keras.utils.set_random_seed(seed)
        network = build_training_model(name, len(arrays[2]), recipe, seed, model_kwargs)
        set_bn_momentum(network, bn_momentum)
        compile_model(network, recipe, steps, config["jit_compile"])
        return new_run(
            run_dir,
            overwrite,
            config,
            lambda state: _fit(network, run_dir, config, recipe, state, arrays, callbacks, verbose),
        )


def resume(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | None = None,
    devices: int | str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    epochs: int | None = None,
) -> dict:
    """Continues a run from its last checkpointed epoch, with its optimizer state.

    The batches, augmentations and learning rates of the remaining epochs are
    those an uninterrupted run would have had (models with dropout excepted:
    the dropout masks' generator state is not saved).

    With `epochs`, the run (finished or not) is extended (or shortened) to
    `epochs` in all, recorded in `config.json`: the learning-rate schedule is
    recomputed for the new total and continues from the steps already taken,
    so the remaining epochs get the rates a run of `epochs` would have had
    there (a finished schedule continued at its final value would, for cosine,
    train at a rate of 0).

    Args:
        run_dir: the run folder written by `train`.
        data: a CIFAR-10 source if it moved since the run started.
        devices: continue on this many devices (default: the run's); the
            global batch, and so the computation, stays the same.
        callbacks: extra Keras callbacks, called after the run's own.
        verbose: `model.fit` verbosity.
        epochs: the run's new number of epochs in all (at least the epochs
            already done); None keeps the run's.

    Returns:
        The metrics dict also written to `metrics.json`.

    Raises:
        ValueError: `run_dir` is not a run with a checkpoint, or `epochs` is
            fewer than the epochs done.
        LockedError: another process is writing to `run_dir`.
    """
    run_dir = pathlib.Path(run_dir)
    config = run_folder.read_config(run_dir)
    with run_folder.lock(run_dir):
        return _resume_locked(run_dir, config, data, devices, callbacks, verbose, epochs)


def _resume_locked(run_dir, config, data, devices, callbacks, verbose, epochs):
    if not (run_dir / run_folder.LAST_FILE).is_file():
        raise ValueError(
            f"{str(run_dir)!r} has no completed epoch to resume from ({run_folder.LAST_FILE} is "
            "missing); start the run again."
        )
    state = run_folder.read_state(run_dir / run_folder.LAST_FILE)
    recipe = recipe_lib.Recipe.from_dict(config["recipe"])
    extended_from = None
    if epochs is not None and epochs != recipe.epochs:
        if epochs < state["epoch"]:
            raise ValueError(
                f"{str(run_dir)!r} has already trained {state['epoch']} epochs; --epochs "
                f"{epochs} would undo them: give at least {state['epoch']}."
            )
        extended_from, recipe = recipe.epochs, dataclasses.replace(recipe, epochs=epochs)
    count = distribute.device_count(config.get("devices", 1) if devices is None else devices)
    distribute.check_batch(recipe.batch_size, count)
    changed = {
        "data": None if data is None else str(pathlib.Path(data).expanduser().resolve()),
        "devices": count,
        "per_device_batch": recipe.batch_size // count,
        "recipe": None if extended_from is None else recipe.to_dict(),
    }
    changed = {key: value for key, value in changed.items() if value is not None}
    if any(config.get(key) != value for key, value in changed.items()):
        config.update(changed)
        run_folder.write_json(run_dir / run_folder.CONFIG_FILE, config)
    arrays = data_lib.load_data(config["data"], config["subset"], config["test_subset"])
    steps = data_lib.steps_per_epoch(len(arrays[0][0]), recipe.batch_size, recipe.drop_remainder)
    policy = config.get("dtype_policy") or DTYPE_POLICIES[bool(config["mixed_precision"])]
    print(f"Resuming {run_dir} after epoch {state['epoch']} of {recipe.epochs}.")
    if extended_from is not None:
        print(
            f"The run goes to {recipe.epochs} epochs instead of {extended_from}: its "
            f"learning-rate schedule is recomputed for {recipe.epochs} epochs and continues "
            f"from the {state['epoch'] * steps:,} steps taken."
        )
    with _dtype_policy(policy), distribute.data_parallel(count):
        model = keras.saving.load_model(run_dir / run_folder.LAST_FILE)
        if extended_from is not None:
            schedule = optim.make_schedule(recipe, steps)
            if not isinstance(schedule, float):  # a constant rate does not depend on the length
                model.optimizer.learning_rate = schedule
        compile_model(model, recipe, steps, config["jit_compile"], optimizer=model.optimizer)
        return _fit(model, run_dir, config, recipe, state, arrays, callbacks, verbose)


def _fit(model, run_dir, config, recipe, state, arrays, callbacks, verbose):
    (x_train, y_train), test, names = arrays
    info = describe_device()
    batches = data_lib.EpochBatches(
        x_train,
        y_train,
        recipe.batch_size,
        seed=config["seed"],
        epoch=state["epoch"],
        drop_remainder=recipe.drop_remainder,
    )
    trained = min(len(batches) * recipe.batch_size, len(x_train))
    print(
        f"Training {config['model']} ({model.count_params():,} params) on {trained:,} "
        f"images an epoch, testing on {len(test[0]):,}; backend {info['backend']}, device "
        f"{info['device']} x {config.get('devices', 1)}, {config.get('dtype_policy', 'float32')}, "
        f"jit_compile {'on' if config['jit_compile'] else 'off'}; run folder {run_dir}."
    )
    recorder = RunRecorder(run_dir, state, recipe, test, model.loss, trained)
    if state["epoch"] < recipe.epochs:
        model.fit(
            batches,
            epochs=recipe.epochs,
            initial_epoch=state["epoch"],
            verbose=verbose,
            shuffle=False,  # the batches are shuffled already; Keras would reorder them at random
            callbacks=[batches.epoch_callback(), recorder, *callbacks],
        )
        if evaluation.keeps_average(model):  # fit ended by putting the average in the model
            evaluation.load_averaged_weights(model)
    if recorder.diverged is not None:
        epoch, value = recorder.diverged
        last = run_dir / run_folder.LAST_FILE
        kept = (
            f"the last good checkpoint (epoch {run_folder.read_state(last)['epoch']}) "
            f"stays in {last}"
            if last.is_file()
            else "no epoch had been checkpointed"
        )
        raise TrainingDivergedError(
            f"Training stopped: the loss became {value} in epoch {epoch}; {kept}. "
            "Lower the learning rate (--lr) and start a new run."
        )
    metrics = _finish(model, run_dir, config, recipe, recorder, test, names, info)
    print(
        f"Test accuracy {metrics['test_accuracy']:.4f} (best {metrics['best_test_accuracy']:.4f} "
        f"at epoch {metrics['best_epoch']}); run folder {run_dir}."
    )
    return metrics


def _finish(model, run_dir, config, recipe, recorder, test, names, info):
    x_test, y_test = test
    predictions = recorder.predictions  # the last epoch is always tested
    if predictions is None:  # a resumed run that had already finished: its moving average, too
        with evaluation.averaged_weights(model):
            predictions = evaluation.epoch_test_metrics(
                model,
                test,
                model.loss,
                evaluation.eval_batch_size(recipe.batch_size),
                recipe.tta_flip,
            )["predictions"]
    report = evaluation.evaluation_report(np.argmax(y_test, axis=-1), predictions, names)
    rows = recorder.history
    metrics = {
        **run_metrics(config, report, recorder),
        "test_images": len(x_test),
        **info,
        "devices": config.get("devices", 1),
        "per_device_batch": config.get("per_device_batch", recipe.batch_size),
        "dtype_policy": config.get("dtype_policy"),
        "mixed_precision": config["mixed_precision"],
        "jit_compile": config["jit_compile"],
        "bn_momentum": config.get("bn_momentum"),
        "keras_version": keras.__version__,
        "recipe": config["recipe"],
    }
    run_folder.write_json(run_dir / run_folder.METRICS_FILE, metrics)
    plots.plot_curves(rows, run_dir / "curves.png")
    plots.plot_confusion(report["confusion"], names, run_dir / "confusion.png")
    return metrics
