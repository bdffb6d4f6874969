"""Every model whose weights Keras publishes is keras.applications' twin: layers, shapes, outputs.

One table drives it (model_table.KERAS_APPLICATIONS_BUILDERS, checked against the
records in test_models.py): the same layers in the same order with the same weight
shapes and names (Inception v3: names only where Keras names a layer), and, for one
model per family, the same outputs on real photos from the same random weights.
"""

import keras
import numpy as np
import pytest
from keras_twins import layer_signature, randomize_weights, real_images
from model_table import KERAS_APPLICATIONS_BUILDERS, ORDER_ONLY_TWINS

import keras_dense

# Inception v3: the layers Keras names explicitly; every other Keras name is auto-numbered.
KERAS_NAMED = ("mixed", "avg_pool", "predictions")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERAS_APPLICATIONS_BUILDERS))
@pytest.mark.parametrize("include_top", [True, False])
def test_same_layers_order_and_shapes_as_keras_applications(name, include_top):
    ours = keras_dense.get_model(name, include_top=include_top)
    theirs = getattr(keras.applications, KERAS_APPLICATIONS_BUILDERS[name])(
        weights=None, include_top=include_top
    )
    with_names = name not in ORDER_ONLY_TWINS
    # Keras leaves its padding layers unnamed; we name them conv1_pad / pool1_pad.
    assert layer_signature(ours, with_names) == layer_signature(theirs, with_names)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    if not with_names:
        named = [
            (a.name, b.name)
            for a, b in zip(ours.layers, theirs.layers)
            if b.name.startswith(KERAS_NAMED)
        ]
        assert len(named) >= 13 and all(a == b for a, b in named)
    keras.backend.clear_session()


def _he_scaled(model, seed=0):
    """He-scaled kernels, small biases: activations keep their range through VGG's 19 layers."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        shape = tuple(w.shape)
        scale = 0.01 if len(shape) == 1 else np.sqrt(2.0 / int(np.prod(shape[:-1])))
        values.append((rng.standard_normal(shape) * scale).astype("float32"))
    model.set_weights(values)


# name -> (input size, how to randomise keras.applications' model so outputs are informative)
OUTPUT_CASES = {
    "densenet169": (224, lambda m: randomize_weights(m, gamma_range=(0.5, 1.5))),
    "resnet50": (224, lambda m: randomize_weights(m, gamma_range=(0.6, 1.0))),
    "vgg16": (224, _he_scaled),
    "vgg19": (224, _he_scaled),
    # BN without scale: the moving variances set the gain of this deep network
    "inception_v3": (299, lambda m: randomize_weights(m, variance_range=(0.3, 0.85))),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OUTPUT_CASES))
def test_outputs_match_keras_applications_with_identical_weights(name):
    size, randomize = OUTPUT_CASES[name]
    record = keras_dense.model_record(name)
    images = keras_dense.imagenet.preprocess_input(real_images(size), mode=record.preprocess)
    keras.utils.set_random_seed(0)
    theirs = getattr(keras.applications, KERAS_APPLICATIONS_BUILDERS[name])(
        weights=None, classifier_activation=None
    )
    randomize(theirs)
    ours = keras_dense.get_model(name, classifier_activation=None)
    ours.set_weights(theirs.get_weights())
    expected = keras.ops.convert_to_numpy(theirs(images, training=False))
    got = keras.ops.convert_to_numpy(ours(images, training=False))
    assert got.shape == (len(images), 1000)
    # The logits must differ across images, else the comparison would prove nothing.
    assert np.abs(expected[0] - expected[-1]).max() > 1e-4
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.softmax(got)),
        keras.ops.convert_to_numpy(keras.ops.softmax(expected)),
        atol=1e-5,
    )
    keras.backend.clear_session()
