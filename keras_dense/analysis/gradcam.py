"""Grad-CAM (Selvaraju et al., ICCV 2017) on every Keras backend and on nested models.

The Keras example builds `keras.Model(model.inputs, [layer.output, model.output])`
and differentiates with TensorFlow's tape: that fails on other backends and
on fine-tuned models, whose backbone is a nested model (keras#16355,
keras#20760). Here the model is re-wired once per call with
`keras.models.clone_model(..., call_function=...)`, sharing its layers and
weights: the nested models that hold the explained layer are flattened into
one graph, the layer's output gets a zero "probe" variable added to it, and
a softmax classifier gives its logits (the paper's pre-softmax score). The
gradient of the score with respect to the probe, taken through
`stateless_call`, is the gradient with respect to the feature map; each
backend computes it with its own autodiff (`GRADIENTS`: a few lines each).

Example:
    >>> import keras_dense
    >>> model = keras_dense.get_model("densenet121", weights="imagenet", include_preprocessing=True)
    >>> heatmap = keras_dense.gradcam(model, pixels)      # (7, 7) floats in [0, 1]
    >>> picture = overlay(pixels, heatmap)                 # uint8 RGB, the heatmap over it
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers as keras_layers
from keras import ops

CONV_LAYERS = (
    keras_layers.Conv2D,
    keras_layers.DepthwiseConv2D,
    keras_layers.SeparableConv2D,
    keras_layers.Conv2DTranspose,
)
OVERLAY_ALPHA = 0.4


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What `explain` found.

    Attributes:
        heatmap: float32 `(height, width)` in [0, 1], at the layer's resolution.
        class_index: the class explained.
        score: the model's output for that class (a probability for a softmax model).
        layer: the explained layer's name.
    """

    heatmap: np.ndarray
    class_index: int
    score: float
    layer: str


class ClassifierLogits(keras_layers.Layer):
    """A `Dense` classifier's pre-activation output, with the classifier's own weights."""

    def __init__(self, dense, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, inputs):
        logits = ops.matmul(inputs, self.dense.kernel)
        return logits + self.dense.bias if self.dense.use_bias else logits


class Probe(keras_layers.Layer):
    """Adds a zero offset, a non-trainable variable of the input's shape; the score's
    gradient with respect to the offset is its gradient with respect to the input."""

    def build(self, input_shape):
        self.offset = self.add_weight(
            shape=input_shape, initializer="zeros", trainable=False, name="offset"
        )

    def call(self, inputs):
        return inputs + self.offset


def _walk(model, prefix=()):
    """Yields `(path, layer)` for every layer, nested models' layers included, in order."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer, prefix + (layer,))
        else:
            yield prefix + (layer,), layer


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # not called yet, or shared by several calls
        return None


def find_layer(model, layer=None):
    """The path of models down to the explained layer: `(nested models..., layer)`.

    Args:
        model: a `keras.Model`, possibly holding nested models (e.g. from `finetune`).
        layer: a layer name (searched in nested models too), or `None` for the
            last layer with a 4D output after the first convolution.

    Returns:
        A tuple of layers; the last is the explained layer.

    Raises:
        ValueError: no such layer, the layer is not a 4D feature map, or the
            model has no convolutional layer.
    """
    walked = list(_walk(model))
    if layer is not None:
        for path, candidate in walked:
            if candidate.name == layer:
                if _output_rank(candidate) != 4:
                    raise ValueError(
                        f"Layer {layer!r} does not output a 4D feature map (batch, height, "
                        "width, channels); Grad-CAM explains a convolutional layer's output."
                    )
                return path
        raise ValueError(
            f"Model {model.name!r} has no layer named {layer!r} (nested models "
            "included); pass layer=None for its last convolutional feature map."
        )
    convolutional = False
    found = None
    for path, candidate in walked:
        convolutional = convolutional or isinstance(candidate, CONV_LAYERS)
        if convolutional and _output_rank(candidate) == 4:
            found = path
    if found is None:
        raise ValueError(
            f"Grad-CAM needs a convolutional feature map, and model {model.name!r} "
            "has no convolutional layer."
        )
    return found


def _probed(model, path, image_shape):
    """`model` re-wired for one image shape: outputs `[feature_map, output]`.

    Returns `(probed_model, probe, logits)`: nested models on `path` are
    flattened into one graph (sharing their layers), a `Probe` follows the
    explained layer (`feature_map` is its input), and a final softmax `Dense`
    gives its pre-activation output when `logits` is true.
    """
    classifier = model.layers[-1]
    logits = (
        isinstance(classifier, keras_layers.Dense)
        and classifier.activation is keras.activations.softmax
    )
    target, captured = path[-1], []
    probe = Probe(name=f"{target.name}_probe")

    def call(layer, *args, **kwargs):
        if any(layer is nested for nested in path[:-1]):
            # Its graph run on the caller's tensor, as clone_model does, but without the
            # Functional it would wrap around it: fed a tensor that is not an Input (a
            # nested backbone behind a preprocessing layer), that Functional copies its
            # graph onto new Inputs, and the outer model's outputs lose their inputs.
            return layer._run_through_graph(args[0], operation_fn=lambda same: same, call_fn=call)
        if layer is target:
            captured.append(layer(*args, **kwargs))
            return probe(captured[-1])
        if logits and layer is classifier:
            return ClassifierLogits(layer, name=f"{layer.name}_logits")(*args)
        return layer(*args, **kwargs)

    image = keras.Input(batch_shape=image_shape, name="image")
    rewired = keras.models.clone_model(
        model, input_tensors=image, clone_function=lambda same: same, call_function=call
    )
    return keras.Model(image, [captured[0], rewired.outputs[0]]), probe, logits


def _tensorflow_gradient(fn, probe):
    import tensorflow as tf

    probe = tf.convert_to_tensor(probe)
    with tf.GradientTape() as tape:
        tape.watch(probe)
        score, aux = fn(probe)
    return aux, tape.gradient(score, probe)


def _jax_gradient(fn, probe):
    import jax

    (_, aux), gradient = jax.value_and_grad(fn, has_aux=True)(jax.numpy.asarray(probe))
    return aux, gradient


def _torch_gradient(fn, probe):
    import torch

    probe = ops.convert_to_tensor(probe).requires_grad_(True)
    score, aux = fn(probe)
    (gradient,) = torch.autograd.grad(score, probe)
    return aux, gradient


# backend -> gradient(fn, probe) -> ((feature_map, output), d score / d probe),
# where fn(probe) -> (score, (feature_map, output)).
GRADIENTS = {"tensorflow": _tensorflow_gradient, "jax": _jax_gradient, "torch": _torch_gradient}


def _one_image(image):
    x = np.asarray(ops.convert_to_numpy(image), dtype="float32")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(
            f"Grad-CAM explains one image (height, width, channels) or a batch "
            f"of one; got shape {x.shape}."
        )
    return x


def explain(
    model: keras.Model, image: np.ndarray, class_index: int | None = None, layer: str | None = None
) -> Explanation:
    """Grad-CAM of one image: the heatmap, the class explained, its score, the layer.

    Args:
        model: a `keras.Model` (nested backbones, as from `finetune`, are searched).
        image: one image `(height, width, channels)` or `(1, height, width,
            channels)`, as the model takes it (preprocessed, unless the model
            was built with `include_preprocessing=True`).
        class_index: the class to explain; `None` explains the top class.
        layer: the layer to explain (by name); `None` takes the last layer
            with a 4D output after the first convolution (`find_layer`).

    Returns:
        An `Explanation`.

    Example:
        >>> result = explain(model, x)
        >>> result.class_index, result.layer, result.heatmap.shape
        (386, 'relu', (7, 7))
    """
    backend = keras.backend.backend()
    if backend not in GRADIENTS:
        raise ValueError(
            f"Grad-CAM runs on the {', '.join(GRADIENTS)} backends; the backend is {backend!r}."
        )
    x = _one_image(image)
    path = find_layer(model, layer)
    probed, probe, logits = _probed(model, path, x.shape)
    classes = probed.outputs[1].shape[-1]
    if class_index is not None and (
        isinstance(class_index, bool)
        or not isinstance(class_index, (int, np.integer))
        or not 0 <= class_index < classes
    ):
        raise ValueError(
            f"class_index must be an integer from 0 to {classes - 1}; got {class_index!r}."
        )
    inputs = ops.convert_to_tensor(x)
    trainable = [v.value for v in probed.trainable_variables]
    others = list(probed.non_trainable_variables)
    at = next(i for i, v in enumerate(others) if v is probe.offset)
    values = [v.value for v in others]

    def score(offset):
        state = values[:at] + [offset] + values[at + 1 :]
        (feature_map, output), _ = probed.stateless_call(trainable, state, inputs, training=False)
        chosen = ops.max(output[0]) if class_index is None else output[0, class_index]
        return chosen, (feature_map, output)

    offset = np.zeros(probe.offset.shape, "float32")
    (feature_map, output), gradient = GRADIENTS[backend](score, offset)
    feature_map = ops.convert_to_numpy(feature_map)[0]
    gradient = ops.convert_to_numpy(gradient)[0]
    output = ops.convert_to_numpy(output)[0]
    chosen = int(np.argmax(output)) if class_index is None else int(class_index)
    heatmap = np.maximum(np.tensordot(feature_map, gradient.mean(axis=(0, 1)), axes=1), 0)
    peak = heatmap.max()
    heatmap = (heatmap / peak if peak > 0 else heatmap).astype("float32")
    scores = ops.convert_to_numpy(ops.softmax(output)) if logits else output
    return Explanation(heatmap, chosen, float(scores[chosen]), path[-1].name)


def gradcam(
    model: keras.Model, image: np.ndarray, class_index: int | None = None, layer: str | None = None
) -> np.ndarray:
    """The Grad-CAM heatmap of one image.

    Args:
        model: as in `explain`.
        image: as in `explain`.
        class_index: as in `explain`.
        layer: as in `explain`.

    Returns:
        A float32 array `(height, width)` in [0, 1] at the explained layer's
        resolution (zeros where nothing speaks for the class).

    Example:
        >>> heatmap = gradcam(model, x, class_index=386)
    """
    return explain(model, image, class_index, layer).heatmap


def overlay(pixels: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The image with the heatmap (jet colours) blended over it.

    Args:
        pixels: RGB uint8 `(height, width, 3)`.
        heatmap: `(h, w)` in [0, 1]; resized bilinearly to the image.
        alpha: the heatmap's weight.

    Returns:
        An RGB uint8 array of the image's size.
    """
    from matplotlib import colormaps
    from PIL import Image

    pixels = np.asarray(pixels, "float32")
    height, width = pixels.shape[:2]
    resized = Image.fromarray(np.asarray(heatmap, "float32"), mode="F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    colours = colormaps["jet"](np.clip(np.asarray(resized), 0, 1))[..., :3] * 255.0
    return np.clip((1 - alpha) * pixels + alpha * colours, 0, 255).round().astype("uint8")
