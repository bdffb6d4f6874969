"""The engine cache: exported models kept on disk, keyed by what they were made from.

Folder: `keras_dense._paths.cache_dir("engines")`, `$KERAS_DENSE_CACHE/engines` when
that variable is set, else `$KERAS_HOME/keras_dense/engines` (default
`~/.keras/keras_dense/engines`).
Each entry is a folder `<model>-<engine>-<precision>-<digest>` holding the
export (`model.onnx`, or `model.xml` + `model.bin`) and `entry.json`: the key
(model name, weights identity, engine, precision, architecture, keras_dense
version), the sha256 of every file and the export's check report. The digest
is that of the key, so other weights or another architecture make another entry.

An entry is used only when its `entry.json` holds the same key and every file
has its recorded hash; a damaged or incomplete entry is deleted (and the
caller rebuilds it), never trusted. Entries are written in a temporary folder
and renamed into place, so a crash or a concurrent writer leaves no half entry;
writing a new entry for the same model, engine, precision and weights source
(tag or file) deletes the entries it replaces. Entries get the umask's modes
(a cache shared by two users works for both); temporaries left by a killed
process are removed after a day, when the cache is next used.

The cache is an optimisation: an entry that cannot be read is a warning and
is exported again, and a cache folder that cannot be written (a read-only home,
`KERAS_DENSE_CACHE` naming a file) is a warning, the export then living in a
temporary folder for this process only.

Example:
    >>> from keras_dense.inference import cache
    >>> key = cache.entry_key("densenet169", cache.published_identity(record), "onnxruntime",
    ...                       "float32", architecture=repr(model_record.config))
    >>> cache.lookup(key)          # the verified export's path, or None
"""

import atexit
import hashlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
import zlib

import keras_dense
from keras_dense import _files, _paths
from keras_dense._choices import RUNTIME_ENGINES
from keras_dense.weights.resolve import file_hash  # hashed once per size and time

ENTRY_FILE = "entry.json"
# engine (one of `keras_dense._choices.RUNTIME_ENGINES`) -> (export format, the file the
# runtime opens)
ENGINE_FILES = {"onnxruntime": ("onnx", "model.onnx"), "openvino": ("openvino", "model.xml")}

logger = logging.getLogger("keras_dense.inference")

# The temporary names earlier versions left behind (a killed export's staging folder, the
# decoded-CIFAR and download temporaries that may share $KERAS_DENSE_CACHE's folders).
LEGACY_TEMPORARIES = (".staging-*", "*.part[0-9]*", "*.npz.tmp", ".*.tmp")
_PROCESS_ENTRIES = {}  # entry folder -> a temporary entry, when the cache cannot be written


def clean_stale(folder):
    """Removes temporaries older than a day from a cache `folder`, once per process."""
    return _files.clean_stale_once(folder, LEGACY_TEMPORARIES)


def cache_dir() -> pathlib.Path:
    """The folder holding the exported models, `_paths.cache_dir("engines")` (not created)."""
    return _paths.cache_dir(_paths.ENGINES)


def published_identity(weights_record):
    """The identity of published weights: their tag and the published (with-top) file's hash."""
    weights_file = weights_record.file_for(True)
    return {
        "source": weights_record.name,
        "hash": f"{weights_file.hash_algorithm}:{weights_file.file_hash}",
    }


def file_identity(path):
    """The identity of a weights file: its path, size, modification time and sha256."""
    path = pathlib.Path(path).resolve()
    stat = path.stat()
    return {
        "source": str(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "hash": f"sha256:{file_hash(path, 'sha256')}",
    }


def weights_fingerprint(model):
    """The identity of a built model's current weights: a CRC-32 of every variable's bytes.

    About 0.1 s for DenseNet-169's 14 million values on the 2-core CPU (mostly
    reading the variables); a model trained or reloaded since gets another one.
    """
    import keras
    import numpy as np

    digest = hashlib.sha256()
    for variable in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{variable.path}{value.shape}{value.dtype}{zlib.crc32(value)};".encode())
    return {"source": f"model:{model.name}", "hash": f"weights-crc32:{digest.hexdigest()}"}


def entry_key(
    model_name: str, weights_identity: dict, engine: str, precision: str, architecture: str
) -> dict:
    """The cache key (a dict) of one export.

    Args:
        model_name: the model's name.
        weights_identity: `published_identity`, `file_identity` or `weights_fingerprint`.
        engine: `"onnxruntime"` or `"openvino"`.
        precision: the precision the runtime computes in.
        architecture: text that changes whenever the architecture does (a
            record's config, or a built model's JSON).

    Returns:
        The key: model, weights, engine, precision, architecture digest, version.
    """
    if engine not in RUNTIME_ENGINES:
        raise ValueError(
            f"The engine cache holds {', '.join(RUNTIME_ENGINES)} exports; got {engine!r}."
        )
    return {
        "model": model_name,
        "weights": weights_identity,
        "engine": engine,
        "precision": precision,
        "architecture": hashlib.sha256(architecture.encode()).hexdigest()[:16],
        "keras_dense": keras_dense.__version__,
    }


def _digest(key):
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _prefix(key):
    return f"{key['model']}-{key['engine']}-{key['precision']}-"


def entry_dir(key):
    """The folder of the entry for `key` (existing or not)."""
    return cache_dir() / f"{_prefix(key)}{_digest(key)}"


def export_path(key):
    """The path of the file the runtime opens, inside the entry of `key`."""
    return entry_dir(key) / ENGINE_FILES[key["engine"]][1]


def _problem(folder, key):
    """Why the entry at `folder` cannot be used for `key`, or None when it can."""
    try:
        entry = json.loads((folder / ENTRY_FILE).read_text())
    except (OSError, ValueError) as error:
        return f"its {ENTRY_FILE} cannot be read ({error})"
    if entry.get("key") != key:
        return "it was made for another key"
    for name, expected in entry.get("files", {}).items():
        if not (folder / name).is_file():
            return f"{name} is missing"
        if file_hash(folder / name, "sha256") != expected:
            return f"{name} does not have its recorded sha256"
    if not entry.get("files"):
        return "it lists no files"
    return None


def read_entry(key):
    """The `entry.json` content of the verified entry for `key`, or None."""
    path = lookup(key)
    try:
        return json.loads((path.parent / ENTRY_FILE).read_text()) if path else None
    except (OSError, ValueError):
        return None


def lookup(key):
    """The path of the verified export for `key`, or None (a damaged entry is deleted; one
    that cannot be read is a warning and counts as absent).

    A file is hashed once per process and size and modification time (`file_hash`).
    """
    folder = entry_dir(key)
    private = _PROCESS_ENTRIES.get(str(folder))
    if private is not None and _problem(private, key) is None:
        return private / ENGINE_FILES[key["engine"]][1]
    clean_stale(folder.parent)
    try:
        if not folder.exists():
            return None
        problem = _problem(folder, key)
    except OSError as error:
        logger.warning(
            "the cached export at %s cannot be read (%s); it is exported again", folder, error
        )
        return None
    if problem is None:
        return export_path(key)
    discard(key, f"the cached export at {folder} is not usable: {problem}; it is rebuilt")
    return None


def lookup_calibrated(key):
    """`(path, full key)` of a verified entry whose key is `key` plus a calibration set
    (int8, whatever images calibrated it), or None. Writing an entry replaces the older
    ones of the same weights, so there is at most one."""
    root = cache_dir()
    if not root.is_dir():
        return None
    for folder in sorted(root.glob(f"{_prefix(key)}*")):
        if _files.TEMP_MARK in folder.name:
            continue
        try:
            full = json.loads((folder / ENTRY_FILE).read_text()).get("key", {})
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(full, dict) or "calibration" not in full:
            continue
        if {k: v for k, v in full.items() if k != "calibration"} == key:
            path = lookup(full)
            if path is not None:
                return path, full
    return None


def discard(key, reason):
    """Deletes the entry of `key`, logging `reason`."""
    logger.warning("%s", reason)
    shutil.rmtree(entry_dir(key), ignore_errors=True)
    private = _PROCESS_ENTRIES.pop(str(entry_dir(key)), None)
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)


def store(key, write):
    """Writes a new entry for `key` and returns the path of its export.

    When the cache folder cannot be written, the entry is written to a temporary
    folder instead (a warning says so), used by this process and deleted at its end.

    Args:
        key: from `entry_key`.
        write: `write(path)` writes the export to `path` (the file the runtime
            opens; an OpenVINO `.bin` goes beside it) and returns a dict of
            details kept in `entry.json` (e.g. the check report).

    Returns:
        The path of the export (`export_path(key)` when it was cached).
    """
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        clean_stale(root)
        staging = _files.temporary_path(entry_dir(key))
        staging.mkdir()
    except OSError as error:
        logger.warning(
            "the engine cache %s cannot be written (%s); the export is not cached "
            "and is used by this process only",
            root,
            error,
        )
        return _store_for_this_process(key, write)
    try:
        _write_entry(staging, key, write)
        try:
            _replace_older_entries(key)
            for item in staging.iterdir():
                os.chmod(item, _files.file_mode())  # whatever the exporter's library made
            _files.publish(staging, entry_dir(key))
        except OSError as error:
            if lookup(key) is not None:  # another process stored the same entry meanwhile
                return export_path(key)
            logger.warning(
                "the export could not be stored in the engine cache %s (%s); it "
                "is used by this process only",
                root,
                error,
            )
            return _keep_for_this_process(key, staging)
        return export_path(key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_entry(folder, key, write):
    main_file = ENGINE_FILES[key["engine"]][1]
    details = write(folder / main_file)
    files = {f.name: file_hash(f, "sha256") for f in sorted(folder.iterdir()) if f.is_file()}
    (folder / ENTRY_FILE).write_text(
        json.dumps({"key": key, "files": files, **details}, indent=2) + "\n"
    )


def _process_folder():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="keras-dense-engines-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _store_for_this_process(key, write):
    folder = _process_folder()
    _write_entry(folder, key, write)
    _PROCESS_ENTRIES[str(entry_dir(key))] = folder
    return folder / ENGINE_FILES[key["engine"]][1]


def _keep_for_this_process(key, staging):
    folder = _process_folder()
    for item in staging.iterdir():
        shutil.move(str(item), folder / item.name)
    _PROCESS_ENTRIES[str(entry_dir(key))] = folder
    return folder / ENGINE_FILES[key["engine"]][1]


def _replace_older_entries(key):
    """Deletes entries for the same model, engine, precision and weights source with another key."""
    source = key["weights"].get("source")
    for folder in cache_dir().glob(f"{_prefix(key)}*"):
        if _files.TEMP_MARK in folder.name:
            continue
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text())
        except (OSError, ValueError):
            continue
        if (
            entry.get("key", {}).get("weights", {}).get("source") == source
            and entry.get("key") != key
        ):
            shutil.rmtree(folder, ignore_errors=True)
