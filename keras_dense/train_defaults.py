"""CPU training settings that measured faster here, in one place.

`apply()` is what `benchmarks/train_step.py` (and a training script) calls
before building a model; `jit_compile()` is the `model.compile(jit_compile=...)`
default. What was measured, and what did not help, is in README.md
("Performance options").

Example:
    >>> from keras_dense import train_defaults
    >>> train_defaults.apply()
    >>> model.compile(..., jit_compile=train_defaults.jit_compile())
"""

import keras

# Backend -> model.compile(jit_compile=...). XLA on the TensorFlow CPU backend
# made DenseNet-BC-100 training about 5x slower here (2 vs 7-13 images/s in
# the same busy minutes), so it stays off; the other things tried (PyTorch
# backend, mixed_bfloat16) are in README.md, "Performance options".
JIT_COMPILE = {"tensorflow": False, "jax": True, "torch": False}


def jit_compile():
    """The `jit_compile` value to pass to `model.compile` for the current backend."""
    return JIT_COMPILE.get(keras.backend.backend(), "auto")


def apply():
    """Applies the process-wide settings; returns a dict of what was set (for reports)."""
    return {"backend": keras.backend.backend(), "jit_compile": jit_compile()}
