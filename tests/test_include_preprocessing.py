"""include_preprocessing=True: the model takes RGB 0-255 and applies its weights' mode itself."""

import keras
import numpy as np
import pytest

import keras_dense
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.imagenet.preprocessing_layer import ImageNetPreprocessing, included_mode
from keras_dense.models import _builder

# name -> (tiny architecture, input side, the mode the layer must apply)
CASES = {
    "densenet121": ({"blocks": (1, 2, 1, 1), "growth_rate": 4}, 32, "torch"),
    "vgg16": ({"width": 1 / 16, "fc_units": 8}, 32, "caffe"),
    "resnet50": ({"depths": (1, 1, 1, 1), "widths": (4, 4, 8, 8), "stem_filters": 4}, 32, "caffe"),
    "inception_v3": ({"width": 1 / 16, "blocks": (1, 1, 1)}, 75, "tf"),
    # no published weights: torchvision's layouts, torchvision's preprocessing
    "resnet18": ({"depths": (1, 1, 1, 1), "widths": (4, 4, 8, 8), "stem_filters": 4}, 32, "torch"),
    "googlenet": ({"width": 1 / 8}, 32, "torch"),
    "alexnet": ({"width": 1 / 8, "fc_units": 8}, 64, "torch"),
}


def _pixels(side, count=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, side, side, 3)).astype("float32")


@pytest.mark.parametrize("name", list(CASES))
def test_inside_equals_outside_preprocessing(name):
    arch, side, mode = CASES[name]
    shape = (side, side, 3)
    inside = keras_dense.get_model(
        name, include_preprocessing=True, input_shape=shape, classes=5, **arch
    )
    outside = keras_dense.get_model(name, input_shape=shape, classes=5, **arch)
    outside.set_weights(inside.get_weights())
    assert included_mode(inside) == mode and included_mode(outside) is None
    x = _pixels(side)
    np.testing.assert_allclose(
        inside.predict_on_batch(x),
        outside.predict_on_batch(preprocess_input(x, mode=mode)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_the_mode_follows_the_weights_asked_for_or_the_argument():
    record = keras_dense.model_record("resnet50")
    tagged = record.weights_record("keras_imagenet")
    assert _builder.preprocessing_mode(True, tagged, record.config, record) == "caffe"
    assert _builder.preprocessing_mode(True, None, record.config, record) == "caffe"
    assert _builder.preprocessing_mode("tf", tagged, record.config, record) == "tf"
    assert _builder.preprocessing_mode(False, tagged, record.config, record) is None
    # a general builder finds the record whose weights fit its config
    assert (
        _builder.preprocessing_mode(True, None, keras_dense.model_record("densenet169").config)
        == "torch"
    )
    with pytest.raises(
        ValueError,
        match="include_preprocessing must be True, False or one of caffe, tf, torch; got 'yes'",
    ):
        keras_dense.get_model("densenet121", include_preprocessing="yes")


def test_survives_keras_save_and_reload_and_export(tmp_path):
    arch, side, _ = CASES["densenet121"]
    model = keras_dense.get_model(
        "densenet121", include_preprocessing="caffe", input_shape=(side, side, 3), classes=5, **arch
    )
    x = _pixels(side, seed=1)
    expected = model.predict_on_batch(x)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(reloaded.get_layer("preprocessing"), ImageNetPreprocessing)
    assert reloaded.get_layer("preprocessing").mode == "caffe"
    np.testing.assert_allclose(reloaded.predict_on_batch(x), expected, rtol=1e-5, atol=1e-6)
    if keras.backend.backend() != "tensorflow":
        pytest.skip(
            f"model.export writes a TensorFlow SavedModel; the backend is {keras.backend.backend()}"
        )
    import tensorflow as tf

    model.export(tmp_path / "saved", verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "saved"))  # held: serve needs its variables
    served = exported.serve(x)
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_predict_does_not_preprocess_twice():
    arch, side, _ = CASES["densenet121"]
    inside = keras_dense.get_model(
        "densenet121", include_preprocessing=True, input_shape=(side, side, 3), **arch
    )
    outside = keras_dense.get_model("densenet121", input_shape=(side, side, 3), **arch)
    outside.set_weights(inside.get_weights())
    x = _pixels(side, seed=2)
    ours = keras_dense.predict(x, model=inside, top=3)
    theirs = keras_dense.predict(x, model=outside, top=3)
    assert [[label for _, label, _ in row] for row in ours] == [
        [label for _, label, _ in row] for row in theirs
    ]
    np.testing.assert_allclose(
        [[p for *_, p in row] for row in ours],
        [[p for *_, p in row] for row in theirs],
        rtol=1e-5,
        atol=1e-6,
    )
