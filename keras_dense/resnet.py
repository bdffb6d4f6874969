"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

One config table describes every ResNet: the block type, the blocks per stage,
the stem and the shortcut. Three conventions live in it:

- `resnet50`, `resnet101`, `resnet152` are layer-for-layer twins of
  `keras.applications.ResNet50/101/152` (the Caffe-style ResNet v1: biased
  convolutions, stride in the first 1x1 convolution of a bottleneck block), so
  the published `.h5` files load unchanged.
- `resnet18`, `resnet34` follow torchvision (basic blocks, convolutions without
  bias, 1x1 projection shortcuts, symmetric padding of strided convolutions):
  the same trainable parameters (11,689,512 and 21,797,672).
- `resnet20`, `resnet56`, `resnet110` are the paper's CIFAR networks (3x3 stem
  of 16 channels, three stages of 16/32/64 channels, 6n+2 layers) with the
  paper's option A shortcut: parameter-free, subsampled and zero-padded in
  channels (0.27M, 0.85M, 1.7M parameters).

Example:
    >>> from keras_dense import resnet
    >>> model = resnet.ResNet50(weights=None)           # = keras.applications.ResNet50
    >>> cifar = resnet.ResNetCIFAR(depth=56)             # the paper's ResNet-56
    >>> tiny = resnet.ResNet18(depths=(1, 1, 1, 1), widths=(8, 8, 16, 16))
"""

import dataclasses

import keras
from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

KERAS_BN_EPSILON = 1.001e-5  # keras.applications' value; its published weights expect it
TORCH_BN_EPSILON = 1e-5  # torchvision's BatchNorm2d default
BOTTLENECK_EXPANSION = 4


@keras.saving.register_keras_serializable(package="keras_dense")
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
        return keras.ops.pad(inputs, [[0, 0]] * (rank - 1) + [[0, self.channels]])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return tuple(input_shape[:-1]) + (
            None if channels is None else channels + self.channels,
        )

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def _conv(x, filters, kernel_size, strides, use_bias, name):
    """A convolution padded as PyTorch pads it: `same` at stride 1, symmetric at stride 2.

    Keras' `same` padding at stride 2 pads only the bottom/right; the explicit
    symmetric `ZeroPadding2D` keeps the networks identical to torchvision's.
    """
    if strides == 1 or kernel_size == 1:
        return layers.Conv2D(
            filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
            name=f"{name}_conv",
        )(x)
    x = layers.ZeroPadding2D(padding=kernel_size // 2, name=f"{name}_pad")(x)
    return layers.Conv2D(
        filters, kernel_size, strides=strides, use_bias=use_bias, name=f"{name}_conv"
    )(x)


def _bn(x, epsilon, name):
    return layers.BatchNormalization(axis=-1, epsilon=epsilon, name=f"{name}_bn")(x)


def _shortcut(x, out_channels, stride, kind, use_bias, epsilon, name):
    """The identity, or the block's `{name}_0_*` shortcut when the shape changes."""
    if stride == 1 and x.shape[-1] == out_channels:
        return x
    if kind == "projection":  # option B: 1x1 convolution + BN
        x = layers.Conv2D(
            out_channels, 1, strides=stride, use_bias=use_bias, name=f"{name}_0_conv"
        )(x)
        return _bn(x, epsilon, f"{name}_0")
    # option A: subsample by striding, then pad the new channels with zeros
    if out_channels < x.shape[-1]:
        raise ValueError(
            "The zero-padding shortcut cannot reduce channels "
            f"({x.shape[-1]} -> {out_channels}); use shortcut='projection'."
        )
    if stride > 1:
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    return ChannelZeroPadding(out_channels - x.shape[-1], name=f"{name}_0_pad")(x)


def basic_block(x, filters, name, stride=1, shortcut="projection", use_bias=False,
                bn_epsilon=TORCH_BN_EPSILON):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34, CIFAR ResNets).

    Layers: `{name}_1_conv`/`_1_bn`/`_1_relu`, `{name}_2_conv`/`_2_bn`, the
    shortcut `{name}_0_*` when the shape changes, `{name}_add`, `{name}_out`.

    Args:
        x: input tensor.
        filters: output channels.
        name: layer-name prefix, e.g. `"conv3_block1"`.
        stride: stride of the first convolution (2 halves the resolution).
        shortcut: `"projection"` (1x1 conv + BN, option B) or `"zero_pad"`
            (parameter-free, option A) when the shape changes.
        use_bias: whether the convolutions have biases.
        bn_epsilon: batch-norm epsilon.

    Returns:
        Output tensor with `filters` channels.

    Example:
        >>> y = basic_block(keras.Input((32, 32, 16)), 32, "conv3_block1", stride=2)
    """
    residual = _shortcut(x, filters, stride, shortcut, use_bias, bn_epsilon, name)
    x = _conv(x, filters, 3, stride, use_bias, f"{name}_1")
    x = _bn(x, bn_epsilon, f"{name}_1")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv(x, filters, 3, 1, use_bias, f"{name}_2")
    x = _bn(x, bn_epsilon, f"{name}_2")
    x = layers.Add(name=f"{name}_add")([residual, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(x, filters, name, stride=1, shortcut="projection", use_bias=True,
                     bn_epsilon=KERAS_BN_EPSILON):
    """1x1-3x3-1x1 bottleneck with a residual connection (ResNet-50/101/152).

    As in `keras.applications` (ResNet v1), the stride sits in the first 1x1
    convolution; the layer names are Keras's (`{name}_0_conv` ... `{name}_out`).

    Args:
        x: input tensor.
        filters: bottleneck channels; the block outputs `4 * filters`.
        name: layer-name prefix, e.g. `"conv2_block1"`.
        stride: stride of the first convolution.
        shortcut: `"projection"` or `"zero_pad"`, as in `basic_block`.
        use_bias: whether the convolutions have biases (Keras: True).
        bn_epsilon: batch-norm epsilon.

    Returns:
        Output tensor with `4 * filters` channels.

    Example:
        >>> y = bottleneck_block(keras.Input((56, 56, 64)), 64, "conv2_block1")
    """
    out_channels = BOTTLENECK_EXPANSION * filters
    residual = _shortcut(x, out_channels, stride, shortcut, use_bias, bn_epsilon, name)
    x = layers.Conv2D(filters, 1, strides=stride, use_bias=use_bias, name=f"{name}_1_conv")(x)
    x = _bn(x, bn_epsilon, f"{name}_1")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(
        filters, 3, padding="same", use_bias=use_bias, name=f"{name}_2_conv"
    )(x)
    x = _bn(x, bn_epsilon, f"{name}_2")
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(out_channels, 1, use_bias=use_bias, name=f"{name}_3_conv")(x)
    x = _bn(x, bn_epsilon, f"{name}_3")
    x = layers.Add(name=f"{name}_add")([residual, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _imagenet_stem(x, filters, use_bias, epsilon):
    """7x7/2 convolution, BN, ReLU, 3x3/2 max-pool: Keras's layer names."""
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(filters, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = _bn(x, epsilon, "conv1")
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _cifar_stem(x, filters, use_bias, epsilon):
    """3x3 convolution, BN, ReLU at full resolution."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name="conv1_conv")(x)
    x = _bn(x, epsilon, "conv1")
    return layers.Activation("relu", name="conv1_relu")(x)


# name: (builder, smallest input side)
STEMS = {"imagenet": (_imagenet_stem, 32), "cifar": (_cifar_stem, 8)}
BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}
SHORTCUTS = ("projection", "zero_pad")


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
    """The architecture of one ResNet (the fields are timm's `model_args`).

    Attributes:
        block: `"basic"` (two 3x3 convs) or `"bottleneck"` (1x1-3x3-1x1, x4).
        depths: blocks per stage, e.g. `(3, 4, 6, 3)`.
        widths: channels per stage (bottleneck channels for `"bottleneck"`).
        stem: `"imagenet"` (7x7/2 conv + 3x3/2 max-pool) or `"cifar"` (3x3 conv).
        stem_filters: channels of the stem convolution.
        shortcut: `"projection"` (1x1 conv, option B) or `"zero_pad"` (option A).
        use_bias: biases in the convolutions (Keras's ResNet v1 has them).
        bn_epsilon: batch-norm epsilon.
        default_size: default input height and width.
        classes: default class count.
    """

    block: str
    depths: tuple
    widths: tuple = (64, 128, 256, 512)
    stem: str = "imagenet"
    stem_filters: int = 64
    shortcut: str = "projection"
    use_bias: bool = False
    bn_epsilon: float = TORCH_BN_EPSILON
    default_size: int = 224
    classes: int = 1000

    def __post_init__(self):
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}; got {self.block!r}.")
        if not self.depths or any(not isinstance(d, int) or d < 1 for d in self.depths):
            raise ValueError(f"depths must be positive integers; got {self.depths!r}.")
        if len(self.widths) != len(self.depths) or any(
            not isinstance(w, int) or w < 1 for w in self.widths
        ):
            raise ValueError(
                f"widths must be {len(self.depths)} positive integers, one per stage; "
                f"got {self.widths!r}."
            )
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {sorted(STEMS)}; got {self.stem!r}.")
        if not isinstance(self.stem_filters, int) or self.stem_filters < 1:
            raise ValueError(
                f"stem_filters must be a positive integer; got {self.stem_filters!r}."
            )
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}; got {self.shortcut!r}.")


def cifar_config(depth, shortcut="zero_pad"):
    """The paper's CIFAR ResNet of depth 6n+2 (ResNet-20, -32, -44, -56, -110, ...).

    Args:
        depth: total number of weighted layers, 6n + 2.
        shortcut: `"zero_pad"` (the paper's option A) or `"projection"` (B).

    Returns:
        A `ResNetConfig`.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6*n + 2 for a CIFAR ResNet (e.g. 20, 56, 110); "
                         f"got {depth!r}.")
    n = (depth - 2) // 6
    return ResNetConfig(
        block="basic", depths=(n, n, n), widths=(16, 32, 64), stem="cifar",
        stem_filters=16, shortcut=shortcut, default_size=32, classes=10,
    )


def _keras_v1(depths):
    return ResNetConfig(
        block="bottleneck", depths=depths, use_bias=True, bn_epsilon=KERAS_BN_EPSILON
    )


CONFIGS = {
    "resnet18": ResNetConfig(block="basic", depths=(2, 2, 2, 2)),
    "resnet34": ResNetConfig(block="basic", depths=(3, 4, 6, 3)),
    "resnet50": _keras_v1((3, 4, 6, 3)),
    "resnet101": _keras_v1((3, 4, 23, 3)),
    "resnet152": _keras_v1((3, 8, 36, 3)),
    "resnet20": cifar_config(20),
    "resnet56": cifar_config(56),
    "resnet110": cifar_config(110),
}

# Models with published Keras ImageNet weights (keys of the weights table).
PUBLISHED_WEIGHTS = ("resnet50", "resnet101", "resnet152")


def build_resnet(
    config,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name="resnet",
):
    """Builds the ResNet described by `config` (a `ResNetConfig`).

    The other arguments are those of `keras.applications.ResNet50`;
    `classes=None` takes the config's default.

    Returns:
        A `keras.Model`.
    """
    classes = config.classes if classes is None else classes
    stem, min_size = STEMS[config.stem]
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, config.default_size, min_size
    )

    x = stem(image, config.stem_filters, config.use_bias, config.bn_epsilon)
    block = BLOCKS[config.block]
    for i, (depth, width) in enumerate(zip(config.depths, config.widths)):
        stage = i + 2  # Keras numbers the stem 1 and the stages conv2..conv5
        for j in range(depth):
            x = block(
                x, width, name=f"conv{stage}_block{j + 1}",
                stride=2 if i > 0 and j == 0 else 1, shortcut=config.shortcut,
                use_bias=config.use_bias, bn_epsilon=config.bn_epsilon,
            )

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = model_utils.classifier(x, classes, classifier_activation)
    else:
        x = model_utils.global_pool(x, pooling)

    weights_key = model_utils.published_key(config, CONFIGS, PUBLISHED_WEIGHTS)
    return model_utils.finish_model(
        inputs, x, name, weights, weights_key=weights_key, include_top=include_top
    )


def ResNet(
    block,
    depths,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    **architecture,
):
    """Instantiates a ResNet with the given block type and stage depths.

    Args:
        block: `"basic"` or `"bottleneck"`.
        depths: blocks per stage, e.g. `[3, 4, 6, 3]`.
        include_top: whether to include the classifier.
        weights: `None`, `"imagenet"` or a path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, channels)`.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        name: model name.
        **architecture: any other `ResNetConfig` field (`widths`, `stem`,
            `stem_filters`, `shortcut`, `use_bias`, `bn_epsilon`, `default_size`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = ResNet("basic", [2, 2, 2, 2])  # ResNet-18
    """
    model_utils.check_architecture(ResNetConfig, architecture)
    config = ResNetConfig(block=block, depths=tuple(depths), **architecture)
    return build_resnet(
        config, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )


def ResNetCIFAR(
    depth=20,
    shortcut="zero_pad",
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    **architecture,
):
    """Instantiates the paper's CIFAR ResNet of depth 6n+2.

    Args:
        depth: 20, 32, 44, 56, 110, ... (6n + 2).
        shortcut: `"zero_pad"` (option A, the paper's CIFAR choice) or
            `"projection"` (option B).
        **architecture: overrides of `ResNetConfig` fields.
        Other arguments are those of `ResNet`.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = ResNetCIFAR(depth=56)  # 0.85M parameters
    """
    config = model_utils.with_overrides(cifar_config(depth, shortcut), **architecture)
    return build_resnet(
        config, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name or f"resnet{depth}",
    )


def _table_builder(key):
    return model_utils.table_builder(key, CONFIGS[key], build_resnet, "ResNet")


ResNet18 = _table_builder("resnet18")
ResNet34 = _table_builder("resnet34")
ResNet50 = _table_builder("resnet50")
ResNet101 = _table_builder("resnet101")
ResNet152 = _table_builder("resnet152")
ResNet20 = _table_builder("resnet20")
ResNet56 = _table_builder("resnet56")
ResNet110 = _table_builder("resnet110")

_DESCRIPTIONS = {
    "resnet18": "ResNet-18, ImageNet (torchvision's layout)",
    "resnet34": "ResNet-34, ImageNet (torchvision's layout)",
    "resnet50": "ResNet-50, ImageNet (keras.applications-compatible)",
    "resnet101": "ResNet-101, ImageNet (keras.applications-compatible)",
    "resnet152": "ResNet-152, ImageNet (keras.applications-compatible)",
    "resnet20": "ResNet-20 for CIFAR, option A shortcuts (paper, 0.27M)",
    "resnet56": "ResNet-56 for CIFAR, option A shortcuts (paper, 0.85M)",
    "resnet110": "ResNet-110 for CIFAR, option A shortcuts (paper, 1.7M)",
}
# Total parameters (trainable + BN moving statistics) of the default config;
# tests/test_models.py checks each against a built model.
_PARAMS = {
    "resnet18": 11_699_112,
    "resnet34": 21_814_696,
    "resnet50": 25_636_712,
    "resnet101": 44_707_176,
    "resnet152": 60_419_944,
    "resnet20": 271_098,
    "resnet56": 857_082,
    "resnet110": 1_736_058,
}

for _key, _config in CONFIGS.items():
    register_model(
        _key,
        _table_builder(_key),
        family="resnet",
        input_shape=(_config.default_size, _config.default_size, 3),
        classes=_config.classes,
        params=_PARAMS[_key],
        preprocess="caffe" if _key in PUBLISHED_WEIGHTS else None,
        weights=_key if _key in PUBLISHED_WEIGHTS else None,
        description=_DESCRIPTIONS[_key],
    )
