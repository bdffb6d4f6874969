"""The weights of registered models: what a `weights=` argument names, and loading it.

This is the registry's side of weights, above `keras_dense.weights` (which
finds, verifies, reads and converts files without looking a model up):

- `classify_weights_argument`: keywords before paths (`"imagenet"`, every tag and
  `model.tag` are names even beside a file of that name); the builder, predict,
  the engines and the CLI all ask it.
- `load_into`: a weight tag's files, or a weights file, loaded into a built model;
  a file named as a published one must hold the published bytes.
- `from_torchvision`: a torchvision state dict converted into a registered model
  (by name), or into a model keras_dense built.
- `converted_weights`: a torchvision or timm tag's file converted once and cached, into
  the model the registry builds for it; `published_path`: a tag's verified file.

Examples:
    >>> from keras_dense.models import pretrained
    >>> pretrained.classify_weights_argument("imagenet")
    ('tag', 'imagenet')
    >>> model = pretrained.from_torchvision("resnet18-f37072fd.pth", "resnet18")
"""

import dataclasses
import logging
import os
import pathlib
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Union

from keras_dense.models import _registry
from keras_dense.weights import STATE_DICT_SUFFIXES, converted, hub, resolve, torchvision
from keras_dense.weights.h5 import LoadReport, load_weights
from keras_dense.weights.records import WeightsFile, WeightsRecord
from keras_dense.weights.torch_state import read_state_dict

if TYPE_CHECKING:
    import keras

logger = logging.getLogger("keras_dense.weights")

# A `weights=` string ending so (or holding a path separator) is a file, never a keyword.
WEIGHTS_FILE_SUFFIXES = (".h5", ".hdf5", ".keras", ".pth", ".pt", ".bin", ".safetensors")
WEIGHTS_KINDS = ("none", "tag", "path")
_TAG_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _keywords():
    """`(tags, model names)`, lower-case: the tags of every record ("imagenet" included)."""
    records = _registry.model_records()
    tags = {_registry.DEFAULT_WEIGHTS_ALIAS}
    tags.update(w.tag.lower() for record in records for w in record.weights)
    return tags, {record.name for record in records}


def is_weights_keyword(text: str) -> bool:
    """Whether `text` names weights rather than a file: `"imagenet"`, any record's tag, or
    `model.tag` (a registered model, a dot, a tag-like word), compared case-insensitively."""
    tags, models = _keywords()
    key = text.lower()
    if key in tags:
        return True
    model, dot, tag = key.partition(".")
    return bool(dot) and model in models and bool(tag) and set(tag) <= _TAG_CHARACTERS


def classify_weights_argument(
    value: None | str | os.PathLike,
) -> tuple[str, None | str | os.PathLike]:
    """What a `weights=` argument (or `--weights` value) asks for, decided before any file is read.

    Keywords win: `None` or the word "none" is no weights; `"imagenet"`, a tag of any record
    and `model.tag` are weight names even when a file or folder of that name exists in the
    working folder (reach such a file as `./imagenet`). A `os.PathLike`, or a string with a
    path separator or a weights-file ending (`WEIGHTS_FILE_SUFFIXES`), is a path. Any other
    word is a path when it exists, else a name (so a mistyped tag is refused with the tags).

    Args:
        value: `None`, a string, or an `os.PathLike`.

    Returns:
        `(kind, value)`: `("none", None)`, `("tag", the string)` or `("path", the value)`;
        nothing is written, and only a bare word that is not a keyword is looked up on disk.

    Raises:
        ValueError: `value` is empty or of another type (one line).
    """
    if value is None:
        return "none", None
    if isinstance(value, os.PathLike):
        return "path", value
    if not isinstance(value, str):
        raise ValueError(
            f"weights must be None, a weight tag or a path; got a "
            f"{type(value).__name__} ({value!r:.60})."
        )
    if not value.strip():
        raise ValueError(
            "weights is an empty string; pass None, 'imagenet', a weight tag "
            "or a path to a weights file."
        )
    if value.lower() == "none":
        return "none", None
    separators = {"/", os.sep, os.altsep} - {None}
    if any(s in value for s in separators) or value.lower().endswith(WEIGHTS_FILE_SUFFIXES):
        return "path", value
    if is_weights_keyword(value):
        return "tag", value
    return ("path" if os.path.lexists(value) else "tag"), value


def published_path(name: str, include_top: bool = True, download: bool = True) -> pathlib.Path:
    """The verified local path of a published file, downloading it if allowed.

    Args:
        name: the weights' full name, e.g. `"densenet169.keras_imagenet"`.
        include_top: the file with the classifier, or the one without.
        download: whether a missing file may be downloaded.

    Returns:
        A `pathlib.Path`.
    """
    record = _registry.weights_record(name)
    if record.file.hub_repo is not None:
        return hub.hub_path(record.file, download=download)
    extra_dirs = (
        [converted.torch_checkpoints_dir()] if record.file_format == "torch_state_dict" else []
    )
    return resolve.resolve(record.file_for(include_top), download=download, extra_dirs=extra_dirs)


def find_published_file(
    predicate: Callable[[WeightsFile], bool],
) -> tuple[WeightsRecord, bool, WeightsFile] | None:
    """`(WeightsRecord, include_top, WeightsFile)` of the first published file for which
    `predicate(weights_file)` is true, or `None`."""
    for record in _registry.weights_records():
        for include_top, weights_file in record.files():
            if predicate(weights_file):
                return record, include_top, weights_file
    return None


def family_of(model: "keras.Model") -> str | None:
    """The family of a model built by keras_dense (its record's: `_registry.record_of`), or None."""
    record = _registry.record_of(model)[0]
    return record.family if record is not None else None


def weights_architecture(record: WeightsRecord) -> str:
    """Text naming the architecture `record`'s weights fit: its model's config with the
    tag's `arch` applied (the conversion cache converts again when it changes)."""
    config = dataclasses.replace(_registry.model_record(record.model).config, **record.arch)
    return repr(config.weights_signature())


def converted_weights(record: WeightsRecord, download: bool = True) -> pathlib.Path:
    """The converted Keras weights of a torchvision or timm tag (`keras_dense.weights.converted`),
    converted into the registry's model built with the tag's `arch` and its classifier.

    Args:
        record: a `WeightsRecord` with `file_format="torch_state_dict"` or
            `"timm_safetensors"`.
        download: whether a missing source file may be downloaded.

    Returns:
        The `pathlib.Path` of the `.weights.h5`.
    """
    model_record = _registry.model_record(record.model)
    return converted.converted_path(
        record,
        lambda: model_record.build(weights=None, **record.arch),
        weights_architecture(record),
        model_record.family,
        download=download,
    )


def _load_keras_h5(model, record, include_top):
    path = resolve.resolve(record.file_for(include_top))
    by_name = not include_top and record.notop_file is None
    return load_weights(model, path, by_name=by_name, require_all=True)


def _load_torch_state_dict(model, record, include_top):
    path = converted_weights(record)  # the file with the classifier, loaded by name
    return load_weights(model, path, by_name=True, require_all=True)


# file_format of a WeightsRecord -> loader(model, record, include_top) -> LoadReport
FORMAT_LOADERS = {
    "keras_h5": _load_keras_h5,
    "torch_state_dict": _load_torch_state_dict,
    "timm_safetensors": _load_torch_state_dict,
}


def load_into(
    model: "keras.Model", source: WeightsRecord | str | os.PathLike, include_top: bool = True
) -> LoadReport:
    """Loads published weights or a weights file into a model a builder just made.

    Args:
        model: the built `keras.Model`.
        source: a `WeightsRecord` (a weight tag) or a path to a weights file
            (a Keras `.h5` / `.weights.h5`, or a torchvision `.pth` or timm
            `.safetensors` state dict, converted on the way).
        include_top: whether the model has its classifier (picks the file).

    Returns:
        The `LoadReport` (also logged).

    Raises:
        WeightsFileError, WeightsMismatchError: the file cannot be read or does not fit.
        WeightsHashError: a published file has the wrong hash.
        WeightsUnavailableError: a published file is not available offline and
            cannot be downloaded.
    """
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        published = find_published_file(lambda f: f.file_name == path.name)
        if published is not None:  # a published file by name must be the published bytes
            resolve.check_hash(path, published[2])
        if path.suffix.lower() in STATE_DICT_SUFFIXES:
            report = torchvision.convert_into(model, path, family_of(model))
        else:
            report = load_weights(model, path)
    else:
        loader = FORMAT_LOADERS.get(source.file_format)
        if loader is None:
            raise ValueError(
                f"{source.name}: weights in the {source.file_format!r} format "
                "cannot be loaded by this version of keras_dense."
            )
        report = loader(model, source, include_top)
    if report.skipped:
        warnings.warn(str(report), stacklevel=3)
    logger.info("%s", report)
    return report


def from_torchvision(
    source: str | os.PathLike | dict, model: Union[str, "keras.Model"], family: str | None = None
) -> "keras.Model":
    """Converts torchvision weights (or timm's, which share their key names) into a Keras model.

    Args:
        source: a `.pth` file (read with `torch.load(weights_only=True)`
            only), a `.safetensors` file (timm's `model.safetensors`, read
            without PyTorch) or a state dict (tensors or NumPy arrays).
        model: a registered model name (e.g. `"densenet161"`: the model is
            built with its torchvision tag's architecture and the state
            dict's class count) or a `keras.Model` built by keras_dense with
            the matching architecture.
        family: the family of a `keras.Model` whose name is not a registered one
            (default: the family of the registered model named `model.name`).

    Returns:
        The `keras.Model` holding the converted weights.

    Raises:
        WeightsMismatchError: the state dict is for another architecture (the
            first mismatching key and both shapes are named); nothing is assigned.
        WeightsFileError: the file is unreadable or not a plain state dict.
        TorchUnavailableError: a file was given and PyTorch is not installed.

    Examples:
        >>> model = from_torchvision("resnet18-f37072fd.pth", "resnet18")
        >>> model.save_weights("resnet18.weights.h5")
    """
    if isinstance(model, str):
        record = _registry.model_record(model)
        state = torchvision.normalize_keys(read_state_dict(source))
        model = torchvision.build_for(record, state)
        source = state
    torchvision.convert_into(model, source, family or family_of(model))
    return model
