"""CIFAR-10 training: augmentation layer, recipes, `train` / `resume` / `evaluate`.

Names are imported on first use, so `keras_dense.training.recipe` (plain data)
loads without starting Keras.

Example:
    >>> from keras_dense import training
    >>> training.train("densenet_bc_100_k12", data="../shared/data/cifar10",
    ...                out="runs/bc100", recipe=training.preset("default", epochs=30))
"""

import importlib

_EXPORTS = {
    "ImageAugmentation": "keras_dense.training.augment",
    "with_augmentation": "keras_dense.training.augment",
    "PRESETS": "keras_dense.training.recipe",
    "Recipe": "keras_dense.training.recipe",
    "preset": "keras_dense.training.recipe",
    "make_loss": "keras_dense.training.optim",
    "make_optimizer": "keras_dense.training.optim",
    "TrainingDivergedError": "keras_dense.training.trainer",
    "evaluate": "keras_dense.training.trainer",
    "evaluation_report": "keras_dense.training.trainer",
    "resume": "keras_dense.training.trainer",
    "train": "keras_dense.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keras_dense.training' has no attribute {name!r}")


def __dir__():
    return __all__
