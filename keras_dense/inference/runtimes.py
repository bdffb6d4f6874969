"""Exported models opened in an inference runtime, shaped like a Keras model for inference.

`load_exported(path, format)` opens an export (ONNX, OpenVINO IR, SavedModel,
LiteRT) in the runtime that runs it and returns an `ExportedModel`: `.engine`,
`.name`, `.input_shape` (`(None, height, width, channels)`) and
`predict_on_batch(x)` returning a NumPy array, which is all that
`predict_batches`, `keras_dense.predict` and the export check ask of a model.

The runtimes are imported only when used; one that is asked for but missing
raises `EngineNotInstalledError` with the pip command that installs it.

Example:
    >>> from keras_dense.inference.runtimes import load_exported
    >>> exported = load_exported("densenet169.onnx", "onnx")
    >>> exported.engine, exported.input_shape
    ('onnxruntime', (None, 224, 224, 3))
    >>> probabilities = exported.predict_on_batch(x)
"""

import importlib
import importlib.util
import pathlib
import warnings

import numpy as np

# engine -> (module it imports, what `pip install` needs)
RUNTIMES = {
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "openvino": ("openvino", "openvino"),
    "tensorflow": ("tensorflow", "tensorflow"),
    "nncf": ("nncf", "nncf"),  # int8 quantization (keras_dense.inference.quantize)
}
# Measured on the 2-core CPU under load from other jobs (DenseNet-169, batch 32): without
# spin-waiting threads 25.9 img/s (13.2 in busier minutes), with them 20.3 (9.2); without
# the memory pattern (one block planned for every intermediate tensor) predicting rises
# the RSS by 0.41 GB instead of 0.76 GB, at the same speed.
ORT_ALLOW_SPINNING = "0"
ORT_MEMORY_PATTERN = False


class EngineNotInstalledError(ValueError):
    """An engine was asked for whose Python package is not installed."""


def installed(engine):
    """Whether the Python package of `engine` (a key of `RUNTIMES`, or a module name such as
    a converter's) can be imported."""
    return importlib.util.find_spec(RUNTIMES.get(engine, (engine,))[0]) is not None


def require(engine, purpose=None):
    """Imports and returns the module of `engine`, or raises one line with the pip command.

    Args:
        engine: a key of `RUNTIMES`, or a module installed under its own name (`tf2onnx`).
        purpose: what it is needed for, for the message (default: "the {engine} engine").
    """
    module, requirement = RUNTIMES.get(engine, (engine, engine))
    if not installed(engine):
        raise EngineNotInstalledError(
            f"{purpose or f'The {engine} engine'} needs {module}, which is not installed; "
            f"install it with: pip install {requirement}"
        )
    return importlib.import_module(module)


def _static_dims(dims):
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


class ExportedModel:
    """An exported model in a runtime: what inference needs of a `keras.Model`.

    Attributes:
        engine: the runtime's name (`"onnxruntime"`, `"openvino"`, ...).
        name: the model's name (the export's file name without suffix).
        path: the export.
        input_shape: `(None, height, width, channels)`.
        precision: `"float32"`, or `"bfloat16"` where the runtime computes in it.
    """

    engine = None

    def __init__(self, path, input_shape, name=None, precision="float32"):
        self.path = pathlib.Path(path)
        self.input_shape = (None,) + tuple(input_shape[1:])
        self.name = name or self.path.stem
        self.precision = precision

    def predict_on_batch(self, x):
        """Outputs of one batch (a NumPy array `(n, height, width, channels)`)."""
        raise NotImplementedError

    def __repr__(self):
        return (
            f"<{type(self).__name__} {self.name!r} ({self.engine}, {self.precision}) {self.path}>"
        )


def _float32(x):
    return np.ascontiguousarray(x, dtype="float32")


def _float32_only(engine, precision):
    if precision != "float32":
        raise ValueError(
            f"The {engine} engine computes in float32 only; got precision={precision!r}. "
            "Use precision='float32', or engine='openvino' (bfloat16 where the CPU has it) "
            "or engine='keras'."
        )


class OnnxRuntimeModel(ExportedModel):
    """An ONNX file in ONNX Runtime's CPU execution provider."""

    engine = "onnxruntime"

    def __init__(self, path, name=None, precision="float32"):
        _float32_only(self.engine, precision)
        ort = require(self.engine)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
        options.add_session_config_entry("session.intra_op.allow_spinning", ORT_ALLOW_SPINNING)
        options.enable_mem_pattern = ORT_MEMORY_PATTERN
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        super().__init__(path, _static_dims(model_input.shape), name, precision)

    def predict_on_batch(self, x):
        return self._session.run(None, {self._input_name: _float32(x)})[0]


# int8: the quantized IR's int8 operations run in int8 whatever the hint; the hint keeps the
# operations NNCF left in float (softmax, pooling) in float32
OPENVINO_PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16", "int8": "f32"}
# precision -> what OpenVINO's CPU plugin lists in OPTIMIZATION_CAPABILITIES when it has it
OPENVINO_CAPABILITIES = {"bfloat16": "BF16", "int8": "INT8"}


def openvino_supports(precision):
    """Whether OpenVINO's CPU plugin computes in `precision` on this CPU."""
    if precision == "float32":
        return True
    ov = require("openvino")
    return OPENVINO_CAPABILITIES[precision] in ov.Core().get_property(
        "CPU", "OPTIMIZATION_CAPABILITIES"
    )


class OpenVINOModel(ExportedModel):
    """An OpenVINO IR (`.xml` + `.bin`) or ONNX file compiled for OpenVINO's CPU plugin.

    The precision is a compile option: `"float32"` (OpenVINO would otherwise
    pick bfloat16 by itself on CPUs that have it) or `"bfloat16"`; `"int8"` is an
    IR quantized by NNCF (`keras_dense.inference.quantize`).
    """

    engine = "openvino"

    def __init__(self, path, name=None, precision="float32"):
        ov = require(self.engine)
        if precision not in OPENVINO_PRECISION_HINTS:
            raise ValueError(
                f"precision must be one of {sorted(OPENVINO_PRECISION_HINTS)}; got {precision!r}."
            )
        core = ov.Core()
        if precision != "float32" and not openvino_supports(precision):
            capabilities = ", ".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
            raise ValueError(
                f"OpenVINO reports no {precision} support on this CPU ({capabilities}); "
                "use precision='float32'."
            )
        model = core.read_model(str(path))
        dims = [
            d.get_length() if d.is_static else None for d in model.inputs[0].get_partial_shape()
        ]
        self._compiled = core.compile_model(
            model,
            "CPU",
            {
                "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_PRECISION_HINT": OPENVINO_PRECISION_HINTS[precision],
            },
        )
        self._request = self._compiled.create_infer_request()
        super().__init__(path, _static_dims(dims), name, precision)

    def predict_on_batch(self, x):
        self._request.infer([_float32(x)])
        return np.array(self._request.get_output_tensor(0).data)


class SavedModelModel(ExportedModel):
    """A TensorFlow SavedModel exported by Keras (its `serve` endpoint)."""

    engine = "tensorflow"

    def __init__(self, path, name=None, precision="float32"):
        _float32_only(self.engine, precision)
        tf = require(self.engine, "Running a SavedModel")
        self._loaded = tf.saved_model.load(str(path))
        spec = self._loaded.serve.input_signature[0]
        super().__init__(
            path, _static_dims(spec.shape.as_list()), name or pathlib.Path(path).name, precision
        )

    def predict_on_batch(self, x):
        return np.asarray(self._loaded.serve(_float32(x)))


def _litert_interpreter(path):
    """The LiteRT interpreter with its built-in kernels and no delegate: the check tests the
    conversion, not a delegate's (XNNPACK's) own kernels and rounding."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        tf = require("tensorflow", "Running a LiteRT model without ai_edge_litert")
        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        return Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )


class LiteRTModel(ExportedModel):
    """A LiteRT (TFLite) flatbuffer in its interpreter (ai_edge_litert, else tf.lite), run with
    the reference kernels (for checking exports, not for speed)."""

    engine = "litert"

    def __init__(self, path, name=None, precision="float32"):
        _float32_only(self.engine, precision)
        self._interpreter = _litert_interpreter(path)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None
        super().__init__(path, _static_dims(self._input["shape_signature"]), name, precision)

    def predict_on_batch(self, x):
        x = _float32(x)
        if self._batch != len(x):
            self._interpreter.resize_tensor_input(self._input["index"], x.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output["index"]))


# format -> the runtimes that run it, preferred first
FORMAT_ENGINES = {
    "onnx": {"onnxruntime": OnnxRuntimeModel, "openvino": OpenVINOModel},
    "openvino": {"openvino": OpenVINOModel},
    "saved_model": {"tensorflow": SavedModelModel},
    "litert": {"litert": LiteRTModel},
}


def load_exported(path, format, engine=None, precision="float32", name=None):
    """Opens an export in a runtime.

    Args:
        path: the exported file (`.onnx`, `.xml`, `.tflite`) or SavedModel folder.
        format: `"onnx"`, `"openvino"`, `"saved_model"` or `"litert"`.
        engine: the runtime; default: the first installed one of `FORMAT_ENGINES[format]`.
        precision: `"float32"`, or `"bfloat16"` (OpenVINO on CPUs with bfloat16).
        name: the model's name (default: the file's stem).

    Returns:
        An `ExportedModel`.

    Raises:
        EngineNotInstalledError: no runtime for the format is installed.
        ValueError: an unknown format or engine, or a precision the engine lacks.
    """
    if format not in FORMAT_ENGINES:
        raise ValueError(f"format must be one of {', '.join(FORMAT_ENGINES)}; got {format!r}.")
    engines = FORMAT_ENGINES[format]
    if engine is None:
        engine = next(
            (e for e in engines if e not in RUNTIMES or installed(e)), next(iter(engines))
        )
    if engine not in engines:
        raise ValueError(f"A {format} export runs in {' or '.join(engines)}, not {engine!r}.")
    return engines[engine](path, name=name, precision=precision)
