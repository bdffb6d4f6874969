"""`embed`: the pooled features of images, for search, deduplication or a downstream model.

The embedding of an image is the output of the model built without its
classifier, `get_model(NAME, include_top=False, pooling="avg")` at the
record's input size, or of a named layer, its feature map averaged over
space, on the same pixels `predict` gives the classifier: the same loading
(resize or centre crop, interpolation) and the same preprocessing. It runs on
every engine: the runtimes export the model without its top like any other.

Examples:
    >>> import keras_dense
    >>> vectors = keras_dense.embed(["a.jpg", "b.jpg"], model="resnet50")   # (2, 2048)
    >>> from keras_dense.inference.folder_jobs import embed_into
    >>> embed_into(["photos/"], "photos.parquet", model="resnet50", resume=True)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from typing import Any

import keras
import numpy as np

from keras_dense.inference import built, loading, runtimes
from keras_dense.inference import predict as predict_lib
from keras_dense.inference.inputs import input_size, probabilities_of, to_pixel_batch
from keras_dense.models import model_record


def _pooled(model: keras.Model, layer: str | None) -> keras.Model:
    """`model` cut at `layer` (default: its output), a feature map averaged over space."""
    output = model.output
    if layer is not None:
        try:
            output = model.get_layer(layer).output
        except ValueError:
            names = [item.name for item in model.layers]
            raise ValueError(
                f"{model.name} has no layer {layer!r}; its last layers are "
                f"{', '.join(names[-5:])} (`keras-dense summary NAME --layers` lists them)."
            ) from None
    if len(output.shape) == 4:
        output = keras.layers.GlobalAveragePooling2D(name="embedding_pool")(output)
    elif len(output.shape) != 2:
        raise ValueError(
            f"layer {layer or model.output.name!r} gives shape {tuple(output.shape)}; "
            "choose a layer with a (batch, height, width, channels) or (batch, n) output."
        )
    if output is model.output:
        return model
    return keras.Model(model.input, output, name=f"{model.name}_embedding")


def embedding_model(
    model: str | keras.Model = "densenet169",
    weights: Any = "imagenet",
    layer: str | None = None,
    preprocess: str | None = None,
) -> tuple[keras.Model, str]:
    """The Keras model whose outputs are the embeddings, and its preprocessing mode.

    Args:
        model: a registry name, built with `include_top=False, pooling="avg"` at
            its record's input size (kept, like `predict`'s models), or a built
            `keras.Model` (its output, pooled when it is a feature map).
        weights: `"imagenet"`, a weight tag, a path, or `None` (with a name).
        layer: a layer whose output is pooled instead (built without pooling).
        preprocess: the preprocessing mode; default: the weights'.

    Returns:
        `(keras_model, preprocess)`.
    """
    if isinstance(model, runtimes.ExportedModel):  # an embedding model opened in a runtime
        return model, loading.load_engine_model(model, None, preprocess).preprocess
    if not isinstance(model, str):
        return _pooled(model, layer), loading.load_engine_model(model, None, preprocess).preprocess
    record = model_record(model)
    mode = preprocess or built.preprocess_of(record, weights)
    if mode is None:
        raise ValueError(f"The preprocessing of {model!r} is not known; pass preprocess=.")
    key = (record.name, built.weights_identity(weights), "embed", layer)

    def make():
        pooling = None if layer else "avg"
        shape = record.input_shape
        base = record.build(weights=weights, include_top=False, pooling=pooling, input_shape=shape)
        return _pooled(base, layer)

    return built.remembered(key, make), mode


def _engine_model(model, weights, layer, preprocess, precision, fold_bn, engine, job_images):
    keras_model, mode = embedding_model(model, weights, layer, preprocess)
    return loading.load_engine_model(
        keras_model, None, mode, precision, fold_bn, engine, job_images
    )


def embed(
    images: predict_lib.ImagesLike,
    model: str | keras.Model = "densenet169",
    weights: Any = "imagenet",
    layer: str | None = None,
    batch_size: int = 32,
    preprocess: str | None = None,
    crop: bool = False,
    interpolation: str = "nearest",
    precision: str = "float32",
    fold_bn: bool = False,
    engine: str = "auto",
) -> np.ndarray:
    """The embeddings of images: one float32 row per image.

    Args:
        images: as in `keras_dense.predict` (paths, Pillow images, arrays).
        model: a registry name or a built `keras.Model` (see `embedding_model`).
        weights: as in `predict`.
        layer: pool this layer's output instead of the last feature map.
        batch_size: images per inference step.
        preprocess: as in `predict`.
        crop: as in `predict`.
        interpolation: as in `predict`.
        precision: as in `predict`.
        fold_bn: as in `predict`.
        engine: as in `predict` (the runtimes export the model without its top).

    Returns:
        A `(n, features)` float32 array, row i the embedding of image i.

    Raises:
        keras_dense.imagenet.images.ImageLoadError: an image file cannot be loaded.

    Examples:
        >>> embed(["a.jpg", "b.png"], model="densenet121").shape
        (2, 1024)
    """
    count = 1 if predict_lib.is_single(images) else len(images)
    runner, mode = _engine_model(
        model, weights, layer, preprocess, precision, fold_bn, engine, count
    )
    pixels = to_pixel_batch(images, input_size(runner), crop, interpolation)
    return np.asarray(probabilities_of(runner, mode, pixels, batch_size), "float32")


@dataclasses.dataclass(frozen=True)
class FileEmbedding:
    """The embedding of one file, or the reason it was skipped.

    Attributes:
        path: the file.
        embedding: a float32 vector, or `None` on error.
        error: the one-line error, or `None`.
    """

    path: str
    embedding: np.ndarray | None = None
    error: str | None = None


def embed_files(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    model: str | keras.Model = "densenet169",
    weights: Any = "imagenet",
    layer: str | None = None,
    batch_size: int = 32,
    preprocess: str | None = None,
    crop: bool = False,
    interpolation: str = "nearest",
    precision: str = "float32",
    fold_bn: bool = False,
    engine: str = "auto",
) -> Iterator[FileEmbedding]:
    """Yields a `FileEmbedding` per image file of `paths`, in order, batch by batch.

    As `keras_dense.inference.predict.predict_files`: unreadable files yield
    their error, the next batch is decoded while the model runs.

    Args:
        paths: image files and folders (walked recursively).
        model: as in `embed`.
        weights: as in `embed`.
        layer: as in `embed`.
        batch_size: as in `embed`.
        preprocess: as in `embed`.
        crop: as in `embed`.
        interpolation: as in `embed`.
        precision: as in `embed`.
        fold_bn: as in `embed`.
        engine: as in `embed`.

    Yields:
        `FileEmbedding`s.

    Examples:
        >>> for item in embed_files(["photos/"], model="resnet50"):
        ...     print(item.path, item.error or item.embedding.shape)
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]

    def prepare(count):
        runner, mode = _engine_model(
            model, weights, layer, preprocess, precision, fold_bn, engine, count
        )
        return input_size(runner), lambda pixels: probabilities_of(runner, mode, pixels, batch_size)

    outcomes = predict_lib.file_outcomes(paths, batch_size, crop, interpolation, prepare)
    for path, vector, error in outcomes:
        vector = None if error is not None else np.asarray(vector, "float32")
        yield FileEmbedding(path, vector, error)


__all__ = ["FileEmbedding", "embed", "embed_files", "embedding_model"]
