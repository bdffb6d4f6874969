"""Which accelerator the Keras backend computes on, asked of the backend itself.

Shared by the engines (`engine="auto"` keeps Keras on a GPU) and training
(`jit_compile`, run metadata), so it sits below both.

Example:
    >>> describe_device()
    {'backend': 'tensorflow', 'accelerator': None, 'device': 'CPU'}
"""

import platform

import keras


def accelerator_name():
    """The name of the backend's first GPU (or TPU), or None when it computes on the CPU."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return None if device.platform == "cpu" else str(device.device_kind)
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", gpus[0].name)
    return None


def default_jit_compile(accelerator=None):
    """The `jit_compile` default: on with an accelerator; on the CPU only under JAX.

    Measured on the 2-core CPU: XLA made DenseNet-BC-100 training about 5x
    slower under TensorFlow, and torch.compile gained nothing; JAX without jit
    runs op by op, far slower than jitted.
    """
    if accelerator is None:
        accelerator = accelerator_name()
    return accelerator is not None or keras.backend.backend() == "jax"


def describe_device():
    """A dict naming the backend and the device, for run metadata."""
    name = accelerator_name()
    return {
        "backend": keras.backend.backend(),
        "accelerator": name,
        "device": name or f"CPU ({platform.processor() or platform.machine()})",
    }
