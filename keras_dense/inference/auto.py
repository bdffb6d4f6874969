"""`engine="auto"` within a process: many small jobs through one model are one large job.

`engines.choose_engine` decides per call, from that call's images; a Python
loop of 32-image calls never reaches the size at which an export pays. So a
process counts the images it has sent through each model on Keras
(`note_keras_images`); once they would have paid for the export
(`images x seconds saved per image > export seconds`), the export is made in a
background thread (into the engine cache, whose staging folder is in the
cache, never the working folder) and the next call after it is ready runs on
the runtime.

The constants are the machine's: every Keras and runtime pass and every export
of the process is timed (`observe`, `observe_export`) and the figures (the
fastest seconds per image of each engine and precision, the last export's
seconds) are kept per machine (CPU model, cores) and model in
`$KERAS_DENSE_CACHE/engines/auto-constants.json`; until a figure is measured,
`engines`' defaults stand in. Each decision is logged at DEBUG on the
`keras_dense.inference` logger (`keras-dense predict --verbose` shows them).

Example:
    >>> import logging; logging.basicConfig(level=logging.DEBUG)
    >>> for batch in batches:   # 20 calls of 32 images
    ...     keras_dense.predict(batch, model="densenet121")
"""

import json
import logging
import os
import platform
import threading
import time
import weakref

from keras_dense import _files
from keras_dense.inference import cache, engines
from keras_dense.models import model_record, record_of

CONSTANTS_FILE = "auto-constants.json"
# A runtime's seconds per image over Keras's, until measured for the model's family on this
# machine (benchmarks/inference.py, DenseNet-169: OpenVINO float32 34.9 vs Keras 24 img/s;
# OpenVINO bfloat16 133 vs Keras's bfloat16 copy ~35)
RUNTIME_TIME_RATIO = {"float32": 0.7, "bfloat16": 0.3}
logger = logging.getLogger("keras_dense.inference")
_LOCK = threading.Lock()
_NAMED = {}  # (model name, weights, precision) -> _Usage
_BUILT = weakref.WeakKeyDictionary()  # keras model -> {precision: _Usage}
_CONSTANTS = {}  # model -> measured figures (this process's view of the file)


class _Usage:
    """What one process sent through one model in one precision."""

    def __init__(self):
        self.images = 0
        self.thread = None
        self.ready = None  # callable returning the runtime model once exported
        self.error = None
        self.said = None  # the last decision logged (each new one is logged once)


def machine_key():
    """The machine the constants are measured on: the CPU's model name and core count."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return f"{name} x{os.cpu_count()}"


def _constants_path():
    return cache.cache_dir() / CONSTANTS_FILE


def _load(model):
    if model not in _CONSTANTS:
        try:
            stored = json.loads(_constants_path().read_text())
            figures = stored.get(machine_key(), {}).get(model, {})
            _CONSTANTS[model] = figures if isinstance(figures, dict) else {}
        except (OSError, ValueError, AttributeError):
            _CONSTANTS[model] = {}
    return _CONSTANTS[model]


def _save(model):
    """Merges this process's figures for `model` into the file (a cache: failures are
    ignored, the defaults then stand in)."""
    path = _constants_path()
    try:
        try:
            stored = json.loads(path.read_text())
            stored = stored if isinstance(stored, dict) else {}
        except (OSError, ValueError):
            stored = {}
        stored.setdefault(machine_key(), {})[model] = _CONSTANTS[model]
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, json.dumps(stored, indent=2) + "\n")
    except (OSError, TypeError, AttributeError) as error:
        logger.debug("auto: the measured constants were not saved (%s)", error)


def family_of(model):
    """The family of a registry name or a built model (None when it has none)."""
    try:
        record = model_record(model) if isinstance(model, str) else record_of(model)[0]
        return record.family
    except Exception:  # noqa: BLE001 - a model of the user's own: no family figures
        return None


def observe(model, engine, precision, images, seconds, family=None):
    """Records a timed pass: `images` through `model` on `engine` in `seconds`; with both
    Keras's and a runtime's figure known, their ratio for the model's `family`."""
    if images <= 0 or seconds <= 0:
        return
    with _LOCK:
        figures = _load(model)
        name = f"{engine}_{precision}_seconds_per_image"
        value = seconds / images
        if name not in figures or value < 0.95 * figures[name]:
            figures[name] = value
            _save(model)
            keras = figures.get(f"keras_{precision}_seconds_per_image")
            if family and engine != "keras" and keras:
                _load(f"family:{family}")[f"{engine}_{precision}_time_ratio"] = value / keras
                _save(f"family:{family}")


def observe_export(model, seconds):
    """Records the seconds an export (with its check and store) took for `model`."""
    with _LOCK:
        _load(model)["export_seconds"] = seconds
        _save(model)


def constants(model, precision, runtime, family=None):
    """`(export seconds, seconds saved per image, where they come from)` for `model`.

    Seconds saved per image: Keras's minus the runtime's, both measured for the model
    here; else Keras's measured figure times (1 - the runtime's time ratio measured for
    the family here, or `RUNTIME_TIME_RATIO`); else `engines.SECONDS_SAVED_PER_IMAGE`.
    Export seconds: the model's last export here, else `engines.EXPORT_SECONDS`.
    """
    figures = _load(model)
    export = figures.get("export_seconds")
    keras = figures.get(f"keras_{precision}_seconds_per_image")
    fast = figures.get(f"{runtime}_{precision}_seconds_per_image")
    if keras is not None and fast is not None:
        saved, source = keras - fast, "per image: both measured here"
    elif keras is not None:
        ratio = _load(f"family:{family}").get(f"{runtime}_{precision}_time_ratio")
        where = f"the {family} family's ratio measured here" if ratio else "the default ratio"
        ratio = ratio or RUNTIME_TIME_RATIO.get(precision, 1.0)
        saved = keras * (1 - ratio)
        source = f"per image: keras measured here, {runtime} x{ratio:.2f} ({where})"
    else:
        saved = engines.SECONDS_SAVED_PER_IMAGE.get(precision, 0.0)
        source = "per image: the default"
    if export is None:
        export, source = engines.EXPORT_SECONDS, source + "; export: the default"
    else:
        source += "; export: measured here"
    return export, saved, source


def _usage(model, weights, precision):
    with _LOCK:
        if isinstance(model, str):
            return _NAMED.setdefault((model, str(weights), precision), _Usage())
        return _BUILT.setdefault(model, {}).setdefault(precision, _Usage())


def _say(usage, message, *args):
    text = message % args
    if text != usage.said:
        usage.said = text
        logger.debug("auto: %s", text)


def note_keras_images(model, weights, precision, images, label, export, family=None):
    """Counts a call's images; returns the runtime model once it is ready, else None.

    Args:
        model: a registry name or a built `keras.Model` (the usage is per model).
        weights: the weights (with a name).
        precision: the precision.
        images: the images of this call.
        label: the model's name for the constants and the log.
        export: `export(runtime)` exports into the cache and returns the runtime model
            (run in a background thread once the images so far would have paid for it).
        family: the model's family (for the figures measured on its other models).

    Returns:
        The runtime model (`ExportedModel`) once exported, or None (run on Keras).
    """
    usage = _usage(model, weights, precision)
    runtime = (engines.installed_runtimes(precision) or [None])[0]
    if runtime is None:
        return None
    usage.images += images
    if usage.ready is not None:
        _say(usage, "%s: %s (%s), its export is ready", label, runtime, precision)
        return usage.ready()
    if usage.thread is not None:
        if usage.error:
            _say(usage, "%s: keras (the background export failed: %s)", label, usage.error)
        else:
            _say(usage, "%s: keras while %s's export runs in the background", label, runtime)
        return None
    export_seconds, saved, source = constants(label, precision, runtime, family)
    would_save = usage.images * saved
    pays = would_save > export_seconds
    figures = (
        f"{usage.images} images so far x {saved:.4f} s saved per image = {would_save:.1f} s "
        f"{'>' if pays else '<='} export {export_seconds:.1f} s ({source})"
    )
    if not pays:
        logger.debug("auto: %s: keras: %s", label, figures)
        return None
    logger.debug(
        "auto: %s: %s: exporting for %s in a background thread; keras until it is ready",
        label,
        figures,
        runtime,
    )
    usage.thread = threading.Thread(
        target=_export, args=(usage, export, label, runtime), daemon=True
    )
    usage.thread.start()
    return None


def _export(usage, export, label, runtime):
    start = time.perf_counter()
    try:
        export(runtime)
    except Exception as error:  # noqa: BLE001 - an optimisation: Keras goes on
        usage.error = f"{type(error).__name__}: {error}"
        logger.warning("auto: the background export of %s failed (%s)", label, usage.error)
        return
    observe_export(label, time.perf_counter() - start)
    usage.ready = lambda: export(runtime)  # cached: opened once, then reused


def wait(timeout=None):
    """Waits for this process's background exports (tests, and a clean exit)."""
    with _LOCK:
        threads = [u.thread for u in _NAMED.values() if u.thread is not None]
        threads += [u.thread for p in _BUILT.values() for u in p.values() if u.thread]
    for thread in threads:
        thread.join(timeout)
