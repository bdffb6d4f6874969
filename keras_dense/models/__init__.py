"""The architectures: one module per family, each a set of blocks, a config and its records.

- `_registry.py`: `ModelRecord`, `register_model`, `get_model`, `list_models`, `record_of`.
- `_builder.py`: the builder frame every family shares (`ArchConfig`, `build_model`).
- `_layers.py`: conv-BN-ReLU, BN-ReLU, classifier heads, global pooling.
- `_recompute.py`: the memory-efficient DenseNet layer.
- `densenet`, `resnet`, `vgg`, `inception_v3`, `googlenet`, `alexnet`, `lenet`: the families.

Example:
    >>> from keras_dense.models import densenet, get_model
    >>> model = densenet.DenseNet169(weights=None)
    >>> cifar = get_model("densenet_bc_100_k12")
"""

from keras_dense._families import FAMILIES
from keras_dense.models._registry import (
    ModelRecord,
    WeightsFile,
    WeightsRecord,
    get_model,
    list_models,
    model_record,
    model_records,
    record_of,
    register_model,
    weights_record,
    weights_records,
)

__all__ = [
    "FAMILIES",
    "ModelRecord",
    "WeightsFile",
    "WeightsRecord",
    "get_model",
    "list_models",
    "model_record",
    "model_records",
    "record_of",
    "register_model",
    "weights_record",
    "weights_records",
]


def __getattr__(name):
    if name in FAMILIES:
        import importlib

        return importlib.import_module(f"keras_dense.models.{name}")
    raise AttributeError(f"module 'keras_dense.models' has no attribute {name!r}")
