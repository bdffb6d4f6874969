"""Engines: `auto`'s choice, the engine cache across processes, reuse, folders, bad input."""

import json
import os
import time

import h5_fixtures
import numpy as np
import pytest
from conftest import run_cli, shared_path

import keras_dense
from keras_dense.inference import background, cache, engines, runtimes
from keras_dense.inference import export as export_lib
from keras_dense.inference import predict as predict_lib
from keras_dense.models import densenet

DEFAULT_RUNTIME = engines.RUNTIME_PREFERENCE["float32"][0]  # in the default install


@pytest.fixture
def engine_cache(tmp_path, monkeypatch):
    """A fresh engine cache folder for one test."""
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "engines"


@pytest.fixture
def tiny_model():
    model = densenet.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), name="densenet121")
    return h5_fixtures.randomize(model, seed=3, logit_scale=1.0)


def _pixels(count=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3)).astype("uint8")


def _probabilities(rows):
    return np.array([[p for _, _, p in row] for row in rows])


def test_auto_picks_the_engine_expected_to_finish_first(monkeypatch):
    monkeypatch.setattr(engines, "on_accelerator", lambda: False)
    monkeypatch.setattr(runtimes, "installed", lambda engine: True)
    monkeypatch.setattr(runtimes, "openvino_supports", lambda precision: True)
    monkeypatch.setattr(engines, "SECONDS_SAVED_PER_IMAGE", {"float32": -0.02, "bfloat16": 0.01})
    monkeypatch.setattr(engines, "EXPORT_SECONDS", 20.0)
    monkeypatch.setattr(engines, "KERAS_START_SECONDS", 8.0)
    choose = engines.choose_engine
    cached_openvino = lambda e: e == "openvino"  # noqa: E731
    assert choose("auto", "float32", 1) == "keras"  # an export would not pay
    assert choose("auto", "float32", 1, cached_openvino) == "openvino"  # skips the Keras start
    assert choose("auto", "float32", 399, cached_openvino) == "openvino"
    assert choose("auto", "float32", 401, cached_openvino) == "keras"  # 401 x 0.02 s > 8 s
    assert choose("auto", "float32", 1, cached_openvino, keras_ready=True) == "keras"
    assert choose("auto", "bfloat16", 2000) == "keras"  # 2000 x 0.01 s does not beat 20 s
    assert choose("auto", "bfloat16", 2001) == "openvino"
    assert choose("keras", "float32", 10**6) == "keras"
    monkeypatch.setattr(engines, "on_accelerator", lambda: True)
    assert choose("auto", "bfloat16", 10**6, cached=lambda e: True) == "keras"
    monkeypatch.setattr(engines, "on_accelerator", lambda: False)
    monkeypatch.setattr(runtimes, "installed", lambda engine: False)
    assert choose("auto", "bfloat16", 10**6, cached=lambda e: True) == "keras"


def test_an_engine_not_installed_is_one_line_with_the_pip_command(monkeypatch, tiny_model):
    monkeypatch.setattr(runtimes, "installed", lambda engine: False)
    with pytest.raises(
        runtimes.EngineNotInstalledError,
        match=r"^The openvino engine needs openvino, which is not installed; "
        r"install it with: pip install openvino$",
    ):
        keras_dense.predict(_pixels(), model=tiny_model, engine="openvino")
    with pytest.raises(
        ValueError, match="engine must be one of auto, keras, onnxruntime, openvino; got 'tensorrt'"
    ):
        keras_dense.predict(_pixels(), model=tiny_model, engine="tensorrt")


def test_onnxruntime_refuses_bfloat16_in_one_sentence(tiny_model):
    with pytest.raises(ValueError, match="The onnxruntime engine does not compute in bfloat16"):
        keras_dense.predict(_pixels(), model=tiny_model, engine="onnxruntime", precision="bfloat16")


def test_repeated_predict_on_a_built_model_exports_once_and_follows_training(
    engine_cache, tiny_model, monkeypatch
):
    exports = []
    real_write = export_lib.write_export
    monkeypatch.setattr(
        export_lib, "write_export", lambda *args: exports.append(args[2]) or real_write(*args)
    )
    x = _pixels()
    expected = keras_dense.predict(x, model=tiny_model, engine="keras")
    for _ in range(3):
        ours = keras_dense.predict(x, model=tiny_model, engine=DEFAULT_RUNTIME)
        assert [r[0][0] for r in ours] == [r[0][0] for r in expected]
        np.testing.assert_allclose(_probabilities(ours), _probabilities(expected), atol=1e-5)
    assert len(exports) == 1
    h5_fixtures.randomize(tiny_model, seed=4, logit_scale=1.0)  # as training would
    retrained = keras_dense.predict(x, model=tiny_model, engine=DEFAULT_RUNTIME)
    np.testing.assert_allclose(
        _probabilities(retrained),
        _probabilities(keras_dense.predict(x, model=tiny_model, engine="keras")),
        atol=1e-5,
    )
    assert len(exports) == 2
    assert len(list(engine_cache.iterdir())) == 1  # the retrained export replaced the first


def test_a_damaged_or_unreadable_entry_is_rebuilt_not_trusted(engine_cache, tiny_model, caplog):
    x = _pixels()
    expected = _probabilities(keras_dense.predict(x, model=tiny_model, engine="keras"))
    keras_dense.predict(x, model=tiny_model, engine=DEFAULT_RUNTIME)
    key = engines.model_key(tiny_model, DEFAULT_RUNTIME, "float32")
    weights_file = max(cache.entry_dir(key).iterdir(), key=lambda f: f.stat().st_size)
    with open(weights_file, "r+b") as handle:  # damage the weights inside
        handle.seek(-1000, os.SEEK_END)
        handle.write(b"\0" * 100)
    engines._OPENED.clear()  # as in a new process
    with caplog.at_level("WARNING", logger="keras_dense.inference"):
        rebuilt = keras_dense.predict(x, model=tiny_model, engine=DEFAULT_RUNTIME)
    assert (
        f"is not usable: {weights_file.name} does not have its recorded sha256; it is "
        "rebuilt" in caplog.text
    )
    assert f"exporting densenet121 for {DEFAULT_RUNTIME}" in caplog.text
    np.testing.assert_allclose(_probabilities(rebuilt), expected, atol=1e-5)
    (cache.entry_dir(key) / "entry.json").write_text("{")
    assert cache.lookup(key) is None and not cache.entry_dir(key).exists()


def test_predict_files_decodes_ahead_and_keeps_order_and_errors(tmp_path, tiny_model):
    from PIL import Image

    pixels = _pixels(7, seed=5)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
    (tmp_path / "3.png").write_text("not an image")
    results = list(
        predict_lib.predict_files([tmp_path], model=tiny_model, batch_size=2, engine="keras")
    )
    assert [os.path.basename(r.path) for r in results] == [f"{i}.png" for i in range(7)]
    assert results[3].error and "3.png" in results[3].error
    good = [i for i in range(7) if i != 3]
    expected = keras_dense.predict(pixels[good], model=tiny_model, engine="keras")
    for row, i in zip(expected, good):
        assert [c for c, _, _ in results[i].predictions] == [c for c, _, _ in row]
        np.testing.assert_allclose(
            [p for *_, p in results[i].predictions], [p for *_, p in row], atol=1e-5
        )


def test_cli_exports_in_the_background_and_later_processes_reuse_it(tmp_path):
    """The README's main command: Keras on the first run, the cached runtime after."""
    elephant = shared_path("images", "elephant.jpg")
    model = densenet.DenseNet121(weights=None)
    h5_fixtures.randomize(model, seed=0, logit_scale=0.5)
    weights = h5_fixtures.write_keras2_h5(model, tmp_path / "densenet121_fixture.h5")
    engine_cache = tmp_path / "cache" / "engines"
    env = {**os.environ, "KERAS_DENSE_CACHE": str(tmp_path / "cache"), background.SWITCH: "1"}

    def predict(*extra):
        result = run_cli(
            "predict",
            str(elephant),
            "--model",
            "densenet121",
            "--weights",
            str(weights),
            "--json",
            *extra,
            env=env,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        return report["engine"], report["results"][0]["predictions"], result.stderr

    engine, expected, log = predict()
    assert engine == "keras" and "engine: keras (float32)" in log
    assert f"exporting densenet121 for {DEFAULT_RUNTIME} in the background" in log
    lock = engine_cache / f".densenet121-{DEFAULT_RUNTIME}-float32.lock"
    deadline = time.time() + 300
    while lock.exists() and time.time() < deadline:
        time.sleep(1)
    assert len([p for p in engine_cache.iterdir() if not p.name.startswith(".")]) == 1
    engine, predictions, log = predict()  # a new process finds the export
    assert engine == DEFAULT_RUNTIME and f"engine: {DEFAULT_RUNTIME} (float32)" in log
    assert "exporting" not in log
    assert [p["wnid"] for p in predictions] == [p["wnid"] for p in expected]
    np.testing.assert_allclose(
        [p["probability"] for p in predictions], [p["probability"] for p in expected], atol=1e-5
    )
    # Grad-CAM needs the Keras model even when predict would open the cached export
    explained = run_cli(
        "explain",
        str(elephant),
        "--model",
        "densenet121",
        "--weights",
        str(weights),
        "--out",
        str(tmp_path / "cam.png"),
        env=env,
    )
    assert explained.returncode == 0, explained.stderr[-2000:]
    assert (tmp_path / "cam.png").is_file()
