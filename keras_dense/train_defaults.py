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
# was not faster for DenseNet-BC training here (see README).
JIT_COMPILE = {"tensorflow": False, "jax": True, "torch": False}


def jit_compile():
    """The `jit_compile` value to pass to `model.compile` for the current backend."""
    return JIT_COMPILE.get(keras.backend.backend(), "auto")


def apply():
    """Applies the process-wide settings; returns a dict of what was set (for reports)."""
    return {"backend": keras.backend.backend(), "jit_compile": jit_compile()}
