"""keras_dense: the classic convolutional networks, DenseNet first, for Keras 3.

Attributes are imported on first use, so `import keras_dense` (and
`keras-dense --help`) does not start the Keras backend until it is needed.

Saved models: the Keras objects keras_dense puts in `.keras` files (its custom
layers, the `OneCycle` schedule) are registered with Keras as soon as both
keras_dense and Keras are imported, in either order, so that
`keras.saving.load_model(path)` finds them in a fresh process after
`import keras_dense` (Keras imports the module a saved config names for its own
packages only; any other class has to be registered before loading).

Example:
    >>> import keras_dense
    >>> keras_dense.list_models("densenet*")
    >>> model = keras_dense.get_model("densenet169", weights=None)
    >>> keras_dense.count_flops(model)
    >>> keras_dense.export("densenet169", "densenet169.onnx", format="onnx")
    >>> from keras_dense.models.densenet import DenseNet169, preprocess_input
"""

import importlib
import sys
import warnings

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "get_model": "keras_dense.models._registry",
    "list_models": "keras_dense.models._registry",
    "model_record": "keras_dense.models._registry",
    "count_flops": "keras_dense.analysis.flops",
    "count_macs": "keras_dense.analysis.flops",
    "summarize": "keras_dense.analysis.summary",
    "predict": "keras_dense.inference.predict",
    "preprocess_input": "keras_dense.imagenet.preprocessing",
    "decode_predictions": "keras_dense.imagenet.classes",
    "finetune": "keras_dense.training.transfer",
    "features": "keras_dense.models.feature_maps",
    "gradcam": "keras_dense.analysis.gradcam",
    "export": "keras_dense.inference.export",
    "embed": "keras_dense.inference.embed",
    "load_run": "keras_dense.inference.runs",
}
_SUBPACKAGES = (
    "models",
    "weights",
    "imagenet",
    "inference",
    "analysis",
    "datasets",
    "training",
    "cli",
)

__all__ = sorted(list(_EXPORTS) + list(_SUBPACKAGES))


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_dense.{name}")
    raise AttributeError(f"module 'keras_dense' has no attribute {name!r}")


def __dir__():
    return __all__


# The modules that define the Keras objects keras_dense writes into saved models;
# importing one registers its objects (`keras.saving.register_keras_serializable`).
# Each imports only Keras and keras_dense modules that do not import Keras at load
# time, so the registration cannot meet a half-imported keras_dense module.
_SERIALIZABLE_MODULES = (
    "keras_dense.models._layers",  # ChannelZeroPadding (CIFAR ResNets)
    "keras_dense.models._recompute",  # RecomputedDenseLayer (memory_efficient=True)
    "keras_dense.imagenet.preprocessing_layer",  # ImageNetPreprocessing (include_preprocessing)
    "keras_dense.training.augment",  # ImageAugmentation (the front of trained models)
    "keras_dense.training.optim",  # OneCycle (the optimizer state of a run's last.keras)
)


def _register_serializables():
    try:
        for module in _SERIALIZABLE_MODULES:
            importlib.import_module(module)
    except Exception as error:  # never break `import keras` for the user
        warnings.warn(
            f"keras_dense could not register its saved-model layers ({error}); "
            "loading .keras files of keras_dense models may fail.",
            stacklevel=2,
        )


class _LoaderThenRegister:
    """Runs Keras's own loader, then registers keras_dense's objects."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Keras keeps its own loader: importlib.resources and reloads go through it.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        for finder in [f for f in sys.meta_path if isinstance(f, _AfterKerasImport)]:
            try:
                sys.meta_path.remove(finder)
            except ValueError:  # another thread removed it first
                pass
        _register_serializables()


class _AfterKerasImport:
    """A `sys.meta_path` finder that hooks the import of the `keras` package, and leaves
    `sys.meta_path` once Keras is imported: the registration waits for Keras, at no cost
    to `import keras_dense`. (Only loading removes it: `importlib.util.find_spec("keras")`,
    which TensorFlow calls, finds a spec that is never loaded.)"""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = None if finder is self or find is None else find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _LoaderThenRegister(spec.loader)
                return spec
        return None


if "keras" in sys.modules:
    _register_serializables()
elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasImport())
