"""The test table, read from the model records (`ModelRecord.tiny` is each model's small variant).

Adding a model is one record: its row here, its parameter check and its tiny
build, save/reload and training tests follow from it.
"""

import dataclasses

import keras_dense


@dataclasses.dataclass(frozen=True)
class ModelCase:
    name: str  # registry name
    tiny: dict  # builder kwargs of a small variant (with input_shape and classes)

    @property
    def input_shape(self):
        return tuple(self.tiny["input_shape"])

    @property
    def classes(self):
        return self.tiny["classes"]

    def __str__(self):
        return self.name


MODEL_CASES = [ModelCase(r.name, dict(r.tiny)) for r in keras_dense.models.model_records()]

# The keras.applications builder of every model whose weights Keras publishes
# (test_twins.py fails for a keras_imagenet record missing here).
KERAS_APPLICATIONS_BUILDERS = {
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "inception_v3": "InceptionV3",
}
# Twins by layer order and weight shapes whose names match Keras's only where
# Keras names a layer explicitly (it leaves the others auto-numbered); Keras's
# .h5 files load by layer order, so the published weights still fit.
ORDER_ONLY_TWINS = ("inception_v3",)
KERAS_APPLICATIONS_TWINS = {
    name: builder
    for name, builder in KERAS_APPLICATIONS_BUILDERS.items()
    if name not in ORDER_ONLY_TWINS
}
KERAS_APPLICATIONS_ORDER_TWINS = {
    name: KERAS_APPLICATIONS_BUILDERS[name] for name in ORDER_ONLY_TWINS
}


def tiny_resnet18(**overrides):
    """ResNet-18's tiny variant (its record's `tiny`: 32x32 inputs), random weights, with
    ImageNet's 1000 classes unless `overrides` (builder arguments) say otherwise."""
    tiny = keras_dense.models.model_record("resnet18").tiny
    return keras_dense.get_model("resnet18", weights=None, **{**tiny, "classes": 1000, **overrides})
