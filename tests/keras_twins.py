"""Helpers of the keras.applications equivalence tests: real images, random weights."""

import numpy as np
from conftest import shared_path
from PIL import Image


def real_images(size):
    """Four real photos (two elephants, two ImageNet samples) as a float32 batch."""
    folder = shared_path("images")
    paths = [folder / "elephant.jpg", folder / "elephant2.jpg"]
    paths += sorted((folder / "imagenet-samples").glob("*.JPEG"))[:2]
    return np.stack(
        [
            np.asarray(Image.open(p).convert("RGB").resize((size, size)), dtype="float32")
            for p in paths
        ]
    )


def randomize_weights(model, seed=0, gamma_range=(0.6, 1.0), variance_range=(0.5, 1.5)):
    """Randomises biases and batch-norm parameters and statistics, so every layer matters.

    Kernels keep their (random) initial values. `gamma_range` bounds the BN
    scales: chosen so that the deep twins' softmax outputs neither vanish to
    uniform nor saturate, and differ from image to image.
    """
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        value = np.asarray(w.numpy(), dtype="float32")
        if "moving_variance" in w.path:
            value = rng.uniform(*variance_range, w.shape)
        elif "moving_mean" in w.path:
            value = rng.normal(0.0, 0.1, w.shape)
        elif "gamma" in w.path:
            value = rng.uniform(*gamma_range, w.shape)
        elif "beta" in w.path or "bias" in w.path:
            value = rng.normal(0.0, 0.05, w.shape)
        values.append(value.astype("float32"))
    model.set_weights(values)


def layer_signature(model, with_names=True):
    """`(name, class, weight shapes)` of every layer except inputs and zero padding."""
    return [
        ((layer.name,) if with_names else ())
        + (type(layer).__name__, [tuple(w.shape) for w in layer.weights])
        for layer in model.layers
        if type(layer).__name__ not in ("ZeroPadding2D", "InputLayer")
    ]
