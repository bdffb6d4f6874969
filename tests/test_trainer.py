"""train / evaluate on tiny models and data: run folder, NaN stop, learning on real CIFAR-10."""

import json

import numpy as np
import pytest
from cifar_samples import TINY_ARCH, TINY_MODEL, train_tiny, write_binary_cifar

from keras_dense.training import evaluation, run_folder, trainer
from keras_dense.training.recipe import Recipe, preset

TINY_RECIPE = Recipe(epochs=2, batch_size=32, lr=0.05, warmup_epochs=0.0, label_smoothing=0.0)


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    return write_binary_cifar(tmp_path)


def test_run_folder_holds_models_history_plots_and_metrics(tmp_path, tiny_data):
    run = tmp_path / "run"
    metrics = train_tiny(tiny_data, run, TINY_RECIPE)
    for name in (
        "config.json",
        "best.keras",
        "last.keras",
        "history.csv",
        "curves.png",
        "metrics.json",
        "confusion.png",
    ):
        assert (run / name).is_file(), name
    assert not list(run.glob(".*tmp*"))  # no temporary file left behind
    history = run_folder.read_history(run)
    assert [row["epoch"] for row in history] == [1, 2]
    state = run_folder.read_state(run / "last.keras")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    saved = json.loads((run / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["backend"] and saved["device"] and saved["images_per_second"] > 0
    assert saved["train_images"] == 160 and saved["test_images"] == 40
    classes = "airplane automobile bird cat deer dog frog horse ship truck"
    assert set(saved["per_class_accuracy"]) == set(classes.split())
    # The final model's accuracy equals the last epoch's validation accuracy.
    assert saved["test_accuracy"] == pytest.approx(history[-1]["val_accuracy"], abs=1e-6)

    # evaluate() tests best.keras; its accuracy is the best epoch's validation accuracy.
    report = evaluation.evaluate(run)
    assert report["model_file"].endswith("best.keras") and report["images"] == 40
    assert report["accuracy"] == pytest.approx(saved["best_test_accuracy"], abs=1e-6)
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 40 and np.trace(confusion) == round(report["accuracy"] * 40)
    per_class = np.diag(confusion) / confusion.sum(axis=1)
    np.testing.assert_allclose(list(report["per_class_accuracy"].values()), per_class)

    with pytest.raises(ValueError, match="already holds a run; continue it with --resume"):
        trainer.train(
            TINY_MODEL, data=tiny_data, out=run, recipe=TINY_RECIPE, model_kwargs=TINY_ARCH
        )


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_data):
    # The step schedule multiplies the rate by 1e36 after epoch 1: training diverges in epoch 2.
    recipe = Recipe(
        epochs=3,
        batch_size=32,
        lr=0.05,
        schedule="step",
        step_at=(1 / 3,),
        step_factor=1e36,
        warmup_epochs=0.0,
        label_smoothing=0.0,
    )
    run = tmp_path / "run"
    with pytest.raises(
        trainer.TrainingDivergedError,
        match=r"loss became (nan|inf) in epoch 2; the last good checkpoint "
        r"\(epoch 1\) stays in .*last.keras",
    ):
        train_tiny(tiny_data, run, recipe)
    assert run_folder.read_state(run / "last.keras")["epoch"] == 1
    assert [row["epoch"] for row in run_folder.read_history(run)] == [1]
    assert not (run / "metrics.json").exists()
    assert evaluation.evaluate(run)["images"] == 40  # the kept model still loads and runs


def test_evaluate_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="neither a run folder nor a .keras model file"):
        evaluation.evaluate(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a training run folder"):
        evaluation.evaluate(tmp_path)


def test_small_model_learns_real_cifar10_well_above_chance(tmp_path):
    from conftest import shared_path

    data = shared_path("cifar10")  # CIFAR-10 (JPEG copy); decoded once into the user cache
    recipe = preset("default", epochs=2, batch_size=32, lr=0.05, label_smoothing=0.0)
    metrics = trainer.train(
        TINY_MODEL,
        data=data,
        out=tmp_path / "run",
        recipe=recipe,
        subset=4000,
        test_subset=1000,
        model_kwargs={"blocks": (2, 2, 2), "growth_rate": 8},
        verbose=0,
    )
    print(f"test accuracy after 2 epochs on 4000 images: {metrics['test_accuracy']:.3f}")
    assert metrics["test_accuracy"] > 0.25, metrics


def test_evaluate_a_plain_keras_file_adds_the_normalising_front(tmp_path, tiny_data):
    from keras_dense.models import get_model

    network = get_model(TINY_MODEL, classes=10, **TINY_ARCH)
    path = tmp_path / "plain.keras"
    network.save(path)
    report = evaluation.evaluate(path, data=tiny_data, test_subset=20)
    assert report["images"] == 20 and 0 <= report["accuracy"] <= 1
    assert sum(sum(row) for row in report["confusion"]) == 20


def test_a_run_that_stopped_before_its_first_epoch_can_start_again(tmp_path, tiny_data):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")  # what a run killed in epoch 1 leaves
    recipe = Recipe(epochs=1, batch_size=32, lr=0.05, warmup_epochs=0.0, label_smoothing=0.0)
    train_tiny(tiny_data, run, recipe)
    assert json.loads((run / "config.json").read_text())["model"] == TINY_MODEL
    assert [row["epoch"] for row in run_folder.read_history(run)] == [1]
