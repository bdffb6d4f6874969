"""The MAC/FLOP counter against hand counts and the published DenseNet figures."""

import keras
import pytest
from keras import layers

import keras_dense


def test_hand_counted_small_model():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", name="c1")(inputs)  # 8*8*4*3*3*3
    x = layers.Conv2D(6, 1, strides=2, name="c2")(x)  # 4*4*6*4
    x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)  # 4*4*6*9
    x = layers.Conv2D(6, 3, groups=2, padding="same", name="g")(x)  # 4*4*6*3*3*3
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, name="fc")(x)  # 6*10
    model = keras.Model(inputs, outputs)
    expected = 8 * 8 * 4 * 27 + 4 * 4 * 6 * 4 + 4 * 4 * 6 * 9 + 4 * 4 * 6 * 27 + 60
    assert keras_dense.count_macs(model) == expected
    assert keras_dense.count_flops(model) == 2 * expected
    per_layer = {name: macs for name, _, macs in keras_dense.analysis.layer_macs(model)}
    assert per_layer["c1"] == 8 * 8 * 4 * 27 and per_layer["fc"] == 60


def test_nested_models_are_expanded():
    inner = keras.Sequential(
        [keras.Input((4, 4, 2)), layers.Conv2D(3, 1, name="inner_conv")], name="backbone"
    )
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, layers.Flatten()(inner(inputs)))
    rows = keras_dense.analysis.layer_macs(model)
    assert ("backbone/inner_conv", "Conv2D", 4 * 4 * 3 * 2) in rows


def test_unknown_input_size_is_reported():
    model = keras_dense.get_model(
        "densenet_bc_100_k12", include_top=False, input_shape=(None, None, 3), blocks=(1, 1, 1)
    )
    with pytest.raises(ValueError, match="fixed input_shape"):
        keras_dense.count_macs(model)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, gmacs", [("densenet121", 2.83), ("densenet169", 3.36), ("densenet201", 4.29)]
)
def test_densenet_macs_match_the_published_figures(name, gmacs):
    model = keras_dense.get_model(name)
    assert round(keras_dense.count_macs(model) / 1e9, 2) == gmacs
