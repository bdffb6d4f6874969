"""ResNet: keras.applications equivalence, torchvision and paper counts, blocks, checks."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from keras_twins import randomize_weights

import keras_dense
from keras_dense.models import resnet


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "name, torchvision_trainable",
    [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
    ],
)
def test_basic_block_resnets_have_torchvision_trainable_parameters(name, torchvision_trainable):
    model = keras_dense.get_model(name)
    assert _trainable(model) == torchvision_trainable
    assert not any(
        getattr(layer, "use_bias", False)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    )
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "name, paper_millions",
    [
        ("resnet20", 0.27),
        ("resnet56", 0.85),
        ("resnet110", 1.7),
    ],
)
def test_cifar_resnets_have_the_papers_parameter_counts(name, paper_millions):
    # The paper counts trainable parameters with option A (parameter-free) shortcuts.
    model = keras_dense.get_model(name)
    for count in (_trainable(model), model.count_params()):
        assert abs(count / 1e6 - paper_millions) / paper_millions <= 0.03
    keras.backend.clear_session()


def test_cifar_resnet_follows_the_paper():
    model = resnet.ResNetCIFAR(depth=20)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) + 1 == 20  # 6n + 1 convolutions and the classifier
    assert model.get_layer("conv1_conv").kernel_size == (3, 3)
    assert model.get_layer("conv1_conv").filters == 16
    assert [model.get_layer(f"conv{s}_block1_out").output.shape[1:] for s in (2, 3, 4)] == [
        (32, 32, 16),
        (16, 16, 32),
        (8, 8, 64),
    ]
    # option A: strided subsampling and zero channels, no projection convolution
    assert isinstance(model.get_layer("conv3_block1_0_pad"), resnet.ChannelZeroPadding)
    assert "conv3_block1_0_conv" not in [layer.name for layer in model.layers]


def test_option_b_shortcut_adds_projections():
    option_a = resnet.ResNetCIFAR(depth=20)
    option_b = resnet.ResNetCIFAR(depth=20, shortcut="projection")
    # two 1x1 projections (16->32, 32->64) with their batch norms
    extra = 16 * 32 + 32 * 64 + 4 * (32 + 64)
    assert option_b.count_params() - option_a.count_params() == extra


def test_channel_zero_padding_appends_zero_channels():
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(resnet.ChannelZeroPadding(5)(x))
    assert y.shape == (2, 4, 4, 8)
    np.testing.assert_array_equal(y[..., :3], x)
    assert not y[..., 3:].any()


def test_blocks_give_the_expected_shapes_and_names():
    x = keras.Input((56, 56, 64))
    y = resnet.bottleneck_block(x, 64, "conv2_block1")
    assert y.shape == (None, 56, 56, 256)
    y = resnet.bottleneck_block(y, 128, "conv3_block1", stride=2)
    assert y.shape == (None, 28, 28, 512)
    z = resnet.basic_block(x, 128, "b", stride=2)
    assert z.shape == (None, 28, 28, 128)
    model = keras.Model(x, z)
    names = [layer.name for layer in model.layers]
    assert names[-2:] == ["b_add", "b_out"] and "b_0_conv" in names and "b_1_pad" in names


def test_strided_convolutions_pad_symmetrically_as_torchvision():
    # Keras 'same' at stride 2 pads bottom/right only; torchvision pads 1 on each side.
    model = resnet.ResNet18(
        depths=(1, 1, 1, 1),
        widths=(4, 4, 4, 4),
        stem_filters=4,
        input_shape=(32, 32, 3),
        include_top=False,
    )
    assert model.get_layer("conv3_block1_1_pad").padding == ((1, 1), (1, 1))
    assert model.get_layer("conv3_block1_1_conv").padding == "valid"
    assert model.get_layer("conv2_block1_1_conv").padding == "same"


def test_config_overrides_change_the_architecture():
    model = resnet.ResNet50(
        depths=(1, 2, 1, 1), widths=(8, 8, 16, 16), input_shape=(64, 64, 3), classes=3
    )
    assert model.get_layer("conv3_block2_3_conv").filters == 32
    assert "conv3_block3_out" not in [layer.name for layer in model.layers]
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"depths": (2, 0, 2, 2)}, "depths must be positive integers"),
        ({"widths": (64, 128)}, "widths must be 4 positive integers"),
        ({"block": "wide"}, "block must be one of"),
        ({"shortcut": "conv"}, "shortcut must be one of"),
        ({"stem": "tiny"}, "stem must be one of"),
        ({"input_shape": (16, 16, 3)}, "Input size must be at least 32x32"),
        ({"pooling": "sum", "include_top": False}, "pooling must be None, 'avg' or 'max'"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet.ResNet18(**kwargs)


def test_bad_cifar_depth_and_channel_reducing_zero_padding_are_refused():
    with pytest.raises(ValueError, match=r"depth must be 6\*n \+ 2"):
        resnet.ResNetCIFAR(depth=21)
    with pytest.raises(ValueError, match="cannot reduce channels"):
        resnet.ResNetCIFAR(depth=20, widths=(16, 8, 8))


def test_registry_metadata():
    assert keras_dense.list_models(family="resnet") == [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "resnet50_v1_5",
        "resnet101_v1_5",
        "resnet152_v1_5",
        "resnet20",
        "resnet56",
        "resnet110",
    ]
    for name in ("resnet50", "resnet101", "resnet152"):
        entry = keras_dense.model_record(name)
        assert (
            entry.preprocess == "caffe" and entry.default_weights.name == f"{name}.keras_imagenet"
        )
    for name in ("resnet18", "resnet34", "resnet50_v1_5"):  # torchvision's only
        entry = keras_dense.model_record(name)
        assert entry.preprocess == "torch" and entry.default_weights.name == f"{name}.tv_imagenet"
    assert keras_dense.model_record("resnet20").default_weights is None


def test_summary_command_for_a_cifar_resnet():
    result = subprocess.run(
        [sys.executable, "-m", "keras_dense", "summary", "resnet20", "--layers"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Total params:         271,098" in result.stdout
    assert "conv3_block1_0_pad" in result.stdout


def _torchvision_resnet_forward(model, images, depths):
    """torchvision's ResNet (basic blocks) forward pass in plain torch, on `model`'s weights."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def tensor(name, index):
        return torch.from_numpy(np.asarray(model.get_layer(name).weights[index].numpy()))

    def conv(x, name, stride, padding):
        kernel = tensor(f"{name}_conv", 0).permute(3, 2, 0, 1)  # HWIO -> OIHW
        return F.conv2d(x, kernel, stride=stride, padding=padding)

    def bn(x, name):
        gamma, beta, mean, var = (tensor(f"{name}_bn", i) for i in range(4))
        return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=1e-5)

    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    x = F.max_pool2d(F.relu(bn(conv(x, "conv1", 2, 3), "conv1")), 3, 2, padding=1)
    for i, depth in enumerate(depths):
        for j in range(depth):
            name, stride = f"conv{i + 2}_block{j + 1}", 2 if i > 0 and j == 0 else 1
            identity = x
            if f"{name}_0_conv" in [layer.name for layer in model.layers]:
                identity = bn(conv(x, f"{name}_0", stride, 0), f"{name}_0")
            y = F.relu(bn(conv(x, f"{name}_1", stride, 1), f"{name}_1"))
            x = F.relu(bn(conv(y, f"{name}_2", 1, 1), f"{name}_2") + identity)
    x = x.mean(dim=(2, 3))
    logits = x @ tensor("predictions", 0) + tensor("predictions", 1)
    return logits.numpy()


def test_basic_block_resnet_computes_what_torchvision_computes():
    depths = (2, 1, 1, 1)
    keras.utils.set_random_seed(0)
    model = resnet.ResNet18(
        depths=depths,
        widths=(8, 8, 16, 16),
        stem_filters=8,
        input_shape=(64, 64, 3),
        classes=7,
        classifier_activation=None,
    )
    randomize_weights(model, gamma_range=(0.5, 1.5))
    images = np.random.default_rng(1).standard_normal((2, 64, 64, 3)).astype("float32")
    expected = _torchvision_resnet_forward(model, images, depths)
    got = keras.ops.convert_to_numpy(model(images, training=False))
    assert np.abs(expected[0] - expected[1]).max() > 1e-3
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
