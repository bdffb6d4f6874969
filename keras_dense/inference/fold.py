"""Folding batch norms into the convolutions they follow, for inference.

At inference a `BatchNormalization` is a fixed per-channel affine map, so one
that directly follows a `Conv2D` (no activation between, the convolution's
output used by nothing else) merges into that convolution:
`kernel' = kernel * s`, `bias' = (bias - mean) * s + beta`, `s = gamma / sqrt(var + eps)`.

DenseNet is pre-activation (BN-ReLU-Conv), so most of its batch norms come
*before* a convolution, with a ReLU between them, and cannot be folded that
way. Foldable are the stem (`conv1_conv` -> `conv1_bn`, ImageNet stem) and
each bottleneck (`{block}_1_conv` -> `{block}_1_bn`, when dropout is off):
83 of DenseNet-169's 169 batch norms. The transitions' convolution is followed
by average pooling and the next block's BN reads a tensor that is also
concatenated, so those stay.

Example:
    >>> from keras_dense.inference import fold
    >>> model = keras_dense.get_model("densenet169")
    >>> fast = fold.fold_batch_norms(model)   # same outputs, fewer layers
"""

import keras
import numpy as np
from keras import layers


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    return history.operation if history is not None else None


def _consumers(model, layer):
    """Number of calls in `model` that read an output of `layer`."""
    node_ids = set()
    for node in layer._outbound_nodes:
        if node.operation in model.layers:
            node_ids.add(id(node))
    return len(node_ids) + sum(_producer(output) is layer for output in model.outputs)


def foldable_pairs(model):
    """The `(conv_name, bn_name)` pairs `fold_batch_norms` would merge.

    A pair is a `Conv2D` with a linear activation, called once, whose output is
    read only by a `BatchNormalization` over the channel axis, called once.

    Args:
        model: a functional `keras.Model`.

    Returns:
        A list of `(conv_name, bn_name)` in layer order.
    """
    pairs = []
    for bn in model.layers:
        if type(bn) is not layers.BatchNormalization or len(bn._inbound_nodes) != 1:
            continue
        if bn.axis not in (-1, len(bn.input.shape) - 1):
            continue
        conv = _producer(bn.input)
        if (
            type(conv) is layers.Conv2D
            and conv.activation is keras.activations.linear
            and len(conv._inbound_nodes) == 1
            and _consumers(model, conv) == 1
        ):
            pairs.append((conv.name, bn.name))
    return pairs


def folded_conv_weights(conv, bn):
    """The kernel and bias of `conv` followed by `bn` (inference mode) as one conv.

    Args:
        conv: a built `Conv2D`.
        bn: a built `BatchNormalization` over the conv's output channels.

    Returns:
        `(kernel, bias)` as float32 numpy arrays.
    """

    def to_np(variable):
        return np.asarray(keras.ops.convert_to_numpy(variable), "float64")

    kernel = to_np(conv.kernel)
    channels = kernel.shape[-1]
    bias = to_np(conv.bias) if conv.use_bias else np.zeros(channels)
    gamma = to_np(bn.gamma) if bn.scale else np.ones(channels)
    beta = to_np(bn.beta) if bn.center else np.zeros(channels)
    scale = gamma / np.sqrt(to_np(bn.moving_variance) + bn.epsilon)
    return (kernel * scale).astype("float32"), (
        (bias - to_np(bn.moving_mean)) * scale + beta
    ).astype("float32")


def fold_batch_norms(model):
    """Returns an inference copy of `model` with conv -> BN pairs merged into one conv.

    The copy has the same inputs, outputs (to float tolerance) and layer names,
    minus the folded batch norms; the folded convolutions gain a bias. The
    original model is not changed. Use the copy for inference only: it has no
    batch statistics to train.

    Args:
        model: a functional `keras.Model` (e.g. any `keras_dense` model).

    Returns:
        A new `keras.Model`; `model` itself when nothing can be folded.

    Raises:
        ValueError: if `model` is not a functional model.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_nodes_by_depth"):
        raise ValueError(
            "fold_batch_norms needs a functional keras.Model (built with keras.Input); "
            f"got {type(model).__name__}."
        )
    pairs = dict(foldable_pairs(model))
    if not pairs:
        return model
    folded_bns = set(pairs.values())

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in folded_bns:
            return args[0]  # its scale and shift live in the convolution now
        return layer(*args, **kwargs)

    folded = keras.models.clone_model(model, clone_function=clone, call_function=call)
    copy_folded_weights(model, folded)
    return folded


def copy_folded_weights(model, folded):
    """Sets the weights of `folded` (made by `fold_batch_norms(model)`) from `model`'s.

    Args:
        model: the original model.
        folded: its folded copy; its convolutions take the folded kernels and biases.
    """
    pairs = dict(foldable_pairs(model))
    folded_bns = set(pairs.values())
    for layer in model.layers:
        if layer.name in folded_bns or not layer.weights:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in pairs:
            target.set_weights(list(folded_conv_weights(layer, model.get_layer(pairs[layer.name]))))
        else:
            target.set_weights(layer.get_weights())
