"""One record per model and per weight file; every list, table and test reads them.

A `ModelRecord` holds everything the library knows about one model name: its
architecture config (which names the family and the builder frame builds
from), a description, the parameter count of the default build, a tiny
variant for tests, and its weight files (`WeightsRecord`, one per tag; a
model may have several, named `model.tag`, e.g. `densenet169.keras_imagenet`).
`keras-dense list`, `keras-dense weights list`, the docs tables and the
test table are all made from these records (timm's `default_cfgs`,
torchvision's `Weights` + `meta`).

Example:
    >>> from keras_dense.models import _registry
    >>> record = _registry.model_record("densenet169")
    >>> record.default_weights.name, record.preprocess
    ('densenet169.keras_imagenet', 'torch')
"""

import dataclasses
import difflib
import fnmatch
import importlib
from typing import Optional

from keras_dense import _families

# Modules whose import registers their family's records, in listing order.
FAMILY_MODULES = tuple(_families.module_name(family) for family in _families.FAMILIES)
# "imagenet" asks for a model's first (default) weight tag, as keras.applications spells it.
DEFAULT_WEIGHTS_ALIAS = "imagenet"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable file.

    Attributes:
        file_name: the published name (also its name in the caches searched).
        url: where it is downloaded from.
        file_hash: its published hash (hex).
        hash_algorithm: `"md5"` (Keras) or `"sha256"` (torchvision).
    """

    file_name: str
    url: str
    file_hash: str
    hash_algorithm: str = "md5"


@dataclasses.dataclass(frozen=True)
class WeightsRecord:
    """One set of published weights for one model (a weight tag).

    Attributes:
        tag: the tag, e.g. `"keras_imagenet"`; the record's full name is `model.tag`.
        file: the file with the classifier.
        notop_file: the file without the classifier, where one is published
            (Keras publishes both); otherwise `file` is loaded by name without
            the classifier.
        file_format: `"keras_h5"` (Keras 2 HDF5, loaded as it is) or
            `"torch_state_dict"` (converted once, then cached).
        preprocess: the ImageNet preprocessing the weights were trained with:
            `"caffe"`, `"tf"` or `"torch"`.
        top1, top5: ImageNet validation accuracy (%) as published.
        notop_params: total parameters of the model built with `include_top=False`.
        arch: architecture overrides these weights need (e.g. the batch-norm
            epsilon they were trained with), applied when they are loaded.
        params: total parameters of the model built with the classifier, where
            `arch` changes the record's count (e.g. GoogLeNet's 3x3 "5x5"
            branch in torchvision's weights); `None`: the record's `params`.
        model: the model's name; `register` fills it in.
    """

    tag: str
    file: WeightsFile
    preprocess: str
    notop_params: int
    notop_file: Optional[WeightsFile] = None
    file_format: str = "keras_h5"
    top1: Optional[float] = None
    top5: Optional[float] = None
    arch: dict = dataclasses.field(default_factory=dict)
    params: Optional[int] = None
    model: str = ""

    @property
    def name(self):
        """`"densenet169.keras_imagenet"`."""
        return f"{self.model}.{self.tag}"

    def files(self):
        """`(include_top, WeightsFile)` for every published file of the tag."""
        rows = [(True, self.file)]
        if self.notop_file is not None:
            rows.append((False, self.notop_file))
        return rows

    def file_for(self, include_top):
        """The file to load for a model with (or without) its classifier."""
        if not include_top and self.notop_file is not None:
            return self.notop_file
        return self.file


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """Everything the library knows about one model name.

    Attributes:
        name: lower-case registry name, e.g. `"densenet169"`.
        config: the family's architecture config (`keras_dense.models._builder.ArchConfig`).
        description: one line for `keras-dense list` and the docs tables.
        params: total parameters (trainable + batch-norm statistics) of the
            default build; checked against a built model by the tests.
        weights: the model's `WeightsRecord`s; the first is its default
            (`weights="imagenet"`). Tags are keywords: `weights="imagenet"`, a tag or
            `model.tag` never reads a file of that name
            (`keras_dense.weights.resolve.classify_weights_argument`).
        tiny: builder arguments of a small variant for tests and quick
            experiments (growth 2-4, 32x32 inputs where the model allows).
    """

    name: str
    config: object
    description: str
    params: int
    weights: tuple = ()
    tiny: dict = dataclasses.field(default_factory=dict)

    @property
    def family(self):
        return self.config.family

    @property
    def input_shape(self):
        return self.config.input_shape

    @property
    def classes(self):
        return self.config.classes

    @property
    def default_weights(self):
        """The first `WeightsRecord`, or `None` for a model without published weights."""
        return self.weights[0] if self.weights else None

    @property
    def preprocess(self):
        """Preprocessing mode of the default weights, or `None`."""
        return self.default_weights.preprocess if self.weights else None

    @property
    def builder(self):
        """The public builder function made for this record by `register`."""
        return _BUILDERS[self.name]

    def weights_record(self, tag):
        """The `WeightsRecord` for `tag` (`"imagenet"`: the default one), case-insensitive
        as model names are.

        Raises:
            ValueError: the model has no weights of that tag.
        """
        key = str(tag).lower()
        if key == DEFAULT_WEIGHTS_ALIAS and self.weights:
            return self.weights[0]
        for weights in self.weights:
            if key in (weights.tag.lower(), weights.name.lower()):
                return weights
        known = ", ".join(w.tag for w in self.weights)
        raise ValueError(
            f"Model {self.name!r} has no published weights tagged {tag!r}; "
            + (f"its tags are {known}." if known else "it has no published weights: ")
            + "pass weights=None or a path to a weights file."
        )

    def build(self, **kwargs):
        """Builds the model with `kwargs` (keras.applications arguments and config overrides)."""
        return self.builder(**kwargs)


_RECORDS = {}
_BUILDERS = {}


def register(record):
    """Registers a `ModelRecord` and returns its public builder.

    The builder takes the `keras.applications` arguments plus keyword
    overrides of the record's config fields (see `_builder.build_model`).

    Args:
        record: the `ModelRecord`.

    Returns:
        The builder function, named after the record.

    Example:
        >>> DenseNet121 = register(ModelRecord("densenet121", DenseNetConfig(blocks=(6, 12, 24, 16)),
        ...                                    "DenseNet-121", params=8_062_504))
    """
    from keras_dense.models import _builder

    name = record.name
    if name != name.lower():
        raise ValueError(f"Model names are lower-case; got {name!r}.")
    if name in _RECORDS:
        raise ValueError(f"A model named {name!r} is already registered.")
    weights = tuple(dataclasses.replace(w, model=name) for w in record.weights)
    tags = [w.tag for w in weights]
    if len(set(tags)) != len(tags):
        raise ValueError(f"Model {name!r} has repeated weight tags: {tags}.")
    record = dataclasses.replace(record, weights=weights)
    _RECORDS[name] = record
    _BUILDERS[name] = _builder.record_builder(record)
    return _BUILDERS[name]


def _load_families():
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def list_models(pattern: Optional[str] = None, family: Optional[str] = None,
                weights: bool = False) -> list:
    """Registered model names, in `model_records()` order.

    Args:
        pattern: optional shell-style pattern, e.g. `"densenet_bc*"`.
        family: optional family name to keep, e.g. `"resnet"` (one of
            `keras_dense._families.FAMILIES`, or an alias such as `"inception"`).
        weights: keep only models with published weights.

    Returns:
        A list of names.

    Examples:
        >>> list_models("densenet*", weights=True)
        ['densenet121', 'densenet169', 'densenet201']
    """
    family = None if family is None else _families.family_name(family)
    return [
        record.name for record in model_records()
        if (family is None or record.family == family)
        and (pattern is None or fnmatch.fnmatch(record.name, pattern.lower()))
        and (not weights or record.weights)
    ]


def _family_rank(record):
    module = type(record.config).__module__
    return FAMILY_MODULES.index(module) if module in FAMILY_MODULES else len(FAMILY_MODULES)


def model_records():
    """Every `ModelRecord`: families in `FAMILY_MODULES` order, each in registration order."""
    _load_families()
    return sorted(_RECORDS.values(), key=_family_rank)  # stable: keeps registration order


def weights_records():
    """Every `WeightsRecord` of every model, in registration order."""
    return [weights for record in model_records() for weights in record.weights]


def model_record(name):
    """The `ModelRecord` of `name` (case-insensitive).

    Raises:
        ValueError: the name is unknown; the message lists close matches.
    """
    _load_families()
    key = str(name).lower()
    if key not in _RECORDS:
        close = difflib.get_close_matches(key, list(_RECORDS), n=5, cutoff=0.5)
        hint = (f" Did you mean: {', '.join(close)}?" if close
                else " Run `keras-dense list` to see the available models.")
        raise ValueError(f"Unknown model {name!r}.{hint}")
    return _RECORDS[key]


def weights_record(full_name):
    """The `WeightsRecord` named `model.tag`, e.g. `"densenet169.keras_imagenet"`."""
    model, sep, tag = str(full_name).partition(".")
    if not sep:
        raise ValueError(f"Weight names are MODEL.TAG, e.g. densenet169.keras_imagenet; "
                         f"got {full_name!r}.")
    return model_record(model).weights_record(tag)


def record_for_config(config):
    """The record whose published weights fit `config`, or `None`.

    Lets a family's general builder (e.g. `DenseNet([6, 12, 24, 16])`) load the
    weights of the matching named model, as `keras.applications` does.
    """
    signature = config.weights_signature()
    for record in model_records():
        if record.weights and type(record.config) is type(config) \
                and record.config.weights_signature() == signature:
            return record
    return None


def get_model(name, **kwargs):
    """Builds a registered model.

    Args:
        name: registry name (case-insensitive), see `list_models()`.
        **kwargs: builder arguments: `weights` (`None`, `"imagenet"`, a tag
            such as `"keras_imagenet"`, or a path), `include_top`, `classes`,
            `input_shape`, ..., and overrides of the architecture config
            (e.g. `growth_rate=4`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = get_model("densenet121", weights=None, classes=10)
    """
    return model_record(name).build(**kwargs)
