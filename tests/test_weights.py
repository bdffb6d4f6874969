"""Published-weights catalog, offline-first resolution and the all-or-nothing h5 loader."""

import importlib
import os

import h5py
import keras
import numpy as np
import pytest

import h5_fixtures
from keras_dense import densenet
from keras_dense.weights import (
    WeightsFileError,
    WeightsHashError,
    WeightsMismatchError,
    WeightsUnavailableError,
    catalog,
    h5,
    load_model_weights,
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


# --- catalog --------------------------------------------------------------------------

KERAS_SOURCES = {
    "densenet": "keras.src.applications.densenet",
    "vgg16": "keras.src.applications.vgg16",
    "vgg19": "keras.src.applications.vgg19",
    "resnet": "keras.src.applications.resnet",
    "inception_v3": "keras.src.applications.inception_v3",
}


@pytest.mark.parametrize("row", catalog.WEIGHTS_FILES, ids=lambda r: r.file_name)
def test_catalog_rows_are_exactly_keras(row):
    folder = row.url.split("/")[-2]
    source = importlib.import_module(KERAS_SOURCES[folder]).__file__
    text = open(source).read()
    assert f'"{row.md5}"' in text
    assert row.file_name in text or "_weights_tf_dim_ordering_tf_kernels" in text
    module = importlib.import_module(KERAS_SOURCES[folder])
    urls = {v for k, v in vars(module).items() if isinstance(v, str) and v.startswith("https")}
    if folder == "resnet":
        assert row.url == module.BASE_WEIGHTS_PATH + row.file_name
        assert module.WEIGHTS_HASHES[row.key][0 if row.include_top else 1] == row.md5
    else:
        assert row.url in urls


def test_catalog_has_every_published_model_with_and_without_top():
    assert catalog.keys() == ["densenet121", "densenet169", "densenet201", "vgg16", "vgg19",
                              "resnet50", "resnet101", "resnet152", "inception_v3"]
    assert len(catalog.WEIGHTS_FILES) == 18
    assert len({row.md5 for row in catalog.WEIGHTS_FILES}) == 18


def test_catalog_params_match_registered_models():
    import keras_dense

    for name in keras_dense.list_models():
        entry = keras_dense.model_entry(name)
        if entry.weights:
            assert catalog.find(entry.weights, include_top=True).params == entry.params


def test_unknown_key_is_refused():
    with pytest.raises(ValueError, match="No published ImageNet weights are known for 'nope'"):
        catalog.find("nope")


def test_imagenet_for_a_model_without_published_weights_is_refused():
    with pytest.raises(ValueError, match="No ImageNet weights are published for model"):
        load_model_weights(ours_tiny(), "imagenet", weights_key=None)


# --- resolution -----------------------------------------------------------------------

@pytest.fixture
def fake_row(tmp_path, monkeypatch):
    """A catalog row whose 'published' bytes are a small file we write."""
    payload = b"published weights bytes"
    import hashlib

    row = catalog.WeightsFile("fake", True, "fake_weights.h5", "http://127.0.0.1:9/fake_weights.h5",
                              hashlib.md5(payload).hexdigest(), 1)
    for name in ("KERAS_DENSE_WEIGHTS", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(resolve, "PROJECT_WEIGHTS_DIR", tmp_path / "project_weights")
    return row, payload


def test_search_order_env_then_project_then_keras_cache(fake_row, tmp_path, monkeypatch):
    row, payload = fake_row
    env_dir, project, cache = tmp_path / "env", tmp_path / "project_weights", tmp_path / "keras_home" / "models"
    for folder in (env_dir, project, cache):
        folder.mkdir(parents=True)
        (folder / row.file_name).write_bytes(payload)
    monkeypatch.setenv("KERAS_DENSE_WEIGHTS", str(env_dir))
    assert resolve.resolve(row) == env_dir / row.file_name
    (env_dir / row.file_name).unlink()
    assert resolve.resolve(row) == project / row.file_name
    (project / row.file_name).unlink()
    assert resolve.resolve(row) == cache / row.file_name
    assert resolve.search_dirs() == [env_dir, project, cache]


def test_local_file_with_wrong_md5_is_refused(fake_row, tmp_path):
    row, _ = fake_row
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    (cache / row.file_name).write_bytes(b"something else")
    with pytest.raises(WeightsHashError, match=f"published fake_weights.h5 has md5 {row.md5}"):
        resolve.resolve(row)


def test_offline_download_fails_fast_naming_file_url_md5_and_folders(fake_row, tmp_path):
    import time

    row, _ = fake_row
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as error:
        resolve.resolve(row)  # port 9 on localhost: connection refused at once
    assert time.monotonic() - start < 10
    message = str(error.value)
    for part in (row.file_name, row.url, row.md5, str(tmp_path / "project_weights"),
                 str(tmp_path / "keras_home" / "models")):
        assert part in message
    assert not list((tmp_path / "keras_home").rglob("*.part*"))


def test_download_goes_to_a_temporary_name_then_is_renamed(fake_row, tmp_path, monkeypatch):
    row, payload = fake_row
    seen = {}

    def fake_get_file(fname, origin, file_hash, hash_algorithm, cache_dir, cache_subdir):
        seen["fname"] = fname
        path = os.path.join(cache_dir, cache_subdir, fname)
        with open(path, "wb") as handle:
            handle.write(payload)
        return path

    monkeypatch.setattr(resolve, "_probe", lambda url: None)
    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    path = resolve.resolve(row)
    assert path == tmp_path / "keras_home" / "models" / row.file_name
    assert seen["fname"] != row.file_name and seen["fname"].startswith(row.file_name)
    assert path.read_bytes() == payload
    assert os.listdir(path.parent) == [row.file_name]


def test_failed_download_leaves_no_partial_file(fake_row, tmp_path, monkeypatch):
    row, _ = fake_row

    def broken_get_file(fname, origin, file_hash, hash_algorithm, cache_dir, cache_subdir):
        with open(os.path.join(cache_dir, cache_subdir, fname), "wb") as handle:
            handle.write(b"half")
        raise Exception("connection reset")

    monkeypatch.setattr(resolve, "_probe", lambda url: None)
    monkeypatch.setattr(keras.utils, "get_file", broken_get_file)
    with pytest.raises(WeightsUnavailableError, match="connection reset"):
        resolve.resolve(row)
    assert os.listdir(tmp_path / "keras_home" / "models") == []


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
    np.testing.assert_allclose(ours.predict_on_batch(inputs), theirs.predict_on_batch(inputs),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.predict_on_batch(inputs),
                               tiny_reference.predict_on_batch(inputs), rtol=0, atol=1e-6)


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
    np.testing.assert_allclose(target.predict_on_batch(inputs),
                               tiny_reference.predict_on_batch(inputs), atol=1e-6)


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


def test_published_name_with_wrong_md5_is_refused(good_file, tmp_path):
    path = tmp_path / catalog.find("densenet121").file_name
    path.write_bytes(good_file.read_bytes())
    model = densenet.DenseNet121(weights=None)
    before = snapshot(model)
    with pytest.raises(WeightsHashError, match="9d60b8095a5708f2dcce2bca79d332c7"):
        load_model_weights(model, str(path), weights_key="densenet121")
    assert_unchanged(model, before)


def test_hdf5_without_keras_layout_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.zeros(3)
    check_refused(path, WeightsFileError, "not a Keras weights file")


def test_wrong_architecture_is_refused(tmp_path):
    other = keras_tiny(blocks=[1, 2, 1, 1])  # one more conv block: more layers
    path = h5_fixtures.write_keras2_h5(other, tmp_path / "other.h5")
    check_refused(path, WeightsMismatchError, "has 26 layers with weights but .* has 30",
                  by_name=False)
    check_refused(path, WeightsMismatchError, r"Layer 'pool3_bn' weight 'gamma' has shape "
                  r"\(80,\) but the file's layer 'pool3_bn' has \(112,\)")


def test_wrong_class_count_is_refused(good_file):
    check_refused(good_file, WeightsMismatchError,
                  r"Layer 'predictions' weight 'kernel' has shape \(68, 5\) but the file's "
                  r"layer 'predictions' has \(68, 10\); the class counts differ", classes=5)


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
