"""Fine-tuning a registered model on an image folder: `train_folder`, and `resume` of any run.

The model is `transfer.finetune`'s (the backbone, a new head) behind its
weights' `ImageNetPreprocessing` layer, so it takes RGB pixels 0-255 and the
scaling runs inside the compiled step. Images stream from the folder
(`folder_data.FolderBatches`). With `recipe.head_epochs` (the `finetune`
preset), training has two phases, as in Keras's transfer-learning guide:
the new head on the frozen backbone (batch norm in inference mode), then the
backbone unfrozen (all of it, or its last N weighted layers) with a new
optimizer at `lr * finetune_lr_scale`; the backbone is called with
`training=False` in both, so its batch norms keep their statistics. Each phase
is one `model.fit`; the run folder is that of `trainer.train` plus
`split.json`, and a run resumed in either phase continues as an uninterrupted
one would.

Example:
    >>> from keras_dense.training import folder_train, preset
    >>> folder_train.train_folder("resnet18", "flowers/", "runs/flowers", weights="imagenet",
    ...                           recipe=preset("finetune"), image_size=224)
"""

import dataclasses
import os
import pathlib
from collections.abc import Sequence

import keras
import numpy as np

from keras_dense._device import describe_device
from keras_dense.inference import built, runs
from keras_dense.models import model_record
from keras_dense.models.pretrained import classify_weights_argument
from keras_dense.training import data as data_lib
from keras_dense.training import distribute, evaluation, folder_data, plots, run_folder, trainer
from keras_dense.training import recipe as recipe_lib
from keras_dense.training.callbacks import RunRecorder
from keras_dense.training.transfer import check_freeze, finetune, trainable_tail


def _weights_label(weights):
    return None if weights is None else str(weights)


def preprocess_mode(record, weights):
    """The preprocessing of `weights` (random weights: the record's, else torch's)."""
    return built.preprocess_of(record, weights if weights is not None else "imagenet") or "torch"


def phase_recipe(recipe, phase):
    """The recipe of one phase (1: the head, 2: the unfrozen backbone), for its optimizer:
    its own epochs (the schedule spans the phase) and, in phase 2, the smaller rate."""
    if not recipe.head_epochs:
        return recipe
    if phase == 1:
        epochs = recipe.head_epochs
        lr = recipe.lr
    else:
        epochs = recipe.epochs - recipe.head_epochs
        lr = recipe.lr * recipe.finetune_lr_scale
    return dataclasses.replace(
        recipe,
        epochs=max(epochs, 1),
        lr=lr,
        warmup_epochs=min(recipe.warmup_epochs, max(epochs, 1) / 5),
        head_epochs=0,
    )


def head_epochs(config, recipe):
    """The epochs of phase 1 (0: the run has one phase)."""
    return 0 if config["freeze"] == "none" else recipe.head_epochs


def build_folder_model(name, classes, weights, freeze, image_size, preprocess, dropout, kwargs):
    """The fine-tuning model: pixels 0-255 in, `classes` probabilities out."""
    first = "backbone" if freeze != "none" else "none"
    return finetune(
        name,
        classes=classes,
        weights=weights,
        freeze=first,
        input_shape=(image_size, image_size, 3),
        dropout=dropout,
        preprocessing=preprocess,
        **kwargs,
    )


def unfreeze(model, config):
    """Phase 2's trainable layers: the whole backbone, or its last N weighted layers; batch
    norms stay frozen (the outer `fit(training=True)` overrides the backbone's recorded
    `training=False` in Keras 3, so only a frozen batch norm keeps its statistics)."""
    backbone = model.get_layer(config["backbone"])
    if config["freeze"] == "backbone":
        weighted = [
            layer
            for layer in backbone.layers
            if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
        ]
        trainable_tail(backbone, len(weighted))
    else:
        trainable_tail(backbone, int(config["freeze"]))


def train_folder(
    name: str,
    data: str | os.PathLike,
    out: str | os.PathLike,
    recipe: recipe_lib.Recipe | None = None,
    weights: str | os.PathLike | None = "imagenet",
    freeze: str | int = "backbone",
    image_size: int | None = None,
    val_split: float | None = None,
    seed: int = 0,
    model_kwargs: dict | None = None,
    dropout: float = 0.0,
    mixed_precision: bool | str | None = None,
    jit_compile: bool | None = None,
    devices: int | str | None = None,
    workers: int = folder_data.DEFAULT_WORKERS,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    overwrite: bool = False,
) -> dict:
    """Fine-tunes registry model `name` on the image folder `data` into the run folder `out`.

    Args:
        name: registry name, e.g. `"resnet18"`.
        data: `train/<class>/*` and `val/<class>/*`, or `<class>/*` (split by `val_split`).
        out: the run folder (missing or empty; see `trainer.train`).
        recipe: a `Recipe` (default: `preset("finetune")`).
        weights: the backbone's weights: `"imagenet"`, a tag, a path, or None.
        freeze: `"backbone"` (phase 2 unfreezes it all), an integer N (phase 2
            unfreezes the last N weighted layers; with `head_epochs=0` they
            train from the start), or `"none"` (everything trains, one phase).
        image_size: the side of the square training images (default: the model's).
        val_split: share of each class held out when `data` has no `val/`
            (default 0.2); the split is seeded by `seed` and kept in the run.
        seed: the seed of the head, the split, the order and the augmentation.
        model_kwargs: other backbone builder arguments.
        dropout: dropout before the new classifier.
        mixed_precision: as in `trainer.train`.
        jit_compile: as in `trainer.train`.
        devices: as in `trainer.train`.
        workers: threads decoding and augmenting images (`keras.utils.PyDataset`).
        callbacks: extra Keras callbacks.
        verbose: `model.fit` verbosity.
        overwrite: start over a previous run in `out`.

    Returns:
        The metrics dict also written to `metrics.json`.

    Raises:
        ValueError: a bad folder (one line: fewer than two classes, an empty
            class, a class missing from `val/`), a bad option, or `out` taken.
    """
    recipe = recipe or recipe_lib.preset("finetune")
    run_dir = pathlib.Path(out)
    run_folder.check_new_run(run_dir, overwrite)
    check_freeze(freeze)
    record = model_record(name)
    size = int(image_size or record.input_shape[0] or 224)
    if size < 8:
        raise ValueError(f"--image-size must be at least 8 pixels; got {size}.")
    if weights is not None:
        classify_weights_argument(weights)  # a bad weights argument fails before the scan
    count = distribute.device_count(devices)
    distribute.check_batch(recipe.batch_size, count)
    data_split = folder_data.scan_folder(data, val_split, seed)
    _report_skipped(data_split.skipped)
    steps = data_lib.steps_per_epoch(len(data_split.train), recipe.batch_size, True)
    accelerator = describe_device()["accelerator"]
    policy = trainer.dtype_policy_name(mixed_precision, accelerator)
    mode = preprocess_mode(record, weights)
    config = {
        "kind": runs.FOLDER_KIND,
        "model": name,
        "backbone": record.name,
        "model_kwargs": model_kwargs or {},
        "recipe": recipe.to_dict(),
        "data": data_split.root,
        "subset": None,
        "test_subset": None,
        "seed": seed,
        "weights": _weights_label(weights),
        "freeze": freeze,
        "image_size": size,
        "val_split": val_split,
        "dropout": dropout,
        "preprocess": mode,
        "class_names": list(data_split.class_names),
        "workers": workers,
        **trainer.run_settings(
            policy, accelerator, jit_compile, count, recipe.batch_size, recipe.bn_momentum
        ),
    }
    with trainer._dtype_policy(policy), distribute.data_parallel(count):
        keras.utils.set_random_seed(seed)
        model = build_folder_model(
            name,
            len(data_split.class_names),
            weights,
            freeze,
            size,
            mode,
            dropout,
            model_kwargs or {},
        )
        if freeze not in ("backbone", "none") and not head_epochs(config, recipe):
            unfreeze(model, config)  # one phase: the last N layers train from the start
        if recipe.bn_momentum is not None:
            trainer.set_bn_momentum(model, recipe.bn_momentum)
        trainer.compile_model(model, phase_recipe(recipe, 1), steps, config["jit_compile"])
        return trainer.new_run(
            run_dir,
            overwrite,
            config,
            lambda state: _fit(
                model, run_dir, config, recipe, state, data_split, callbacks, verbose
            ),
            lambda folder: folder_data.write_split(folder, data_split, run_folder.write_json),
        )


def resume(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | None = None,
    devices: int | str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    epochs: int | None = None,
) -> dict:
    """Continues a run (CIFAR-10 or image folder) from its last checkpointed epoch.

    A fine-tuning run continues in the phase it stopped in: its batches,
    augmentations and learning rates are those an uninterrupted run would
    have had. Arguments as in `trainer.resume` (`data`: the image folder if it
    moved; its class folders must be the run's).

    Returns:
        The metrics dict also written to `metrics.json`.

    Raises:
        ValueError: not a run with a checkpoint; the folder's classes differ.
    """
    config = run_folder.read_config(run_dir)
    if config.get("kind") != runs.FOLDER_KIND:
        return trainer.resume(run_dir, data, devices, callbacks, verbose, epochs)
    if epochs is not None:
        raise ValueError(
            "--epochs does not extend a fine-tuning run (its phases are fixed); start a new run."
        )
    run_dir = pathlib.Path(run_dir)
    with run_folder.lock(run_dir):
        if not (run_dir / run_folder.LAST_FILE).is_file():
            raise ValueError(
                f"{str(run_dir)!r} has no completed epoch to resume from "
                f"({run_folder.LAST_FILE} is missing); start the run again."
            )
        data_split = folder_data.read_split(run_dir, data)
        if data is not None and data_split.root != config["data"]:
            config["data"] = data_split.root
            run_folder.write_json(run_dir / run_folder.CONFIG_FILE, config)
        state = run_folder.read_state(run_dir / run_folder.LAST_FILE)
        recipe = recipe_lib.Recipe.from_dict(config["recipe"])
        count = distribute.device_count(config.get("devices", 1) if devices is None else devices)
        distribute.check_batch(recipe.batch_size, count)
        steps = data_lib.steps_per_epoch(len(data_split.train), recipe.batch_size, True)
        phase = 2 if state["epoch"] > head_epochs(config, recipe) > 0 else 1
        print(f"Resuming {run_dir} after epoch {state['epoch']} of {recipe.epochs}.")
        with trainer._dtype_policy(config["dtype_policy"]), distribute.data_parallel(count):
            model = keras.saving.load_model(run_dir / run_folder.LAST_FILE)
            trainer.compile_model(
                model,
                phase_recipe(recipe, phase),
                steps,
                config["jit_compile"],
                optimizer=model.optimizer,
            )
            return _fit(model, run_dir, config, recipe, state, data_split, callbacks, verbose)


def _report_skipped(skipped):
    if skipped:
        print(
            f"keras-dense: skipped {len(skipped)} file(s) that cannot be read as images "
            f"(e.g. {skipped[0][1]})."
        )


def _fit(model, run_dir, config, recipe, state, data_split, callbacks, verbose):
    classes = len(config["class_names"])
    size, workers = config["image_size"], config.get("workers", folder_data.DEFAULT_WORKERS)
    train = folder_data.FolderBatches(
        data_split.train,
        classes,
        recipe.batch_size,
        size,
        training=True,
        seed=config["seed"],
        epoch=state["epoch"],
        workers=workers,
    )
    val = folder_data.FolderBatches(
        data_split.val,
        classes,
        evaluation.eval_batch_size(recipe.batch_size) if size <= 64 else recipe.batch_size,
        size,
        workers=workers,
    )
    info = describe_device()
    trained = len(train) * recipe.batch_size
    head = head_epochs(config, recipe)
    print(
        f"Fine-tuning {config['model']} ({model.count_params():,} params) at {size}x{size} on "
        f"{trained:,} images an epoch from {config['data']} ({classes} classes), validating on "
        f"{len(data_split.val):,}; "
        + (
            f"{head} epochs of the head, then {recipe.epochs - head} of the unfrozen backbone "
            f"at lr x {recipe.finetune_lr_scale}; "
            if head
            else ""
        )
        + f"backend {info['backend']}, device {info['device']}; run folder {run_dir}."
    )
    recorder = RunRecorder(run_dir, state, recipe, (val, val.one_hot()), model.loss, trained)
    steps = len(train)
    extra = [train.epoch_callback(), recorder, *callbacks]
    if state["epoch"] < head:
        model.fit(
            train,
            epochs=head,
            initial_epoch=state["epoch"],
            verbose=verbose,
            shuffle=False,  # the batches are shuffled already
            callbacks=extra,
        )
        _after_fit(model, recorder, run_dir)
    done = len(recorder.history)
    if done < recipe.epochs:
        if head and done <= head:  # phase 2 starts: a new optimizer for the unfrozen layers
            if evaluation.keeps_average(model):
                evaluation.load_averaged_weights(model)
            unfreeze(model, config)
            trainer.compile_model(model, phase_recipe(recipe, 2), steps, config["jit_compile"])
        # Before fit: JAX's fit starts the workers (peeking at a batch to build the step)
        # before the first epoch's callbacks run, so a batch of the last epoch's order and
        # augmentation would be queued.
        train.set_epoch(done)
        model.fit(
            train,
            epochs=recipe.epochs,
            initial_epoch=done,
            verbose=verbose,
            shuffle=False,
            callbacks=extra,
        )
        _after_fit(model, recorder, run_dir)
    return _finish(model, run_dir, config, recipe, recorder, val, info)


def _after_fit(model, recorder, run_dir):
    if evaluation.keeps_average(model):
        evaluation.load_averaged_weights(model)
    if recorder.diverged is not None:
        epoch, value = recorder.diverged
        raise trainer.TrainingDivergedError(
            f"Training stopped: the loss became {value} in epoch {epoch}; the last good "
            f"checkpoint stays in {run_dir / run_folder.LAST_FILE}. Lower the learning rate "
            "(--lr) and start a new run."
        )


def _finish(model, run_dir, config, recipe, recorder, val, info):
    names = config["class_names"]
    predictions = recorder.predictions
    if predictions is None:  # a resumed run that had already finished
        with evaluation.averaged_weights(model):
            probabilities = folder_data.predict_folder(model, val, recipe.tta_flip)
        predictions = np.argmax(probabilities, axis=-1)
    report = evaluation.evaluation_report(val.labels, predictions, names)
    rows = recorder.history
    metrics = {
        **trainer.run_metrics(config, report, recorder),
        "head_epochs": head_epochs(config, recipe),
        "test_images": len(val.paths),
        "decode_failures": len(val.failed),
        **info,
        "image_size": config["image_size"],
        "weights": config["weights"],
        "freeze": config["freeze"],
        "class_names": names,
        "dtype_policy": config.get("dtype_policy"),
        "mixed_precision": config["mixed_precision"],
        "jit_compile": config["jit_compile"],
        "keras_version": keras.__version__,
        "recipe": config["recipe"],
    }
    run_folder.write_json(run_dir / run_folder.METRICS_FILE, metrics)
    plots.plot_curves(rows, run_dir / run_folder.CURVES_FILE)
    plots.plot_confusion(report["confusion"], names, run_dir / run_folder.CONFUSION_FILE)
    print(
        f"Validation accuracy {report['accuracy']:.4f} (best {recorder.best_accuracy:.4f} at "
        f"epoch {recorder.best_epoch}); run folder {run_dir}."
    )
    return metrics
