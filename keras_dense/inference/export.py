"""`export`: a model written as ONNX, OpenVINO IR, SavedModel or LiteRT, checked before it is kept.

The export is written under a temporary name beside `path`, opened in its
runtime and checked against the Keras model on real images
(`keras_dense.inference.check`); only a passing export is renamed to `path`,
with the check's report beside it as `<path>.check.json` (with `check=False`,
a report saying it was not checked). A failed check raises `ExportCheckError`
and leaves nothing at `path`.

An existing `path` (or report) is refused unless `overwrite=True`; even then a
SavedModel folder is replaced only when it holds nothing but a SavedModel's
files (the old one is renamed aside, the new one renamed in, the old removed),
so a folder of the user's files is never deleted. An empty folder is used as is.

How each format is made (Keras's own exporters, `model.export`):

- `onnx`: TensorFlow backend through tf2onnx, PyTorch through `torch.onnx`,
  JAX through jax2onnx (`pip install jax2onnx`). Operations ONNX cannot
  express are found in the written graph and reported with the layer.
- `openvino`: the ONNX export converted by `openvino.convert_model` and
  saved uncompressed (`.xml` + `.bin`); Keras's own OpenVINO exporter imports
  its OpenVINO backend, which needs SciPy, and gives the same graph.
- `saved_model`: `model.export(format="tf_saved_model")`.
- `litert`: `model.export(format="litert")` (TFLite flatbuffer).

Example:
    >>> import keras_dense
    >>> result = keras_dense.export("densenet169", "densenet169.onnx", format="onnx")
    >>> result.check.max_probability_difference
    6e-10
"""

import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import re
import time
import warnings
from collections.abc import Sequence
from typing import Any

from keras_dense import _files
from keras_dense._choices import EXPORT_FORMATS
from keras_dense.imagenet.preprocessing_layer import included_mode
from keras_dense.inference import built, quantize, runtimes
from keras_dense.inference import check as check_lib
from keras_dense.models import model_record, record_of

# format (one of `keras_dense._choices.EXPORT_FORMATS`) -> the suffix its path must have
# ("" for a folder)
FORMATS = {"onnx": ".onnx", "openvino": ".xml", "saved_model": "", "litert": ".tflite"}
REPORT_SUFFIX = ".check.json"
OVERWRITE_FIX = "pass --overwrite (overwrite=True in Python) to replace it, or choose another path"
# What `model.export(format="tf_saved_model")` writes into its folder: a folder holding
# anything else is not an export of ours, and is never replaced.
SAVED_MODEL_ENTRIES = frozenset(
    {"saved_model.pb", "variables", "assets", "fingerprint.pb", "keras_metadata.pb"}
)


class ExportError(ValueError):
    """A model could not be exported to a format (the message names the layer when it can)."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export` wrote.

    Attributes:
        path: the export (for `openvino`, the `.xml`; its `.bin` lies beside it).
        format: the format.
        seconds: time spent writing the export (the check not included).
        size_bytes: bytes on disk (all files of the export).
        check: the `CheckReport`, or `None` when the check was skipped.
        report_path: the JSON report beside the export, or `None`.
    """

    path: pathlib.Path
    format: str
    seconds: float
    size_bytes: int
    check: object = None
    report_path: pathlib.Path = None

    def summary(self):
        text = (
            f"exported {self.path} ({self.format}, {self.size_bytes / 1e6:.1f} MB) in "
            f"{self.seconds:.1f} s"
        )
        return text + (f"; {self.check.summary()}" if self.check else "; not checked")


def check_format(format: str) -> None:
    """Raises ValueError listing the formats unless `format` is one of `EXPORT_FORMATS`."""
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}; got {format!r}.")


@contextlib.contextmanager
def _quiet_exporters():
    """Keeps the converters' progress logging and tracing warnings out of the output."""
    names = ("tf2onnx", "torch.onnx", "torch.export", "absl")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _layer_named_in(model, text):
    """The model's layer whose name appears in an error or node name (`name` or `name_1`)."""
    for layer in sorted(model.layers, key=lambda layer: -len(layer.name)):
        if re.search(rf"(^|[^\w]){re.escape(layer.name)}(_\d+)?([^\w]|$)", text):
            return layer
    return None


def conversion_error(model, format, detail, where=""):
    """The `ExportError` for a failed conversion, naming the layer found in `where` or `detail`."""
    detail = " ".join(str(detail).split())[:400]
    layer = _layer_named_in(model, where or detail)
    if layer is not None:
        return ExportError(
            f"Layer {layer.name!r} ({type(layer).__name__}) of model "
            f"{model.name!r} cannot be converted to the {format} format: {detail}"
        )
    return ExportError(f"Model {model.name!r} cannot be converted to the {format} format: {detail}")


def _check_onnx_operations(model, path):
    """Raises ExportError naming the layer of the first node ONNX has no operator for."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    for node in graph.node:
        if not onnx.defs.has(node.op_type, node.domain or ""):
            raise conversion_error(
                model,
                "onnx",
                f"the operation {node.op_type} (node {node.name}) has no ONNX "
                "operator; replace the layer, or export to another format",
                where=node.name,
            )


def _write_onnx(model, path):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        runtimes.require("tf2onnx", "The ONNX export on the TensorFlow backend")
    elif backend == "jax":
        runtimes.require("jax2onnx", "The ONNX export on the JAX backend")
    model.export(str(path), format="onnx", verbose=False)
    _check_onnx_operations(model, path)


def _write_openvino(model, path, from_onnx=None):
    ov = runtimes.require("openvino", "The OpenVINO export")
    onnx_path = from_onnx or path.with_suffix(".onnx")
    if from_onnx is None:
        _write_onnx(model, onnx_path)
    ov.save_model(ov.convert_model(str(onnx_path)), str(path), compress_to_fp16=False)
    if from_onnx is None:
        onnx_path.unlink()


def _write_saved_model(model, path):
    runtimes.require("tensorflow", "The SavedModel export")
    model.export(str(path), format="tf_saved_model", verbose=False)


def _write_litert(model, path):
    model.export(str(path), format="litert", verbose=False)


WRITERS = {
    "onnx": _write_onnx,
    "openvino": _write_openvino,
    "saved_model": _write_saved_model,
    "litert": _write_litert,
}


def export_files(path, format):
    """The names of an export's files, the one the runtime opens last (`.bin` before `.xml`)."""
    path = pathlib.Path(path)
    return [path.with_suffix(".bin").name, path.name] if format == "openvino" else [path.name]


def _size(path):
    path = pathlib.Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def _ensure_called(model):
    """Keras's exporters need a model that has been called once."""
    import numpy as np

    if not getattr(model, "_called", True):
        shape = [1] + [d or 224 for d in model.input_shape[1:]]
        model(np.zeros(shape, "float32"), training=False)


def write_export(model, path, format, from_onnx=None):
    """Writes `model` to `path` in `format` (no check, no temporary name); returns seconds taken.

    `from_onnx`: for `openvino`, an ONNX export of `model` to convert instead of exporting again.

    Raises:
        ExportError: the model cannot be converted (the message names the layer when it can).
        EngineNotInstalledError: the converter the format needs is not installed.
    """
    check_format(format)
    _ensure_called(model)
    start = time.perf_counter()
    try:
        with _quiet_exporters():
            if from_onnx is not None and format == "openvino":
                _write_openvino(model, pathlib.Path(path), from_onnx)
            else:
                WRITERS[format](model, pathlib.Path(path))
    except (ExportError, runtimes.EngineNotInstalledError):
        raise
    except Exception as error:  # the converters raise many types; all mean "cannot convert"
        raise conversion_error(model, format, f"{type(error).__name__}: {error}") from error
    return time.perf_counter() - start


def _model_and_preprocess(model, weights, preprocess):
    """The Keras model, and the preprocessing of its weights for the check ("tf" for
    weights without one: any realistic input serves to compare two implementations)."""
    if isinstance(model, str):
        record = model_record(model)
        mode = preprocess or built.preprocess_of(record, weights) or "tf"
        built.check_preprocess(mode)
        return built.keras_model(record, weights), mode
    if preprocess is not None:
        return model, preprocess
    record, tagged = record_of(model)  # not from model.name, which users change
    tag = tagged.tag if tagged is not None else "imagenet"
    return model, built.preprocess_of(record, tag) or "tf"


def _is_saved_model_folder(path):
    """True when the folder holds a SavedModel and nothing else (one we may replace)."""
    names = {entry.name for entry in os.scandir(path)}
    return "saved_model.pb" in names and names <= SAVED_MODEL_ENTRIES


def _targets(path, format):
    """The paths an export to `path` writes: its files and the report."""
    return [path.parent / name for name in export_files(path, format)] + [
        path.with_name(path.name + REPORT_SUFFIX)
    ]


def _check_path(path, format, overwrite=False):
    suffix = FORMATS[format]
    if suffix and path.suffix.lower() != suffix:
        extra = " (its weights go to the .bin beside it)" if format == "openvino" else ""
        raise ValueError(
            f"A {format} export is written to a {suffix} file{extra}; got {str(path)!r}."
        )
    if path.exists() and (path.is_dir() != (format == "saved_model")):
        raise ValueError(f"{path} exists and is not a {format} export; choose another path.")
    for target in _targets(path, format):
        if target.is_dir() and not any(os.scandir(target)):
            continue  # an empty folder: nothing to lose
        if target.is_dir() and (target != path or not _is_saved_model_folder(target)):
            raise _files.OutputExistsError(
                f"{str(target)!r} is a folder holding files that are not a SavedModel export, "
                "and keras-dense never replaces it (not even with --overwrite): choose "
                "another path or an empty folder."
            )
        _files.refuse_existing(target, overwrite, OVERWRITE_FIX)


def export(
    model: str | Any,
    path: str | os.PathLike,
    format: str = "onnx",
    weights: str | os.PathLike | None = "imagenet",
    check: bool = True,
    images: Sequence[str | os.PathLike] | None = None,
    preprocess: str | None = None,
    tolerance: float | None = None,
    engine: str | None = None,
    precision: str = "float32",
    from_onnx: str | os.PathLike | None = None,
    overwrite: bool = False,
    calibration: quantize.CalibrationLike | None = None,
    calibration_size: int | None = None,
    min_top1_agreement: float | None = None,
) -> ExportResult:
    """Exports a model and checks the export against it before keeping it.

    Args:
        model: a built `keras.Model`, or a registry name (built with `weights`).
        path: where the export goes: a `.onnx`, `.xml` (OpenVINO; its `.bin`
            beside it), `.tflite` (LiteRT) file, or a folder (SavedModel).
        format: `"onnx"`, `"openvino"`, `"saved_model"` or `"litert"`.
        weights: with a registry name: `"imagenet"`, a tag, a path or `None`.
        check: run the check (recommended); `False` writes without it.
        images: image files for the check (default: four bundled photographs).
        preprocess: the weights' preprocessing (default: from the model's record).
        tolerance: largest output difference the check accepts (default
            `check.TOLERANCES[precision]`).
        engine: the runtime that runs the export for the check (default: the
            format's first installed runtime).
        precision: the precision the runtime computes in for the check; `"int8"`
            (OpenVINO only) quantizes the float32 IR with NNCF on `calibration` and
            checks it against float32 on held-out images (always checked).
        from_onnx: for `openvino`, an ONNX export of the same model and weights
            to convert (seconds) instead of exporting the model again.
        overwrite: replace an earlier export at `path` (and its report)
            atomically; a folder that holds anything but a SavedModel is
            refused even then.
        calibration: for int8, real images: a folder, image files or a uint8 pixel
            array (`keras_dense.inference.quantize.calibration_set`); those left
            over (or `images`, which must not be calibration images) check it.
        calibration_size: for int8, images that calibrate (default 300).
        min_top1_agreement: smallest top-1 agreement with float32 the check accepts
            (default `check.MIN_TOP1_AGREEMENT[precision]`).

    Returns:
        An `ExportResult`.

    Raises:
        ExportCheckError: the export's outputs differ from the model's; nothing is
            left at `path`.
        ExportError: the model cannot be converted to the format.
        EngineNotInstalledError: the converter or runtime is not installed.
        OutputExistsError: `path` or its report exists and `overwrite` is false,
            or `path` is a folder that is not a SavedModel.

    Example:
        >>> export(model, "model.onnx").check.passed
        True
    """
    check_format(format)
    path = pathlib.Path(path)
    _check_path(path, format, overwrite)
    calibration_set = _calibration_for(format, precision, calibration, calibration_size, images)
    keras_model, mode = _model_and_preprocess(model, weights, preprocess)
    if calibration_set is not None:
        return _export_int8(
            keras_model,
            mode,
            path,
            calibration_set,
            check,
            images,
            from_onnx,
            overwrite,
            tolerance,
            min_top1_agreement,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _files.temporary_path(path)
    staging.mkdir()
    try:
        staged = staging / path.name
        seconds = write_export(keras_model, staged, format, from_onnx)
        size = _size(staged) + (_size(staged.with_suffix(".bin")) if format == "openvino" else 0)
        report = None
        if check:
            exported = _open(keras_model, staged, format, engine, precision)
            try:
                report = check_lib.check_export(
                    keras_model,
                    exported,
                    images,
                    mode,
                    tolerance,
                    min_top1_agreement=min_top1_agreement,
                )
            except check_lib.ExportCheckError as error:
                raise check_lib.ExportCheckError(
                    f"The {format} export of {keras_model.name!r} failed its check: {error}; "
                    f"nothing was written to {path}."
                ) from error
            del exported  # the runtime lets go of the file before it is renamed
            if not report.passed:
                raise check_lib.ExportCheckError(
                    f"The {format} export of {keras_model.name!r} does not match the Keras "
                    f"model: {report.summary()}; nothing was written to {path}."
                )
        return _publish(staging, keras_model, path, format, seconds, size, report, overwrite)
    finally:
        _files.remove(staging)


def _publish(staging, keras_model, path, format, seconds, size, report, overwrite, **more):
    """Writes the report into `staging` and moves the staged export into place."""
    report_path = path.with_name(path.name + REPORT_SUFFIX)
    # Without a check the report says so: an earlier report's "passed" must not stay
    # beside an export it does not describe.
    checked = report.to_json() if report else {"passed": None}
    (staging / report_path.name).write_text(
        json.dumps(
            {
                "model": keras_model.name,
                "format": format,
                "export_seconds": seconds,
                "size_bytes": size,
                "checked": bool(report),
                **more,
                **checked,
            },
            indent=2,
        )
        + "\n"
    )
    _check_path(path, format, overwrite)  # nothing of the user's appeared meanwhile
    _move_into_place(staging, path, format, report_path)
    return ExportResult(path, format, seconds, size, report, report_path)


def _calibration_for(format, precision, calibration, calibration_size, images):
    """The int8 `CalibrationSet` (held out: `images` when given), or None for float."""
    if precision != "int8":
        if calibration is not None or calibration_size is not None:
            raise ValueError(
                "calibration images apply to precision='int8' (--precision int8) only."
            )
        return None
    if format != "openvino":
        raise ValueError(
            "int8 exports are OpenVINO IR quantized by NNCF: use format='openvino' "
            f"(--format openvino); got {format!r}."
        )
    calibration_set = quantize.calibration_set(calibration, calibration_size)
    if images:
        held_out = tuple(pathlib.Path(p) for p in images)
        taken = {pathlib.Path(p).resolve() for p in calibration_set.calibrate}
        shared = [p for p in held_out if p.resolve() in taken]
        if shared:
            raise ValueError(
                f"{shared[0]} is a calibration image; the int8 check needs other images "
                "(held out from the calibration)."
            )
        calibration_set = dataclasses.replace(calibration_set, held_out=held_out)
    return calibration_set


def _export_int8(
    keras_model,
    mode,
    path,
    calibration_set,
    check,
    images,
    from_onnx,
    overwrite,
    tolerance,
    min_top1_agreement,
):
    """The float32 IR (checked against Keras unless `check` is false), quantized by NNCF
    into `path`, checked against float32 on held-out images; nothing kept on failure."""
    raw_pixels = included_mode(keras_model) is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _files.temporary_path(path)
    staging.mkdir()
    try:
        (staging / "float32").mkdir()
        float_xml = staging / "float32" / path.name
        seconds = write_export(keras_model, float_xml, "openvino", from_onnx)
        float_report = None
        if check:
            exported = _open(keras_model, float_xml, "openvino", "openvino", "float32")
            float_report = check_lib.check_export(keras_model, exported, None, mode)
            del exported
            if not float_report.passed:
                raise check_lib.ExportCheckError(
                    f"The float32 OpenVINO export of {keras_model.name!r} does not match the "
                    f"Keras model: {float_report.summary()}; nothing was written to {path}."
                )
        staged = staging / path.name
        quantize_seconds, report = quantize.write_int8(
            float_xml,
            staged,
            calibration_set,
            None if raw_pixels else mode,
            tolerance,
            min_top1_agreement,
            name=keras_model.name,
        )
        if not report.passed:
            raise check_lib.ExportCheckError(
                f"The int8 export of {keras_model.name!r} does not agree with float32: "
                f"{report.summary()}; nothing was written to {path}."
            )
        _files.remove(staging / "float32")
        size = _size(staged) + _size(staged.with_suffix(".bin"))
        return _publish(
            staging,
            keras_model,
            path,
            "openvino",
            seconds + quantize_seconds,
            size,
            report,
            overwrite,
            precision="int8",
            quantize_seconds=quantize_seconds,
            float32_check=float_report.to_json() if float_report else None,
        )
    finally:
        _files.remove(staging)


def _open(model, path, format, engine, precision):
    """The staged export opened in its runtime; a runtime that cannot load it names the layer."""
    try:
        return runtimes.load_exported(path, format, engine, precision, name=model.name)
    except (runtimes.EngineNotInstalledError, ValueError):
        raise
    except Exception as error:  # e.g. an operator the runtime lacks: the message names the node
        raise conversion_error(
            model,
            format,
            f"{engine or 'the runtime'} cannot load it: {type(error).__name__}: {error}",
        ) from error


def _move_into_place(staging, path, format, report_path):
    """Renames the staged files to `path` (the `.xml` last, so it never lacks its `.bin`).

    The old report is set aside first (so it never describes the new export), the
    export's files are renamed over the old ones (a previous SavedModel folder is
    renamed aside, the new one renamed in, then the old one removed), the new
    report comes last. Everything set aside carries `_files.TEMP_MARK`.
    """
    aside, published = [], False
    try:
        if report_path.exists():
            aside.append(_set_aside(report_path))
        for name in export_files(path, format):
            target = path.parent / name
            if target.is_dir():
                aside.append(_set_aside(target))
            _files.publish(staging / name, target)
            published = True
        _files.publish(staging / report_path.name, report_path)
    except BaseException:
        if not published:  # nothing new is in place: put the old export's files back
            for moved, target in reversed(aside):
                if not target.exists():
                    os.replace(moved, target)
        raise
    finally:
        for moved, _ in aside:
            _files.remove(moved)


def _set_aside(target):
    """Renames `target` to a marked temporary name beside it; returns (that name, target)."""
    moved = _files.temporary_path(target)
    os.replace(target, moved)
    return moved, target
