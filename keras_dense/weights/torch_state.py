"""Reading PyTorch state dicts (`.pth`) safely, as NumPy arrays.

A `.pth` file is a pickle, and unpickling can run any code the file names.
Files are therefore read only with `torch.load(weights_only=True)`, which
accepts tensors, plain containers and numbers and refuses everything else
before it runs; nothing here ever unpickles without it. PyTorch is an
optional dependency (`pip install "keras-dense[torch]"`): only reading a
`.pth` file needs it.

Example:
    >>> from keras_dense.weights import torch_state
    >>> state = torch_state.read_state_dict("densenet161-8d451a50.pth")
    >>> state["features.conv0.weight"].shape
    (96, 3, 7, 7)
"""

import os
import re
from collections.abc import Mapping

import numpy as np

from keras_dense.weights import safetensors_state
from keras_dense.weights.h5 import WeightsFileError

# Keys under which training scripts nest the state dict in a checkpoint.
CHECKPOINT_KEYS = ("state_dict", "model", "model_state_dict")
TORCH_EXTRA = 'pip install "keras-dense[torch]" (or pip install torch)'
# The first PyTorch whose torch.load(weights_only=True) has no known bypass: 2.6.0 fixed
# CVE-2025-32434 (GHSA-53q9-r3pm-6pq6), 2.10.0 CVE-2026-24747 (GHSA-63cw-57p8-fm3p); the
# torch extra in setup.cfg asks for the same.
MIN_TORCH = (2, 10)


class TorchUnavailableError(ImportError, ValueError):
    """PyTorch is not installed, and reading a `.pth` file needs it.

    A `ValueError` too, so that the command line reports it as one line.
    """


def import_torch():
    """`torch`, or `TorchUnavailableError` with the one line that says how to install it."""
    try:
        import torch
    except ImportError:
        raise TorchUnavailableError(
            f"Reading PyTorch .pth files needs PyTorch, which is not installed: {TORCH_EXTRA}."
        ) from None
    return torch


def torch_release(version):
    """`"2.13.0+cpu"` -> `(2, 13, 0)`: the release numbers at the start of a version string
    (pre-releases count as their release); `None` when it starts with no number."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(version))
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def check_torch_version(version):
    """Refuses a PyTorch older than `MIN_TORCH` for reading `.pth` files.

    Args:
        version: the installed version string (`torch.__version__`).

    Raises:
        TorchUnavailableError: the version is older, or cannot be read (one line naming
            the installed and the required versions and the pip command).
    """
    release = torch_release(version)
    if release is None or release < MIN_TORCH:
        required = ".".join(map(str, MIN_TORCH))
        raise TorchUnavailableError(
            f"PyTorch {version} is installed, but reading .pth files needs PyTorch >= "
            f"{required} (older torch.load(weights_only=True) can be made to run code, "
            f'CVE-2025-32434, CVE-2026-24747): pip install "torch>={required}".'
        )


def load_pth(path):
    """The object in a `.pth` file, read with `torch.load(weights_only=True)` on the CPU.

    Args:
        path: the file.

    Returns:
        What the file holds (a state dict: a mapping of names to tensors).

    Raises:
        TorchUnavailableError: PyTorch is not installed, or older than `MIN_TORCH`.
        WeightsFileError: the file is missing, not a PyTorch file, damaged, or
            holds objects other than tensors (a pickle that could run code),
            which `weights_only=True` refuses before running anything.
    """
    import pickle

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsFileError(f"Weights file {path} does not exist.")
    torch = import_torch()
    check_torch_version(torch.__version__)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "refused"
        raise WeightsFileError(
            f"{path} holds objects other than tensors, and torch.load(weights_only=True) "
            f"refused it ({reason}); only plain state dicts are read, since unpickling "
            "anything else can run code. If you trust its source, load it with torch yourself "
            "and pass the state dict."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsFileError(
            f"{path} is not a readable PyTorch file ({message}); the download or copy may be "
            "incomplete: fetch the file again."
        ) from None


def _unwrap(state, where):
    """The state dict itself: a training checkpoint's nested one, `module.` prefixes dropped."""
    if not isinstance(state, Mapping):
        raise WeightsFileError(
            f"{where} holds a {type(state).__name__}, not a state dict "
            "(a mapping of parameter names to tensors)."
        )
    for key in CHECKPOINT_KEYS:
        if isinstance(state.get(key), Mapping) and not any(_is_array(v) for v in state.values()):
            state = state[key]
            break
    if state and all(str(k).startswith("module.") for k in state):  # saved from DataParallel
        state = {str(k)[len("module.") :]: v for k, v in state.items()}
    return state


def _is_array(value):
    return isinstance(value, np.ndarray) or hasattr(value, "detach")


def _to_numpy(value, key, where):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # a torch.Tensor
        tensor = value.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.float()  # bfloat16 / float16 have no (exact) NumPy twin
        return tensor.numpy()
    raise WeightsFileError(
        f"{where}: key {key!r} holds a {type(value).__name__}, not a tensor; "
        "a state dict maps parameter names to tensors."
    )


def read_state_dict(source):
    """A state dict as `{name: numpy array}`, from a `.pth` or `.safetensors` file or a mapping.

    Args:
        source: a path to a `.pth` file, a `.safetensors` file (timm's; read
            without PyTorch, `safetensors_state`), or a state dict (tensors or arrays).
            A checkpoint that nests the state dict under `"state_dict"` or
            `"model"` and keys with DataParallel's `module.` prefix are accepted.

    Returns:
        A dict of NumPy arrays, in the source's key order (float tensors as float32).

    Raises:
        TorchUnavailableError: a file was given and PyTorch is not installed.
        WeightsFileError: the file cannot be read safely, or holds no state dict.

    Example:
        >>> read_state_dict(torchvision_model.state_dict())["fc.weight"].shape
        (1000, 512)
    """
    if isinstance(source, Mapping):
        where, state = "the state dict", source
    elif safetensors_state.is_safetensors(source):
        where, state = os.fspath(source), safetensors_state.read_safetensors(source)
    else:
        where, state = os.fspath(source), load_pth(source)
    state = _unwrap(state, where)
    arrays = {str(key): _to_numpy(value, key, where) for key, value in state.items()}
    if not arrays:
        raise WeightsFileError(f"{where} is an empty state dict.")
    return arrays
