"""ImageNet validation on the 16 shared samples: top-1 / top-5 against a computation by hand."""

import collections
import csv
import json
import shutil

import h5_fixtures
import numpy as np
import pytest
from conftest import shared_path
from PIL import Image

import keras_dense
from keras_dense.imagenet import classes
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.inference import built
from keras_dense.inference.validate import labelled_images, validate

SIDE = 64
ARCH = {"blocks": (1, 2, 1, 1), "growth_rate": 4}


def _samples():
    folder = shared_path("images", "imagenet-samples")
    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return folder, [(folder / row["file"], int(row["keras_index"])) for row in rows]


def _published_transform(path, side, resize_only=False):
    """By hand with Pillow: short side side/0.875 (bicubic) and the centre crop, or a
    nearest-neighbour resize to side x side."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        if resize_only:
            return np.asarray(image.resize((side, side), Image.Resampling.NEAREST))
        scale = side / 0.875 / min(image.size)
        width, height = round(image.size[0] * scale), round(image.size[1] * scale)
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - side) // 2, (height - side) // 2
        return np.asarray(image.crop((left, top, left + side, top + side)))


def _ranked(model, paths, side, resize_only=False):
    pixels = np.stack([_published_transform(p, side, resize_only) for p in paths])
    probabilities = model.predict_on_batch(preprocess_input(pixels, mode="torch"))
    return np.argsort(-probabilities, axis=1, kind="stable")


@pytest.fixture(scope="module")
def tiny_model():
    model = keras_dense.get_model("densenet121", input_shape=(SIDE, SIDE, 3), **ARCH)
    return h5_fixtures.randomize(model, seed=11, logit_scale=3.0)


def test_top1_top5_equal_the_counts_by_hand(tiny_model, tmp_path):
    """Labels made from the model's own ranking by hand: 4 top-1, 4 second, 4 fifth, 4 missed."""
    folder, samples = _samples()
    paths = [path for path, _ in samples]
    ranked = _ranked(tiny_model, paths, SIDE)
    rank_of_label = [0, 1, 4, 9] * 4
    wnids = classes.class_index()
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "wnid"])
        for path, rank, row in zip(paths, rank_of_label, ranked):
            writer.writerow([path.name, wnids[int(row[rank])][0]])
        (tmp_path / "broken.JPEG").write_bytes(b"not a jpeg")
        writer.writerow([str(tmp_path / "broken.JPEG"), "n01440764"])

    report = validate(folder, model=tiny_model, labels=labels, batch_size=6)

    assert (report["images"], report["correct_top1"], report["correct_top5"]) == (16, 4, 12)
    assert (report["top1"], report["top5"]) == (25.0, 75.0)
    assert report["transform"] == {
        "name": "center_crop",
        "interpolation": "bicubic",
        "crop": True,
        "resize_short_side": 73,
        "crop_fraction": 0.875,
        "size": [SIDE, SIDE],
    }
    assert [e["path"] for e in report["errors"]] == [str(tmp_path / "broken.JPEG")]
    assert report["images_per_second"] > 0

    resized = validate(folder, model=tiny_model, labels=labels, resize_only=True)
    ranked = _ranked(tiny_model, paths, SIDE, resize_only=True)
    truth = [int(row[rank]) for row, rank in zip(_ranked(tiny_model, paths, SIDE), rank_of_label)]
    assert resized["correct_top1"] == sum(int(r[0] == t) for r, t in zip(ranked, truth))
    assert resized["correct_top5"] == sum(int(t in r[:5]) for r, t in zip(ranked, truth))
    assert resized["transform"]["name"] == "resize"
    assert resized["transform"]["interpolation"] == "nearest"


def test_a_runtime_export_validates_as_the_keras_model(tiny_model, tmp_path):
    """`validate` runs on whatever engine `load_engine_model` gives (an export has no layers)."""
    from keras_dense.inference import runtimes

    folder, _ = _samples()
    result = keras_dense.export(tiny_model, tmp_path / "tiny.onnx", format="onnx")
    exported = runtimes.load_exported(result.path, "onnx")
    on_keras = validate(folder, model=tiny_model, batch_size=6)
    on_runtime = validate(folder, model=exported, preprocess="torch", batch_size=6)
    assert on_runtime["images"] == on_keras["images"] == 16
    assert (on_runtime["correct_top1"], on_runtime["correct_top5"]) == (
        on_keras["correct_top1"],
        on_keras["correct_top5"],
    )


def test_wnid_folders_and_bad_layouts(tmp_path):
    folder, samples = _samples()
    for path, index in samples[:3]:
        wnid = classes.class_index()[index][0]
        (tmp_path / "val" / wnid).mkdir(parents=True)
        shutil.copy(path, tmp_path / "val" / wnid / path.name)
    found = labelled_images(tmp_path / "val")
    assert [(p.name, i) for p, i in found] == [(p.name, i) for p, i in samples[:3]]
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    with pytest.raises(
        ValueError,
        match=r"No labelled images in .*empty: lay it out as "
        r".*empty/<wnid>/\*\.JPEG",
    ):
        labelled_images(tmp_path / "empty")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,animal\nx.jpg,cat\n")
    with pytest.raises(ValueError, match="has the columns name, animal; it needs a file column"):
        labelled_images(folder, labels=bad)
    bad.write_text("file,wnid\nx.jpg,n99999999\n")
    with pytest.raises(ValueError, match="bad.csv line 2: 'n99999999' is not an ImageNet wnid"):
        labelled_images(folder, labels=bad)


@pytest.mark.slow
def test_cli_validates_the_shared_samples_with_published_weights(tmp_path, monkeypatch, capsys):
    """`keras-dense validate` with densenet121.keras_imagenet in the published layout.

    The classifier favours the true classes of five samples, so every top-5 holds
    exactly those five (top-5 = 5/16) and top-1 depends on the features.
    """
    from keras_dense.cli import main

    folder, samples = _samples()
    reference = keras_dense.get_model("densenet121")
    h5_fixtures.randomize(reference, seed=12, logit_scale=0.5)
    favoured = [index for _, index in samples[:5]]
    kernel, bias = reference.get_layer("predictions").get_weights()
    bias[favoured] += 30.0
    reference.get_layer("predictions").set_weights([kernel, bias])
    h5_fixtures.publish_stand_in(
        monkeypatch, tmp_path, reference, "densenet121.keras_imagenet", include_top=True
    )
    monkeypatch.setattr(built, "_BUILT", collections.OrderedDict())  # no model from before

    assert main(["validate", str(folder), "--model", "densenet121", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    ranked = _ranked(reference, [p for p, _ in samples], 224)
    truth = [index for _, index in samples]
    assert report["images"] == 16 and report["weights"] == "imagenet"
    assert report["correct_top5"] == 5 == sum(int(t in r[:5]) for r, t in zip(ranked, truth))
    assert report["correct_top1"] == sum(int(r[0] == t) for r, t in zip(ranked, truth))
    assert report["transform"]["resize_short_side"] == 256
    assert report["transform"]["size"] == [224, 224]
