"""keras_dense.features: multi-scale feature maps of every ImageNet family.

For one model of each family (tiny configs), the full model's weights are
written as a published-layout `.h5` file and loaded by `features`, as for a
model without its top; the maps must sit at the strides `feature_info` says
and equal the same layers of the full model.
"""

import math

import h5_fixtures
import keras
import numpy as np
import pytest

import keras_dense
from keras_dense.models import feature_maps

# name -> (tiny architecture, input side); the sides let every stride be read off the map size.
FAMILY_CASES = {
    "densenet121": ({"blocks": (1, 2, 1, 1), "growth_rate": 4}, 64),
    "resnet50": ({"depths": (1, 1, 1, 1), "widths": (4, 4, 8, 8), "stem_filters": 4}, 64),
    "vgg16": ({"width": 1 / 16, "fc_units": 8}, 64),
    "googlenet": ({"width": 1 / 8}, 64),
    "alexnet": ({"width": 1 / 8, "fc_units": 8}, 224),
    "inception_v3": ({"width": 1 / 16, "blocks": (1, 1, 1)}, 299),
}
STRIDES = {"alexnet": [4, 8, 16, 32]}  # AlexNet's 11x11/4 stem has no stride-2 map
DEFAULT_STRIDES = [2, 4, 8, 16, 32]


@pytest.mark.parametrize("name", list(FAMILY_CASES))
def test_feature_maps_have_their_strides_and_equal_the_full_models_layers(name, tmp_path):
    arch, side = FAMILY_CASES[name]
    shape = (side, side, 3)
    full = keras_dense.get_model(name, input_shape=shape, classes=5, **arch)
    h5_fixtures.randomize(full, seed=3)
    weights_file = h5_fixtures.write_keras2_h5(full, tmp_path / f"{name}.h5")

    model = keras_dense.features(name, weights=str(weights_file), input_shape=shape, **arch)

    info = model.feature_info
    assert [i.stride for i in info] == STRIDES.get(name, DEFAULT_STRIDES)
    for item, output in zip(info, model.outputs):
        height, width, channels = output.shape[1:]
        assert channels == item.channels
        assert height == width
        assert 2 ** round(math.log2(side / height)) == item.stride, (item, height)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    taps = keras.Model(full.inputs, [full.get_layer(i.layer).output for i in info])
    for ours, theirs, item in zip(model.predict_on_batch(x), taps.predict_on_batch(x), info):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=item.layer)


def test_out_indices_pick_maps_in_order():
    arch, side = FAMILY_CASES["resnet50"]
    model = keras_dense.features(
        "resnet50", out_indices=[4, 1], input_shape=(side, side, 3), **arch
    )
    assert [(i.layer, i.stride) for i in model.feature_info] == [
        ("conv5_block1_out", 32),
        ("conv2_block1_out", 4),
    ]
    assert [tuple(o.shape[1:3]) for o in model.outputs] == [(2, 2), (16, 16)]


def test_published_weights_load_into_the_feature_model(tmp_path, monkeypatch):
    """weights="imagenet" resolves the published no-top file, verifies it and loads it."""
    shape = (64, 64, 3)
    body = keras_dense.get_model("densenet121", include_top=False, input_shape=shape)
    h5_fixtures.randomize(body, seed=4)
    h5_fixtures.publish_stand_in(
        monkeypatch, tmp_path, body, "densenet121.keras_imagenet", include_top=False
    )
    model = keras_dense.features(
        "densenet121", weights="imagenet", out_indices=(1, 4), input_shape=shape
    )
    x = np.random.default_rng(1).normal(size=(1, *shape)).astype("float32")
    expected = keras.Model(
        body.inputs, [body.get_layer("conv2_block6_concat").output, body.output]
    ).predict_on_batch(x)
    for ours, theirs in zip(model.predict_on_batch(x), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert [(i.layer, i.channels, i.stride) for i in model.feature_info] == [
        ("conv2_block6_concat", 256, 4),
        ("relu", 1024, 32),
    ]


def test_bad_requests_are_one_clear_sentence():
    with pytest.raises(
        ValueError,
        match=r"out_indices must be .* 0 \(conv1_relu, stride 2\), "
        r".* 4 \(relu, stride 32\); got \(0, 5\)",
    ):
        keras_dense.features("densenet121", out_indices=(0, 5))
    with pytest.raises(ValueError, match="out_indices repeats an index"):
        keras_dense.features("densenet121", out_indices=(1, 1))
    with pytest.raises(
        ValueError, match="features builds the body without a head; drop include_top, pooling"
    ):
        keras_dense.features("densenet121", include_top=True, pooling="avg")
    with pytest.raises(ValueError, match="The lenet models have no multi-scale feature maps"):
        keras_dense.features("lenet5")


def test_cifar_models_start_at_stride_one():
    assert feature_maps.feature_layers("densenet_bc_100_k12") == [
        ("conv2_block16_concat", 1),
        ("conv3_block16_concat", 2),
        ("relu", 4),
    ]
    assert feature_maps.feature_layers("resnet20", depths=(1, 1, 1)) == [
        ("conv2_block1_out", 1),
        ("conv3_block1_out", 2),
        ("conv4_block1_out", 4),
    ]
