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
import inspect
import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keras_dense import _families
from keras_dense.weights.records import (  # noqa: F401  (the records' types, re-exported)
    DEFAULT_WEIGHTS_ALIAS,
    WeightsFile,
    WeightsRecord,
)

if TYPE_CHECKING:  # the registry itself does not import Keras
    import keras

# Every public builder's arguments and defaults (keras.applications'; `classes` and `name`
# default to the record's), in keras.applications' positional order.
APPLICATION_ARGS = {
    "include_top": True,
    "weights": None,
    "input_tensor": None,
    "input_shape": None,
    "pooling": None,
    "classes": None,
    "classifier_activation": "softmax",
    "name": None,
}
# The attributes the builder frame sets on every model it builds (see `record_of`).
RECORD_ATTRIBUTE = "keras_dense_record"
WEIGHTS_ATTRIBUTE = "keras_dense_weights"
# Modules whose import registers their family's records, in listing order.
FAMILY_MODULES = tuple(_families.module_name(family) for family in _families.FAMILIES)


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
        """The public builder this record was registered with (`register_model`)."""
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

    def build(self, **kwargs: Any) -> Any:
        """Builds the model with `kwargs` (keras.applications arguments and config overrides)."""
        return self.builder(**kwargs)


_RECORDS = {}
_BUILDERS = {}


def register_model(record: ModelRecord) -> Callable[[Callable], Callable]:
    """Registers a `ModelRecord` with the public builder it decorates (timm's `register_model`).

    The builder is a `def` in the family's module with `keras.applications`'
    arguments, the record's name and class count as the defaults of `name` and
    `classes`, and `**overrides`; its body is
    `_builder.build_registered(record.name, locals())`.

    Args:
        record: the `ModelRecord`.

    Returns:
        A decorator that registers the builder under `record.name` and returns
        it unchanged.

    Raises:
        ValueError: the name is not lower-case or already registered, a weight
            tag repeats, or the builder's signature is not the frame's.

    Examples:
        >>> @register_model(ModelRecord("densenet121", DenseNetConfig(blocks=(6, 12, 24, 16)),
        ...                             "DenseNet-121", params=8_062_504))
        ... def DenseNet121(include_top: bool = True, ..., name: str = "densenet121",
        ...                 **overrides: Any) -> keras.Model:
        ...     \"\"\"DenseNet-121 (Huang et al., 2017).\"\"\"
        ...     return _builder.build_registered("densenet121", locals())
    """
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

    def decorator(builder):
        _check_builder(builder, record)
        _RECORDS[name] = record
        _BUILDERS[name] = builder
        return builder

    return decorator


def _check_builder(builder, record):
    """Refuses a builder whose arguments are not the frame's or whose defaults are not the
    record's (the frame passes the builder's `locals()` on)."""
    parameters = list(inspect.signature(builder).parameters.values())
    names = [parameter.name for parameter in parameters]
    defaults = {parameter.name: parameter.default for parameter in parameters}
    expected = {**APPLICATION_ARGS, "classes": record.classes, "name": record.name}
    if (
        names != [*APPLICATION_ARGS, "overrides"]
        or parameters[-1].kind is not inspect.Parameter.VAR_KEYWORD
        or any(defaults[key] != value for key, value in expected.items())
    ):
        raise ValueError(
            f"The builder {builder.__qualname__} of {record.name!r} must take "
            f"{', '.join(f'{k}={v!r}' for k, v in expected.items())}, **overrides."
        )


def _load_families():
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def list_models(
    pattern: str | None = None, family: str | None = None, weights: bool = False
) -> list:
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
        record.name
        for record in model_records()
        if (family is None or record.family == family)
        and (pattern is None or fnmatch.fnmatch(record.name, pattern.lower()))
        and (not weights or record.weights)
    ]


def _family_rank(record):
    module = type(record.config).__module__
    return FAMILY_MODULES.index(module) if module in FAMILY_MODULES else len(FAMILY_MODULES)


def model_records() -> list[ModelRecord]:
    """Every `ModelRecord`: families in `FAMILY_MODULES` order, each in registration order."""
    _load_families()
    return sorted(_RECORDS.values(), key=_family_rank)  # stable: keeps registration order


def weights_records() -> list[WeightsRecord]:
    """Every `WeightsRecord` of every model, in registration order."""
    return [weights for record in model_records() for weights in record.weights]


def model_record(name: str) -> ModelRecord:
    """The `ModelRecord` of `name` (case-insensitive).

    Raises:
        ValueError: the name is unknown; the message lists close matches.
    """
    _load_families()
    key = str(name).lower()
    if key not in _RECORDS:
        close = difflib.get_close_matches(key, list(_RECORDS), n=5, cutoff=0.5)
        hint = (
            f" Did you mean: {', '.join(close)}?"
            if close
            else " Run `keras-dense list` to see the available models."
        )
        raise ValueError(f"Unknown model {name!r}.{hint}")
    return _RECORDS[key]


def weights_record(full_name):
    """The `WeightsRecord` named `model.tag`, e.g. `"densenet169.keras_imagenet"`."""
    model, sep, tag = str(full_name).partition(".")
    if not sep:
        raise ValueError(
            f"Weight names are MODEL.TAG, e.g. densenet169.keras_imagenet; got {full_name!r}."
        )
    return model_record(model).weights_record(tag)


def record_for_config(config):
    """The record whose published weights fit `config`, or `None`.

    Lets a family's general builder (e.g. `DenseNet([6, 12, 24, 16])`) load the
    weights of the matching named model, as `keras.applications` does.
    """
    signature = config.weights_signature()
    for record in model_records():
        if (
            record.weights
            and type(record.config) is type(config)
            and record.config.weights_signature() == signature
        ):
            return record
    return None


def get_model(name: str, **kwargs: Any) -> "keras.Model":
    """Builds a registered model: calls its builder (e.g. `densenet.DenseNet121`).

    Args:
        name: registry name (case-insensitive), see `list_models()`.
        **kwargs: builder arguments: `weights` (`None`, `"imagenet"`, a tag
            such as `"keras_imagenet"`, or a path), `include_top`, `classes`,
            `input_shape`, ..., and overrides of the architecture config
            (e.g. `growth_rate=4`).

    Returns:
        A `keras.Model`.

    Examples:
        >>> model = get_model("densenet121", weights=None, classes=10)
    """
    return model_record(name).build(**kwargs)


_MATCHED = weakref.WeakKeyDictionary()  # model without the attributes -> record_of's answer


def record_of(model: Any) -> tuple[Any, Any]:
    """The `ModelRecord` a built model came from and the `WeightsRecord` loaded into it.

    The attributes `build_model` sets first; for a model without them (loaded
    from a `.keras` file, or re-wrapped in `keras.Model`), the record whose
    architecture it has, else the record named `model.name`: the architecture
    first, because users rename models and the name is only a last resort.

    Args:
        model: a `keras.Model` (or an exported model: then its name only).

    Returns:
        `(record, weights)`: the `ModelRecord` or `None`, and the
        `WeightsRecord` or `None` (no published weights, a file, or not known).
    """
    record = getattr(model, RECORD_ATTRIBUTE, None)
    if record is not None:
        return record, getattr(model, WEIGHTS_ATTRIBUTE, None)
    try:
        if model in _MATCHED:
            return _MATCHED[model]
    except TypeError:  # not weak-referenceable: look it up every time
        pass

    is_keras = hasattr(model, "layers") and hasattr(model, "weights")  # not an exported model
    found = (_record_by_architecture(model) if is_keras else None, None)
    if found[0] is None:
        try:
            found = (model_record(model.name), None)
        except ValueError:
            pass
    try:
        _MATCHED[model] = found
    except TypeError:
        pass
    return found


def _weights_layout(model):
    """`(path, shape)` of every weight, in order (seed-generator states left out)."""
    return tuple(
        (variable.path, tuple(variable.shape))
        for variable in model.weights
        if "seed_generator" not in variable.path
    )


def _record_by_architecture(model):
    """The record whose default build (with or without the classifier, with a weight
    tag's architecture) has `model`'s weights: the same paths and shapes, in order."""

    layout = _weights_layout(model)
    count = sum(math.prod(shape) for _, shape in layout)
    tried = set()
    for record in model_records():
        builds = [(True, {}, record.params)]
        for tagged in record.weights:
            builds += [
                (True, tagged.arch, tagged.params or record.params),
                (False, tagged.arch, tagged.notop_params),
            ]
        for include_top, arch, params in builds:
            key = (record.name, include_top, repr(sorted(arch.items())))
            if params != count or key in tried:
                continue
            tried.add(key)
            reference = get_model(record.name, include_top=include_top, **arch)
            if _weights_layout(reference) == layout:
                return record
    return None
