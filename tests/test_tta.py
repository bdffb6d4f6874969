"""Test-time augmentation: predict(tta=...), --tta, CIFAR evaluate --tta flip, against by hand."""

import keras
import numpy as np
import pytest
from cifar_samples import TINY_ARCH, TINY_MODEL, write_binary_cifar
from conftest import run_cli, shared_path

import keras_dense
from keras_dense.imagenet import images, tta
from keras_dense.imagenet.preprocessing import preprocess_input

SIDE = 32
ARCH = {"blocks": (1, 2, 1, 1), "growth_rate": 4}


@pytest.fixture(scope="module")
def model():
    """A tiny 1000-class densenet121 (torch preprocessing) with a non-flat softmax."""
    import h5_fixtures

    built = keras_dense.get_model("densenet121", input_shape=(SIDE, SIDE, 3), **ARCH)
    return h5_fixtures.randomize(built, seed=5, logit_scale=2.0)


def _by_hand(model, views):
    return np.mean(
        [model.predict_on_batch(preprocess_input(v, mode="torch")) for v in views], axis=0
    )


def _classes_and_probabilities(top5_rows):
    """Each row's top-5 class indices and probabilities."""
    index = {wnid: i for i, (wnid, _) in keras_dense.imagenet.class_index().items()}
    return [[index[wnid] for wnid, _, _ in row] for row in top5_rows], [
        [p for *_, p in row] for row in top5_rows
    ]


def _check(result, expected):
    classes, probabilities = _classes_and_probabilities(result)
    for row_classes, row_probabilities, row_expected in zip(classes, probabilities, expected):
        assert row_classes == list(np.argsort(-row_expected)[:5])
        np.testing.assert_allclose(
            row_probabilities, row_expected[row_classes], rtol=1e-5, atol=1e-6
        )


def test_flip_averages_the_image_and_its_mirror(model):
    x = np.random.default_rng(0).integers(0, 256, (3, SIDE, SIDE, 3)).astype("float32")
    expected = _by_hand(model, [x, x[:, :, ::-1]])
    _check(keras_dense.predict(x, model=model, tta="flip"), expected)
    plain = _by_hand(model, [x])
    assert np.abs(expected - plain).max() > 1e-4  # the mirror changes the answer


@pytest.mark.parametrize("mode", ["five_crop", "ten_crop"])
def test_crops_average_corners_centre_and_mirrors(model, mode):
    big = tta.load_size((SIDE, SIDE), mode)
    assert big == (37, 37)  # 32 / 0.875, as 224 -> 256
    x = np.random.default_rng(1).integers(0, 256, (2, *big, 3)).astype("float32")
    s, e = SIDE, big[0] - SIDE  # crop side, last offset
    centre = round(e / 2)
    crops = [
        x[:, :s, :s],
        x[:, :s, e:],
        x[:, e:, :s],
        x[:, e:, e:],
        x[:, centre : centre + s, centre : centre + s],
    ]
    views = crops if mode == "five_crop" else crops + [c[:, :, ::-1] for c in crops]
    _check(keras_dense.predict(x, model=model, tta=mode), _by_hand(model, views))


def test_files_are_loaded_at_the_crop_size(model):
    folder = shared_path("images", "imagenet-samples")
    paths = sorted(folder.glob("*.JPEG"))[:2]
    pixels = np.stack([images.load_image(p, (37, 37)) for p in paths]).astype("float32")
    expected = _by_hand(model, tta.views(pixels, "ten_crop", (SIDE, SIDE)))
    _check(keras_dense.predict(paths, model=model, tta="ten_crop"), expected)
    results = list(keras_dense.inference.predict.predict_files(paths, model=model, tta="ten_crop"))
    _check([r.predictions for r in results], expected)


def test_bad_tta_requests_say_what_to_do(model):
    with pytest.raises(
        ValueError, match="tta must be None or one of flip, five_crop, ten_crop; got 'mirror'"
    ):
        keras_dense.predict(np.zeros((1, SIDE, SIDE, 3)), model=model, tta="mirror")
    with pytest.raises(
        ValueError, match="With tta='five_crop' the arrays must be 37x37 .*; they are 32x32"
    ):
        keras_dense.predict(np.zeros((1, SIDE, SIDE, 3)), model=model, tta="five_crop")
    result = run_cli("predict", "x.jpg", "--tta", "mirror")
    assert result.returncode == 2
    assert "argument --tta: invalid choice: 'mirror' (choose from" in result.stderr
    assert all(choice in result.stderr for choice in tta.TTA_MODES)


def test_cifar_evaluate_flip_equals_averaging_by_hand(tmp_path, monkeypatch, capsys):
    from keras_dense.cli import main
    from keras_dense.datasets import cifar10
    from keras_dense.training import augment, evaluation

    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    data = write_binary_cifar(tmp_path)
    network = keras_dense.get_model(TINY_MODEL, classes=10, **TINY_ARCH)
    model = augment.with_augmentation(
        network, augment.ImageAugmentation(padding=0, flip=False, name="normalize")
    )
    path = tmp_path / "model.keras"
    model.save(path)

    report = evaluation.evaluate(path, data=data, test_subset=30, tta="flip")

    (_, _), (x_test, y_test), _ = cifar10.load(data)
    x_test, y_test = x_test[:30], y_test[:30]
    reloaded = keras.saving.load_model(path, compile=False)
    probabilities = (
        reloaded.predict(x_test, verbose=0) + reloaded.predict(x_test[:, :, ::-1], verbose=0)
    ) / 2
    predicted = np.argmax(probabilities, axis=-1)
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (y_test, predicted), 1)
    assert report["tta"] == "flip" and report["images"] == 30
    assert report["accuracy"] == pytest.approx(np.mean(predicted == y_test))
    assert np.array_equal(np.asarray(report["confusion"]), confusion)
    with pytest.raises(ValueError, match="tta must be None or one of flip, none; got 'ten_crop'"):
        evaluation.evaluate(path, data=data, tta="ten_crop")
    assert main(["evaluate", str(path), "--data", str(data), "--tta", "flip"]) == 0
    assert "(tta flip)" in capsys.readouterr().out
