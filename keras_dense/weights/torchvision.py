"""torchvision's ImageNet weights in our Keras models: one name mapping per family.

Kept instead of a general converter (keras-hub's and kimm's convert timm's
checkpoints model by model too): the layouts differ in names, order and
tensor shapes, and a mapping that names every layer is what lets a wrong
state dict be refused with the first mismatching key and both shapes.

For each family a function maps every Keras layer that has weights to the
prefix of its torchvision keys (`conv2_block1_1_conv` ->
`features.denseblock1.denselayer1.conv1`). The arrays are converted by layer
type, as torchvision's code lays them out:

- `Conv2D`: torch's `(out, in, kh, kw)` kernels -> Keras's `(kh, kw, in, out)`.
- `BatchNormalization`: `weight`, `bias`, `running_mean`, `running_var` ->
  `gamma`, `beta`, `moving_mean`, `moving_variance` (a scale-free Keras batch
  norm takes a torch one only when its scales are all 1).
- `Dense`: `(out, in)` -> `(in, out)`; the first one after a `Flatten` (AlexNet,
  VGG) also has its rows reordered, since torch flattens `(C, H, W)` and Keras
  `(H, W, C)`.

The epsilon, the ResNet v1.5 stride, GoogLeNet's and Inception v3's
`transform_input` and other differences that are no weights are architecture
options (each torchvision tag's `arch`), applied when the model is built.
Everything is checked before anything is assigned.

Registered models by name are converted by `keras_dense.models.pretrained.from_torchvision`.

Example:
    >>> from keras_dense.weights.torchvision import convert_into
    >>> report = convert_into(model, "densenet161-8d451a50.pth", family="densenet")
"""

import dataclasses
import os
import re

import numpy as np

from keras_dense import _families
from keras_dense.weights.h5 import LoadReport, WeightsMismatchError
from keras_dense.weights.torch_state import read_state_dict

TORCHVISION_FORMAT = "torch_state_dict"
# Inception v3's 11 blocks as torchvision names them (mixed0 ... mixed10 in Keras).
INCEPTION_V3_BLOCKS = (
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)
GOOGLENET_BRANCHES = {
    "1x1": "branch1",
    "3x3_reduce": "branch2.0",
    "3x3": "branch2.1",
    "5x5_reduce": "branch3.0",
    "5x5": "branch3.1",
    "pool_proj": "branch4.1",
}
# Old torchvision DenseNet files name `norm.1` what the code now names `norm1`
# (torchvision's densenet._load_state_dict rewrites them the same way).
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _by_patterns(patterns):
    """A name mapping from `(regex, function of the match -> torch prefix)` pairs."""
    compiled = [(re.compile(pattern), make) for pattern, make in patterns]

    def mapping(model):
        names = {}
        for layer in _weighted_layers(model):
            for pattern, make in compiled:
                match = pattern.fullmatch(layer.name)
                if match:
                    names[layer.name] = make(match)
                    break
        return names

    return mapping


def _stage(match, group=1):
    """Keras's stage `conv{s}` is torchvision's `denseblock{s-1}` / `layer{s-1}`."""
    return int(match[group]) - 1


densenet_names = _by_patterns(
    [
        (r"conv1_conv", lambda m: "features.conv0"),
        (r"conv1_bn", lambda m: "features.norm0"),
        (
            r"conv(\d+)_block(\d+)_(0_bn|1_conv|1_bn|2_conv)",
            lambda m: (
                f"features.denseblock{_stage(m)}.denselayer{m[2]}."
                + {"0_bn": "norm1", "1_conv": "conv1", "1_bn": "norm2", "2_conv": "conv2"}[m[3]]
            ),
        ),
        (
            r"pool(\d+)_(bn|conv)",
            lambda m: f"features.transition{_stage(m)}.{'norm' if m[2] == 'bn' else 'conv'}",
        ),
        (r"bn", lambda m: "features.norm5"),
        (r"predictions", lambda m: "classifier"),
    ]
)

resnet_names = _by_patterns(
    [
        (r"conv1_(conv|bn)", lambda m: "conv1" if m[1] == "conv" else "bn1"),
        (
            r"conv(\d+)_block(\d+)_0_(conv|bn)",
            lambda m: f"layer{_stage(m)}.{int(m[2]) - 1}.downsample.{0 if m[3] == 'conv' else 1}",
        ),
        (
            r"conv(\d+)_block(\d+)_([123])_(conv|bn)",
            lambda m: f"layer{_stage(m)}.{int(m[2]) - 1}.{m[4]}{m[3]}",
        ),
        (r"predictions", lambda m: "fc"),
    ]
)

googlenet_names = _by_patterns(
    [
        (r"conv([123])_(conv|bn)", lambda m: f"conv{m[1]}.{m[2]}"),
        (
            r"(inception\d[a-e])_(1x1|3x3_reduce|3x3|5x5_reduce|5x5|pool_proj)_(conv|bn)",
            lambda m: f"{m[1]}.{GOOGLENET_BRANCHES[m[2]]}.{m[3]}",
        ),
        (r"predictions", lambda m: "fc"),
    ]
)

inception_v3_names = _by_patterns(
    [
        (r"stem_(\w+)_(conv|bn)", lambda m: f"Conv2d_{m[1]}.{m[2]}"),
        (
            r"mixed(\d+)_(\w+)_(conv|bn)",
            lambda m: (
                f"{INCEPTION_V3_BLOCKS[int(m[1])]}."
                f"{'branch_pool' if m[2] == 'pool_proj' else 'branch' + m[2]}.{m[3]}"
            ),
        ),
        (r"predictions", lambda m: "fc"),
    ]
)


def _sequential_features(head):
    """A mapping for torchvision's `features` / `classifier` Sequentials (VGG, AlexNet).

    The convolutions and batch norms are numbered as torch numbers the modules
    of `features`: every Conv2D, BatchNormalization, ReLU and max pooling is
    one module (a Conv2D with a fused ReLU two; Keras's padding layers are
    part of torch's convolutions). The classifier's Linear layers are `head`.
    """
    from keras import layers

    def mapping(model):
        names, index = {}, 0
        for layer in model.layers:
            if isinstance(layer, layers.Flatten):
                break
            if isinstance(layer, (layers.Conv2D, layers.BatchNormalization)):
                names[layer.name] = f"features.{index}"
                index += 2 if getattr(layer, "activation", None) is _relu() else 1
            elif isinstance(layer, (layers.Activation, layers.ReLU, layers.MaxPooling2D)):
                index += 1
        names.update(
            {
                name: prefix
                for name, prefix in head.items()
                if name in {layer.name for layer in model.layers}
            }
        )
        return names

    return mapping


def _relu():
    import keras

    return keras.activations.relu


@dataclasses.dataclass(frozen=True)
class TorchvisionLayout:
    """How one family's Keras layers correspond to torchvision's state dict.

    Attributes:
        names: `model -> {keras layer name: torch key prefix}` for every
            layer with weights.
        classifier: the prefix of the last Linear layer (its rows are the classes).
        head: key prefixes of the classifier head, unused by a model built
            with `include_top=False`.
        training_only: key prefixes of parts we do not convert (auxiliary
            classifiers, which torchvision uses for training only).
    """

    names: object
    classifier: str
    head: tuple
    training_only: tuple = ()


LAYOUTS = {
    "densenet": TorchvisionLayout(densenet_names, "classifier", ("classifier.",)),
    "resnet": TorchvisionLayout(resnet_names, "fc", ("fc.",)),
    "vgg": TorchvisionLayout(
        _sequential_features(
            {"fc1": "classifier.0", "fc2": "classifier.3", "predictions": "classifier.6"}
        ),
        "classifier.6",
        ("classifier.",),
    ),
    "alexnet": TorchvisionLayout(
        _sequential_features(
            {"fc1": "classifier.1", "fc2": "classifier.4", "predictions": "classifier.6"}
        ),
        "classifier.6",
        ("classifier.",),
    ),
    "googlenet": TorchvisionLayout(googlenet_names, "fc", ("fc.",), ("aux1.", "aux2.")),
    "inception_v3": TorchvisionLayout(inception_v3_names, "fc", ("fc.",), ("AuxLogits.",)),
}
IGNORED_SUFFIXES = (".num_batches_tracked",)  # batch norm's training counter


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def normalize_keys(state):
    """`state` with the old DenseNet key names (`norm.1`) rewritten as torchvision does."""
    renamed = {}
    for key, value in state.items():
        match = _OLD_DENSENET_KEY.match(key)
        renamed[match[1] + match[2] if match else key] = value
    return renamed


def _torch_shape(variable_name, keras_shape):
    """The torch shape that becomes a Keras variable of `keras_shape`."""
    if variable_name == "kernel" and len(keras_shape) == 4:
        kh, kw, cin, cout = keras_shape
        return (cout, cin, kh, kw)
    if variable_name == "kernel" and len(keras_shape) == 2:
        return tuple(reversed(keras_shape))
    return tuple(keras_shape)


def _flatten_input_shape(layer):
    """`(H, W, C)` of the Flatten feeding a Dense layer (through dropout, as AlexNet's), or None."""
    from keras import layers

    tensor = layer.input
    while True:
        history = getattr(tensor, "_keras_history", None)
        source = history.operation if history is not None else None
        if isinstance(source, layers.Flatten):
            return tuple(source.input.shape[1:])
        if not isinstance(source, layers.Dropout):
            return None
        tensor = source.input


def _to_keras(variable_name, array, layer):
    """A torch array in the layout of the Keras variable `variable_name` of `layer`."""
    if variable_name != "kernel":
        return array
    if array.ndim == 4:  # OIHW -> HWIO
        return np.transpose(array, (2, 3, 1, 0))
    grid = _flatten_input_shape(layer)
    if grid is not None and len(grid) == 3 and None not in grid:
        height, width, channels = grid
        if array.shape[1] == height * width * channels:  # (C, H, W) columns -> (H, W, C)
            array = array.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
            array = array.reshape(array.shape[0], -1)
    return array.T


# Keras variable name -> torch parameter name, per layer type
TORCH_PARAMS = {
    "Conv2D": {"kernel": "weight", "bias": "bias"},
    "Dense": {"kernel": "weight", "bias": "bias"},
    "BatchNormalization": {
        "gamma": "weight",
        "beta": "bias",
        "moving_mean": "running_mean",
        "moving_variance": "running_var",
    },
}


def _layer_arrays(layer, prefix, state, model_name, consumed):
    """The converted arrays for `layer`'s variables, checked against their shapes."""
    params = TORCH_PARAMS.get(type(layer).__name__)
    if params is None:
        raise WeightsMismatchError(
            f"Layer {layer.name!r} of {model_name} is a {type(layer).__name__}, which has no "
            "torchvision counterpart; convert into the plain model (e.g. without "
            "memory_efficient) and copy its weights."
        )
    arrays = []
    for variable in layer.weights:
        name = variable.path.split("/")[-1]
        key = f"{prefix}.{params[name]}"
        if key not in state:
            raise WeightsMismatchError(
                f"The state dict has no {key!r}, which layer {layer.name!r} of {model_name} "
                "needs; the state dict is for another architecture."
            )
        expected = _torch_shape(name, tuple(variable.shape))
        if tuple(state[key].shape) != expected:
            raise WeightsMismatchError(
                f"State dict key {key!r} has shape {tuple(state[key].shape)}, but layer "
                f"{layer.name!r} of {model_name} needs {expected}; the state dict is for "
                "another architecture."
            )
        consumed.add(key)
        arrays.append((variable, _to_keras(name, state[key], layer)))
    if type(layer).__name__ == "BatchNormalization" and not layer.scale:
        key = f"{prefix}.weight"
        if key in state:
            if not np.all(state[key] == 1):
                raise WeightsMismatchError(
                    f"State dict key {key!r} holds batch-norm scales other than 1, which layer "
                    f"{layer.name!r} of {model_name} has no scale for; build the model with "
                    "its batch norms scaled (for Inception v3: bn_scale=True)."
                )
            consumed.add(key)
    bias = f"{prefix}.bias"  # a torch bias the Keras layer lacks would be dropped silently
    if type(layer).__name__ in ("Conv2D", "Dense") and not layer.use_bias and bias in state:
        raise WeightsMismatchError(
            f"State dict key {bias!r} is a bias, but layer {layer.name!r} of {model_name} has "
            "none; the state dict is for another architecture."
        )
    return arrays


def convert_into(model, source, family=None):
    """Assigns a torchvision state dict to a Keras model built with the matching architecture.

    Args:
        model: a `keras.Model` built by keras_dense (with the torchvision
            tag's `arch`, e.g. `bn_epsilon=1e-5`), with or without its classifier.
        source: a `.pth` path or a state dict (tensors or NumPy arrays).
        family: the model's family (`"densenet"`, `"resnet"`, `"vgg"`,
            `"alexnet"`, `"googlenet"`, `"inception_v3"`, or an alias such as
            `"inception"`); the caller looks it up
            (`keras_dense.models.pretrained.family_of`).

    Returns:
        A `LoadReport` (mode `"torchvision"`; `unused` lists the keys of the
        parts not converted: the auxiliary classifiers, or the classifier of a
        model without one).

    Raises:
        WeightsMismatchError: a key is missing, has another shape, or has no
            counterpart; the message names the first one and both shapes.
            Nothing is assigned then.
        WeightsFileError, TorchUnavailableError: as `read_state_dict`.
    """
    family = None if family is None else _families.family_name(family)
    if family not in LAYOUTS:
        raise ValueError(
            f"No torchvision layout for model {model.name!r} (family {family!r}); pass family= "
            f"one of {', '.join(LAYOUTS)}."
        )
    layout = LAYOUTS[family]
    state = normalize_keys(read_state_dict(source))
    names = layout.names(model)
    consumed, assignments = set(), []
    for layer in _weighted_layers(model):
        if layer.name not in names:
            raise WeightsMismatchError(
                f"Layer {layer.name!r} of {model.name} has no counterpart in torchvision's "
                f"{family} (auxiliary classifiers are not converted); build the model with "
                "torchvision's architecture."
            )
        assignments += _layer_arrays(layer, names[layer.name], state, model.name, consumed)
    has_top = any(layer.name == "predictions" for layer in model.layers)
    optional = layout.training_only + (() if has_top else layout.head)
    unused = [key for key in state if key not in consumed]
    unexpected = [
        key for key in unused if not key.endswith(IGNORED_SUFFIXES) and not key.startswith(optional)
    ]
    if unexpected:
        raise WeightsMismatchError(
            f"State dict key {unexpected[0]!r} has no counterpart in {model.name}"
            + (f" (nor have {len(unexpected) - 1} more keys)" if len(unexpected) > 1 else "")
            + "; the state dict is for another architecture."
        )
    for variable, array in assignments:
        variable.assign(np.ascontiguousarray(array, dtype=variable.dtype))
    return LoadReport(
        path=os.fspath(source) if isinstance(source, (str, os.PathLike)) else "a state dict",
        mode="torchvision",
        loaded=tuple(names),
        skipped=(),
        unused=tuple(key for key in unused if not key.endswith(IGNORED_SUFFIXES)),
    )


def torchvision_weights(record):
    """The first torchvision `WeightsRecord` of a `ModelRecord`, or `None`."""
    return next((w for w in record.weights if w.file_format == TORCHVISION_FORMAT), None)


def build_for(record, state=None):
    """`record`'s model with the architecture of its torchvision weights, without weights.

    The class count follows the state dict's classifier when one is given (a
    fine-tuned state dict has its own).
    """
    tagged = torchvision_weights(record)
    arch = dict(tagged.arch) if tagged is not None else {}
    layout = LAYOUTS.get(record.family)
    kwargs = {}
    if state is not None and layout is not None:
        bias = state.get(f"{layout.classifier}.bias")
        if bias is not None and bias.ndim == 1:
            kwargs["classes"] = int(bias.shape[0])
    return record.build(weights=None, **kwargs, **arch)
