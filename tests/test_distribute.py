"""Data-parallel training (`devices=`): the same curve as one device, checkpoints, resume, errors.

The two-device test needs JAX with two devices; `tests/test_backends.py` runs
this file under JAX with `XLA_FLAGS=--xla_force_host_platform_device_count=2`.
"""

import json

import keras
import pytest
from cifar_samples import assert_histories_close, train_tiny, write_binary_cifar

from keras_dense.training import distribute, evaluation, run_folder, trainer
from keras_dense.training.recipe import Recipe


def test_several_devices_off_jax_is_one_error_naming_jax():
    if keras.backend.backend() == "jax":
        pytest.skip("this backend has data-parallel training")
    with pytest.raises(ValueError, match=r"--devices 2 needs the JAX backend.*KERAS_BACKEND=jax"):
        distribute.device_count(2)
    assert distribute.device_count(1) == distribute.device_count(None) == 1


def test_bad_device_counts_and_batches_are_refused():
    for bad in (0, -1, "two", True):
        with pytest.raises(ValueError, match="devices must be a positive integer or 'all'"):
            distribute.device_count(bad)
    with pytest.raises(ValueError, match="batch size 30 does not split over 4 devices"):
        distribute.check_batch(30, 4)


def _two_devices():
    if keras.backend.backend() != "jax" or len(keras.distribution.list_devices()) < 2:
        pytest.skip(
            "needs JAX with 2 devices (tests/test_backends.py runs this file so, with "
            "XLA_FLAGS=--xla_force_host_platform_device_count=2)"
        )


class _Interrupt(Exception):
    pass


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    """Records on how many devices the weights live, then interrupts the run."""

    devices = None

    def on_epoch_end(self, epoch, logs=None):
        self.devices = len(self.model.trainable_variables[0].value.sharding.device_set)
        raise _Interrupt()


def test_two_devices_train_the_one_device_curve_and_resume(tmp_path, monkeypatch):
    _two_devices()
    with pytest.raises(ValueError, match="JAX sees 2 device"):
        distribute.device_count(3)
    assert distribute.device_count("all") == 2
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    data = write_binary_cifar(tmp_path, train=128, test=40)
    recipe = Recipe(epochs=2, batch_size=32, lr=0.05, warmup_epochs=0.0, cutout=8)
    one = train_tiny(data, tmp_path / "one", recipe)
    run = tmp_path / "two"
    stop = _StopAfterFirstEpoch()
    with pytest.raises(_Interrupt):
        train_tiny(data, run, recipe, devices=2, callbacks=[stop])
    assert stop.devices == 2  # the weights were replicated on both devices
    assert run_folder.read_state(run / run_folder.LAST_FILE)["epoch"] == 1
    two = trainer.resume(run, verbose=0)  # on the run's 2 devices

    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    assert_histories_close(
        run_folder.read_history(run), run_folder.read_history(tmp_path / "one"), keys, atol=1e-5
    )
    assert two["devices"] == 2 and two["per_device_batch"] == 16
    assert one["devices"] == 1 and one["per_device_batch"] == 32
    saved = json.loads((run / run_folder.METRICS_FILE).read_text())
    assert (saved["devices"], saved["per_device_batch"]) == (2, 16)
    assert two["test_accuracy"] == pytest.approx(one["test_accuracy"])
    # The saved model is an ordinary one: it loads and tests outside the 2-device scope.
    assert evaluation.evaluate(run)["accuracy"] == pytest.approx(two["best_test_accuracy"])
