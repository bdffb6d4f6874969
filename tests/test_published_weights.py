"""Every family with published Keras weights loads them through the one loader.

For one model of each family (DenseNet, VGG, ResNet, Inception) a file of the
published Keras 2 layout is written from `keras.applications` with random
weights, placed under its published name in `$KERAS_DENSE_WEIGHTS`, and the
record's md5 is pointed at it (no published file can be downloaded here).
Then `weights="imagenet"` resolves, verifies and loads it, and our model gives
keras.applications' outputs; `finetune(..., weights="imagenet")` starts from it.
"""

import h5_fixtures
import keras
import numpy as np
import pytest
from conftest import shared_path
from model_table import KERAS_APPLICATIONS_ORDER_TWINS, KERAS_APPLICATIONS_TWINS

import keras_dense
from keras_dense.imagenet.preprocessing import preprocess_input

TWINS = {**KERAS_APPLICATIONS_TWINS, **KERAS_APPLICATIONS_ORDER_TWINS}
# One per family; the no-top files keep the fixtures small (VGG16's top alone is 480 MB).
FAMILY_REPRESENTATIVES = ["densenet121", "vgg16", "resnet50", "inception_v3"]
INPUT_SIZE = 96  # any size >= 75 suits all four without their tops


def _images():
    from PIL import Image

    folder = shared_path("images", "imagenet-samples")
    paths = sorted(folder.glob("*.JPEG"))[:3]
    return np.stack(
        [
            np.asarray(Image.open(p).convert("RGB").resize((INPUT_SIZE, INPUT_SIZE)), "float32")
            for p in paths
        ]
    )


@pytest.fixture
def published_notop_file(tmp_path, monkeypatch, request):
    """Writes `name`'s no-top file from keras.applications; returns (reference model)."""
    name = request.param
    reference = getattr(keras.applications, TWINS[name])(
        weights=None, include_top=False, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
    )
    h5_fixtures.randomize(reference, seed=1)
    h5_fixtures.publish_stand_in(
        monkeypatch, tmp_path, reference, f"{name}.keras_imagenet", include_top=False
    )
    return name, reference


@pytest.mark.slow
@pytest.mark.parametrize("published_notop_file", FAMILY_REPRESENTATIVES, indirect=True)
def test_imagenet_weights_load_and_match_keras_applications(published_notop_file):
    name, reference = published_notop_file
    x = preprocess_input(_images(), mode=keras_dense.model_record(name).preprocess)
    ours = keras_dense.get_model(
        name, weights="imagenet", include_top=False, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
    )
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    assert np.abs(expected[0] - expected[1]).max() > 1e-3  # the images are told apart
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())

    tuned = keras_dense.finetune(
        name, classes=3, weights="imagenet", input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
    )
    backbone = tuned.get_layer(name)
    for ours_w, ref_w in zip(backbone.weights, reference.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours_w), keras.ops.convert_to_numpy(ref_w)
        )
    assert tuned.output_shape == (None, 3)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_published_models_know_their_preprocessing(name):
    record = keras_dense.model_record(name)
    expected_mode = {
        "densenet121": "torch",
        "vgg16": "caffe",
        "resnet50": "caffe",
        "inception_v3": "tf",
    }[name]
    assert record.preprocess == expected_mode == record.weights_record("keras_imagenet").preprocess
