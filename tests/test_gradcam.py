"""Grad-CAM: a known answer, nested (fine-tuned) models, three backends, the explain command."""

import importlib.util
import json
import os
import subprocess
import sys

import h5_fixtures
import keras
import numpy as np
import pytest
from conftest import REPO_ROOT, run_cli, shared_path
from PIL import Image

import keras_dense
from keras_dense.analysis import gradcam

SIDE = 32


def colour_model():
    """Class 0 is "red here", class 1 "green here": each class reads one colour channel.

    A 1x1 convolution computes red-minus-green and green-minus-red (ReLU), a 4x4
    average pooling makes an 8x8 map, and the classifier sums one channel each.
    """
    image = keras.Input((SIDE, SIDE, 3))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="colour")
    x = keras.layers.AveragePooling2D(4, name="pool")(conv(image))
    x = keras.layers.GlobalAveragePooling2D(name="avg")(x)
    dense = keras.layers.Dense(2, activation="softmax", name="predictions")
    model = keras.Model(image, dense(x), name="colours")
    conv.set_weights(
        [
            np.array([[1, -1, 0], [-1, 1, 0]], "float32").T.reshape(1, 1, 3, 2),
            np.zeros(2, "float32"),
        ]
    )
    dense.set_weights([np.eye(2, dtype="float32") * 5, np.zeros(2, "float32")])
    return model


def two_patches():
    """A red patch top-left (brighter, so class 0 wins) and a green patch bottom-right."""
    image = np.zeros((SIDE, SIDE, 3), "float32")
    image[2:10, 2:10, 0] = 1.0
    image[22:30, 22:30, 1] = 0.6
    return image


@pytest.mark.parametrize("nested", [False, True])
def test_the_heatmap_peaks_where_the_class_is_decided(nested):
    model = colour_model()
    if nested:  # the same network as the backbone of a fine-tuned model
        image = keras.Input((SIDE, SIDE, 3))
        model = keras.Model(image, model(image, training=False), name="outer")
    top = gradcam.explain(model, two_patches())
    assert top.class_index == 0 and top.layer == "pool" and top.heatmap.shape == (8, 8)
    assert top.score == pytest.approx(
        keras.ops.convert_to_numpy(model(two_patches()[None]))[0, 0], rel=1e-5
    )
    green = keras_dense.gradcam(model, two_patches(), class_index=1)
    for heatmap, (rows, cols) in (
        (top.heatmap, (slice(0, 3), slice(0, 3))),
        (green, (slice(5, 8), slice(5, 8))),
    ):
        peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        assert rows.start <= peak[0] < rows.stop and cols.start <= peak[1] < cols.stop, heatmap
        outside = heatmap.copy()
        outside[rows, cols] = 0
        assert outside.max() == 0 and heatmap.max() == 1


def finetuned_model():
    model = keras_dense.finetune(
        "densenet121",
        classes=3,
        weights=None,
        input_shape=(128, 128, 3),
        blocks=(1, 2, 1, 1),
        growth_rate=4,
    )
    return h5_fixtures.randomize(model, seed=7, logit_scale=1.0)


def test_a_finetuned_model_is_explained_as_by_hand():
    """The nested backbone's last map, and the heatmap its head implies.

    With global average pooling and a dense classifier, the gradient of logit
    c by the map is kernel[:, c] / (h * w) at every position (CAM's weights).
    """
    model = finetuned_model()
    x = np.random.default_rng(0).normal(size=(1, 128, 128, 3)).astype("float32")
    backbone = model.get_layer("densenet121")
    feature_map = keras.Model(backbone.input, backbone.get_layer("relu").output)(x)
    feature_map = keras.ops.convert_to_numpy(feature_map)[0].astype("float64")
    kernel = model.get_layer("predictions").get_weights()[0]
    cams = np.maximum(np.einsum("hwk,kc->chw", feature_map, kernel / 16.0), 0)
    chosen = int(np.argmax(cams.max(axis=(1, 2))))  # a class with a non-zero map

    result = gradcam.explain(model, x, class_index=chosen)

    assert result.layer == "relu" and result.heatmap.shape == (4, 4)
    np.testing.assert_allclose(result.heatmap, cams[chosen] / cams[chosen].max(), atol=1e-5)


BACKEND_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
import test_gradcam
from keras_dense.analysis import gradcam
x = np.random.default_rng(0).normal(size=(1, 128, 128, 3)).astype("float32")
result = gradcam.explain(test_gradcam.finetuned_model(), x)
print(json.dumps({{"class": result.class_index, "heatmap": result.heatmap.tolist()}}))
"""


def _installed(backend):
    return (
        importlib.util.find_spec(
            {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}[backend]
        )
        is not None
    )


@pytest.mark.parametrize("backend", ["tensorflow", "torch", "jax"])
def test_every_backend_gives_the_same_heatmap(backend):
    if not _installed(backend):
        pytest.skip(f"the {backend} backend is not installed")
    current = keras.backend.backend()
    if backend == current:
        pytest.skip(f"{backend} is this process's backend: the reference")
    x = np.random.default_rng(0).normal(size=(1, 128, 128, 3)).astype("float32")
    reference = gradcam.explain(finetuned_model(), x)
    env = {**os.environ, "KERAS_BACKEND": backend}
    script = BACKEND_SCRIPT.format(tests=str(REPO_ROOT / "tests"))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    assert theirs["class"] == reference.class_index
    np.testing.assert_allclose(theirs["heatmap"], reference.heatmap, atol=1e-4)
    assert reference.heatmap.max() == 1 and reference.heatmap.min() < 0.9  # not flat


def test_bad_requests_are_one_clear_sentence():
    image = keras.Input((8, 8, 3))
    flat = keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(image)), name="mlp")
    with pytest.raises(
        ValueError,
        match="Grad-CAM needs a convolutional feature map, and "
        "model 'mlp' has no convolutional layer",
    ):
        gradcam.gradcam(flat, np.zeros((8, 8, 3)))
    model = colour_model()
    with pytest.raises(ValueError, match="Layer 'avg' does not output a 4D feature map"):
        gradcam.gradcam(model, two_patches(), layer="avg")
    with pytest.raises(ValueError, match="has no layer named 'conv9'"):
        gradcam.gradcam(model, two_patches(), layer="conv9")
    with pytest.raises(ValueError, match="class_index must be an integer from 0 to 1; got 2"):
        gradcam.gradcam(model, two_patches(), class_index=2)
    with pytest.raises(ValueError, match=r"one image .* got shape \(2, 32, 32, 3\)"):
        gradcam.gradcam(model, np.zeros((2, SIDE, SIDE, 3)))


def test_explain_writes_the_overlay_and_names_the_class(tmp_path, capsys):
    from keras_dense.cli import main

    elephant = shared_path("images", "elephant.jpg")
    out = tmp_path / "cam.png"
    result = run_cli(
        "explain",
        str(elephant),
        "--model",
        "densenet121",
        "--weights",
        "none",
        "--class",
        "386",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "class 386 African_elephant (n02504458)" in result.stdout
    assert "layer relu" in result.stdout
    with Image.open(out) as written, Image.open(elephant) as original:
        assert written.size == original.size and written.mode == "RGB"
    assert not list(tmp_path.glob(".*tmp*"))
    assert main(["explain", str(elephant), "--out", str(tmp_path / "cam.txt")]) == 2
    assert (
        "cam.txt has no image extension Pillow can write; use .png or .jpg"
        in capsys.readouterr().err
    )
