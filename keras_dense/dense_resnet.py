"""The source notes' "ResNet with dense blocks" for 32x32 images.

A ResNet skeleton (a 16-channel 3x3 convolution + BN + ReLU stem at full
resolution, four stages, global average pooling, a linear classifier) whose
residual stages are replaced by DenseNet dense blocks of 6, 12, 24 and 16
layers, joined by DenseNet transition blocks (1x1 convolution with 0.5
compression and 2x2 average pooling). The blocks are `keras_dense.densenet`'s,
so the layer names are DenseNet's (`conv2_block1_1_conv`, `pool2_conv`, ...).

Example:
    >>> from keras_dense import dense_resnet
    >>> model = dense_resnet.DenseResNet()                     # CIFAR-10, 32x32
    >>> tiny = dense_resnet.DenseResNet(blocks=(1, 1, 1, 1), growth_rate=4)
"""

from keras import layers

from keras_dense import model_utils
from keras_dense.densenet import BN_EPSILON, dense_block, transition_block
from keras_dense.registry import register_model

DEFAULT_SIZE = 32
MIN_SIZE = 8  # three 2x2 transitions


def _stem(x, filters):
    """The ResNet CIFAR stem: 3x3 convolution, BN, ReLU (`conv1_*`)."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name="conv1_bn")(x)
    return layers.Activation("relu", name="conv1_relu")(x)


def DenseResNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="dense_resnet",
    blocks=(6, 12, 24, 16),
    growth_rate=32,
    stem_filters=16,
    reduction=0.5,
    bottleneck=True,
    dropout_rate=0.0,
):
    """Instantiates the ResNet whose stages are dense blocks (source notes).

    Args:
        include_top: whether to include the classifier.
        weights: `None` or a path to a weights file (no published weights).
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, channels)`, at least 8x8;
            defaults to 32x32x3.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        name: model name.
        blocks: layers per dense block, one block per stage.
        growth_rate: feature maps each dense layer adds (k).
        stem_filters: channels of the 3x3 stem convolution.
        reduction: channel compression of the transition blocks, in (0, 1].
        bottleneck: 1x1 bottleneck convolutions in the dense layers.
        dropout_rate: dropout after each convolution of the dense blocks.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = DenseResNet(classes=10)
    """
    if weights == "imagenet":
        raise ValueError(
            "dense_resnet has no ImageNet weights; pass weights=None or a path to a weights file."
        )
    if not blocks or any(not isinstance(b, int) or b < 1 for b in blocks):
        raise ValueError(f"blocks must be positive integers; got {blocks!r}.")
    if not isinstance(growth_rate, int) or growth_rate < 1:
        raise ValueError(f"growth_rate must be a positive integer; got {growth_rate!r}.")
    if not isinstance(stem_filters, int) or stem_filters < 1:
        raise ValueError(f"stem_filters must be a positive integer; got {stem_filters!r}.")
    if not 0 < reduction <= 1:
        raise ValueError(f"reduction (compression) must be in (0, 1]; got {reduction!r}.")
    if not 0 <= dropout_rate < 1:
        raise ValueError(f"dropout_rate must be in [0, 1); got {dropout_rate!r}.")
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, DEFAULT_SIZE, MIN_SIZE
    )

    x = _stem(image, stem_filters)
    for i, layers_in_block in enumerate(blocks):
        stage = i + 2
        x = dense_block(
            x, layers_in_block, name=f"conv{stage}", growth_rate=growth_rate,
            bottleneck=bottleneck, dropout_rate=dropout_rate,
        )
        if i < len(blocks) - 1:
            x = transition_block(x, reduction, name=f"pool{stage}", dropout_rate=dropout_rate)
    # dense layers are pre-activation: normalise the last block's output
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = model_utils.classifier(x, classes, classifier_activation)
    else:
        x = model_utils.global_pool(x, pooling)
    return model_utils.finish_model(inputs, x, name, weights, include_top=include_top)


register_model(
    "dense_resnet",
    DenseResNet,
    family="dense_resnet",
    input_shape=(DEFAULT_SIZE, DEFAULT_SIZE, 3),
    classes=10,
    params=6_876_094,
    description="ResNet with dense blocks 6-12-24-16, 16-channel 3x3 stem, CIFAR (source notes)",
)
