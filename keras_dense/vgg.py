"""VGG (Simonyan and Zisserman, "Very Deep Convolutional Networks", ICLR 2015).

The configurations A, B, C, D and E of the paper's table 1 are one table,
`CFGS`, written as torchvision writes it: filters of a 3x3 convolution, `"M"`
for a 2x2 max pooling, and `(filters, 1)` for configuration C's 1x1
convolutions. `vgg16` and `vgg19` have the same layers, in the same order, with
the same names and weight shapes as `keras.applications.VGG16` / `VGG19`, so
the published `.h5` files load unchanged; the `_bn` variants put batch
normalisation after each convolution, as torchvision's, and have torchvision's
trainable parameter counts.

`keras.applications` has no dropout in the classifier, and neither have the
ImageNet models here by default; pass `dropout_rate=0.5` to train one from
scratch as the paper did. `vgg16_bn_cifar` is the source notes' VGG16-BN for
32x32 images: configuration D with batch norm and a 512-512-classes head with
dropout 0.5.

Example:
    >>> from keras_dense import vgg
    >>> model = vgg.VGG16(weights=None)                       # = keras.applications.VGG16
    >>> cifar = vgg.VGG16BNCIFAR(classes=10)
    >>> tiny = vgg.VGG11(input_shape=(32, 32, 3), classes=10, width=0.125, fc_units=64)
"""

import dataclasses

from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

BN_EPSILON = 1e-5  # torchvision's BatchNorm2d default
MIN_SIZE = 32  # five 2x2 max poolings

# Configurations of the paper's table 1 (torchvision's `cfgs`, with C added).
CFGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "C": (64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M",
          512, 512, (512, 1), "M", 512, 512, (512, 1), "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
          512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


@dataclasses.dataclass(frozen=True)
class VGGConfig:
    """The architecture of one VGG.

    Attributes:
        cfg: a `CFGS` entry: filters of 3x3 convolutions, `(filters, kernel)`
            for other kernels, `"M"` for a 2x2 max pooling ending a block.
        batch_norm: batch normalisation after each convolution.
        fc_units: units of the two hidden fully-connected layers.
        dropout_rate: dropout after each hidden fully-connected layer (0: none).
        width: multiplier of the convolution filters (1.0 is the paper's).
        default_size: default input height and width.
        classes: default class count.
    """

    cfg: tuple
    batch_norm: bool = False
    fc_units: int = 4096
    dropout_rate: float = 0.0
    width: float = 1.0
    default_size: int = 224
    classes: int = 1000

    def __post_init__(self):
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
                block.append((max(1, int(filters * self.width)), kernel_size))


def conv_block(x, filters, kernel_size, batch_norm, name):
    """A same-padded convolution with ReLU, optionally batch-normalised.

    Without batch norm it is one `Conv2D(activation="relu")` named `name`, as
    in `keras.applications`; with it, Conv2D `name`, `{name}_bn`, `{name}_relu`.

    Args:
        x: input tensor.
        filters: feature maps.
        kernel_size: square kernel side (3, or 1 in configuration C).
        batch_norm: whether batch normalisation follows the convolution.
        name: layer name, e.g. `"block1_conv1"`.

    Returns:
        Output tensor.
    """
    if not batch_norm:
        return layers.Conv2D(
            filters, kernel_size, activation="relu", padding="same", name=name
        )(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=name)(x)
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def vgg_block(x, convs, batch_norm, name):
    """Convolutions `{name}_conv{i}` followed by a 2x2 max pooling `{name}_pool`.

    Args:
        x: input tensor.
        convs: list of `(filters, kernel_size)`.
        batch_norm: whether each convolution is batch-normalised.
        name: block label, e.g. `"block1"`.

    Returns:
        Output tensor at half the resolution.
    """
    for i, (filters, kernel_size) in enumerate(convs, start=1):
        x = conv_block(x, filters, kernel_size, batch_norm, name=f"{name}_conv{i}")
    return layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(x)


def classifier_head(x, fc_units, dropout_rate, classes, classifier_activation):
    """Flatten, two ReLU layers `fc1`, `fc2` (dropout after each if asked), `predictions`."""
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"fc{i}_drop")(x)
    return model_utils.classifier(x, classes, classifier_activation)


CONFIGS = {
    "vgg11": VGGConfig(CFGS["A"]),
    "vgg11_bn": VGGConfig(CFGS["A"], batch_norm=True),
    "vgg13": VGGConfig(CFGS["B"]),
    "vgg13_bn": VGGConfig(CFGS["B"], batch_norm=True),
    "vgg16": VGGConfig(CFGS["D"]),
    "vgg16_bn": VGGConfig(CFGS["D"], batch_norm=True),
    "vgg16_c": VGGConfig(CFGS["C"]),
    "vgg19": VGGConfig(CFGS["E"]),
    "vgg19_bn": VGGConfig(CFGS["E"], batch_norm=True),
    "vgg16_bn_cifar": VGGConfig(
        CFGS["D"], batch_norm=True, fc_units=512, dropout_rate=0.5, default_size=32,
        classes=10,
    ),
}

# Models with published Keras ImageNet weights (keys of the weights table).
PUBLISHED_WEIGHTS = ("vgg16", "vgg19")


def build_vgg(
    config,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name="vgg",
):
    """Builds the VGG described by `config` (a `VGGConfig`).

    The other arguments are those of `keras.applications.VGG16`;
    `classes=None` takes the config's default.

    Returns:
        A `keras.Model`.
    """
    classes = config.classes if classes is None else classes
    weights_key = model_utils.published_key(config, CONFIGS, PUBLISHED_WEIGHTS)
    if weights == "imagenet" and weights_key is None:
        raise ValueError(
            f"Only {' and '.join(PUBLISHED_WEIGHTS)} have published ImageNet weights; "
            f"build {name} with weights=None or a path to a weights file."
        )
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, config.default_size, MIN_SIZE
    )

    x = image
    for i, convs in enumerate(config.blocks(), start=1):
        x = vgg_block(x, convs, config.batch_norm, name=f"block{i}")
    if include_top:
        x = classifier_head(
            x, config.fc_units, config.dropout_rate, classes, classifier_activation
        )
    else:
        x = model_utils.global_pool(x, pooling)
    return model_utils.finish_model(
        inputs, x, name, weights, weights_key=weights_key, include_top=include_top
    )


def VGG(
    cfg,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg",
    **architecture,
):
    """Instantiates a VGG from a configuration of the paper's table 1.

    Args:
        cfg: `"A"`, `"B"`, `"C"`, `"D"`, `"E"` or a tuple in the `CFGS` format.
        include_top: whether to include the fully-connected classifier.
        weights: `None` or a path to a weights file (`"imagenet"` through
            `VGG16` / `VGG19`).
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, 3)`; at least 32x32.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        name: model name.
        **architecture: any other `VGGConfig` field (`batch_norm`, `fc_units`,
            `dropout_rate`, `width`, `default_size`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = VGG("A", batch_norm=True, weights=None)  # VGG11-BN
    """
    if isinstance(cfg, str):
        if cfg not in CFGS:
            raise ValueError(f"cfg must be one of {sorted(CFGS)} or a tuple; got {cfg!r}.")
        cfg = CFGS[cfg]
    model_utils.check_architecture(VGGConfig, architecture)
    config = VGGConfig(cfg=tuple(cfg), **architecture)
    return build_vgg(
        config, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )


def _table_builder(key):
    return model_utils.table_builder(key, CONFIGS[key], build_vgg, "VGG")


VGG11 = _table_builder("vgg11")
VGG11BN = _table_builder("vgg11_bn")
VGG13 = _table_builder("vgg13")
VGG13BN = _table_builder("vgg13_bn")
VGG16 = _table_builder("vgg16")
VGG16BN = _table_builder("vgg16_bn")
VGG16C = _table_builder("vgg16_c")
VGG19 = _table_builder("vgg19")
VGG19BN = _table_builder("vgg19_bn")
VGG16BNCIFAR = _table_builder("vgg16_bn_cifar")

_DESCRIPTIONS = {
    "vgg11": "VGG-11 (config A), ImageNet",
    "vgg11_bn": "VGG-11 with batch norm (torchvision's vgg11_bn)",
    "vgg13": "VGG-13 (config B), ImageNet",
    "vgg13_bn": "VGG-13 with batch norm (torchvision's vgg13_bn)",
    "vgg16": "VGG-16 (config D), ImageNet (keras.applications-compatible)",
    "vgg16_bn": "VGG-16 with batch norm (torchvision's vgg16_bn)",
    "vgg16_c": "VGG-16 config C (1x1 convolutions in blocks 3-5)",
    "vgg19": "VGG-19 (config E), ImageNet (keras.applications-compatible)",
    "vgg19_bn": "VGG-19 with batch norm (torchvision's vgg19_bn)",
    "vgg16_bn_cifar": "VGG-16-BN for CIFAR-10, 512-512 head (source notes)",
}
# Keras totals of the default config (BN moving statistics included);
# tests/test_models.py checks each against a built model.
_PARAMS = {
    "vgg11": 132_863_336,
    "vgg11_bn": 132_874_344,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_059_624,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_374_440,
    "vgg16_c": 133_638_952,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_689_256,
    "vgg16_bn_cifar": 15_262_026,
}

for _key, _config in CONFIGS.items():
    register_model(
        _key,
        _table_builder(_key),
        family="vgg",
        input_shape=(_config.default_size, _config.default_size, 3),
        classes=_config.classes,
        params=_PARAMS[_key],
        preprocess="caffe" if _key in PUBLISHED_WEIGHTS else None,
        weights=_key if _key in PUBLISHED_WEIGHTS else None,
        description=_DESCRIPTIONS[_key],
    )
