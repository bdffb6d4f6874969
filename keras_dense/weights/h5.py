"""Reading Keras weight files (.h5) and loading them into a model, all or nothing.

Kept instead of Keras's own HDF5 loader (`model.load_weights`): Keras leaves a
model half-loaded when a layer fails, reads neither the old `conv1/conv` names
nor a file for a model with its own head by name, and names no layer or shape
in its errors.

Two formats are read:

- Keras 2 HDF5 (the published ImageNet files): the root attribute
  `layer_names` lists the layers in model order; each layer is a group with the
  attribute `weight_names`. Names with `/` are nested groups: layer
  `conv1/conv` holds `conv1/conv/kernel:0`. Older files name layers
  `conv1/conv`, Keras 3 names them `conv1_conv`; both are accepted.
- Keras 3 `.weights.h5`: `layers/<group>/vars/<i>`, the layer name in the
  attribute `name` of `vars`.

A full model is loaded by order, as Keras does; a model with its own head is
loaded by name (`by_name=True`, or automatically when the layer counts
differ). Every shape is checked before anything is assigned, and a failed
assignment restores the previous weights.

Example:
    >>> from keras_dense.weights import h5
    >>> report = h5.load_weights(model, "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5")
    >>> print(report)
    loaded 505 layers by name, skipped 1 (not in the file): predictions
"""

import dataclasses
import os

import numpy as np


class WeightsFileError(ValueError):
    """The file is not a readable Keras weights file (missing, corrupt, truncated, not HDF5)."""


class WeightsMismatchError(ValueError):
    """The file does not fit the model: layer count, missing layer or shape."""


@dataclasses.dataclass(frozen=True)
class SavedLayer:
    """One layer's weights as stored: `name` and its arrays in saved order."""

    name: str
    arrays: tuple


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What `load_weights` did.

    Attributes:
        path: the file.
        mode: `"order"` or `"name"`.
        loaded: names of the model layers that received weights.
        skipped: names of model layers with weights that the file lacks.
        unused: names of file layers that no model layer took.
    """

    path: str
    mode: str
    loaded: tuple
    skipped: tuple = ()
    unused: tuple = ()

    def __str__(self):
        text = f"loaded {len(self.loaded)} layers by {self.mode} from {self.path}"
        text += f", skipped {len(self.skipped)}"
        if self.skipped:
            text += f" (not in the file): {', '.join(self.skipped)}"
        return text


def normalize_name(name):
    """Maps both naming generations to one: `conv1/conv` and `conv1_conv` -> `conv1_conv`."""
    return name.replace("/", "_")


def _decode(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _name_list(group, attr):
    """An attribute list of names, also when Keras split it into `attr0`, `attr1`, ..."""
    if attr in group.attrs:
        return [_decode(v) for v in group.attrs[attr]]
    names, chunk = [], 0
    while f"{attr}{chunk}" in group.attrs:
        names.extend(_decode(v) for v in group.attrs[f"{attr}{chunk}"])
        chunk += 1
    return names


def _read_keras2(root):
    layers = []
    for name in _name_list(root, "layer_names"):
        if name not in root:
            raise KeyError(f"layer group {name!r} listed in layer_names is missing")
        group = root[name]
        arrays = tuple(np.asarray(group[w]) for w in _name_list(group, "weight_names"))
        if arrays:
            layers.append(SavedLayer(name, arrays))
    return layers


def _read_keras3(root):
    layers = []
    for group_name in root["layers"]:  # h5py lists groups sorted; names are unique
        if "layers" in root["layers"][group_name]:
            raise WeightsFileError(
                f"Layer {group_name!r} of this Keras 3 weights file is a nested model, which "
                "this loader does not read; load the file with the same architecture's "
                "model.load_weights() instead."
            )
        vars_group = root["layers"][group_name].get("vars")
        if vars_group is None or not len(vars_group):
            continue
        name = _decode(vars_group.attrs.get("name", group_name))
        arrays = tuple(np.asarray(vars_group[str(i)]) for i in range(len(vars_group)))
        layers.append(SavedLayer(name, arrays))
    return layers


def read_weights_file(path):
    """Reads every layer's weights from a Keras 2 `.h5` or Keras 3 `.weights.h5` file.

    Args:
        path: the file.

    Returns:
        `(format, layers)`: `"keras2"` or `"keras3"`, and the `SavedLayer`s
        that have weights, in the file's layer order (Keras 2) or by name (Keras 3).

    Raises:
        WeightsFileError: the file is missing, not HDF5, truncated or damaged,
            or holds no layer weights.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsFileError(f"Weights file {path} does not exist.")
    try:
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"] if "model_weights" in handle else handle
            if "layer_names" in root.attrs or "layer_names0" in root.attrs:
                file_format, layers = "keras2", _read_keras2(root)
            elif "layers" in root:
                file_format, layers = "keras3", _read_keras3(root)
            else:
                raise WeightsFileError(
                    f"{path} is an HDF5 file but not a Keras weights file (no 'layer_names' "
                    "attribute and no 'layers' group)."
                )
    except WeightsFileError:
        raise
    except OSError as error:
        message = str(error)
        if "truncated" in message:
            raise WeightsFileError(
                f"{path} is truncated ({message}); the download or copy was incomplete: "
                "fetch the file again."
            ) from None
        if "signature" in message:
            raise WeightsFileError(
                f"{path} is not an HDF5 file; Keras weights files are .h5 (HDF5) files."
            ) from None
        raise WeightsFileError(
            f"{path} is damaged and cannot be read ({message}); fetch the file again."
        ) from None
    except (KeyError, ValueError, RuntimeError) as error:
        raise WeightsFileError(
            f"{path} is damaged and cannot be read ({error}); fetch the file again."
        ) from None
    if not layers:
        raise WeightsFileError(f"{path} holds no layer weights.")
    return file_format, layers


def _model_layers(model):
    """The model's top-level layers that have weights, in order (as Keras loads)."""
    return [layer for layer in model.layers if layer.weights]


def _layer_variables(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _check_pair(layer, saved):
    """Raises `WeightsMismatchError` unless `saved` fits `layer` exactly."""
    variables = _layer_variables(layer)
    if len(variables) != len(saved.arrays):
        raise WeightsMismatchError(
            f"Layer {layer.name!r} has {len(variables)} weights but the file's layer "
            f"{saved.name!r} has {len(saved.arrays)}; the file is for another architecture."
        )
    for variable, array in zip(variables, saved.arrays):
        if tuple(variable.shape) != array.shape:
            raise WeightsMismatchError(
                f"Layer {layer.name!r} weight {variable.name!r} has shape "
                f"{tuple(variable.shape)} but the file's layer {saved.name!r} has "
                f"{array.shape}; {_shape_hint(layer)}"
            )


def _shape_hint(layer):
    if layer.name == "predictions":
        return (
            "the class counts differ: build the model with the file's class count, or "
            "load the file by name into a model with its own head (include_top=False file)."
        )
    return "the file is for another architecture or input configuration."


def _pairs_by_order(model, saved_layers, path):
    layers = _model_layers(model)
    if len(layers) != len(saved_layers):
        raise WeightsMismatchError(
            f"The model {model.name!r} has {len(layers)} layers with weights but {path} has "
            f"{len(saved_layers)}; the file is for another architecture (or, for a model "
            "with its own head, load it by name)."
        )
    return list(zip(layers, saved_layers)), []


def _pairs_by_name(model, saved_layers, path):
    saved = {normalize_name(s.name): s for s in saved_layers}
    pairs, skipped = [], []
    for layer in _model_layers(model):
        match = saved.get(normalize_name(layer.name))
        if match is None:
            skipped.append(layer.name)
        else:
            pairs.append((layer, match))
    if not pairs:
        raise WeightsMismatchError(
            f"None of the layers of model {model.name!r} is in {path} (first missing: "
            f"{skipped[0]!r}); the file is for another architecture."
        )
    return pairs, skipped


def load_weights(model, path, by_name=None, require_all=False):
    """Loads a weights file into `model`, all or nothing.

    Args:
        model: a built `keras.Model`.
        path: a Keras 2 `.h5` or Keras 3 `.weights.h5` file.
        by_name: `False` loads by layer order (a full model, as Keras does);
            `True` loads by layer name, both naming generations, skipping the
            model's layers the file lacks (a model with its own head); `None`
            picks order when the layer counts agree and name otherwise.
            Keras 3 files are always loaded by name.
        require_all: raise if any model layer with weights is not loaded.

    Returns:
        A `LoadReport` with the loaded and skipped layers.

    Raises:
        WeightsFileError: the file cannot be read.
        WeightsMismatchError: a missing layer or a shape mismatch; the message
            names the layer and both shapes. The model is left unchanged.
    """
    path = os.fspath(path)
    file_format, saved_layers = read_weights_file(path)
    if file_format == "keras3":
        by_name = True
    elif by_name is None:
        by_name = len(saved_layers) != len(_model_layers(model))
    pair_fn = _pairs_by_name if by_name else _pairs_by_order
    pairs, skipped = pair_fn(model, saved_layers, path)
    if require_all and skipped:
        raise WeightsMismatchError(
            f"{path} has no weights for layer {skipped[0]!r} of model {model.name!r} "
            f"({len(skipped)} layers missing); the file is for another architecture."
        )
    for layer, saved in pairs:
        _check_pair(layer, saved)

    from keras import ops

    snapshot = [ops.convert_to_numpy(variable) for variable in model.weights]
    try:
        for layer, saved in pairs:
            for variable, array in zip(_layer_variables(layer), saved.arrays):
                variable.assign(array.astype(variable.dtype, copy=False))
    except BaseException:
        for variable, value in zip(model.weights, snapshot):
            variable.assign(value)
        raise
    used = {id(saved) for _, saved in pairs}
    return LoadReport(
        path=path,
        mode="name" if by_name else "order",
        loaded=tuple(layer.name for layer, _ in pairs),
        skipped=tuple(skipped),
        unused=tuple(s.name for s in saved_layers if id(s) not in used),
    )
