"""LeNet-5, AlexNet, VGG, GoogLeNet: reference parameter counts, structure,
keras.applications equivalence of VGG16/19, argument checks and the CLI."""

import keras
import numpy as np
import pytest
from conftest import run_cli, summary_with_layers
from keras import layers

import keras_dense
from keras_dense.models import alexnet, googlenet, lenet, vgg


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# (name, builder kwargs, expected trainable parameters, source of the figure)
REFERENCE_COUNTS_FAST = [
    ("lenet5", {}, 61_706, "issue: LeNet-5, 10 classes"),
    # One more input channel adds 6 x 5 x 5 x 2 weights to C1.
    ("lenet5", {"input_shape": (32, 32, 3)}, 61_706 + 300, "C1 on RGB"),
    ("googlenet", {}, 7_005_832, "true 5x5 kernels, no aux heads"),
    ("googlenet", {"branch5x5_kernel": 3}, 6_624_904, "torchvision googlenet"),
]
REFERENCE_COUNTS_SLOW = [
    ("alexnet", {}, 61_100_840, "torchvision alexnet"),
    ("vgg11", {}, 132_863_336, "torchvision vgg11"),
    ("vgg11_bn", {}, 132_868_840, "torchvision vgg11_bn"),
    ("vgg13", {}, 133_047_848, "torchvision vgg13"),
    ("vgg13_bn", {}, 133_053_736, "torchvision vgg13_bn"),
    ("vgg16", {}, 138_357_544, "keras.applications / torchvision vgg16"),
    ("vgg16_bn", {}, 138_365_992, "torchvision vgg16_bn"),
    ("vgg19", {}, 143_667_240, "keras.applications / torchvision vgg19"),
    ("vgg19_bn", {}, 143_678_248, "torchvision vgg19_bn"),
]


def _check_count(name, kwargs, expected):
    model = keras_dense.get_model(name, **kwargs)
    assert _trainable(model) == expected
    keras.backend.clear_session()


@pytest.mark.parametrize("name, kwargs, expected, source", REFERENCE_COUNTS_FAST)
def test_trainable_parameters_match_the_references(name, kwargs, expected, source):
    _check_count(name, kwargs, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs, expected, source", REFERENCE_COUNTS_SLOW)
def test_trainable_parameters_of_full_size_models_match_torchvision(name, kwargs, expected, source):
    _check_count(name, kwargs, expected)


@pytest.mark.slow
def test_vgg16_c_is_configuration_d_with_three_1x1_convolutions():
    # Paper, table 1: C replaces the third 3x3 conv of blocks 3-5 by a 1x1.
    c = keras_dense.get_model("vgg16_c")
    d_params = keras_dense.model_record("vgg16").params
    saved = 256 * 256 * 8 + 2 * 512 * 512 * 8  # 3x3 -> 1x1 keeps 1 of 9 weights
    assert c.count_params() == d_params - saved
    for block in (3, 4, 5):
        assert c.get_layer(f"block{block}_conv3").kernel_size == (1, 1)
        assert c.get_layer(f"block{block}_conv2").kernel_size == (3, 3)


def test_lenet5_layers_follow_the_paper():
    model = lenet.LeNet5()
    assert model.input_shape == (None, 32, 32, 1)
    assert model.get_layer("block1_conv").filters == 6
    assert model.get_layer("block2_conv").kernel_size == (5, 5)
    assert model.get_layer("block2_pool").output.shape == (None, 5, 5, 16)
    assert [model.get_layer(n).units for n in ("fc1", "fc2", "predictions")] == [120, 84, 10]
    classic = lenet.LeNet5(activation="tanh", subsampling="avg")
    assert isinstance(classic.get_layer("block1_pool"), layers.AveragePooling2D)
    assert classic.get_layer("fc1").activation.__name__ == "tanh"


def test_alexnet_small_variant_keeps_the_layout():
    model = alexnet.AlexNet(input_shape=(64, 64, 3), classes=7, width=0.25, fc_units=64)
    conv1 = model.get_layer("conv1")
    assert conv1.kernel_size == (11, 11) and conv1.strides == (4, 4) and conv1.filters == 16
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 6)] == [16, 48, 96, 64, 64]
    assert model.get_layer("fc1_drop").rate == 0.5
    assert model.output_shape == (None, 7)


def test_vgg_bn_puts_batch_norm_between_convolution_and_relu():
    model = keras_dense.get_model("vgg11_bn", input_shape=(32, 32, 3), width=0.125, fc_units=16)
    names = [layer.name for layer in model.layers]
    i = names.index("block1_conv1")
    assert names[i : i + 3] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu"]
    assert model.get_layer("block1_conv1").activation.__name__ == "linear"
    assert model.get_layer("block1_conv1_bn").epsilon == pytest.approx(1e-5)
    # configuration A: 1, 1, 2, 2, 2 convolutions per block
    convs = [n for n in names if "_conv" in n and not n.endswith(("_bn", "_relu"))]
    assert len(convs) == 8 and "block3_conv2" in convs and "block1_conv2" not in convs


def test_vgg16_bn_cifar_is_the_notes_model():
    model = keras_dense.get_model("vgg16_bn_cifar")
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert model.get_layer("block5_pool").output.shape == (None, 1, 1, 512)
    assert model.get_layer("fc1").units == 512 and model.get_layer("fc2_drop").rate == 0.5
    assert model.count_params() == keras_dense.model_record("vgg16_bn_cifar").params
    keras.backend.clear_session()


def test_googlenet_has_nine_inception_blocks_with_the_paper_filters():
    model = googlenet.GoogLeNet()
    concats = [layer for layer in model.layers if layer.name.endswith("_concat")]
    assert [layer.name.split("_")[0] for layer in concats] == [
        "inception3a",
        "inception3b",
        "inception4a",
        "inception4b",
        "inception4c",
        "inception4d",
        "inception4e",
        "inception5a",
        "inception5b",
    ]
    # Paper, table 1: output depths 256, 480, 512, 512, 512, 528, 832, 832, 1024.
    assert [layer.output.shape[-1] for layer in concats] == [
        256,
        480,
        512,
        512,
        512,
        528,
        832,
        832,
        1024,
    ]
    assert model.get_layer("inception5b_concat").output.shape[1:3] == (7, 7)
    assert model.get_layer("inception3a_5x5_conv").kernel_size == (5, 5)
    assert isinstance(model.get_layer("inception3a_5x5_bn"), layers.BatchNormalization)
    keras.backend.clear_session()
    torchvision_like = googlenet.GoogLeNet(branch5x5_kernel=3, width=0.125, input_shape=(64, 64, 3))
    assert torchvision_like.get_layer("inception3a_5x5_conv").kernel_size == (3, 3)


def test_googlenet_auxiliary_classifiers_train_with_the_main_head():
    keras.utils.set_random_seed(0)
    classes = 5
    model = googlenet.GoogLeNet(
        aux_logits=True, width=0.125, input_shape=(224, 224, 3), classes=classes
    )
    assert [tuple(shape) for shape in model.output_shape] == [(None, classes)] * 3
    # Paper: 5x5/3 average pooling of the 14x14 map to 4x4, 1x1 conv of 128
    # filters (+BN), fc 1024, classifier; here at 1/8 width (16 filters, 128 units).
    base = googlenet.GoogLeNet(width=0.125, input_shape=(224, 224, 3), classes=classes)
    aux_trainable = _trainable(model) - _trainable(base)
    in_channels = (512 // 8, 528 // 8)
    expected = sum(
        c * 16 + 2 * 16 + (4 * 4 * 16) * 128 + 128 + 128 * classes + classes for c in in_channels
    )
    assert aux_trainable == expected
    keras.backend.clear_session()
    # Training at 96x96 (the auxiliary pooling sees a 6x6 map) keeps the test quick.
    small = googlenet.GoogLeNet(
        aux_logits=True, width=0.125, input_shape=(96, 96, 3), classes=classes
    )
    small.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=["sparse_categorical_crossentropy"] * 3,
        loss_weights=[1.0, 0.3, 0.3],
        run_eagerly=True,  # tracing the three-output graph costs more than five steps
    )
    x = np.random.default_rng(0).uniform(size=(8, 96, 96, 3)).astype("float32")
    y = np.arange(8) % classes
    losses = small.fit(x, [y, y, y], epochs=5, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: googlenet.GoogLeNet(branch5x5_kernel=4), "branch5x5_kernel must be 5"),
        (
            lambda: googlenet.GoogLeNet(aux_logits=True, include_top=False),
            "aux_logits=True needs include_top=True",
        ),
        (lambda: googlenet.GoogLeNet(aux_logits=True, input_shape=(64, 64, 3)), "at least 65x65"),
        (lambda: googlenet.GoogLeNet(width=0), "width must be a positive multiplier"),
        (lambda: vgg.VGG("F"), "cfg must be one of"),
        (lambda: vgg.VGG((64, 128)), "cfg must end with 'M'"),
        (
            lambda: vgg.VGG16C(weights="imagenet"),
            "vgg16_c cannot load weights='imagenet': vgg16_c has no published weights",
        ),
        (lambda: vgg.VGG16(dropout_rate=1.0), r"dropout_rate must be in \[0, 1\)"),
        (lambda: vgg.VGG16(input_shape=(16, 16, 3), include_top=False), "at least 32x32"),
        (lambda: alexnet.AlexNet(input_shape=(32, 32, 3)), "at least 63x63"),
        (lambda: alexnet.AlexNet(weights="keras_imagenet"), "alexnet's tags are tv_imagenet"),
        (lambda: lenet.LeNet5(subsampling="sum"), "subsampling must be 'max' or 'avg'"),
        (lambda: lenet.LeNet5(input_shape=(8, 8, 1)), "at least 16x16"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --- keras-dense summary


def test_summary_of_lenet5_counts_parameters_and_macs():
    output = summary_with_layers("lenet5")
    assert "Total params:         61,706" in output
    # C1 28*28*6*25 + C3 10*10*16*150 + 400*120 + 120*84 + 84*10
    assert "MACs (conv + dense):  416,520" in output
    assert "block2_conv" in output


def test_summary_of_googlenet_takes_input_shape_and_classes():
    result = run_cli("summary", "googlenet", "--input-shape", "96,96,3", "--classes", "10")
    assert result.returncode == 0, result.stderr
    assert "inception5b_concat" in result.stdout and "(None, 10)" in result.stdout
    # 7,005,832 with 1000 classes; the classifier shrinks to 1024*10 + 10.
    assert f"Trainable params:     {7_005_832 - 1_025_000 + 10_250:,}" in result.stdout
