"""Writes weight files of exactly the published Keras 2 HDF5 layout, for tests.

The published ImageNet files were written by Keras 2 `save_weights`: the root
attributes `layer_names` (every layer, in model order), `backend` and
`keras_version`; one group per layer with the attribute `weight_names`
(`"<layer>/<weight>:0"`); a `/` in a name makes nested groups. The first
DenseNet files named layers `conv1/conv`, `conv1/bn` and the classifier
`fc1000` ("keras2-slash"); later files use Keras 3 names `conv1_conv`
("keras2").
"""

import h5py
import numpy as np

NAMING = ("keras2", "keras2-slash")


def old_layer_name(name):
    """The first Keras DenseNet files' name of a layer: `conv1_conv` -> `conv1/conv`."""
    if name == "predictions":
        return "fc1000"
    if name.startswith("conv1_"):
        return "conv1/" + name[len("conv1_") :]
    return name


def randomize(model, seed=0, logit_scale=0.05, input_std=1.0):
    """Gives `model` reproducible random weights with moderate activations.

    Batch-norm statistics are random but positive variances; the classifier is
    scaled down so the softmax is not saturated (distinct top-5 probabilities).

    Args:
        model: a built `keras.Model`; its weights are overwritten.
        seed: the random seed.
        logit_scale: factor on the classifier's kernel.
        input_std: spread of the inputs the model will see; the first kernel is
            divided by it (caffe-mode pixels span about +-128; unscaled, every
            activation and logit is ~100x larger and float32 rounding alone moves
            saturated probabilities by more than 1e-5).

    Returns:
        `model`.
    """
    rng = np.random.default_rng(seed)
    first_kernel = True
    for layer in model.layers:
        for variable in layer.weights:
            shape = tuple(variable.shape)
            name = variable.path.split("/")[-1]
            if name == "moving_variance":
                value = rng.uniform(0.5, 1.5, shape)
            elif name == "gamma":
                value = rng.uniform(0.8, 1.2, shape)
            elif name in ("beta", "moving_mean", "bias"):
                value = rng.normal(0.0, 0.1, shape)
            else:  # kernels: He-normal so activations keep their scale
                fan_in = int(np.prod(shape[:-1]))
                value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
                if layer.name == "predictions":
                    value *= logit_scale
                if first_kernel:
                    value /= input_std
                    first_kernel = False
            variable.assign(value.astype("float32"))
    return model


def write_keras2_h5(model, path, naming="keras2", keras_version="2.2.4"):
    """Writes `model`'s weights as a published Keras 2 `.h5` file.

    Args:
        model: a built `keras.Model`.
        path: output file.
        naming: `"keras2"` (layer names as they are) or `"keras2-slash"`
            (`conv1/conv`, `fc1000`: the first DenseNet files).
        keras_version: value of the root `keras_version` attribute.

    Returns:
        `path`.
    """
    rename = old_layer_name if naming == "keras2-slash" else (lambda name: name)
    names = [rename(layer.name) for layer in model.layers]
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [n.encode("utf8") for n in names]
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = keras_version.encode("utf8")
        for layer, name in zip(model.layers, names):
            group = handle.create_group(name)  # "conv1/conv" -> nested groups
            variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
            weight_names = [f"{name}/{v.path.split('/')[-1]}:0" for v in variables]
            group.attrs["weight_names"] = [w.encode("utf8") for w in weight_names]
            for weight_name, variable in zip(weight_names, variables):
                group.create_dataset(weight_name, data=np.asarray(variable))
    return path


def publish_stand_in(monkeypatch, tmp_path, model, name, include_top):
    """Writes `model`'s weights as the published file of weight tag `name` (`model.tag`)
    in the Keras 2 layout, and points that record's hash at it: no published file can
    be downloaded here, so this stands in for it. Returns the file's path."""
    import dataclasses
    import hashlib

    from keras_dense.models import _registry

    record = _registry.weights_record(name)
    weights_file = record.file_for(include_top)
    path = write_keras2_h5(model, tmp_path / weights_file.file_name)
    stand_in = dataclasses.replace(
        weights_file,
        file_hash=hashlib.new(weights_file.hash_algorithm, path.read_bytes()).hexdigest(),
    )
    field = "file" if weights_file is record.file else "notop_file"
    new_record = dataclasses.replace(record, **{field: stand_in})
    model_record = _registry.model_record(record.model)
    weights = tuple(new_record if w.tag == record.tag else w for w in model_record.weights)
    monkeypatch.setitem(
        _registry._RECORDS, model_record.name, dataclasses.replace(model_record, weights=weights)
    )
    monkeypatch.setenv("KERAS_DENSE_WEIGHTS", str(tmp_path))
    return path
