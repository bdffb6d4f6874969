"""Property tests (Hypothesis) of the parsers that take outside input (issue 20).

Random bytes, truncations and byte mutations of valid files, fed to `load_image`, the labels
CSV reader and `cifar10.load` (the python and binary tar.gz layouts, their extracted
batches and the JPEG zip layout), give a result or the parser's one-line error
(`ImageLoadError`, `ValueError`, `DataSourceError`: what the CLI prints as one line), never
another exception, and write nothing outside their output paths (only a CIFAR cache folder).
"""

import csv
import functools
import gzip
import io
import pathlib
import pickle
import tarfile
import tempfile
import zipfile

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from keras_dense.datasets import cifar10
from keras_dense.datasets.cifar10 import CLASS_NAMES, DataSourceError
from keras_dense.imagenet import classes, images
from keras_dense.inference.validate import read_labels

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _settings(examples):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def mutated(draw, valid):
    """`valid` bytes: replaced by random ones, truncated, with bytes changed, or spliced."""
    kind = draw(st.sampled_from(("random", "header", "truncate", "flip", "splice")))
    if kind == "random":
        return draw(st.binary(max_size=512))
    if kind == "header":  # a valid start, so the format is recognised, then noise
        return valid[: draw(st.integers(1, min(len(valid), 64)))] + draw(st.binary(max_size=256))
    if kind == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    data = bytearray(valid)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 64)))
    return bytes(data[:start]) + draw(st.binary(max_size=64)) + bytes(data[end:])


def _snapshot(folder):
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in pathlib.Path(folder).rglob("*")
    }


def _assert_one_line(error, *names):
    message = str(error)
    assert message and "\n" not in message, message
    for name in names:
        assert name in message, (name, message)


# --- images ---------------------------------------------------------------------------------


@functools.cache
def _valid_image(fmt):
    pixels = np.random.default_rng(0).integers(0, 256, (9, 12, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


@_settings(400)
@given(
    fmt=st.sampled_from(("JPEG", "PNG", "PPM", "GIF", "BMP")), data=st.data(), crop=st.booleans()
)
def test_load_image_gives_pixels_or_one_error_naming_the_file(fmt, data, crop):
    content = data.draw(mutated(_valid_image(fmt)))
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / f"input.{fmt.lower()}"
        path.write_bytes(content)
        before = _snapshot(folder)
        try:
            pixels = images.load_image(path, size=(8, 8), crop=crop)
        except images.ImageLoadError as error:
            event("error")
            _assert_one_line(error, str(path))
        else:
            event("pixels")
            assert pixels.shape == (8, 8, 3) and pixels.dtype == np.uint8
        assert _snapshot(folder) == before


# --- labels CSVs ----------------------------------------------------------------------------


@functools.cache
def _valid_labels():
    wnids = [wnid for wnid, _ in classes.class_index().values()]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "wnid", "note"])
    for i in range(6):
        writer.writerow([f"img_{i}.JPEG", wnids[i * 97], f'a, "quoted" note {i}'])
    return buffer.getvalue().encode("utf-8-sig")


HEADERS = (
    ["file", "wnid"],
    ["\ufefffile", "wnid", "note"],
    ["ImageId", "PredictionString"],
    ["path", "class_index"],
    [" image ", "label", ""],
)
FIELD = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "file",
            "wnid",
            "label",
            "n01440764",
            "n01443537 1 2 3 4",
            "7",
            "-1",
            "1000",
            "x.jpg",
            "",
            " ",
            "a\nb.jpg",
            "\x00",
            '"',
        ]
    ),
)


@st.composite
def labels_files(draw):
    """Mutated bytes of a valid CSV, or rows of random fields written as CSV (short rows,
    extra columns, any characters)."""
    if draw(st.booleans()):
        return draw(mutated(_valid_labels()))
    header = draw(st.one_of(st.sampled_from(HEADERS), st.lists(FIELD, max_size=4)))
    rows = [header] + draw(st.lists(st.lists(FIELD, max_size=5), max_size=8))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    encoding = draw(st.sampled_from(("utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1")))
    return buffer.getvalue().encode(encoding, errors="replace")


@_settings(400)
@given(content=labels_files())
def test_labels_csv_gives_rows_or_one_error_with_its_line(content):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "labels.csv"
        path.write_bytes(content)
        before = _snapshot(folder)
        errors = []
        try:
            found = read_labels(path, errors=errors)
        except ValueError as error:
            event("file refused")
            _assert_one_line(error, str(path))
        else:
            event(f"rows read, {'some' if errors else 'none'} skipped")
            for image, index in found:
                assert isinstance(image, pathlib.Path) and 0 <= index < classes.NUM_CLASSES
            for error in errors:
                assert error["path"] == str(path) and error["line"] >= 2
                _assert_one_line(error["error"], f"{path} line {error['line']}")
        assert _snapshot(folder) == before


# --- CIFAR-10 archives ----------------------------------------------------------------------


def _official_batches():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (6 * 2, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, 6 * 2)
    python = {
        name: pickle.dumps(
            {
                b"batch_label": name.encode(),
                b"data": rows[2 * i : 2 * i + 2],
                b"labels": [int(v) for v in labels[2 * i : 2 * i + 2]],
                b"filenames": [b"x.png"] * 2,
            },
            protocol=2,
        )
        for i, name in enumerate(BATCHES)
    }
    binary = {
        f"{name}.bin": np.concatenate(
            [labels[2 * i : 2 * i + 2, None].astype(np.uint8), rows[2 * i : 2 * i + 2]], axis=1
        ).tobytes()
        for i, name in enumerate(BATCHES)
    }
    return python, binary


def _tar(folder, files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@functools.cache
def _valid_sources():
    """`{layout: (file name, bytes)}`: each CIFAR-10 source layout, small."""
    python, binary = _official_batches()
    jpegs = io.BytesIO()
    with zipfile.ZipFile(jpegs, "w", zipfile.ZIP_DEFLATED) as archive:
        for split in ("train", "test"):
            for label, name in enumerate(CLASS_NAMES):
                image = io.BytesIO()
                Image.new("RGB", (32, 32), (label * 25, 9, 200)).save(image, format="JPEG")
                archive.writestr(f"cifar10-jpg/{split}/{name}/0.jpg", image.getvalue())
    return {
        "python_tar": ("cifar-10-python.tar", _tar("cifar-10-batches-py", python)),
        "binary_tar": ("cifar-10-binary.tar", _tar("cifar-10-batches-bin", binary)),
        "python_batch": ("data_batch_3", python["data_batch_3"]),
        "jpeg_zip": ("cifar10-jpg.zip", jpegs.getvalue()),
    }


@st.composite
def cifar_sources(draw):
    """`(layout, file name, bytes)`: a mutated source; tars are mutated inside or outside
    their gzip layer (inside reaches the batch decoders, outside the decompressor)."""
    layout = draw(st.sampled_from(sorted(_valid_sources())))
    name, valid = _valid_sources()[layout]
    if layout.endswith("_tar"):
        if draw(st.booleans()):
            return layout, name + ".gz", gzip.compress(draw(mutated(valid)), mtime=0)
        return layout, name + ".gz", draw(mutated(gzip.compress(valid, mtime=0)))
    return layout, name, draw(mutated(valid))


@_settings(400)
@given(source=cifar_sources())
def test_cifar_sources_give_arrays_or_one_error(source):
    layout, name, content = source
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        cache = folder / "cache"
        if layout == "python_batch":  # the extracted folder, one batch damaged
            target = folder / "cifar-10-batches-py"
            target.mkdir()
            for batch, data in _official_batches()[0].items():
                (target / batch).write_bytes(data)
            (target / name).write_bytes(content)
        else:
            target = folder / name
            target.write_bytes(content)
        before = _snapshot(folder)
        try:
            (x_train, y_train), (x_test, y_test), names = cifar10.load(target, cache_dir=cache)
        except DataSourceError as error:
            event(f"{layout}: refused")
            _assert_one_line(error)
        else:
            event(f"{layout}: loaded")
            for x, y in ((x_train, y_train), (x_test, y_test)):
                assert x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3) and len(x) == len(y)
                assert 0 <= y.min() and y.max() < len(names)
        after = _snapshot(folder)
        changed = {path for path in after if before.get(path) != after[path]}
        assert all(cache in path.parents or path == cache for path in changed), changed
        assert all(path in after for path in before)
