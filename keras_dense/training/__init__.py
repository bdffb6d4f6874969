"""CIFAR-10 training: augmentation layer, recipes, `train` / `resume` / `evaluate`.

Modules: `recipe` (plain data), `optim` (optimizer, schedules, loss),
`augment` (the on-device augmentation layer), `data` (arrays and fixed-shape
batches), `run_folder` (the run's files), `callbacks` (`RunRecorder`),
`evaluation` (test passes, `evaluate`), `distribute` (several devices),
`trainer` (`train`, `resume`), `plots`, `transfer` (`finetune`); device
detection is `keras_dense._device`.

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
    "RunRecorder": "keras_dense.training.callbacks",
    "EpochBatches": "keras_dense.training.data",
    "load_data": "keras_dense.training.data",
    "evaluate": "keras_dense.training.evaluation",
    "evaluation_report": "keras_dense.training.evaluation",
    "predict_probabilities": "keras_dense.training.evaluation",
    "PRESETS": "keras_dense.training.recipe",
    "Recipe": "keras_dense.training.recipe",
    "auto_bn_momentum": "keras_dense.training.recipe",
    "preset": "keras_dense.training.recipe",
    "make_loss": "keras_dense.training.optim",
    "make_optimizer": "keras_dense.training.optim",
    "read_history": "keras_dense.training.run_folder",
    "read_state": "keras_dense.training.run_folder",
    "TrainingDivergedError": "keras_dense.training.trainer",
    "resume": "keras_dense.training.folder_train",
    "train_folder": "keras_dense.training.folder_train",
    "scan_folder": "keras_dense.training.folder_data",
    "FolderBatches": "keras_dense.training.folder_data",
    "train": "keras_dense.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'keras_dense.training' has no attribute {name!r}")


def __dir__():
    return __all__
