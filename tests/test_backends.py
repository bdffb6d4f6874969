"""The model code is pure keras.layers/keras.ops: it runs under every installed backend.

Each backend runs in its own subprocess (a process can hold only one). A backend
that is not installed is skipped with the reason; CI installs torch (CPU) so at
least two backends are exercised.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, numpy as np, keras, keras_dense
keras.utils.set_random_seed(0)
model = keras_dense.get_model("densenet_bc_100_k12", blocks=(2, 2, 2), growth_rate=4, classes=3)
x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype("float32")
y = np.array([0, 1, 2, 0])
probs = keras.ops.convert_to_numpy(model(x))
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
before = [w.copy() for w in model.get_weights()]
loss = float(model.train_on_batch(x, y))
changed = sum(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
print(json.dumps({"backend": keras.backend.backend(), "shape": list(probs.shape),
                  "sums": probs.sum(axis=1).tolist(), "loss": loss, "changed": changed}))
"""

BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_forward_and_training_step_under_backend(backend):
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"the {backend} backend is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert report["shape"] == [4, 3]
    assert report["sums"] == pytest.approx([1.0] * 4, abs=1e-5)
    assert report["loss"] > 0 and report["changed"] > 0
