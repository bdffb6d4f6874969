"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017).

The ImageNet models (121/169/201) have the same layers, in the same order, with
the same names and weight shapes as `keras.applications.densenet`, so the
published `.h5` files load unchanged. DenseNet-264 and the CIFAR networks of
the paper (DenseNet L=40 k=12 and DenseNet-BC) are built by the same blocks.

Example:
    >>> from keras_dense import densenet
    >>> model = densenet.DenseNet121(weights=None)
    >>> cifar = densenet.DenseNetCIFAR(depth=100, growth_rate=12)  # DenseNet-BC-100
"""

import dataclasses

from keras import layers

from keras_dense import model_utils
from keras_dense.registry import register_model

BN_EPSILON = 1.001e-5  # keras.applications' value; the published weights expect it


def _bn_relu(x, prefix):
    """BN-ReLU named `{prefix}bn`, `{prefix}relu` (prefix "" for the final pair)."""
    x = layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=f"{prefix}bn")(x)
    return layers.Activation("relu", name=f"{prefix}relu")(x)


def conv_block(x, growth_rate, name, bottleneck=True, dropout_rate=0.0,
               memory_efficient=False):
    """One DenseNet layer: [BN-ReLU-Conv1x1(4k)]-BN-ReLU-Conv3x3(k), concatenated to `x`.

    Args:
        x: input tensor; with `memory_efficient=True`, the list of the separate
            feature maps whose concatenation is the input.
        growth_rate: number of feature maps the layer adds (k).
        name: layer-name prefix, e.g. `"conv2_block1"`.
        bottleneck: whether to use the 1x1 bottleneck (DenseNet-B).
        dropout_rate: dropout after each convolution (0 disables it).
        memory_efficient: compute the concatenation and the BN-ReLU-conv stages
            (both, or only the first when dropout sits between them) in one
            `keras_dense.recompute.RecomputedDenseLayer` named
            `{name}_recompute`, recomputed in the backward pass instead of stored.

    Returns:
        `x` concatenated with the `growth_rate` new feature maps; with
        `memory_efficient=True`, the list `x + [new maps]` (not concatenated).
    """
    if memory_efficient:
        from keras_dense.recompute import RecomputedDenseLayer

        if bottleneck:
            stages = [(4 * growth_rate, 1, f"{name}_0_bn", f"{name}_1_conv")]
            # A recomputed dropout would draw a new mask, so with dropout between
            # the stages the second one is stored rather than recomputed.
            split = bool(dropout_rate)
            if not split:
                stages.append((growth_rate, 3, f"{name}_1_bn", f"{name}_2_conv"))
        else:
            stages, split = [(growth_rate, 3, f"{name}_0_bn", f"{name}_2_conv")], False
        y = RecomputedDenseLayer(stages, epsilon=BN_EPSILON, name=f"{name}_recompute")(list(x))
        if split:
            y = layers.Dropout(dropout_rate, name=f"{name}_1_drop")(y)
            y = _bn_relu(y, f"{name}_1_")
            y = layers.Conv2D(
                growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv"
            )(y)
        if dropout_rate:
            y = layers.Dropout(dropout_rate, name=f"{name}_2_drop")(y)
        return list(x) + [y]
    y = x
    if bottleneck:
        y = _bn_relu(y, f"{name}_0_")
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
        if dropout_rate:
            y = layers.Dropout(dropout_rate, name=f"{name}_1_drop")(y)
        y = _bn_relu(y, f"{name}_1_")
    else:
        y = _bn_relu(y, f"{name}_0_")
    y = layers.Conv2D(
        growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv"
    )(y)
    if dropout_rate:
        y = layers.Dropout(dropout_rate, name=f"{name}_2_drop")(y)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])


def dense_block(x, blocks, name, growth_rate=32, bottleneck=True, dropout_rate=0.0,
                memory_efficient=False):
    """A dense block of `blocks` conv blocks named `{name}_block{i}`.

    Args:
        x: input tensor.
        blocks: number of conv blocks.
        name: block label, e.g. `"conv2"`.
        growth_rate: feature maps added per conv block (Keras uses 32).
        bottleneck: whether the conv blocks use the 1x1 bottleneck.
        dropout_rate: dropout after each convolution.
        memory_efficient: recompute each layer's concatenation and BN-ReLU-conv
            stages in the backward pass (see `conv_block`); the block's maps are concatenated once, at the end,
            by `{name}_block{blocks}_concat`.

    Returns:
        Output tensor with `blocks * growth_rate` more channels than `x`.
    """
    if memory_efficient:
        features = [x]
        for i in range(blocks):
            features = conv_block(
                features, growth_rate, name=f"{name}_block{i + 1}", bottleneck=bottleneck,
                dropout_rate=dropout_rate, memory_efficient=True,
            )
        return layers.Concatenate(axis=-1, name=f"{name}_block{blocks}_concat")(features)
    for i in range(blocks):
        x = conv_block(
            x, growth_rate, name=f"{name}_block{i + 1}",
            bottleneck=bottleneck, dropout_rate=dropout_rate,
        )
    return x


def transition_block(x, reduction, name, dropout_rate=0.0):
    """BN-ReLU-Conv1x1-AvgPool2x2 between dense blocks.

    Args:
        x: input tensor.
        reduction: compression factor (theta) of the channel count, in (0, 1].
        name: block label, e.g. `"pool2"`.
        dropout_rate: dropout after the convolution.

    Returns:
        Output tensor at half the resolution with `int(channels * reduction)` maps.
    """
    x = _bn_relu(x, f"{name}_")
    x = layers.Conv2D(
        int(x.shape[-1] * reduction), 1, use_bias=False, name=f"{name}_conv"
    )(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name=f"{name}_drop")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _imagenet_stem(x, filters):
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(filters, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn_relu(x, "conv1_")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def _cifar_stem(x, filters):
    return layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")(x)


def _linear_head(x, classes, classifier_activation, dropout_rate):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return model_utils.classifier(x, classes, classifier_activation)


def _mlp_head(x, classes, classifier_activation, dropout_rate):
    """The source notes' CIFAR head: 256-128-classes with dropout 0.5."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    for i, units in enumerate((256, 128), start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(0.5, name=f"fc{i}_drop")(x)
    return model_utils.classifier(x, classes, classifier_activation)


# name: (builder, smallest input side)
STEMS = {"imagenet": (_imagenet_stem, 32), "cifar": (_cifar_stem, 8)}
HEADS = {"linear": _linear_head, "mlp": _mlp_head}


@dataclasses.dataclass(frozen=True)
class DenseNetConfig:
    """The architecture of one DenseNet.

    Attributes:
        blocks: conv blocks per dense block, e.g. `(6, 12, 24, 16)`.
        growth_rate: feature maps added per conv block (k).
        bottleneck: 1x1 bottleneck convolutions (the B of DenseNet-BC).
        reduction: transition compression theta (the C of DenseNet-BC), in (0, 1].
        dropout_rate: dropout after each convolution.
        init_filters: stem filters; `None` means 2k with bottleneck, else 16,
            as in the paper (64 for the ImageNet models).
        stem: `"imagenet"` (7x7/2 conv + 3x3/2 max-pool) or `"cifar"` (3x3 conv).
        head: `"linear"` (global pool + classifier) or `"mlp"` (256-128 head).
        memory_efficient: recompute each layer's concatenation, BN, ReLU and
            convolutions (only the first convolution when `dropout_rate` is
            set) in the backward pass instead of storing them
            (`keras_dense.recompute`): less training memory, same outputs and
            gradients, same weights in the same order.
        default_size: default input height and width.
        classes: default class count.
    """

    blocks: tuple
    growth_rate: int = 32
    bottleneck: bool = True
    reduction: float = 0.5
    dropout_rate: float = 0.0
    init_filters: int = None
    stem: str = "imagenet"
    head: str = "linear"
    memory_efficient: bool = False
    default_size: int = 224
    classes: int = 1000

    def __post_init__(self):
        if not self.blocks or any(not isinstance(b, int) or b < 1 for b in self.blocks):
            raise ValueError(f"blocks must be positive integers; got {self.blocks!r}.")
        if not isinstance(self.growth_rate, int) or self.growth_rate <= 0:
            raise ValueError(
                f"growth_rate must be a positive integer; got {self.growth_rate!r}."
            )
        if not 0 < self.reduction <= 1:
            raise ValueError(
                f"reduction (compression) must be in (0, 1]; got {self.reduction!r}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1); got {self.dropout_rate!r}.")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {sorted(STEMS)}; got {self.stem!r}.")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {sorted(HEADS)}; got {self.head!r}.")

    @property
    def stem_filters(self):
        if self.init_filters is not None:
            return self.init_filters
        return 2 * self.growth_rate if self.bottleneck else 16


def cifar_config(depth, growth_rate, bottleneck=True):
    """The paper's CIFAR DenseNet of depth L: three equal dense blocks, 3x3 stem.

    Args:
        depth: total depth L; (L - 4) must divide by 6 with bottleneck, else by 3.
        growth_rate: k.
        bottleneck: True for DenseNet-BC (bottleneck and compression 0.5).

    Returns:
        A `DenseNetConfig`.
    """
    convs_per_layer = 2 if bottleneck else 1
    if not isinstance(depth, int) or depth < 4 or (depth - 4) % (3 * convs_per_layer):
        raise ValueError(
            f"depth must be 3*{convs_per_layer}*n + 4 for a "
            f"{'DenseNet-BC' if bottleneck else 'DenseNet'} (e.g. "
            f"{100 if bottleneck else 40}); got {depth!r}."
        )
    n = (depth - 4) // (3 * convs_per_layer)
    return DenseNetConfig(
        blocks=(n, n, n), growth_rate=growth_rate, bottleneck=bottleneck,
        reduction=0.5 if bottleneck else 1.0, stem="cifar", default_size=32, classes=10,
    )


CONFIGS = {
    "densenet121": DenseNetConfig(blocks=(6, 12, 24, 16)),
    "densenet169": DenseNetConfig(blocks=(6, 12, 32, 32)),
    "densenet201": DenseNetConfig(blocks=(6, 12, 48, 32)),
    "densenet264": DenseNetConfig(blocks=(6, 12, 64, 48)),
    "densenet121_cifar": DenseNetConfig(
        blocks=(6, 12, 24, 16), head="mlp", default_size=32, classes=10
    ),
    "densenet_40_k12": cifar_config(40, 12, bottleneck=False),
    "densenet_bc_100_k12": cifar_config(100, 12),
    "densenet_bc_250_k24": cifar_config(250, 24),
    "densenet_bc_190_k40": cifar_config(190, 40),
}

# Models with published Keras ImageNet weights (keys of the weights table).
PUBLISHED_WEIGHTS = ("densenet121", "densenet169", "densenet201")


def build_densenet(
    config,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=None,
    classifier_activation="softmax",
    name="densenet",
):
    """Builds the DenseNet described by `config` (a `DenseNetConfig`).

    The other arguments are those of `keras.applications.DenseNet121`;
    `classes=None` takes the config's default.

    Returns:
        A `keras.Model`.
    """
    classes = config.classes if classes is None else classes
    stem, min_size = STEMS[config.stem]
    image, inputs = model_utils.image_input(
        name, weights, include_top, classes, pooling, classifier_activation, input_tensor,
        input_shape, config.default_size, min_size
    )

    x = stem(image, config.stem_filters)
    for i, blocks in enumerate(config.blocks):
        stage = i + 2  # Keras numbers the stem 1 and the dense blocks conv2..conv5
        x = dense_block(
            x, blocks, name=f"conv{stage}", growth_rate=config.growth_rate,
            bottleneck=config.bottleneck, dropout_rate=config.dropout_rate,
            memory_efficient=config.memory_efficient,
        )
        if i < len(config.blocks) - 1:
            x = transition_block(
                x, config.reduction, name=f"pool{stage}", dropout_rate=config.dropout_rate
            )
    x = _bn_relu(x, "")

    if include_top:
        x = HEADS[config.head](x, classes, classifier_activation, config.dropout_rate)
    else:
        x = model_utils.global_pool(x, pooling)

    plain_config = dataclasses.replace(config, memory_efficient=False)
    weights_key = model_utils.published_key(plain_config, CONFIGS, PUBLISHED_WEIGHTS)
    if config.memory_efficient and weights is not None:
        # Weight files name the plain layers: load them into the plain twin and
        # copy, the weight order being the same.
        model = model_utils.finish_model(inputs, x, name, None)
        plain = build_densenet(
            plain_config, include_top, weights, None, input_shape, pooling, classes,
            classifier_activation, name,
        )
        model.set_weights(plain.get_weights())
        return model
    return model_utils.finish_model(
        inputs, x, name, weights, weights_key=weights_key, include_top=include_top
    )


def DenseNet(
    blocks,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet",
    **architecture,
):
    """Instantiates an ImageNet-style DenseNet with the given dense blocks.

    Args:
        blocks: conv blocks per dense block, e.g. `[6, 12, 24, 16]`.
        include_top: whether to include the classifier.
        weights: `None`, `"imagenet"` or a path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional `(height, width, 3)`; at least 32x32.
        pooling: `None`, `"avg"` or `"max"` global pooling when `include_top=False`.
        classes: number of classes.
        classifier_activation: activation of the classifier (`None` for logits).
        name: model name.
        **architecture: any other `DenseNetConfig` field (`growth_rate`,
            `reduction`, `bottleneck`, `dropout_rate`, `init_filters`, `stem`,
            `head`, `default_size`, `memory_efficient`).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = DenseNet([6, 12, 24, 16], weights=None)  # DenseNet-121
    """
    model_utils.check_architecture(DenseNetConfig, architecture)
    config = DenseNetConfig(blocks=tuple(blocks), **architecture)
    return build_densenet(
        config, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )


def DenseNetCIFAR(
    depth=100,
    growth_rate=12,
    bottleneck=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
    **architecture,
):
    """Instantiates the paper's CIFAR DenseNet (bottleneck=False) or DenseNet-BC.

    Args:
        depth: total depth L, e.g. 40 (DenseNet) or 100, 190, 250 (DenseNet-BC).
        growth_rate: k.
        bottleneck: True for DenseNet-BC (also sets compression 0.5).
        **architecture: overrides of `DenseNetConfig` fields (`reduction`,
            `dropout_rate`, ...). The paper uses `dropout_rate=0.2` without
            data augmentation.
        Other arguments are those of `DenseNet`.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = DenseNetCIFAR(depth=100, growth_rate=12)  # 0.8M parameters
    """
    config = model_utils.with_overrides(cifar_config(depth, growth_rate, bottleneck), **architecture)
    if name is None:
        name = f"densenet{'_bc' if bottleneck else ''}_{depth}_k{growth_rate}"
    return build_densenet(
        config, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )


def _table_builder(key):
    return model_utils.table_builder(key, CONFIGS[key], build_densenet, "DenseNet")


DenseNet121 = _table_builder("densenet121")
DenseNet169 = _table_builder("densenet169")
DenseNet201 = _table_builder("densenet201")
DenseNet264 = _table_builder("densenet264")
DenseNet121CIFAR = _table_builder("densenet121_cifar")

_DESCRIPTIONS = {
    "densenet121": "DenseNet-121, ImageNet (keras.applications-compatible)",
    "densenet169": "DenseNet-169, ImageNet (keras.applications-compatible)",
    "densenet201": "DenseNet-201, ImageNet (keras.applications-compatible)",
    "densenet264": "DenseNet-264, ImageNet (blocks 6-12-64-48)",
    "densenet121_cifar": "DenseNet-121 for CIFAR-10 with a 256-128 head (source notes)",
    "densenet_40_k12": "DenseNet L=40 k=12 for CIFAR (paper, 1.0M)",
    "densenet_bc_100_k12": "DenseNet-BC L=100 k=12 for CIFAR (paper, 0.8M)",
    "densenet_bc_250_k24": "DenseNet-BC L=250 k=24 for CIFAR (paper, 15.3M)",
    "densenet_bc_190_k40": "DenseNet-BC L=190 k=40 for CIFAR (paper, 25.6M)",
}
# Total parameters (trainable + BN moving statistics) of the default config;
# tests/test_models.py checks each against a built model.
_PARAMS = {
    "densenet121": 8_062_504,
    "densenet169": 14_307_880,
    "densenet201": 20_242_984,
    "densenet264": 33_736_232,
    "densenet121_cifar": 7_334_090,
    "densenet_40_k12": 1_037_818,
    "densenet_bc_100_k12": 793_150,
    "densenet_bc_250_k24": 15_582_382,
    "densenet_bc_190_k40": 25_881_390,
}

for _key, _config in CONFIGS.items():
    register_model(
        _key,
        _table_builder(_key),
        family="densenet",
        input_shape=(_config.default_size, _config.default_size, 3),
        classes=_config.classes,
        params=_PARAMS[_key],
        preprocess="torch" if _key in PUBLISHED_WEIGHTS else None,
        weights=_key if _key in PUBLISHED_WEIGHTS else None,
        description=_DESCRIPTIONS[_key],
    )
