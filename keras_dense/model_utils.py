"""Pieces every family builder shares: argument checks, the input, the head.

They mirror `keras.applications` behaviour (input-shape rules, pooling
options, `predictions` layer) so that our models are drop-in replacements,
with one deliberate difference: the classifier always computes in float32, so
probabilities sum to 1 under a mixed-precision policy.
"""

import dataclasses
import os

import keras
from keras import layers

POOLING_MODES = (None, "avg", "max")


def check_channels_last(model_name):
    """Raises if Keras is configured for `channels_first`, which we do not build."""
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            f"{model_name} is built for the 'channels_last' image data format; "
            "set it with keras.config.set_image_data_format('channels_last')."
        )


def check_common_args(weights, include_top, classes, pooling, classifier_activation,
                      pretrained_classes=1000):
    """Validates the arguments shared by every builder, as Keras does.

    Args:
        weights: `None`, `"imagenet"` or a path to a weights file.
        include_top: whether the classifier is built.
        classes: number of classes of the classifier.
        pooling: `None`, `"avg"` or `"max"`.
        classifier_activation: activation of the classifier.
        pretrained_classes: the class count of the published weights.

    Raises:
        ValueError: with one sentence naming the wrong argument and the fix.
    """
    if not (weights in (None, "imagenet") or isinstance(weights, (str, os.PathLike))):
        raise ValueError(
            f"weights must be None, 'imagenet' or a path to a weights file; got {weights!r}."
        )
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be None, 'avg' or 'max'; got {pooling!r}.")
    if not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive integer; got {classes!r}.")
    if weights == "imagenet" and include_top and classes != pretrained_classes:
        raise ValueError(
            f"The ImageNet weights have a {pretrained_classes}-class classifier; "
            f"pass classes={pretrained_classes}, or include_top=False to add your own head."
        )
    if weights is not None and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only classifier_activation=None or 'softmax' can be used with pretrained "
            f"weights; got {classifier_activation!r}."
        )


def resolve_input_shape(input_shape, default_size, min_size, require_flatten, weights,
                        default_channels=3):
    """Returns the `(height, width, channels)` input shape, checked as Keras does.

    Args:
        input_shape: the user's shape, or `None` for the default.
        default_size: default height and width.
        min_size: the smallest height and width the network accepts.
        require_flatten: whether the model has a top that needs a fixed size.
        weights: `None`, `"imagenet"` or a path.
        default_channels: channels of the default shape.

    Returns:
        A tuple of three entries (height and width may be `None`).
    """
    default_shape = (default_size, default_size, default_channels)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(
                f"With include_top=True and ImageNet weights the input shape must be "
                f"{default_shape}; got {tuple(input_shape)}. Use include_top=False "
                "for other sizes."
            )
        return default_shape
    if input_shape is None:
        return default_shape if require_flatten else (None, None, default_channels)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be (height, width, channels); got {input_shape}."
        )
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ValueError(
            f"ImageNet weights need 3 input channels; got input_shape={input_shape}."
        )
    if any(size is not None and size < min_size for size in input_shape[:2]):
        raise ValueError(
            f"Input size must be at least {min_size}x{min_size} for this network; "
            f"got input_shape={input_shape}."
        )
    if require_flatten and None in input_shape:
        raise ValueError(
            f"A model with include_top=True needs a fixed input_shape; got {input_shape}."
        )
    return input_shape


def model_input(input_tensor, input_shape):
    """Returns `(image_input, model_inputs)` for a functional model.

    Args:
        input_tensor: optional Keras tensor (output of `keras.Input` or of a
            layer) to build on, as `keras.applications` accepts.
        input_shape: the resolved input shape.
    """
    if input_tensor is None:
        image = layers.Input(shape=input_shape)
        return image, image
    if not keras.backend.is_keras_tensor(input_tensor):
        image = layers.Input(tensor=input_tensor, shape=input_shape)
        return image, image
    from keras.src.ops import operation_utils  # the helper keras.applications uses

    return input_tensor, operation_utils.get_source_inputs(input_tensor)


def image_input(name, weights, include_top, classes, pooling, classifier_activation,
                input_tensor, input_shape, default_size, min_size, default_channels=3):
    """Checks a builder's common arguments and returns `(image_input, model_inputs)`.

    The shared start of every builder: `check_channels_last`,
    `check_common_args`, `resolve_input_shape`, then `model_input`.

    Args:
        name: the model name (for messages).
        weights, include_top, classes, pooling, classifier_activation,
        input_tensor, input_shape: the builder's `keras.applications` arguments.
        default_size: default input height and width.
        min_size: the smallest height and width the network accepts.
        default_channels: channels of the default shape.

    Returns:
        `(image, inputs)` as `model_input` returns them.
    """
    check_channels_last(name)
    check_common_args(weights, include_top, classes, pooling, classifier_activation)
    input_shape = resolve_input_shape(
        input_shape, default_size, min_size, include_top, weights, default_channels
    )
    return model_input(input_tensor, input_shape)


def published_key(config, configs, published):
    """The key in `published` whose table config equals `config`, or `None`."""
    return next((key for key in published if configs[key] == config), None)


def global_pool(x, pooling):
    """Applies `keras.applications`' optional global pooling (`avg_pool`/`max_pool`)."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def classifier(x, classes, classifier_activation, name="predictions"):
    """The final `Dense` layer, computed in float32 under any dtype policy."""
    return layers.Dense(
        classes, activation=classifier_activation, name=name, dtype="float32"
    )(x)


def finish_model(inputs, outputs, name, weights, weights_key=None, include_top=True):
    """Builds the functional model and loads `weights` into it.

    Args:
        inputs: model inputs.
        outputs: model outputs.
        name: model name.
        weights: `None`, `"imagenet"` or a path.
        weights_key: key of the model's published weights (registry entry).
        include_top: whether the classifier is present (picks the file).

    Returns:
        The `keras.Model`.
    """
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        from keras_dense import weights as weights_lib

        weights_lib.load_model_weights(
            model, weights, weights_key=weights_key, include_top=include_top
        )
    return model


def check_architecture(config_type, architecture):
    """Raises a clear `ValueError` for keyword overrides that are not config fields.

    Args:
        config_type: a config dataclass (class or instance), e.g. `DenseNetConfig`.
        architecture: the `**architecture` keyword overrides a builder received.
    """
    fields = {field.name for field in dataclasses.fields(config_type)}
    unknown = sorted(set(architecture) - fields)
    if unknown:
        name = getattr(config_type, "__name__", type(config_type).__name__)
        raise ValueError(
            f"Unknown architecture option {', '.join(map(repr, unknown))} for {name}; "
            f"valid options: {', '.join(sorted(fields))}."
        )


def with_overrides(config, **architecture):
    """`dataclasses.replace(config, **architecture)` after `check_architecture`."""
    check_architecture(config, architecture)
    return dataclasses.replace(config, **architecture)


def table_builder(key, config, build, family_builder):
    """A public builder for the config-table entry `key` of a family.

    Args:
        key: registry name, e.g. `"resnet50"`.
        config: the entry's frozen config dataclass.
        build: the family's `build_xxx(config, include_top, weights,
            input_tensor, input_shape, pooling, classes, classifier_activation, name)`.
        family_builder: name of the family's general builder, for the docstring.

    Returns:
        A function taking the `keras.applications` arguments plus
        `**architecture` overrides of the config's fields.
    """

    def builder(include_top=True, weights=None, input_tensor=None, input_shape=None,
                pooling=None, classes=None, classifier_activation="softmax",
                name=key, **architecture):
        return build(
            with_overrides(config, **architecture), include_top, weights, input_tensor,
            input_shape, pooling, classes, classifier_activation, name,
        )

    builder.__name__ = key
    builder.__doc__ = (
        f"Instantiates `{key}` ({config}).\n\n"
        f"Args: those of `{family_builder}`; `**architecture` overrides "
        f"`{type(config).__name__}` fields.\n\n"
        f"Returns:\n    A `keras.Model`.\n\nExample:\n    >>> model = {key}(weights=None)\n"
    )
    return builder
