"""LeNet-5 (LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998).

Two 5x5 convolution + subsampling stages and a 120-84-classes classifier on a
32x32 image: 61,706 parameters for 10 classes. The defaults are the modern
reading (ReLU, max pooling); `activation="tanh", subsampling="avg"` is closer
to the 1998 network (whose sparse C3 connections and RBF output are not
reproduced).

Example:
    >>> from keras_dense import lenet
    >>> model = lenet.LeNet5()                             # 32x32x1, 10 classes
    >>> rgb = lenet.LeNet5(input_shape=(32, 32, 3))        # CIFAR-10
"""

from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

SUBSAMPLING = {"max": layers.MaxPooling2D, "avg": layers.AveragePooling2D}
MIN_SIZE = 16  # two 5x5 valid convolutions and two 2x2 poolings leave 1x1


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
    """
    x = layers.Conv2D(filters, 5, activation=activation, name=f"{name}_conv")(x)
    return SUBSAMPLING[subsampling](2, strides=2, name=f"{name}_pool")(x)


def LeNet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    activation="relu",
    subsampling="max",
    name="lenet5",
):
    """Instantiates LeNet-5.

    Args:
        include_top: whether to include the 120-84-classes classifier.
        weights: `None` or a path to a weights file (there are no published weights).
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, channels)`; default `(32, 32, 1)`,
            pass `(32, 32, 3)` for colour images; at least 16x16.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        activation: activation of the hidden layers (`"relu"`, or `"tanh"` as in 1998).
        subsampling: `"max"` or `"avg"` (the paper's subsampling) pooling.
        name: model name.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = LeNet5(input_shape=(32, 32, 3), classes=10)
    """
    if weights == "imagenet":
        raise ValueError("LeNet-5 has no ImageNet weights; pass weights=None or a path.")
    if subsampling not in SUBSAMPLING:
        raise ValueError(f"subsampling must be 'max' or 'avg'; got {subsampling!r}.")
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, 32, MIN_SIZE, default_channels=1
    )

    x = conv_pool_block(image, 6, activation, subsampling, name="block1")
    x = conv_pool_block(x, 16, activation, subsampling, name="block2")
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation=activation, name="fc1")(x)
        x = layers.Dense(84, activation=activation, name="fc2")(x)
        x = model_utils.classifier(x, classes, classifier_activation)
    else:
        x = model_utils.global_pool(x, pooling)
    return model_utils.finish_model(inputs, x, name, weights, include_top=include_top)


register_model(
    "lenet5",
    LeNet5,
    family="lenet",
    input_shape=(32, 32, 1),
    classes=10,
    params=61_706,
    description="LeNet-5, 32x32x1 (3 channels when asked), 120-84 classifier",
)
