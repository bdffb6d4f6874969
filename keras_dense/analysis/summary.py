"""`model.summary()` plus the totals the library adds: parameters and operations.

Example:
    >>> from keras_dense.analysis.summary import summarize
    >>> totals = summarize(keras_dense.get_model("densenet121"))
    >>> totals["macs"]
    2834...
"""

from collections.abc import Callable

import keras

from keras_dense.analysis.flops import layer_macs


def _size(variable):
    size = 1
    for dim in variable.shape:
        size *= int(dim)
    return size


def model_totals(model: keras.Model) -> dict:
    """Parameter and operation totals of `model`.

    Returns:
        A dict with `total_params`, `trainable_params`, `non_trainable_params`,
        `macs` and `flops` (one forward pass of one example; `None` where the
        input size is not fixed).
    """
    trainable = sum(_size(w) for w in model.trainable_weights)
    non_trainable = sum(_size(w) for w in model.non_trainable_weights)
    try:
        macs = sum(m for _, _, m in layer_macs(model))
    except ValueError:
        macs = None
    return {
        "total_params": trainable + non_trainable,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "macs": macs,
        "flops": None if macs is None else 2 * macs,
    }


def _human(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def summarize(
    model: keras.Model, per_layer: bool = False, print_fn: Callable[[str], object] = print
) -> dict:
    """Prints `model.summary()`, optionally per-layer MACs, then the totals.

    Args:
        model: a built `keras.Model`.
        per_layer: also print a table of MACs per counted layer.
        print_fn: where lines go (default `print`).

    Returns:
        The dict of `model_totals(model)`.
    """
    model.summary(print_fn=lambda line, *args, **kwargs: print_fn(line))
    totals = model_totals(model)
    if per_layer and totals["macs"]:
        print_fn(f"{'layer':<40} {'class':<24} {'MACs':>16} {'share':>7}")
        for name, cls, macs in layer_macs(model):
            if macs:
                print_fn(f"{name:<40} {cls:<24} {macs:>16,} {macs / totals['macs']:>7.2%}")
    print_fn(f"Total params:         {totals['total_params']:,}")
    print_fn(f"Trainable params:     {totals['trainable_params']:,}")
    print_fn(f"Non-trainable params: {totals['non_trainable_params']:,}")
    if totals["macs"] is None:
        print_fn("MACs / FLOPs:         unknown (the input size is not fixed; pass --input-shape)")
    else:
        print_fn(f"MACs (conv + dense):  {totals['macs']:,} ({_human(totals['macs'])})")
        print_fn(f"FLOPs (2 x MACs):     {totals['flops']:,} ({_human(totals['flops'])})")
    return totals
