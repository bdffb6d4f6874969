"""Inference in bfloat16: a copy of a model under a bfloat16 dtype policy.

bfloat16 keeps float32's range with an 8-bit mantissa, so convolutions run at
about twice the rate on CPUs with bfloat16 units (e.g. AVX512-BF16, AMX) and
activations take half the memory. Layers that produce the model's outputs stay
float32 (the classifier's softmax), and batch norms keep float32 statistics
under the default `"mixed_bfloat16"` policy.

Example:
    >>> from keras_dense.inference import precision
    >>> model = keras_dense.get_model("densenet169")
    >>> fast = precision.cast_model(model, "bfloat16")
    >>> precision.max_probability_difference(model, fast, images)
"""

import keras
import numpy as np

from keras_dense._choices import PRECISIONS
from keras_dense.inference.batches import predict_batches

# precision -> the Keras dtype policy of its copy (None: the model itself); int8 has none:
# Keras's `Model.quantize("int8")` covers Dense/EinsumDense/Embedding, not convolutions, so
# int8 is an OpenVINO export quantized by NNCF (`keras_dense.inference.quantize`)
POLICIES = {"float32": None, "bfloat16": "mixed_bfloat16", "int8": None}
INT8_ENGINE_ONLY = (
    "int8 runs on the OpenVINO engine only (an NNCF-quantized export); use "
    "engine='openvino' (--engine openvino), or precision float32 or bfloat16 on Keras."
)


def check_precision(precision: str) -> None:
    """Raises ValueError unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}; got {precision!r}.")


def cast_model(model, precision="bfloat16", policy=None):
    """Returns a copy of `model` computing in `precision`, with the same weights.

    Args:
        model: a functional `keras.Model`.
        precision: `"float32"` (returns `model` unchanged) or `"bfloat16"` (`"int8"`
            is refused: it runs on OpenVINO only).
        policy: the Keras dtype policy to use for bfloat16; default
            `"mixed_bfloat16"` (float32 weights, bfloat16 compute). `"bfloat16"`
            stores the weights in bfloat16 too.

    Returns:
        A `keras.Model` whose output layers still compute in float32.
    """
    check_precision(precision)
    if precision == "int8":
        raise ValueError(INT8_ENGINE_ONLY)
    if POLICIES[precision] is None:
        return model
    policy = policy or POLICIES[precision]
    output_layers = {t._keras_history.operation.name for t in model.outputs}

    def clone(layer):
        config = layer.get_config()
        if layer.name not in output_layers:
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    cast = keras.models.clone_model(model, clone_function=clone)
    copy_weights(model, cast)
    return cast


def copy_weights(source, target):
    """Sets every weighted layer of `target` from the layer of the same name in `source`."""
    for layer in source.layers:
        if layer.weights:
            target.get_layer(layer.name).set_weights(layer.get_weights())


def max_probability_difference(reference, other, images, batch_size=32):
    """Largest absolute difference between the two models' outputs on `images`.

    Args:
        reference: the float32 model.
        other: the model to compare (e.g. `cast_model(reference)`).
        images: a numpy batch the models accept.
        batch_size: prediction batch size.

    Returns:
        A float.
    """
    a = predict_batches(reference, images, batch_size)
    b = predict_batches(other, images, batch_size)
    return float(np.max(np.abs(a.astype("float32") - b.astype("float32"))))
