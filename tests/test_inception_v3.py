"""Inception v3: its blocks and argument checks (the keras.applications twin: test_twins.py)."""

import keras
import pytest

import keras_dense
from keras_dense.models import inception_v3


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
    mixed = [
        layer.name
        for layer in model.layers
        if layer.name.startswith("mixed") and "_" not in layer.name
    ]
    assert mixed == ["mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5"]
    # mixed0: 35x35, mixed1: reduction, mixed2-3: 17x17, mixed4: reduction, mixed5: 8x8
    assert model.get_layer("mixed2_7x7_1_conv").filters == 8  # first 17x17 block: 128
    assert model.get_layer("mixed3_7x7_1_conv").filters == 12  # the last one keeps 192
    assert "mixed5_0" in [layer.name for layer in model.layers]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"width": 0}, "width must be a positive channel multiplier"),
        ({"blocks": (3, 5, 2)}, "blocks must be 3 counts"),
        ({"blocks": (0, 1, 1)}, "blocks must be 3 counts"),
        (
            {"weights": "imagenet", "width": 0.5},
            "fits only the published architecture, and width was changed",
        ),
        ({"include_top": False, "input_shape": (74, 74, 3)}, "at least 75x75"),
        ({"weights": "imagenet", "classes": 10}, "1000-class classifier"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        inception_v3.InceptionV3(**kwargs)


def test_registry_metadata():
    entry = keras_dense.model_record("inception_v3")
    assert entry.family == "inception_v3" and entry.preprocess == "tf"
    assert entry.default_weights.name == "inception_v3.keras_imagenet"
    assert entry.input_shape == (299, 299, 3)
