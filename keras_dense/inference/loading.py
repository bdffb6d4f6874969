"""The engine dispatcher: the model a prediction runs, on the engine that pays, and its
preprocessing.

`load_engine_model` takes a registry name, a built Keras model, a Keras model
on the Hugging Face Hub (`"hf://user/repo"`, loaded by Keras's own
`keras.saving.load_model`) or an exported model, and returns an `EngineModel`:
the model to run (a `keras.Model`, or an export opened in a runtime,
`keras_dense.inference.runtimes.ExportedModel`) and the preprocessing mode of
its weights. `predict`, `validate`, the CLI and the benchmarks all start here.

Examples:
    >>> from keras_dense.inference.loading import load_engine_model
    >>> model, preprocess = load_engine_model("densenet169", engine="auto", job_images=500)
"""

from typing import Any, NamedTuple

from keras_dense.imagenet import preprocessing
from keras_dense.imagenet.preprocessing_layer import included_mode
from keras_dense.inference import auto, built, engines, runs, runtimes
from keras_dense.inference.fast import inference_model
from keras_dense.models import model_record, record_of

HUB_PREFIX = "hf://"  # keras.saving.load_model's Hugging Face Hub paths


def load_hub_model(path: str) -> Any:
    """A Keras model saved on the Hugging Face Hub (`model.save("hf://user/repo")`).

    Keras's own loader (`huggingface_hub.snapshot_download`, so the Hub's cache,
    `HF_HUB_CACHE` and `HF_HUB_OFFLINE` apply), in safe mode: a model that needs
    code it would have to run (a `Lambda` layer) is refused.

    Args:
        path: `"hf://user/repo"`.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: the path names no repository, or the repository cannot be loaded
            (one line).
    """
    import keras

    repo = path[len(HUB_PREFIX) :]
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"{path!r} is not a Hugging Face model: write hf://user/repo.")
    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"The Keras model {path} cannot be loaded ({reason}); check the repository "
            "name, and that it was saved with model.save('hf://...') (or that it is in the "
            "Hugging Face cache when HF_HUB_OFFLINE is set)."
        ) from None


class EngineModel(NamedTuple):
    """What a prediction runs: unpacks as `model, preprocess = load_engine_model(...)`.

    Attributes:
        model: a `keras.Model`, or an export opened in a runtime (`ExportedModel`).
        preprocess: the ImageNet preprocessing mode of its weights.
    """

    model: Any
    preprocess: str


def load_engine_model(
    model: Any = "densenet169",
    weights: Any = "imagenet",
    preprocess: str = None,
    precision: str = "float32",
    fold_bn: bool = False,
    engine: str = "auto",
    job_images: int = 0,
) -> EngineModel:
    """The model a prediction runs, on the chosen engine, and its preprocessing mode.

    Args:
        model: a registry name (built with `weights` and cached, the last two
            kept), `"hf://user/repo"` (a Keras model saved on the Hugging Face
            Hub, `load_hub_model`), a fine-tuning run folder
            (`keras_dense.inference.runs.load_run`: its best model, which carries its
            class names), a built `keras.Model` (used as it is for float32 without
            folding; see `keras_dense.inference.inference_model`), or an exported
            model from `keras_dense.inference.runtimes.load_exported`.
        weights: `"imagenet"`, a weight tag, a path, or `None`; only used with a name.
        preprocess: `"caffe"`, `"tf"` or `"torch"`; default: the weights' mode.
        precision: `"float32"` or `"bfloat16"`.
        fold_bn: fold batch norms into the convolutions before them (Keras engine).
        engine: `"auto"`, `"keras"`, `"onnxruntime"` or `"openvino"`
            (`keras_dense.inference.engines`).
        job_images: how many images the model will run on (for `engine="auto"`).

    Returns:
        An `EngineModel`: the model (a `keras.Model` or an `ExportedModel`) and its
        preprocessing mode.
    """
    included = record = None
    if isinstance(model, str) and model.startswith(HUB_PREFIX):
        model = load_hub_model(model)
    elif runs.is_run(model):
        model = runs.load_run(model)
    if isinstance(model, str):
        record = model_record(model)
    else:
        weights = "imagenet"
        included = included_mode(model)
        if included:  # its own preprocessing layer: it runs as it is, on Keras
            engine = "keras"
        elif preprocess is None:
            # its record and weight tag: the builder's attributes, else its architecture or name
            record, tagged = record_of(model)
            weights = tagged.tag if tagged is not None else weights
    if preprocess is None:
        preprocess = included or built.preprocess_of(record, weights)
        if preprocess is None:
            raise ValueError(
                f"The preprocessing of model {getattr(model, 'name', model)!r} is not known; "
                f"pass preprocess= one of {', '.join(preprocessing.MODES)}."
            )
    built.check_preprocess(preprocess)
    if isinstance(model, runtimes.ExportedModel):
        return EngineModel(model, preprocess)
    if isinstance(model, str):
        return EngineModel(
            _load_named(record, weights, preprocess, precision, fold_bn, engine, job_images),
            preprocess,
        )
    chosen = engines.choose_engine(engine, precision, job_images, keras_ready=True)
    if chosen == "keras" and _counts(engine, fold_bn):
        fast = auto.note_keras_images(
            model,
            None,
            precision,
            job_images,
            model.name,
            lambda runtime: engines.keras_engine_model(model, runtime, precision, preprocess),
            auto.family_of(model),
        )
        if fast is not None:
            return EngineModel(fast, preprocess)
    if chosen == "keras":
        fast = inference_model(model, precision, fold_bn)
        return EngineModel(runs.carry_class_names(model, fast), preprocess)
    exported = engines.keras_engine_model(model, chosen, precision, preprocess)
    return EngineModel(runs.carry_class_names(model, exported), preprocess)


def _load_named(record, weights, preprocess, precision, fold_bn, engine, job_images):
    """The model of registry `record` with `weights` on the chosen engine (the last two kept)."""
    keras_key = built.keras_key(record, weights, precision, fold_bn)
    chosen = engines.choose_engine(
        engine,
        precision,
        job_images,
        engines.record_cached(record, weights, precision),
        keras_ready=built.is_built(keras_key),
    )
    if chosen == "keras" and _counts(engine, fold_bn):

        def export(runtime):
            return built.remembered(
                keras_key[:-1] + (runtime,),
                lambda: engines.record_engine_model(
                    record, weights, runtime, precision, preprocess
                ),
            )

        fast = auto.note_keras_images(
            record.name, weights, precision, job_images, record.name, export, record.family
        )
        if fast is not None:
            return fast
    if chosen == "keras":
        return built.keras_model(record, weights, precision, fold_bn)
    return built.remembered(
        keras_key[:-1] + (chosen,),
        lambda: engines.record_engine_model(record, weights, chosen, precision, preprocess),
    )


def _counts(engine, fold_bn):
    """Whether a call that runs on Keras counts towards `auto`'s export within the process
    (`keras_dense.inference.auto`): `auto` on a CPU, without the Keras-only folding."""
    return engine == "auto" and not fold_bn and not engines.on_accelerator()
