"""The files of a training run folder, each written atomically (temporary name, then rename).

Why not Keras's `BackupAndRestore` / `ModelCheckpoint` / `CSVLogger`: they
write in place (a kill mid-write leaves a broken file), `BackupAndRestore`
keeps the epoch in a second file that can disagree with the weights, and
`CSVLogger` appends, so epochs repeated after a resume would appear twice.
Here `last.keras` holds the model, its optimizer state and the run's state
(epoch, history, best accuracy) in one file, and `history.csv` is rewritten
from that history.

A run folder holds `config.json` (written first), `last.keras`, `best.keras`,
`history.csv`, `curves.png`, and at the end `metrics.json` and `confusion.png`
(a run fine-tuned on an image folder also `split.json`, its files by split);
while a run writes it, `.keras-dense.lock` (`_files.FolderLock`). A new run
goes only into a missing or empty folder (`check_new_run`); `overwrite=True`
starts a previous run over, removing its files (`clear_run`), and a folder
holding anything else is never written into.

Example:
    >>> save_model_atomic(model, run / LAST_FILE, state={"epoch": 3, ...})
    >>> read_state(run / LAST_FILE)["epoch"]
    3
"""

import csv
import io
import json
import os
import pathlib
import zipfile

from keras_dense import _files
from keras_dense._files import write_atomic
from keras_dense.inference.runs import BEST_FILE, CONFIG_FILE, SPLIT_FILE

LAST_FILE = "last.keras"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
STATE_ENTRY = "keras_dense_state.json"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion.png"
RUN_FILES = frozenset(
    {
        CONFIG_FILE,
        LAST_FILE,
        BEST_FILE,
        HISTORY_FILE,
        METRICS_FILE,
        CURVES_FILE,
        CONFUSION_FILE,
        SPLIT_FILE,
    }
)
# The keys `train` writes to config.json (a lone config.json with others is not ours).
CONFIG_KEYS = frozenset(
    {
        "model",
        "model_kwargs",
        "recipe",
        "data",
        "subset",
        "test_subset",
        "seed",
        "dtype_policy",
        "mixed_precision",
        "jit_compile",
        "devices",
        "per_device_batch",
        "bn_momentum",
        "keras_version",
        "backend",
        # fine-tuning on an image folder (`folder_train`)
        "kind",
        "backbone",
        "weights",
        "freeze",
        "image_size",
        "val_split",
        "dropout",
        "preprocess",
        "class_names",
        "workers",
    }
)
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "epoch_seconds",
    "train_seconds",
    "images_per_second",
)


class RunFolderExistsError(_files.OutputExistsError, ValueError):
    """A run folder holds a run or other files (a `ValueError` too, as `train` raised before)."""


def write_json(path, payload):
    """Writes `payload` as indented JSON, atomically."""
    write_atomic(path, json.dumps(payload, indent=2))


def save_model_atomic(model, path, state=None):
    """Saves `model` (and optionally a state entry inside the .keras zip) atomically.

    Written under a unique temporary name (`_files.atomic_path`; Keras insists on
    the `.keras` suffix), fsynced, then renamed over `path`.
    """
    with _files.atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))


def lock(run_dir: "str | os.PathLike") -> _files.FolderLock:
    """The `FolderLock` a run holds while it writes `run_dir`."""
    return _files.FolderLock(run_dir, what="the run folder")


# The temporaries `save_model_atomic` wrote before it used `_files.atomic_path`.
LEGACY_TEMPORARIES = frozenset({".last.tmp.keras", ".best.tmp.keras"})


def _is_ours(name):
    return name == _files.FolderLock.FILE or _files.TEMP_MARK in name or name in LEGACY_TEMPORARIES


def _lone_config_of_ours(run_dir):
    try:
        config = json.loads((pathlib.Path(run_dir) / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and set(config) <= CONFIG_KEYS


def check_new_run(run_dir: "str | os.PathLike", overwrite: bool = False) -> None:
    """Raises `RunFolderExistsError` (one line, with the fix) unless a new run may go to `run_dir`.

    A missing or empty folder takes a new run, and so does one holding only the
    `config.json` of a run that stopped in its first epoch (nothing else was
    written). A folder holding a run takes a new one only with `overwrite`; a
    folder holding anything that is not a run file, never.

    Args:
        run_dir: the run folder.
        overwrite: start a previous run in the folder over.

    Raises:
        RunFolderExistsError: the folder may not take a new run.
    """
    run_dir = pathlib.Path(run_dir)
    if not run_dir.exists() and not run_dir.is_symlink():
        return
    if not run_dir.is_dir():
        raise RunFolderExistsError(
            f"{str(run_dir)!r} is a file, not a run folder: choose another --out."
        )
    names = sorted(entry.name for entry in os.scandir(run_dir) if not _is_ours(entry.name))
    if not names or (names == [CONFIG_FILE] and _lone_config_of_ours(run_dir)):
        return
    others = [name for name in names if name not in RUN_FILES or not (run_dir / name).is_file()]
    if others:
        raise RunFolderExistsError(
            f"{str(run_dir)!r} holds files that are not a keras-dense run (e.g. {others[0]!r}), "
            "and keras-dense never writes a run into it (not even with --overwrite): choose "
            "another --out."
        )
    if overwrite:
        return
    if LAST_FILE in names:
        raise RunFolderExistsError(
            f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir}, start "
            "it over with --overwrite (overwrite=True), or choose another --out."
        )
    raise RunFolderExistsError(
        f"{str(run_dir)!r} holds a run with no checkpoint to resume from ({', '.join(names)}); "
        "start it over with --overwrite (overwrite=True), or choose another --out."
    )


def clear_run(run_dir: "str | os.PathLike") -> None:
    """Removes a previous run's files from `run_dir` (only those; see `check_new_run`)."""
    for name in RUN_FILES | LEGACY_TEMPORARIES:
        (pathlib.Path(run_dir) / name).unlink(missing_ok=True)
    _files.clean_stale(run_dir)


def read_state(checkpoint):
    """The state entry (epoch, history, best) saved inside a `last.keras` file."""
    try:
        with zipfile.ZipFile(checkpoint) as archive:
            return json.loads(archive.read(STATE_ENTRY))
    except (KeyError, zipfile.BadZipFile, ValueError) as error:
        raise ValueError(
            f"{str(checkpoint)!r} is not a keras-dense training checkpoint ({error})."
        ) from error


def read_config(run_dir):
    """The run's `config.json` as a dict."""
    path = pathlib.Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ValueError(
            f"{str(run_dir)!r} is not a training run folder ({CONFIG_FILE} is missing)."
        )
    return json.loads(path.read_text())


def write_history(run_dir, rows):
    """Rewrites `history.csv` from the history rows (test columns empty when not tested)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(
        {key: "" if value is None else value for key, value in row.items()} for row in rows
    )
    write_atomic(pathlib.Path(run_dir) / HISTORY_FILE, buffer.getvalue())


def read_history(run_dir):
    """The rows of `history.csv` as dicts of numbers (None where an epoch was not tested)."""
    with open(pathlib.Path(run_dir) / HISTORY_FILE, newline="") as handle:
        return [
            {
                key: None if value == "" else (int(value) if key == "epoch" else float(value))
                for key, value in row.items()
            }
            for row in csv.DictReader(handle)
        ]
