"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017).

The ImageNet models (121/169/201) have the same layers, in the same order, with
the same names and weight shapes as `keras.applications.densenet`, so the
published `.h5` files load unchanged; torchvision's weights for them
(`tv_imagenet`) load with torchvision's batch-norm epsilon, 1e-5.
DenseNet-161 (k=48, torchvision's only), DenseNet-264, the CIFAR networks of
the paper (DenseNet L=40 k=12 and DenseNet-BC), the source notes' CIFAR
DenseNet-121 and their "ResNet with dense blocks" are configurations of the
same blocks.

Every builder takes `keras.applications`' arguments and `**overrides` of the
config's fields (see `keras_dense.models._builder`); its record sits above it.

Example:
    >>> from keras_dense.models import densenet
    >>> model = densenet.DenseNet121(weights=None)
    >>> cifar = densenet.DenseNetCIFAR(depth=100, growth_rate=12)   # DenseNet-BC-100
    >>> x = densenet.preprocess_input(pixels)                       # "torch" mode
"""

import dataclasses
from typing import Any, ClassVar

import keras
from keras import layers

from keras_dense.imagenet.classes import decode_predictions  # noqa: F401  (as keras.applications)
from keras_dense.imagenet.preprocessing import family_preprocess_input
from keras_dense.models import _builder, _layers
from keras_dense.models._recompute import RecomputedDenseLayer
from keras_dense.models._registry import ModelRecord, register_model
from keras_dense.weights.sources import (
    keras_imagenet,
    timm_eval,
    timm_imagenet,
    torchvision_imagenet,
)

KERAS_BN_EPSILON = _layers.KERAS_APPLICATIONS_BN_EPSILON  # keras.applications' weights expect it
TORCH_BN_EPSILON = _layers.TORCHVISION_BN_EPSILON  # torchvision's weights expect it

preprocess_input = family_preprocess_input("torch", "DenseNet")


def conv_block(
    x,
    growth_rate,
    name,
    bottleneck=True,
    dropout_rate=0.0,
    memory_efficient=False,
    epsilon=KERAS_BN_EPSILON,
):
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
            `RecomputedDenseLayer` named `{name}_recompute`, recomputed in the
            backward pass instead of stored.
        epsilon: batch-norm epsilon.

    Returns:
        `x` concatenated with the `growth_rate` new feature maps; with
        `memory_efficient=True`, the list `x + [new maps]` (not concatenated).

    Example:
        >>> y = conv_block(keras.Input((56, 56, 64)), 32, "conv2_block1")
    """
    if memory_efficient:
        return _recomputed_conv_block(x, growth_rate, name, bottleneck, dropout_rate, epsilon)
    y = x
    if bottleneck:
        y = _layers.bn_relu(y, f"{name}_0", epsilon)
        y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
        if dropout_rate:
            y = layers.Dropout(dropout_rate, name=f"{name}_1_drop")(y)
        y = _layers.bn_relu(y, f"{name}_1", epsilon)
    else:
        y = _layers.bn_relu(y, f"{name}_0", epsilon)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    if dropout_rate:
        y = layers.Dropout(dropout_rate, name=f"{name}_2_drop")(y)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])


def _recomputed_conv_block(features, growth_rate, name, bottleneck, dropout_rate, epsilon):
    if bottleneck:
        stages = [(4 * growth_rate, 1, f"{name}_0_bn", f"{name}_1_conv")]
        # A recomputed dropout would draw a new mask, so with dropout between
        # the stages the second one is stored rather than recomputed.
        if not dropout_rate:
            stages.append((growth_rate, 3, f"{name}_1_bn", f"{name}_2_conv"))
    else:
        stages = [(growth_rate, 3, f"{name}_0_bn", f"{name}_2_conv")]
    y = RecomputedDenseLayer(stages, epsilon=epsilon, name=f"{name}_recompute")(list(features))
    if len(stages) == 1 and bottleneck:
        y = layers.Dropout(dropout_rate, name=f"{name}_1_drop")(y)
        y = _layers.bn_relu(y, f"{name}_1", epsilon)
        y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    if dropout_rate:
        y = layers.Dropout(dropout_rate, name=f"{name}_2_drop")(y)
    return list(features) + [y]


def dense_block(
    x,
    blocks,
    name,
    growth_rate=32,
    bottleneck=True,
    dropout_rate=0.0,
    memory_efficient=False,
    epsilon=KERAS_BN_EPSILON,
):
    """A dense block of `blocks` conv blocks named `{name}_block{i}`.

    Args:
        x: input tensor.
        blocks: number of conv blocks.
        name: block label, e.g. `"conv2"`.
        growth_rate: feature maps added per conv block (Keras uses 32).
        bottleneck: whether the conv blocks use the 1x1 bottleneck.
        dropout_rate: dropout after each convolution.
        memory_efficient: recompute each layer in the backward pass (see
            `conv_block`); the block's maps are concatenated once, at the end,
            by `{name}_block{blocks}_concat`.
        epsilon: batch-norm epsilon.

    Returns:
        Output tensor with `blocks * growth_rate` more channels than `x`.

    Example:
        >>> y = dense_block(keras.Input((56, 56, 64)), 6, "conv2")   # 64 + 6 * 32 channels
    """
    features = [x] if memory_efficient else x
    for i in range(blocks):
        features = conv_block(
            features,
            growth_rate,
            name=f"{name}_block{i + 1}",
            bottleneck=bottleneck,
            dropout_rate=dropout_rate,
            memory_efficient=memory_efficient,
            epsilon=epsilon,
        )
    if memory_efficient:
        return layers.Concatenate(axis=-1, name=f"{name}_block{blocks}_concat")(features)
    return features


def transition_block(x, reduction, name, dropout_rate=0.0, epsilon=KERAS_BN_EPSILON):
    """BN-ReLU-Conv1x1-AvgPool2x2 between dense blocks.

    Args:
        x: input tensor.
        reduction: compression factor (theta) of the channel count, in (0, 1].
        name: block label, e.g. `"pool2"`.
        dropout_rate: dropout after the convolution.
        epsilon: batch-norm epsilon.

    Returns:
        Output tensor at half the resolution with `int(channels * reduction)` maps.

    Example:
        >>> y = transition_block(keras.Input((56, 56, 256)), 0.5, "pool2")   # 28x28x128
    """
    x = _layers.bn_relu(x, name, epsilon)
    x = layers.Conv2D(int(x.shape[-1] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name=f"{name}_drop")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def stem(x, kind, filters, epsilon):
    """The network's first layers, `conv1_*` (and `pool1` for `"imagenet"`).

    Args:
        x: the image tensor.
        kind: `"imagenet"` (7x7/2 conv, BN, ReLU, 3x3/2 max-pool: 224 -> 56),
            `"cifar"` (one 3x3 conv, the paper's CIFAR stem) or `"resnet"`
            (3x3 conv, BN, ReLU: the source notes' ResNet stem).
        filters: channels of the stem convolution.
        epsilon: batch-norm epsilon.

    Returns:
        Output tensor.
    """
    if kind == "imagenet":
        x = _layers.conv_bn_relu(
            x, filters, 7, "conv1", strides=2, padding="symmetric", epsilon=epsilon
        )
        x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
        return layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    if kind == "resnet":
        return _layers.conv_bn_relu(x, filters, 3, "conv1", epsilon=epsilon)
    return layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv1_conv")(x)


STEMS = {"imagenet": 32, "cifar": 8, "resnet": 8}  # stem -> smallest input side


@dataclasses.dataclass(frozen=True, kw_only=True)
class DenseNetConfig(_builder.ArchConfig):
    """The architecture of one DenseNet.

    Attributes:
        blocks: conv blocks per dense block, e.g. `(6, 12, 24, 16)`.
        growth_rate: feature maps added per conv block (k).
        bottleneck: 1x1 bottleneck convolutions (the B of DenseNet-BC).
        reduction: transition compression theta (the C of DenseNet-BC), in (0, 1].
        dropout_rate: dropout after each convolution.
        init_filters: stem filters; `None` means 2k with bottleneck, else 16,
            as in the paper (64 for the ImageNet models).
        stem: `"imagenet"`, `"cifar"` or `"resnet"` (see `stem`).
        head_units: hidden dense layers of the classifier head (`()`: global
            pooling straight into the classifier).
        head_dropout: dropout in the classifier head (after each hidden layer,
            or before the classifier when there are none).
        memory_efficient: recompute each layer's concatenation, BN, ReLU and
            convolutions in the backward pass instead of storing them
            (`keras_dense.models._recompute`): less training memory, same
            outputs and gradients, same weights in the same order.
        bn_epsilon: batch-norm epsilon (Keras's weights: 1.001e-5).
    """

    family: ClassVar[str] = "densenet"
    weightless_fields: ClassVar[tuple] = ("dropout_rate", "head_dropout", "memory_efficient")

    blocks: tuple
    growth_rate: int = 32
    bottleneck: bool = True
    reduction: float = 0.5
    dropout_rate: float = 0.0
    init_filters: int | None = None
    stem: str = "imagenet"
    head_units: tuple = ()
    head_dropout: float = 0.0
    memory_efficient: bool = False
    bn_epsilon: float = KERAS_BN_EPSILON

    def __post_init__(self):
        if not self.blocks or any(not isinstance(b, int) or b < 1 for b in self.blocks):
            raise ValueError(f"blocks must be positive integers; got {self.blocks!r}.")
        if not isinstance(self.growth_rate, int) or self.growth_rate <= 0:
            raise ValueError(f"growth_rate must be a positive integer; got {self.growth_rate!r}.")
        if not 0 < self.reduction <= 1:
            raise ValueError(f"reduction (compression) must be in (0, 1]; got {self.reduction!r}.")
        for field in ("dropout_rate", "head_dropout"):
            if not 0 <= getattr(self, field) < 1:
                raise ValueError(f"{field} must be in [0, 1); got {getattr(self, field)!r}.")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {sorted(STEMS)}; got {self.stem!r}.")
        if self.init_filters is not None and (
            not isinstance(self.init_filters, int) or self.init_filters < 1
        ):
            raise ValueError(f"init_filters must be a positive integer; got {self.init_filters!r}.")

    @property
    def min_size(self):
        return STEMS[self.stem]

    @property
    def stem_filters(self):
        if self.init_filters is not None:
            return self.init_filters
        return 2 * self.growth_rate if self.bottleneck else 16

    def for_weights(self):
        return dataclasses.replace(self, memory_efficient=False)

    def body(self, x):
        x = stem(x, self.stem, self.stem_filters, self.bn_epsilon)
        for i, blocks in enumerate(self.blocks):
            stage = i + 2  # Keras numbers the stem 1 and the dense blocks conv2..conv5
            x = dense_block(
                x,
                blocks,
                name=f"conv{stage}",
                growth_rate=self.growth_rate,
                bottleneck=self.bottleneck,
                dropout_rate=self.dropout_rate,
                memory_efficient=self.memory_efficient,
                epsilon=self.bn_epsilon,
            )
            if i < len(self.blocks) - 1:
                x = transition_block(
                    x,
                    self.reduction,
                    name=f"pool{stage}",
                    dropout_rate=self.dropout_rate,
                    epsilon=self.bn_epsilon,
                )
        return _layers.bn_relu(x, "", self.bn_epsilon)  # layers are pre-activation

    def feature_layers(self):
        # timm's taps: the stem's ReLU, each dense block's output before its
        # transition, and the final BN-ReLU (the map the classifier pools).
        ends = [f"conv{i + 2}_block{blocks}_concat" for i, blocks in enumerate(self.blocks[:-1])]
        return self.stage_taps(self.stem == "imagenet", ends + ["relu"])

    def top(self, x, classes, classifier_activation):
        return _layers.dense_head(
            x,
            classes,
            classifier_activation,
            hidden_units=self.head_units,
            dropout_rate=self.head_dropout,
        )


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
        blocks=(n, n, n),
        growth_rate=growth_rate,
        bottleneck=bottleneck,
        reduction=0.5 if bottleneck else 1.0,
        stem="cifar",
        default_size=32,
        classes=10,
    )


def DenseNet(blocks, **kwargs):
    """Instantiates a DenseNet with the given dense blocks (ImageNet layout by default).

    Args:
        blocks: conv blocks per dense block, e.g. `[6, 12, 24, 16]`.
        **kwargs: the `keras.applications` arguments (`include_top`,
            `weights`, `input_tensor`, `input_shape`, `pooling`, `classes`,
            `classifier_activation`, `name`) and any other `DenseNetConfig`
            field (`growth_rate`, `reduction`, `stem`, `memory_efficient`, ...).
            `weights="imagenet"` loads the published weights of the model
            these blocks describe (121, 169, 201).

    Returns:
        A `keras.Model`.

    Example:
        >>> model = DenseNet([6, 12, 24, 16], weights=None)  # DenseNet-121
    """
    return _builder.build_model(DenseNetConfig(blocks=tuple(blocks)), **kwargs)


def DenseNetCIFAR(depth=100, growth_rate=12, bottleneck=True, **kwargs):
    """Instantiates the paper's CIFAR DenseNet (bottleneck=False) or DenseNet-BC.

    Args:
        depth: total depth L, e.g. 40 (DenseNet) or 100, 190, 250 (DenseNet-BC).
        growth_rate: k.
        bottleneck: True for DenseNet-BC (also sets compression 0.5).
        **kwargs: as in `DenseNet`. The paper uses `dropout_rate=0.2` without
            data augmentation.

    Returns:
        A `keras.Model`.

    Example:
        >>> model = DenseNetCIFAR(depth=100, growth_rate=12)  # 0.8M parameters
    """
    kwargs.setdefault("name", f"densenet{'_bc' if bottleneck else ''}_{depth}_k{growth_rate}")
    return _builder.build_model(cifar_config(depth, growth_rate, bottleneck), **kwargs)


TINY_IMAGENET = {"blocks": (1, 2, 1, 1), "growth_rate": 4, "input_shape": (32, 32, 3), "classes": 5}
TINY_CIFAR = {"blocks": (2, 2, 2), "growth_rate": 4, "input_shape": (32, 32, 3), "classes": 5}


KERAS_MD5 = {  # depth -> md5 of keras.applications' file with and without the classifier
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def _torchvision_weights(file_name, notop_params, top1, top5):
    return torchvision_imagenet(
        file_name, notop_params, top1, top5, arch={"bn_epsilon": TORCH_BN_EPSILON}
    )


def _keras_and_torchvision(
    depth, blocks, params, notop_params, keras, file_hash, torchvision, timm=()
):
    """The record of `keras.applications.DenseNet{depth}` with Keras's weights (`KERAS_MD5`,
    `keras`: top-1 and top-5), torchvision's (`densenet{depth}-{file_hash}.pth`) and
    `timm`'s (`WeightsRecord`s)."""
    name = f"densenet{depth}"
    md5, notop_md5 = KERAS_MD5[depth]
    return ModelRecord(
        name,
        DenseNetConfig(blocks=blocks),
        f"DenseNet-{depth}, ImageNet (keras.applications-compatible)",
        params=params,
        weights=(
            keras_imagenet("densenet", name, md5, notop_md5, notop_params, "torch", *keras),
            _torchvision_weights(f"{name}-{file_hash}.pth", notop_params, *torchvision),
            *timm,
        ),
        tiny=TINY_IMAGENET,
    )


def _cifar(depth, growth_rate, bottleneck, params, size):
    """The record of the paper's CIFAR DenseNet (or DenseNet-BC) L=`depth`, k=`growth_rate`."""
    bc = "_bc" if bottleneck else ""
    return ModelRecord(
        f"densenet{bc}_{depth}_k{growth_rate}",
        cifar_config(depth, growth_rate, bottleneck),
        f"DenseNet{'-BC' if bottleneck else ''} L={depth} k={growth_rate} for CIFAR "
        f"(paper, {size})",
        params=params,
        tiny=TINY_CIFAR,
    )


@register_model(
    _keras_and_torchvision(
        121,
        (6, 12, 24, 16),
        8_062_504,
        7_037_504,
        (75.0, 92.3),
        "a639ec97",
        (74.434, 91.972),
        # timm's results/results-imagenet.csv: 76.486 / 93.378 at 288, crop 0.95, bicubic
        timm=(
            timm_imagenet(
                "densenet121.ra_in1k",
                7_037_504,
                76.486,
                93.378,
                timm_eval(288, 0.95, "bicubic"),
                arch={"bn_epsilon": TORCH_BN_EPSILON},
            ),
        ),
    )
)
def DenseNet121(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "densenet121",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-121 (Huang et al., CVPR 2017), layer for layer `keras.applications.DenseNet121`."""
    return _builder.build_registered("densenet121", locals())


@register_model(
    ModelRecord(
        "densenet161",
        DenseNetConfig(
            blocks=(6, 12, 36, 24), growth_rate=48, init_filters=96, bn_epsilon=TORCH_BN_EPSILON
        ),
        "DenseNet-161 (k=48, 96 initial features), ImageNet (torchvision's)",
        params=28_900_936,
        weights=(_torchvision_weights("densenet161-8d451a50.pth", 26_691_936, 77.138, 93.56),),
        tiny=TINY_IMAGENET,
    )
)
def DenseNet161(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "densenet161",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-161, k=48 and 96 initial features (Huang et al., CVPR 2017; torchvision's)."""
    return _builder.build_registered("densenet161", locals())


@register_model(
    _keras_and_torchvision(
        169, (6, 12, 32, 32), 14_307_880, 12_642_880, (76.2, 93.2), "b2777c0a", (75.6, 92.806)
    )
)
def DenseNet169(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "densenet169",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-169 (Huang et al., CVPR 2017), layer for layer `keras.applications.DenseNet169`."""
    return _builder.build_registered("densenet169", locals())


@register_model(
    _keras_and_torchvision(
        201, (6, 12, 48, 32), 20_242_984, 18_321_984, (77.3, 93.6), "c1103571", (76.896, 93.37)
    )
)
def DenseNet201(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "densenet201",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-201 (Huang et al., CVPR 2017), layer for layer `keras.applications.DenseNet201`."""
    return _builder.build_registered("densenet201", locals())


@register_model(
    ModelRecord(
        "densenet264",
        DenseNetConfig(blocks=(6, 12, 64, 48)),
        "DenseNet-264, ImageNet (blocks 6-12-64-48)",
        params=33_736_232,
        tiny=TINY_IMAGENET,
    )
)
def DenseNet264(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str | None = "softmax",
    name: str = "densenet264",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-264, blocks 6-12-64-48 (Huang et al., CVPR 2017, table 1)."""
    return _builder.build_registered("densenet264", locals())


@register_model(
    ModelRecord(
        "densenet121_cifar",
        DenseNetConfig(
            blocks=(6, 12, 24, 16),
            head_units=(256, 128),
            head_dropout=0.5,
            default_size=32,
            classes=10,
        ),
        "DenseNet-121 for CIFAR-10, 256-128 head with dropout 0.5 (source notes)",
        params=7_334_090,
        tiny=TINY_IMAGENET,
    )
)
def DenseNet121CIFAR(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "densenet121_cifar",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-121 for CIFAR-10 with a 256-128 head and dropout 0.5 (source notes)."""
    return _builder.build_registered("densenet121_cifar", locals())


@register_model(_cifar(40, 12, False, 1_037_818, "1.0M"))
def DenseNet40K12(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "densenet_40_k12",
    **overrides: Any,
) -> keras.Model:
    """DenseNet L=40, k=12 for CIFAR (Huang et al., CVPR 2017, table 2)."""
    return _builder.build_registered("densenet_40_k12", locals())


@register_model(_cifar(100, 12, True, 793_150, "0.8M"))
def DenseNetBC100K12(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "densenet_bc_100_k12",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-BC L=100, k=12 for CIFAR (Huang et al., CVPR 2017, table 2)."""
    return _builder.build_registered("densenet_bc_100_k12", locals())


@register_model(_cifar(250, 24, True, 15_582_382, "15.3M"))
def DenseNetBC250K24(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "densenet_bc_250_k24",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-BC L=250, k=24 for CIFAR (Huang et al., CVPR 2017, table 2)."""
    return _builder.build_registered("densenet_bc_250_k24", locals())


@register_model(_cifar(190, 40, True, 25_881_390, "25.6M"))
def DenseNetBC190K40(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "densenet_bc_190_k40",
    **overrides: Any,
) -> keras.Model:
    """DenseNet-BC L=190, k=40 for CIFAR (Huang et al., CVPR 2017, table 2)."""
    return _builder.build_registered("densenet_bc_190_k40", locals())


@register_model(
    ModelRecord(
        "dense_resnet",
        DenseNetConfig(
            blocks=(6, 12, 24, 16), stem="resnet", init_filters=16, default_size=32, classes=10
        ),
        "ResNet with dense blocks 6-12-24-16 (k=32), 16-channel 3x3 stem, CIFAR (source notes)",
        params=6_876_094,
        tiny=TINY_IMAGENET,
    )
)
def DenseResNet(
    include_top: bool = True,
    weights: _builder.Weights = None,
    input_tensor: Any = None,
    input_shape: _builder.InputShape = None,
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "dense_resnet",
    **overrides: Any,
) -> keras.Model:
    """A ResNet of dense blocks 6-12-24-16 (k=32), 3x3 stem, for CIFAR (source notes)."""
    return _builder.build_registered("dense_resnet", locals())
