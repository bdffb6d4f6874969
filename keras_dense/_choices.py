"""The values the command line offers and the library accepts, written once.

Standard library only and importing nothing of keras_dense, so that
`keras-dense --help` stays instant (no Keras) while every `choices=` of
`keras_dense.cli` is the very tuple the library checks its arguments against:
the two cannot disagree.

- `ENGINES`: what runs a prediction (`keras_dense.inference.engines`);
  `RUNTIME_ENGINES` those with an exported model in the engine cache
  (`keras_dense.inference.cache`), `EXPORT_ENGINES` the `export --engine` choices.
- `EXPORT_FORMATS`: what `keras_dense.inference.export` writes.
- `PRECISIONS`: what inference computes in (`keras_dense.inference.precision`); int8 on
  OpenVINO only (`keras_dense.inference.quantize`).
- `PREPROCESSING_MODES`: ImageNet input scalings (`keras_dense.imagenet.preprocessing`).
- `TTA_MODES`: test-time augmentations of `predict` (`keras_dense.imagenet.tta`);
  `EVALUATE_TTA_MODES` those of `evaluate` (`keras_dense.training.evaluation`).
- `OPTIMIZERS`, `SCHEDULES`: a training recipe's (`keras_dense.training.recipe`).
- `FREEZE_MODES`: what fine-tuning freezes besides a number of layers
  (`keras_dense.training.transfer`).

Examples:
    >>> from keras_dense import _choices
    >>> _choices.ENGINES
    ('auto', 'keras', 'onnxruntime', 'openvino')
"""

RUNTIME_ENGINES = ("onnxruntime", "openvino")
ENGINES = ("auto", "keras", *RUNTIME_ENGINES)
EXPORT_ENGINES = ("auto", *RUNTIME_ENGINES)
EXPORT_FORMATS = ("onnx", "openvino", "saved_model", "litert")
PRECISIONS = ("float32", "bfloat16", "int8")
PREPROCESSING_MODES = ("caffe", "tf", "torch")
TTA_MODES = ("flip", "five_crop", "ten_crop")
EVALUATE_TTA_MODES = ("flip", "none")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "onecycle", "step", "constant")
# the result files of folder jobs (--out FILE), by suffix
PREDICT_RESULT_FORMATS = (".jsonl", ".csv", ".parquet")
EMBED_RESULT_FORMATS = (".parquet", ".npz")
FREEZE_MODES = ("backbone", "none")
