"""The model and training code run under every installed backend.

Each backend runs in its own subprocess (a process can hold only one). A backend
that is not installed is skipped with the reason; CI installs torch and JAX
(CPU builds) beside TensorFlow. The training tests run in the main process
under the default backend (TensorFlow) and again here under JAX, with two
CPU devices for the data-parallel test.
"""

import importlib.util
import json
import os
import pathlib
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

BACKENDS = {"tensorflow": "tensorflow", "torch": "torch"}  # JAX: the training suite below

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAINING_TESTS = (
    "tests/test_trainer.py",
    "tests/test_augment_recipe.py",
    "tests/test_lean_loop.py",
    "tests/test_distribute.py",
)
# Left out under JAX: learning on real CIFAR-10 (the default backend covers it; 50 s
# more under JAX) and the check that only applies off JAX.
NOT_UNDER_JAX = "not real_cifar10 and not off_jax and not stopped_before_its_first_epoch"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_forward_and_training_step_under_backend(backend):
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"the {backend} backend is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert report["shape"] == [4, 3]
    assert report["sums"] == pytest.approx([1.0] * 4, abs=1e-5)
    assert report["loss"] > 0 and report["changed"] > 0


def test_training_tests_pass_under_jax_with_two_devices(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("the jax backend is not installed (pip install jax)")
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # Two CPU devices; tiny models compile faster than they would run faster.
        "XLA_FLAGS": " ".join(
            [
                os.environ.get("XLA_FLAGS", ""),
                "--xla_force_host_platform_device_count=2",
                "--xla_backend_optimization_level=0",
            ]
        ).strip(),
        # The tests build the same tiny model again and again: compile it once.
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax_cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rs",
        "--numprocesses=0",
        *TRAINING_TESTS,
        "-k",
        NOT_UNDER_JAX,
    ]  # one process, one JIT cache
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=900
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "passed" in summary and "skipped" not in summary, result.stdout[-3000:]
