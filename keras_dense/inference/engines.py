"""Which engine runs a prediction, and the exported model a runtime engine runs.

Engines: `keras` (the Keras model itself, or its bfloat16 / folded copy from
`inference_model`), `onnxruntime` and `openvino` (the model exported once,
checked against Keras, kept in the engine cache, `keras_dense.inference.cache`,
and opened in the runtime), and `auto`, which picks the engine expected to
finish the job first:

- `keras` when the Keras backend computes on a GPU or TPU, or when no runtime
  that computes in the precision asked is installed;
- else the first installed runtime of `RUNTIME_PREFERENCE[precision]` whose
  cached export saves time (`runtime_saves`): it skips building the Keras
  model (`KERAS_START_SECONDS`, unless it is built already) and runs each
  image `SECONDS_SAVED_PER_IMAGE[precision]` faster (or slower, when negative);
- else that runtime when exporting it first (`EXPORT_SECONDS`) still saves time;
- else `keras`.

The constants are measured with `benchmarks/inference.py` (DenseNet-169, which
prints them for the machine it runs on). So `auto` never makes a job wait for
an export that does not pay; `keras-dense export`, an explicit engine, or the
background export of `keras-dense predict` prepares one.

Example:
    >>> from keras_dense.inference import engines
    >>> engines.choose_engine("auto", "float32", job_images=1)
    'keras'
"""

import logging
import os
import time
import weakref

from keras_dense._choices import ENGINES
from keras_dense._device import accelerator_name
from keras_dense.imagenet.preprocessing_layer import included_mode
from keras_dense.inference import built, cache, quantize, runtimes
from keras_dense.inference import check as check_lib
from keras_dense.inference import export as export_lib
from keras_dense.inference import precision as precision_lib
from keras_dense.models import _builder, model_record

# Installed runtimes `auto` considers, in order: OpenVINO (the default install) first,
# faster than ONNX Runtime in float32 in the benchmark (34.9 vs 24.2 img/s; 56.9 vs
# 80.5 CPU-ms per image in the quiet run) and the only one in bfloat16.
RUNTIME_PREFERENCE = {
    "float32": ("openvino", "onnxruntime"),
    "bfloat16": ("openvino",),
    "int8": ("openvino",),
}
# Measured on the 2-core CPU (benchmarks/inference.py, DenseNet-169, batch 32, which
# prints these figures; three runs, the last a quiet full run,
# results/inference-20261123-143832.json): the first export, check and store take
# 16-18 s (26-45 s while other jobs ran), OpenVINO's conversion from it 1-3 s more;
# `keras-dense predict elephant.jpg` takes 2.9-4.1 s longer on Keras than with the
# cached export; per image, OpenVINO saves 0.001-0.010 s over Keras's compiled step in
# float32 and 0.012-0.032 s over Keras's bfloat16 copy. The constants are mid-range:
# the figures swing with the machine's load.
EXPORT_SECONDS = 18.0
KERAS_START_SECONDS = 4.0
SECONDS_SAVED_PER_IMAGE = {"float32": 0.005, "bfloat16": 0.02}

logger = logging.getLogger("keras_dense.inference")


def check_engine(engine):
    """Raises ValueError listing the engines unless `engine` is one of `ENGINES`."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}.")


def supports(engine, precision):
    """Whether `engine` (installed) computes in `precision` here."""
    if engine == "keras":
        return True
    if engine == "openvino":
        return runtimes.openvino_supports(precision)
    return precision == "float32"


def installed_runtimes(precision):
    """The installed runtimes that compute in `precision`, in `auto`'s order."""
    return [
        engine
        for engine in RUNTIME_PREFERENCE.get(precision, ())
        if runtimes.installed(engine) and supports(engine, precision)
    ]


def runtime_saves(job_images, precision, cached, keras_ready=False):
    """Seconds a runtime is expected to save over Keras on a job (negative: it loses).

    Args:
        job_images: the job's images.
        precision: `"float32"` or `"bfloat16"`.
        cached: whether the runtime's export is cached (else it is exported first).
        keras_ready: whether the Keras model is built already (a built model, or one
            this process has built), so that Keras starts at once.
    """
    per_image = job_images * SECONDS_SAVED_PER_IMAGE.get(precision, 0.0)
    if cached:
        return per_image + (0.0 if keras_ready else KERAS_START_SECONDS)
    return per_image - EXPORT_SECONDS


def on_accelerator():
    """Whether the Keras backend computes on a GPU or TPU (then Keras itself is used)."""
    return accelerator_name() is not None


def choose_engine(
    engine, precision="float32", job_images=0, cached=lambda engine: False, keras_ready=False
):
    """The engine that runs a job.

    Args:
        engine: one of `ENGINES`.
        precision: `"float32"` or `"bfloat16"`.
        job_images: how many images the job has (for `auto`).
        cached: `cached(engine)` tells whether that engine's export is cached.
        keras_ready: whether the Keras model is built already (for `auto`).

    Returns:
        `"keras"`, `"onnxruntime"` or `"openvino"`.

    Raises:
        EngineNotInstalledError: an engine asked for by name is not installed.
        ValueError: an unknown engine, or one that does not compute in `precision`.
    """
    check_engine(engine)
    precision_lib.check_precision(precision)
    if engine == "keras":
        return engine
    if engine != "auto":
        runtimes.require(engine)
        if not supports(engine, precision):
            raise ValueError(
                f"The {engine} engine does not compute in {precision} on this "
                "machine; use precision='float32', or engine='keras'."
            )
        return engine
    if precision == "int8":  # an NNCF-quantized OpenVINO export, or nothing
        runtimes.require("openvino", "int8 inference")
        return "openvino"
    if on_accelerator():
        return "keras"
    options = installed_runtimes(precision)
    for option in options:
        if cached(option):
            saves = runtime_saves(job_images, precision, True, keras_ready)
            return _said(
                option if saves > 0 else "keras", job_images, option, "cached", saves, precision
            )
    if options:
        saves = runtime_saves(job_images, precision, False, keras_ready)
        chosen = options[0] if saves > 0 else "keras"
        return _said(chosen, job_images, options[0], "not cached", saves, precision)
    logger.debug("auto: keras: no runtime computes in %s here", precision)
    return "keras"


def _said(chosen, job_images, runtime, state, saves, precision):
    logger.debug(
        "auto: %s for this call: %d images; %s (%s) would save %.1f s (export %.0f s, "
        "%.4f s per image, Keras start %.0f s)",
        chosen,
        job_images,
        runtime,
        state,
        saves,
        EXPORT_SECONDS,
        SECONDS_SAVED_PER_IMAGE.get(precision, 0.0),
        KERAS_START_SECONDS,
    )
    return chosen


def _export_into_cache(keras_model, key, preprocess):
    """Exports, checks and stores `keras_model` for `key`; says once what it does."""
    engine, precision = key["engine"], key["precision"]
    format = cache.ENGINE_FILES[engine][0]
    logger.warning(
        "exporting %s for %s (%s), once: later calls and processes reuse it from %s",
        keras_model.name,
        engine,
        format,
        cache.cache_dir(),
    )
    start = time.perf_counter()
    results = []

    def write(path):
        results.append(
            export_lib.export(
                keras_model,
                path,
                format,
                preprocess=preprocess,
                engine=engine,
                precision=precision,
                from_onnx=_cached_onnx(key),
            )
        )
        return {"export_seconds": results[0].seconds, "check": results[0].check.to_json()}

    path = cache.store(key, write)
    logger.warning(
        "exported %s for %s in %.1f s; %s",
        keras_model.name,
        engine,
        time.perf_counter() - start,
        results[0].check.summary(),
    )
    return path


def _cached_onnx(key):
    """The cached ONNX export of the same model and weights, which OpenVINO converts in
    seconds instead of a new export; None when there is none or `key` is not OpenVINO's."""
    if key["engine"] != "openvino":
        return None
    return cache.lookup({**key, "engine": "onnxruntime", "precision": "float32"})


def _int8_missing(key, how):
    return ValueError(
        f"No int8 export of {key['model']} with these weights is cached; make one with: {how}"
    )


def cached_int8(key, how):
    """The cached int8 export for `key` (any calibration set) opened in OpenVINO.

    Raises:
        ValueError: one line naming `how` to make it, when none is cached.
    """
    found = cache.lookup_calibrated(key)
    if found is None:
        raise _int8_missing(key, how)
    path, full_key = found
    return runtimes.load_exported(path, "openvino", "openvino", "int8", name=key["model"])


def quantize_into_cache(float_key, make_keras_model, preprocess, calibration, raw_pixels=False):
    """The int8 export of the model of `float_key` (an OpenVINO float32 key), quantized by
    NNCF from its cached float32 IR (exported first when missing), checked, cached.

    Args:
        float_key: the OpenVINO float32 cache key of the model.
        make_keras_model: returns the Keras model (called only to export the float32 IR).
        preprocess: the weights' preprocessing mode.
        calibration: a `quantize.CalibrationSet`.
        raw_pixels: the model takes pixels 0-255 (its preprocessing included).

    Returns:
        The path of the int8 `.xml` in the cache.

    Raises:
        ExportCheckError: the int8 model disagrees with float32 on the held-out
            images more than `check.THRESHOLDS["int8"]` allows; nothing is cached.
    """
    key = {**float_key, "precision": "int8", "calibration": calibration.identity}
    path = cache.lookup(key)
    if path is not None:
        return path
    runtime_model(float_key, make_keras_model, preprocess)  # the checked float32 IR
    float_xml = cache.lookup(float_key)
    logger.warning(
        "quantizing %s to int8 with NNCF on %d calibration images, once: later calls reuse it",
        key["model"],
        calibration.identity["images"],
    )
    reports = []

    def write(target):
        seconds, report = quantize.write_int8(
            float_xml, target, calibration, None if raw_pixels else preprocess, name=key["model"]
        )
        if not report.passed:
            raise check_lib.ExportCheckError(
                f"The int8 model of {key['model']!r} does not agree with float32: "
                f"{report.summary()}; nothing was cached."
            )
        reports.append(report)
        return {"export_seconds": seconds, "check": report.to_json()}

    path = cache.store(key, write)
    logger.warning("int8 model of %s ready; %s", key["model"], reports[0].summary())
    return path


def runtime_model(key, make_keras_model, preprocess):
    """The export for `key` opened in its runtime, exporting it first when it is not cached.

    Args:
        key: a `cache.entry_key`.
        make_keras_model: returns the Keras model to export (called only on a miss).
        preprocess: the weights' preprocessing, for the export check.

    Returns:
        A `runtimes.ExportedModel`.
    """
    engine, precision = key["engine"], key["precision"]
    format = cache.ENGINE_FILES[engine][0]
    path = cache.lookup(key)
    if path is not None:
        try:
            return runtimes.load_exported(path, format, engine, precision, name=key["model"])
        except runtimes.EngineNotInstalledError:
            raise
        except Exception as error:  # a runtime that cannot read the entry: rebuild it
            cache.discard(
                key,
                f"the cached export at {path.parent} cannot be opened by "
                f"{engine} ({type(error).__name__}: {error}); it is rebuilt",
            )
    path = _export_into_cache(make_keras_model(), key, preprocess)
    return runtimes.load_exported(path, format, engine, precision, name=key["model"])


def record_key(record, weights, engine, precision):
    """The cache key of registry model `record` built with `weights`; None for `weights=None`."""
    # the builder's own decision (keywords before paths), so the key names what it loads
    source = _builder.resolve_weights(weights, record.config, record, record.name)
    if source is None:
        return None
    architecture = repr(record.config)
    if isinstance(source, os.PathLike):
        identity = cache.file_identity(source)
    else:
        identity = cache.published_identity(source)
        architecture += repr(sorted(source.arch.items()))
    return cache.entry_key(record.name, identity, engine, precision, architecture)


def record_cached(record, weights, precision):
    """`cached(engine)` for `choose_engine`: whether that engine's export of `record` is cached."""

    def cached(engine):
        key = record_key(record, weights, engine, precision)
        return key is not None and cache.lookup(key) is not None

    return cached


_ARCHITECTURES = weakref.WeakKeyDictionary()  # keras model -> its JSON (made once)


def model_key(model, engine, precision):
    """The cache key of a built Keras model with its current weights."""
    if model not in _ARCHITECTURES:
        _ARCHITECTURES[model] = model.to_json()
    return cache.entry_key(
        model.name, cache.weights_fingerprint(model), engine, precision, _ARCHITECTURES[model]
    )


def record_engine_model(record, weights, engine, precision, preprocess):
    """Registry model `record` with `weights`, exported for `engine` (cached) and opened in it."""
    key = record_key(record, weights, engine, precision)
    if precision == "int8":
        if key is None:
            raise ValueError(
                "int8 exports are cached for known weights; pass weights (imagenet, a tag "
                "or a file), or quantize a built model with "
                "keras_dense.inference.engines.quantize_model."
            )
        return cached_int8(
            key,
            f"keras-dense export {record.name} --weights {weights} --engine openvino "
            "--precision int8 --calibration DIR (a folder of a few hundred real images)",
        )
    if key is None:  # random weights: named by their values
        model = record.build(weights=None)
        return runtime_model(model_key(model, engine, precision), lambda: model, preprocess)
    return runtime_model(key, lambda: record.build(weights=weights), preprocess)


_OPENED = weakref.WeakKeyDictionary()  # keras model -> {(engine, precision): (key, exported)}


def keras_engine_model(model, engine, precision, preprocess):
    """A built Keras model exported for `engine` and opened in it, once per set of weights.

    Every call fingerprints the model's weights (`cache.weights_fingerprint`),
    so a model trained between calls is exported again; otherwise the opened
    runtime model is reused.
    """
    key = model_key(model, engine, precision)
    opened = _OPENED.setdefault(model, {})
    held = opened.get((engine, precision))
    if held is None or held[0] != key:
        if precision == "int8":
            exported = cached_int8(
                key, "keras_dense.inference.engines.quantize_model(model, calibration=DIR)"
            )
        else:
            exported = runtime_model(key, lambda: model, preprocess)
        opened[(engine, precision)] = (key, exported)
    return opened[(engine, precision)][1]


def quantize_model(
    model,
    calibration,
    calibration_size=None,
    weights="imagenet",
    preprocess=None,
    raw_pixels=False,
):
    """Quantizes a model to int8 for OpenVINO into the engine cache (checked), once.

    Later `predict(..., precision="int8")` (and `load_engine_model`) use it.

    Args:
        model: a registry name (built with `weights`) or a built `keras.Model`.
        calibration: real images: a folder, image files, or a uint8 pixel array
            (`quantize.calibration_set`); the images left over check the result.
        calibration_size: images that calibrate (default 300).
        weights: with a registry name: `"imagenet"`, a tag or a weights file.
        preprocess: the weights' preprocessing (default: the record's; `"tf"` for a
            built model without one).
        raw_pixels: the model takes pixels 0-255 (its preprocessing included, e.g.
            a CIFAR run's model); an `ImageNetPreprocessing` front is found by itself.

    Returns:
        The int8 model opened in OpenVINO (`runtimes.ExportedModel`).

    Example:
        >>> quantize_model("densenet169", "calibration_images/", calibration_size=300)
    """
    from_images = quantize.calibration_set(calibration, calibration_size)
    if isinstance(model, str):
        record = model_record(model)
        float_key = record_key(record, weights, "openvino", "float32")
        if float_key is None:
            raise ValueError("int8 exports are cached for known weights; pass weights.")
        mode = preprocess or built.preprocess_of(record, weights) or "tf"
        path = quantize_into_cache(
            float_key, lambda: record.build(weights=weights), mode, from_images, raw_pixels
        )
        name = record.name
    else:
        included = included_mode(model)
        mode = preprocess or included or "tf"
        path = quantize_into_cache(
            model_key(model, "openvino", "float32"),
            lambda: model,
            mode,
            from_images,
            raw_pixels or bool(included),
        )
        name = model.name
    return runtimes.load_exported(path, "openvino", "openvino", "int8", name=name)
