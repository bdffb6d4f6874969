"""AlexNet (Krizhevsky et al., 2012), the single-tower variant ("One weird trick", 2014).

Five convolutions (64-192-384-256-256, an 11x11/4 first one) and three max
poolings, then a dropout-4096-dropout-4096-classes classifier, as torchvision's
`alexnet`: 61,100,840 parameters for 1000 classes at 224x224, and its weights
(`tv_imagenet`). Local response normalisation is left out, as in torchvision.

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import alexnet
    >>> model = alexnet.AlexNet(weights=None)
    >>> small = alexnet.AlexNet(input_shape=(64, 64, 3), classes=10, width=0.25, fc_units=256)
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.models import _builder, _layers
from keras_dense.models._registry import ModelRecord, register_model
from keras_dense.weights.sources import torchvision_imagenet

# (filters, kernel, stride, padding, max-pool after it)
FEATURES = (
    (64, 11, 4, 2, True),
    (192, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, False),
    (256, 3, 1, 1, True),
)


def alexnet_conv(x, filters, kernel_size, strides, padding, pool, name):
    """Zero padding `{name}_pad`, a ReLU convolution `{name}`, an optional 3x3/2 max pooling.

    Args:
        x: input tensor.
        filters: feature maps.
        kernel_size: square kernel side.
        strides: convolution stride.
        padding: zero padding on each side (torchvision's `padding`).
        pool: whether a 3x3/2 max pooling (`pool{n}` for `conv{n}`) follows.
        name: layer name, e.g. `"conv1"`.

    Returns:
        Output tensor.

    Example:
        >>> y = alexnet_conv(keras.Input((224, 224, 3)), 64, 11, 4, 2, True, "conv1")
    """
    x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=strides, activation="relu", name=name)(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, name=name.replace("conv", "pool"))(x)
    return x


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlexNetConfig(_builder.ArchConfig):
    """The architecture of AlexNet.

    Attributes:
        dropout_rate: dropout before each hidden fully-connected layer.
        width: multiplier of the convolution filters (1.0 is AlexNet).
        fc_units: units of the two hidden fully-connected layers (4096).
    """

    family: ClassVar[str] = "alexnet"
    weightless_fields: ClassVar[tuple] = ("dropout_rate",)

    dropout_rate: float = 0.5
    width: float = 1.0
    fc_units: int = 4096

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"width must be a positive multiplier; got {self.width!r}.")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1); got {self.dropout_rate!r}.")
        if not isinstance(self.fc_units, int) or self.fc_units < 1:
            raise ValueError(f"fc_units must be a positive integer; got {self.fc_units!r}.")

    @property
    def min_size(self):
        return 63  # the third 3x3/2 max-pooling needs a 3x3 map

    def body(self, x):
        for i, (filters, kernel, strides, padding, pool) in enumerate(FEATURES, start=1):
            x = alexnet_conv(
                x,
                _layers.scaled(filters, self.width),
                kernel,
                strides,
                padding,
                pool,
                name=f"conv{i}",
            )
        return x

    def feature_layers(self):
        # The last layer at each resolution: conv1 (4), conv2 (8), conv5 (16), pool5 (32).
        taps, stride = [], 1
        for i, (_, _, strides, _, pool) in enumerate(FEATURES, start=1):
            stride *= strides
            if pool:
                taps.append((f"conv{i}", stride))
                stride *= 2
        return taps + [(f"pool{len(FEATURES)}", stride)]

    def top(self, x, classes, classifier_activation):
        return _layers.two_fc_head(
            x, classes, classifier_activation, self.fc_units, self.dropout_rate, dropout_first=True
        )


@register_model(
    ModelRecord(
        "alexnet",
        AlexNetConfig(),
        "AlexNet, single tower (torchvision's), 224x224",
        params=61_100_840,
        weights=(torchvision_imagenet("alexnet-owt-7be5be79.pth", 2_469_696, 56.522, 79.066),),
        tiny={"width": 1 / 8, "fc_units": 32, "input_shape": (64, 64, 3), "classes": 5},
    )
)
def AlexNet(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "alexnet",
    **overrides: Any,
) -> keras.Model:
    """AlexNet (Krizhevsky et al., NIPS 2012), one tower as torchvision's `alexnet`."""
    return _builder.build_registered("alexnet", locals())
