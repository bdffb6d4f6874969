"""Inference: predict and validate, Keras steps, CPU runtimes, exports that check themselves.

- `predict`: top-k classes of files, Pillow images or arrays; `predict_files` for folders.
- `embed`: the pooled features of images (the model without its top).
- `folder_jobs`: `predict_into` / `embed_into`, a folder into one result file, resumable;
  `results`: those files (.jsonl, .csv, .parquet, .npz); `ray`: the same on Ray Data.
- `validate`: top-1 / top-5 over wnid folders or a labels CSV (`keras-dense validate`).
- `loading`: `load_engine_model`, the engine dispatcher: `(model, preprocess)` to run.
- `built`: registry models built once per process; `inputs`: pixel batches for a model.
- `batches`: `predict_batches`, the compiled predict step (or a runtime) over a batch array.
- `fast`: `inference_model`, the folded / bfloat16 Keras copy made once per model.
- `fold`: batch-norm folding; `precision`: the bfloat16 copy and its difference.
- `export`: `export(model, path, format)`: ONNX, OpenVINO, SavedModel, LiteRT, checked.
- `check`: the export check (outputs and top-1/top-5 agreement on real images).
- `runtimes`: exports opened in ONNX Runtime, OpenVINO, TensorFlow, LiteRT.
- `engines`: which engine runs a prediction (`auto`), and the runtime model it runs.
- `cache`: the engine cache of exported models, keyed and verified.

Example:
    >>> from keras_dense import inference
    >>> fast = inference.inference_model(model, precision="bfloat16")
    >>> probabilities = inference.predict_batches(fast, x, batch_size=32)
    >>> from keras_dense.inference.export import export   # also keras_dense.export
    >>> export(model, "model.onnx", format="onnx").check.passed
    True
"""

from keras_dense.inference.batches import predict_batches
from keras_dense.inference.fast import inference_model

__all__ = ["inference_model", "predict_batches"]
