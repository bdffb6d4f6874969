"""keras_dense.finetune: a frozen (or partly frozen) backbone with a new head."""

import keras
import numpy as np
import pytest
from keras import layers

import keras_dense

# A tiny VGG11-BN backbone: batch norm makes the inference-mode check meaningful.
TINY = {"width": 1 / 16}
INPUT_SHAPE = (32, 32, 3)


def _finetune(**kwargs):
    keras.utils.set_random_seed(0)
    return keras_dense.finetune(
        "vgg11_bn", **{"classes": 3, "weights": None, "input_shape": INPUT_SHAPE, **TINY, **kwargs}
    )


def _snapshot(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def _train(model, steps=3):
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    # Inputs far from the BN initial statistics (mean 0, var 1), so a BN layer
    # in training mode would move its moving mean and variance visibly.
    x = rng.uniform(2.0, 6.0, (8,) + INPUT_SHAPE).astype("float32")
    y = np.arange(8) % 3
    model.fit(x, y, epochs=steps, batch_size=8, verbose=0)


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def test_frozen_backbone_is_unchanged_and_the_head_learns():
    model = _finetune()
    backbone = model.get_layer("vgg11_bn")
    assert not backbone.trainable
    assert [w.path for w in model.trainable_weights] == ["predictions/kernel", "predictions/bias"]
    before = _snapshot(backbone)
    head_before = _snapshot(model.get_layer("predictions"))
    _train(model)
    assert _changed(before, _snapshot(backbone)) == set()  # BN moving statistics included
    assert any("moving_mean" in path for path in before)
    assert _changed(head_before, _snapshot(model.get_layer("predictions"))) == {
        "predictions/kernel",
        "predictions/bias",
    }


def test_trailing_layers_train_while_batch_norm_stays_in_inference_mode():
    model = _finetune(freeze=2)
    backbone = model.get_layer("vgg11_bn")
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert trainable == {"block5_conv1", "block5_conv2"}
    before = _snapshot(backbone)
    _train(model)
    changed = _changed(before, _snapshot(backbone))
    assert changed == {
        "block5_conv1/kernel",
        "block5_conv1/bias",
        "block5_conv2/kernel",
        "block5_conv2/bias",
    }


def test_freeze_none_trains_everything_batch_norm_statistics_too():
    model = _finetune(freeze="none")
    backbone = model.get_layer("vgg11_bn")
    before = _snapshot(backbone)
    _train(model)
    changed = _changed(before, _snapshot(backbone))
    assert "block1_conv1/kernel" in changed
    assert "block1_conv1_bn/moving_mean" in changed
    assert "block1_conv1_bn/moving_variance" in changed


def test_backbone_weights_load_from_a_file(tmp_path):
    source = keras_dense.get_model(
        "vgg11_bn", include_top=False, pooling="avg", input_shape=INPUT_SHAPE, **TINY
    )
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    model = _finetune(weights=str(path), dropout=0.3)
    for ours, theirs in zip(model.get_layer("vgg11_bn").weights, source.weights):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )
    assert model.get_layer("head_dropout").rate == 0.3
    assert model.output_shape == (None, 3)


def test_finetuned_model_saves_and_reloads(tmp_path):
    model = _finetune(freeze=1)
    x = np.random.default_rng(0).uniform(size=(2,) + INPUT_SHAPE).astype("float32")
    path = tmp_path / "finetuned.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )
    assert [w.path for w in reloaded.trainable_weights] == [w.path for w in model.trainable_weights]


def test_default_input_shape_is_the_models_own():
    model = keras_dense.finetune("lenet5", classes=4, weights=None)
    assert model.input_shape == (None, 32, 32, 1) and model.output_shape == (None, 4)
    assert isinstance(model.layers[-1], layers.Dense) and model.layers[-1].name == "predictions"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"freeze": "all"}, "freeze must be 'backbone', 'none' or a number"),
        ({"freeze": -1}, "freeze must be 'backbone', 'none' or a number"),
        ({"freeze": True}, "freeze must be 'backbone', 'none' or a number"),
        ({"freeze": 99}, "freeze=99 exceeds the 8 weighted layers of vgg11_bn"),
        ({"classes": 0}, "classes must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _finetune(**kwargs)


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="Unknown model 'vgg17'"):
        keras_dense.finetune("vgg17", weights=None)
