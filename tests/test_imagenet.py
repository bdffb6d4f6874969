"""ImageNet preprocessing, decoding, image loading and `predict`."""

import hashlib
import io
import json

import h5_fixtures
import keras
import numpy as np
import pytest
from conftest import predict_random_densenet121, run_cli, shared_path
from keras.applications import imagenet_utils as keras_imagenet
from PIL import Image

import keras_dense
from keras_dense.imagenet import classes, images, preprocessing
from keras_dense.models import densenet, inception_v3, resnet, vgg

# --- preprocess_input / decode_predictions -------------------------------------------


@pytest.mark.parametrize("mode", preprocessing.MODES)
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_preprocess_input_is_identical_to_keras(mode, dtype):
    x = np.random.default_rng(0).integers(0, 256, (2, 7, 5, 3)).astype(dtype)
    original = x.copy()
    ours = preprocessing.preprocess_input(x, mode=mode)
    theirs = keras_imagenet.preprocess_input(x.copy(), mode=mode)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(x, original)  # ours never writes over its input
    tensor = preprocessing.preprocess_input(keras.ops.convert_to_tensor(x[0]), mode=mode)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), theirs[0], rtol=1e-6)


def test_preprocess_input_refuses_bad_mode_and_shape():
    with pytest.raises(ValueError, match="mode must be one of caffe, tf, torch; got 'pytorch'"):
        preprocessing.preprocess_input(np.zeros((1, 2, 2, 3)), mode="pytorch")
    with pytest.raises(ValueError, match=r"3 channels .*got shape \(1, 2, 2, 4\)"):
        preprocessing.preprocess_input(np.zeros((1, 2, 2, 4)), mode="tf")


def test_bundled_class_index_is_the_keras_file():
    path = keras_dense.__path__[0] + "/data/imagenet_class_index.json"
    assert hashlib.md5(open(path, "rb").read()).hexdigest() == "c2c37ea517e94d9795004a39431a14cb"


def test_decode_predictions_matches_keras(monkeypatch):
    index = json.load(open(keras_dense.__path__[0] + "/data/imagenet_class_index.json"))
    monkeypatch.setattr(keras_imagenet, "CLASS_INDEX", index, raising=False)
    from keras.src.applications import imagenet_utils as keras_src

    monkeypatch.setattr(keras_src, "CLASS_INDEX", index)
    preds = np.random.default_rng(0).dirichlet(np.ones(1000), size=3).astype("float32")
    assert classes.decode_predictions(preds, top=4) == keras_src.decode_predictions(preds, top=4)


def test_decode_predictions_refuses_wrong_shapes():
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\); got shape \(1000,\)"):
        classes.decode_predictions(np.zeros(1000))
    with pytest.raises(ValueError, match=r"got shape \(2, 10\)"):
        classes.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="top must be an integer from 1 to 1000; got 0"):
        classes.decode_predictions(np.zeros((1, 1000)), top=0)


# --- image loading -------------------------------------------------------------------


def save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_modes_are_converted_to_rgb(tmp_path):
    gray = Image.new("L", (10, 8), 100)
    rgba = Image.new("RGBA", (10, 8), (255, 0, 0, 0))  # fully transparent: white
    palette = Image.new("RGB", (10, 8), (0, 0, 255)).convert("P")
    cmyk = Image.new("CMYK", (10, 8), (0, 0, 0, 0))  # no ink: white
    deep = Image.fromarray(np.full((8, 10), 65535, np.uint16))  # 16-bit white
    expected = {
        "gray.png": (gray, (100, 100, 100)),
        "rgba.png": (rgba, (255, 255, 255)),
        "palette.png": (palette, (0, 0, 255)),
        "cmyk.jpg": (cmyk, (255, 255, 255)),
        "deep.png": (deep, (255, 255, 255)),
    }
    for name, (image, rgb) in expected.items():
        pixels = images.load_image(save(image, tmp_path / name), size=(4, 6))
        assert pixels.shape == (4, 6, 3) and pixels.dtype == np.uint8
        np.testing.assert_allclose(pixels[1, 1], rgb, atol=2, err_msg=name)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (20, 10), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 10))  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = save(image, tmp_path / "rotated.jpg", exif=exif.tobytes())
    pixels = images.load_image(path, size=None)
    assert pixels.shape == (20, 10, 3)
    assert pixels[2, 5].mean() > 200 and pixels[17, 5].mean() < 50  # white on top


def test_resize_matches_keras_load_img_and_crop_is_centred(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (60, 90, 3)).astype("uint8")
    path = save(Image.fromarray(array), tmp_path / "x.png")
    theirs = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(24, 24)))
    np.testing.assert_array_equal(images.load_image(path, size=(24, 24)), theirs)
    cropped = images.load_image(path, size=(21, 21), crop=True, interpolation="nearest")
    assert cropped.shape == (21, 21, 3)


def test_bad_files_give_a_clear_error_naming_the_file(tmp_path, monkeypatch):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(images.ImageLoadError, match="notes.jpg is not an image file"):
        images.load_image(text)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), 7).save(buffer, format="JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[:200])
    with pytest.raises(images.ImageLoadError, match="truncated.jpg is damaged or truncated"):
        images.load_image(truncated)
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    big = save(Image.new("RGB", (40, 40)), tmp_path / "big.png")
    with pytest.raises(images.ImageLoadError, match="big.png is 40x40 pixels.*decompression bomb"):
        images.load_image(big)


def test_find_images_walks_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "sub/c.jpeg", "readme.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in images.find_images([tmp_path])] == ["a.PNG", "b.jpg", "c.jpeg"]
    with pytest.raises(images.ImageLoadError, match="does not exist"):
        images.find_images([tmp_path / "missing"])


# --- predict -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_imagenet_model():
    """A small 1000-class DenseNet at 32x32, registered name for its preprocessing."""
    model = densenet.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), name="densenet121")
    return h5_fixtures.randomize(model, seed=3, logit_scale=1.0)


def test_predict_paths_pil_and_arrays_agree(tiny_imagenet_model, tmp_path):
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    paths = [save(Image.fromarray(a), tmp_path / f"{i}.png") for i, a in enumerate(batch)]
    from_arrays = keras_dense.predict(batch, model=tiny_imagenet_model, top=3, batch_size=2)
    from_paths = keras_dense.predict(paths, model=tiny_imagenet_model, top=3)
    from_pil = keras_dense.predict(
        [Image.fromarray(a) for a in batch], model=tiny_imagenet_model, top=3
    )
    # Different batch sizes (2 and 3 here) may round differently: labels equal,
    # probabilities within float tolerance, never ==.
    for other in (from_paths, from_pil):
        assert [[label for _, label, _ in row] for row in other] == [
            [label for _, label, _ in row] for row in from_arrays
        ]
        np.testing.assert_allclose(
            [[p for _, _, p in row] for row in other],
            [[p for _, _, p in row] for row in from_arrays],
            rtol=1e-5,
            atol=1e-6,
        )
    x = keras_imagenet.preprocess_input(batch.astype("float32"), mode="torch")
    expected = tiny_imagenet_model.predict_on_batch(x)
    for row, probs in zip(from_arrays, expected):
        assert [label for _, label, _ in row] == [
            classes.class_index()[i][1] for i in np.argsort(probs)[::-1][:3]
        ]
        np.testing.assert_allclose([p for _, _, p in row], np.sort(probs)[::-1][:3], atol=1e-6)


def test_predict_refuses_unknown_preprocessing_and_wrong_sizes(tiny_imagenet_model):
    other = keras.Model(tiny_imagenet_model.input, tiny_imagenet_model.output, name="mine")
    with pytest.raises(ValueError, match="preprocessing of model 'mine' is not known"):
        keras_dense.predict(np.zeros((1, 32, 32, 3)), model=other)
    assert keras_dense.predict(np.zeros((1, 32, 32, 3)), model=other, preprocess="tf", top=1)
    with pytest.raises(ValueError, match="takes 32x32 images; the arrays are 20x20"):
        keras_dense.predict(np.zeros((1, 20, 20, 3)), model=tiny_imagenet_model)


def test_predict_reuses_models_built_by_name(monkeypatch):
    from keras_dense.inference import built as built_lib
    from keras_dense.models import _registry

    built = []
    record = _registry.model_record("densenet121")
    monkeypatch.setattr(built_lib, "_BUILT", type(built_lib._BUILT)())

    def counting_builder(**kwargs):
        built.append(kwargs)
        return densenet.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), name="densenet121")

    monkeypatch.setitem(_registry._BUILDERS, "densenet121", counting_builder)
    for _ in range(2):
        keras_dense.predict(np.zeros((1, 32, 32, 3)), model="densenet121", weights=None, top=1)
    assert built == [{"weights": None}]
    assert record.preprocess == "torch"


def test_predict_on_a_built_model_makes_no_copy_and_no_new_trace(tiny_imagenet_model):
    from keras_dense import inference

    x = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    assert inference.inference_model(tiny_imagenet_model) is tiny_imagenet_model
    keras_dense.predict(x, model=tiny_imagenet_model, top=1)
    step = tiny_imagenet_model.predict_function
    keras_dense.predict(x, model=tiny_imagenet_model, top=1)
    assert tiny_imagenet_model.predict_function is step  # the compiled step is reused


def test_fast_copy_is_made_once_and_follows_the_weights():
    from keras_dense import inference

    model = densenet.DenseNet([1, 1, 1, 1], input_shape=(32, 32, 3), name="densenet121")
    h5_fixtures.randomize(model, seed=4, logit_scale=1.0)
    x = preprocessing.preprocess_input(
        np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3)).astype("uint8"), mode="torch"
    )
    first = inference.inference_model(model, "bfloat16", fold_bn=True)
    assert inference.inference_model(model, "bfloat16", fold_bn=True) is first
    h5_fixtures.randomize(model, seed=5, logit_scale=1.0)  # the model changes, e.g. by training
    copy = inference.inference_model(model, "bfloat16", fold_bn=True)
    assert copy is first
    np.testing.assert_allclose(
        inference.predict_batches(copy, x), inference.predict_batches(model, x), atol=3e-2
    )
    folded = inference.inference_model(model, "float32", fold_bn=True)
    np.testing.assert_allclose(
        inference.predict_batches(folded, x), inference.predict_batches(model, x), atol=1e-5
    )


@pytest.mark.parametrize(
    "module, mode", [(densenet, "torch"), (resnet, "caffe"), (vgg, "caffe"), (inception_v3, "tf")]
)
def test_family_preprocess_input_takes_keras_argument_order(module, mode):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 5, 4)).astype("float32")
    theirs = getattr(
        keras.applications, module.__name__.rsplit(".", 1)[-1].replace("vgg", "vgg16")
    ).preprocess_input(x.copy(), "channels_first")
    np.testing.assert_array_equal(module.preprocess_input(x, "channels_first"), theirs)
    assert module.preprocess_input(x[..., :3], data_format="channels_last").shape == (2, 3, 5, 3)
    np.testing.assert_array_equal(preprocessing.preprocess_input(x, "channels_first", mode), theirs)


def test_cli_reports_bad_files_and_classifies_the_rest(tmp_path):
    good = save(Image.new("RGB", (50, 40), (200, 10, 10)), tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_text("not an image")
    result = predict_random_densenet121(tmp_path, "--json")
    assert result.returncode == 3, result.stderr  # EXIT_SKIPPED (issue 20; was 1, a crash's)
    report = json.loads(result.stdout)
    assert [r["path"] for r in report["results"]] == [str(good)]
    assert len(report["results"][0]["predictions"]) == 2
    assert report["errors"][0]["path"].endswith("bad.jpg")
    assert "bad.jpg is not an image file Pillow can read. (skipped)" in result.stderr


def test_cli_weights_list_and_verify(tmp_path, tiny_imagenet_model):
    result = run_cli("weights", "list", "--urls")
    assert result.returncode == 0, result.stderr
    assert "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5" in result.stdout
    assert "b8c4d4c20dd625c148057b9ff1c1176b" in result.stdout
    path = h5_fixtures.write_keras2_h5(tiny_imagenet_model, tmp_path / "mine.h5")
    result = run_cli("weights", "verify", str(path))
    assert result.returncode == 0, result.stderr
    assert "readable keras2 weights file: 26 layers" in result.stdout
    assert "not a published file" in result.stdout
    fake = tmp_path / "densenet121_weights_tf_dim_ordering_tf_kernels.h5"
    fake.write_bytes(path.read_bytes())
    result = run_cli("weights", "verify", str(fake))
    assert result.returncode == 2
    assert (
        "published densenet121_weights_tf_dim_ordering_tf_kernels.h5 has "
        "9d60b8095a5708f2dcce2bca79d332c7"
    ) in result.stderr


@pytest.mark.slow
def test_cli_predict_matches_keras_applications_densenet169(tmp_path, monkeypatch):
    """The issue's end-to-end check, with a fixture file in the published layout."""
    from keras.src.applications import imagenet_utils as keras_src

    elephant = shared_path("images", "elephant.jpg")
    reference = keras.applications.DenseNet169(weights=None)
    h5_fixtures.randomize(reference, seed=0, logit_scale=0.5)
    path = h5_fixtures.write_keras2_h5(
        reference, tmp_path / "densenet169_fixture.h5", naming="keras2-slash"
    )
    del reference
    keras.backend.clear_session()
    theirs_model = keras.applications.DenseNet169(weights=str(path))
    monkeypatch.setattr(
        keras_src, "CLASS_INDEX", json.load(open(shared_path("imagenet_class_index.json")))
    )
    pixels = keras.utils.img_to_array(keras.utils.load_img(elephant, target_size=(224, 224)))
    x = keras.applications.densenet.preprocess_input(pixels[None])
    theirs = keras.applications.densenet.decode_predictions(theirs_model.predict(x, verbose=0))[0]

    result = run_cli(
        "predict", str(elephant), "--model", "densenet169", "--weights", str(path), "--json"
    )
    assert result.returncode == 0, result.stderr
    assert "loaded 338 layers by order" in result.stderr
    ours = json.loads(result.stdout)["results"][0]["predictions"]
    assert [(p["wnid"], p["label"]) for p in ours] == [(wnid, label) for wnid, label, _ in theirs]
    np.testing.assert_allclose(
        [p["probability"] for p in ours], [s for _, _, s in theirs], rtol=0, atol=1e-5
    )
    assert theirs[0][2] - theirs[4][2] > 1e-3  # the top-5 is not a near-tie
