"""VGG (Simonyan and Zisserman, "Very Deep Convolutional Networks", ICLR 2015).

The configurations A, B, C, D and E of the paper's table 1 are one table,
`CFGS`, written as torchvision writes it: filters of a 3x3 convolution, `"M"`
for a 2x2 max pooling, and `(filters, 1)` for configuration C's 1x1
convolutions. `vgg16` and `vgg19` have the same layers, in the same order, with
the same names and weight shapes as `keras.applications.VGG16` / `VGG19`, so
the published `.h5` files load unchanged; the `_bn` variants put batch
normalisation after each convolution, as torchvision's, and have torchvision's
trainable parameter counts. The eight configurations torchvision publishes
(11, 13, 16, 19, with and without batch norm) have its weights (`tv_imagenet`).

`keras.applications` has no dropout in the classifier, and neither have the
ImageNet models here by default; pass `dropout_rate=0.5` to train one from
scratch as the paper did. `vgg16_bn_cifar` is the source notes' VGG16-BN for
32x32 images: configuration D with batch norm and a 512-512-classes head with
dropout 0.5.

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import vgg
    >>> model = vgg.VGG16(weights=None)                       # = keras.applications.VGG16
    >>> tiny = vgg.VGG11(input_shape=(32, 32, 3), classes=10, width=0.125, fc_units=64)
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

TORCH_BN_EPSILON = _layers.TORCHVISION_BN_EPSILON  # torchvision's weights expect it

preprocess_input = family_preprocess_input("caffe", "VGG")

# Configurations of the paper's table 1 (torchvision's `cfgs`, with C added).
CFGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "C": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        (256, 1),
        "M",
        512,
        512,
        (512, 1),
        "M",
        512,
        512,
        (512, 1),
        "M",
    ),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ),
}


def vgg_block(x, convs, batch_norm, name, bn_epsilon=TORCH_BN_EPSILON):
    """Convolutions `{name}_conv{i}` (ReLU), then a 2x2 max pooling `{name}_pool`.

    Without batch norm each convolution is one `Conv2D(activation="relu")`
    named `{name}_conv{i}`, as in `keras.applications`; with it, the Conv2D
    `{name}_conv{i}`, then `{name}_conv{i}_bn` and `{name}_conv{i}_relu`.

    Args:
        x: input tensor.
        convs: list of `(filters, kernel_size)`.
        batch_norm: whether each convolution is batch-normalised.
        name: block label, e.g. `"block1"`.
        bn_epsilon: batch-norm epsilon.

    Returns:
        Output tensor at half the resolution.

    Example:
        >>> y = vgg_block(keras.Input((224, 224, 3)), [(64, 3), (64, 3)], False, "block1")
    """
    for i, (filters, kernel_size) in enumerate(convs, start=1):
        conv_name = f"{name}_conv{i}"
        x = layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            name=conv_name,
            activation=None if batch_norm else "relu",
        )(x)
        if batch_norm:
            x = _layers.bn_relu(x, conv_name, bn_epsilon)
    return layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(x)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VGGConfig(_builder.ArchConfig):
    """The architecture of one VGG.

    Attributes:
        cfg: a `CFGS` entry: filters of 3x3 convolutions, `(filters, kernel)`
            for other kernels, `"M"` for a 2x2 max pooling ending a block.
        batch_norm: batch normalisation after each convolution.
        fc_units: units of the two hidden fully-connected layers.
        dropout_rate: dropout after each hidden fully-connected layer (0: none).
        width: multiplier of the convolution filters (1.0 is the paper's).
        bn_epsilon: batch-norm epsilon.
    """

    family: ClassVar[str] = "vgg"
    weightless_fields: ClassVar[tuple] = ("dropout_rate",)

    cfg: tuple
    batch_norm: bool = False
    fc_units: int = 4096
    dropout_rate: float = 0.0
    width: float = 1.0
    bn_epsilon: float = TORCH_BN_EPSILON

    def __post_init__(self):
        if isinstance(self.cfg, str):
            if self.cfg not in CFGS:
                raise ValueError(f"cfg must be one of {sorted(CFGS)} or a tuple; got {self.cfg!r}.")
            object.__setattr__(self, "cfg", CFGS[self.cfg])
        if not self.cfg or self.cfg[-1] != "M":
            raise ValueError(f"cfg must end with 'M' (a max pooling); got {self.cfg!r}.")
        if not isinstance(self.fc_units, int) or self.fc_units < 1:
            raise ValueError(f"fc_units must be a positive integer; got {self.fc_units!r}.")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1); got {self.dropout_rate!r}.")
        if not self.width > 0:
            raise ValueError(f"width must be a positive multiplier; got {self.width!r}.")

    def blocks(self):
        """Yields one list of `(filters, kernel_size)` per max-pooled block."""
        block = []
        for item in self.cfg:
            if item == "M":
                yield block
                block = []
            else:
                filters, kernel_size = item if isinstance(item, tuple) else (item, 3)
                block.append((_layers.scaled(filters, self.width), kernel_size))

    def body(self, x):
        for i, convs in enumerate(self.blocks(), start=1):
            x = vgg_block(x, convs, self.batch_norm, name=f"block{i}", bn_epsilon=self.bn_epsilon)
        return x

    def feature_layers(self):
        # Each block's max pooling: strides 2, 4, 8, 16, 32.
        return [(f"block{i}_pool", 2**i) for i in range(1, len(list(self.blocks())) + 1)]

    def top(self, x, classes, classifier_activation):
        return _layers.two_fc_head(
            x, classes, classifier_activation, self.fc_units, self.dropout_rate
        )


def VGG(cfg, **kwargs):
    """Instantiates a VGG from a configuration of the paper's table 1.

    Args:
        cfg: `"A"`, `"B"`, `"C"`, `"D"`, `"E"` or a tuple in the `CFGS` format.
        **kwargs: the `keras.applications` arguments and any other
            `VGGConfig` field (`batch_norm`, `fc_units`, `dropout_rate`, `width`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = VGG("A", batch_norm=True, weights=None)  # VGG11-BN
    """
    return _builder.build_model(
        VGGConfig(cfg=cfg if isinstance(cfg, str) else tuple(cfg)), **kwargs
    )


TINY = {"width": 1 / 16, "fc_units": 32, "input_shape": (32, 32, 3), "classes": 5}
CFG_OF_DEPTH = {11: "A", 13: "B", 16: "D", 19: "E"}
KERAS_MD5 = {  # md5 of keras.applications' file with and without the classifier
    16: ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    19: ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}


def _torchvision(depth, batch_norm, params, file_hash, notop_params, top1, top5, keras=None):
    """The record of torchvision's VGG-{depth} (with batch norm: `vgg{depth}_bn`) and its
    weights; `keras`: the top-1 and top-5 of keras.applications' weights (`KERAS_MD5`),
    the model's first tag."""
    cfg = CFG_OF_DEPTH[depth]
    name = f"vgg{depth}_bn" if batch_norm else f"vgg{depth}"
    description = (
        f"VGG-{depth} with batch norm (torchvision's {name})"
        if batch_norm
        else f"VGG-{depth} (config {cfg}), ImageNet"
    )
    weights = (torchvision_imagenet(f"{name}-{file_hash}.pth", notop_params, top1, top5),)
    if keras:
        md5, notop_md5 = KERAS_MD5[depth]
        keras_weights = keras_imagenet(name, name, md5, notop_md5, notop_params, "caffe", *keras)
        weights = (keras_weights, *weights)
        description += " (keras.applications-compatible)"
    return ModelRecord(
        name,
        VGGConfig(cfg=CFGS[cfg], batch_norm=batch_norm),
        description,
        params=params,
        weights=weights,
        tiny=TINY,
    )


@register_model(_torchvision(11, False, 132_863_336, "8a719046", 9_220_480, 69.02, 88.628))
def VGG11(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg11",
    **overrides: Any,
) -> keras.Model:
    """VGG-11, configuration A (Simonyan & Zisserman, ICLR 2015; torchvision's `vgg11`)."""
    return _builder.build_registered("vgg11", locals())


@register_model(_torchvision(11, True, 132_874_344, "6002323d", 9_231_488, 70.37, 89.81))
def VGG11BN(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg11_bn",
    **overrides: Any,
) -> keras.Model:
    """VGG-11 with batch normalisation (torchvision's `vgg11_bn`)."""
    return _builder.build_registered("vgg11_bn", locals())


@register_model(_torchvision(13, False, 133_047_848, "19584684", 9_404_992, 69.928, 89.246))
def VGG13(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg13",
    **overrides: Any,
) -> keras.Model:
    """VGG-13, configuration B (Simonyan & Zisserman, ICLR 2015; torchvision's `vgg13`)."""
    return _builder.build_registered("vgg13", locals())


@register_model(_torchvision(13, True, 133_059_624, "abd245e5", 9_416_768, 71.586, 90.374))
def VGG13BN(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg13_bn",
    **overrides: Any,
) -> keras.Model:
    """VGG-13 with batch normalisation (torchvision's `vgg13_bn`)."""
    return _builder.build_registered("vgg13_bn", locals())


@register_model(
    _torchvision(16, False, 138_357_544, "397923af", 14_714_688, 71.592, 90.382, keras=(71.3, 90.1))
)
def VGG16(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg16",
    **overrides: Any,
) -> keras.Model:
    """VGG-16, configuration D (Simonyan & Zisserman, ICLR 2015); `keras.applications.VGG16`."""
    return _builder.build_registered("vgg16", locals())


@register_model(_torchvision(16, True, 138_374_440, "6c64b313", 14_731_584, 73.36, 91.516))
def VGG16BN(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg16_bn",
    **overrides: Any,
) -> keras.Model:
    """VGG-16 with batch normalisation (torchvision's `vgg16_bn`)."""
    return _builder.build_registered("vgg16_bn", locals())


@register_model(
    ModelRecord(
        "vgg16_c",
        VGGConfig(cfg=CFGS["C"]),
        "VGG-16 config C (1x1 convolutions in blocks 3-5)",
        params=133_638_952,
        tiny=TINY,
    )
)
def VGG16C(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg16_c",
    **overrides: Any,
) -> keras.Model:
    """VGG-16, configuration C: 1x1 convolutions in blocks 3-5 (Simonyan & Zisserman, ICLR 2015)."""
    return _builder.build_registered("vgg16_c", locals())


@register_model(
    _torchvision(19, False, 143_667_240, "dcbb9e9d", 20_024_384, 72.376, 90.876, keras=(71.3, 90.0))
)
def VGG19(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg19",
    **overrides: Any,
) -> keras.Model:
    """VGG-19, configuration E (Simonyan & Zisserman, ICLR 2015); `keras.applications.VGG19`."""
    return _builder.build_registered("vgg19", locals())


@register_model(_torchvision(19, True, 143_689_256, "c79401a0", 20_046_400, 74.218, 91.842))
def VGG19BN(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "vgg19_bn",
    **overrides: Any,
) -> keras.Model:
    """VGG-19 with batch normalisation (torchvision's `vgg19_bn`)."""
    return _builder.build_registered("vgg19_bn", locals())


@register_model(
    ModelRecord(
        "vgg16_bn_cifar",
        VGGConfig(
            cfg=CFGS["D"],
            batch_norm=True,
            fc_units=512,
            dropout_rate=0.5,
            default_size=32,
            classes=10,
        ),
        "VGG-16-BN for CIFAR-10, 512-512 head with dropout 0.5 (source notes)",
        params=15_262_026,
        tiny=TINY,
    )
)
def VGG16BNCIFAR(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "vgg16_bn_cifar",
    **overrides: Any,
) -> keras.Model:
    """VGG-16 with batch norm for CIFAR-10, a 512-512 head, dropout 0.5 (source notes)."""
    return _builder.build_registered("vgg16_bn_cifar", locals())
