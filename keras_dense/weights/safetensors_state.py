"""Reading `.safetensors` state dicts (timm's `model.safetensors`) as NumPy arrays, without torch.

safetensors is a flat format (a JSON header, then the raw tensors): reading it
runs no code, so unlike a `.pth` pickle it needs neither PyTorch nor
`weights_only`; `safetensors.numpy` reads it straight into NumPy.

Example:
    >>> from keras_dense.weights import safetensors_state
    >>> state = safetensors_state.read_safetensors("model.safetensors")
    >>> state["conv1.weight"].shape
    (64, 3, 7, 7)
"""

import os

import numpy as np

from keras_dense.weights.h5 import WeightsFileError

SUFFIX = ".safetensors"


def is_safetensors(source) -> bool:
    """Whether `source` is a path to a `.safetensors` file (by its name)."""
    return isinstance(source, (str, os.PathLike)) and os.fspath(source).lower().endswith(SUFFIX)


def read_safetensors(path: str | os.PathLike) -> dict:
    """The tensors of a `.safetensors` file, as `{name: numpy array}` (floats as float32).

    Args:
        path: the file.

    Returns:
        A dict of NumPy arrays in the file's key order.

    Raises:
        WeightsFileError: the file is missing, damaged or truncated, holds a dtype
            NumPy cannot represent (bfloat16: convert the file to float32 first),
            or holds no tensors; one sentence naming the file.

    Example:
        >>> read_safetensors("model.safetensors")["fc.weight"].shape
        (1000, 2048)
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsFileError(f"Weights file {path} does not exist.")
    try:
        state = load_file(path)
    except (SafetensorError, OSError, ValueError, TypeError, KeyError, OverflowError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsFileError(
            f"{path} is not a readable safetensors file ({message}); the download or copy may "
            "be incomplete: fetch the file again."
        ) from None
    if not state:
        raise WeightsFileError(f"{path} is an empty state dict (a safetensors file of no tensors).")
    return {
        key: value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value
        for key, value in state.items()
    }
