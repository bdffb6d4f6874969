"""AlexNet (Krizhevsky et al., 2012), the single-tower variant ("One weird trick", 2014).

Five convolutions (64-192-384-256-256, an 11x11/4 first one) and three max
poolings, then a dropout-4096-dropout-4096-classes classifier, as torchvision's
`alexnet`: 61,100,840 parameters for 1000 classes at 224x224. Local response
normalisation is left out, as in torchvision.

Example:
    >>> from keras_dense import alexnet
    >>> model = alexnet.AlexNet(weights=None)
    >>> small = alexnet.AlexNet(input_shape=(64, 64, 3), classes=10, width=0.25, fc_units=256)
"""

from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

# (filters, kernel, stride, padding, max-pool after it)
FEATURES = (
    (64, 11, 4, 2, True),
    (192, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, False),
    (256, 3, 1, 1, True),
)
MIN_SIZE = 63  # the third 3x3/2 max-pooling needs a 3x3 map


def conv_block(x, filters, kernel_size, strides, padding, pool, name):
    """Zero padding, a ReLU convolution and an optional 3x3/2 max pooling.

    Args:
        x: input tensor.
        filters: feature maps.
        kernel_size: square kernel side.
        strides: convolution stride.
        padding: zero padding on each side (torchvision's `padding`).
        pool: whether a 3x3/2 max pooling follows.
        name: layer-name prefix, e.g. `"conv1"`; the pooling is `pool{n}`.

    Returns:
        Output tensor.
    """
    x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, activation="relu", name=name
    )(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, name=name.replace("conv", "pool"))(x)
    return x


def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.5,
    width=1.0,
    fc_units=4096,
    name="alexnet",
):
    """Instantiates the single-tower AlexNet.

    Args:
        include_top: whether to include the fully-connected classifier.
        weights: `None` or a path to a weights file (no Keras ImageNet file exists).
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, channels)`; default `(224, 224, 3)`;
            at least 63x63.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        dropout_rate: dropout before each hidden fully-connected layer.
        width: multiplier of the convolution filters (1.0 is AlexNet).
        fc_units: units of the two hidden fully-connected layers (4096).
        name: model name.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = AlexNet(weights=None)
    """
    if weights == "imagenet":
        raise ValueError("AlexNet has no published Keras weights; pass weights=None or a path.")
    if not width > 0:
        raise ValueError(f"width must be a positive multiplier; got {width!r}.")
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, 224, MIN_SIZE
    )

    x = image
    for i, (filters, kernel_size, strides, padding, pool) in enumerate(FEATURES, start=1):
        x = conv_block(
            x, max(1, int(filters * width)), kernel_size, strides, padding, pool,
            name=f"conv{i}",
        )
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        for i in (1, 2):
            x = layers.Dropout(dropout_rate, name=f"fc{i}_drop")(x)
            x = layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
        x = model_utils.classifier(x, classes, classifier_activation)
    else:
        x = model_utils.global_pool(x, pooling)
    return model_utils.finish_model(inputs, x, name, weights, include_top=include_top)


register_model(
    "alexnet",
    AlexNet,
    family="alexnet",
    input_shape=(224, 224, 3),
    classes=1000,
    params=61_100_840,
    description="AlexNet, single tower (torchvision's), 224x224",
)
