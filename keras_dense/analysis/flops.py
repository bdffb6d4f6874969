"""Multiply-accumulate (MAC) and FLOP counts of one forward pass, per layer.

Counts the layers that hold the arithmetic of a CNN: convolutions (all ranks,
grouped, depthwise, separable, transposed) and dense layers, the convention of
torchvision's `_ops` and of the papers (DenseNet-121 at 224x224: 2.83 G MACs).
Batch norm, activations, pooling and concatenation are not counted. FLOPs are
2 x MACs.

Example:
    >>> model = keras_dense.get_model("densenet121")
    >>> round(count_macs(model) / 1e9, 2)
    2.83
"""

import math

import keras
from keras import layers

_CONVS = (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.DepthwiseConv2D)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
_SEPARABLE = (layers.SeparableConv1D, layers.SeparableConv2D)


def _static_positions(shape, layer):
    """Product of the non-batch, non-channel dimensions; they must be known."""
    dims = tuple(shape)[1:-1]
    if any(d is None for d in dims):
        raise ValueError(
            f"Layer {layer.name!r} has an unknown spatial size {tuple(shape)}; "
            "build the model with a fixed input_shape to count its operations."
        )
    return math.prod(dims)


def _macs_of_node(layer, input_shape, output_shape):
    if isinstance(layer, _SEPARABLE):
        positions = _static_positions(output_shape, layer)
        return positions * (
            math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
        )
    if isinstance(layer, _TRANSPOSED):
        return _static_positions(input_shape, layer) * math.prod(layer.kernel.shape)
    if isinstance(layer, _CONVS):
        kernel = layer.kernel
        return _static_positions(output_shape, layer) * math.prod(kernel.shape)
    if isinstance(layer, (layers.Dense, layers.EinsumDense)):
        positions = math.prod(d for d in tuple(output_shape)[1:-1] if d is not None)
        return positions * math.prod(layer.kernel.shape)
    return 0


def _node_shapes(layer):
    """Yields `(input_shape, output_shape)` for each call of `layer` in its model."""
    for node in getattr(layer, "_inbound_nodes", []):
        inputs = node.input_tensors
        outputs = node.output_tensors
        if inputs and outputs:
            yield tuple(inputs[0].shape), tuple(outputs[0].shape)


def layer_macs(model: keras.Model) -> list[tuple[str, str, int]]:
    """Per-layer MACs of one forward pass of one example.

    Nested models (a backbone inside a fine-tuning model) are expanded, their
    layer names prefixed with the sub-model's name.

    Args:
        model: a built functional or Sequential `keras.Model`.

    Returns:
        A list of `(layer_name, layer_class_name, macs)` in layer order,
        including layers that count 0.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows += [(f"{layer.name}/{n}", c, m) for n, c, m in layer_macs(layer)]
            continue
        macs = sum(_macs_of_node(layer, i, o) for i, o in _node_shapes(layer))
        rows.append((layer.name, type(layer).__name__, macs))
    return rows


def count_macs(model: keras.Model) -> int:
    """Total multiply-accumulates of one forward pass of one example.

    Args:
        model: a built `keras.Model` with a fixed input size.

    Returns:
        An int.
    """
    return sum(macs for _, _, macs in layer_macs(model))


def count_flops(model: keras.Model) -> int:
    """Total floating-point operations (2 x MACs) of one forward pass of one example.

    Args:
        model: a built `keras.Model` with a fixed input size.

    Returns:
        An int.
    """
    return 2 * count_macs(model)
