"""Every model with torchvision weights gives torchvision's outputs once its weights are converted.

Each torchvision model is built with seeded random weights and perturbed
batch-norm statistics (`randomize_like_trained`), its classifier scaled so
that the largest |logit| is 2, and its state dict converted into our model
built with the torchvision tag's architecture (`from_torchvision`); both run
on the shared real photos ("torch" preprocessing). The largest difference of
the logits must be at most 1e-4. (Random deep networks amplify float32
rounding: torch's own float32 and float64 logits of the random Inception v3
differ by 2e-5 of their scale, so larger logits would measure rounding, not
the conversion; a wrong conversion moves the logits by their own size.) VGG
and AlexNet run at 224x224 (their classifiers need the 7x7 / 6x6 map
torchvision's adaptive pooling makes there); the others run smaller.
"""

import gc

import keras
import numpy as np
import pytest
from keras_twins import real_images
from torchvision_fixtures import import_torchvision, randomize_like_trained, torch_outputs

import keras_dense
from keras_dense.imagenet.preprocessing import preprocess_input
from keras_dense.models.pretrained import from_torchvision
from keras_dense.weights.torchvision import LAYOUTS, torchvision_weights

TOLERANCE = 1e-4
LOGIT_SCALE = 2.0  # largest |logit| after scaling the classifier
BASIC, BOTTLENECK = ("bn2",), ("bn3",)  # the last batch norm of a residual branch
# our model -> (torchvision builder, its arguments, input side, small_gamma)
CASES = {
    "densenet121": ("densenet121", {}, 64, ()),
    "densenet161": ("densenet161", {}, 64, ()),
    "densenet169": ("densenet169", {}, 64, ()),
    "densenet201": ("densenet201", {}, 64, ()),
    "resnet18": ("resnet18", {}, 64, BASIC),
    "resnet34": ("resnet34", {}, 64, BASIC),
    "resnet50_v1_5": ("resnet50", {}, 64, BOTTLENECK),
    "resnet101_v1_5": ("resnet101", {}, 64, BOTTLENECK),
    "resnet152_v1_5": ("resnet152", {}, 64, BOTTLENECK),
    "vgg11": ("vgg11", {}, 224, ()),
    "vgg11_bn": ("vgg11_bn", {}, 224, ()),
    "vgg13": ("vgg13", {}, 224, ()),
    "vgg13_bn": ("vgg13_bn", {}, 224, ()),
    "vgg16": ("vgg16", {}, 224, ()),
    "vgg16_bn": ("vgg16_bn", {}, 224, ()),
    "vgg19": ("vgg19", {}, 224, ()),
    "vgg19_bn": ("vgg19_bn", {}, 224, ()),
    "alexnet": ("alexnet", {}, 224, ()),
    # as torchvision builds them for its weights: transform_input, and (Inception v3)
    # the auxiliary classifier, whose keys are left out of the conversion
    "googlenet": (
        "googlenet",
        {"transform_input": True, "aux_logits": False, "init_weights": True},
        96,
        (),
    ),
    "inception_v3": (
        "inception_v3",
        {"transform_input": True, "aux_logits": True, "init_weights": True},
        139,
        (),
    ),
}


@pytest.fixture(scope="module")
def torchvision():
    return import_torchvision()


def test_every_model_with_torchvision_weights_is_compared():
    with_tags = [r.name for r in keras_dense.models.model_records() if torchvision_weights(r)]
    assert sorted(with_tags) == sorted(CASES)


def _scaled_outputs(module, prefix, images):
    """Scales the last Linear layer so the largest |logit| is `LOGIT_SCALE`; the new logits.

    One eval forward pass keeps the classifier's input; the scaled layer is then
    applied to it, as the forward pass would.
    """
    import torch

    linear = dict(module.named_modules())[prefix]
    kept = []
    hook = linear.register_forward_hook(lambda layer, inputs, output: kept.append(inputs[0]))
    logits = torch_outputs(module, images)
    hook.remove()
    factor = float(LOGIT_SCALE / np.abs(logits).max())
    with torch.no_grad():
        linear.weight.mul_(factor)
        linear.bias.mul_(factor)
        return linear(kept[0]).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_converted_weights_give_torchvision_outputs(name, torchvision):
    torch, tv = torchvision
    builder, kwargs, size, small_gamma = CASES[name]
    record = keras_dense.model_record(name)
    images = preprocess_input(real_images(size), mode="torch")
    torch.manual_seed(0)
    reference = getattr(tv.models, builder)(weights=None, **kwargs)
    batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    randomize_like_trained(reference, batch, small_gamma=small_gamma)
    expected = _scaled_outputs(reference, LAYOUTS[record.family].classifier, images)
    aux_params = sum(
        p.numel()
        for key, p in reference.named_parameters()
        if key.startswith(LAYOUTS[record.family].training_only)
    )
    torch_params = sum(p.numel() for p in reference.parameters()) - aux_params

    model = record.build(
        weights=None,
        input_shape=(size, size, 3),
        classifier_activation=None,
        **torchvision_weights(record).arch,
    )
    from_torchvision(reference.state_dict(), model)
    got = keras.ops.convert_to_numpy(model(images, training=False))

    difference = float(np.abs(got - expected).max())
    spread = float(np.abs(expected[0] - expected[-1]).max())
    print(
        f"\n{name}: largest |difference| {difference:.2e} (largest |logit| "
        f"{np.abs(expected).max():.1f}, photos differ by {spread:.2f}, {size}x{size})"
    )
    assert got.shape == expected.shape == (len(images), 1000)
    assert spread > 0.1 * LOGIT_SCALE  # the photos are told apart
    assert difference <= TOLERANCE
    # torchvision's counts are trainable parameters (Inception v3's with its aux head)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == torch_params
    del reference, model
    keras.backend.clear_session()
    gc.collect()
