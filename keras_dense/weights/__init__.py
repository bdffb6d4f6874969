"""Model weights: published files found offline first, verified, and loaded all or nothing.

- `resolve`: the search folders, the hash check, one download.
- `h5`: reading Keras 2 `.h5` and Keras 3 `.weights.h5`, loading by order or by name.
- `sources`: the helpers the model records describe their published files with.
- `torch_state`: reading `.pth` state dicts safely (`torch.load(weights_only=True)`).
- `safetensors_state`: reading `.safetensors` state dicts (timm's), without PyTorch.
- `hub`: files on the Hugging Face Hub, found in its cache first, then downloaded.
- `torchvision`: torchvision's state dicts into our models (`from_torchvision`).
- `converted`: torchvision and timm tags' files found, verified, converted once and cached.
- `records`: `WeightsFile` and `WeightsRecord`, what a published file is.

The published files themselves are described in the model records
(`keras_dense.models.model_record(name).weights`); this package never looks a model
up. What a `weights=` argument names, and loading it into a registered model
(`load_into`, `from_torchvision` by model name, `published_path`), is
`keras_dense.models.pretrained`.

Example:
    >>> from keras_dense import weights
    >>> report = weights.load_weights(model, "my_weights.weights.h5")
"""

from keras_dense.weights.h5 import (
    LoadReport,
    WeightsFileError,
    WeightsMismatchError,
    load_weights,
    read_weights_file,
)
from keras_dense.weights.records import WeightsFile, WeightsRecord
from keras_dense.weights.resolve import WeightsHashError, WeightsUnavailableError
from keras_dense.weights.torch_state import TorchUnavailableError

__all__ = [
    "STATE_DICT_SUFFIXES",
    "TORCH_SUFFIXES",
    "LoadReport",
    "TorchUnavailableError",
    "WeightsFile",
    "WeightsFileError",
    "WeightsHashError",
    "WeightsMismatchError",
    "WeightsRecord",
    "WeightsUnavailableError",
    "load_weights",
    "read_weights_file",
]
# A path ending so is a PyTorch state dict (converted on load); any other, a Keras file.
TORCH_SUFFIXES = (".pth", ".pt")
# A path ending so holds a state dict in torchvision's key names: converted on load.
STATE_DICT_SUFFIXES = (*TORCH_SUFFIXES, ".safetensors")
