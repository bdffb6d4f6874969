"""The builder frame every family shares: argument checks, the input, the head, the weights.

A family describes its architecture as a frozen `ArchConfig` subclass whose
`body(x)` builds the network body; `build_model(config, ...)` does the
rest once for every family, as `keras.applications` builders do: it refuses
bad arguments (unsupported `weights=` included) before building anything,
resolves the input shape, adds the classifier or the global pooling, names
the model, loads the weights, and marks the model with its record.

Every public builder (`densenet.DenseNet121`, `resnet.ResNet50`, ...) is a
`def` in its family's module, declared under its `ModelRecord` with
`_registry.register_model`, with `keras.applications`' arguments; its body is
one call, `build_registered(name, locals())`. The arguments, for all of them:

- `include_top`: whether to include the classifier.
- `weights`: `None` (the default: random weights), `"imagenet"` (the model's
  default weight tag), a tag such as `"keras_imagenet"` or
  `"densenet169.tv_imagenet"`, or a path to a weights file.
- `input_tensor`: an optional Keras tensor to use as the image input.
- `input_shape`: an optional `(height, width, channels)`.
- `pooling`: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
- `classes`: the number of classes (the record's by default).
- `classifier_activation`: the classifier's activation (`None` for logits).
- `name`: the model's name (the record's by default).
- `**overrides`: `include_preprocessing` (see `build_model`) and overrides
  of the record's config fields (e.g. `growth_rate=4`).

Which record a built model came from: the frame sets two attributes,
`model.keras_dense_record` (the `ModelRecord`, or `None` for a general
builder such as `densenet.DenseNet(blocks)` without published weights) and
`model.keras_dense_weights` (the `WeightsRecord` loaded, or `None` for no
weights or a file), as timm attaches `pretrained_cfg`. They survive renaming
(`name="mine"`), so prediction and export find the weights' preprocessing
without reading `model.name`. Keras keeps no Python attribute in a `.keras`
file, and `keras.Model(model.inputs, model.outputs, name=...)` makes a new
model without them: `record_of` then matches the architecture (the paths and
shapes of the model's weights) against every record's default build, with and
without the classifier; the name lookup comes last. The architecture comes
before the name because users rename models and the name may be another
record's (a fine-tuned `"densenet121"` with other blocks); the check builds at
most the one or two records whose parameter count is the model's, once per
model. It cannot tell apart weight tags of one architecture (e.g. `vgg16`'s
Keras and torchvision weights), so such a model gets its record's default tag.

Examples:
    >>> from keras_dense.models import _builder, _registry, densenet
    >>> config = densenet.DenseNetConfig(blocks=(6, 12, 24, 16))
    >>> model = _builder.build_model(config, include_top=False, pooling="avg")
    >>> mine = densenet.DenseNet121(name="mine")
    >>> _registry.record_of(mine)[0].name
    'densenet121'
"""

import dataclasses
import os
import pathlib
from typing import Any, ClassVar

import keras

from keras_dense.imagenet.preprocessing import MODES
from keras_dense.imagenet.preprocessing_layer import LAYER_NAME, ImageNetPreprocessing
from keras_dense.models import _layers, _registry, pretrained

POOLING_MODES = (None, "avg", "max")
# The types of the builders' `weights` ("imagenet", a tag, a file or None) and `input_shape`.
Weights = str | os.PathLike | None
InputShape = tuple[int, int, int] | None
# The keras.applications arguments every builder takes, with their defaults.
APPLICATION_ARGS = _registry.APPLICATION_ARGS
# Every builder's arguments: keras.applications' and kimm's `include_preprocessing`.
BUILDER_ARGS = {**APPLICATION_ARGS, "include_preprocessing": False}
# The preprocessing of the ImageNet layouts without Keras weights (torchvision's).
UNPUBLISHED_PREPROCESS = "torch"
# The attributes `build_model` sets on every model it builds (see the module docstring).
RECORD_ATTRIBUTE = _registry.RECORD_ATTRIBUTE
WEIGHTS_ATTRIBUTE = _registry.WEIGHTS_ATTRIBUTE


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchConfig:
    """Base of every family's architecture config.

    Subclasses add their fields, set `family`, and implement `body`;
    they override `top` for a head other than global average pooling and a
    classifier, and `min_size` where it depends on the config.

    Attributes:
        default_size: default input height and width.
        channels: default input channels.
        classes: default class count.
    """

    family: ClassVar[str] = ""
    # Fields that change no weight shape or value (e.g. dropout, recomputation).
    weightless_fields: ClassVar[tuple] = ()

    default_size: int = 224
    channels: int = 3
    classes: int = 1000

    @property
    def min_size(self):
        """The smallest input height and width the network accepts."""
        return 32

    @property
    def input_shape(self):
        """The default `(height, width, channels)`."""
        return (self.default_size, self.default_size, self.channels)

    def body(self, x):
        """Builds the network body on the image tensor `x`; returns the last feature map."""
        raise NotImplementedError

    def feature_layers(self):
        """The layers whose outputs are the body's multi-scale feature maps.

        Returns:
            A list of `(layer_name, stride)`, shallow to deep, one per stride
            (e.g. `[("conv1_relu", 2), ..., ("relu", 32)]`); the maps
            `keras_dense.features` returns (timm's `feature_info`).

        Raises:
            ValueError: the family has no multi-scale feature maps.
        """
        raise ValueError(
            f"The {self.family} models have no multi-scale feature maps; "
            "keras_dense.features takes the ImageNet families (densenet, resnet, "
            "vgg, inception_v3, googlenet, alexnet)."
        )

    @staticmethod
    def stage_taps(imagenet_stem, stage_outputs):
        """`feature_layers` of a network whose stages each halve the map.

        Args:
            imagenet_stem: whether the stride-4 ImageNet stem (whose ReLU is
                `conv1_relu`, stride 2) comes first; else a stride-1 CIFAR stem.
            stage_outputs: the layer ending each stage, shallow to deep.

        Returns:
            `[(layer_name, stride), ...]`.
        """
        first_stride = 4 if imagenet_stem else 1
        taps = [("conv1_relu", 2)] if imagenet_stem else []
        return taps + [(layer, first_stride * 2**i) for i, layer in enumerate(stage_outputs)]

    def top(self, x, classes, classifier_activation):
        """The classifier head on the last feature map (`include_top=True`)."""
        return _layers.dense_head(x, classes, classifier_activation)

    def outputs(self, image, include_top, pooling, classes, classifier_activation):
        """The model's outputs: the body, then the head or the optional global pooling."""
        x = self.body(image)
        if include_top:
            return self.top(x, classes, classifier_activation)
        return _layers.global_pool(x, pooling)

    def for_weights(self):
        """The config whose model a weight file describes (self, unless the layers differ)."""
        return self

    def weights_signature(self):
        """The fields that decide the weights' shapes and meaning."""
        skipped = {"default_size", "classes", *self.weightless_fields}
        return tuple(
            (field.name, getattr(self, field.name))
            for field in dataclasses.fields(self)
            if field.name not in skipped
        )


def with_overrides(config, **architecture):
    """`dataclasses.replace(config, **architecture)`, refusing unknown fields clearly.

    Args:
        config: an `ArchConfig`.
        **architecture: field overrides, e.g. `growth_rate=4`.

    Returns:
        The new config (validated by its `__post_init__`).
    """
    if not architecture:
        return config
    fields = {field.name for field in dataclasses.fields(config)}
    unknown = sorted(set(architecture) - fields)
    if unknown:
        raise ValueError(
            f"Unknown argument {', '.join(map(repr, unknown))} for a {config.family} model; "
            f"the architecture options are {', '.join(sorted(fields))}, and the "
            f"builder arguments {', '.join(BUILDER_ARGS)}."
        )
    for key, value in architecture.items():
        if isinstance(value, list):  # blocks=[6, 12, 24, 16] as well as a tuple
            architecture[key] = tuple(value)
    return dataclasses.replace(config, **architecture)


def _no_weights(model_name, weights, reason):
    """The one wording for `weights=` a model cannot take."""
    return ValueError(
        f"{model_name} cannot load weights={weights!r}: {reason}; pass weights=None, "
        "a weight tag it has, or a path to a weights file."
    )


def resolve_weights(weights, config, record, model_name):
    """What `weights=` asks for: nothing, a weight tag's record, or a file.

    Keywords come first (`pretrained.classify_weights_argument`): `"imagenet"`, a tag or
    `model.tag` is a name even when a file of that name is in the working folder.

    Args:
        weights: `None`, `"imagenet"` (the default tag), a tag such as
            `"keras_imagenet"` or `"densenet169.keras_imagenet"`, or a path.
        config: the architecture asked for (overrides applied).
        record: the model's `ModelRecord`, or `None` for a general builder
            (then the record whose weights fit `config` is looked up).
        model_name: the model's name, for messages.

    Returns:
        `None`, a `WeightsRecord`, or a `pathlib.Path`.

    Raises:
        ValueError: the model has no such weights, the architecture was
            changed, or the file does not exist; nothing has been built.
    """
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise _no_weights(model_name, weights, "weights must be None, a tag or a path")
    kind, weights = pretrained.classify_weights_argument(weights)
    if kind == "none":
        return None
    if kind == "path":
        path = pathlib.Path(os.path.expanduser(weights))  # "~nobody/..." stays as it is
        if not path.is_file():  # named as it was given: "./imagenet" stays "./imagenet"
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise ValueError(
                f"Weights file {os.fspath(weights)!r} {what}; check the path, or "
                "pass weights=None or a weight tag."
            )
        return path
    if record is None:
        record = _registry.record_for_config(config)
        if record is None:
            raise _no_weights(
                model_name, weights, f"no published weights fit this {config.family} architecture"
            )
    if not record.weights:
        raise _no_weights(model_name, weights, f"{record.name} has no published weights")
    tags = [w.tag for w in record.weights]
    try:
        tagged = record.weights_record(weights)
    except ValueError:
        raise _no_weights(
            model_name,
            weights,
            f"{record.name}'s tags are {', '.join(tags)} ('imagenet' is {tags[0]})",
        ) from None
    wanted = with_overrides(record.config, **tagged.arch).weights_signature()
    asked = with_overrides(config, **tagged.arch).weights_signature()
    if wanted != asked:
        changed = sorted(name for (name, a), (_, b) in zip(asked, wanted) if a != b)
        raise _no_weights(
            model_name,
            weights,
            f"{tagged.name} fits only the published architecture, and "
            f"{', '.join(changed)} {'was' if len(changed) == 1 else 'were'} changed",
        )
    return tagged


def check_arguments(weights, include_top, classes, pooling, classifier_activation):
    """Validates the arguments shared by every builder, as Keras does.

    Args:
        weights: the resolved weights (`None`, a `WeightsRecord` or a path).
        include_top, classes, pooling, classifier_activation: the builder's arguments.

    Raises:
        ValueError: with one sentence naming the wrong argument and the fix.
    """
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            "keras_dense builds channels_last models; set "
            "keras.config.set_image_data_format('channels_last')."
        )
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be None, 'avg' or 'max'; got {pooling!r}.")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive integer; got {classes!r}.")
    if weights is None or not include_top:
        return
    published = not isinstance(weights, pathlib.Path)
    if published and classes != 1000:
        raise ValueError(
            f"The {weights.name} weights have a 1000-class classifier; pass classes=1000, "
            "or include_top=False to add your own head."
        )
    if classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only classifier_activation=None or 'softmax' can be used with pretrained "
            f"weights; got {classifier_activation!r}."
        )


def resolve_input_shape(config, input_shape, include_top, published):
    """The `(height, width, channels)` input, checked by Keras's own rules.

    Args:
        config: the `ArchConfig` (default size, channels, smallest size).
        input_shape: the user's shape, or `None`.
        include_top: whether the classifier needs a fixed size.
        published: whether published weights are loaded (3 channels, and the
            default size with the classifier).

    Returns:
        A tuple of three entries (height and width may be `None`).
    """
    from keras.src.applications.imagenet_utils import obtain_input_shape

    if input_shape is not None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (height, width, channels); got {input_shape}.")
    elif config.channels != 3:
        input_shape = config.input_shape if include_top else (None, None, config.channels)
    return tuple(
        obtain_input_shape(
            input_shape,
            default_size=config.default_size,
            min_size=config.min_size,
            data_format="channels_last",
            require_flatten=include_top,
            weights="imagenet" if published else None,
        )
    )


def preprocessing_mode(include_preprocessing, source, config, record=None):
    """The mode of the preprocessing layer `include_preprocessing` asks for, or `None`.

    Args:
        include_preprocessing: `False`, `True` (the mode of the weight tag
            asked for, else of the model's default weights, else torchvision's
            `"torch"`), or a mode (`"caffe"`, `"tf"`, `"torch"`).
        source: the resolved weights (`None`, a `WeightsRecord` or a path).
        config: the architecture (finds the record of a general builder).
        record: the model's `ModelRecord`, or `None`.

    Returns:
        `None`, or the mode.
    """
    if include_preprocessing is False or include_preprocessing is None:
        return None
    if include_preprocessing in MODES:
        return include_preprocessing
    if include_preprocessing is not True:
        raise ValueError(
            f"include_preprocessing must be True, False or one of "
            f"{', '.join(MODES)}; got {include_preprocessing!r}."
        )
    if source is not None and not isinstance(source, pathlib.Path):
        return source.preprocess
    record = record if record is not None else _registry.record_for_config(config)
    if record is not None and record.preprocess:
        return record.preprocess
    return UNPUBLISHED_PREPROCESS


def model_input(input_tensor, input_shape):
    """`(image, model_inputs)`: a new `keras.Input`, or the given tensor and its sources."""
    if input_tensor is None:
        image = keras.layers.Input(shape=input_shape)
        return image, image
    if not keras.backend.is_keras_tensor(input_tensor):
        image = keras.layers.Input(tensor=input_tensor, shape=input_shape)
        return image, image
    from keras.src.ops import operation_utils  # the helper keras.applications uses

    return input_tensor, operation_utils.get_source_inputs(input_tensor)


def build_model(
    config: ArchConfig,
    record: Any = None,
    include_top: bool = True,
    weights: Weights = None,
    input_tensor: Any = None,
    input_shape: InputShape = None,
    pooling: str | None = None,
    classes: int | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
    include_preprocessing: bool | str = False,
    **architecture: Any,
) -> keras.Model:
    """Builds the model `config` describes, with the `keras.applications` arguments.

    Args:
        config: the family's `ArchConfig`.
        record: the `ModelRecord` the config came from (for its weights and
            name), or `None`.
        include_top: whether to include the classifier.
        weights: `None`, `"imagenet"` (the default weight tag), a tag such as
            `"keras_imagenet"`, or a path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, channels)`.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes; `None` takes the config's.
        classifier_activation: activation of the classifier (`None` for logits).
        name: model name; default the record's name, or the family's.
        include_preprocessing: `True` (or a mode) starts the model with an
            `ImageNetPreprocessing` layer named `preprocessing`, so it takes RGB
            pixels 0-255; see `preprocessing_mode` for the mode.
        **architecture: overrides of the config's fields.

    Returns:
        A `keras.Model`, with the attributes `keras_dense_record` and
        `keras_dense_weights` (see the module docstring).

    Examples:
        >>> model = build_model(DenseNetConfig(blocks=(6, 12, 24, 16)), weights=None)
    """
    config = with_overrides(config, **architecture)
    name = name or (record.name if record is not None else config.family)
    classes = config.classes if classes is None else classes
    source = resolve_weights(weights, config, record, name)
    published = source is not None and not isinstance(source, pathlib.Path)
    if published:
        config = with_overrides(config, **source.arch)
    check_arguments(source, include_top, classes, pooling, classifier_activation)
    mode = preprocessing_mode(include_preprocessing, source, config, record)
    evaluation = source.evaluation if published else None
    if evaluation is not None and input_shape is None and input_tensor is None:
        input_shape = (evaluation.size, evaluation.size, 3)  # the tag's own test size (timm's)
    # weights measured at their own test size (timm's) fit any size: global pooling before
    # the classifier; Keras's and torchvision's keep keras.applications' fixed 224
    fixed = published and evaluation is None
    shape = resolve_input_shape(config, input_shape, include_top, fixed)
    image, inputs = model_input(input_tensor, shape)
    if mode is not None:
        image = ImageNetPreprocessing(mode, name=LAYER_NAME)(image)
    outputs = config.outputs(image, include_top, pooling, classes, classifier_activation)
    model = keras.Model(inputs, outputs, name=name)
    _mark(model, record, source if published else None)
    if source is None:
        return model
    if config.for_weights() != config:
        # Weight files describe the plain layers: load them into the plain twin,
        # then copy (same weights in the same order).
        plain = build_model(
            config.for_weights(),
            record,
            include_top,
            weights,
            None,
            shape,
            pooling,
            classes,
            classifier_activation,
            name,
        )
        model.set_weights(plain.get_weights())
        return model
    pretrained.load_into(model, source, include_top=include_top)
    return model


def _mark(model, record, published):
    """Sets the record attributes: the builder's record, else the published weights' record."""
    if record is None and published is not None:
        record = _registry.model_record(published.model)
    setattr(model, RECORD_ATTRIBUTE, record)
    setattr(model, WEIGHTS_ATTRIBUTE, published)


def build_registered(name: str, arguments: dict[str, Any]) -> keras.Model:
    """Builds registered model `name`: the body of every public builder.

    Args:
        name: the registry name, e.g. `"densenet121"`.
        arguments: the builder's `locals()`: the `keras.applications`
            arguments (`APPLICATION_ARGS`) and `overrides`, the dict of its
            `**overrides` (`include_preprocessing` and config fields).

    Returns:
        The `keras.Model` of `build_model`, with the record registered under
        `name` when it is called.

    Examples:
        >>> def DenseNet121(include_top=True, ..., **overrides):
        ...     return build_registered("densenet121", locals())
    """

    arguments = dict(arguments)
    overrides = arguments.pop("overrides", {})
    if set(arguments) != set(APPLICATION_ARGS):  # a builder whose signature is not the frame's
        raise TypeError(
            f"The builder of {name} passes {sorted(arguments)}; the frame takes "
            f"{', '.join(APPLICATION_ARGS)} and **overrides."
        )
    record = _registry.model_record(name)  # the registered record, looked up now
    return build_model(record.config, record, **arguments, **overrides)
