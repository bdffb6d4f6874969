"""Embeddings: the no-top model's pooled features on predict's pixels, in Python and as files."""

import keras
import numpy as np
import pytest
from conftest import needs_writer, run_cli, sample_folder
from model_table import tiny_resnet18

import keras_dense
from keras_dense.cli import main
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.inference import folder_jobs, results
from keras_dense.inference.inputs import to_pixel_batch


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Five real images of mixed sizes and modes, and one file that is no image."""
    folder = tmp_path_factory.mktemp("samples")
    return sample_folder(folder, 5, broken=("z_broken.jpg", b"\xff\xd8 not really"))


@pytest.fixture(scope="module")
def resnet18_features(tmp_path_factory):
    """ResNet-18 without its top, random weights saved to a file: `(model, weights path)`."""
    model = keras_dense.get_model(
        "resnet18", weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3)
    )
    path = tmp_path_factory.mktemp("weights") / "resnet18_notop.weights.h5"
    model.save_weights(path)
    return model, path


def test_embed_equals_the_no_top_model_on_predicts_pixels(samples, resnet18_features):
    model, weights = resnet18_features
    files = sorted(str(p) for p in samples.glob("[0-9].jpg"))
    ours = keras_dense.embed(files, model="resnet18", weights=weights, engine="keras")
    pixels = to_pixel_batch(files, (224, 224))  # what predict gives the classifier
    theirs = keras.ops.convert_to_numpy(model(preprocess_input(pixels, mode="torch")))
    assert ours.shape == (5, 512) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-4)


def test_a_named_layer_is_pooled_over_space():
    model = tiny_resnet18()
    layer = next(item for item in model.layers if len(item.output.shape) == 4)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    ours = keras_dense.embed(pixels, model=model, layer=layer.name, preprocess="torch")
    maps = keras.Model(model.input, layer.output)(preprocess_input(pixels, mode="torch"))
    np.testing.assert_allclose(
        ours, np.mean(keras.ops.convert_to_numpy(maps), axis=(1, 2)), atol=1e-5
    )
    with pytest.raises(ValueError, match="has no layer 'nope'"):
        keras_dense.embed(pixels, model=model, layer="nope", preprocess="torch")


@pytest.mark.parametrize("suffix", (".parquet", ".npz"))
def test_an_embedding_file_holds_each_image_once_and_resumes(
    tmp_path, samples, resnet18_features, monkeypatch, suffix
):
    needs_writer(suffix)
    monkeypatch.setattr(results, "ROWS_PER_PART", 2)
    model, _ = resnet18_features
    out = tmp_path / f"vectors{suffix}"
    files = sorted(str(p) for p in samples.glob("[0-9].jpg"))
    settings = dict(model=model, preprocess="torch", batch_size=2, engine="keras")
    folder_jobs.embed_into(files[:3], out, **settings)
    summary = folder_jobs.embed_into([samples], out, resume=True, **settings)
    assert (summary.skipped, summary.written, summary.errors) == (3, 3, 1)
    rows = {row["path"]: row for row in results.read_rows(out)}
    assert sorted(rows) == sorted([*files, str(samples / "z_broken.jpg")])
    assert rows[str(samples / "z_broken.jpg")]["error"]
    expected = keras_dense.embed(files, model=model, preprocess="torch", engine="keras")
    np.testing.assert_allclose(np.stack([rows[f]["embedding"] for f in files]), expected, atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_the_embed_command_writes_an_npz(tmp_path, samples, resnet18_features, capsys):
    _, weights = resnet18_features
    out = tmp_path / "vectors.npz"
    args = [str(samples), "--model", "resnet18", "--weights", str(weights), "--engine", "keras"]
    result = run_cli("embed", *args, "--out", str(out))
    assert result.returncode == 3, result.stderr  # one file is no image
    assert "embedded 5 images" in result.stderr and "z_broken.jpg" not in result.stdout
    with np.load(out) as data:
        assert data["embeddings"].shape == (5, 512)
        assert list(data["error_paths"]) == [str(samples / "z_broken.jpg")]
        files = list(data["paths"])
        expected = keras_dense.embed(files, model="resnet18", weights=weights, engine="keras")
        np.testing.assert_allclose(data["embeddings"], expected, atol=1e-4)
    assert main(["embed", *args, "--out", str(out)]) == 2  # refused: nothing is overwritten
    assert "--resume" in capsys.readouterr().err


def test_embed_runs_on_a_runtime_engine_to_1e4():
    pytest.importorskip("onnxruntime", reason="ONNX Runtime (the [test] extra) is not installed")
    model = tiny_resnet18(include_top=False, pooling="avg")
    pixels = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    on_keras = keras_dense.embed(pixels, model=model, preprocess="torch", engine="keras")
    exported = keras_dense.embed(pixels, model=model, preprocess="torch", engine="onnxruntime")
    np.testing.assert_allclose(exported, on_keras, atol=1e-4)
