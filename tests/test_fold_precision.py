"""Inference fast paths give the plain model's outputs: BN folding and bfloat16."""

import keras
import numpy as np
import pytest
from conftest import predict_random_densenet121

from keras_dense.inference import fold, precision
from keras_dense.models import densenet


def _randomize_bn_statistics(model, seed=0):
    """Non-trivial BN statistics, so that folding has something to fold."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(0, 0.2, n),
                    rng.normal(0, 0.2, n),
                    rng.uniform(0.5, 2.0, n),
                ]
            )


def _images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype("float32")


def _small_imagenet_densenet(**kw):
    model = densenet.DenseNet([2, 2], growth_rate=8, input_shape=(32, 32, 3), classes=5, **kw)
    _randomize_bn_statistics(model)
    return model


def test_fold_finds_stem_and_bottleneck_pairs_only():
    model = _small_imagenet_densenet()
    pairs = fold.foldable_pairs(model)
    assert ("conv1_conv", "conv1_bn") in pairs
    assert ("conv2_block1_1_conv", "conv2_block1_1_bn") in pairs
    # one stem pair + one per bottleneck layer; pre-activation BNs are not folded
    assert len(pairs) == 1 + 4
    assert all(not bn.endswith("_0_bn") for _, bn in pairs)


def test_folded_model_gives_the_same_outputs():
    model = _small_imagenet_densenet(classifier_activation=None)
    folded = fold.fold_batch_norms(model)
    names = {layer.name for layer in folded.layers}
    assert "conv1_bn" not in names and "conv2_block1_1_bn" in {layer.name for layer in model.layers}
    assert "conv2_block1_1_bn" not in names and "conv2_block1_0_bn" in names
    assert folded.get_layer("conv1_conv").use_bias
    x = _images()
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)
    assert np.abs(expected).max() > 1e-2  # logits, not a degenerate case


def test_fold_does_not_touch_pairs_with_dropout_or_shared_outputs():
    model = densenet.DenseNetCIFAR(depth=16, growth_rate=4, dropout_rate=0.2)
    assert fold.foldable_pairs(model) == []
    assert fold.fold_batch_norms(model) is model


def test_fold_rejects_non_functional_models():
    with pytest.raises(ValueError, match="functional"):
        fold.fold_batch_norms(keras.Sequential([keras.layers.Dense(2)]))


def test_bfloat16_copy_is_close_and_keeps_float32_outputs():
    model = _small_imagenet_densenet()
    fast = precision.cast_model(model, "bfloat16")
    assert fast.get_layer("conv1_conv").compute_dtype == "bfloat16"
    assert fast.get_layer("predictions").compute_dtype == "float32"
    x = _images(8)
    probs = fast.predict(x, verbose=0)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    diff = precision.max_probability_difference(model, fast, x)
    assert 0 < diff < 0.05


def test_precision_is_checked():
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.cast_model(_small_imagenet_densenet(), "float8")
    model = _small_imagenet_densenet()
    assert precision.cast_model(model, "float32") is model


def test_predict_fast_paths_agree_with_plain(tmp_path):
    import keras_dense

    model = densenet.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), name="densenet121")
    _randomize_bn_statistics(model, seed=2)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    plain = keras_dense.predict(pixels, model=model, top=5, fold_bn=False)
    folded = keras_dense.predict(pixels, model=model, top=5)
    bf16 = keras_dense.predict(pixels, model=model, top=5, precision="bfloat16")
    for a, b, c in zip(plain, folded, bf16):
        assert [w for w, _, _ in a] == [w for w, _, _ in b]
        np.testing.assert_allclose([p for *_, p in a], [p for *_, p in b], atol=1e-6)
        np.testing.assert_allclose([p for *_, p in a], [p for *_, p in c], atol=2e-2)
    with pytest.raises(ValueError, match="precision must be one of"):
        keras_dense.predict(pixels, model=model, precision="half")


def test_cli_predict_bfloat16_reports_the_difference(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype("uint8")
    Image.fromarray(pixels).save(tmp_path / "a.png")
    result = predict_random_densenet121(tmp_path / "a.png", "--precision", "bfloat16")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "largest probability difference against float32 on the first 1 images" in (result.stderr)
