"""The one table of models that the model tests are driven by.

Each family adds its rows here. `tiny` holds builder arguments that make the
model small enough for a 2-core CPU test (growth rate 2-4, 32x32 inputs); the
expected parameter counts of the full default models live in the registry
(`ModelEntry.params`) and are checked against built models in test_models.py.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ModelCase:
    name: str  # registry name
    tiny: dict  # builder kwargs of a small variant
    input_shape: tuple = (32, 32, 3)
    classes: int = 5

    def __str__(self):
        return self.name


TINY_DENSENET = {"blocks": (1, 2, 1, 1), "growth_rate": 4}
TINY_CIFAR_DENSENET = {"blocks": (2, 2, 2), "growth_rate": 4}
TINY_VGG = {"width": 1 / 16, "fc_units": 32}  # 4..32 filters, 32-unit hidden layers
TINY_ALEXNET = {"width": 1 / 8, "fc_units": 32}
TINY_GOOGLENET = {"width": 1 / 8}
TINY_RESNET = {"depths": (1, 1, 1, 1), "widths": (4, 4, 8, 8), "stem_filters": 4}
TINY_CIFAR_RESNET = {"depths": (1, 1, 1), "widths": (4, 8, 8), "stem_filters": 4}

MODEL_CASES = [
    ModelCase("densenet121", TINY_DENSENET),
    ModelCase("densenet169", TINY_DENSENET),
    ModelCase("densenet201", TINY_DENSENET),
    ModelCase("densenet264", TINY_DENSENET),
    ModelCase("densenet121_cifar", TINY_DENSENET),
    ModelCase("densenet_40_k12", TINY_CIFAR_DENSENET),
    ModelCase("densenet_bc_100_k12", TINY_CIFAR_DENSENET),
    ModelCase("densenet_bc_250_k24", TINY_CIFAR_DENSENET),
    ModelCase("densenet_bc_190_k40", TINY_CIFAR_DENSENET),
    ModelCase("lenet5", {}, input_shape=(32, 32, 1)),
    ModelCase("alexnet", TINY_ALEXNET, input_shape=(64, 64, 3)),
    ModelCase("vgg11", TINY_VGG),
    ModelCase("vgg11_bn", TINY_VGG),
    ModelCase("vgg13", TINY_VGG),
    ModelCase("vgg13_bn", TINY_VGG),
    ModelCase("vgg16", TINY_VGG),
    ModelCase("vgg16_bn", TINY_VGG),
    ModelCase("vgg16_c", TINY_VGG),
    ModelCase("vgg19", TINY_VGG),
    ModelCase("vgg19_bn", TINY_VGG),
    ModelCase("vgg16_bn_cifar", TINY_VGG),
    ModelCase("googlenet", TINY_GOOGLENET),
    ModelCase("resnet18", TINY_RESNET),
    ModelCase("resnet34", TINY_RESNET),
    ModelCase("resnet50", TINY_RESNET),
    ModelCase("resnet101", TINY_RESNET),
    ModelCase("resnet152", TINY_RESNET),
    ModelCase("resnet20", TINY_CIFAR_RESNET),
    ModelCase("resnet56", TINY_CIFAR_RESNET),
    ModelCase("resnet110", TINY_CIFAR_RESNET),
    ModelCase(
        "inception_v3", {"width": 0.0625, "blocks": (1, 1, 1)}, input_shape=(75, 75, 3)
    ),
    ModelCase("dense_resnet", {"blocks": (1, 2, 1, 1), "growth_rate": 4}),
]

# Models that must be interchangeable with keras.applications (same layers,
# names, order and weight shapes): registry name -> keras.applications builder.
KERAS_APPLICATIONS_TWINS = {
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
}

# Twins by layer order and weight shapes, whose names match Keras's only where
# Keras names a layer explicitly (it leaves the others auto-numbered); Keras's
# .h5 files load by layer order, so the published weights still fit.
KERAS_APPLICATIONS_ORDER_TWINS = {
    "inception_v3": "InceptionV3",
}
