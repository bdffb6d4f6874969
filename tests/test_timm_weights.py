"""timm weight tags: records from timm's pretrained_cfg, the Hugging Face cache, no torch.

No Hub file can be downloaded here, so for each architecture of a timm tag a
timm model with seeded random weights and perturbed batch-norm statistics is
saved as `model.safetensors` in the Hub cache layout
(`models--timm--NAME/snapshots/REV/`, `refs/main`) under a temporary
`HF_HUB_CACHE`; one subprocess in which torch cannot be imported loads every
tag with `HF_HUB_OFFLINE=1` and its logits are compared with timm's.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from conftest import shared_path
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from keras_twins import real_images
from model_table import tiny_resnet18
from torchvision_fixtures import import_torchvision, randomize_like_trained, torch_outputs

import keras_dense
from keras_dense.cli import main as cli_main
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.models import _registry, weights_records
from keras_dense.models.pretrained import from_torchvision
from keras_dense.weights import WeightsFileError, WeightsMismatchError, hub, safetensors_state

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIZE = 64
REVISION = "0123456789abcdef0123456789abcdef01234567"
# the last batch norm of each residual branch starts small, as in a trained ResNet
SMALL_GAMMA = {"basic": ("bn2",), "bottleneck": ("bn3",)}


def timm_tags():
    return [w for w in weights_records() if w.file_format == "timm_safetensors"]


def one_tag_per_architecture():
    """The first timm tag of each model (tags of one model share its architecture)."""
    first = {}
    for record in timm_tags():
        first.setdefault(record.model, record)
    return list(first.values())


@pytest.fixture(scope="module")
def timm():
    import_torchvision()  # timm imports torchvision, whose import needs the workaround
    return pytest.importorskip("timm", reason="timm is not installed: pip install timm")


def hub_snapshot(cache, repo, revision=REVISION):
    """The snapshot folder of `repo` in a Hub cache, with `refs/main` pointing at it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    snapshot = folder / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def timm_reference(timm, record, images, seed=0):
    """timm's model of `record`'s tag, trained-like random weights, and its logits."""
    import torch

    torch.manual_seed(seed)
    module = timm.create_model(record.file.hub_repo.split("/", 1)[1], pretrained=False)
    block = getattr(_registry.model_record(record.model).config, "block", None)
    randomize_like_trained(
        module,
        torch.from_numpy(images.transpose(0, 3, 1, 2).copy()),
        seed=seed,
        small_gamma=SMALL_GAMMA.get(block, ()),
    )
    return module, torch_outputs(module, images)


def save_safetensors(module, path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))


LOADER = textwrap.dedent(
    """
    import sys


    class NoTorch:  # the loading side must not need torch: importing it fails
        # (not sys.modules["torch"] = None, which scipy's array-API checks trip over)
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision", "timm"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")


    sys.meta_path.insert(0, NoTorch())
    import json
    import numpy as np
    import keras
    import keras_dense

    tags, images, out = json.loads(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
    logits = {}
    for name in tags:
        model, tag = name.split(".")
        built = keras_dense.get_model(
            model, weights=tag, input_shape=images.shape[1:], classifier_activation=None
        )
        logits[name] = keras.ops.convert_to_numpy(built(images, training=False))
    assert not {"torch", "timm"} & set(sys.modules)
    np.savez(out, **logits)
    """
)


def offline_env(tmp_path):
    env = dict(os.environ)
    for name in ("KERAS_DENSE_CACHE", "KERAS_HOME", "KERAS_DENSE_WEIGHTS", "TORCH_HOME"):
        (tmp_path / name).mkdir(exist_ok=True)
        env[name] = str(tmp_path / name)
    env.update(
        HF_HUB_CACHE=str(tmp_path / "hub"),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    env.pop("HF_HOME", None)
    return env


@pytest.mark.slow
def test_every_timm_architecture_loads_offline_without_torch_and_matches_timm(timm, tmp_path):
    images = preprocess_input(real_images(SIZE), mode="torch")
    expected = {}
    # every tag, not one per architecture, with KERAS_DENSE_TEST_EVERY_TIMM_TAG=1 (slower)
    every = os.environ.get("KERAS_DENSE_TEST_EVERY_TIMM_TAG") == "1"
    for record in timm_tags() if every else one_tag_per_architecture():
        module, expected[record.name] = timm_reference(timm, record, images)
        save_safetensors(module, hub_snapshot(tmp_path / "hub", record.file.hub_repo) / "m.tmp")
        snapshot = hub_snapshot(tmp_path / "hub", record.file.hub_repo)
        (snapshot / "m.tmp").rename(snapshot / record.file.hub_file)
        del module
    np.save(tmp_path / "images.npy", images)
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOADER,
            json.dumps(sorted(expected)),
            str(tmp_path / "images.npy"),
            str(tmp_path / "logits.npz"),
        ],
        env=offline_env(tmp_path),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    logits = np.load(tmp_path / "logits.npz")
    differences = {
        name: float(np.max(np.abs(logits[name] - expected[name]))) for name in sorted(expected)
    }
    print("largest logit difference per tag:", json.dumps(differences, indent=1))
    for name, difference in differences.items():
        assert difference < 1e-4, (name, difference)
        assert np.ptp(expected[name]) > 0.1  # the logits differ, so the comparison means something
    converted = sorted(p.name for p in (tmp_path / "KERAS_DENSE_CACHE" / "converted").iterdir())
    assert converted == sorted(
        [f"{name}.weights.h5" for name in expected] + [f"{name}.json" for name in expected]
    )


def test_records_follow_timms_pretrained_cfg(timm):
    """Repository, test size, crop, interpolation, mean and std are timm's own."""
    tags = timm_tags()
    named = {w.name for w in tags}
    assert {
        "densenet121.timm_ra_in1k",
        "resnet50_v1_5.timm_a1_in1k",
        "resnet18.timm_a1_in1k",
        "resnet34.timm_a1_in1k",
        "resnet101_v1_5.timm_a1h_in1k",
        "resnet152_v1_5.timm_a1h_in1k",
    } <= named
    for record in tags:
        timm_name = record.file.hub_repo.split("/", 1)[1]
        assert record.tag == "timm_" + timm_name.split(".", 1)[1]
        cfg = timm.models.get_pretrained_cfg(timm_name).to_dict()
        assert cfg["hf_hub_id"] == record.file.hub_repo and record.file.hub_file == (
            cfg.get("hf_hub_filename") or "model.safetensors"
        )
        size = (cfg.get("test_input_size") or cfg["input_size"])[1]
        crop = cfg.get("test_crop_pct") or cfg["crop_pct"]
        evaluation = record.evaluation
        assert (evaluation.size, evaluation.crop_fraction) == (size, crop)
        assert evaluation.interpolation == cfg["interpolation"]
        assert tuple(evaluation.mean) == cfg["mean"] and tuple(evaluation.std) == cfg["std"]
        assert record.preprocess == "torch" and cfg["num_classes"] == 1000
        assert 60 < record.top5 - 20 < record.top1 + 20 and record.top1 < record.top5 < 100


def test_a_checkpoint_of_another_architecture_names_the_first_key_and_both_shapes(
    timm, tmp_path, capsys
):
    module = timm.create_model("resnet34", pretrained=False)
    path = tmp_path / "resnet34.safetensors"
    save_safetensors(module, path)
    with pytest.raises(
        WeightsMismatchError,
        match="State dict key 'layer1.2.bn1.bias' has no counterpart in resnet18",  # sorted keys
    ):
        from_torchvision(path, "resnet18")
    out = tmp_path / "resnet50.weights.h5"
    status = cli_main(
        ["weights", "convert", str(path), "--model", "resnet50_v1_5", "--out", str(out)]
    )
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert "State dict key 'layer1.0.conv1.weight' has shape (64, 64, 3, 3)" in error
    assert "needs (64, 64, 1, 1)" in error
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_cli_converts_a_safetensors_file_without_torch(timm, tmp_path, capsys, monkeypatch):
    images = preprocess_input(real_images(SIZE), mode="torch")
    record = _registry.weights_record("resnet18.timm_a1_in1k")
    module, expected = timm_reference(timm, record, images, seed=1)
    path = tmp_path / "model.safetensors"
    save_safetensors(module, path)
    monkeypatch.setitem(sys.modules, "torch", None)
    out = tmp_path / "resnet18.weights.h5"
    args = ["weights", "convert", str(path), "--model", "resnet18", "--out", str(out)]
    assert cli_main(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    model = keras_dense.get_model(
        "resnet18", weights=str(out), input_shape=(SIZE, SIZE, 3), classifier_activation=None
    )
    np.testing.assert_allclose(np.asarray(model(images)), expected, rtol=0, atol=1e-4)


def test_missing_hub_file_offline_is_one_error_naming_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KERAS_DENSE_WEIGHTS", str(tmp_path / "weights"))
    record = _registry.weights_record("resnet18.timm_a1_in1k")
    with pytest.raises(hub.resolve.WeightsUnavailableError) as error:
        hub.hub_path(record.file)
    message = str(error.value)
    assert "timm/resnet18.a1_in1k" in message and "HF_HUB_OFFLINE is set" in message
    assert str(tmp_path / "hub") in message and str(tmp_path / "weights") in message


def test_a_copy_in_keras_dense_weights_is_found_after_the_hub_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("KERAS_DENSE_WEIGHTS", str(tmp_path / "weights"))
    record = _registry.weights_record("resnet18.timm_a1_in1k")
    (tmp_path / "weights").mkdir()
    copy = tmp_path / "weights" / record.file.file_name
    copy.write_bytes(b"x")
    assert hub.hub_path(record.file, download=False) == copy
    cached = hub_snapshot(tmp_path / "hub", record.file.hub_repo) / "model.safetensors"
    cached.write_bytes(b"y")
    assert hub.hub_path(record.file, download=False) == cached  # the Hub's cache first
    assert cli_main(["weights", "list"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if record.name in line]
    assert rows == [
        f"{record.name:<36} {'timm hub':<11} {record.file.file_name:<58} found     {cached}"
    ]


# --- damaged files -------------------------------------------------------------------------


def _valid_file(tmp_path_factory):
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("st")
    path = folder / "valid.safetensors"
    save_file({"conv1.weight": np.ones((4, 3, 7, 7), np.float32)}, str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    return _valid_file(tmp_path_factory)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    tail=st.binary(max_size=16),
)
def test_mutated_safetensors_give_one_clear_error_and_write_nothing(
    valid_bytes, tmp_path_factory, cut, flips, tail
):
    data = bytearray(valid_bytes[: len(valid_bytes) - cut % len(valid_bytes)])
    for where, value in flips:
        if data:
            data[where % len(data)] = value
    folder = tmp_path_factory.mktemp("mutated")
    path = folder / "model.safetensors"
    path.write_bytes(bytes(data) + tail)
    out = folder / "out.weights.h5"
    try:
        state = safetensors_state.read_safetensors(path)
    except WeightsFileError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        state = None
    if state is not None:
        assert all(isinstance(v, np.ndarray) for v in state.values())
    status = cli_main(["weights", "convert", str(path), "--model", "resnet18", "--out", str(out)])
    assert status == 2
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors"]


# --- a fine-tuned Keras model on the Hub ------------------------------------------------------


def test_predict_loads_hf_models_through_keras(tmp_path, monkeypatch, capsys):
    """`model="hf://user/repo"`: Keras's own hf:// loading from an offline Hub cache."""
    model = tiny_resnet18()
    saved = tmp_path / "tiny.keras"
    model.save(saved)
    snapshot = hub_snapshot(tmp_path / "hub", "someone/tiny-resnet")
    with zipfile.ZipFile(saved) as archive:
        archive.extractall(snapshot)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    images = real_images(32)
    top = keras_dense.predict(images, model="hf://someone/tiny-resnet", top=3, engine="keras")
    expected = keras_dense.predict(images, model=model, top=3, engine="keras")
    assert [[row[0] for row in image] for image in top] == [
        [row[0] for row in image] for image in expected
    ]
    for got, want in zip(top, expected):
        np.testing.assert_allclose([r[2] for r in got], [r[2] for r in want], rtol=0, atol=1e-6)
    photo = str(shared_path("images", "elephant.jpg"))
    args = ["predict", photo, "--model", "hf://someone/tiny-resnet", "--json", "--top", "2"]
    assert cli_main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["results"][0]["predictions"]) == 2
    assert cli_main(["predict", photo, "--model", "hf://someone/missing", "--engine", "keras"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("keras-dense: error: The Keras model hf://someone/missing cannot")


# --- the tag's own evaluation transform ---------------------------------------------------------


def test_validate_uses_the_tags_own_test_size_crop_and_interpolation(timm, tmp_path, monkeypatch):
    from keras_dense.inference.validate import evaluation_of, transform_of, validate

    record = _registry.weights_record("resnet18.timm_a1_in1k")
    module, _ = timm_reference(timm, record, preprocess_input(real_images(SIZE), mode="torch"))
    save_safetensors(
        module, hub_snapshot(tmp_path / "hub", record.file.hub_repo) / "model.safetensors"
    )
    for name in ("KERAS_DENSE_CACHE", "KERAS_DENSE_WEIGHTS"):
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    samples = shared_path("images", "imagenet-samples")
    report = validate(samples, model="resnet18", weights="timm_a1_in1k", limit=2, engine="keras")
    assert report["images"] == 2
    assert report["transform"] == {
        "name": "center_crop",
        "interpolation": "bicubic",
        "crop": True,
        "resize_short_side": 288,
        "crop_fraction": 1.0,
        "size": [288, 288],
    }
    assert evaluation_of("resnet18", "tv_imagenet") is None  # torchvision's: the default crop
    assert transform_of((224, 224))["crop_fraction"] == 0.875


def test_a_damaged_file_in_the_hub_cache_is_one_error_and_nothing_is_converted(
    tmp_path, monkeypatch, valid_bytes
):
    record = _registry.weights_record("resnet18.timm_a1_in1k")
    cached = hub_snapshot(tmp_path / "hub", record.file.hub_repo) / "model.safetensors"
    cached.write_bytes(valid_bytes[:-10])  # truncated
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsFileError, match="is not a readable safetensors file"):
        keras_dense.get_model("resnet18", weights="timm_a1_in1k")
    converted = tmp_path / "cache" / "converted"
    assert not converted.exists() or not any(converted.iterdir())


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ref=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode)))
@example(ref=b"../../..")  # snapshots/../../../model.safetensors: outside the cache
def test_any_refs_main_in_the_hub_cache_gives_a_file_or_none(tmp_path_factory, ref):
    cache = tmp_path_factory.mktemp("hub") / "cache"
    cache.mkdir()
    (cache.parent / "model.safetensors").write_bytes(b"outside")
    record = _registry.weights_record("resnet18.timm_a1_in1k")
    snapshot = hub_snapshot(cache, record.file.hub_repo)
    (snapshot / "model.safetensors").write_bytes(b"x")
    (snapshot.parents[1] / "refs" / "main").write_bytes(ref)
    before = sorted(str(p) for p in cache.rglob("*"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(cache))
        found = hub.find_cached(record.file)
    assert found is None or (found.is_file() and cache in found.resolve().parents)
    assert sorted(str(p) for p in cache.rglob("*")) == before
