"""Where published weight files come from: one helper per publisher, for the model records.

Example:
    >>> record = keras_imagenet("densenet", "densenet169", "d699b8f7...", "b8c4d4c2...",
    ...                         notop_params=12_642_880, preprocess="torch", top1=76.2, top5=93.2)
    >>> record.file.file_name
    'densenet169_weights_tf_dim_ordering_tf_kernels.h5'
"""

from keras_dense.models._registry import WeightsFile, WeightsRecord

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def keras_imagenet(folder, stem, md5, notop_md5, notop_params, preprocess, top1, top5):
    """The `keras_imagenet` tag of a model whose weights `keras.applications` publishes.

    File names, URLs and md5 hashes are exactly Keras's
    (keras/src/applications/*.py), so a file Keras downloaded into
    `~/.keras/models` is found and accepted.

    Args:
        folder: the folder under `KERAS_BASE_URL`, e.g. `"densenet"`.
        stem: the file-name stem, e.g. `"densenet169"`.
        md5: md5 of the file with the classifier.
        notop_md5: md5 of the `_notop` file.
        notop_params: parameters of the model built with `include_top=False`.
        preprocess: the preprocessing mode the weights expect.
        top1, top5: the ImageNet accuracies (%) keras.io publishes.

    Returns:
        A `WeightsRecord`.
    """

    def published(suffix, file_hash):
        file_name = f"{stem}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        return WeightsFile(file_name, f"{KERAS_BASE_URL}{folder}/{file_name}", file_hash, "md5")

    return WeightsRecord(
        tag="keras_imagenet", file=published("", md5), notop_file=published("_notop", notop_md5),
        preprocess=preprocess, notop_params=notop_params, file_format="keras_h5",
        top1=top1, top5=top5,
    )
