"""Published weight files of the records, offline-first resolution, the all-or-nothing h5 loader."""

import importlib
import os
import pathlib

import h5_fixtures
import h5py
import keras
import numpy as np
import pytest

import keras_dense
from keras_dense.models import densenet, pretrained
from keras_dense.weights import (
    WeightsFileError,
    WeightsHashError,
    WeightsMismatchError,
    WeightsUnavailableError,
    h5,
    resolve,
)

TINY = dict(blocks=[1, 1, 1, 1], input_shape=(32, 32, 3))


def keras_tiny(**kwargs):
    from keras.src.applications import densenet as keras_densenet

    return keras_densenet.DenseNet(weights=None, **{**TINY, "classes": 10, **kwargs})


def ours_tiny(**kwargs):
    return densenet.DenseNet(**{**TINY, "classes": 10, **kwargs})


def snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def assert_unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    assert all(np.array_equal(a, b) for a, b in zip(after, before))


@pytest.fixture(scope="module")
def tiny_reference():
    model = keras_tiny()
    h5_fixtures.randomize(model, seed=1, logit_scale=1.0)
    return model


@pytest.fixture
def inputs():
    return np.random.default_rng(0).uniform(-2, 2, (2, 32, 32, 3)).astype("float32")


# --- the published files of the model records ---------------------------------------

KERAS_SOURCES = {
    "densenet": "keras.src.applications.densenet",
    "vgg16": "keras.src.applications.vgg16",
    "vgg19": "keras.src.applications.vgg19",
    "resnet": "keras.src.applications.resnet",
    "inception_v3": "keras.src.applications.inception_v3",
}
KERAS_FILES = [
    (record, include_top, weights_file)
    for record in keras_dense.models.weights_records()
    if record.tag == "keras_imagenet"
    for include_top, weights_file in record.files()
]


@pytest.mark.parametrize(
    "record, include_top, weights_file", KERAS_FILES, ids=lambda v: getattr(v, "file_name", "")
)
def test_keras_weight_files_are_exactly_keras(record, include_top, weights_file):
    folder = weights_file.url.split("/")[-2]
    module = importlib.import_module(KERAS_SOURCES[folder])
    text = open(module.__file__).read()
    assert weights_file.hash_algorithm == "md5"
    assert f'"{weights_file.file_hash}"' in text
    urls = {v for k, v in vars(module).items() if isinstance(v, str) and v.startswith("https")}
    if folder == "resnet":
        assert weights_file.url == module.BASE_WEIGHTS_PATH + weights_file.file_name
        assert (
            module.WEIGHTS_HASHES[record.model][0 if include_top else 1] == weights_file.file_hash
        )
    else:
        assert weights_file.url in urls


def test_every_keras_published_model_has_both_files():
    assert [r.model for r in keras_dense.models.weights_records() if r.tag == "keras_imagenet"] == [
        "densenet121",
        "densenet169",
        "densenet201",
        "vgg16",
        "vgg19",
        "resnet50",
        "resnet101",
        "resnet152",
        "inception_v3",
    ]
    assert len(KERAS_FILES) == 18
    assert len({f.file_hash for _, _, f in KERAS_FILES}) == 18


def test_unknown_weight_tag_names_the_tags_before_building():
    with pytest.raises(
        ValueError,
        match="densenet121 cannot load weights='nope': densenet121's tags are keras_imagenet",
    ):
        keras_dense.get_model("densenet121", weights="nope")
    with pytest.raises(
        ValueError, match="lenet5 cannot load weights='imagenet': lenet5 has no published weights"
    ):
        keras_dense.get_model("lenet5", weights="imagenet")
    with pytest.raises(ValueError, match="Weights file '.*missing.h5' does not exist"):
        keras_dense.get_model("densenet121", weights="missing.h5")


def test_changed_architecture_is_refused_before_building(monkeypatch):
    built = []
    monkeypatch.setattr(densenet.DenseNetConfig, "body", lambda self, x: built.append(self) or x)
    with pytest.raises(
        ValueError,
        match="densenet121.keras_imagenet fits only the published "
        "architecture, and growth_rate was changed",
    ):
        keras_dense.get_model("densenet121", weights="imagenet", growth_rate=4)
    assert not built  # refused before any layer was made


# --- resolution -----------------------------------------------------------------------


@pytest.fixture
def fake_file(tmp_path, monkeypatch):
    """A published file whose bytes are a small payload we write; cwd is an empty folder."""
    payload = b"published weights bytes" * 1000
    import hashlib

    weights_file = keras_dense.models.WeightsFile(
        "fake_weights.h5", "http://127.0.0.1:9/fake_weights.h5", hashlib.md5(payload).hexdigest()
    )
    monkeypatch.delenv("KERAS_DENSE_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(resolve, "_CHECKOUT", tmp_path / "no_checkout")
    return weights_file, payload


def test_search_order_env_then_cwd_weights_then_keras_cache(fake_file, tmp_path, monkeypatch):
    weights_file, payload = fake_file
    env_dir = tmp_path / "env"
    project = tmp_path / "work" / "weights"
    cache = tmp_path / "keras_home" / "models"
    for folder in (env_dir, project, cache):
        folder.mkdir(parents=True)
        (folder / weights_file.file_name).write_bytes(payload)
    monkeypatch.setenv("KERAS_DENSE_WEIGHTS", str(env_dir))
    assert resolve.resolve(weights_file) == env_dir / weights_file.file_name
    (env_dir / weights_file.file_name).unlink()
    assert resolve.resolve(weights_file) == project / weights_file.file_name
    (project / weights_file.file_name).unlink()
    assert resolve.resolve(weights_file) == cache / weights_file.file_name
    assert resolve.search_dirs() == [env_dir, project, cache]


def test_local_file_with_wrong_hash_is_refused(fake_file, tmp_path):
    weights_file, _ = fake_file
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    (cache / weights_file.file_name).write_bytes(b"something else")
    with pytest.raises(
        WeightsHashError, match=f"published fake_weights.h5 has {weights_file.file_hash}"
    ):
        resolve.resolve(weights_file)


def test_offline_download_fails_fast_naming_file_url_hash_and_folders(fake_file, tmp_path):
    import time

    weights_file, _ = fake_file
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as error:
        resolve.resolve(weights_file)  # port 9 on localhost: connection refused at once
    assert time.monotonic() - start < 10
    message = str(error.value)
    for part in (
        weights_file.file_name,
        weights_file.url,
        weights_file.file_hash,
        str(tmp_path / "work" / "weights"),
        str(tmp_path / "keras_home" / "models"),
    ):
        assert part in message
    assert not list((tmp_path / "keras_home").rglob("*.part*"))


class _Server:
    """A loopback HTTP server answering every GET with `body` (or stalling)."""

    def __init__(self, body, stall=False):
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if outer.stall:
                    outer.release.wait(10)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.body, self.stall, self.release = body, stall, threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    "served, error",
    [("payload", None), ("other", WeightsHashError), ("stall", WeightsUnavailableError)],
)
def test_download_is_verified_and_leaves_nothing_behind_on_failure(
    fake_file, tmp_path, served, error
):
    import dataclasses
    import socket

    weights_file, payload = fake_file
    server = _Server(b"tampered" if served == "other" else payload, stall=served == "stall")
    try:
        served_file = dataclasses.replace(weights_file, url=server.url + weights_file.file_name)
        cache = tmp_path / "keras_home" / "models"
        if error is None:
            path = resolve.download_file(served_file, timeout=2)
            assert path == cache / weights_file.file_name and path.read_bytes() == payload
        else:
            with pytest.raises(error):
                resolve.download_file(served_file, timeout=2)
            assert not cache.exists() or list(cache.iterdir()) == []
        assert socket.getdefaulttimeout() is None  # no process-wide timeout was set
    finally:
        server.close()


def test_wheel_install_searches_the_working_folder(tmp_path):
    """A non-editable install has no checkout beside it: `weights/` of the working folder counts."""
    import subprocess
    import sys

    repo = pathlib.Path(__file__).resolve().parents[1]
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(repo),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("keras_dense-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"
    (work / "weights").mkdir(parents=True)
    code = (
        "import keras_dense.weights.resolve as r, keras_dense; "
        "print(keras_dense.__file__); print(*r.search_dirs(), sep='\\n')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(target), "KERAS_HOME": str(tmp_path)},
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith(str(target))  # the installed copy, not the checkout
    assert out[1:] == [str(work / "weights"), str(tmp_path / "models")]


# --- loading: equivalence with keras.applications ------------------------------------


@pytest.mark.parametrize("naming", h5_fixtures.NAMING)
def test_published_layout_loads_like_keras(naming, tiny_reference, inputs, tmp_path):
    path = h5_fixtures.write_keras2_h5(tiny_reference, tmp_path / "w.h5", naming)
    with h5py.File(path) as handle:  # the layout really is the published one
        assert "layer_names" in handle.attrs
        if naming == "keras2-slash":
            assert "conv1/conv/kernel:0" in handle["conv1"]["conv"]
    theirs = keras_tiny()
    theirs.load_weights(path)
    ours = ours_tiny(weights=str(path))
    np.testing.assert_allclose(
        ours.predict_on_batch(inputs), theirs.predict_on_batch(inputs), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        ours.predict_on_batch(inputs), tiny_reference.predict_on_batch(inputs), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("naming", h5_fixtures.NAMING)
def test_notop_file_loads_by_name_into_a_model_with_its_own_head(naming, tmp_path, inputs):
    base = keras_tiny(include_top=False)
    h5_fixtures.randomize(base, seed=2)
    path = h5_fixtures.write_keras2_h5(base, tmp_path / "notop.h5", naming)
    ours_base = ours_tiny(include_top=False, pooling="avg")
    model = keras.Model(ours_base.input, keras.layers.Dense(3, name="head")(ours_base.output))
    report = h5.load_weights(model, path)
    assert report.mode == "name" and report.skipped == ("head",)
    assert len(report.loaded) == len([layer for layer in base.layers if layer.weights])
    features = keras.Model(model.input, model.get_layer("avg_pool").output)
    expected = keras.layers.GlobalAveragePooling2D()(base(inputs))
    np.testing.assert_allclose(features.predict_on_batch(inputs), expected, atol=1e-5)


def test_keras3_weights_file_loads(tiny_reference, tmp_path, inputs):
    source = ours_tiny()
    source.set_weights(tiny_reference.get_weights())
    path = tmp_path / "model.weights.h5"
    source.save_weights(path)
    target = ours_tiny()
    report = h5.load_weights(target, path)
    assert report.mode == "name" and not report.skipped
    np.testing.assert_allclose(
        target.predict_on_batch(inputs), tiny_reference.predict_on_batch(inputs), atol=1e-6
    )


def test_keras3_file_of_a_nested_model_is_refused_not_half_loaded(tmp_path):
    import keras

    inner = ours_tiny()
    inputs = keras.Input(inner.input_shape[1:])
    wrapper = keras.Model(inputs, inner(inputs))
    path = tmp_path / "nested.weights.h5"
    wrapper.save_weights(path)
    check_refused(path, h5.WeightsFileError, "is a nested model")


# --- loading: bad files, each with its own error, model unchanged --------------------


@pytest.fixture
def good_file(tiny_reference, tmp_path):
    return h5_fixtures.write_keras2_h5(tiny_reference, tmp_path / "good.h5")


def check_refused(path, error_type, match, by_name=None, classes=10):
    model = ours_tiny(classes=classes)
    before = snapshot(model)
    with pytest.raises(error_type, match=match):
        h5.load_weights(model, path, by_name=by_name)
    assert_unchanged(model, before)


def test_non_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("these are not weights\n" * 100)
    check_refused(path, WeightsFileError, "is not an HDF5 file")


def test_truncated_file_is_refused(good_file, tmp_path):
    data = good_file.read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    check_refused(path, WeightsFileError, "is truncated")


def test_damaged_file_is_refused(good_file, tmp_path):
    data = bytearray(good_file.read_bytes())
    data[100:1100] = b"\xff" * 1000  # the object headers after the superblock
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(data))
    check_refused(path, WeightsFileError, "damaged|not a Keras weights file")


def test_published_name_with_wrong_hash_is_refused(good_file, tmp_path):
    record = keras_dense.models.weights_record("densenet121.keras_imagenet")
    path = tmp_path / record.file.file_name
    path.write_bytes(good_file.read_bytes())
    model = densenet.DenseNet121(weights=None)
    before = snapshot(model)
    with pytest.raises(WeightsHashError, match="9d60b8095a5708f2dcce2bca79d332c7"):
        pretrained.load_into(model, path)
    assert_unchanged(model, before)
    with pytest.raises(WeightsHashError, match="9d60b8095a5708f2dcce2bca79d332c7"):
        densenet.DenseNet121(weights=str(path))


def test_hdf5_without_keras_layout_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.zeros(3)
    check_refused(path, WeightsFileError, "not a Keras weights file")


def test_wrong_architecture_is_refused(tmp_path):
    other = keras_tiny(blocks=[1, 2, 1, 1])  # one more conv block: more layers
    path = h5_fixtures.write_keras2_h5(other, tmp_path / "other.h5")
    check_refused(
        path, WeightsMismatchError, "has 26 layers with weights but .* has 30", by_name=False
    )
    check_refused(
        path,
        WeightsMismatchError,
        r"Layer 'pool3_bn' weight 'gamma' has shape "
        r"\(80,\) but the file's layer 'pool3_bn' has \(112,\)",
    )


def test_wrong_class_count_is_refused(good_file):
    check_refused(
        good_file,
        WeightsMismatchError,
        r"Layer 'predictions' weight 'kernel' has shape \(68, 5\) but the file's "
        r"layer 'predictions' has \(68, 10\); the class counts differ",
        classes=5,
    )


def test_failure_during_assignment_restores_the_weights(good_file, monkeypatch):
    model = ours_tiny()
    before = snapshot(model)

    by_order = h5._pairs_by_order

    def failing_pairs(model_, saved, path):  # the last layer's arrays cannot be assigned
        pairs, skipped = by_order(model_, saved, path)
        bad_saved = h5.SavedLayer(pairs[-1][1].name, (None,) * len(pairs[-1][1].arrays))
        return pairs[:-1] + [(pairs[-1][0], bad_saved)], skipped

    monkeypatch.setattr(h5, "_check_pair", lambda layer, saved: None)
    monkeypatch.setattr(h5, "_pairs_by_order", failing_pairs)
    with pytest.raises(AttributeError):
        h5.load_weights(model, good_file, by_name=False)
    assert_unchanged(model, before)
