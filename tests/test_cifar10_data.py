"""CIFAR-10 loading from every supported layout, built small here in tmp folders."""

import io
import os
import pickle
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from keras_dense.datasets import cifar10
from keras_dense.datasets.cifar10 import CLASS_NAMES, DataSourceError

PER_BATCH = 4  # images in each of the 5 training batches
TEST_IMAGES = 6


def _official_arrays(seed=0):
    """Random images and labels split into the official 5 + 1 batches."""
    rng = np.random.default_rng(seed)
    total = 5 * PER_BATCH + TEST_IMAGES
    images = rng.integers(0, 256, size=(total, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=total)
    return images, labels


def _batches(images, labels):
    bounds = [i * PER_BATCH for i in range(6)] + [len(images)]
    return [(images[a:b], labels[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _python_batch(images, labels):
    # The official layout: rows of 3072 bytes, R plane then G then B.
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return pickle.dumps(
        {
            b"batch_label": b"batch",
            b"labels": [int(v) for v in labels],
            b"data": rows,
            b"filenames": [b"x.png"] * len(images),
        },
        protocol=2,
    )


def _binary_batch(images, labels):
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels.astype(np.uint8)[:, None], rows], axis=1).tobytes()


BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _write_tar(path, folder, files):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _assert_matches(result, images, labels):
    (x_train, y_train), (x_test, y_test), names = result
    n = 5 * PER_BATCH
    assert x_train.dtype == np.uint8 and x_train.shape == (n, 32, 32, 3)
    assert y_train.dtype == np.int64 and y_train.shape == (n,)
    np.testing.assert_array_equal(x_train, images[:n])
    np.testing.assert_array_equal(y_train, labels[:n])
    np.testing.assert_array_equal(x_test, images[n:])
    np.testing.assert_array_equal(y_test, labels[n:])
    assert names == CLASS_NAMES


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_python_tar_and_its_extracted_folder(tmp_path, cache):
    images, labels = _official_arrays()
    files = {
        name: _python_batch(*batch) for name, batch in zip(BATCH_NAMES, _batches(images, labels))
    }
    files["batches.meta"] = pickle.dumps(
        {b"label_names": [n.encode() for n in CLASS_NAMES]}, protocol=2
    )
    archive = _write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", files)
    _assert_matches(cifar10.load(archive, cache_dir=cache), images, labels)

    folder = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    _assert_matches(cifar10.load(folder, cache_dir=cache), images, labels)
    _assert_matches(cifar10.load(folder / "cifar-10-batches-py", use_cache=False), images, labels)


def test_binary_tar_and_folder_holding_it(tmp_path, cache):
    images, labels = _official_arrays(seed=1)
    files = {
        f"{name}.bin": _binary_batch(*batch)
        for name, batch in zip(BATCH_NAMES, _batches(images, labels))
    }
    files["batches.meta.txt"] = "\n".join(CLASS_NAMES).encode()
    _write_tar(tmp_path / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
    _assert_matches(cifar10.load(tmp_path, cache_dir=cache), images, labels)


def test_restricted_unpickler_refuses_and_does_not_execute(tmp_path, cache):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    images, labels = _official_arrays()
    files = {
        name: _python_batch(*batch) for name, batch in zip(BATCH_NAMES, _batches(images, labels))
    }
    files["data_batch_3"] = pickle.dumps(Exploit(), protocol=2)
    archive = _write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", files)
    with pytest.raises(
        DataSourceError, match=r"not safe to read: refused to load (posix|os|nt)\.system"
    ):
        cifar10.load(archive, cache_dir=cache)
    assert not marker.exists()
    assert not cache.exists() or not list(cache.glob("*.npz"))  # nothing cached


def _jpeg_tree_files(per_class_train=2, per_class_test=1):
    """{relative path: jpeg bytes} for a tiny image-folder tree, and the pixel means per file."""
    files = {}
    for split, count in (("train", per_class_train), ("test", per_class_test)):
        for label, name in enumerate(CLASS_NAMES):
            for i in range(count):
                # Flat colours survive JPEG, so the decoded label can be checked from pixels.
                image = Image.new("RGB", (32, 32), (label * 25, i * 40, 200))
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=95)
                files[f"{split}/{name}/{i:04d}.jpg"] = buffer.getvalue()
    return files


def _assert_tree_result(result, per_class_train=2, per_class_test=1):
    (x_train, y_train), (x_test, y_test), names = result
    assert names == CLASS_NAMES
    assert x_train.shape == (10 * per_class_train, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (10 * per_class_test, 32, 32, 3)
    # Class-interleaved: the first ten training images are one of each class.
    assert list(y_train[:10]) == list(range(10))
    red = x_train[..., 0].mean(axis=(1, 2))
    np.testing.assert_allclose(red, y_train * 25, atol=3)
    np.testing.assert_allclose(x_test[..., 0].mean(axis=(1, 2)), y_test * 25, atol=3)


def test_image_folder_tree_under_a_top_folder(tmp_path, cache):
    for relative, data in _jpeg_tree_files().items():
        path = tmp_path / "cifar10-jpg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    _assert_tree_result(cifar10.load(tmp_path, cache_dir=cache))


def test_single_zip_and_folder_of_split_zips(tmp_path, cache):
    files = _jpeg_tree_files()
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as archive:
        for relative, data in files.items():
            archive.writestr(f"cifar10-jpg/{relative}", data)
    _assert_tree_result(cifar10.load(tmp_path / "all.zip", cache_dir=cache))

    split_dir = tmp_path / "split"
    split_dir.mkdir()
    for split in ("train", "test"):
        with zipfile.ZipFile(split_dir / f"cifar10-jpg-{split}.zip", "w") as archive:
            for relative, data in files.items():
                if relative.startswith(split):
                    archive.writestr(f"cifar10-jpg/{relative}", data)
    _assert_tree_result(cifar10.load(split_dir, cache_dir=cache))


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch):
    images, labels = _official_arrays()
    files = {
        f"{name}.bin": _binary_batch(*batch)
        for name, batch in zip(BATCH_NAMES, _batches(images, labels))
    }
    archive = _write_tar(tmp_path / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
    cifar10.load(archive, cache_dir=cache)
    assert len(list(cache.glob("cifar10-*.npz"))) == 1
    assert not list(cache.glob("*.tmp"))

    def fail(data):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(cifar10, "read_binary_batch", fail)
    _assert_matches(cifar10.load(archive, cache_dir=cache), images, labels)
    # A different source (other bytes) has another key, so it is decoded.
    files["test_batch.bin"] = _binary_batch(images[:2], labels[:2])
    other = _write_tar(tmp_path / "other.tar.gz", "cifar-10-batches-bin", files)
    with pytest.raises(AssertionError, match="decoded again"):
        cifar10.load(other, cache_dir=cache)


def test_missing_source_names_what_was_expected(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist; expected cifar-10-python.tar.gz"):
        cifar10.load(tmp_path / "nowhere")


def test_unrecognised_folder_and_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataSourceError, match="No CIFAR-10 data found in folder"):
        cifar10.load(tmp_path, use_cache=False)
    with pytest.raises(DataSourceError, match="neither a zip nor a tar archive"):
        cifar10.load(tmp_path / "notes.txt", use_cache=False)


def test_corrupt_archive_and_batch(tmp_path):
    good = _write_tar(tmp_path / "a.tar.gz", "cifar-10-batches-bin", {"readme": b"x"})
    with pytest.raises(DataSourceError, match="holds neither the python batches"):
        cifar10.load(good, use_cache=False)

    images, labels = _official_arrays()
    files = {
        f"{name}.bin": _binary_batch(*batch)
        for name, batch in zip(BATCH_NAMES, _batches(images, labels))
    }
    files["data_batch_2.bin"] = files["data_batch_2.bin"][:-7]  # truncated
    bad = _write_tar(tmp_path / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
    with pytest.raises(DataSourceError, match="whole number of 3073-byte records"):
        cifar10.load(bad, use_cache=False)


def test_truncated_zip_is_reported_as_damaged_or_truncated(tmp_path):
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for relative, data in _jpeg_tree_files().items():
            archive.writestr(relative, data)
    data = whole.read_bytes()
    truncated = tmp_path / "trunc.zip"
    truncated.write_bytes(data[: len(data) // 2])  # a copy cut short: no central directory
    with pytest.raises(DataSourceError, match="damaged or truncated zip"):
        cifar10.load(truncated, use_cache=False)
    folder = tmp_path / "zips"
    folder.mkdir()
    (folder / "cifar10-jpg-train.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataSourceError, match="damaged or truncated"):
        cifar10.load(folder, use_cache=False)


def test_zip_with_only_the_training_split_says_test_is_missing(tmp_path):
    with zipfile.ZipFile(tmp_path / "train.zip", "w") as archive:
        for relative, data in _jpeg_tree_files().items():
            if relative.startswith("train"):
                archive.writestr(relative, data)
    with pytest.raises(DataSourceError, match="No test/<class>/<image> files found"):
        cifar10.load(tmp_path / "train.zip", use_cache=False)


def test_shared_zips_folder_loads_the_full_jpeg_copy():
    from conftest import shared_path

    folder = shared_path("cifar10")
    (x_train, y_train), (x_test, y_test), names = cifar10.load(folder)
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert names == CLASS_NAMES
