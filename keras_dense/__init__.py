"""keras_dense: the classic convolutional networks, DenseNet first, for Keras 3.

Attributes are imported on first use, so `import keras_dense` (and
`keras-dense --help`) does not start the Keras backend until it is needed.

Example:
    >>> import keras_dense
    >>> keras_dense.list_models("densenet*")
    >>> model = keras_dense.get_model("densenet169", weights=None)
    >>> keras_dense.count_flops(model)
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "get_model": "keras_dense.registry",
    "list_models": "keras_dense.registry",
    "model_entry": "keras_dense.registry",
    "register_model": "keras_dense.registry",
    "count_flops": "keras_dense.flops",
    "count_macs": "keras_dense.flops",
    "layer_macs": "keras_dense.flops",
    "summarize": "keras_dense.summary",
    "predict": "keras_dense.prediction",
    "preprocess_input": "keras_dense.imagenet_utils",
    "decode_predictions": "keras_dense.imagenet_utils",
    "finetune": "keras_dense.finetuning",
    "inference_model": "keras_dense.precision",
}
_SUBMODULES = (
    "densenet", "flops", "registry", "summary", "imagenet_utils", "images", "inference",
    "prediction", "weights", "lenet", "alexnet", "vgg", "googlenet", "finetuning",
    "resnet", "inception_v3", "dense_resnet", "datasets", "training",
    "fold", "precision", "recompute",
)

__all__ = sorted(list(_EXPORTS) + list(_SUBMODULES))


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_dense.{name}")
    raise AttributeError(f"module 'keras_dense' has no attribute {name!r}")


def __dir__():
    return __all__
