"""The lean training loop and its recipe options, under whichever backend runs the tests.

`tests/test_backends.py` runs this file again under JAX (in a subprocess).
"""

import keras
import numpy as np
import pytest
from cifar_samples import (
    TINY_ARCH,
    TINY_MODEL,
    assert_histories_close,
    train_tiny,
    write_binary_cifar,
)

from keras_dense.training import data as data_lib
from keras_dense.training import evaluation, run_folder, trainer
from keras_dense.training.recipe import Recipe, auto_bn_momentum


def _three_epochs(**fields):
    """A 3-epoch recipe at batch 32, lr 0.05, without warm-up; `fields` set the rest."""
    return Recipe(epochs=3, batch_size=32, lr=0.05, warmup_epochs=0.0, **fields)


RECIPE = _three_epochs(label_smoothing=0.0)


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    return write_binary_cifar(tmp_path, train=170, test=37)


def test_epoch_batches_are_full_and_their_order_depends_only_on_seed_and_epoch():
    x = np.arange(70)[:, None]
    batches = data_lib.EpochBatches(x, x, batch_size=16, seed=3)
    assert len(batches) == 4 and all(len(batches[i][0]) == 16 for i in range(4))
    first = np.concatenate([batches[i][0] for i in range(4)])[:, 0]
    assert len(set(first)) == 64  # no image twice in an epoch
    batches.set_epoch(1)
    second = np.concatenate([batches[i][0] for i in range(4)])[:, 0]
    assert not np.array_equal(first, second)
    again = data_lib.EpochBatches(x, x, batch_size=16, seed=3, epoch=1)  # as a resumed run
    np.testing.assert_array_equal(again[2][0], batches[2][0])
    with pytest.raises(IndexError):
        batches[4]
    assert len(data_lib.EpochBatches(x, x, 16, drop_remainder=False)) == 5
    with pytest.raises(ValueError, match="do not fill one batch of 128; lower --batch-size"):
        data_lib.EpochBatches(x, x, 128)


def test_auto_bn_momentum_follows_the_run_length():
    assert auto_bn_momentum(78) == pytest.approx(1 - 10 / 78)
    assert auto_bn_momentum(100_000) == 0.99  # long runs keep Keras's default
    assert auto_bn_momentum(5) == 0.5


def test_bn_momentum_reaches_every_batch_norm_including_recomputed_ones():
    from keras_dense.models import get_model

    model = get_model(TINY_MODEL, classes=10, memory_efficient=True, **TINY_ARCH)
    trainer.set_bn_momentum(model, 0.8)
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) > len(
        [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    )
    assert {layer.momentum for layer in norms} == {0.8}


def _tiny_model(recipe=RECIPE):
    keras.utils.set_random_seed(0)
    model = trainer.build_training_model(TINY_MODEL, 10, recipe, 0, TINY_ARCH)
    trainer.compile_model(model, recipe, steps=5, jit="auto")
    return model


def _traced_batch_sizes(model, step_name):
    """Records the batch size of every trace (compilation) of `model.<step_name>`.

    TensorFlow traces a graph whose batch size is None (any size); JAX traces
    (and XLA compiles) once per concrete shape.
    """
    sizes = []
    step = getattr(model, step_name)

    def traced(*args):
        sizes.append(keras.tree.flatten(args[-1])[0].shape[0])
        return step(*args)

    setattr(model, step_name, traced)
    return sizes


def test_evaluation_pads_to_one_shape_and_counts_every_image():
    model = _tiny_model()
    images = np.random.default_rng(0).integers(0, 256, (37, 32, 32, 3), dtype=np.uint8)
    sizes = _traced_batch_sizes(model, "predict_step")
    probabilities = evaluation.predict_probabilities(model, images, batch_size=16)
    assert probabilities.shape == (37, 10)
    assert set(sizes) <= {16, None}  # 3 batches of 16 (the last padded): one shape
    np.testing.assert_allclose(probabilities, model.predict(images, verbose=0), atol=1e-5)

    mirrored = evaluation.predict_probabilities(model, images[:, :, ::-1], batch_size=16)
    tta = evaluation.predict_probabilities(model, images, batch_size=16, tta_flip=True)
    np.testing.assert_allclose(tta, (probabilities + mirrored) / 2, atol=1e-6)
    assert not np.allclose(tta, probabilities, atol=1e-4)  # the mirror images do change it


def test_averaged_weights_are_in_the_model_only_inside_the_block():
    recipe = Recipe(epochs=3, batch_size=8, warmup_epochs=0.0, use_ema=True, ema_momentum=0.5)
    model = _tiny_model(recipe)
    x = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    y = np.eye(10, dtype="float32")[np.arange(8)]
    for _ in range(3):
        model.train_on_batch(x, y)
    live = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    with evaluation.averaged_weights(model):
        inside = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(live, inside)) > 1e-4
    for a, b in zip(live, after):
        np.testing.assert_array_equal(a, b)


class _Observer(keras.callbacks.Callback):
    """Records the traced batch sizes of the train step and which files exist after each epoch."""

    def __init__(self, run):
        super().__init__()
        self.run, self.sizes, self.files = run, None, []

    def set_model(self, model):
        super().set_model(model)
        if self.sizes is None:  # before fit makes its train function
            self.sizes = _traced_batch_sizes(model, "train_step")

    def on_epoch_end(self, epoch, logs=None):
        self.files.append((self.run / run_folder.LAST_FILE).exists())


def test_lean_loop_compiles_once_and_tests_and_checkpoints_every_n_epochs(tmp_path, tiny_data):
    recipe = _three_epochs(eval_every=2, checkpoint_every=2, steps_per_execution=2)
    run = tmp_path / "run"
    observer = _Observer(run)
    metrics = train_tiny(tiny_data, run, recipe, callbacks=[observer])
    assert set(observer.sizes) <= {32, None}  # 170 images at batch 32: 5 full batches, one shape
    assert metrics["train_images"] == 160 and metrics["test_images"] == 37
    history = run_folder.read_history(run)
    assert [row["val_accuracy"] is not None for row in history] == [False, True, True]
    assert observer.files == [False, True, True]  # last.keras after epochs 2 and 3 only
    assert run_folder.read_state(run / run_folder.LAST_FILE)["epoch"] == 3
    assert metrics["test_accuracy"] == pytest.approx(history[-1]["val_accuracy"])
    report = evaluation.evaluate(run)
    assert report["images"] == 37 and sum(map(sum, report["confusion"])) == 37
    assert metrics["bn_momentum"] == pytest.approx(auto_bn_momentum(15))

    if keras.backend.backend() == "jax":  # the check can fail: a last, smaller batch compiles again
        model = _tiny_model()
        sizes = _traced_batch_sizes(model, "train_step")
        x = np.zeros((170, 32, 32, 3), "uint8")
        model.fit(
            data_lib.EpochBatches(
                x, np.eye(10, dtype="float32")[np.arange(170) % 10], 32, drop_remainder=False
            ),
            verbose=0,
        )
        assert sorted(sizes) == [10, 32]


class _Interrupt(Exception):
    pass


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise _Interrupt()


def test_an_interrupted_run_resumes_to_the_uninterrupted_curve(tmp_path, tiny_data):
    recipe = _three_epochs(use_ema=True, ema_momentum=0.6, tta_flip=True, cutout=8)
    whole = train_tiny(tiny_data, tmp_path / "whole", recipe)
    run = tmp_path / "cut"
    with pytest.raises(_Interrupt):
        train_tiny(tiny_data, run, recipe, callbacks=[_StopAfter(2)])
    assert run_folder.read_state(run / run_folder.LAST_FILE)["epoch"] == 2
    resumed = trainer.resume(run, verbose=0)
    got = run_folder.read_history(run)
    assert [row["epoch"] for row in got] == [1, 2, 3]
    keys = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
    assert_histories_close(got, run_folder.read_history(tmp_path / "whole"), keys, atol=1e-6)
    assert resumed["test_accuracy"] == pytest.approx(whole["test_accuracy"])
    assert resumed["per_class_accuracy"] == pytest.approx(whole["per_class_accuracy"])
