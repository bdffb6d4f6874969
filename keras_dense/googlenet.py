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
grid). Before inception5a the pooling is the paper's 3x3/2; torchvision's
is 2x2/2 (same output size, no parameters either way).

Example:
    >>> from keras_dense import googlenet
    >>> model = googlenet.GoogLeNet(weights=None)
    >>> train_model = googlenet.GoogLeNet(aux_logits=True)   # three outputs
    >>> tv = googlenet.GoogLeNet(branch5x5_kernel=3)         # torchvision's layout
"""

from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

BN_EPSILON = 1e-3  # torchvision's BasicConv2d
MIN_SIZE = 32
AUX_MIN_SIZE = 65  # the auxiliary 5x5/3 average pooling needs a 5x5 map at inception4a

# One row per stage in order: an inception block with its filters
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), or "pool" for a 3x3/2 max pooling.
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


def conv_bn(x, filters, kernel_size, name, strides=1, padding="same"):
    """Conv (no bias) - BN - ReLU named `{name}_conv`, `{name}_bn`, `{name}_relu`.

    Args:
        x: input tensor.
        filters: feature maps.
        kernel_size: square kernel side.
        name: layer-name prefix, e.g. `"inception3a_1x1"`.
        strides: convolution stride.
        padding: `"same"` or `"valid"`.

    Returns:
        Output tensor.
    """
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def inception_block(x, filters, name, branch5x5_kernel=5):
    """An inception block: four branches concatenated as `{name}_concat`.

    Args:
        x: input tensor.
        filters: `(1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)` feature maps.
        name: block label, e.g. `"inception3a"`.
        branch5x5_kernel: kernel of the "5x5" branch (5, or 3 as torchvision).

    Returns:
        Output tensor with `1x1 + 3x3 + 5x5 + pool proj` channels.
    """
    ch1x1, ch3x3_reduce, ch3x3, ch5x5_reduce, ch5x5, pool_proj = filters
    branch1 = conv_bn(x, ch1x1, 1, name=f"{name}_1x1")
    branch2 = conv_bn(x, ch3x3_reduce, 1, name=f"{name}_3x3_reduce")
    branch2 = conv_bn(branch2, ch3x3, 3, name=f"{name}_3x3")
    branch3 = conv_bn(x, ch5x5_reduce, 1, name=f"{name}_5x5_reduce")
    branch3 = conv_bn(branch3, ch5x5, branch5x5_kernel, name=f"{name}_5x5")
    branch4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch4 = conv_bn(branch4, pool_proj, 1, name=f"{name}_pool_proj")
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(
        [branch1, branch2, branch3, branch4]
    )


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
    x = conv_bn(x, max(1, int(128 * width)), 1, name=name)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(max(1, int(1024 * width)), activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_drop")(x)
    return model_utils.classifier(
        x, classes, classifier_activation, name=f"{name}_predictions"
    )


def stem(x, width=1.0):
    """7x7/2 conv, 3x3/2 max pool, 1x1 conv, 3x3 conv, 3x3/2 max pool (224 -> 28)."""
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv_bn(x, max(1, int(64 * width)), 7, name="conv1", strides=2, padding="valid")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = conv_bn(x, max(1, int(64 * width)), 1, name="conv2")
    x = conv_bn(x, max(1, int(192 * width)), 3, name="conv3")
    return layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)


def GoogLeNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    aux_logits=False,
    branch5x5_kernel=5,
    dropout_rate=0.4,
    width=1.0,
    name="googlenet",
):
    """Instantiates GoogLeNet (Inception v1) with batch normalisation.

    Args:
        include_top: whether to include the classifier.
        weights: `None` or a path to a weights file (no Keras ImageNet file exists).
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, 3)`; default `(224, 224, 3)`,
            at least 32x32 (65x65 with `aux_logits`).
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        aux_logits: add the two auxiliary classifiers; the model then returns
            `[predictions, aux1_predictions, aux2_predictions]` (the paper
            weights their losses 0.3). Needs `include_top=True`.
        branch5x5_kernel: kernel of the "5x5" branch: 5 (the paper) or 3
            (torchvision, whose ported weights have 3x3 there).
        dropout_rate: dropout before the classifier (0.4 in the paper, 0.2 in torchvision).
        width: multiplier of every filter count (1.0 is GoogLeNet).
        name: model name.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = GoogLeNet(aux_logits=True, classes=10)
        >>> model.compile("adam", loss=["sparse_categorical_crossentropy"] * 3,
        ...               loss_weights=[1.0, 0.3, 0.3])
    """
    if weights == "imagenet":
        raise ValueError("GoogLeNet has no published Keras weights; pass weights=None or a path.")
    if branch5x5_kernel not in (3, 5):
        raise ValueError(
            f"branch5x5_kernel must be 5 (the paper) or 3 (torchvision); got {branch5x5_kernel!r}."
        )
    if aux_logits and not include_top:
        raise ValueError("aux_logits=True needs include_top=True (the auxiliary heads are classifiers).")
    if not 0 <= dropout_rate < 1:
        raise ValueError(f"dropout_rate must be in [0, 1); got {dropout_rate!r}.")
    if not width > 0:
        raise ValueError(f"width must be a positive multiplier; got {width!r}.")
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, 224, AUX_MIN_SIZE if aux_logits else MIN_SIZE
    )

    x = stem(image, width)
    aux_outputs = []
    for stage, filters in STAGES:
        if filters is None:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=stage)(x)
            continue
        scaled = tuple(max(1, int(f * width)) for f in filters)
        x = inception_block(x, scaled, name=stage, branch5x5_kernel=branch5x5_kernel)
        if aux_logits and stage in AUX_INPUTS:
            aux_outputs.append(aux_classifier(
                x, classes, classifier_activation, name=f"aux{len(aux_outputs) + 1}",
                width=width,
            ))

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        x = model_utils.classifier(x, classes, classifier_activation)
    else:
        x = model_utils.global_pool(x, pooling)
    outputs = [x, *aux_outputs] if aux_logits else x
    return model_utils.finish_model(inputs, outputs, name, weights, include_top=include_top)


register_model(
    "googlenet",
    GoogLeNet,
    family="googlenet",
    input_shape=(224, 224, 3),
    classes=1000,
    params=7_020_392,
    description="GoogLeNet (Inception v1) with batch norm, true 5x5 branch; aux heads optional",
)
