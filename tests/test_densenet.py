"""DenseNet: paper parameter counts, configurations, argument checks.

The keras.applications twins are in test_twins.py.
"""

import inspect

import keras
import numpy as np
import pytest

import keras_dense
from keras_dense.models import densenet


@pytest.mark.parametrize(
    "name, paper_millions",
    [
        ("densenet_40_k12", 1.0),
        ("densenet_bc_100_k12", 0.8),
        ("densenet_bc_250_k24", 15.3),
        ("densenet_bc_190_k40", 25.6),
    ],
)
def test_cifar_parameter_counts_agree_with_the_paper(name, paper_millions):
    # The paper counts what Torch counts: trainable parameters (BN moving
    # statistics excluded), printed to one decimal. 0.8M is 769,162 rounded,
    # 3.9% above the exact count; the Keras total (with moving statistics)
    # is given in the model record and checked in test_models.py.
    model = keras_dense.get_model(name)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert round(trainable / 1e6, 1) == paper_millions
    assert abs(trainable / 1e6 - paper_millions) / paper_millions <= 0.04
    total = keras_dense.model_record(name).params
    assert abs(total / 1e6 - paper_millions) / paper_millions <= 0.04
    keras.backend.clear_session()


def test_cifar_config_follows_the_paper():
    bc100 = keras_dense.model_record("densenet_bc_100_k12").config
    assert bc100.blocks == (16, 16, 16) and bc100.reduction == 0.5 and bc100.stem_filters == 24
    plain40 = keras_dense.model_record("densenet_40_k12").config
    assert plain40.blocks == (12, 12, 12) and not plain40.bottleneck
    assert plain40.reduction == 1.0 and plain40.stem_filters == 16


def test_densenet121_cifar_has_the_notes_head():
    model = keras_dense.get_model("densenet121_cifar")
    assert model.input_shape == (None, 32, 32, 3)
    assert model.get_layer("fc1").units == 256 and model.get_layer("fc2").units == 128
    assert model.get_layer("fc1_drop").rate == 0.5
    assert model.get_layer("conv1_conv").kernel_size == (7, 7)
    assert model.get_layer("pool1").pool_size == (3, 3)
    assert model.output_shape == (None, 10)


def test_builder_arguments_change_the_architecture():
    model = densenet.DenseNetCIFAR(depth=40, growth_rate=6, bottleneck=False, dropout_rate=0.2)
    assert model.get_layer("conv2_block1_2_conv").filters == 6
    assert model.get_layer("conv2_block1_2_drop").rate == 0.2
    assert "conv2_block1_1_conv" not in [layer.name for layer in model.layers]
    bc = densenet.DenseNetCIFAR(depth=40, growth_rate=6, reduction=0.25)
    # stem 12 + 6 layers x 6 = 48 channels, compressed by 0.25
    assert bc.get_layer("pool2_conv").filters == 12


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"growth_rate": 0}, "growth_rate must be a positive integer"),
        ({"growth_rate": -4}, "growth_rate must be a positive integer"),
        ({"reduction": 0.0}, r"reduction \(compression\) must be in \(0, 1\]"),
        ({"reduction": 1.5}, r"reduction \(compression\) must be in \(0, 1\]"),
        ({"dropout_rate": 1.0}, r"dropout_rate must be in \[0, 1\)"),
        ({"depth": 41}, "depth must be 3\\*2\\*n \\+ 4"),
        ({"pooling": "sum", "include_top": False}, "pooling must be None, 'avg' or 'max'"),
        ({"input_shape": (4, 4, 3)}, "Input size must be at least 8x8"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        densenet.DenseNetCIFAR(**kwargs)


def test_imagenet_input_checks_match_keras():
    with pytest.raises(ValueError, match="at least 32x32"):
        densenet.DenseNet121(include_top=False, input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match="must have 3 channels"):
        densenet.DenseNet121(weights="imagenet", include_top=False, input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match="input_shape` should be \\(224, 224, 3\\)"):
        densenet.DenseNet121(weights="imagenet", input_shape=(128, 128, 3))
    with pytest.raises(ValueError, match="1000-class classifier"):
        densenet.DenseNet121(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="classifier_activation"):
        densenet.DenseNet121(weights="imagenet", classifier_activation="sigmoid")


def test_include_top_false_feature_shapes():
    model = densenet.DenseNet121(include_top=False, input_shape=(64, 96, 3))
    assert model.output_shape == (None, 2, 3, 1024)
    flexible = densenet.DenseNet121(include_top=False)
    assert flexible.input_shape == (None, None, None, 3)


def test_input_tensor_is_used_as_the_model_input():
    inputs = keras.Input((32, 32, 3), name="my_input")
    model = densenet.DenseNet121(
        input_tensor=inputs, include_top=False, blocks=(1, 1, 1, 1), growth_rate=4
    )
    assert model.inputs[0] is inputs


def test_classifier_runs_in_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = densenet.DenseNet121(
            input_shape=(32, 32, 3), classes=7, blocks=(1, 1, 1, 1), growth_rate=4
        )
        assert model.get_layer("conv1_conv").compute_dtype == "float16"
        probs = model(np.random.default_rng(0).uniform(size=(3, 32, 32, 3)).astype("float32"))
        assert keras.backend.standardize_dtype(probs.dtype) == "float32"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(probs).sum(axis=1), 1.0, rtol=1e-6)
    finally:
        keras.config.set_dtype_policy(previous)


def test_unknown_model_name_lists_close_matches():
    with pytest.raises(ValueError, match="Did you mean: densenet121"):
        keras_dense.get_model("densenet12")


@pytest.mark.parametrize("name", ["densenet121", "densenet_bc_100_k12", "resnet20", "vgg11"])
def test_unknown_architecture_option_is_one_clear_error(name):
    with pytest.raises(ValueError, match="Unknown argument 'growthrate'.*architecture options"):
        keras_dense.get_model(name, growthrate=4)


def test_general_builder_loads_the_weights_of_the_model_its_blocks_describe():
    with pytest.raises(ValueError, match="densenet121.keras_imagenet weights have a 1000-class"):
        densenet.DenseNet([6, 12, 24, 16], weights="imagenet", classes=10, name="DenseNet")
    with pytest.raises(ValueError, match="no published weights fit this densenet architecture"):
        densenet.DenseNet([1, 2, 3, 4], weights="imagenet")


def test_linear_head_dropout_is_applied():
    model = keras_dense.get_model(
        "densenet_bc_100_k12", head_dropout=0.3, blocks=(1, 1, 1), growth_rate=4
    )
    assert model.get_layer("top_dropout").rate == 0.3
    notes = keras_dense.get_model(
        "densenet121_cifar", head_dropout=0.2, blocks=(1, 1, 1, 1), growth_rate=4
    )
    assert notes.get_layer("fc1_drop").rate == 0.2 and notes.get_layer("fc2_drop").rate == 0.2


# --- dense_resnet: the notes' ResNet whose stages are dense blocks ----------------------


def _layers_per_block(model):
    names = [layer.name for layer in model.layers]
    return tuple(
        sum(1 for n in names if n.startswith(f"conv{stage}_block") and n.endswith("_concat"))
        for stage in (2, 3, 4, 5)
    )


def test_dense_resnet_follows_the_notes():
    model = keras_dense.get_model("dense_resnet")
    assert keras_dense.model_record("dense_resnet").family == "densenet"
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 10)
    stem = model.get_layer("conv1_conv")
    assert stem.filters == 16 and stem.kernel_size == (3, 3) and stem.strides == (1, 1)
    assert model.get_layer("conv1_bn") and model.get_layer("conv1_relu")
    assert _layers_per_block(model) == (6, 12, 24, 16)
    # three transitions halve 32x32 to 4x4; no residual additions remain
    assert model.get_layer("relu").output.shape[1:3] == (4, 4)
    assert not any(isinstance(layer, keras.layers.Add) for layer in model.layers)


def test_dense_resnet_arguments_change_the_architecture():
    model = densenet.DenseResNet(
        blocks=(2, 1, 3), growth_rate=6, init_filters=8, reduction=0.25, classes=3, dropout_rate=0.1
    )
    assert _layers_per_block(model) == (2, 1, 3, 0)
    assert model.get_layer("conv2_block1_2_conv").filters == 6
    assert model.get_layer("pool2_conv").filters == (8 + 2 * 6) // 4
    assert model.get_layer("conv2_block1_2_drop").rate == 0.1
    assert model.output_shape == (None, 3)


def test_dense_resnet_is_memory_efficient_too():
    kwargs = dict(blocks=(2, 1, 1, 1), growth_rate=4, input_shape=(16, 16, 3))
    keras.utils.set_random_seed(0)
    plain = densenet.DenseResNet(**kwargs)
    lean = densenet.DenseResNet(memory_efficient=True, **kwargs)
    assert any("recompute" in layer.name for layer in lean.layers)
    lean.set_weights(plain.get_weights())
    x = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(lean(x)), keras.ops.convert_to_numpy(plain(x)), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blocks": ()}, "blocks must be positive integers"),
        ({"growth_rate": 0}, "growth_rate must be a positive integer"),
        ({"init_filters": -1}, "init_filters must be a positive integer"),
        ({"reduction": 0}, r"reduction \(compression\) must be in \(0, 1\]"),
        ({"dropout_rate": 1.0}, r"dropout_rate must be in \[0, 1\)"),
        (
            {"weights": "imagenet"},
            "dense_resnet cannot load weights='imagenet': dense_resnet has no published weights",
        ),
        ({"input_shape": (4, 4, 3)}, "Input size must be at least 8x8"),
    ],
)
def test_dense_resnet_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        densenet.DenseResNet(**kwargs)


def test_builders_take_keras_applications_positional_arguments():
    model = densenet.DenseNet121(
        False, None, None, (64, 64, 3), "avg", blocks=(1, 1, 1, 1), growth_rate=4
    )
    assert model.output_shape == (None, 8)  # stem 2k = 8, +4 per block, halved between
    with pytest.raises(TypeError, match="multiple values for argument 'include_top'"):
        densenet.DenseNet121(False, include_top=True)
    assert list(inspect.signature(densenet.DenseNet121).parameters)[:2] == [
        "include_top",
        "weights",
    ]
