"""One registry of every model the library builds, as torchvision and timm keep.

Each family module registers its public builders here with the metadata the
tools need without building anything: family, default input shape, default
class count, parameter count of the default configuration (checked against a
built model by the tests), the ImageNet preprocessing mode, and the key of its
published weights, if any.

Example:
    >>> import keras_dense
    >>> keras_dense.list_models("densenet")[:2]
    ['densenet121', 'densenet169']
    >>> model = keras_dense.get_model("densenet_bc_100_k12", classes=10)
"""

import dataclasses
import difflib
import fnmatch
import importlib
from typing import Any, Callable, Optional


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model name.

    Attributes:
        name: lower-case registry name, e.g. `"densenet169"`.
        builder: the callable that returns a `keras.Model`.
        family: family name, e.g. `"densenet"`.
        input_shape: default `(height, width, channels)` input.
        classes: default number of classes.
        params: total parameter count of `builder(**defaults)`.
        preprocess: ImageNet preprocessing mode, `"torch"`, `"caffe"` or
            `"tf"`, or `None` for models without ImageNet weights.
        weights: key of the model's published weights, or `None`.
        defaults: keyword arguments bound into `builder` for this name.
        description: one line for `keras-dense list`.
    """

    name: str
    builder: Callable[..., Any]
    family: str
    input_shape: tuple
    classes: int
    params: int
    preprocess: Optional[str] = None
    weights: Optional[str] = None
    defaults: dict = dataclasses.field(default_factory=dict)
    description: str = ""

    def build(self, **kwargs):
        """Builds the model with the entry's defaults, overridden by `kwargs`."""
        return self.builder(**{**self.defaults, **kwargs})


_REGISTRY: dict = {}

# Modules whose import registers a family; loaded on the first registry query.
FAMILY_MODULES = (
    "keras_dense.densenet",
    "keras_dense.lenet",
    "keras_dense.alexnet",
    "keras_dense.vgg",
    "keras_dense.googlenet",
    "keras_dense.resnet",
    "keras_dense.inception_v3",
    "keras_dense.dense_resnet",
)


def _load_families():
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def register_model(name, builder=None, **metadata):
    """Registers `builder` under `name`; usable as a decorator.

    Args:
        name: lower-case registry name.
        builder: the model-building callable; omit to use as a decorator.
        **metadata: the remaining `ModelEntry` fields.

    Returns:
        `builder` unchanged (or a decorator returning it).

    Example:
        >>> @register_model("tiny", family="demo", input_shape=(32, 32, 3),
        ...                 classes=10, params=1234)
        ... def Tiny(**kwargs): ...
    """
    if builder is None:
        return lambda fn: register_model(name, fn, **metadata)
    if name != name.lower():
        raise ValueError(f"Registry names are lower-case; got {name!r}.")
    if name in _REGISTRY:
        raise ValueError(f"A model named {name!r} is already registered.")
    _REGISTRY[name] = ModelEntry(name=name, builder=builder, **metadata)
    return builder


def list_models(pattern=None, family=None):
    """Lists registered model names, sorted as registered within each family.

    Args:
        pattern: optional shell-style pattern, e.g. `"densenet_bc*"`.
        family: optional family name to keep.

    Returns:
        A list of names.
    """
    _load_families()
    names = [
        entry.name
        for entry in _REGISTRY.values()
        if (family is None or entry.family == family)
        and (pattern is None or fnmatch.fnmatch(entry.name, pattern.lower()))
    ]
    return names


def model_entry(name):
    """Returns the `ModelEntry` for `name` (case-insensitive).

    Raises:
        ValueError: the name is unknown; the message lists close matches.
    """
    _load_families()
    key = str(name).lower()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=5, cutoff=0.5)
        hint = (
            f" Did you mean: {', '.join(close)}?"
            if close
            else " Run `keras-dense list` to see the available models."
        )
        raise ValueError(f"Unknown model {name!r}.{hint}")
    return _REGISTRY[key]


def get_model(name, **kwargs):
    """Builds a registered model.

    Args:
        name: registry name (case-insensitive), see `list_models()`.
        **kwargs: builder arguments, e.g. `classes=10`, `input_shape=...`,
            `weights="imagenet"`.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = get_model("densenet121", weights=None, classes=10)
    """
    return model_entry(name).build(**kwargs)
