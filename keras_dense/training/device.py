"""Which accelerator the Keras backend computes on, asked of the backend itself.

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


def describe_device():
    """A dict naming the backend and the device, for run metadata."""
    name = accelerator_name()
    return {
        "backend": keras.backend.backend(),
        "accelerator": name,
        "device": name or f"CPU ({platform.processor() or platform.machine()})",
    }
