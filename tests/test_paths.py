"""One cache layout: `$KERAS_DENSE_CACHE` (else `$KERAS_HOME/keras_dense`), a folder per kind,
and every module that caches writes there."""

import pathlib
import re

import pytest
from cifar_samples import write_cifar_png_tree

# the stand-in torchvision file of test_torchvision_weights (fixtures used by name)
from test_torchvision_weights import (  # noqa: F401
    PUBLISHED,
    stand_in,
    tiny_reference,
    torchvision,
)

import keras_dense
from keras_dense import _paths
from keras_dense.datasets import cifar10
from keras_dense.inference import cache
from keras_dense.weights import converted, resolve

PACKAGE = pathlib.Path(keras_dense.__file__).parent


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("KERAS_DENSE_CACHE", "KERAS_HOME", "KERAS_DENSE_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_each_kind_is_a_folder_under_keras_dense_cache(clean_env, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(clean_env / "cache"))
    assert _paths.cache_root() == clean_env / "cache"
    for kind in _paths.CACHE_KINDS:
        assert _paths.cache_dir(kind) == clean_env / "cache" / kind
    assert _paths.CACHE_KINDS == ("engines", "converted", "cifar10")


def test_the_default_root_is_keras_home_keras_dense(clean_env, monkeypatch):
    home = clean_env / "home"
    assert _paths.keras_home() == home / ".keras"
    assert _paths.cache_dir("engines") == home / ".keras" / "keras_dense" / "engines"
    monkeypatch.setenv("KERAS_HOME", str(clean_env / "kh"))
    assert _paths.keras_home() == clean_env / "kh"
    for kind in _paths.CACHE_KINDS:
        assert _paths.cache_dir(kind) == clean_env / "kh" / "keras_dense" / kind
    monkeypatch.setenv("KERAS_DENSE_CACHE", "~/elsewhere")  # expanded, and it wins
    assert _paths.cache_dir("cifar10") == clean_env / "home" / "elsewhere" / "cifar10"


def test_an_unknown_kind_is_refused():
    with pytest.raises(
        ValueError, match="kind must be one of engines, converted, cifar10; got 'weights'"
    ):
        _paths.cache_dir("weights")


def test_the_weights_search_folders_are_not_the_cache(clean_env, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(clean_env / "kh"))
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(clean_env / "cache"))
    assert resolve.keras_cache_dir() == clean_env / "kh" / "models"
    assert resolve.keras_cache_dir() in resolve.search_dirs()
    assert not any(clean_env / "cache" in [d, *d.parents] for d in resolve.search_dirs())


def test_every_caching_module_asks_paths(clean_env, monkeypatch):
    root = clean_env / "cache"
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(root))
    assert cache.cache_dir() == root / "engines"
    assert converted.converted_dir() == root / "converted"
    assert cifar10.default_cache_dir() == root / "cifar10"


def test_no_other_module_reads_the_cache_variables():
    read = re.compile(r"environ(\.get\(|\[)\s*[\"'](KERAS_DENSE_CACHE|KERAS_HOME)[\"']")
    readers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if read.search(path.read_text(encoding="utf8"))
    ]
    assert readers == ["_paths.py"]


def test_the_engine_and_cifar_caches_land_under_keras_dense_cache(clean_env, monkeypatch):
    root = clean_env / "cache"
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(root))
    key = cache.entry_key(
        "tiny", {"source": "test", "hash": "sha256:0"}, "onnxruntime", "float32", "architecture"
    )

    def write(path):
        path.write_bytes(b"an export")
        return {"check": {"passed": True}}

    path = cache.store(key, write)
    assert path.parent.parent == root / "engines"
    cifar10.load(write_cifar_png_tree(clean_env / "cifar"))
    assert len(list((root / "cifar10").glob("cifar10-*.npz"))) == 1
    assert sorted(p.name for p in root.iterdir()) == ["cifar10", "engines"]


def test_converted_weights_land_under_keras_dense_cache(stand_in, tmp_path):  # noqa: F811
    keras_dense.get_model("densenet161", weights="tv_imagenet")
    root = tmp_path / "KERAS_DENSE_CACHE"  # as stand_in sets it
    assert (root / "converted" / f"{PUBLISHED}.weights.h5").is_file()
    assert [p.name for p in root.iterdir()] == ["converted"]
