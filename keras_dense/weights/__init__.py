"""Loading model weights (the published ImageNet files land with issue 3)."""


def load_model_weights(model, weights, weights_key=None, include_top=True):
    """Loads `weights` (a path) into `model`.

    Args:
        model: the built `keras.Model`.
        weights: path to a Keras weights file.
        weights_key: key of the model's published weights (unused for paths).
        include_top: whether the model has its classifier.
    """
    if weights == "imagenet":
        raise ValueError(
            "weights='imagenet' is not available in this version; pass a path to a weights file."
        )
    model.load_weights(weights)
