"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

One config describes every ResNet: the block type, the blocks per stage, the
stem and the shortcut. Three conventions live in the records:

- `resnet50`, `resnet101`, `resnet152` are layer-for-layer twins of
  `keras.applications.ResNet50/101/152` (the Caffe-style ResNet v1: biased
  convolutions, stride in the first 1x1 convolution of a bottleneck block), so
  the published `.h5` files load unchanged.
- `resnet18`, `resnet34` follow torchvision (basic blocks, convolutions without
  bias, 1x1 projection shortcuts, symmetric padding of strided convolutions):
  the same trainable parameters (11,689,512 and 21,797,672), and torchvision's
  weights (`tv_imagenet`).
- `resnet50_v1_5`, `resnet101_v1_5`, `resnet152_v1_5` are torchvision's
  ResNet-50/101/152 ("v1.5": the stride in the 3x3 convolution of a bottleneck
  block, no convolution biases, epsilon 1e-5), a different architecture from
  Keras's v1, with torchvision's weights (`tv_imagenet`, and the newer recipe's
  `tv_imagenet_v2`).
- `resnet20`, `resnet56`, `resnet110` are the paper's CIFAR networks (3x3 stem
  of 16 channels, three stages of 16/32/64 channels, 6n+2 layers) with the
  paper's option A shortcut: parameter-free, subsampled and zero-padded in
  channels (0.27M, 0.85M, 1.7M parameters).

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import resnet
    >>> model = resnet.ResNet50(weights=None)           # = keras.applications.ResNet50
    >>> cifar = resnet.ResNetCIFAR(depth=56)             # the paper's ResNet-56
    >>> tiny = resnet.ResNet18(depths=(1, 1, 1, 1), widths=(8, 8, 16, 16))
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.imagenet.classes import decode_predictions  # noqa: F401  (as keras.applications)
from keras_dense.imagenet.preprocessing import family_preprocess_input
from keras_dense.models import _builder, _layers
from keras_dense.models._layers import ChannelZeroPadding
from keras_dense.models._registry import ModelRecord, register_model
from keras_dense.weights.sources import (
    keras_imagenet,
    timm_eval,
    timm_imagenet,
    torchvision_imagenet,
)

KERAS_BN_EPSILON = _layers.KERAS_APPLICATIONS_BN_EPSILON  # keras.applications' weights expect it
TORCH_BN_EPSILON = _layers.TORCHVISION_BN_EPSILON  # torchvision's weights expect it
BOTTLENECK_EXPANSION = 4

preprocess_input = family_preprocess_input("caffe", "ResNet")


def _shortcut(x, out_channels, stride, kind, use_bias, epsilon, name):
    """The identity, or the block's `{name}_0_*` shortcut when the shape changes."""
    if stride == 1 and x.shape[-1] == out_channels:
        return x
    if kind == "projection":  # option B: 1x1 convolution + BN
        return _layers.conv_bn_relu(
            x,
            out_channels,
            1,
            f"{name}_0",
            strides=stride,
            use_bias=use_bias,
            epsilon=epsilon,
            relu=False,
        )
    # option A: subsample by striding, then pad the new channels with zeros
    if out_channels < x.shape[-1]:
        raise ValueError(
            "The zero-padding shortcut cannot reduce channels "
            f"({x.shape[-1]} -> {out_channels}); use shortcut='projection'."
        )
    if stride > 1:
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    return ChannelZeroPadding(out_channels - x.shape[-1], name=f"{name}_0_pad")(x)


def _torch_padding(kernel_size, strides):
    """`same` at stride 1 (or for 1x1), symmetric zero padding for strided convolutions."""
    return "same" if strides == 1 or kernel_size == 1 else "symmetric"


def basic_block(
    x, filters, name, stride=1, shortcut="projection", use_bias=False, bn_epsilon=TORCH_BN_EPSILON
):
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
    x = _layers.conv_bn_relu(
        x,
        filters,
        3,
        f"{name}_1",
        strides=stride,
        padding=_torch_padding(3, stride),
        use_bias=use_bias,
        epsilon=bn_epsilon,
    )
    x = _layers.conv_bn_relu(
        x, filters, 3, f"{name}_2", use_bias=use_bias, epsilon=bn_epsilon, relu=False
    )
    x = layers.Add(name=f"{name}_add")([residual, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(
    x,
    filters,
    name,
    stride=1,
    shortcut="projection",
    use_bias=True,
    bn_epsilon=KERAS_BN_EPSILON,
    stride_in_3x3=False,
):
    """1x1-3x3-1x1 bottleneck with a residual connection (ResNet-50/101/152).

    As in `keras.applications` (ResNet v1), the stride sits in the first 1x1
    convolution; with `stride_in_3x3=True` it sits in the 3x3 convolution,
    padded symmetrically, as in torchvision ("ResNet v1.5"). The layer names
    are Keras's (`{name}_0_conv` ... `{name}_out`).

    Args:
        x: input tensor.
        filters: bottleneck channels; the block outputs `4 * filters`.
        name: layer-name prefix, e.g. `"conv2_block1"`.
        stride: stride of the first convolution.
        shortcut: `"projection"` or `"zero_pad"`, as in `basic_block`.
        use_bias: whether the convolutions have biases (Keras: True).
        bn_epsilon: batch-norm epsilon.
        stride_in_3x3: put the stride in the 3x3 convolution (v1.5) instead
            of the first 1x1.

    Returns:
        Output tensor with `4 * filters` channels.

    Example:
        >>> y = bottleneck_block(keras.Input((56, 56, 64)), 64, "conv2_block1")
    """
    out_channels = BOTTLENECK_EXPANSION * filters
    residual = _shortcut(x, out_channels, stride, shortcut, use_bias, bn_epsilon, name)
    stride_1x1, stride_3x3 = (1, stride) if stride_in_3x3 else (stride, 1)
    x = _layers.conv_bn_relu(
        x, filters, 1, f"{name}_1", strides=stride_1x1, use_bias=use_bias, epsilon=bn_epsilon
    )
    x = _layers.conv_bn_relu(
        x,
        filters,
        3,
        f"{name}_2",
        strides=stride_3x3,
        padding=_torch_padding(3, stride_3x3),
        use_bias=use_bias,
        epsilon=bn_epsilon,
    )
    x = _layers.conv_bn_relu(
        x, out_channels, 1, f"{name}_3", use_bias=use_bias, epsilon=bn_epsilon, relu=False
    )
    x = layers.Add(name=f"{name}_add")([residual, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stem(x, kind, filters, use_bias, epsilon):
    """The stem: `"imagenet"`, 7x7/2 conv, BN, ReLU, 3x3/2 max-pool (Keras's names);
    `"cifar"`, 3x3 conv, BN, ReLU."""
    if kind == "cifar":
        return _layers.conv_bn_relu(x, filters, 3, "conv1", use_bias=use_bias, epsilon=epsilon)
    x = _layers.conv_bn_relu(
        x, filters, 7, "conv1", strides=2, padding="symmetric", use_bias=use_bias, epsilon=epsilon
    )
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


STEMS = {"imagenet": 32, "cifar": 8}  # stem -> smallest input side
BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}
SHORTCUTS = ("projection", "zero_pad")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResNetConfig(_builder.ArchConfig):
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
        stride_in_3x3: bottleneck blocks put their stride in the 3x3
            convolution (torchvision's "ResNet v1.5") instead of the first 1x1
            (the paper's and Keras's v1).
    """

    family: ClassVar[str] = "resnet"

    block: str
    depths: tuple
    widths: tuple = (64, 128, 256, 512)
    stem: str = "imagenet"
    stem_filters: int = 64
    shortcut: str = "projection"
    use_bias: bool = False
    bn_epsilon: float = TORCH_BN_EPSILON
    stride_in_3x3: bool = False

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
            raise ValueError(f"stem_filters must be a positive integer; got {self.stem_filters!r}.")
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}; got {self.shortcut!r}.")
        if self.stride_in_3x3 and self.block != "bottleneck":
            raise ValueError(
                "stride_in_3x3 applies to bottleneck blocks (a basic block's stride "
                "is in its first 3x3 convolution already); pass block='bottleneck'."
            )

    @property
    def min_size(self):
        return STEMS[self.stem]

    def body(self, x):
        x = stem(x, self.stem, self.stem_filters, self.use_bias, self.bn_epsilon)
        block = BLOCKS[self.block]
        options = {"stride_in_3x3": True} if self.stride_in_3x3 else {}
        for i, (depth, width) in enumerate(zip(self.depths, self.widths)):
            stage = i + 2  # Keras numbers the stem 1 and the stages conv2..conv5
            for j in range(depth):
                x = block(
                    x,
                    width,
                    name=f"conv{stage}_block{j + 1}",
                    stride=2 if i > 0 and j == 0 else 1,
                    shortcut=self.shortcut,
                    use_bias=self.use_bias,
                    bn_epsilon=self.bn_epsilon,
                    **options,
                )
        return x

    def feature_layers(self):
        # The stem's ReLU (ImageNet stem) and the last block of each stage.
        return self.stage_taps(
            self.stem == "imagenet",
            [f"conv{i + 2}_block{depth}_out" for i, depth in enumerate(self.depths)],
        )


def cifar_config(depth, shortcut="zero_pad"):
    """The paper's CIFAR ResNet of depth 6n+2 (ResNet-20, -32, -44, -56, -110, ...).

    Args:
        depth: total number of weighted layers, 6n + 2.
        shortcut: `"zero_pad"` (the paper's option A) or `"projection"` (B).

    Returns:
        A `ResNetConfig`.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6*n + 2 for a CIFAR ResNet (e.g. 20, 56, 110); got {depth!r}."
        )
    n = (depth - 2) // 6
    return ResNetConfig(
        block="basic",
        depths=(n, n, n),
        widths=(16, 32, 64),
        stem="cifar",
        stem_filters=16,
        shortcut=shortcut,
        default_size=32,
        classes=10,
    )


def ResNet(block, depths, **kwargs):
    """Instantiates a ResNet with the given block type and stage depths.

    Args:
        block: `"basic"` or `"bottleneck"`.
        depths: blocks per stage, e.g. `[3, 4, 6, 3]`.
        **kwargs: the `keras.applications` arguments (`include_top`,
            `weights`, `input_tensor`, `input_shape`, `pooling`, `classes`,
            `classifier_activation`, `name`) and any other `ResNetConfig`
            field (`widths`, `stem`, `stem_filters`, `shortcut`, `use_bias`,
            `bn_epsilon`, `default_size`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = ResNet("basic", [2, 2, 2, 2])  # ResNet-18
    """
    return _builder.build_model(ResNetConfig(block=block, depths=tuple(depths)), **kwargs)


def ResNetCIFAR(depth=20, shortcut="zero_pad", **kwargs):
    """Instantiates the paper's CIFAR ResNet of depth 6n+2.

    Args:
        depth: 20, 32, 44, 56, 110, ... (6n + 2).
        shortcut: `"zero_pad"` (option A, the paper's CIFAR choice) or
            `"projection"` (option B).
        **kwargs: as in `ResNet`.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = ResNetCIFAR(depth=56)  # 0.85M parameters
    """
    kwargs.setdefault("name", f"resnet{depth}")
    return _builder.build_model(cifar_config(depth, shortcut), **kwargs)


TINY_IMAGENET = {
    "depths": (1, 1, 1, 1),
    "widths": (4, 4, 8, 8),
    "stem_filters": 4,
    "input_shape": (32, 32, 3),
    "classes": 5,
}
TINY_CIFAR = {
    "depths": (1, 1, 1),
    "widths": (4, 8, 8),
    "stem_filters": 4,
    "input_shape": (32, 32, 3),
    "classes": 5,
}
BOTTLENECK_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
KERAS_MD5 = {  # depth -> md5 of keras.applications' file with and without the classifier
    50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}


def _torchvision_basic(depth, depths, params, file_hash, notop_params, top1, top5, timm=()):
    """The record of torchvision's ResNet-{depth} (basic blocks) with its published weights
    (torchvision's, then `timm`'s tags, as `_timm` makes them)."""
    return ModelRecord(
        f"resnet{depth}",
        ResNetConfig(block="basic", depths=depths),
        f"ResNet-{depth}, ImageNet (torchvision's layout)",
        params=params,
        weights=(
            torchvision_imagenet(f"resnet{depth}-{file_hash}.pth", notop_params, top1, top5),
            *(_timm(f"resnet{depth}", notop_params, *tag) for tag in timm),
        ),
        tiny=TINY_IMAGENET,
    )


def _keras_v1(depth, params, notop_params, top1, top5):
    """The record of `keras.applications.ResNet{depth}` (v1) with Keras's weights (`KERAS_MD5`)."""
    md5, notop_md5 = KERAS_MD5[depth]
    return ModelRecord(
        f"resnet{depth}",
        ResNetConfig(
            block="bottleneck",
            depths=BOTTLENECK_DEPTHS[depth],
            use_bias=True,
            bn_epsilon=KERAS_BN_EPSILON,
        ),
        f"ResNet-{depth}, ImageNet (keras.applications-compatible)",
        params=params,
        weights=(
            keras_imagenet(
                "resnet", f"resnet{depth}", md5, notop_md5, notop_params, "caffe", top1, top5
            ),
        ),
        tiny=TINY_IMAGENET,
    )


def _cifar(depth, params, size):
    """The record of the paper's CIFAR ResNet-{depth} with option A shortcuts."""
    return ModelRecord(
        f"resnet{depth}",
        cifar_config(depth),
        f"ResNet-{depth} for CIFAR, option A shortcuts (paper, {size})",
        params=params,
        tiny=TINY_CIFAR,
    )


def _timm(architecture, notop_params, tag, top1, top5, size):
    """A timm tag of timm's `architecture` (keys and shapes torchvision's): its accuracies
    (timm's results/results-imagenet.csv) at its `pretrained_cfg`'s test size, where its
    test crop is 1.0 and its interpolation bicubic (every ResNet tag recorded here)."""
    return timm_imagenet(
        f"{architecture}.{tag}", notop_params, top1, top5, timm_eval(size, 1.0, "bicubic")
    )


def _torchvision_v1_5(depth, params, notop_params, weights_v1, weights_v2, timm=()):
    """The record of torchvision's ResNet-{depth} ("v1.5") with its two published weights.

    Args:
        depth: 50, 101 or 152 (its blocks per stage: `BOTTLENECK_DEPTHS`).
        params, notop_params: total parameters with and without the classifier.
        weights_v1, weights_v2: `(file hash, top-1, top-5)` of IMAGENET1K_V1 and _V2.
        timm: `(tag, top-1, top-5, test size)` of timm's `resnet{depth}` weights (`_timm`).

    Returns:
        A `ModelRecord` named `resnet{depth}_v1_5`.
    """
    (v1_hash, *v1_accuracy), (v2_hash, *v2_accuracy) = weights_v1, weights_v2
    return ModelRecord(
        f"resnet{depth}_v1_5",
        ResNetConfig(block="bottleneck", depths=BOTTLENECK_DEPTHS[depth], stride_in_3x3=True),
        f"ResNet-{depth} v1.5: stride in the 3x3 convolutions, no conv biases "
        f"(torchvision's resnet{depth})",
        params=params,
        weights=(
            torchvision_imagenet(f"resnet{depth}-{v1_hash}.pth", notop_params, *v1_accuracy),
            torchvision_imagenet(
                f"resnet{depth}-{v2_hash}.pth", notop_params, *v2_accuracy, tag="tv_imagenet_v2"
            ),
            *(_timm(f"resnet{depth}", notop_params, *tag) for tag in timm),
        ),
        tiny=TINY_IMAGENET,
    )


@register_model(
    _torchvision_basic(
        18,
        (2, 2, 2, 2),
        11_699_112,
        "f37072fd",
        11_186_112,
        69.758,
        89.078,
        timm=[("a1_in1k", 73.164, 91.054, 288)],
    )
)
def ResNet18(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet18",
    **overrides: Any,
) -> keras.Model:
    """ResNet-18 (He et al., CVPR 2016) in torchvision's layout (`resnet18`)."""
    return _builder.build_registered("resnet18", locals())


@register_model(
    _torchvision_basic(
        34,
        (3, 4, 6, 3),
        21_814_696,
        "b627a593",
        21_301_696,
        73.314,
        91.42,
        timm=[("a1_in1k", 77.930, 93.758, 288)],
    )
)
def ResNet34(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet34",
    **overrides: Any,
) -> keras.Model:
    """ResNet-34 (He et al., CVPR 2016) in torchvision's layout (`resnet34`)."""
    return _builder.build_registered("resnet34", locals())


@register_model(_keras_v1(50, 25_636_712, 23_587_712, 74.9, 92.1))
def ResNet50(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet50",
    **overrides: Any,
) -> keras.Model:
    """ResNet-50 (He et al., CVPR 2016), layer for layer `keras.applications.ResNet50`."""
    return _builder.build_registered("resnet50", locals())


@register_model(_keras_v1(101, 44_707_176, 42_658_176, 76.4, 92.8))
def ResNet101(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet101",
    **overrides: Any,
) -> keras.Model:
    """ResNet-101 (He et al., CVPR 2016), layer for layer `keras.applications.ResNet101`."""
    return _builder.build_registered("resnet101", locals())


@register_model(_keras_v1(152, 60_419_944, 58_370_944, 76.6, 93.1))
def ResNet152(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet152",
    **overrides: Any,
) -> keras.Model:
    """ResNet-152 (He et al., CVPR 2016), layer for layer `keras.applications.ResNet152`."""
    return _builder.build_registered("resnet152", locals())


@register_model(
    _torchvision_v1_5(
        50,
        25_610_152,
        23_561_152,
        ("0676ba61", 76.13, 92.862),
        ("11ad3fa6", 80.858, 95.434),
        timm=[("a1_in1k", 81.240, 95.112, 288), ("a1h_in1k", 80.654, 95.312, 224)],
    )
)
def ResNet50V15(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet50_v1_5",
    **overrides: Any,
) -> keras.Model:
    """ResNet-50 v1.5, the stride in the 3x3 convolutions (torchvision's `resnet50`)."""
    return _builder.build_registered("resnet50_v1_5", locals())


@register_model(
    _torchvision_v1_5(
        101,
        44_654_504,
        42_605_504,
        ("63fe2227", 77.374, 93.546),
        ("cd907fc2", 81.886, 95.78),
        timm=[("a1h_in1k", 82.796, 96.324, 288), ("a1_in1k", 82.326, 95.630, 288)],
    )
)
def ResNet101V15(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet101_v1_5",
    **overrides: Any,
) -> keras.Model:
    """ResNet-101 v1.5, the stride in the 3x3 convolutions (torchvision's)."""
    return _builder.build_registered("resnet101_v1_5", locals())


@register_model(
    _torchvision_v1_5(
        152,
        60_344_232,
        58_295_232,
        ("394f9c45", 78.312, 94.046),
        ("f82ba261", 82.284, 96.002),
        timm=[("a1h_in1k", 83.494, 96.522, 288), ("a1_in1k", 82.742, 95.734, 288)],
    )
)
def ResNet152V15(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "resnet152_v1_5",
    **overrides: Any,
) -> keras.Model:
    """ResNet-152 v1.5, the stride in the 3x3 convolutions (torchvision's)."""
    return _builder.build_registered("resnet152_v1_5", locals())


@register_model(_cifar(20, 271_098, "0.27M"))
def ResNet20(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "resnet20",
    **overrides: Any,
) -> keras.Model:
    """ResNet-20 for CIFAR, option A shortcuts (He et al., CVPR 2016, section 4.2)."""
    return _builder.build_registered("resnet20", locals())


@register_model(_cifar(56, 857_082, "0.85M"))
def ResNet56(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "resnet56",
    **overrides: Any,
) -> keras.Model:
    """ResNet-56 for CIFAR, option A shortcuts (He et al., CVPR 2016, section 4.2)."""
    return _builder.build_registered("resnet56", locals())


@register_model(_cifar(110, 1_736_058, "1.7M"))
def ResNet110(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "resnet110",
    **overrides: Any,
) -> keras.Model:
    """ResNet-110 for CIFAR, option A shortcuts (He et al., CVPR 2016, section 4.2)."""
    return _builder.build_registered("resnet110", locals())
