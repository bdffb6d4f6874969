"""int8 on OpenVINO (NNCF post-training quantization): export, cache, predict, the check.

A tiny DenseNet (growth 4, 32x32, 5 classes) with reproducible random weights
is quantized on a few of the 16 shared ImageNet photographs; the others are
the held-out images of the check. NNCF calibrates it in 1-2 s here.
"""

import json
import os
import pathlib

import h5_fixtures
import numpy as np
import pytest
from conftest import run_cli, shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_dense
from keras_dense.imagenet import images as images_lib
from keras_dense.inference import cache, engines, loading, quantize, runtimes
from keras_dense.inference import check as check_lib

pytestmark = pytest.mark.skipif(
    not (runtimes.installed("nncf") and runtimes.installed("openvino")),
    reason="int8 needs NNCF and OpenVINO: pip install nncf openvino (keras-dense[int8])",
)


@pytest.fixture
def engine_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    return cache.cache_dir()


@pytest.fixture
def photos():
    return sorted(shared_path("images", "imagenet-samples").glob("*.JPEG"))


def _tiny_densenet(seed=2):
    record = keras_dense.model_record("densenet121")
    model = keras_dense.get_model("densenet121", weights=None, **record.tiny)
    h5_fixtures.randomize(model, seed=seed, logit_scale=1.0)
    model.predict_on_batch(np.zeros((1, 32, 32, 3)))
    return model


def test_int8_export_keeps_a_report_checked_on_held_out_images(tmp_path, photos):
    model = _tiny_densenet()
    target = tmp_path / "out" / "tiny.xml"
    result = keras_dense.export(
        model, target, format="openvino", precision="int8", calibration=photos, calibration_size=8
    )
    report = json.loads(result.report_path.read_text())
    assert report["precision"] == "int8" and report["passed"] is True
    assert report["calibration"]["images"] == 8 and report["calibration"]["held_out_images"] == 8
    assert report["min_top1_agreement"] == check_lib.MIN_TOP1_AGREEMENT["int8"]
    assert report["top1_agreement"] >= report["min_top1_agreement"]
    assert 0 < report["max_probability_difference"] <= report["tolerance"]
    assert report["float32_check"]["passed"] is True
    calibrated = set(quantize.calibration_set(photos, 8).calibrate)
    assert len(report["images"]) == 8 and not {pathlib.Path(p) for p in report["images"]} & {
        pathlib.Path(p) for p in calibrated
    }
    # the kept file is an int8 IR that OpenVINO runs, close to the float32 model
    int8 = runtimes.load_exported(target, "openvino", precision="int8")
    x = keras_dense.preprocess_input(
        np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)), mode="torch"
    )
    np.testing.assert_allclose(
        int8.predict_on_batch(x), model.predict_on_batch(x), atol=report["tolerance"]
    )
    xml = target.read_text()
    assert "FakeQuantize" in xml or "FakeConvert" in xml or 'element_type="i8"' in xml
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "tiny.bin",
        "tiny.xml",
        "tiny.xml.check.json",
    ]


def test_a_failed_int8_check_leaves_nothing(tmp_path, photos):
    model = _tiny_densenet()
    target = tmp_path / "out" / "tiny.xml"
    with pytest.raises(check_lib.ExportCheckError, match="does not agree with float32.*FAILED"):
        keras_dense.export(
            model,
            target,
            format="openvino",
            precision="int8",
            calibration=photos,
            calibration_size=8,
            tolerance=0.0,  # no int8 model is that close
        )
    assert list(target.parent.iterdir()) == []


def test_int8_arguments_are_one_clear_sentence(tmp_path, photos):
    model = _tiny_densenet()
    with pytest.raises(ValueError, match="int8 exports are OpenVINO IR"):
        keras_dense.export(model, tmp_path / "m.onnx", precision="int8", calibration=photos)
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        keras_dense.export(model, tmp_path / "m.xml", format="openvino", precision="int8")
    with pytest.raises(ValueError, match="apply to precision='int8'"):
        keras_dense.export(model, tmp_path / "m.xml", format="openvino", calibration=photos)
    with pytest.raises(ValueError, match="is a calibration image"):
        keras_dense.export(
            model,
            tmp_path / "m.xml",
            format="openvino",
            precision="int8",
            calibration=photos,
            images=photos[:1],
        )
    with pytest.raises(ValueError, match="runs on the OpenVINO engine only"):
        loading.load_engine_model(model, precision="int8", engine="keras")
    assert not list(tmp_path.iterdir())


def test_the_calibration_identity_follows_the_images(tmp_path, photos):
    folder = tmp_path / "calibration"
    folder.mkdir()
    for photo in photos[:6]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    first = quantize.calibration_set(folder, 4)
    assert quantize.calibration_set(folder, 4).identity == first.identity  # reproducible
    assert quantize.calibration_set(folder, 3).identity != first.identity
    touched = first.calibrate[0]
    os.utime(touched, ns=(1, 1))
    assert quantize.calibration_set(folder, 4).identity != first.identity
    pixels = np.zeros((6, 8, 8, 3), "uint8")
    other = pixels.copy()
    other[0, 0, 0, 0] = 1
    same_pixels = quantize.calibration_set(pixels, 6).identity
    assert quantize.calibration_set(other, 6).identity != same_pixels
    assert len(quantize.calibration_set(pixels, 6).held_out) == 0
    # every image calibrates: the bundled photographs check it
    assert first.held_out and set(quantize.calibration_set(folder, 10).held_out) == set(
        check_lib.bundled_images()
    )


def test_predict_int8_uses_the_cached_entry_or_says_how_to_make_it(engine_cache, photos):
    model = _tiny_densenet()
    with pytest.raises(ValueError, match=r"No int8 export .*quantize_model\(model, calibration"):
        loading.load_engine_model(model, precision="int8")
    exported = engines.quantize_model(model, photos[:8], calibration_size=6)
    first = {p.name for p in engine_cache.iterdir() if "int8" in p.name}
    assert len(first) == 1 and exported.precision == "int8"
    entry = json.loads((engine_cache / next(iter(first)) / cache.ENTRY_FILE).read_text())
    assert entry["key"]["calibration"]["images"] == 6 and entry["check"]["passed"]
    int8, mode = loading.load_engine_model(model, precision="int8")  # auto: the cached entry
    assert (int8.engine, int8.precision, mode) == ("openvino", "int8", "torch")
    pixels = np.stack([images_lib.load_image(p, (32, 32)) for p in photos[8:]])
    x = keras_dense.preprocess_input(pixels.astype("float32"), mode="torch")
    np.testing.assert_allclose(int8.predict_on_batch(x), model.predict_on_batch(x), atol=0.2)
    # other calibration images: another key, which replaces the first entry
    engines.quantize_model(model, photos[4:12], calibration_size=6)
    second = [p.name for p in engine_cache.iterdir() if "int8" in p.name]
    assert len(second) == 1 and second[0] not in first


def test_cli_predict_int8_without_an_entry_is_one_line(tmp_path, photos):
    weights = h5_fixtures.write_keras2_h5(_tiny_densenet(seed=5), tmp_path / "tiny.h5")
    env = {**os.environ, "KERAS_DENSE_CACHE": str(tmp_path / "cache")}
    predict = ["predict", str(photos[0]), "--model", "densenet121", "--weights", str(weights)]
    refused = run_cli(*predict, "--precision", "int8", env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("keras-dense: error: No int8 export of densenet121")
    assert f"keras-dense export densenet121 --weights {weights} --engine openvino " in (
        refused.stderr
    )
    assert "--precision int8 --calibration DIR" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_cli_export_int8_fills_the_engine_cache(tmp_path, engine_cache, photos, capsys):
    from keras_dense.cli import main

    weights = tmp_path / "lenet5.weights.h5"
    lenet = keras_dense.get_model("lenet5", weights=None)
    h5_fixtures.randomize(lenet, seed=0, logit_scale=1.0).save_weights(weights)
    export = ["export", "lenet5", "--weights", str(weights), "--engine", "openvino"]
    assert main([*export, "--precision", "int8"]) == 2
    assert "--precision int8 needs --calibration DIR|FILES" in capsys.readouterr().err
    assert main([*export, "--calibration", str(photos[0])]) == 2
    assert "apply to --precision int8 only" in capsys.readouterr().err
    folder = str(photos[0].parent)
    args = [*export, "--precision", "int8", "--calibration", folder, "--calibration-size", "8"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "is ready for openvino (int8)" in out and "on 8 held-out images" in out
    int8, _ = loading.load_engine_model("lenet5", str(weights), "tf", precision="int8")
    assert (int8.engine, int8.precision) == ("openvino", "int8")
    assert [p.name.split("-")[:3] for p in engine_cache.iterdir() if p.is_dir()].count(
        ["lenet5", "openvino", "int8"]
    ) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.integers(0, 7), max_size=5),
    kinds=st.lists(st.sampled_from(["jpeg", "cut", "text", "missing", "folder"]), max_size=5),
    size=st.one_of(st.none(), st.integers(-2, 6)),
)
def test_calibration_inputs_give_a_set_or_one_clear_error(tmp_path, photos, picks, kinds, size):
    folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    paths = []
    for i, kind in enumerate(kinds):
        source = photos[picks[i % len(picks)] if picks else 0].read_bytes()
        path = folder / f"{i}.jpg"
        if kind == "jpeg":
            path.write_bytes(source)
        elif kind == "cut":
            path.write_bytes(source[: len(source) // (i + 2)])
        elif kind == "text":
            path.write_text("not an image")
        elif kind == "folder":
            path = folder / f"sub{i}"
            path.mkdir()
        paths.append(path)
    try:
        calibration = quantize.calibration_set(paths, size)
    except ValueError as error:
        assert "\n" not in str(error)
        return
    assert calibration.identity["images"] == len(calibration.calibrate) >= 1
    assert not set(calibration.calibrate) & set(calibration.held_out)
    try:  # decoding them gives pixels or the one error naming the bad file
        quantize._pixels(calibration.calibrate, (32, 32))
    except ValueError as error:
        assert "\n" not in str(error)
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    """A tiny DenseNet trained 3 epochs on 300 real CIFAR-10 images (JPEG copy), with
    100 test images: a run whose predictions are not uniform."""
    import zipfile

    from cifar_samples import train_tiny

    from keras_dense.training.recipe import Recipe

    folder = tmp_path_factory.mktemp("cifar_run")
    for split, per_class in (("train", 30), ("test", 10)):
        archive = shared_path("cifar10", f"cifar10-jpg-{split}.zip")
        counts = {}
        with zipfile.ZipFile(archive) as opened:
            for name in opened.namelist():
                label = pathlib.PurePosixPath(name).parent.name
                if not name.endswith(".jpg") or counts.get(label, 0) >= per_class:
                    continue
                counts[label] = counts.get(label, 0) + 1
                target = folder / "data" / split / label / pathlib.PurePosixPath(name).name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(opened.read(name))
    recipe = Recipe(epochs=3, batch_size=32, lr=0.05, warmup_epochs=0.0, label_smoothing=0.0)
    train_tiny(folder / "data", folder / "run", recipe)
    return folder / "run"


def test_evaluate_on_every_engine_and_precision_agrees_with_keras_float32(
    cifar_run, engine_cache, capsys
):
    import keras

    from keras_dense.cli import main
    from keras_dense.training import data as data_lib
    from keras_dense.training import evaluation

    model = keras.saving.load_model(cifar_run / "best.keras", compile=False)
    (x_train, _), (x_test, _), _ = data_lib.load_data(cifar_run.parent / "data")
    exact = evaluation.predict_probabilities(model, x_test, 50)
    # engine, precision -> (largest probability difference, least top-1 agreement)
    bounds = {
        ("openvino", "float32"): (1e-4, 1.0),
        ("onnxruntime", "float32"): (1e-4, 1.0),
        ("keras", "bfloat16"): (5e-2, 0.9),
        ("openvino", "bfloat16"): (5e-2, 0.9),
        ("openvino", "int8"): (0.3, 0.8),
    }
    for (engine, precision), (largest, agreement) in bounds.items():
        runner, extra = evaluation.engine_model(model, engine, precision, x_train, 100)
        probabilities = evaluation.predict_probabilities(runner, x_test, 50)
        assert np.max(np.abs(probabilities - exact)) <= largest, (engine, precision)
        same = np.mean(probabilities.argmax(-1) == exact.argmax(-1))
        assert same >= agreement, (engine, precision, same)
        if precision == "int8":
            assert extra["int8_check"]["calibration"]["images"] == 100
            assert extra["int8_check"]["passed"]
    capsys.readouterr()
    args = ["evaluate", str(cifar_run), "--engine", "openvino", "--precision", "int8"]
    assert main([*args, "--calibration-size", "100"]) == 0
    out = capsys.readouterr().out
    assert "(openvino, int8, " in out and "int8: calibrated on 100 images" in out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    labels = data_lib.load_data(cifar_run.parent / "data")[1][1].argmax(-1)
    assert abs(accuracy - np.mean(exact.argmax(-1) == labels)) <= 0.05
