"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016).

The model is a layer-for-layer twin of `keras.applications.InceptionV3`: the
same layers in the same order with the same weight shapes, so the published
`.h5` files (which Keras loads by layer order) load unchanged, and the same
outputs for the same weights.

Layer names. Keras names only the block outputs (`mixed0` ... `mixed10`, the
inner `mixed9_0`, `mixed9_1`), `avg_pool` and `predictions`; we keep those
names exactly. Keras leaves every other layer auto-named (`conv2d_57`,
`batch_normalization_57`, ...), names that change with the session and say
nothing; we name them after the block and branch instead:

- stem: `stem_1a_3x3`, `stem_2a_3x3`, `stem_2b_3x3`, `stem_3a_pool`,
  `stem_3b_1x1`, `stem_4a_3x3`, `stem_5a_pool` (the paper's / TF-slim's labels);
- in block `mixedN`: `mixedN_{branch}_{k}` for the k-th convolution of a
  branch (`1x1`, `5x5`, `3x3`, `3x3dbl`, `7x7`, `7x7dbl`, `7x7x3`), `a`/`b`
  for the 1x3 / 3x1 split of the 8x8 blocks, `mixedN_pool` for the pooling and
  `mixedN_pool_proj` for its 1x1 projection;
- each convolution unit `P` is `P_conv`, `P_bn`, `P_relu`.

torchvision's Inception v3 (`Inception3`, weights ported from TensorFlow:
`tv_imagenet`) has the same convolutions, and differs in three ways, each a
config option its tag sets: its batch norms have a learned scale
(`bn_scale=True`; TensorFlow trained none, tensorflow/tensorflow#564, so the
ported scales are likely all ones, but we could not read the published file
here, and the option is exact whatever they are); its branches' 3x3 average
poolings count the zero padding at the borders (`avg_pool_counts_padding=True`);
and it renormalises "torch"-preprocessed pixels to [-1, 1] inside the model
(`transform_input=True`). Its auxiliary classifier (`AuxLogits`, for
training) is not converted.

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import inception_v3
    >>> model = inception_v3.InceptionV3(weights=None)
    >>> tiny = inception_v3.InceptionV3(input_shape=(75, 75, 3), width=0.125, blocks=(1, 1, 1))
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.imagenet.classes import decode_predictions  # noqa: F401  (as keras.applications)
from keras_dense.imagenet.preprocessing import family_preprocess_input
from keras_dense.models import _builder, _layers
from keras_dense.models._registry import ModelRecord, register_model
from keras_dense.weights.sources import keras_imagenet, torchvision_imagenet

BN_EPSILON = _layers.INCEPTION_BN_EPSILON  # keras.applications' and torchvision's
INCEPTION_A_POOL_FILTERS = (32, 64, 64)  # pool projections of mixed0, mixed1, mixed2
INCEPTION_B_CHANNELS = (128, 160, 160, 192)  # 7x7 branch channels of mixed4-7
BLOCKS = (3, 4, 2)  # 35x35, 17x17 and 8x8 blocks of Inception v3

preprocess_input = family_preprocess_input("tf", "Inception v3")


def _inception_b_channels(count):
    """The first `count - 1` 17x17 blocks' channels, then the last one's (192)."""
    return INCEPTION_B_CHANNELS[: count - 1] + INCEPTION_B_CHANNELS[-1:]


def conv2d_bn(x, filters, kernel_size, name, strides=1, padding="same", width=1.0, bn_scale=False):
    """Convolution (no bias), batch norm (without scale), ReLU: `{name}_conv/_bn/_relu`.

    Args:
        x: input tensor.
        filters: output channels (before `width` scaling).
        kernel_size: `(rows, cols)`, e.g. `(1, 7)` for a factorised convolution.
        name: layer-name prefix.
        strides: convolution strides.
        padding: `"same"` or `"valid"`.
        width: channel multiplier (1.0 is Inception v3).
        bn_scale: give the batch norm a learned scale (torchvision's layout).

    Returns:
        Output tensor.

    Example:
        >>> y = conv2d_bn(keras.Input((35, 35, 192)), 64, (1, 1), "mixed0_1x1")
    """
    return _layers.conv_bn_relu(
        x,
        _layers.scaled(filters, width),
        kernel_size,
        name,
        strides=strides,
        padding=padding,
        epsilon=BN_EPSILON,
        scale=bn_scale,
    )


def _pool_projection(x, filters, name, conv, avg_pool_counts_padding):
    if avg_pool_counts_padding:  # torchvision's avg_pool2d(padding=1, count_include_pad=True)
        x = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
        y = layers.AveragePooling2D(3, strides=1, name=f"{name}_pool")(x)
    else:
        y = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    return conv2d_bn(y, filters, (1, 1), f"{name}_pool_proj", **conv)


def inception_a(x, pool_filters, name, width=1.0, bn_scale=False, avg_pool_counts_padding=False):
    """The 35x35 block (Figure 5 of the paper): 1x1, 5x5, double 3x3 and pool branches.

    Args:
        x: input tensor (35x35 at the default size).
        pool_filters: channels of the pool projection (32 for mixed0, else 64).
        name: block name, e.g. `"mixed0"` (also the output concatenation's name).
        width: channel multiplier.
        bn_scale: batch norms with a learned scale (torchvision's layout).
        avg_pool_counts_padding: the pool branch's 3x3 average counts the zero
            padding at the borders, as torchvision's (Keras's averages only
            the pixels inside the image).

    Returns:
        Output tensor with 224 + `pool_filters` channels (at width 1).
    """
    conv = {"width": width, "bn_scale": bn_scale}
    branch1x1 = conv2d_bn(x, 64, (1, 1), f"{name}_1x1", **conv)
    branch5x5 = conv2d_bn(x, 48, (1, 1), f"{name}_5x5_1", **conv)
    branch5x5 = conv2d_bn(branch5x5, 64, (5, 5), f"{name}_5x5_2", **conv)
    branch3x3dbl = conv2d_bn(x, 64, (1, 1), f"{name}_3x3dbl_1", **conv)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, (3, 3), f"{name}_3x3dbl_2", **conv)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, (3, 3), f"{name}_3x3dbl_3", **conv)
    branch_pool = _pool_projection(x, pool_filters, name, conv, avg_pool_counts_padding)
    return layers.Concatenate(axis=-1, name=name)([branch1x1, branch5x5, branch3x3dbl, branch_pool])


def reduction_a(x, name, width=1.0, bn_scale=False):
    """35x35 -> 17x17 grid reduction: strided 3x3, strided double 3x3, max-pool.

    Args:
        x: input tensor.
        name: block name (Keras: `"mixed3"`).
        width: channel multiplier.
        bn_scale: batch norms with a learned scale.

    Returns:
        Output tensor at half the resolution, 480 + input channels (at width 1).
    """
    conv = {"width": width, "bn_scale": bn_scale}
    branch3x3 = conv2d_bn(x, 384, (3, 3), f"{name}_3x3", strides=2, padding="valid", **conv)
    branch3x3dbl = conv2d_bn(x, 64, (1, 1), f"{name}_3x3dbl_1", **conv)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, (3, 3), f"{name}_3x3dbl_2", **conv)
    branch3x3dbl = conv2d_bn(
        branch3x3dbl, 96, (3, 3), f"{name}_3x3dbl_3", strides=2, padding="valid", **conv
    )
    branch_pool = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(axis=-1, name=name)([branch3x3, branch3x3dbl, branch_pool])


def inception_b(x, channels_7x7, name, width=1.0, bn_scale=False, avg_pool_counts_padding=False):
    """The 17x17 block (Figure 6): 7x7 convolutions factorised into 1x7 and 7x1.

    Args:
        x: input tensor (17x17 at the default size).
        channels_7x7: inner channels of the factorised branches (128, 160, 192).
        name: block name, e.g. `"mixed4"`.
        width: channel multiplier.
        bn_scale: as in `inception_a`.
        avg_pool_counts_padding: as in `inception_a`.

    Returns:
        Output tensor with 768 channels (at width 1).
    """
    conv = {"width": width, "bn_scale": bn_scale}
    c = channels_7x7
    branch1x1 = conv2d_bn(x, 192, (1, 1), f"{name}_1x1", **conv)
    branch7x7 = conv2d_bn(x, c, (1, 1), f"{name}_7x7_1", **conv)
    branch7x7 = conv2d_bn(branch7x7, c, (1, 7), f"{name}_7x7_2", **conv)
    branch7x7 = conv2d_bn(branch7x7, 192, (7, 1), f"{name}_7x7_3", **conv)
    branch7x7dbl = x
    for k, (filters, kernel) in enumerate(
        [(c, (1, 1)), (c, (7, 1)), (c, (1, 7)), (c, (7, 1)), (192, (1, 7))], start=1
    ):
        branch7x7dbl = conv2d_bn(branch7x7dbl, filters, kernel, f"{name}_7x7dbl_{k}", **conv)
    branch_pool = _pool_projection(x, 192, name, conv, avg_pool_counts_padding)
    return layers.Concatenate(axis=-1, name=name)([branch1x1, branch7x7, branch7x7dbl, branch_pool])


def reduction_b(x, name, width=1.0, bn_scale=False):
    """17x17 -> 8x8 grid reduction: 1x1-3x3/2, 1x1-1x7-7x1-3x3/2 and max-pool branches.

    Args:
        x: input tensor.
        name: block name (Keras: `"mixed8"`).
        width: channel multiplier.
        bn_scale: batch norms with a learned scale.

    Returns:
        Output tensor at half the resolution, 512 + input channels (at width 1).
    """
    conv = {"width": width, "bn_scale": bn_scale}
    branch3x3 = conv2d_bn(x, 192, (1, 1), f"{name}_3x3_1", **conv)
    branch3x3 = conv2d_bn(
        branch3x3, 320, (3, 3), f"{name}_3x3_2", strides=2, padding="valid", **conv
    )
    branch7x7x3 = conv2d_bn(x, 192, (1, 1), f"{name}_7x7x3_1", **conv)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, (1, 7), f"{name}_7x7x3_2", **conv)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, (7, 1), f"{name}_7x7x3_3", **conv)
    branch7x7x3 = conv2d_bn(
        branch7x7x3, 192, (3, 3), f"{name}_7x7x3_4", strides=2, padding="valid", **conv
    )
    branch_pool = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(axis=-1, name=name)([branch3x3, branch7x7x3, branch_pool])


def _split_3x3(x, name, conv):
    """Parallel 1x3 and 3x1 convolutions `{name}a`, `{name}b` (Figure 7)."""
    return (
        conv2d_bn(x, 384, (1, 3), f"{name}a", **conv),
        conv2d_bn(x, 384, (3, 1), f"{name}b", **conv),
    )


def inception_c(x, name, split_name=None, width=1.0, bn_scale=False, avg_pool_counts_padding=False):
    """The 8x8 block (Figure 7): 3x3 branches split into parallel 1x3 and 3x1.

    Args:
        x: input tensor (8x8 at the default size).
        name: block name, e.g. `"mixed9"`.
        split_name: name of the 3x3 branch's concatenation; Keras names it
            `mixed9_0` in mixed9 and `mixed9_1` in mixed10. Defaults to
            `{name}_3x3_concat`.
        width: channel multiplier.
        bn_scale: as in `inception_a`.
        avg_pool_counts_padding: as in `inception_a`.

    Returns:
        Output tensor with 2048 channels (at width 1).
    """
    conv = {"width": width, "bn_scale": bn_scale}
    branch1x1 = conv2d_bn(x, 320, (1, 1), f"{name}_1x1", **conv)
    branch3x3 = conv2d_bn(x, 384, (1, 1), f"{name}_3x3_1", **conv)
    branch3x3 = layers.Concatenate(axis=-1, name=split_name or f"{name}_3x3_concat")(
        list(_split_3x3(branch3x3, f"{name}_3x3_2", conv))
    )
    branch3x3dbl = conv2d_bn(x, 448, (1, 1), f"{name}_3x3dbl_1", **conv)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 384, (3, 3), f"{name}_3x3dbl_2", **conv)
    branch3x3dbl = layers.Concatenate(axis=-1, name=f"{name}_3x3dbl_concat")(
        list(_split_3x3(branch3x3dbl, f"{name}_3x3dbl_3", conv))
    )
    branch_pool = _pool_projection(x, 192, name, conv, avg_pool_counts_padding)
    return layers.Concatenate(axis=-1, name=name)([branch1x1, branch3x3, branch3x3dbl, branch_pool])


def _stem(x, conv):
    x = conv2d_bn(x, 32, (3, 3), "stem_1a_3x3", strides=2, padding="valid", **conv)
    x = conv2d_bn(x, 32, (3, 3), "stem_2a_3x3", padding="valid", **conv)
    x = conv2d_bn(x, 64, (3, 3), "stem_2b_3x3", **conv)
    x = layers.MaxPooling2D(3, strides=2, name="stem_3a_pool")(x)
    x = conv2d_bn(x, 80, (1, 1), "stem_3b_1x1", padding="valid", **conv)
    x = conv2d_bn(x, 192, (3, 3), "stem_4a_3x3", padding="valid", **conv)
    return layers.MaxPooling2D(3, strides=2, name="stem_5a_pool")(x)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InceptionV3Config(_builder.ArchConfig):
    """The architecture of Inception v3.

    Attributes:
        width: channel multiplier of every convolution (1.0 is Inception v3;
            smaller values make quick test models, without published weights).
        blocks: numbers of 35x35, 17x17 and 8x8 blocks, at most `(3, 4, 2)`
            (Inception v3); fewer make quick test models. The last 17x17
            block keeps its 192 channels.
        transform_input: start with torchvision's renormalisation of
            "torch"-preprocessed pixels to [-1, 1] (`_layers.transform_input`).
        bn_scale: batch norms with a learned scale (torchvision's `Inception3`;
            Keras's have none).
        avg_pool_counts_padding: the branches' 3x3 average poolings count the
            zero padding at the borders (torchvision's `count_include_pad`);
            Keras's, like TensorFlow's, average only the pixels inside.
    """

    family: ClassVar[str] = "inception_v3"

    width: float = 1.0
    blocks: tuple = BLOCKS
    transform_input: bool = False
    bn_scale: bool = False
    avg_pool_counts_padding: bool = False

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"width must be a positive channel multiplier; got {self.width!r}.")
        if len(self.blocks) != 3 or any(
            not isinstance(n, int) or not 1 <= n <= most for n, most in zip(self.blocks, BLOCKS)
        ):
            raise ValueError(
                f"blocks must be 3 counts of 35x35, 17x17 and 8x8 blocks between 1 and "
                f"{BLOCKS}; got {self.blocks!r}."
            )

    @property
    def min_size(self):
        return 75

    def body(self, x):
        blocks = self.blocks
        conv = {"width": self.width, "bn_scale": self.bn_scale}
        pooled = {**conv, "avg_pool_counts_padding": self.avg_pool_counts_padding}
        # Keras numbers the blocks in order: mixed0-2 (35x35), mixed3 (reduction),
        # mixed4-7 (17x17), mixed8 (reduction), mixed9-10 (8x8).
        names = (f"mixed{i}" for i in range(sum(blocks) + 2))
        if self.transform_input:
            x = _layers.transform_input(x)
        x = _stem(x, conv)
        for pool_filters in INCEPTION_A_POOL_FILTERS[: blocks[0]]:
            x = inception_a(x, pool_filters, next(names), **pooled)
        x = reduction_a(x, next(names), **conv)
        for channels_7x7 in _inception_b_channels(blocks[1]):
            x = inception_b(x, channels_7x7, next(names), **pooled)
        x = reduction_b(x, next(names), **conv)
        names_8x8 = [next(names) for _ in range(blocks[2])]
        for i, name_8x8 in enumerate(names_8x8):
            # Keras names the 3x3 split of every 8x8 block after the first: mixed9_0, mixed9_1
            x = inception_c(x, name_8x8, split_name=f"{names_8x8[0]}_{i}", **pooled)
        return x

    def feature_layers(self):
        # timm's taps (Conv2d_2b_3x3, Conv2d_4a_3x3, Mixed_5d, Mixed_6e, Mixed_7c):
        # the stem's ReLUs at 2 and 4, then the last block of each grid size.
        a, b, c = self.blocks
        return [
            ("stem_2b_3x3_relu", 2),
            ("stem_4a_3x3_relu", 4),
            (f"mixed{a - 1}", 8),
            (f"mixed{a + b}", 16),
            (f"mixed{a + b + c + 1}", 32),
        ]


# torchvision's Inception3, which its weights need (see the module docstring).
TORCHVISION_ARCH = {"transform_input": True, "bn_scale": True, "avg_pool_counts_padding": True}


@register_model(
    ModelRecord(
        "inception_v3",
        InceptionV3Config(default_size=299),
        "Inception v3, ImageNet (keras.applications-compatible)",
        params=23_851_784,
        weights=(
            keras_imagenet(
                "inception_v3",
                "inception_v3",
                "9a0d58056eeedaa3f26cb7ebd46da564",
                "bcbd6486424b2319ff4ef7d526e38f63",
                21_802_784,
                "tf",
                77.9,
                93.7,
            ),
            torchvision_imagenet(
                "inception_v3_google-0cc3c7bd.pth",
                21_820_000,
                77.294,
                93.45,
                arch=TORCHVISION_ARCH,
                params=23_869_000,
            ),
        ),
        tiny={"width": 0.0625, "blocks": (1, 1, 1), "input_shape": (75, 75, 3), "classes": 5},
    )
)
def InceptionV3(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "inception_v3",
    **overrides: Any,
) -> keras.Model:
    """Inception v3 (Szegedy et al., CVPR 2016), layer for layer `keras.applications`'."""
    return _builder.build_registered("inception_v3", locals())
