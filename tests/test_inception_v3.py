"""Inception v3: keras.applications equivalence, its blocks, argument checks."""

import numpy as np
import pytest

import keras

import keras_dense
from keras_dense.models import inception_v3
from keras_twins import layer_signature, randomize_weights, real_images
from model_table import KERAS_APPLICATIONS_ORDER_TWINS

# The layers Keras names explicitly; every other Keras name is auto-numbered.
KERAS_NAMED = ("mixed", "avg_pool", "predictions")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERAS_APPLICATIONS_ORDER_TWINS))
@pytest.mark.parametrize("include_top", [True, False])
def test_same_layer_order_shapes_and_explicit_names_as_keras_applications(name, include_top):
    ours = keras_dense.get_model(name, include_top=include_top)
    theirs = getattr(keras.applications, KERAS_APPLICATIONS_ORDER_TWINS[name])(
        weights=None, include_top=include_top
    )
    assert layer_signature(ours, with_names=False) == layer_signature(theirs, with_names=False)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    named = [(a.name, b.name) for a, b in zip(ours.layers, theirs.layers)
             if b.name.startswith(KERAS_NAMED)]
    assert len(named) >= 13 and all(a == b for a, b in named)
    keras.backend.clear_session()


@pytest.mark.slow
def test_outputs_match_keras_applications_with_identical_weights():
    images = keras.applications.inception_v3.preprocess_input(real_images(299))
    keras.utils.set_random_seed(0)
    theirs = keras.applications.InceptionV3(weights=None)
    # BN without scale: the moving variances set the gain of this deep network
    randomize_weights(theirs, variance_range=(0.3, 0.85))
    ours = keras_dense.get_model("inception_v3")
    ours.set_weights(theirs.get_weights())
    expected = keras.ops.convert_to_numpy(theirs(images, training=False))
    got = keras.ops.convert_to_numpy(ours(images, training=False))
    assert got.shape == (len(images), 1000)
    assert np.abs(expected[0] - expected[-1]).max() > 1e-4  # image-dependent outputs
    assert expected.max() < 0.5  # not saturated
    np.testing.assert_allclose(got, expected, atol=1e-5)
    keras.backend.clear_session()


def test_blocks_give_the_papers_grid_sizes_and_channels():
    x = keras.Input((35, 35, 192))
    a = inception_v3.inception_a(x, 32, "mixed0")
    assert a.shape == (None, 35, 35, 256)
    r = inception_v3.reduction_a(inception_v3.inception_a(a, 64, "mixed1"), "mixed3")
    assert r.shape == (None, 17, 17, 768)
    b = inception_v3.inception_b(r, 128, "mixed4")
    assert b.shape == (None, 17, 17, 768)
    r = inception_v3.reduction_b(b, "mixed8")
    assert r.shape == (None, 8, 8, 1280)
    c = inception_v3.inception_c(r, "mixed9", split_name="mixed9_0")
    assert c.shape == (None, 8, 8, 2048)


def test_17x17_blocks_use_factorised_convolutions():
    model = inception_v3.InceptionV3(include_top=False, input_shape=(75, 75, 3), width=0.125)
    assert model.get_layer("mixed4_7x7_2_conv").kernel_size == (1, 7)
    assert model.get_layer("mixed4_7x7_3_conv").kernel_size == (7, 1)
    assert model.get_layer("mixed9_3x3_2a_conv").kernel_size == (1, 3)
    assert model.get_layer("mixed9_3x3_2b_conv").kernel_size == (3, 1)
    assert model.get_layer("mixed4_7x7_1_conv").filters == 16  # 128 x 0.125


def test_fewer_blocks_keep_keras_numbering():
    model = inception_v3.InceptionV3(
        input_shape=(75, 75, 3), width=0.0625, blocks=(1, 2, 1), classes=4
    )
    mixed = [layer.name for layer in model.layers
             if layer.name.startswith("mixed") and "_" not in layer.name]
    assert mixed == ["mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5"]
    # mixed0: 35x35, mixed1: reduction, mixed2-3: 17x17, mixed4: reduction, mixed5: 8x8
    assert model.get_layer("mixed2_7x7_1_conv").filters == 8  # first 17x17 block: 128
    assert model.get_layer("mixed3_7x7_1_conv").filters == 12  # the last one keeps 192
    assert "mixed5_0" in [layer.name for layer in model.layers]


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 0}, "width must be a positive channel multiplier"),
    ({"blocks": (3, 5, 2)}, "blocks must be 3 counts"),
    ({"blocks": (0, 1, 1)}, "blocks must be 3 counts"),
    ({"weights": "imagenet", "width": 0.5}, "fits only the published architecture, and width was changed"),
    ({"include_top": False, "input_shape": (74, 74, 3)}, "at least 75x75"),
    ({"weights": "imagenet", "classes": 10}, "1000-class classifier"),
])
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        inception_v3.InceptionV3(**kwargs)


def test_registry_metadata():
    entry = keras_dense.model_record("inception_v3")
    assert entry.family == "inception" and entry.preprocess == "tf"
    assert entry.default_weights.name == "inception_v3.keras_imagenet"
    assert entry.input_shape == (299, 299, 3)
