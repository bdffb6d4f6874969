"""Blocks every family uses: conv-BN-ReLU, BN-ReLU, classifier heads, global pooling,
torchvision's input renormalisation; `ChannelZeroPadding`, the CIFAR ResNets' shortcut.

This module imports nothing of keras_dense but lazily (and `_epsilons`, which
imports nothing), so that `import keras` can register `ChannelZeroPadding` from
here (`keras_dense/__init__.py`) at any point of keras_dense's own imports. The
batch-norm epsilons every family uses are read here: `KERAS_APPLICATIONS_BN_EPSILON`,
`TORCHVISION_BN_EPSILON`, `INCEPTION_BN_EPSILON`.

Each names every layer after its `name` argument, so that a family's layers
keep the names of the weight files they load (`keras.applications`' where it
has the model).

Example:
    >>> x = conv_bn_relu(keras.Input((224, 224, 3)), 64, 7, "conv1", strides=2,
    ...                  padding="symmetric")   # conv1_pad, conv1_conv, conv1_bn, conv1_relu
"""

from keras import layers, ops, saving

from keras_dense.imagenet.preprocessing import TORCH_MEAN, TORCH_STD

# The batch-norm epsilons, one per source (their values and sources: `_epsilons`).
from keras_dense.models._epsilons import (  # noqa: F401  (read as _layers.*)
    INCEPTION_BN_EPSILON,
    KERAS_APPLICATIONS_BN_EPSILON,
    TORCHVISION_BN_EPSILON,
)

PADDINGS = ("same", "valid", "symmetric")


def bn_relu(x, name, epsilon, scale=True):
    """Batch norm and ReLU named `{name}_bn`, `{name}_relu` (`bn`, `relu` for `name=""`).

    Args:
        x: input tensor.
        name: layer-name prefix, e.g. `"conv2_block1_0"`.
        epsilon: batch-norm epsilon (the value the weights were trained with).
        scale: whether the batch norm has a learned scale (gamma).

    Returns:
        Output tensor.
    """
    prefix = f"{name}_" if name else ""
    x = layers.BatchNormalization(axis=-1, epsilon=epsilon, scale=scale, name=f"{prefix}bn")(x)
    return layers.Activation("relu", name=f"{prefix}relu")(x)


def conv_bn_relu(
    x,
    filters,
    kernel_size,
    name,
    strides=1,
    padding="same",
    use_bias=False,
    epsilon=INCEPTION_BN_EPSILON,
    scale=True,
    relu=True,
):
    """Convolution, batch norm and (optionally) ReLU: `{name}_conv`, `{name}_bn`, `{name}_relu`.

    Args:
        x: input tensor.
        filters: output channels.
        kernel_size: an int or `(rows, cols)`.
        name: layer-name prefix, e.g. `"conv1"`.
        strides: convolution strides.
        padding: `"same"`, `"valid"`, or `"symmetric"`: zero padding of
            `kernel_size // 2` on every side (`{name}_pad`) and a valid
            convolution, as PyTorch pads (Keras's `"same"` pads strided
            convolutions at the bottom and right only).
        use_bias: whether the convolution has a bias.
        epsilon: batch-norm epsilon.
        scale: whether the batch norm has a learned scale.
        relu: whether a ReLU follows.

    Returns:
        Output tensor.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}; got {padding!r}.")
    if padding == "symmetric":
        size = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
        x = layers.ZeroPadding2D(size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        name=f"{name}_conv",
    )(x)
    if not relu:
        return layers.BatchNormalization(axis=-1, epsilon=epsilon, scale=scale, name=f"{name}_bn")(
            x
        )
    return bn_relu(x, name, epsilon, scale)


def classifier(x, classes, classifier_activation, name="predictions"):
    """The final `Dense` layer, computed in float32 under any dtype policy.

    (keras.applications computes it in the policy's dtype; float32 keeps the
    probabilities summing to 1 under mixed precision.)
    """
    return layers.Dense(classes, activation=classifier_activation, name=name, dtype="float32")(x)


def global_pool(x, pooling):
    """`keras.applications`' optional global pooling: `avg_pool`, `max_pool` or none."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def two_fc_head(x, classes, classifier_activation, fc_units, dropout_rate, dropout_first=False):
    """The AlexNet/VGG head: flatten, two `fc_units` dense layers with dropout, `predictions`
    (see `dense_head`)."""
    return dense_head(
        x,
        classes,
        classifier_activation,
        hidden_units=(fc_units, fc_units),
        dropout_rate=dropout_rate,
        dropout_first=dropout_first,
        flatten=True,
    )


def dense_head(
    x,
    classes,
    classifier_activation,
    hidden_units=(),
    activation="relu",
    dropout_rate=0.0,
    dropout_first=False,
    flatten=False,
):
    """A classifier head: pool or flatten, hidden dense layers, then `predictions`.

    Layers: `avg_pool` (or `flatten`), then per hidden layer `fc{i}` with
    dropout `fc{i}_drop` after it (before it with `dropout_first`, as
    AlexNet), then `predictions`; without hidden layers, dropout
    (`top_dropout`) comes just before `predictions`.

    Args:
        x: the last feature map.
        classes: number of classes.
        classifier_activation: activation of `predictions`.
        hidden_units: units of each hidden layer, e.g. `(4096, 4096)`.
        activation: activation of the hidden layers.
        dropout_rate: dropout rate (0: none).
        dropout_first: put each hidden layer's dropout before it.
        flatten: flatten the map instead of global average pooling.

    Returns:
        The class scores.
    """
    if flatten:
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    for i, units in enumerate(hidden_units, start=1):
        if dropout_rate and dropout_first:
            x = layers.Dropout(dropout_rate, name=f"fc{i}_drop")(x)
        x = layers.Dense(units, activation=activation, name=f"fc{i}")(x)
        if dropout_rate and not dropout_first:
            x = layers.Dropout(dropout_rate, name=f"fc{i}_drop")(x)
    if dropout_rate and not hidden_units:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    return classifier(x, classes, classifier_activation)


def scaled(filters, width):
    """`filters` times the width multiplier, at least 1."""
    return max(1, int(filters * width))


def transform_input(x, name="transform_input"):
    """torchvision's `transform_input`: "torch"-normalised pixels to the "tf" scale, [-1, 1].

    torchvision's GoogLeNet and Inception v3 weights were ported from
    TensorFlow, which trained on pixels scaled to [-1, 1]; torchvision feeds
    them ImageNet-normalised pixels (`(x / 255 - mean) / std`) and undoes the
    normalisation inside the model, channel by channel: `x * std / 0.5 + (mean
    - 0.5) / 0.5`. This is that step, as one `Rescaling` layer `name`.

    Args:
        x: image tensor preprocessed in "torch" mode (channels last, RGB).
        name: the layer's name.

    Returns:
        The tensor on the [-1, 1] scale.

    Example:
        >>> y = transform_input(keras.Input((224, 224, 3)))
    """
    scale = [std / 0.5 for std in TORCH_STD]
    offset = [(mean - 0.5) / 0.5 for mean in TORCH_MEAN]
    return layers.Rescaling(scale, offset, name=name)(x)


@saving.register_keras_serializable(package="keras_dense")
class ChannelZeroPadding(layers.Layer):
    """Appends zero-valued channels: the option A shortcut of the ResNet paper.

    Args:
        channels: number of zero channels appended after the input's channels.

    Example:
        >>> ChannelZeroPadding(16)(keras.ops.ones((1, 8, 8, 16))).shape
        (1, 8, 8, 32)
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(channels, int) or channels < 0:
            raise ValueError(f"channels must be a non-negative integer; got {channels!r}.")
        self.channels = channels

    def call(self, inputs):
        rank = len(inputs.shape)
        return ops.pad(inputs, [[0, 0]] * (rank - 1) + [[0, self.channels]])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if channels is None else channels + self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
