"""dense_resnet: a ResNet skeleton whose stages are DenseNet dense blocks."""

import pytest

import keras

import keras_dense
from keras_dense import dense_resnet


def _layers_per_block(model):
    names = [layer.name for layer in model.layers]
    return tuple(
        sum(1 for n in names if n.startswith(f"conv{stage}_block") and n.endswith("_concat"))
        for stage in (2, 3, 4, 5)
    )


def test_default_model_follows_the_notes():
    model = keras_dense.get_model("dense_resnet")
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    stem = model.get_layer("conv1_conv")
    assert stem.filters == 16 and stem.kernel_size == (3, 3) and stem.strides == (1, 1)
    assert _layers_per_block(model) == (6, 12, 24, 16)
    # three transitions halve 32x32 to 4x4; no residual additions remain
    assert model.get_layer("relu").output.shape[1:3] == (4, 4)
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    assert model.count_params() == keras_dense.model_entry("dense_resnet").params


def test_arguments_change_the_architecture():
    model = dense_resnet.DenseResNet(blocks=(2, 1, 3), growth_rate=6, stem_filters=8,
                                     reduction=0.25, classes=3, dropout_rate=0.1)
    assert _layers_per_block(model) == (2, 1, 3, 0)
    assert model.get_layer("conv2_block1_2_conv").filters == 6
    assert model.get_layer("pool2_conv").filters == (8 + 2 * 6) // 4
    assert model.get_layer("conv2_block1_2_drop").rate == 0.1
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"blocks": ()}, "blocks must be positive integers"),
    ({"growth_rate": 0}, "growth_rate must be a positive integer"),
    ({"stem_filters": -1}, "stem_filters must be a positive integer"),
    ({"reduction": 0}, r"reduction \(compression\) must be in \(0, 1\]"),
    ({"dropout_rate": 1.0}, r"dropout_rate must be in \[0, 1\)"),
    ({"weights": "imagenet"}, "dense_resnet has no ImageNet weights"),
    ({"input_shape": (4, 4, 3)}, "Input size must be at least 8x8"),
])
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dense_resnet.DenseResNet(**kwargs)
