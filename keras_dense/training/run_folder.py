"""The files of a training run folder, each written atomically (temporary name, then rename).

Why not Keras's `BackupAndRestore` / `ModelCheckpoint` / `CSVLogger`: they
write in place (a kill mid-write leaves a broken file), `BackupAndRestore`
keeps the epoch in a second file that can disagree with the weights, and
`CSVLogger` appends, so epochs repeated after a resume would appear twice.
Here `last.keras` holds the model, its optimizer state and the run's state
(epoch, history, best accuracy) in one file, and `history.csv` is rewritten
from that history.

A run folder holds `config.json` (written first), `last.keras`, `best.keras`,
`history.csv`, `curves.png`, and at the end `metrics.json` and `confusion.png`.

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

from keras_dense._files import write_atomic

CONFIG_FILE = "config.json"
LAST_FILE = "last.keras"
BEST_FILE = "best.keras"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
STATE_ENTRY = "keras_dense_state.json"
HISTORY_COLUMNS = (
    "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
    "epoch_seconds", "train_seconds", "images_per_second",
)


def write_json(path, payload):
    """Writes `payload` as indented JSON, atomically."""
    write_atomic(path, json.dumps(payload, indent=2))


def save_model_atomic(model, path, state=None):
    """Saves `model` (and optionally a state entry inside the .keras zip) atomically."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")  # Keras insists on the suffix
    try:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
        raise ValueError(f"{str(run_dir)!r} is not a training run folder ({CONFIG_FILE} is missing).")
    return json.loads(path.read_text())


def write_history(run_dir, rows):
    """Rewrites `history.csv` from the history rows (test columns empty when not tested)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()}
                     for row in rows)
    write_atomic(pathlib.Path(run_dir) / HISTORY_FILE, buffer.getvalue())


def read_history(run_dir):
    """The rows of `history.csv` as dicts of numbers (None where an epoch was not tested)."""
    with open(pathlib.Path(run_dir) / HISTORY_FILE, newline="") as handle:
        return [
            {key: None if value == "" else (int(value) if key == "epoch" else float(value))
             for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]
