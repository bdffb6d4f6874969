"""Data-parallel training on several devices through Keras's own `keras.distribution.DataParallel`.

Keras replicates the variables on every device, splits each global batch
along its first axis and lets XLA insert the gradient all-reduce (and the
batch-norm statistics over the global batch), so training on N devices is the
same computation as on one, to float rounding. Keras 3 implements this for
the JAX backend only.

Example:
    >>> count = device_count("all")
    >>> with data_parallel(count):
    ...     model = build_and_compile()
    ...     model.fit(batches)
"""

import contextlib

import keras


def _backend_devices():
    return keras.distribution.list_devices()


def device_count(devices):
    """The number of devices asked for: None or 1 -> 1, an integer N, or "all".

    Raises:
        ValueError: a count above 1 off the JAX backend, more devices than
            the backend sees, several processes, or a malformed value.
    """
    if devices is None:
        return 1
    if devices != "all" and (
        isinstance(devices, bool) or not isinstance(devices, int) or devices < 1
    ):
        raise ValueError(f"devices must be a positive integer or 'all'; got {devices!r}.")
    backend = keras.backend.backend()
    if devices == 1:
        return 1
    if backend != "jax":
        raise ValueError(
            f"--devices {devices} needs the JAX backend: Keras's data-parallel training "
            f"(keras.distribution.DataParallel) runs on JAX only, and this run uses {backend}; "
            "run with KERAS_BACKEND=jax (pip install jax), or train on one device."
        )
    import jax

    if jax.process_count() > 1:
        raise ValueError(
            "keras-dense train runs in one process; training over several hosts "
            "(jax.distributed.initialize) needs each process to read its own share of the data, "
            "which it does not do yet."
        )
    available = _backend_devices()
    if devices == "all":
        return len(available)
    if devices > len(available):
        raise ValueError(
            f"--devices {devices}: JAX sees {len(available)} device(s) ({', '.join(available)}). "
            "On a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N (set before JAX "
            "starts) makes N devices."
        )
    return devices


def check_batch(batch_size, count):
    """Refuses a global batch that does not split evenly over `count` devices."""
    if batch_size % count:
        raise ValueError(
            f"batch size {batch_size} does not split over {count} devices; "
            f"choose a multiple of {count} (the batch size is the global batch)."
        )


def data_parallel(count):
    """A context in which Keras builds, trains and predicts on the first `count` devices.

    One device: an empty context (the backend's default placement).
    """
    if count == 1:
        return contextlib.nullcontext()
    distribution = keras.distribution.DataParallel(devices=_backend_devices()[:count])
    return distribution.scope()
