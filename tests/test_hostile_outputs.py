"""Issue 20, class 1: keras-dense never deletes or overwrites what it did not create.

Exports, run folders, Grad-CAM images and converted weights that exist are
refused with one line naming the fix; `--overwrite` replaces only our own
earlier output, atomically; a run folder is locked while a run writes it; and
`--resume RUN --epochs N` extends a finished run.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from cifar_samples import train_argv, train_tiny, write_binary_cifar
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_dense import _files
from keras_dense.cli import main
from keras_dense.training import run_folder, trainer
from keras_dense.training.recipe import Recipe

ONE_EPOCH = Recipe(epochs=1, batch_size=32, lr=0.05, warmup_epochs=0.0, label_smoothing=0.0)


def _digests(folder):
    """Every file under `folder` (relative name -> sha256): what must stay byte-identical."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _saved_model_argv(out):
    """`keras-dense export lenet5 --weights none --format saved_model --out OUT`."""
    return ["export", "lenet5", "--weights", "none", "--format", "saved_model", "--out", str(out)]


def _one_line_error(capsys, *argv):
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-dense: error: ") and err.count("\n") == 1, err
    return err


def _no_temporaries(folder):
    return not [p for p in folder.rglob("*") if _files.TEMP_MARK in p.name]


# --- export ---------------------------------------------------------------------------------


@pytest.fixture
def saved_model_export():
    pytest.importorskip("tensorflow")
    from keras_dense.inference import export as export_lib

    def export(path, **kwargs):
        return export_lib.export("lenet5", path, format="saved_model", weights=None, **kwargs)

    return export


def test_export_never_deletes_a_folder_of_user_files(tmp_path, saved_model_export, capsys):
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("a week of notes")
    (folder / "sub" / "data.bin").write_bytes(b"\x00\x01" * 100)
    before = _digests(folder)
    for overwrite in ({}, {"overwrite": True}):
        with pytest.raises(_files.OutputExistsError, match="never replaces it"):
            saved_model_export(folder, **overwrite)
        assert _digests(folder) == before
    err = _one_line_error(
        capsys,
        *_saved_model_argv(folder),
        "--overwrite",
    )
    assert "not even with --overwrite" in err
    assert _digests(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left


def test_reexport_replaces_our_own_export_atomically(
    tmp_path, saved_model_export, monkeypatch, capsys
):
    from keras_dense.inference import export as export_lib

    out = tmp_path / "model_sm"
    saved_model_export(out)
    first = _digests(out)
    err = _one_line_error(capsys, *_saved_model_argv(out))
    assert "pass --overwrite" in err
    assert _digests(out) == first

    # A rename that fails half-way leaves the earlier export and its report as they were.
    report = out.with_name(out.name + ".check.json")
    old_report = report.read_bytes()
    real_publish = _files.publish

    def failing_publish(tmp, path):
        if path == out:
            raise OSError("disk full")
        return real_publish(tmp, path)

    monkeypatch.setattr(export_lib._files, "publish", failing_publish)
    with pytest.raises(OSError, match="disk full"):
        saved_model_export(out, overwrite=True)
    assert _digests(out) == first and report.read_bytes() == old_report
    assert _no_temporaries(tmp_path)
    monkeypatch.setattr(export_lib._files, "publish", real_publish)

    result = saved_model_export(out, overwrite=True)  # new random weights: other variables
    assert result.check.passed and _digests(out) != first
    assert set(_digests(out)) == set(first)
    assert json.loads(report.read_text())["passed"] is True
    assert _no_temporaries(tmp_path)


def test_reexport_without_check_leaves_no_stale_passed_report(tmp_path, saved_model_export, capsys):
    out = tmp_path / "model_sm"
    saved_model_export(out)
    report = out.with_name(out.name + ".check.json")
    assert json.loads(report.read_text())["passed"] is True
    assert main([*_saved_model_argv(out), "--overwrite", "--no-check"]) == 0
    assert "not checked" in capsys.readouterr().out
    written = json.loads(report.read_text())
    assert written["checked"] is False and not written["passed"]
    assert _no_temporaries(tmp_path)


# --- train / resume ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 1-epoch tiny run, and its data; each test works on a copy."""
    folder = tmp_path_factory.mktemp("finished")
    data = write_binary_cifar(folder)
    run = folder / "run"
    train_tiny(data, run, ONE_EPOCH)
    return run, data


@pytest.fixture
def run_copy(finished_run, tmp_path):
    run, data = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy, data


def test_train_refuses_a_folder_of_user_files_and_leaves_it_byte_identical(tmp_path, capsys):
    data = write_binary_cifar(tmp_path)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("chapter 1")
    (folder / "best.keras").write_bytes(b"my own model")
    before = _digests(folder)
    for overwrite in ({}, {"overwrite": True}):
        with pytest.raises(
            _files.OutputExistsError, match="'thesis.tex'.*not even with --overwrite"
        ):
            train_tiny(data, folder, ONE_EPOCH, **overwrite)
    err = _one_line_error(capsys, *train_argv(data, folder, 1))
    assert "not a keras-dense run" in err
    assert _digests(folder) == before and sorted(p.name for p in folder.iterdir()) == [
        "best.keras",
        "thesis.tex",
    ]


def test_train_over_a_run_is_refused_then_started_over_with_overwrite(run_copy, capsys):
    run, data = run_copy
    before = _digests(run)
    err = _one_line_error(
        capsys,
        *train_argv(data, run, 1),
        *sum(
            (["--arch", f"{k}={v}"] for k, v in {"blocks": "1,1,1", "growth_rate": 4}.items()), []
        ),
    )
    assert f"already holds a run; continue it with --resume {run}" in err and "--overwrite" in err
    assert _digests(run) == before

    train_tiny(data, run, ONE_EPOCH, seed=5, overwrite=True)
    assert json.loads((run / "config.json").read_text())["seed"] == 5
    assert [row["epoch"] for row in run_folder.read_history(run)] == [1]
    after = _digests(run)
    assert set(after) == set(before) and after["best.keras"] != before["best.keras"]
    assert not (run / _files.FolderLock.FILE).exists() and _no_temporaries(run)


def test_a_live_lock_refuses_a_second_run_and_a_dead_ones_is_taken_over(run_copy, capsys):
    run, _ = run_copy
    lock = run / _files.FolderLock.FILE
    lock.write_text(str(os.getppid()))  # a live process that is not this one
    before = _digests(run)
    with pytest.raises(_files.LockedError, match=f"in use by process {os.getppid()}"):
        trainer.resume(run, verbose=0)
    err = _one_line_error(capsys, "train", "--resume", str(run))
    assert "in use by process" in err
    assert _digests(run) == before

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(str(dead.pid))
    metrics = trainer.resume(run, verbose=0)  # finished: tests it again, trains nothing
    assert metrics["epochs"] == 1 and not lock.exists()


def test_resume_with_epochs_extends_a_finished_run(run_copy, capsys):
    run, _ = run_copy
    trained = keras.saving.load_model(run / "last.keras")
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"Resuming {run} after epoch 1 of 2." in out and "recomputed for 2 epochs" in out
    assert [row["epoch"] for row in run_folder.read_history(run)] == [1, 2]
    assert json.loads((run / "config.json").read_text())["recipe"]["epochs"] == 2
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 2
    extended = keras.saving.load_model(run / "last.keras")
    steps = int(keras.ops.convert_to_numpy(trained.optimizer.iterations))
    assert int(keras.ops.convert_to_numpy(extended.optimizer.iterations)) == 2 * steps
    assert extended.optimizer._learning_rate.get_config()["decay_steps"] == 2 * steps
    # The second epoch trained at a learning rate above 0 (the finished cosine was at 0).
    kernels = [
        (keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        for a, b in zip(trained.trainable_weights, extended.trainable_weights)
        if "kernel" in a.path
    ]
    assert kernels and any(not np.allclose(a, b, atol=1e-6) for a, b in kernels)
    assert not (run / _files.FolderLock.FILE).exists()

    before = _digests(run)
    with pytest.raises(ValueError, match="already trained 2 epochs; --epochs 1 would undo them"):
        trainer.resume(run, epochs=1, verbose=0)
    assert _digests(run) == before


def test_resume_refuses_recipe_flags_but_not_epochs(tmp_path, capsys):
    err = _one_line_error(capsys, "train", "--resume", str(tmp_path), "--lr", "0.1")
    assert "--resume takes the model and recipe" in err and "--lr" in err
    err = _one_line_error(capsys, "train", "--resume", str(tmp_path), "--overwrite")
    assert "--overwrite" in err
    err = _one_line_error(capsys, "train", "--resume", str(tmp_path), "--epochs", "3")
    assert "is not a training run folder" in err


RUN_FILES = {
    "config.json",
    "last.keras",
    "best.keras",
    "history.csv",
    "metrics.json",
    "curves.png",
    "confusion.png",
}
NAMES = sorted(RUN_FILES) + ["notes.txt", "data", ".keras-dense.lock"]


@settings(max_examples=60, deadline=None)
@given(
    names=st.sets(st.sampled_from(NAMES), max_size=4),
    overwrite=st.booleans(),
    lone_config=st.sampled_from(["{}", '{"model": "x"}', '{"mine": 1}', "not json"]),
)
def test_check_new_run_decides_without_touching_anything(
    tmp_path_factory, names, overwrite, lone_config
):
    folder = tmp_path_factory.mktemp("folder")
    for name in names:
        (folder / name).write_text(lone_config if name == "config.json" else name)
    before = _digests(folder)
    visible = set(names) - {".keras-dense.lock"}
    foreign = visible - RUN_FILES
    lone_ours = visible == {"config.json"} and lone_config in ("{}", '{"model": "x"}')
    try:
        run_folder.check_new_run(folder, overwrite)
        accepted = True
    except _files.OutputExistsError as error:
        accepted = False
        assert "\n" not in str(error)
    assert accepted == (not visible or lone_ours or (overwrite and not foreign))
    assert _digests(folder) == before


# --- explain / weights convert ----------------------------------------------------------------


def test_explain_and_convert_refuse_an_existing_out(tmp_path, capsys):
    from PIL import Image

    from keras_dense.imagenet import images

    image = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(image)
    cam = tmp_path / "cam.png"
    cam.write_bytes(b"my heatmap")
    err = _one_line_error(
        capsys, "explain", str(image), "--model", "lenet5", "--weights", "none", "--out", str(cam)
    )
    assert "cam.png" in err and "--overwrite" in err and cam.read_bytes() == b"my heatmap"
    with pytest.raises(_files.OutputExistsError, match="overwrite=True"):
        images.save_image(np.zeros((4, 4, 3), np.uint8), cam)
    assert cam.read_bytes() == b"my heatmap"
    images.save_image(np.zeros((4, 4, 3), np.uint8), cam, overwrite=True)
    with Image.open(cam) as written:
        assert written.size == (4, 4)

    weights = tmp_path / "resnet18.weights.h5"
    weights.write_bytes(b"converted last week")
    err = _one_line_error(
        capsys,
        "weights",
        "convert",
        str(tmp_path / "resnet18.pth"),
        "--model",
        "resnet18",
        "--out",
        str(weights),
    )
    assert "resnet18.weights.h5" in err and "--overwrite" in err
    assert weights.read_bytes() == b"converted last week"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cam.png",
        "photo.png",
        "resnet18.weights.h5",
    ]
