"""CIFAR-10 training: augmentation layer, recipes, `train` / `resume` / `evaluate`.

Example:
    >>> from keras_dense import training
    >>> training.train("densenet_bc_100_k12", data="../shared/data/cifar10",
    ...                out="runs/bc100", recipe=training.preset("default", epochs=30))
"""

from keras_dense.training.augment import ImageAugmentation, with_augmentation
from keras_dense.training.recipe import PRESETS, Recipe, make_loss, make_optimizer, preset
from keras_dense.training.trainer import (
    TrainingDivergedError,
    evaluate,
    evaluation_report,
    resume,
    train,
)

__all__ = [
    "ImageAugmentation", "PRESETS", "Recipe", "TrainingDivergedError", "evaluate",
    "evaluation_report", "make_loss", "make_optimizer", "preset", "resume", "train",
    "with_augmentation",
]
