"""LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998).

Two 5x5 convolution + subsampling stages and a 120-84-classes classifier on a
32x32 image: 61,706 parameters for 10 classes. The defaults are the modern
reading (ReLU, max pooling); `activation="tanh", subsampling="avg"` is closer
to the 1998 network (whose sparse C3 connections and RBF output are not
reproduced).

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import lenet
    >>> model = lenet.LeNet5()                             # 32x32x1, 10 classes
    >>> rgb = lenet.LeNet5(input_shape=(32, 32, 3))        # CIFAR-10
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.models import _builder, _layers
from keras_dense.models._registry import ModelRecord, register_model

SUBSAMPLING = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}


def conv_pool_block(x, filters, activation, subsampling, name):
    """A 5x5 valid convolution and a 2x2 subsampling, named `{name}_conv`, `{name}_pool`.

    Args:
        x: input tensor.
        filters: feature maps of the convolution (6 for C1, 16 for C3).
        activation: activation of the convolution.
        subsampling: `"max"` or `"avg"` pooling.
        name: layer-name prefix, e.g. `"block1"`.

    Returns:
        Output tensor at about half the resolution.

    Example:
        >>> y = conv_pool_block(keras.Input((32, 32, 1)), 6, "relu", "max", "block1")
    """
    x = layers.Conv2D(filters, 5, activation=activation, name=f"{name}_conv")(x)
    return SUBSAMPLING[subsampling](2, strides=2, name=f"{name}_pool")(x)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LeNetConfig(_builder.ArchConfig):
    """The architecture of LeNet-5.

    Attributes:
        activation: activation of the hidden layers (`"relu"`, or `"tanh"` as in 1998).
        subsampling: `"max"` or `"avg"` (the paper's subsampling) pooling.
    """

    family: ClassVar[str] = "lenet"

    activation: str = "relu"
    subsampling: str = "max"

    def __post_init__(self):
        if self.subsampling not in SUBSAMPLING:
            raise ValueError(f"subsampling must be 'max' or 'avg'; got {self.subsampling!r}.")

    @property
    def min_size(self):
        return 16  # two 5x5 valid convolutions and two 2x2 poolings leave 1x1

    def body(self, x):
        x = conv_pool_block(x, 6, self.activation, self.subsampling, name="block1")
        return conv_pool_block(x, 16, self.activation, self.subsampling, name="block2")

    def top(self, x, classes, classifier_activation):
        return _layers.dense_head(
            x,
            classes,
            classifier_activation,
            flatten=True,
            hidden_units=(120, 84),
            activation=self.activation,
        )


@register_model(
    ModelRecord(
        "lenet5",
        LeNetConfig(default_size=32, channels=1, classes=10),
        "LeNet-5, 32x32x1 (3 channels when asked), 120-84 classifier",
        params=61_706,
        tiny={"input_shape": (32, 32, 1), "classes": 5},
    )
)
def LeNet5(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "lenet5",
    **overrides: Any,
) -> keras.Model:
    """LeNet-5 (LeCun et al., Proc. IEEE 1998) with a 120-84 classifier."""
    return _builder.build_registered("lenet5", locals())
