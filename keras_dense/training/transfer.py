"""Fine-tuning: a registered model's backbone with a new classifier head.

`keras_dense.finetune` is this module's `finetune`.

As in the Keras transfer-learning guide, the backbone (built with
`include_top=False, pooling="avg"`) is called with `training=False` whenever
any of it is frozen, so its batch-norm layers keep their moving statistics and
run in inference mode while the head trains.

Example:
    >>> import keras_dense
    >>> model = keras_dense.finetune("vgg16", classes=10, input_shape=(32, 32, 3))
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> # inputs must be preprocessed as the weights expect:
    >>> x = keras_dense.models.vgg.preprocess_input(pixels)
"""

import os
from typing import Any

import keras
from keras import layers

from keras_dense._choices import FREEZE_MODES
from keras_dense.imagenet.preprocessing_layer import LAYER_NAME, ImageNetPreprocessing
from keras_dense.models import _layers, model_record


def check_freeze(freeze):
    """Raises ValueError unless `freeze` is a `FREEZE_MODES` value or a count of layers."""
    if freeze in FREEZE_MODES:
        return
    if isinstance(freeze, bool) or not isinstance(freeze, int) or freeze < 0:
        raise ValueError(
            "freeze must be 'backbone', 'none' or a number of trailing layers to train; "
            f"got {freeze!r}."
        )


def trainable_tail(backbone, count):
    """Freezes `backbone` except its last `count` weighted non-batch-norm layers.

    Batch-norm layers stay frozen (their statistics describe the pretraining
    data, and a small fine-tuning batch would spoil them).

    Args:
        backbone: a `keras.Model`.
        count: number of trailing layers with weights (convolutions, dense) to
            leave trainable.

    Returns:
        The list of layers left trainable.

    Raises:
        ValueError: `count` exceeds the backbone's weighted layers.
    """
    weighted = [
        layer
        for layer in backbone.layers
        if layer.weights and not isinstance(layer, layers.BatchNormalization)
    ]
    if count > len(weighted):
        raise ValueError(
            f"freeze={count} exceeds the {len(weighted)} weighted layers of "
            f"{backbone.name}; use freeze='none' to train the whole backbone."
        )
    tail = weighted[len(weighted) - count :] if count else []
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = any(layer is kept for kept in tail)
    return tail


def finetune(
    name: str,
    classes: int = 10,
    weights: str | os.PathLike | None = "imagenet",
    freeze: str | int = "backbone",
    input_shape: tuple[int, int, int] | None = None,
    dropout: float = 0.0,
    classifier_activation: str | None = "softmax",
    preprocessing: str | None = None,
    **builder_kwargs: Any,
) -> keras.Model:
    """Returns a registered model's backbone topped with a new classifier.

    Args:
        name: registry name, e.g. `"vgg16"` (see `keras_dense.list_models()`).
        classes: number of classes of the new head.
        weights: backbone weights: `"imagenet"`, a path, or `None` (random).
        freeze: `"backbone"` (train only the head), `"none"` (train
            everything; batch norm then updates its statistics), or an integer
            N: train the head and the backbone's last N layers that have
            weights, batch-norm layers excepted (they stay frozen).
        input_shape: `(height, width, channels)`; default the model's own.
        dropout: dropout before the new classifier (0 disables it).
        classifier_activation: activation of the new classifier.
        preprocessing: `"caffe"`, `"tf"` or `"torch"`: the model starts with
            that `ImageNetPreprocessing` layer and takes RGB pixels 0-255 (the
            preprocessing then runs inside the compiled step, and a saved or
            exported model is self-contained); None: it takes preprocessed input.
        **builder_kwargs: other arguments for the backbone's builder.

    Returns:
        A `keras.Model` whose layers are the input, the backbone (a nested
        model named after `name`), optional `head_dropout`, and `predictions`.

    Example:
        >>> model = finetune("vgg16", classes=10, input_shape=(32, 32, 3))
        >>> model.get_layer("vgg16").trainable
        False
    """
    record = model_record(name)
    check_freeze(freeze)
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"classes must be a positive integer; got {classes!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
    input_shape = tuple(record.input_shape if input_shape is None else input_shape)

    backbone = record.build(
        include_top=False,
        weights=weights,
        input_shape=input_shape,
        pooling="avg",
        **builder_kwargs,
    )
    if freeze == "backbone":
        backbone.trainable = False
    elif freeze != "none":
        trainable_tail(backbone, freeze)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if preprocessing is not None:
        x = ImageNetPreprocessing(preprocessing, name=LAYER_NAME)(x)
    if freeze == "none":
        x = backbone(x)
    else:
        # Inference mode even while fitting: BN keeps its moving statistics.
        x = backbone(x, training=False)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = _layers.classifier(x, classes, classifier_activation)
    return keras.Model(inputs, outputs, name=f"{record.name}_finetune")
