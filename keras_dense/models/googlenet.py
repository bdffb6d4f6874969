"""GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015).

A stem (7x7/2 conv, max pool, 1x1 and 3x3 convs, max pool) and nine inception
blocks, each concatenating four branches: 1x1; 1x1 reduce then 3x3; 1x1 reduce
then 5x5; 3x3 max pool then 1x1 projection. As in torchvision, every
convolution is followed by batch normalisation (in place of the paper's local
response normalisation), and two optional auxiliary classifiers (on
inception4a and inception4d) help training.

The 5x5 branch has the paper's true 5x5 kernels by default: 7,005,832
trainable parameters without the auxiliary heads. torchvision uses a 3x3
kernel there (6,624,904): its ImageNet weights were ported from TF-slim's
Inception v1, which has that 3x3, and the kernel cannot change without
retraining (pytorch/vision#906). Pass `branch5x5_kernel=3` for torchvision's
architecture, e.g. to port its weights.

The 3x3/2 max poolings use "same" padding, which for even input sizes gives
the same windows as torchvision's `ceil_mode=True` (224x224: a 56-28-14-7
grid). Before inception5a the pooling is the paper's 3x3/2 by default;
torchvision's is 2x2/2 (`pool4_size=2`): the same output size, other windows.

torchvision's weights (`tv_imagenet`) need its architecture:
`branch5x5_kernel=3`, `pool4_size=2` and `transform_input=True` (the
renormalisation of "torch"-preprocessed pixels to the [-1, 1] scale the
TF-slim weights were trained on, as a layer inside the model); the tag sets
all three. Its auxiliary classifiers are not converted: torchvision trains
them from scratch, and they pool differently (adaptive 4x4).

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Examples:
    >>> from keras_dense.models import googlenet
    >>> model = googlenet.GoogLeNet(weights=None)
    >>> train_model = googlenet.GoogLeNet(aux_logits=True)   # three outputs
    >>> tv = googlenet.GoogLeNet(weights="tv_imagenet")      # torchvision's layout and weights
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.models import _builder, _layers
from keras_dense.models._registry import ModelRecord, register_model
from keras_dense.weights.sources import torchvision_imagenet

BN_EPSILON = _layers.INCEPTION_BN_EPSILON  # torchvision's BasicConv2d

# One row per stage in order: an inception block with its filters
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), or None for a 3x3/2 max pooling.
STAGES = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("pool3", None),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("pool4", None),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)
# Blocks whose output feeds an auxiliary classifier (aux1, aux2).
AUX_INPUTS = ("inception4a", "inception4d")


def inception_block(x, filters, name, branch5x5_kernel=5):
    """An inception block: four branches concatenated as `{name}_concat`.

    Args:
        x: input tensor.
        filters: `(1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)` feature maps.
        name: block label, e.g. `"inception3a"`.
        branch5x5_kernel: kernel of the "5x5" branch (5, or 3 as torchvision).

    Returns:
        Output tensor with `1x1 + 3x3 + 5x5 + pool proj` channels.

    Examples:
        >>> y = inception_block(keras.Input((28, 28, 192)), STAGES[0][1], "inception3a")
    """
    ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj = filters
    branch1 = _layers.conv_bn_relu(x, ch1x1, 1, f"{name}_1x1", epsilon=BN_EPSILON)
    branch2 = _layers.conv_bn_relu(x, ch3x3_reduce, 1, f"{name}_3x3_reduce", epsilon=BN_EPSILON)
    branch2 = _layers.conv_bn_relu(branch2, ch3x3, 3, f"{name}_3x3", epsilon=BN_EPSILON)
    branch3 = _layers.conv_bn_relu(x, ch5x5_reduce, 1, f"{name}_5x5_reduce", epsilon=BN_EPSILON)
    branch3 = _layers.conv_bn_relu(
        branch3, ch5x5, branch5x5_kernel, f"{name}_5x5", epsilon=BN_EPSILON
    )
    branch4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch4 = _layers.conv_bn_relu(branch4, pool_proj, 1, f"{name}_pool_proj", epsilon=BN_EPSILON)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([branch1, branch2, branch3, branch4])


def aux_classifier(x, classes, classifier_activation, name, width=1.0):
    """The paper's auxiliary head: 5x5/3 avg pool, 1x1 conv 128, fc 1024, dropout 0.7.

    Args:
        x: the output of inception4a or inception4d (14x14 at 224x224).
        classes: number of classes.
        classifier_activation: activation of the classifier.
        name: layer-name prefix, `"aux1"` or `"aux2"`; the output is `{name}_predictions`.
        width: multiplier of the 128 and 1024 widths.

    Returns:
        The auxiliary class scores.
    """
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = _layers.conv_bn_relu(x, _layers.scaled(128, width), 1, name, epsilon=BN_EPSILON)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(_layers.scaled(1024, width), activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_drop")(x)
    return _layers.classifier(x, classes, classifier_activation, name=f"{name}_predictions")


def stem(x, width=1.0):
    """7x7/2 conv, 3x3/2 max pool, 1x1 conv, 3x3 conv, 3x3/2 max pool (224 -> 28)."""
    x = _layers.conv_bn_relu(
        x, _layers.scaled(64, width), 7, "conv1", strides=2, padding="symmetric", epsilon=BN_EPSILON
    )
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = _layers.conv_bn_relu(x, _layers.scaled(64, width), 1, "conv2", epsilon=BN_EPSILON)
    x = _layers.conv_bn_relu(x, _layers.scaled(192, width), 3, "conv3", epsilon=BN_EPSILON)
    return layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GoogLeNetConfig(_builder.ArchConfig):
    """The architecture of GoogLeNet with batch normalisation.

    Attributes:
        aux_logits: add the two auxiliary classifiers; the model then returns
            `[main, aux1, aux2]` (weight the auxiliary losses 0.3, as the paper).
        branch5x5_kernel: kernel of the "5x5" branch: 5 (paper) or 3 (torchvision).
        pool4_size: window of the stride-2 max pooling `pool4` before
            inception5a: 3 (paper) or 2 (torchvision).
        transform_input: start with torchvision's renormalisation of
            "torch"-preprocessed pixels to [-1, 1] (`_layers.transform_input`),
            as its weights expect.
        dropout_rate: dropout before the classifier.
        width: multiplier of every convolution's filters (1.0 is GoogLeNet).
    """

    family: ClassVar[str] = "googlenet"
    weightless_fields: ClassVar[tuple] = ("dropout_rate",)

    aux_logits: bool = False
    branch5x5_kernel: int = 5
    pool4_size: int = 3
    transform_input: bool = False
    dropout_rate: float = 0.4
    width: float = 1.0

    def __post_init__(self):
        if self.branch5x5_kernel not in (3, 5):
            raise ValueError(
                f"branch5x5_kernel must be 5 (paper) or 3 (torchvision); "
                f"got {self.branch5x5_kernel!r}."
            )
        if self.pool4_size not in (2, 3):
            raise ValueError(
                f"pool4_size must be 3 (paper) or 2 (torchvision); got {self.pool4_size!r}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1); got {self.dropout_rate!r}.")
        if not self.width > 0:
            raise ValueError(f"width must be a positive multiplier; got {self.width!r}.")

    @property
    def min_size(self):
        # the auxiliary 5x5/3 average pooling needs a 5x5 map at inception4a
        return 65 if self.aux_logits else 32

    def _body_and_aux(self, x, classes, classifier_activation):
        if self.transform_input:
            x = _layers.transform_input(x)
        x = stem(x, self.width)
        aux_outputs = []
        for stage, filters in STAGES:
            if filters is None:
                size = self.pool4_size if stage == "pool4" else 3
                x = layers.MaxPooling2D(size, strides=2, padding="same", name=stage)(x)
                continue
            scaled = tuple(_layers.scaled(f, self.width) for f in filters)
            x = inception_block(x, scaled, name=stage, branch5x5_kernel=self.branch5x5_kernel)
            if self.aux_logits and stage in AUX_INPUTS:
                aux_outputs.append(
                    aux_classifier(
                        x,
                        classes,
                        classifier_activation,
                        name=f"aux{len(aux_outputs) + 1}",
                        width=self.width,
                    )
                )
        return x, aux_outputs

    def body(self, x):
        return self._body_and_aux(x, None, None)[0]

    def feature_layers(self):
        # The stem's first and last ReLU (2, 4), then the last block before each
        # max pooling and the last block (8, 16, 32).
        taps, stride, previous = [("conv1_relu", 2), ("conv3_relu", 4)], 8, None
        for stage, filters in STAGES:
            if filters is None:
                taps.append((f"{previous}_concat", stride))
                stride *= 2
            previous = stage
        return taps + [(f"{previous}_concat", stride)]

    def top(self, x, classes, classifier_activation):
        return _layers.dense_head(x, classes, classifier_activation, dropout_rate=self.dropout_rate)

    def outputs(self, image, include_top, pooling, classes, classifier_activation):
        if not self.aux_logits:
            return super().outputs(image, include_top, pooling, classes, classifier_activation)
        if not include_top:
            raise ValueError(
                "aux_logits=True needs include_top=True (the auxiliary heads are classifiers)."
            )
        x, aux_outputs = self._body_and_aux(image, classes, classifier_activation)
        return [self.top(x, classes, classifier_activation), *aux_outputs]


# torchvision's GoogLeNet, which its weights need (see the module docstring).
TORCHVISION_ARCH = {"branch5x5_kernel": 3, "pool4_size": 2, "transform_input": True}


@register_model(
    ModelRecord(
        "googlenet",
        GoogLeNetConfig(),
        "GoogLeNet (Inception v1) with batch norm, true 5x5 branch; aux heads optional",
        params=7_020_392,
        weights=(
            torchvision_imagenet(
                "googlenet-1378be20.pth",
                5_614_464,
                69.778,
                89.53,
                arch=TORCHVISION_ARCH,
                params=6_639_464,
            ),
        ),
        tiny={"width": 1 / 8, "input_shape": (32, 32, 3), "classes": 5},
    )
)
def GoogLeNet(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "googlenet",
    **overrides: Any,
) -> keras.Model:
    """GoogLeNet, Inception v1 (Szegedy et al., CVPR 2015), with batch normalisation."""
    return _builder.build_registered("googlenet", locals())
