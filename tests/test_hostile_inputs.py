"""Hostile and damaged inputs (issue 20, classes 4 and 7): every input file is one line, and
sizes are checked before anything is read whole.

Each case failed on main before: a decoder error other than `OSError` ended the whole job
and named no file, a spreadsheet's labels CSV was refused, skipped files exited 1 (as a
crash does), and archives and images were read whole whatever their declared sizes.
"""

import io
import os
import pickle
import struct
import tarfile
import zipfile
import zlib

import h5_fixtures
import numpy as np
import pytest
from PIL import Image

from keras_dense.cli import EXIT_ERROR, EXIT_SKIPPED, main
from keras_dense.datasets import cifar10
from keras_dense.datasets.cifar10 import CLASS_NAMES, DataSourceError
from keras_dense.imagenet import classes, images
from keras_dense.inference import loading, predict
from keras_dense.inference.validate import read_labels, validate
from keras_dense.models import densenet

# Pillow's PPM decoder raises ValueError for it (not OSError): the malformed header.
BAD_PPM = b"P6\n2 2\n0\n" + bytes(12)
TEXT_PPM = b"P3\n2 2\n255\n1 2 3 x\n"  # ValueError: invalid literal for int()


@pytest.fixture(scope="module")
def tiny_model():
    model = densenet.DenseNet(
        [1, 1, 1, 1], input_shape=(32, 32, 3), growth_rate=4, name="densenet121"
    )
    return h5_fixtures.randomize(model, seed=3, logit_scale=1.0)


@pytest.fixture
def tiny_everywhere(monkeypatch, tiny_model):
    """The CLI's models are the tiny one (the commands still parse, decode and report)."""
    monkeypatch.setattr(loading, "load_engine_model", lambda *args, **kwargs: (tiny_model, "torch"))


def _png(path, colour=(200, 10, 10), size=(40, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


def _folder_with_bad_images(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = [_png(folder / "a.png"), _png(folder / "z.png", (0, 90, 200))]
    (folder / "bad.ppm").write_bytes(BAD_PPM)
    (folder / "text.ppm").write_bytes(TEXT_PPM)
    return folder, good


# --- class 4: every input file, one line ------------------------------------------------


def test_a_malformed_header_is_one_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(BAD_PPM)
    with pytest.raises(images.ImageLoadError, match=r"bad\.ppm could not be decoded .*ValueError"):
        images.load_image(bad)


def test_predict_files_goes_on_after_any_decoder_error(tmp_path, tiny_model):
    folder, good = _folder_with_bad_images(tmp_path)
    results = {
        os.path.basename(r.path): r
        for r in predict.predict_files(
            [folder], model=tiny_model, top=2, batch_size=3, engine="keras"
        )
    }
    assert sorted(results) == ["a.png", "bad.ppm", "text.ppm", "z.png"]
    for name in ("a.png", "z.png"):
        assert results[name].error is None and len(results[name].predictions) == 2
    for name in ("bad.ppm", "text.ppm"):
        assert results[name].predictions is None and name in results[name].error


def test_cli_predict_exits_3_naming_each_skipped_file(tmp_path, tiny_everywhere, capsys):
    folder, good = _folder_with_bad_images(tmp_path)
    status = main(
        [
            "predict",
            str(folder),
            "--weights",
            "none",
            "--engine",
            "keras",
            "--precision",
            "bfloat16",
            "--top",
            "1",
        ]
    )
    out, err = capsys.readouterr()
    assert status == EXIT_SKIPPED == 3
    assert all(str(path) in out for path in good)
    assert "bad.ppm could not be decoded" in err and "text.ppm could not be decoded" in err
    assert "Traceback" not in err


def test_cli_explain_names_the_unreadable_image_in_one_line(tmp_path, tiny_everywhere, capsys):
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(BAD_PPM)
    status = main(["explain", str(bad), "--weights", "none", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert status == EXIT_ERROR
    assert err.count("\n") == 1 and f"{bad} could not be decoded" in err
    assert not (tmp_path / "x.png").exists()


def _labels(tmp_path, images_ok):
    """A spreadsheet's CSV: a BOM, CRLF, a short row, a shifted row, blank lines, a bad label."""
    wnid = classes.class_index()[7][0]
    rows = [
        "file,wnid,note",
        f"{images_ok[0].name},{wnid},first",
        "short.png",  # line 3: no label
        "",  # blank: passed over
        f"x,y.png,{wnid},shifted",  # line 5: an unquoted comma
        ",,",  # only empty fields: passed over
        f"{images_ok[1].name},{wnid}",  # short of the note only: used
        "bad.ppm," + wnid,  # an image that does not decode
        "c.png,n99999999",
    ]  # line 9: not a wnid
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    return path


def test_validate_reads_a_spreadsheet_csv_and_skips_bad_rows_and_images(tmp_path, tiny_model):
    folder, good = _folder_with_bad_images(tmp_path)
    labels = _labels(folder, good)
    report = validate(folder, model=tiny_model, labels=labels, batch_size=2, engine="keras")
    assert report["images"] == 2
    skipped = [(os.path.basename(e["path"]), e.get("line")) for e in report["errors"]]
    assert skipped == [("labels.csv", 3), ("labels.csv", 5), ("labels.csv", 9), ("bad.ppm", None)]
    assert all(os.path.basename(e["path"]) in e["error"] for e in report["errors"])
    assert "line 3 has 1 field(s)" in report["errors"][0]["error"]
    assert "more than the header's 3" in report["errors"][1]["error"]


def test_cli_validate_exits_3_and_names_rows_and_files(tmp_path, tiny_everywhere, capsys):
    folder, good = _folder_with_bad_images(tmp_path)
    _labels(folder, good)
    status = main(["validate", str(folder), "--weights", "none"])
    out, err = capsys.readouterr()
    assert status == EXIT_SKIPPED
    assert "on 2 images" in out and "4 skipped" in out
    assert "labels.csv line 5 has 4 fields" in err and "bad.ppm could not be decoded" in err
    assert err.count("keras-dense: error: ") == 4 and "Traceback" not in err


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b"file,wnid\na.png,n01440764\n\xff\xfe.png,n01440764\n",
            r"labels\.csv line 3 is not UTF-8",
        ),
        (
            b'file,wnid\na.png,n01440764\n"b.png,n01440764\nc.png,n01440764\n',
            r"labels\.csv line 3: unexpected end of data \(malformed quoting\)",
        ),
        (b'file,wnid\n"a.png"x,n01440764\n', r"labels\.csv line 2: .* \(malformed quoting\)"),
    ],
)
def test_labels_csv_refused_whole_in_one_line(tmp_path, content, message):
    path = tmp_path / "labels.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as raised:
        read_labels(path)
    assert "\n" not in str(raised.value)


# --- class 7: bounded reads ---------------------------------------------------------------


def test_image_file_over_the_byte_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = _png(tmp_path / "big.png", size=(64, 64))
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(images.ImageLoadError, match=r"big\.png is \d+ bytes, more than the 100"):
        images.load_image(path)


def test_centre_crop_of_a_thin_strip_is_refused_before_it_is_enlarged(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)  # the 2x400 strip itself is within it
    path = _png(tmp_path / "strip.png", size=(2, 400))
    with pytest.raises(
        images.ImageLoadError,
        match=r"strip\.png at 2x400 pixels is too "
        r"elongated to centre-crop",
    ):
        images.load_image(path, size=(32, 32), crop=True)
    assert images.load_image(path, size=(32, 32)).shape == (32, 32, 3)  # a resize is bounded


def _jpeg(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _image_zip(path, extra=None, count=1):
    """A one-zip CIFAR tree (`count` images per class and split), plus `extra` members
    written by `extra(archive)`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for split in ("train", "test"):
            for label, name in enumerate(CLASS_NAMES):
                for i in range(count):
                    archive.writestr(f"cifar/{split}/{name}/{i}.jpg", _jpeg((label * 25, 0, 0)))
        if extra:
            extra(archive)
    return path


def test_zip_bomb_member_is_refused_by_its_declared_size(tmp_path):
    def bomb(archive):
        with archive.open("cifar/train/cat/9.png", "w") as member:
            block = bytes(1 << 20)
            for _ in range(200):  # 200 MB of zeros, about 200 KB compressed
                member.write(block)

    path = _image_zip(tmp_path / "bomb.zip", bomb)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(
        DataSourceError,
        match=r"'cifar/train/cat/9\.png' is 209,715,200 bytes, "
        r"more than the 1,048,576",
    ):
        cifar10.load(path, use_cache=False)


def test_zip_member_compressed_too_well_is_refused(tmp_path):
    path = _image_zip(
        tmp_path / "ratio.zip",
        lambda archive: archive.writestr("cifar/test/dog/7.bmp", bytes(500_000)),
    )
    with pytest.raises(
        DataSourceError,
        match=r"'cifar/test/dog/7\.bmp' declares 500,000 bytes "
        r"compressed to \d+, more than 100x",
    ):
        cifar10.load(path, use_cache=False)


def _patch_declared_size(path, member, size):
    """Rewrites `member`'s uncompressed size in the zip's central directory."""
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02" + bytes(0), 0, data.rfind(member.encode()))
    assert data[entry + 46 : entry + 46 + len(member)] == member.encode()
    data[entry + 24 : entry + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "declared, message",
    [
        (500_000_000, r"'cifar/train/cat/0\.jpg' is 500,000,000 bytes, more than"),
        (100, r"'cifar/train/cat/0\.jpg' could not be decoded \(BadZipFile"),
    ],
)
def test_zip_member_declaring_a_wrong_size_is_one_line_naming_it(tmp_path, declared, message):
    path = _image_zip(tmp_path / "lying.zip")
    _patch_declared_size(path, "cifar/train/cat/0.jpg", declared)
    with pytest.raises(DataSourceError, match=message):
        cifar10.load(path, use_cache=False)


def test_pillow_decompression_bomb_in_a_member_is_one_line(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR width and height
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    path = _image_zip(
        tmp_path / "pillow-bomb.zip",
        lambda archive: archive.writestr("cifar/train/cat/5.png", bytes(png)),
    )
    with pytest.raises(
        DataSourceError,
        match=r"'cifar/train/cat/5\.png' could not be decoded "
        r"\(DecompressionBombError",
    ):
        cifar10.load(path, use_cache=False)


def _binary_tar(path, sizes=None):
    """The binary layout, one image per batch; `sizes` overrides members' lengths (zeros)."""
    with tarfile.open(path, "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = bytes((sizes or {}).get(f"{name}.bin", 3073))
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}.bin")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_tar_member_over_the_batch_cap_is_refused_before_it_is_read(tmp_path):
    path = _binary_tar(
        tmp_path / "cifar-10-binary.tar.gz", {"data_batch_2.bin": 3073 * 25_000}
    )  # 77 MB of zeros, 75 KB as gz
    with pytest.raises(
        DataSourceError,
        match=r"'data_batch_2\.bin': it is 76,825,000 bytes, more "
        r"than the 67,108,864",
    ):
        cifar10.load(path, use_cache=False)


def test_tar_listing_stops_at_the_declared_total(tmp_path, monkeypatch):
    path = _binary_tar(tmp_path / "cifar-10-binary.tar.gz")
    monkeypatch.setattr(cifar10, "MAX_TAR_BYTES", 10_000)
    with pytest.raises(
        DataSourceError,
        match=r"declares more than 10,000 bytes \(at member "
        r"'cifar-10-batches-bin/data_batch_\d\.bin'\)",
    ):
        cifar10.load(path, use_cache=False)


def test_python_batch_of_shared_rows_is_refused_not_expanded(tmp_path):
    """Rows that are one list referenced many times pickle to a few bytes and expand to
    `rows x 3072` values: a batch's data must be an array, as the official one is."""
    row = [0] * 3072
    batch = pickle.dumps({b"data": [row] * 50, b"labels": [0] * 50}, protocol=2)
    assert len(batch) < 10_000
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(batch)
    with pytest.raises(
        DataSourceError,
        match=r"'data_batch_1': a CIFAR-10 python batch's "
        r"'data' must be an integer array",
    ):
        cifar10.load(folder, use_cache=False)


def test_a_pickle_reducing_to_a_file_write_runs_nothing(tmp_path):
    marker = tmp_path / "marker"

    class Writes:
        def __reduce__(self):  # run by a plain pickle.load
            return (exec, (f"open({str(marker)!r}, 'w').write('pwned')",))

    marker_free = pickle.dumps(
        {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"extra": [Writes()]}, protocol=2
    )
    pickle.loads(marker_free)  # the exploit works on a plain unpickler
    assert marker.exists()
    marker.unlink()
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(marker_free)
    with pytest.raises(DataSourceError, match="not safe to read: refused to load"):
        cifar10.load(folder, use_cache=False)
    assert not marker.exists()
