"""torchvision weight tags: records, offline-first resolution, convert once and cache, bad input.

No published file can be downloaded here, so a tiny torchvision DenseNet
(growth 4, blocks 1-2-1-1) stands in for `densenet161-8d451a50.pth`: its
state dict is saved under that name in `$TORCH_HOME/hub/checkpoints`, where
torchvision keeps its downloads, and the record's hash and architecture are
pointed at it (`stand_in`).
"""

import dataclasses
import hashlib
import json
import math

import keras
import numpy as np
import pytest
from keras_twins import real_images
from torchvision_fixtures import import_torchvision, randomize_like_trained, torch_outputs

import keras_dense
from keras_dense.cli import main as cli_main
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.models import _registry, densenet
from keras_dense.models.pretrained import from_torchvision
from keras_dense.weights import (
    TorchUnavailableError,
    WeightsFileError,
    WeightsHashError,
    WeightsMismatchError,
    WeightsUnavailableError,
    converted,
    resolve,
)
from keras_dense.weights import (
    torchvision as tv_weights,
)

PUBLISHED = "densenet161.tv_imagenet"
TINY_DENSENET = {"growth_rate": 4, "block_config": (1, 2, 1, 1), "num_init_features": 8}
SIZE = 32


@pytest.fixture(scope="module")
def torchvision():
    return import_torchvision()


@pytest.fixture(scope="module")
def tiny_reference(torchvision):
    """A tiny torchvision DenseNet with trained-like random weights, and its outputs."""
    torch, tv = torchvision
    torch.manual_seed(0)
    images = preprocess_input(real_images(SIZE), mode="torch")
    module = tv.models.DenseNet(**TINY_DENSENET)
    randomize_like_trained(module, torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    return module, images


def _old_style_keys(state):
    """The key names of torchvision's published DenseNet files (`norm.1`, not `norm1`)."""
    import re

    return {
        re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v for k, v in state.items()
    }


@pytest.fixture
def stand_in(tmp_path, monkeypatch, tiny_reference):
    """Folders of a fresh machine, and the tiny DenseNet as densenet161's published file."""
    import torch

    module, _ = tiny_reference
    for name in ("KERAS_DENSE_WEIGHTS", "KERAS_HOME", "TORCH_HOME", "KERAS_DENSE_CACHE"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(resolve, "_CHECKOUT", tmp_path / "no_checkout")
    record = _registry.weights_record(PUBLISHED)
    path = converted.torch_checkpoints_dir() / record.file.file_name
    path.parent.mkdir(parents=True)
    # as torchvision's 2017 DenseNet files: the legacy (non-zip) format, the old key names
    torch.save(_old_style_keys(module.state_dict()), path, _use_new_zipfile_serialization=False)
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    model = _registry.model_record("densenet161")
    tiny = densenet.DenseNetConfig(
        blocks=(1, 2, 1, 1), growth_rate=4, bn_epsilon=densenet.TORCH_BN_EPSILON, default_size=SIZE
    )
    weights = dataclasses.replace(record, file=dataclasses.replace(record.file, file_hash=sha256))
    monkeypatch.setitem(
        _registry._RECORDS,
        "densenet161",
        dataclasses.replace(model, config=tiny, weights=(weights,)),
    )
    return path


def _logits(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


def _count_conversions(monkeypatch):
    calls = []
    convert = tv_weights.convert_into
    monkeypatch.setattr(
        tv_weights, "convert_into", lambda *a, **k: calls.append(1) or convert(*a, **k)
    )
    return calls


# --- the records ----------------------------------------------------------------------


def test_records_are_torchvisions_published_weights(torchvision):
    """File name, URL, hash prefix and accuracies are exactly torchvision's `Weights` enums."""
    _, tv = torchvision
    tagged = [
        w for w in keras_dense.models.weights_records() if w.file_format == "torch_state_dict"
    ]
    published = {}
    for record in tagged:
        enum = tv.models.get_model_weights(record.model.replace("_v1_5", ""))
        version = "IMAGENET1K_V2" if record.tag == "tv_imagenet_v2" else "IMAGENET1K_V1"
        published[record.name] = weights = enum[version]
        metrics = weights.meta["_metrics"]["ImageNet-1K"]
        assert record.file.url == weights.url
        assert record.file.file_name == weights.url.rsplit("/", 1)[1]
        assert record.file.hash_algorithm == "sha256"
        assert record.file.file_name.endswith(f"-{record.file.file_hash}.pth")
        assert (record.top1, record.top5) == (metrics["acc@1"], metrics["acc@5"])
        assert record.preprocess == "torch" and record.notop_file is None
    # every ImageNet classifier weight torchvision publishes for these models is recorded
    # (vgg16's IMAGENET1K_FEATURES has no classifier and no published accuracy)
    for model in {w.model.replace("_v1_5", "") for w in tagged}:
        for weights in tv.models.get_model_weights(model):
            if not math.isnan(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]):
                assert weights.url in {w.url for w in published.values()}


def test_keras_weights_stay_the_default_and_torchvision_is_second():
    assert [w.tag for w in keras_dense.model_record("densenet169").weights] == [
        "keras_imagenet",
        "tv_imagenet",
    ]
    assert keras_dense.model_record("densenet161").default_weights.tag == "tv_imagenet"
    assert keras_dense.model_record("googlenet").preprocess == "torch"


def test_torchvision_layout_options_are_checked():
    with pytest.raises(ValueError, match="stride_in_3x3 applies to bottleneck blocks"):
        keras_dense.get_model("resnet18", stride_in_3x3=True)
    with pytest.raises(ValueError, match="pool4_size must be 3 .* or 2"):
        keras_dense.get_model("googlenet", pool4_size=4)


# --- offline first, verified, converted once, cached -----------------------------------


def test_tag_loads_from_torchs_cache_converts_once_and_reuses(
    stand_in, tiny_reference, monkeypatch
):
    module, images = tiny_reference
    expected = torch_outputs(module, images)
    conversions = _count_conversions(monkeypatch)
    model = keras_dense.get_model("densenet161", weights="tv_imagenet", classifier_activation=None)
    np.testing.assert_allclose(_logits(model, images), expected, rtol=0, atol=1e-5)
    cached = converted.converted_dir() / f"{PUBLISHED}.weights.h5"
    sidecar = json.loads(cached.with_name(f"{PUBLISHED}.json").read_text())
    assert sidecar["sha256"] == hashlib.sha256(cached.read_bytes()).hexdigest()
    assert sidecar["source_sha256"] == hashlib.sha256(stand_in.read_bytes()).hexdigest()
    assert conversions == [1]

    again = keras_dense.get_model("densenet161", weights="imagenet", classifier_activation=None)
    features = keras_dense.get_model(
        "densenet161", weights="tv_imagenet", include_top=False, pooling="avg"
    )
    assert conversions == [1]  # reused, not converted again
    np.testing.assert_allclose(_logits(again, images), expected, rtol=0, atol=1e-5)
    head = model.get_layer("predictions")
    np.testing.assert_allclose(
        _logits(features, images) @ keras.ops.convert_to_numpy(head.kernel)
        + keras.ops.convert_to_numpy(head.bias),
        expected,
        rtol=0,
        atol=1e-5,
    )


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "stale", "no_record"])
def test_damaged_or_stale_cache_is_converted_again(stand_in, tiny_reference, monkeypatch, damage):
    module, images = tiny_reference
    keras_dense.get_model("densenet161", weights="tv_imagenet")
    cached = converted.converted_dir() / f"{PUBLISHED}.weights.h5"
    sidecar = cached.with_name(f"{PUBLISHED}.json")
    if damage == "corrupt":  # same size, a flipped stretch in the middle
        data = bytearray(cached.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
        cached.write_bytes(bytes(data))
    elif damage == "truncated":
        cached.write_bytes(cached.read_bytes()[:1000])
    elif damage == "stale":  # made by an older converter
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "converter": 0}))
    else:
        sidecar.unlink()
    conversions = _count_conversions(monkeypatch)
    model = keras_dense.get_model("densenet161", weights="tv_imagenet", classifier_activation=None)
    assert conversions == [1]
    np.testing.assert_allclose(
        _logits(model, images), torch_outputs(module, images), rtol=0, atol=1e-5
    )
    assert (
        json.loads(sidecar.read_text())["sha256"] == hashlib.sha256(cached.read_bytes()).hexdigest()
    )
    assert sorted(p.name for p in cached.parent.iterdir()) == [
        f"{PUBLISHED}.json",
        f"{PUBLISHED}.weights.h5",
    ]  # no partial files left


def test_wrong_source_hash_is_refused_and_nothing_is_converted(stand_in, monkeypatch):
    stand_in.write_bytes(stand_in.read_bytes() + b"tampered")
    conversions = _count_conversions(monkeypatch)
    with pytest.raises(WeightsHashError, match="densenet161-8d451a50.pth has"):
        keras_dense.get_model("densenet161", weights="tv_imagenet")
    assert conversions == [] and not converted.converted_dir().exists()


def test_missing_file_offline_names_torchs_cache_too(stand_in, monkeypatch):
    stand_in.unlink()
    record = _registry.weights_record(PUBLISHED)
    monkeypatch.setitem(
        _registry._RECORDS,
        "densenet161",
        dataclasses.replace(
            _registry.model_record("densenet161"),
            weights=(
                dataclasses.replace(
                    record,
                    file=dataclasses.replace(
                        record.file, url="http://127.0.0.1:9/densenet161-8d451a50.pth"
                    ),
                ),
            ),
        ),
    )
    with pytest.raises(WeightsUnavailableError) as error:
        keras_dense.get_model("densenet161", weights="tv_imagenet")
    message = str(error.value)
    assert str(converted.torch_checkpoints_dir()) in message
    assert "densenet161-8d451a50.pth" in message and "KERAS_DENSE_WEIGHTS" in message


# --- bad input --------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this would call `open(path, "w")`: a file appears if the pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_is_created(
    torchvision, tmp_path, capsys
):
    torch, _ = torchvision
    marker = tmp_path / "the_pickle_ran"
    path = tmp_path / "resnet18-evil.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "payload": _RunsCode(marker)}, path)
    with pytest.raises(WeightsFileError, match=r"torch.load\(weights_only=True\) refused it"):
        from_torchvision(path, "resnet18")
    out = tmp_path / "resnet18.weights.h5"
    status = _convert_resnet18(path, out)
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "refused it" in error
    assert not marker.exists() and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_state_dict_of_another_architecture_names_the_first_key_and_both_shapes(torchvision):
    torch, tv = torchvision
    tiny = tv.models.DenseNet(**TINY_DENSENET).state_dict()
    model = keras_dense.get_model(
        "densenet121",
        blocks=(1, 2, 1, 1),
        growth_rate=4,
        init_filters=16,
        input_shape=(SIZE, SIZE, 3),
        classes=1000,
    )
    before = [np.array(w) for w in model.get_weights()]
    with pytest.raises(
        WeightsMismatchError,
        match=r"State dict key 'features.conv0.weight' has shape \(8, 3, 7, 7\), "
        r"but layer 'conv1_conv' of densenet121 needs \(16, 3, 7, 7\)",
    ):
        from_torchvision(tiny, model)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    resnet34 = {k: v.numpy() for k, v in tv.models.resnet34().state_dict().items()}
    with pytest.raises(
        WeightsMismatchError,
        match="State dict key 'layer1.2.conv1.weight' has no counterpart in resnet18",
    ):
        from_torchvision(resnet34, "resnet18")
    with pytest.raises(WeightsMismatchError, match="The state dict has no 'layer1.2.conv1.weight'"):
        from_torchvision(
            {k: v for k, v in resnet34.items() if not k.startswith("layer1.2.")}, "resnet34"
        )


def _convert_resnet18(path, out):
    """`keras-dense weights convert PATH --model resnet18 --out OUT`; its exit status."""
    return cli_main(["weights", "convert", str(path), "--model", "resnet18", "--out", str(out)])


def test_missing_torch_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "resnet18-f37072fd.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(TorchUnavailableError, match=r'pip install "keras-dense\[torch\]"'):
        from_torchvision(path, "resnet18")
    status = _convert_resnet18(path, tmp_path / "out.weights.h5")
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "needs PyTorch" in error


# --- the command line and .pth paths ------------------------------------------------------


def test_cli_converts_a_pth_and_the_result_loads(torchvision, tmp_path, capsys):
    torch, tv = torchvision
    torch.manual_seed(0)
    images = preprocess_input(real_images(64), mode="torch")
    module = randomize_like_trained(
        tv.models.resnet18(num_classes=10),
        torch.from_numpy(images.transpose(0, 3, 1, 2).copy()),
        small_gamma=("bn2",),
    )
    expected = torch_outputs(module, images)
    path = tmp_path / "finetuned.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in module.state_dict().items()}}, path)
    out = tmp_path / "finetuned.weights.h5"
    assert _convert_resnet18(path, out) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "classes=10" in printed
    model = keras_dense.get_model(
        "resnet18",
        weights=str(out),
        classes=10,
        input_shape=(64, 64, 3),
        classifier_activation=None,
    )
    np.testing.assert_allclose(_logits(model, images), expected, rtol=0, atol=1e-4)
    direct = keras_dense.get_model(
        "resnet18", weights=str(path), classes=10, include_top=False, input_shape=(64, 64, 3)
    )  # a .pth path converts on load
    np.testing.assert_array_equal(
        direct.get_layer("conv5_block2_2_bn").get_weights()[0],
        model.get_layer("conv5_block2_2_bn").get_weights()[0],
    )
    assert cli_main(["weights", "verify", str(path)]) == 0
    assert "readable torch state dict: 122 tensors" in capsys.readouterr().out
    assert _convert_resnet18(path, tmp_path / "out.h5") == 2
    assert "ending in .weights.h5" in capsys.readouterr().err


def test_cli_lists_both_kinds_of_weights(stand_in, capsys):
    assert cli_main(["weights", "list", "--urls"]) == 0
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line for line in printed.splitlines() if line and line[0] != " "}
    assert "keras .h5" in rows["densenet169.keras_imagenet"]
    assert (
        "torch .pth" in rows["densenet169.tv_imagenet"]
        and "missing" in rows["densenet169.tv_imagenet"]
    )
    assert f"verified  {stand_in}" in rows[PUBLISHED]
    assert "https://download.pytorch.org/models/densenet161-8d451a50.pth  sha256" in printed
