"""Fine-tuning on an image folder: the split, the streamed batches, the two phases, resuming,
and the run folder used as a model (predict, evaluate, export, explain, load_run)."""

import json
import pathlib
import zipfile

import keras
import numpy as np
import pytest
from conftest import shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import keras_dense
from keras_dense.cli import main
from keras_dense.training import folder_data, folder_train
from keras_dense.training import recipe as recipe_lib

TINY = {"width": 1 / 16}  # a tiny VGG11-BN: batch norm makes the frozen checks meaningful
MODEL = "vgg11_bn"
CLASSES = ("cat", "dog")


def _write_png(path, seed=0, size=(12, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _class_tree(root, counts):
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _write_png(root / name / f"{i}.png", seed=i)
    return root


@pytest.fixture(scope="module")
def cifar_folder(tmp_path_factory):
    """`train/{cat,dog}` (8 each) and `val/{cat,dog}` (4 each) from the CIFAR-10 JPEG copy."""
    root = tmp_path_factory.mktemp("cifar2")
    sources = {
        "train": shared_path("cifar10", "cifar10-jpg-train.zip"),
        "val": shared_path("cifar10", "cifar10-jpg-test.zip"),
    }
    for split, count in (("train", 8), ("val", 4)):
        source = "train" if split == "train" else "test"
        with zipfile.ZipFile(sources[split]) as archive:
            for name in CLASSES:
                prefix = f"cifar10-jpg/{source}/{name}/"
                files = sorted(n for n in archive.namelist() if n.startswith(prefix))[:count]
                (root / split / name).mkdir(parents=True)
                for member in files:
                    (root / split / name / pathlib.PurePosixPath(member).name).write_bytes(
                        archive.read(member)
                    )
    return root


def _recipe(**overrides):
    return recipe_lib.preset(
        "finetune", **{"epochs": 3, "head_epochs": 1, "batch_size": 8, **overrides}
    )


def _train(data, out, recipe=None, callbacks=(), **kwargs):
    return folder_train.train_folder(
        MODEL,
        data,
        out,
        recipe=recipe or _recipe(),
        weights=None,
        image_size=32,
        model_kwargs=TINY,
        workers=2,
        callbacks=callbacks,
        verbose=0,
        **kwargs,
    )


def _weights(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


class _Snapshots(keras.callbacks.Callback):
    """The backbone's weights (batch-norm statistics included) before training and after
    each epoch."""

    def __init__(self):
        super().__init__()
        self.taken = []

    def on_train_begin(self, logs=None):
        if not self.taken:
            self.taken.append(_weights(self.model.get_layer(MODEL)))

    def on_epoch_end(self, epoch, logs=None):
        self.taken.append(_weights(self.model.get_layer(MODEL)))


@pytest.fixture(scope="module")
def trained_run(cifar_folder, tmp_path_factory):
    """A two-phase run (1 epoch of the head, 2 of the unfrozen backbone) and its snapshots."""
    out = tmp_path_factory.mktemp("runs") / "cats"
    snapshots = _Snapshots()
    metrics = _train(cifar_folder, out, callbacks=[snapshots])
    return out, metrics, snapshots.taken


# --- the folder and its split ---------------------------------------------------------------


def test_split_is_stratified_and_reproducible(tmp_path):
    root = _class_tree(tmp_path / "data", {"a": 10, "b": 7, "c": 5})
    first = folder_data.scan_folder(root, val_split=0.2, seed=3)
    again = folder_data.scan_folder(root, val_split=0.2, seed=3)
    other = folder_data.scan_folder(root, val_split=0.2, seed=4)
    assert first == again
    assert first.val != other.val
    assert first.class_names == ["a", "b", "c"]
    val_counts = np.bincount([label for _, label in first.val], minlength=3)
    assert val_counts.tolist() == [2, 1, 1]  # round(0.2 n), at least one per class
    everything = sorted(p for p, _ in first.train + first.val)
    assert everything == sorted(str(p) for p in root.rglob("*.png"))
    assert not {p for p, _ in first.train} & {p for p, _ in first.val}


def test_the_split_is_written_into_the_run_and_read_back(trained_run, cifar_folder):
    out, _, _ = trained_run
    split = json.loads((out / folder_data.SPLIT_FILE).read_text())
    assert split["class_names"] == list(CLASSES) and split["layout"] == "train_val"
    assert len(split["train"]) == 16 and len(split["val"]) == 8
    assert folder_data.read_split(out) == folder_data.scan_folder(cifar_folder)


@pytest.mark.parametrize(
    "layout, expected",
    [
        ({"a": 3}, "at least two class folders"),
        ({"a": 3, "b": 0}, "holds no readable image"),
        ({"train/a": 3, "train/b": 3, "val/a": 1}, "'b' of train/ is missing from"),
        ({"train/a": 3, "train/b": 3}, "no val/ folder"),
        ({"a": 3, "b": 1}, "holds one image"),
    ],
)
def test_bad_folders_get_one_line(tmp_path, layout, expected):
    _class_tree(tmp_path / "data", layout)
    with pytest.raises(ValueError, match=expected) as raised:
        folder_data.scan_folder(tmp_path / "data")
    assert "\n" not in str(raised.value)


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    root = _class_tree(tmp_path / "data", {"a": 3, "b": 3})
    (root / "a" / "broken.jpg").write_bytes(b"not an image")
    found = folder_data.scan_folder(root, val_split=0.3)
    assert [pathlib.Path(p).name for p, _ in found.skipped] == ["broken.jpg"]
    assert len(found.train) + len(found.val) == 6


def test_resuming_with_other_classes_is_refused(trained_run, tmp_path):
    out, _, _ = trained_run
    _class_tree(tmp_path / "other" / "train", {"cat": 2, "bird": 2})
    with pytest.raises(ValueError, match="are not the run's"):
        folder_train.resume(out, data=tmp_path / "other")


# --- the streamed batches -------------------------------------------------------------------


def test_batches_are_augmented_reproducibly_and_validation_is_centre_cropped():
    samples = shared_path("images", "imagenet-samples")
    files = sorted(samples.glob("*.JPEG"))[:6]  # mixed sizes, grayscale among them
    items = [(str(path), i % 2) for i, path in enumerate(files)]
    train = folder_data.FolderBatches(items, 2, 4, 48, training=True, seed=1, workers=1)
    x, y = train[0]
    assert x.shape == (4, 48, 48, 3) and x.dtype == np.uint8 and y.shape == (4, 2)
    np.testing.assert_array_equal(train[0][0], x)  # a batch is a function of (seed, epoch)
    train.set_epoch(1)
    assert not np.array_equal(train[0][0], x)
    val = folder_data.FolderBatches(items, 2, 4, 48, workers=1)
    assert len(val) == 2
    last_x, last_y = val[1]
    np.testing.assert_array_equal(last_x[0], folder_data.load_val_image(files[4], 48))
    np.testing.assert_array_equal(last_x[3], last_x[1])  # padded with the last image
    np.testing.assert_array_equal(val.mirrored()[0][0], val[0][0][:, :, ::-1])


def test_random_resized_crop_boxes_stay_inside_the_image():
    rng = np.random.default_rng(0)
    for width, height in [(32, 32), (500, 20), (3, 700), (1, 1)]:
        for _ in range(20):
            left, top, right, bottom = folder_data.random_resized_crop_box(width, height, rng)
            assert 0 <= left < right <= width and 0 <= top < bottom <= height


# --- the two phases and resuming --------------------------------------------------------------


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def test_the_backbone_is_frozen_in_phase_one_and_trains_in_phase_two(trained_run):
    _, metrics, (initial, after_head, after_finetune, _) = trained_run
    assert metrics["head_epochs"] == 1 and metrics["epochs"] == 3
    assert _changed(initial, after_head) == set()  # batch-norm statistics included
    changed = _changed(after_head, after_finetune)
    assert any(path.endswith("kernel") for path in changed)
    assert not any("moving_" in path for path in changed)  # batch norm in inference mode


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt  # after the run's own callback wrote last.keras


@pytest.mark.slow
@pytest.mark.parametrize("stop_after", [1, 2], ids=["after-phase-one", "in-phase-two"])
def test_a_resumed_run_equals_an_uninterrupted_one(trained_run, cifar_folder, tmp_path, stop_after):
    whole, _, _ = trained_run
    with pytest.raises(KeyboardInterrupt):
        _train(cifar_folder, tmp_path / "cut", callbacks=[_Interrupt(stop_after)])
    assert folder_train.resume(tmp_path / "cut", verbose=0)["epochs"] == 3
    expected = _weights(keras.saving.load_model(whole / "last.keras"))
    actual = _weights(keras.saving.load_model(tmp_path / "cut" / "last.keras"))
    assert expected.keys() == actual.keys()
    for path in expected:
        np.testing.assert_allclose(actual[path], expected[path], atol=1e-4, err_msg=path)


# --- the run folder as a model ----------------------------------------------------------------


def test_predict_and_load_run_use_the_run_class_names(trained_run, cifar_folder, capsys):
    out, _, _ = trained_run
    image = sorted((cifar_folder / "val" / "dog").iterdir())[0]
    top = keras_dense.predict(str(image), model=str(out), top=5)[0]
    assert [name for _, name, _ in top] in (["cat", "dog"], ["dog", "cat"])
    assert sum(p for _, _, p in top) == pytest.approx(1.0, abs=1e-5)
    assert keras_dense.load_run(out).keras_dense_class_names == list(CLASSES)
    assert main(["predict", str(image), "--model", str(out)]) == 0
    printed = capsys.readouterr().out
    assert " cat " in printed and " dog " in printed


def test_evaluate_a_run_on_its_split_and_on_a_folder(trained_run, cifar_folder, capsys):
    out, metrics, _ = trained_run
    own = keras_dense.training.evaluate(out)
    assert list(own["per_class_accuracy"]) == list(CLASSES) and own["images"] == 8
    assert own["accuracy"] == pytest.approx(metrics["best_test_accuracy"])
    assert main(["evaluate", str(out), "--data", str(cifar_folder)]) == 0
    printed = capsys.readouterr().out
    assert "on 8 images" in printed and "  cat" in printed


def test_export_of_a_run_is_checked_on_its_validation_images(trained_run, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out, _, _ = trained_run
    target = tmp_path / "cats.onnx"
    assert main(["export", str(out), "--format", "onnx", "--out", str(target)]) == 0
    report = json.loads(target.with_name("cats.onnx.check.json").read_text())
    assert report["passed"] and len(report["images"]) == 8
    assert all(f"{pathlib.os.sep}val{pathlib.os.sep}" in path for path in report["images"])


def test_explain_names_the_run_class(trained_run, cifar_folder, tmp_path, capsys):
    out, _, _ = trained_run
    image = sorted((cifar_folder / "val" / "cat").iterdir())[0]
    cam = tmp_path / "cam.png"
    assert main(["explain", str(image), "--model", str(out), "--out", str(cam)]) == 0
    assert cam.is_file()
    line = capsys.readouterr().out
    assert " cat," in line or " dog," in line


def test_the_cli_refuses_a_folder_run_without_data(capsys):
    assert main(["train", MODEL, "--weights", "none", "--image-size", "32"]) == 2
    assert "fine-tuning needs --data DIR" in capsys.readouterr().err


# --- random folder layouts ------------------------------------------------------------------

_ENTRY = st.sampled_from(["png", "png", "junk", "empty-dir"])
_CLASS = st.lists(_ENTRY, max_size=4)
_LAYOUT = st.dictionaries(
    st.sampled_from(["a", "b", "c", "train/a", "train/b", "val/a", "val/b", ".hidden", "x/y"]),
    _CLASS,
    max_size=5,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=_LAYOUT, val_split=st.sampled_from([None, 0.2, 0.5]), seed=st.integers(0, 3))
def test_random_folder_layouts_give_a_split_or_one_line(tmp_path_factory, layout, val_split, seed):
    root = tmp_path_factory.mktemp("layout")
    for folder, entries in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i, entry in enumerate(entries):
            if entry == "png":
                _write_png(root / folder / f"{i}.png", seed=i)
            elif entry == "junk":
                (root / folder / f"{i}.jpg").write_bytes(b"\xff\xd8junk")
            else:
                (root / folder / f"{i}").mkdir()
    before = sorted(root.rglob("*"))
    try:
        found = folder_data.scan_folder(root, val_split=val_split, seed=seed)
    except ValueError as error:
        assert "\n" not in str(error) and str(error).endswith((".", ")"))
    else:
        assert len(found.class_names) >= 2
        labels = {label for _, label in found.train} | {label for _, label in found.val}
        assert labels == set(range(len(found.class_names)))
        assert all(pathlib.Path(path).is_file() for path, _ in found.train + found.val)
    assert sorted(root.rglob("*")) == before  # nothing written
