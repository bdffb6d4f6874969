"""keras_dense: the classic convolutional networks, DenseNet first, for Keras 3.

Attributes are imported on first use, so `import keras_dense` (and
`keras-dense --help`) does not start the Keras backend until it is needed.

Example:
    >>> import keras_dense
    >>> keras_dense.list_models("densenet*")
    >>> model = keras_dense.get_model("densenet169", weights=None)
    >>> keras_dense.count_flops(model)
    >>> keras_dense.export("densenet169", "densenet169.onnx", format="onnx")
    >>> from keras_dense.models.densenet import DenseNet169, preprocess_input
"""

import importlib

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "get_model": "keras_dense.models._registry",
    "list_models": "keras_dense.models._registry",
    "model_record": "keras_dense.models._registry",
    "count_flops": "keras_dense.analysis.flops",
    "count_macs": "keras_dense.analysis.flops",
    "summarize": "keras_dense.analysis.summary",
    "predict": "keras_dense.imagenet.predict",
    "preprocess_input": "keras_dense.imagenet.preprocessing",
    "decode_predictions": "keras_dense.imagenet.classes",
    "finetune": "keras_dense.training.transfer",
    "features": "keras_dense.models.feature_maps",
    "gradcam": "keras_dense.analysis.gradcam",
    "export": "keras_dense.inference.export",
}
_SUBPACKAGES = ("models", "weights", "imagenet", "inference", "analysis", "datasets",
                "training", "cli")

__all__ = sorted(list(_EXPORTS) + list(_SUBPACKAGES))


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_dense.{name}")
    raise AttributeError(f"module 'keras_dense' has no attribute {name!r}")


def __dir__():
    return __all__
