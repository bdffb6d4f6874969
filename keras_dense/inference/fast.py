"""The fast inference copy of a model (folded batch norms, bfloat16), made once per model.

`inference_model(model, precision, fold_bn)` returns `model` itself when
nothing is asked; otherwise it makes the copy once per model object and
precision (cached weakly, so it goes with the model) and copies the model's
current weights into it on every later call, so a model trained between two
calls is predicted with its new weights, without a new clone or a new trace.

Example:
    >>> from keras_dense.inference import inference_model
    >>> fast = inference_model(model, precision="bfloat16", fold_bn=True)
"""

import weakref

from keras_dense.inference import fold
from keras_dense.inference import precision as precision_lib

_COPIES = weakref.WeakKeyDictionary()  # model -> {(precision, fold_bn): copy}


def _make_copy(model, precision, fold_bn):
    copy = fold.fold_batch_norms(model) if fold_bn else model
    return precision_lib.cast_model(copy, precision)


def _refresh(model, copy, fold_bn):
    if fold_bn:
        fold.copy_folded_weights(model, copy)
    else:
        precision_lib.copy_weights(model, copy)


def inference_model(model, precision="float32", fold_bn=False):
    """The copy of `model` for fast inference, made once and kept up to date.

    Args:
        model: a functional `keras.Model`.
        precision: `"float32"` or `"bfloat16"` (`keras_dense.inference.precision`).
        fold_bn: fold each conv -> BN pair (`keras_dense.inference.fold`):
            same outputs to float tolerance; TensorFlow's graph optimizer
            already fuses them, so it pays only on backends that do not.

    Returns:
        A `keras.Model`: `model` itself for float32 without folding.
    """
    precision_lib.check_precision(precision)
    if precision == "float32" and not fold_bn:
        return model
    key = (precision, bool(fold_bn))
    copies = _COPIES.setdefault(model, {})
    if key not in copies:
        copies[key] = _make_copy(model, precision, fold_bn)
        return copies[key]
    copy = copies[key]
    if copy is not model:
        _refresh(model, copy, fold_bn)
    return copy
