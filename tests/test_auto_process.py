"""`engine="auto"` within a process: images counted per model, the export made in a
background thread once it would have paid, the switch, and the constants measured here."""

import json
import logging

import h5_fixtures
import numpy as np
import pytest

import keras_dense
from keras_dense.inference import auto, cache, loading, runtimes

pytestmark = pytest.mark.skipif(
    not runtimes.installed("openvino"),
    reason="auto's runtime here is OpenVINO: pip install openvino",
)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(auto, "_CONSTANTS", {})
    monkeypatch.setattr(auto, "_NAMED", {})
    return tmp_path


def _tiny():
    record = keras_dense.model_record("densenet121")
    model = keras_dense.get_model("densenet121", weights=None, **record.tiny)
    return h5_fixtures.randomize(model, seed=1, logit_scale=1.0)


def _measured(model, export_seconds, keras, openvino):
    """Writes the machine's constants for `model` as a earlier process would have."""
    figures = {
        "export_seconds": export_seconds,
        "keras_float32_seconds_per_image": keras,
        "openvino_float32_seconds_per_image": openvino,
    }
    path = cache.cache_dir() / auto.CONSTANTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({auto.machine_key(): {model: figures}}))


def test_auto_switches_once_the_images_would_have_paid_for_the_export(fresh, caplog):
    model = _tiny()
    # 0.01 s saved per image, export 1 s: pays after 100 images, i.e. on the 4th call of 32
    _measured(model.name, 1.0, 0.011, 0.001)
    x = np.random.default_rng(0).uniform(0, 1, (32, 32, 32, 3)).astype("float32")
    engines_used = []
    with caplog.at_level(logging.DEBUG, logger="keras_dense.inference"):
        for call in range(8):
            chosen, _ = loading.load_engine_model(model, engine="auto", job_images=32)
            engines_used.append(getattr(chosen, "engine", "keras"))
            chosen.predict_on_batch(x)
            if call == 3:
                auto.wait()  # the background export (a test cannot race it)
    assert engines_used[:4] == ["keras"] * 4 and engines_used[4:] == ["openvino"] * 4
    log = "\n".join(r.getMessage() for r in caplog.records if r.getMessage().startswith("auto"))
    assert "96 images so far x 0.0100 s saved per image = 1.0 s <= export 1.0 s" in log
    assert (
        "128 images so far x 0.0100 s saved per image = 1.3 s > export 1.0 s (per image: "
        "both measured here; export: measured here): exporting for openvino" in log
    )
    assert "openvino (float32), its export is ready" in log
    stored = json.loads((cache.cache_dir() / auto.CONSTANTS_FILE).read_text())
    assert stored[auto.machine_key()][model.name]["export_seconds"] > 0  # measured anew
    # the runtime model gives the Keras model's outputs
    np.testing.assert_allclose(chosen.predict_on_batch(x), model.predict_on_batch(x), atol=1e-4)


def test_without_measured_constants_the_defaults_decide_and_are_said(fresh, caplog):
    model = _tiny()
    with caplog.at_level(logging.DEBUG, logger="keras_dense.inference"):
        chosen, _ = loading.load_engine_model(model, engine="auto", job_images=32)
    assert getattr(chosen, "engine", "keras") == "keras"
    assert "<= export 18.0 s (per image: the default; export: the default)" in caplog.text


def test_the_fastest_seconds_per_image_are_kept_per_machine_and_model(fresh):
    model = _tiny()
    auto.observe(model.name, "keras", "float32", 4, 0.4)
    auto.observe(model.name, "keras", "float32", 4, 0.8)  # slower: the fastest is kept
    auto.observe(model.name, "keras", "float32", 0, 0.8)  # nothing to learn
    export, saved, source = auto.constants(model.name, "float32", "openvino", "densenet")
    assert source == (
        "per image: keras measured here, openvino x0.70 (the default ratio); export: the default"
    )
    assert saved == pytest.approx(0.1 * 0.3) and export == 18.0
    auto.observe(model.name, "openvino", "float32", 4, 0.2, family="densenet")
    assert auto.constants("other", "float32", "openvino", "densenet")[2].startswith(
        "per image: the default"
    )  # no Keras figure for that model
    auto.observe("other", "keras", "float32", 1, 1.0)
    export, saved, source = auto.constants("other", "float32", "openvino", "densenet")
    assert saved == pytest.approx(0.5) and "the densenet family's ratio measured here" in source
    stored = json.loads((cache.cache_dir() / auto.CONSTANTS_FILE).read_text())
    assert stored[auto.machine_key()][model.name] == {
        "keras_float32_seconds_per_image": 0.1,
        "openvino_float32_seconds_per_image": 0.05,
    }
    assert stored[auto.machine_key()]["family:densenet"] == {"openvino_float32_time_ratio": 0.5}
    assert auto.constants(model.name, "float32", "openvino")[1] == pytest.approx(0.05)
