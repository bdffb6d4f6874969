"""Everything keras_dense saves loads again in a fresh process after `import keras_dense`.

One subprocess (TensorFlow) builds and saves every record's tiny variant, the
memory-efficient DenseNet and dense_resnet, `include_preprocessing=True`
models, a fine-tuned model and a one-epoch training run folder, with each
model's outputs on a fixed input. Fresh subprocesses, one per backend and in
both import orders, load every file with `keras.saving.load_model` and compare
the outputs; `keras-dense evaluate RUN` and `keras-dense train --resume RUN`
run on the run folder in fresh processes too.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest
from cifar_samples import write_binary_cifar
from conftest import REPO_ROOT
from model_table import MODEL_CASES

TOLERANCE = 1e-5
# The saved models that hold keras_dense's own Keras objects.
CUSTOM = (
    "resnet20",
    "densenet121_memory_efficient",
    "dense_resnet_memory_efficient",
    "densenet121_include_preprocessing",
    "resnet20_finetuned",
    "run_last",
)
# backend: (import order, the models loaded, all when empty). Every model under TensorFlow
# (keras_dense, TensorFlow, Keras) and torch (Keras first); under JAX, which takes seconds a
# model on a CPU (it compiles every initializer and op), the models with keras_dense's own
# objects but dense_resnet's (the same layer as the memory-efficient DenseNet's).
BACKENDS = {
    "tensorflow": ("keras_dense_then_tensorflow", ()),
    "torch": ("keras_first", ()),
    "jax": (
        "keras_dense_first",
        tuple(name for name in CUSTOM if not name.startswith("dense_resnet")),
    ),
}

# argv: ORDER, then the mode's arguments. ORDER: "keras_first", "keras_dense_first", or
# "keras_dense_then_tensorflow" (TensorFlow asks importlib for Keras's spec, then imports it).
IMPORTS = r"""
import sys
if sys.argv[1] == "keras_first":
    import keras
    import keras_dense
elif sys.argv[1] == "keras_dense_then_tensorflow":
    import keras_dense
    import tensorflow
    import keras
else:
    import keras_dense
    import keras
import json, pathlib
import numpy as np
"""

# argv: ORDER FOLDER DATA. Writes FOLDER/NAME.keras (or a run folder) and FOLDER/NAME.npz
# (the input and the outputs), and FOLDER/manifest.json: {NAME: path of its .keras file}.
SAVE = (
    IMPORTS
    + r"""
from keras_dense.models import get_model, model_record, model_records
from keras_dense.training import trainer
from keras_dense.training.recipe import Recipe

folder, data = pathlib.Path(sys.argv[2]), sys.argv[3]
manifest = {}


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def keep(name, model, path, x):
    np.savez(folder / f"{name}.npz", x=x, y=outputs(model, x))
    manifest[name] = str(path)


def save(name, model):
    shape = (2,) + tuple(model.input_shape[1:])
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    path = folder / f"{name}.keras"
    model.save(path)
    keep(name, model, path, x)


keras.utils.set_random_seed(0)
for record in model_records():
    save(record.name, get_model(record.name, **record.tiny))
densenet = dict(model_record("densenet121").tiny)
save("densenet121_memory_efficient", get_model("densenet121", memory_efficient=True, **densenet))
save("dense_resnet_memory_efficient",
     get_model("dense_resnet", memory_efficient=True, **model_record("dense_resnet").tiny))
save("densenet121_include_preprocessing",
     get_model("densenet121", include_preprocessing=True, **densenet))
cifar = dict(model_record("resnet20").tiny)
save("resnet20_include_preprocessing",
     get_model("resnet20", include_preprocessing=True, **cifar))
cifar.pop("classes")
save("resnet20_finetuned", keras_dense.finetune("resnet20", classes=3, weights=None, **cifar))


class StopAfterFirstEpoch(keras.callbacks.Callback):
    # An interrupted run: epoch 1 of 2 is checkpointed, then training stops.
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


run = folder / "run"
recipe = Recipe(epochs=2, batch_size=16, lr=0.05, schedule="onecycle", warmup_epochs=0.5,
                label_smoothing=0.0)
cifar.pop("input_shape")
trainer.train("resnet20", data=data, out=run, recipe=recipe, model_kwargs=cifar, verbose=0,
              callbacks=[StopAfterFirstEpoch()])
images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("uint8")
for kept in ("best", "last"):
    keep(f"run_{kept}", keras.saving.load_model(run / f"{kept}.keras"), run / f"{kept}.keras",
         images)
(folder / "manifest.json").write_text(json.dumps(manifest))
"""
)

# argv: ORDER FOLDER [NAME,NAME...]. Loads the named models (default all), prints
# {"backend": ..., "failures": {NAME: why it failed}} as JSON.
LOAD = (
    IMPORTS
    + r"""
folder = pathlib.Path(sys.argv[2])
manifest = json.loads((folder / "manifest.json").read_text())
names = sys.argv[3].split(",") if len(sys.argv) > 3 else list(manifest)
failures = {}
for name in names:
    path = manifest[name]
    saved = np.load(folder / f"{name}.npz")
    try:
        model = keras.saving.load_model(path)
        y = keras.ops.convert_to_numpy(model(saved["x"], training=False))
        if y.shape != saved["y"].shape or not np.allclose(y, saved["y"], rtol=TOLERANCE,
                                                           atol=TOLERANCE):
            failures[name] = f"outputs differ by up to {np.max(np.abs(y - saved['y']))}"
    except Exception as error:  # one line per model, so that one failure shows them all
        failures[name] = f"{type(error).__name__}: {str(error)[:300]}"
print(json.dumps({"backend": keras.backend.backend(), "failures": failures}))
""".replace("TOLERANCE", repr(TOLERANCE))
)


def _start(code, *args, folder, backend="tensorflow", log):
    """Starts `python -c CODE ARGS...` in a fresh process under `backend`, in `folder`, with
    this checkout first on the path and its output in `folder/log.out`, `folder/log.err`."""
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": str(REPO_ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_DENSE_BACKGROUND_EXPORT": "0",
    }
    with open(folder / f"{log}.out", "w") as out, open(folder / f"{log}.err", "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            stdout=out,
            stderr=err,
            cwd=folder,
            env=env,
        )
    process.log = folder / log
    return process


def _finish(process, timeout=600):
    """Waits for a process of `_start`; returns its stdout, failing the test with its output
    unless it exited 0."""
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        status = "timed out"
    out = process.log.with_suffix(".out").read_text()
    err = process.log.with_suffix(".err").read_text()
    assert status == 0, f"exit status {status}\n{out[-2000:]}\n{err[-4000:]}"
    return out


CLI = "import sys; from keras_dense.cli import main; sys.exit(main())"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The folder of saved models, their outputs and the run folder (one save process)."""
    folder = tmp_path_factory.mktemp("saved")
    data = write_binary_cifar(folder, train=32, test=16)
    _finish(_start(SAVE, "keras_dense_first", folder, data, folder=folder, log="save"))
    return folder


@pytest.fixture(scope="module")
def started(saved):
    """Every fresh process the tests check, started at once: they only read the saved files
    (the resumed run is a copy of the run folder)."""
    shutil.copytree(saved / "run", saved / "run_resumed")
    backends = [backend for backend in BACKENDS if importlib.util.find_spec(backend)]
    processes = {
        backend: _start(
            LOAD,
            order,
            saved,
            *([",".join(names)] if names else []),
            folder=saved,
            backend=backend,
            log=f"load_{backend}",
        )
        for backend, (order, names) in BACKENDS.items()
        if backend in backends
    }
    processes["evaluate"] = _start(CLI, "evaluate", saved / "run", folder=saved, log="evaluate")
    processes["resume"] = _start(
        CLI, "train", "--resume", saved / "run_resumed", "--quiet", folder=saved, log="resume"
    )
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def _failures(started, backend):
    report = json.loads(_finish(started[backend]).strip().splitlines()[-1])
    assert report["backend"] == backend
    return report["failures"]


def test_every_saved_model_loads_in_a_fresh_process(saved, started):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert set(CUSTOM) | {"resnet56", "resnet110"} <= set(manifest)
    assert len(manifest) == len(MODEL_CASES) + 7
    assert _failures(started, "tensorflow") == {}


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_saved_models_load_under_the_other_backends(started, backend):
    if backend not in started:
        pytest.skip(f"{backend} is not installed")
    assert _failures(started, backend) == {}


def test_evaluate_and_resume_a_run_in_fresh_processes(saved, started):
    assert "test accuracy" in _finish(started["evaluate"])
    run = saved / "run_resumed"
    assert f"Resuming {run} after epoch 1 of 2." in _finish(started["resume"])
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 3  # the header, epoch 1 and the resumed epoch 2
