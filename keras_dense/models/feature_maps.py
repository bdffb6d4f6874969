"""Multi-scale feature maps of a registered model: `keras_dense.features` (timm's `features_only`).

The model is the normal builder's body (`include_top=False`), so weights load
exactly as for the full model, and its outputs are the layers each family
config names in `feature_layers()` (the stem at stride 2 where the family
has one, then strides 4, 8, 16, 32). It lives beside the architectures
because which layer ends which stage is a fact of each architecture.

Examples:
    >>> import keras_dense
    >>> backbone = keras_dense.features("densenet121", weights="imagenet", out_indices=(1, 2, 3, 4))
    >>> [(info.layer, info.channels, info.stride) for info in backbone.feature_info]
    [('conv2_block6_concat', 256, 4), ('conv3_block12_concat', 512, 8),
     ('conv4_block24_concat', 1024, 16), ('relu', 1024, 32)]
"""

import dataclasses
import numbers
import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_dense.models import _builder
from keras_dense.models._registry import model_record

# Builder arguments that describe a head, which a feature model does not have.
HEAD_ARGS = ("include_top", "pooling", "classes", "classifier_activation")


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    """One output of a feature model.

    Attributes:
        layer: the layer of the full model whose output it is.
        channels: its channels.
        stride: input pixels per map pixel (the reduction).
    """

    layer: str
    channels: int
    stride: int


def feature_layers(name, **architecture):
    """`[(layer_name, stride), ...]` of a registered model, shallow to deep.

    Args:
        name: registry name, e.g. `"densenet121"`.
        **architecture: overrides of the model's config (e.g. `growth_rate=4`).

    Returns:
        A list of `(layer_name, stride)`.

    Examples:
        >>> feature_layers("resnet50")[0]
        ('conv1_relu', 2)
    """
    config = _builder.with_overrides(model_record(name).config, **architecture)
    return config.feature_layers()


def _check_out_indices(out_indices, layers, name):
    if out_indices is None:
        return list(range(len(layers)))
    valid = ", ".join(f"{i} ({layer}, stride {stride})" for i, (layer, stride) in enumerate(layers))
    indices = list(out_indices) if not isinstance(out_indices, (str, bytes)) else []
    if not indices or any(
        isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < len(layers)
        for i in indices
    ):
        raise ValueError(
            f"out_indices must be a list of indices of {name}'s feature maps: "
            f"{valid}; got {out_indices!r}."
        )
    if len(set(indices)) != len(indices):
        raise ValueError(f"out_indices repeats an index: {out_indices!r}; the indices are {valid}.")
    return [int(i) for i in indices]


def features(
    name: str,
    weights: str | os.PathLike | None = None,
    out_indices: Sequence[int] | None = None,
    **builder_kwargs: Any,
) -> keras.Model:
    """A model whose outputs are a registered model's feature maps, shallow to deep.

    Args:
        name: registry name of an ImageNet-family model, e.g. `"densenet121"`.
        weights: as for the model's builder (`None`, `"imagenet"`, a tag, a
            path); loaded into the body exactly as for `include_top=False`.
        out_indices: which maps to return, indices into `feature_layers(name)`;
            `None` returns all (stride 2 first where the family has it).
        **builder_kwargs: other builder arguments (`input_shape`,
            `input_tensor`, `include_preprocessing`, architecture overrides).

    Returns:
        A `keras.Model` with one output per index, each named after its layer,
        and `feature_info`: a tuple of `FeatureInfo(layer, channels, stride)`.

    Raises:
        ValueError: the family has no feature maps, an index is out of range
            (the message lists the valid ones), or a head argument was passed.

    Examples:
        >>> model = features("resnet50", input_shape=(256, 256, 3), out_indices=(1, 2, 3, 4))
        >>> [tuple(out.shape) for out in model.outputs][-1]
        (None, 8, 8, 2048)
    """
    head = sorted(set(builder_kwargs) & set(HEAD_ARGS))
    if head:
        raise ValueError(f"features builds the body without a head; drop {', '.join(head)}.")
    architecture = {
        key: value for key, value in builder_kwargs.items() if key not in _builder.BUILDER_ARGS
    }
    layers = feature_layers(name, **architecture)
    indices = _check_out_indices(out_indices, layers, name)
    body = model_record(name).build(include_top=False, weights=weights, **builder_kwargs)
    outputs = [body.get_layer(layers[i][0]).output for i in indices]
    model = keras.Model(body.inputs, outputs, name=f"{body.name}_features")
    model.feature_info = tuple(
        FeatureInfo(layers[i][0], int(output.shape[-1]), layers[i][1])
        for i, output in zip(indices, outputs)
    )
    return model
