"""CIFAR-10 as uint8 arrays, from the download or from any local copy.

`load(source)` accepts:

1. `None`: the official download through `keras.datasets.cifar10` (online).
2. The official archives, `cifar-10-python.tar.gz` (pickled batches, read with
   a restricted unpickler that refuses anything but the arrays, lists and
   strings those batches hold) or `cifar-10-binary.tar.gz`, or their extracted
   folders (`cifar-10-batches-py/`, `cifar-10-batches-bin/`).
3. An image-folder tree `train/<class>/*.jpg` + `test/<class>/*.jpg` (possibly
   under one top folder), a zip of one, or a folder of zips that together hold
   both splits, such as `../shared/data/cifar10` with `cifar10-jpg-train.zip`
   and `cifar10-jpg-test.zip`.
4. A folder holding any of the archives above.

Sizes are checked before anything is read whole: each batch and image
against what a CIFAR batch or a 32x32 image can need (a tar member's declared
size, a zip member's declared size and compression ratio, a file's size on
disk), and an image's dimensions from its header before its pixels are decoded.
A source that fails any check, or holds a member that does not decode, is
refused whole with one `DataSourceError` naming the member: training on a
silently smaller set would not be comparable, and the cache would keep it.

Local sources are decoded once and cached as `.npz` in `default_cache_dir()`,
`$KERAS_DENSE_CACHE/cifar10` (default `~/.keras/keras_dense/cifar10`: see
`keras_dense._paths`), keyed by a hash of the source.
Image folders are read class-interleaved (image 0 of every class, then image 1,
...), so any prefix of the training set, as `--subset N` takes, is balanced.

Example:
    >>> (x_train, y_train), (x_test, y_test), names = load("../shared/data/cifar10")
    >>> x_train.shape, x_train.dtype, names[0]
    ((50000, 32, 32, 3), dtype('uint8'), 'airplane')
"""

import codecs
import functools
import hashlib
import io
import os
import pathlib
import pickle
import re
import tarfile
import zipfile
import zlib

import numpy as np

from keras_dense import _files, _paths

CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_SHAPE = (32, 32, 3)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# Bumped when decoding changes, so stale caches are not reused.
CACHE_FORMAT = 1

# Bounded reads: limits known before reading, far above what the real data needs.
MAX_BATCH_BYTES = 64 << 20  # an official batch is 10,000 x 3,073 bytes (31 MB) as bin or pickle
MAX_TAR_BYTES = 1 << 30  # cifar-10-python.tar.gz unpacks to 178 MB; a tar is listed up to this
MAX_IMAGE_BYTES = 1 << 20  # a 32x32 image is 3 KB as BMP; a megabyte leaves room for metadata
MAX_ZIP_BYTES = 4 << 30  # the 60,000 JPEGs of the shared copy declare ~100 MB uncompressed
MAX_COMPRESSION_RATIO = 100  # compressed images shrink little; zeros shrink ~1000x (a zip bomb)
RATIO_FLOOR_BYTES = 64 << 10  # smaller members may compress well (a flat BMP) and cost nothing

EXPECTED_SOURCES = (
    "expected cifar-10-python.tar.gz, cifar-10-binary.tar.gz, their extracted folders, "
    "an image folder (train/<class>/*.jpg and test/<class>/*.jpg), a zip of one, "
    "or a folder holding such zips (e.g. cifar10-jpg-train.zip and cifar10-jpg-test.zip)"
)


class DataSourceError(ValueError):
    """A CIFAR-10 source that is missing, corrupt or of no known layout."""


def default_cache_dir() -> pathlib.Path:
    """`_paths.cache_dir("cifar10")`: `$KERAS_DENSE_CACHE/cifar10`, else
    `$KERAS_HOME/keras_dense/cifar10` (default `~/.keras/keras_dense/cifar10`)."""
    return _paths.cache_dir(_paths.CIFAR10)


def load(source=None, cache_dir=None, use_cache=True):
    """Loads CIFAR-10 as uint8 images and int64 labels.

    Args:
        source: `None` for the official download, or a path (see the module
            docstring for the layouts).
        cache_dir: where decoded local sources are cached (default
            `default_cache_dir()`).
        use_cache: read and write the `.npz` cache.

    Returns:
        `(x_train, y_train), (x_test, y_test), class_names`: images of shape
        `(n, 32, 32, 3)` uint8, labels of shape `(n,)` int64 in `0..9`, and the
        tuple of class names in label order.

    Raises:
        DataSourceError: the source is missing, corrupt or unrecognised.

    Example:
        >>> (x, y), (xt, yt), names = load("cifar-10-python.tar.gz")
    """
    if source is None:
        return _download()
    path = pathlib.Path(source).expanduser()
    if not path.exists():
        raise DataSourceError(f"CIFAR-10 source {str(path)!r} does not exist; {EXPECTED_SOURCES}.")
    try:
        reader, files = _detect(path)
    except (DataSourceError, AssertionError):  # an assertion is a bug of ours, not of the data
        raise
    except Exception as error:  # a damaged archive raises zlib.error, EOFError, ... on probing
        raise _unreadable(path, error) from error
    cache_file = None
    if use_cache:
        key = _source_key(reader.__name__, files)
        cache_file = pathlib.Path(cache_dir or default_cache_dir()) / f"cifar10-{key}.npz"
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    try:
        (x_train, y_train), (x_test, y_test), names = reader(files)
    except (DataSourceError, AssertionError):
        raise
    except UnsafePickleError as error:
        raise DataSourceError(
            f"CIFAR-10 source {str(path)!r} is not safe to read: {error}."
        ) from error
    except Exception as error:  # decoding only: whatever a damaged source raises, one line
        raise _unreadable(path, error) from error
    result = _checked(x_train, y_train, x_test, y_test, names, path)
    if cache_file is not None:
        _write_cache(cache_file, result)
    return result


def _one_line(error):
    """An exception's message on one line (some, such as pickle's, span two)."""
    return " ".join(str(error).split())


def _unreadable(path, error):
    """The one-line `DataSourceError` for an exception while reading `path`."""
    if isinstance(error, PermissionError):
        return DataSourceError(
            f"CIFAR-10 source {str(path)!r} cannot be read ({_one_line(error)})."
        )
    return DataSourceError(
        f"CIFAR-10 source {str(path)!r} looks corrupt ({type(error).__name__}: "
        f"{_one_line(error)}); "
        "download or extract it again."
    )


# ----------------------------------------------------------------- detection


def _detect(path):
    """Returns `(reader, files)` for a source path, or raises DataSourceError."""
    if path.is_file():
        if zipfile.is_zipfile(path):
            return _read_image_zips, [path]
        if tarfile.is_tarfile(path):
            return _detect_tar(path), [path]
        if _starts_like_zip(path):
            raise DataSourceError(
                f"{str(path)!r} is a damaged or truncated zip file (it starts as a zip but its "
                "directory at the end is missing or unreadable); download or copy it again."
            )
        raise DataSourceError(
            f"{str(path)!r} is neither a zip nor a tar archive; {EXPECTED_SOURCES}."
        )

    for folder in (path, path / "cifar-10-batches-py"):
        if all((folder / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
            return _read_python_batches, [folder / name for name in (*TRAIN_BATCHES, TEST_BATCH)]
    for folder in (path, path / "cifar-10-batches-bin"):
        names = [f"{name}.bin" for name in (*TRAIN_BATCHES, TEST_BATCH)]
        if all((folder / name).is_file() for name in names):
            return _read_binary_batches, [folder / name for name in names]
    for archive in ("cifar-10-python.tar.gz", "cifar-10-binary.tar.gz"):
        if (path / archive).is_file():
            return _detect(path / archive)
    tree = _find_image_tree(path)
    if tree is not None:
        return _read_image_tree, [tree]
    zips = sorted(p for p in path.iterdir() if p.suffix.lower() == ".zip" and p.is_file())
    if zips:
        return _read_image_zips, zips
    raise DataSourceError(f"No CIFAR-10 data found in folder {str(path)!r}; {EXPECTED_SOURCES}.")


def _starts_like_zip(path):
    """Whether the file begins with a zip local-file header (`PK\\x03\\x04`)."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _tar_files(archive, where):
    """`{file name: member}` of a tar's regular files, listed without passing
    `MAX_TAR_BYTES` of declared contents (listing a compressed tar decompresses it)."""
    members, total = {}, 0
    for member in archive:
        total += tarfile.BLOCKSIZE + member.size
        if total > MAX_TAR_BYTES:
            raise DataSourceError(
                f"Tar archive {where} declares more than {MAX_TAR_BYTES:,} bytes (at member "
                f"{member.name!r}); a CIFAR-10 archive holds about 180 MB. Is it the right file?"
            )
        if member.isfile():
            members[pathlib.PurePosixPath(member.name).name] = member
    return members


def _detect_tar(path):
    try:
        with tarfile.open(path) as archive:
            names = set(_tar_files(archive, repr(str(path))))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise DataSourceError(
            f"Tar archive {str(path)!r} is corrupt ({_one_line(error)}); download it again."
        ) from error
    if {*TRAIN_BATCHES, TEST_BATCH} <= names:
        return _read_python_batches
    if {f"{name}.bin" for name in (*TRAIN_BATCHES, TEST_BATCH)} <= names:
        return _read_binary_batches
    raise DataSourceError(
        f"Tar archive {str(path)!r} holds neither the python batches (data_batch_1..5, "
        f"test_batch) nor the binary ones (data_batch_1..5.bin, test_batch.bin); "
        f"{EXPECTED_SOURCES}."
    )


def _find_image_tree(path):
    """The folder holding `train/` and `test/` class folders: `path` or one child."""
    for folder in (path, *sorted(p for p in path.iterdir() if p.is_dir())):
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return folder
    return None


def _source_key(kind, files):
    """A short hash of the reader kind and the source files' contents or listing."""
    digest = hashlib.sha256(f"{CACHE_FORMAT}:{kind}".encode())
    for file in files:
        if file.is_dir():  # image tree: names, sizes and times stand in for contents
            for item in sorted(file.rglob("*")):
                if item.is_file():
                    stat = item.stat()
                    digest.update(
                        f"{item.relative_to(file)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
                    )
        else:
            with open(file, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


# ------------------------------------------------------------ official python


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global that no CIFAR-10 batch holds."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only what the CIFAR python batches hold: numpy arrays and builtins.

    Any other global (functions such as `os.system`, arbitrary classes) raises
    `UnsafePickleError` before it is called, so a malicious file is refused.
    `_codecs.encode` (str -> bytes) is allowed because Python 3 writes bytes
    that way at pickle protocol 2, as re-pickled copies of the batches are.
    """

    @staticmethod
    def _allowed():
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray
        return {
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): codecs.encode,
        }

    def find_class(self, module, name):
        allowed = self._allowed()
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise UnsafePickleError(
            f"refused to load {module}.{name}: a CIFAR-10 batch holds only arrays, "
            "lists and strings, so this file is not one (and may be malicious)"
        )


def read_python_batch(data):
    """Decodes one pickled python batch (`bytes`) into `(images, labels)`.

    Raises:
        pickle.UnpicklingError: the pickle names a type a batch never holds.
    """
    batch = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(batch, dict):
        raise DataSourceError("a CIFAR-10 python batch must unpickle to a dict")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataSourceError(
            f"a CIFAR-10 python batch needs 'data' and 'labels'; found {sorted(batch)}"
        )
    data, labels = batch["data"], batch["labels"]
    # Arrays and flat lists only: nested lists sharing references could expand exponentially.
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "ui" or data.size % 3072:
        raise DataSourceError(
            "a CIFAR-10 python batch's 'data' must be an integer array of 3072-value rows"
        )
    if isinstance(labels, np.ndarray):
        labels = labels.reshape(-1).tolist() if labels.dtype.kind in "ui" else None
    if (
        not isinstance(labels, list)
        or len(labels) != data.size // 3072
        or not all(isinstance(label, int) for label in labels)
    ):
        raise DataSourceError(
            "a CIFAR-10 python batch's 'labels' must be a list of integers, one per row of 'data'"
        )
    images = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.asarray(labels, dtype=np.int64)


def _read_python_batches(files):
    return _read_batches(files, read_python_batch, "")


# ------------------------------------------------------------ official binary


def read_binary_batch(data):
    """Decodes one binary batch: records of 1 label byte + 3072 pixel bytes (R, G, B planes)."""
    record = 1 + 32 * 32 * 3
    if len(data) == 0 or len(data) % record:
        raise DataSourceError(
            f"a CIFAR-10 binary batch is a whole number of {record}-byte records; "
            f"got {len(data)} bytes"
        )
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    images = rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, 0].astype(np.int64)


def _read_binary_batches(files):
    return _read_batches(files, read_binary_batch, ".bin")


def _read_batches(files, decode, suffix):
    """Reads the five training batches and the test batch from a folder or a tar."""
    wanted = [f"{name}{suffix}" for name in (*TRAIN_BATCHES, TEST_BATCH)]
    if len(files) == 1 and files[0].is_file() and tarfile.is_tarfile(files[0]):
        where = repr(str(files[0]))
        with tarfile.open(files[0]) as archive:
            members = _tar_files(archive, where)

            def read(name):
                _check_size(members[name].size, MAX_BATCH_BYTES, name)
                data = archive.extractfile(members[name]).read(MAX_BATCH_BYTES + 1)
                _check_size(len(data), MAX_BATCH_BYTES, name)  # the header's size may lie
                return data

            decoded = [
                _decoded(decode, functools.partial(read, name), name, where) for name in wanted
            ]
    else:
        where, by_name = repr(str(files[0].parent)), {file.name: file for file in files}

        def read(name):
            _check_size(by_name[name].stat().st_size, MAX_BATCH_BYTES, name)
            return by_name[name].read_bytes()

        decoded = [_decoded(decode, functools.partial(read, name), name, where) for name in wanted]
    x_train = np.concatenate([images for images, _ in decoded[:-1]])
    y_train = np.concatenate([labels for _, labels in decoded[:-1]])
    return (x_train, y_train), decoded[-1], CLASS_NAMES


def _check_size(size, limit, name, where=None):
    """Refuses `name` of `size` bytes past `limit` (`where`: the source, unless `_decoded`
    names it)."""
    if size > limit:
        prefix = f"CIFAR-10 source {where}: {name!r} is" if where else "it is"
        raise DataSourceError(
            f"{prefix} {size:,} bytes, more than the {limit:,} a CIFAR-10 "
            "member needs; the source is damaged or not CIFAR-10"
        )


def _decoded(decode, data, name, where):
    """`decode(data)` (`data`: bytes, or a function reading them), any failure one
    `DataSourceError` naming the member."""
    try:
        return decode(data() if callable(data) else data)
    except (UnsafePickleError, AssertionError):
        raise  # load() says it is not safe to read; an assertion is a bug of ours
    except DataSourceError as error:
        raise DataSourceError(f"CIFAR-10 source {where}: {name!r}: {error}.") from None
    except Exception as error:  # a damaged member: Pillow and pickle raise many types
        raise DataSourceError(
            f"CIFAR-10 source {where}: {name!r} could not be decoded ({type(error).__name__}: "
            f"{_one_line(error)}); download or extract it again."
        ) from error


# -------------------------------------------------------------- image folders


def _natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _split_entries(paths):
    """Groups `(path_parts, handle)` pairs into {split: {class: [(name, handle, path)]}}.

    An image belongs to split `train`/`test` when its path is
    `.../<split>/<class>/<file>`.
    """
    splits = {"train": {}, "test": {}}
    for parts, handle in paths:
        if len(parts) < 3 or not parts[-1].lower().endswith(IMAGE_SUFFIXES):
            continue
        if "__MACOSX" in parts or parts[-1].startswith("._"):  # macOS zip metadata
            continue
        split, label = parts[-3], parts[-2]
        if split in splits:
            splits[split].setdefault(label, []).append((parts[-1], handle, "/".join(parts)))
    return splits


def _class_order(splits, where):
    for split in ("train", "test"):
        if not splits[split]:
            raise DataSourceError(
                f"No {split}/<class>/<image> files found in {where}; {EXPECTED_SOURCES}."
            )
    train_classes, test_classes = set(splits["train"]), set(splits["test"])
    if train_classes != test_classes:
        raise DataSourceError(
            f"The train and test class folders differ in {where}: "
            f"only in train {sorted(train_classes - test_classes)}, "
            f"only in test {sorted(test_classes - train_classes)}."
        )
    if train_classes == set(CLASS_NAMES):
        return CLASS_NAMES
    return tuple(sorted(train_classes))


def _decode_image(data):
    """A 32x32 RGB array from one image's bytes; the size is checked before the pixels decode."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.size != IMAGE_SHAPE[1::-1]:
            raise DataSourceError(
                f"CIFAR-10 images are 32x32 RGB; this one is {image.size[0]}x{image.size[1]}"
            )
        return np.asarray(image.convert("RGB"))


def _decode_split(by_class, names, read, where):
    """Decodes a split class-interleaved, so that every prefix is balanced."""
    columns = [sorted(by_class[name], key=lambda item: _natural_key(item[0])) for name in names]
    order = [
        (label, column[i])
        for i in range(max(len(column) for column in columns))
        for label, column in enumerate(columns)
        if i < len(column)
    ]
    images = np.empty((len(order), *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(len(order), dtype=np.int64)
    for index, (label, (_, handle, member)) in enumerate(order):
        images[index] = _decoded(
            _decode_image, lambda handle=handle, member=member: read(handle, member), member, where
        )
        labels[index] = label
    return images, labels


def _decode_image_splits(splits, where, read):
    names = _class_order(splits, where)
    train = _decode_split(splits["train"], names, read, where)
    test = _decode_split(splits["test"], names, read, where)
    return train, test, names


def _read_image_tree(files):
    root = files[0]
    entries = [
        ((*item.relative_to(root).parts,), item) for item in root.rglob("*") if item.is_file()
    ]
    where = repr(str(root))

    def read(path, member):
        _check_size(path.stat().st_size, MAX_IMAGE_BYTES, member)
        return path.read_bytes()

    return _decode_image_splits(_split_entries(entries), where, read)


def _read_image_zips(files):
    archives = []
    try:
        for file in files:
            try:
                archives.append(zipfile.ZipFile(file))
            except zipfile.BadZipFile as error:
                raise DataSourceError(
                    f"Zip file {str(file)!r} is damaged or truncated ({_one_line(error)}); "
                    "download or "
                    "copy it again."
                ) from error
        entries = [
            ((*pathlib.PurePosixPath(info.filename).parts,), (archive, info))
            for archive in archives
            for info in archive.infolist()
            if not info.is_dir()
        ]
        where = " + ".join(repr(str(file)) for file in files)
        splits = _split_entries(entries)
        _check_zip_members(
            [
                handle[1]
                for split in splits.values()
                for items in split.values()
                for _, handle, _ in items
            ],
            where,
        )

        def read(handle, member):
            archive, info = handle
            with archive.open(info) as stream:
                data = stream.read(MAX_IMAGE_BYTES + 1)  # the declared size may lie
            _check_size(len(data), MAX_IMAGE_BYTES, member)
            return data

        return _decode_image_splits(splits, where, read)
    finally:
        for archive in archives:
            archive.close()


def _check_zip_members(infos, where):
    """Refuses, before reading any, image members whose declared sizes or compression
    ratios no CIFAR-10 image has (a zip bomb), and a total past `MAX_ZIP_BYTES`."""
    total = 0
    for info in infos:
        _check_size(info.file_size, MAX_IMAGE_BYTES, info.filename, where)
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise DataSourceError(
                f"CIFAR-10 source {where}: {info.filename!r} declares {info.file_size:,} bytes "
                f"compressed to {info.compress_size:,}, more than {MAX_COMPRESSION_RATIO}x (a "
                "possible zip bomb); the source is damaged or not CIFAR-10."
            )
        total += info.file_size
    if total > MAX_ZIP_BYTES:
        raise DataSourceError(
            f"CIFAR-10 source {where} declares {total:,} bytes of images, more than the "
            f"{MAX_ZIP_BYTES:,} allowed; is it the right file?"
        )


# ------------------------------------------------------------ download, cache


def _download():
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as error:  # urllib/HTTP errors vary by platform
        raise DataSourceError(
            f"Could not download CIFAR-10 ({type(error).__name__}: {error}); without internet, "
            f"pass --data with a local copy: {EXPECTED_SOURCES}."
        ) from error
    return _checked(
        x_train, y_train.reshape(-1), x_test, y_test.reshape(-1), CLASS_NAMES, "download"
    )


def _checked(x_train, y_train, x_test, y_test, names, where):
    classes = len(names)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.dtype != np.uint8 or x.shape[1:] != IMAGE_SHAPE or len(x) != len(y) or not len(x):
            raise DataSourceError(
                f"CIFAR-10 source {str(where)!r}: the {split} split is not a non-empty set of "
                f"32x32x3 uint8 images with one label each "
                f"(got {x.shape} {x.dtype}, {len(y)} labels)."
            )
        if y.min() < 0 or y.max() >= classes:
            raise DataSourceError(
                f"CIFAR-10 source {str(where)!r}: {split} labels must lie in 0..{classes - 1}."
            )
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64)), tuple(names)


def _read_cache(cache_file):
    """The decoded arrays cached in `cache_file`, or None: a missing, damaged or unreadable
    cache only means decoding again (a warning unless it is simply missing)."""
    _files.clean_stale_once(cache_file.parent, ("*.npz.tmp",))
    try:
        with np.load(cache_file, allow_pickle=False) as data:
            return (
                (data["x_train"], data["y_train"]),
                (data["x_test"], data["y_test"]),
                tuple(str(name) for name in data["class_names"]),
            )
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as error:  # noqa: BLE001 - numpy/zipfile raise many kinds for a bad file
        _cache_warning(
            f"the decoded CIFAR-10 cache {cache_file} cannot be read "
            f"({type(error).__name__}: {error}); decoding the source again"
        )
        return None


def _write_cache(cache_file, result):
    """Caches the decoded arrays in `cache_file` (umask permissions, atomic); a cache folder
    that cannot be written is a warning: the data is already decoded."""
    (x_train, y_train), (x_test, y_test), names = result
    tmp = _files.temporary_path(cache_file, suffix=".npz")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            np.savez(
                out,
                x_train=x_train,
                y_train=y_train,
                x_test=x_test,
                y_test=y_test,
                class_names=np.array(names),
            )
        _files.publish(tmp, cache_file)
    except OSError as error:
        _cache_warning(
            f"the decoded CIFAR-10 data could not be cached in {cache_file.parent} "
            f"({error}); it is decoded again next time"
        )
    finally:
        if os.path.lexists(tmp):
            _files.remove(tmp)


def _cache_warning(message):
    import logging

    logging.getLogger("keras_dense.datasets").warning("%s", message)
