"""A fine-tuning run folder as a model: its best weights, preprocessing and class names.

`keras-dense train NAME --data DIR ...` writes a run folder (see
`keras_dense.training.run_folder`) whose `best.keras` starts with its weights'
preprocessing layer and whose `config.json` names the classes. `load_run`
opens it, and wherever a model name is taken (`predict`, `load_engine_model`,
`export`, `explain`), a run folder's path may be given instead: the
predictions then name the run's classes instead of ImageNet's.

Examples:
    >>> import keras_dense
    >>> model = keras_dense.load_run("runs/flowers")
    >>> model.keras_dense_class_names
    ['daisy', 'rose', 'tulip']
    >>> keras_dense.predict("rose.jpg", model="runs/flowers", top=1)
    [[('1', 'rose', 0.97)]]
"""

import json
import os
import pathlib

import keras
import numpy as np

CONFIG_FILE = "config.json"
BEST_FILE = "best.keras"
SPLIT_FILE = "split.json"
FOLDER_KIND = "folder"
NAMES_ATTRIBUTE = "keras_dense_class_names"

_LOADED = {}  # (run folder, best.keras mtime) -> the model, so a command loads it once


def is_run(model) -> bool:
    """Whether `model` is the path of a run folder (a folder holding `config.json`)."""
    if not isinstance(model, (str, os.PathLike)):
        return False
    return (pathlib.Path(model) / CONFIG_FILE).is_file()


def read_run_config(run: str | os.PathLike) -> dict:
    """The `config.json` of a fine-tuning run folder.

    Raises:
        ValueError: `run` is not a run fine-tuned on an image folder, or has no
            `best.keras` yet.
    """
    run = pathlib.Path(run)
    try:
        config = json.loads((run / CONFIG_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{str(run)!r} is not a training run folder ({CONFIG_FILE}: {type(error).__name__})."
        ) from None
    if not isinstance(config, dict) or config.get("kind") != FOLDER_KIND:
        raise ValueError(
            f"{str(run)!r} is not a run fine-tuned on an image folder (`keras-dense train "
            "NAME --data DIR --weights ...`); use `keras-dense evaluate` for CIFAR-10 runs."
        )
    if not (run / BEST_FILE).is_file():
        raise ValueError(f"{str(run)!r} has no {BEST_FILE} yet: no epoch has completed.")
    return config


def load_run(run: str | os.PathLike) -> keras.Model:
    """The best model of a fine-tuning run, taking RGB pixels 0-255, with its class names.

    Args:
        run: the run folder written by `keras-dense train NAME --data DIR ...`.

    Returns:
        The `keras.Model` of `best.keras` (uncompiled); its attribute
        `keras_dense_class_names` lists the classes of its outputs.

    Raises:
        ValueError: `run` is not a fine-tuning run folder with a `best.keras`.

    Examples:
        >>> model = load_run("runs/flowers")
        >>> model.keras_dense_class_names[0]
        'daisy'
    """
    config = read_run_config(run)
    best = pathlib.Path(run) / BEST_FILE
    key = (str(pathlib.Path(run).resolve()), best.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED.clear()  # one run kept: a command uses one
        model = keras.saving.load_model(best, compile=False)
        setattr(model, NAMES_ATTRIBUTE, list(config["class_names"]))
        _LOADED[key] = model
    return _LOADED[key]


def class_names_of(model) -> list | None:
    """The class names a run's model carries, or None (an ImageNet model)."""
    return getattr(model, NAMES_ATTRIBUTE, None)


def carry_class_names(source, target):
    """Gives `target` (a copy of `source` for an engine) `source`'s class names; returns it."""
    names = class_names_of(source)
    if names is not None:
        try:
            setattr(target, NAMES_ATTRIBUTE, names)
        except AttributeError:  # an object that takes no attributes: its predictions lose names
            pass
    return target


def decode_run_predictions(probabilities, names, top=5):
    """Per row, the `top` classes as `(index, name, probability)`, most probable first."""
    probabilities = np.asarray(probabilities)
    top = min(top, probabilities.shape[-1])
    order = np.argsort(-probabilities, axis=-1, kind="stable")[:, :top]
    return [
        [(str(int(i)), names[int(i)], float(row[i])) for i in indices]
        for row, indices in zip(probabilities, order)
    ]


def validation_images(run: str | os.PathLike, limit: int | None = None) -> list[str]:
    """The run's validation image files (from its `split.json`), the first `limit` of them
    taken evenly over the classes."""
    run = pathlib.Path(run)
    try:
        split = json.loads((run / SPLIT_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{str(run)!r} has no readable {SPLIT_FILE} ({error}).") from None
    by_class = {}
    for path, label in split["val"]:
        by_class.setdefault(label, []).append(os.path.join(split["root"], path))
    chosen = []
    for rank in range(max(map(len, by_class.values()), default=0)):
        chosen.extend(files[rank] for files in by_class.values() if rank < len(files))
    return chosen[:limit] if limit else chosen
