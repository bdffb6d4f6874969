"""`keras_dense.export`: every format agrees with Keras, and the check catches a wrong export.

For each family with published Keras weights (DenseNet, VGG, ResNet, Inception
v3) the record's tiny variant gets random weights, written in the published
Keras 2 layout and loaded back through `weights=PATH` (the published files
cannot be downloaded here; their layout is what matters to the loader); it is
then exported to every format whose converter installs here, each export
checked on the 16 shared ImageNet photographs at a tolerance of 1e-5. The
tiny variants have the families' layer types (dense concatenations, residual
additions, the inception branches, VGG's flatten-dense head), so they prove
the conversions the full models need at a fraction of the export time.
"""

import importlib.util
import json
import os
import subprocess
import sys

import h5_fixtures
import keras
import numpy as np
import pytest
from conftest import run_cli, shared_path

import keras_dense
from keras_dense.inference import check as check_lib
from keras_dense.inference import export as export_lib
from keras_dense.inference import runtimes

FAMILY_REPRESENTATIVES = ["densenet121", "vgg16", "resnet50", "inception_v3"]
FORMAT_SUFFIXES = {
    "onnx": "model.onnx",
    "openvino": "model.xml",
    "saved_model": "model_sm",
    "litert": "model.tflite",
}
# format -> a module that must be importable to produce and run it here (ONNX: the
# converter; OpenVINO, in the default install, runs it when ONNX Runtime is absent)
FORMAT_NEEDS = {
    "onnx": "onnx",
    "openvino": "openvino",
    "saved_model": "tensorflow",
    "litert": "tensorflow",
}

# preprocessing mode -> rough spread of its pixels, so random weights see unit-scale inputs
PIXEL_STD = {"caffe": 60.0, "torch": 1.0, "tf": 0.5}


def _installed(module):
    return importlib.util.find_spec(module) is not None


def _tiny_from_published_layout(name, tmp_path, seed=0):
    """The record's tiny variant, its random weights round-tripped through a Keras 2 .h5."""
    record = keras_dense.model_record(name)
    source = h5_fixtures.randomize(
        keras_dense.get_model(name, **record.tiny),
        seed=seed,
        logit_scale=1.0,
        input_std=PIXEL_STD[record.preprocess],
    )
    path = h5_fixtures.write_keras2_h5(source, tmp_path / f"{name}_tiny.h5")
    return keras_dense.get_model(name, weights=str(path), **record.tiny)


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_every_format_agrees_with_keras_on_the_shared_photos(name, tmp_path):
    photos = sorted(shared_path("images", "imagenet-samples").glob("*.JPEG"))
    model = _tiny_from_published_layout(name, tmp_path)
    formats = [f for f in export_lib.FORMATS if _installed(FORMAT_NEEDS[f])]
    assert {"onnx", "openvino"} <= set(formats)  # the default install
    for format in formats:
        path = tmp_path / FORMAT_SUFFIXES[format]
        from_onnx = tmp_path / "model.onnx" if format == "openvino" else None  # as the cache does
        result = keras_dense.export(
            model, path, format=format, images=photos, tolerance=1e-5, from_onnx=from_onnx
        )
        assert result.check.passed and result.check.max_probability_difference <= 1e-5
        assert result.check.top1_agreement == 1.0 and len(result.check.images) == 16
        report = json.loads(result.report_path.read_text())
        assert report["passed"] and report["format"] == format
        # the kept export, opened again, gives the Keras model's probabilities
        exported = runtimes.load_exported(path, format)
        x = keras_dense.preprocess_input(
            np.random.default_rng(1).integers(0, 256, (3,) + model.input_shape[1:]), mode="torch"
        )
        np.testing.assert_allclose(
            exported.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5, rtol=0
        )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def _tiny_densenet(tmp_path):
    return _tiny_from_published_layout("densenet121", tmp_path, seed=2)


def test_the_check_fails_on_a_wrong_export_and_nothing_is_left(tmp_path, monkeypatch):
    model = _tiny_densenet(tmp_path)
    wrong = keras.models.clone_model(model)
    h5_fixtures.randomize(wrong, seed=9, logit_scale=1.0)  # same graph, other weights
    wrong.predict_on_batch(np.zeros((1, 32, 32, 3)))
    real_writer = export_lib.WRITERS["onnx"]
    monkeypatch.setitem(export_lib.WRITERS, "onnx", lambda _, path: real_writer(wrong, path))
    target = tmp_path / "out" / "model.onnx"
    with pytest.raises(
        check_lib.ExportCheckError,
        match=r"does not match the Keras model: "
        r"check on 4 images with (onnxruntime|openvino) .* FAILED; nothing was written",
    ):
        keras_dense.export(model, target)
    assert list(target.parent.iterdir()) == []
    from keras_dense.cli import main

    assert main(["export", "lenet5", "--weights", "none", "--out", str(target)]) == 2
    assert list(target.parent.iterdir()) == []


def test_compare_outputs_counts_agreement_and_refuses_other_shapes():
    expected = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    actual = np.array([[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    difference, top1, top5 = check_lib.compare_outputs(expected, actual)
    assert difference == pytest.approx(0.5) and top1 == 0.5 and top5 == 1.0
    assert check_lib.compare_outputs(expected, actual * np.nan)[0] == float("inf")
    with pytest.raises(check_lib.ExportCheckError, match="shape"):
        check_lib.compare_outputs(expected, actual[:, :2])


def test_a_layer_onnx_cannot_express_is_named_with_the_format(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: keras.ops.erfinv(keras.ops.tanh(t) * 0.5), name="odd_layer")(
        x
    )
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(x))
    with pytest.raises(
        export_lib.ExportError,
        match=r"Layer 'odd_layer' \(Lambda\) of model .* cannot be converted to "
        r"the onnx format: the operation Erfinv",
    ):
        keras_dense.export(model, tmp_path / "odd.onnx", preprocess="tf")
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_and_formats_are_one_clear_sentence(tmp_path, capsys):
    model = _tiny_densenet(tmp_path)
    with pytest.raises(
        ValueError, match="format must be one of onnx, openvino, saved_model, litert; got 'tflite'"
    ):
        keras_dense.export(model, tmp_path / "m.tflite", format="tflite")
    with pytest.raises(
        ValueError,
        match=r"openvino export is written to a \.xml file \(its "
        r"weights go to the \.bin beside it\)",
    ):
        keras_dense.export(model, tmp_path / "m.onnx", format="openvino")
    from keras_dense.cli import main

    with pytest.raises(SystemExit) as exit_status:
        main(["export", "densenet121", "--format", "tflite", "--out", "m.tflite"])
    assert exit_status.value.code == 2
    assert (
        "invalid choice: 'tflite' (choose from 'onnx', 'openvino', 'saved_model', "
        "'litert')" in capsys.readouterr().err
    )


def test_cli_export_writes_the_file_and_its_report(tmp_path):
    photo = shared_path("images", "elephant.jpg")
    out = tmp_path / "lenet.onnx"
    result = run_cli(
        "export", "lenet5", "--weights", "none", "--out", str(out), "--check", str(photo)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "check on 1 images with " in result.stdout and "(float32)" in result.stdout
    assert out.is_file()
    report = json.loads((tmp_path / "lenet.onnx.check.json").read_text())
    assert report["images"] == [str(photo)] and report["passed"]


TORCH_EXPORT = r"""
import json, sys, keras, keras_dense
model = keras_dense.get_model("densenet121", **keras_dense.model_record("densenet121").tiny)
result = keras_dense.export(model, sys.argv[1], format="onnx", tolerance=1e-5)
print(json.dumps({"backend": keras.backend.backend(), "passed": result.check.passed,
                  "difference": result.check.max_probability_difference}))
"""


def test_onnx_export_from_the_pytorch_backend(tmp_path):
    if not _installed("torch"):
        pytest.skip("the torch backend is not installed")
    env = {**os.environ, "KERAS_BACKEND": "torch", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", TORCH_EXPORT, str(tmp_path / "t.onnx")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "torch" and report["passed"]
    assert report["difference"] <= 1e-5
