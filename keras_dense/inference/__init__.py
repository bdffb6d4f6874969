"""Inference of built models: batched compiled steps, the fast copy (folding, bfloat16).

- `batches`: `predict_batches`, the compiled predict step over a batch array.
- `fast`: `inference_model`, the folded / bfloat16 copy made once per model.
- `fold`: batch-norm folding; `precision`: the bfloat16 copy and its difference.

Example:
    >>> from keras_dense import inference
    >>> fast = inference.inference_model(model, precision="bfloat16")
    >>> probabilities = inference.predict_batches(fast, x, batch_size=32)
"""

from keras_dense.inference.batches import predict_batches
from keras_dense.inference.fast import inference_model

__all__ = ["inference_model", "predict_batches"]
