"""Where published weight files come from: one helper per publisher, for the model records.

Example:
    >>> record = keras_imagenet("densenet", "densenet169", "d699b8f7...", "b8c4d4c2...",
    ...                         notop_params=12_642_880, preprocess="torch", top1=76.2, top5=93.2)
    >>> record.file.file_name
    'densenet169_weights_tf_dim_ordering_tf_kernels.h5'
    >>> torchvision_imagenet("densenet161-8d451a50.pth", 26_691_936, 77.138, 93.56).file.file_hash
    '8d451a50'
"""

import re

from keras_dense.weights.records import EvalTransform, WeightsFile, WeightsRecord

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
TORCHVISION_BASE_URL = "https://download.pytorch.org/models/"
HUB_BASE_URL = "https://huggingface.co/"
TIMM_FORMAT = "timm_safetensors"
# torchvision's file names end in the first hex digits of the file's sha256:
# "densenet161-8d451a50.pth" (torch.hub checks exactly that prefix).
_TORCHVISION_FILE = re.compile(r"^[\w.-]+-(?P<sha256>[0-9a-f]{8,64})\.pth$")


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
        tag="keras_imagenet",
        file=published("", md5),
        notop_file=published("_notop", notop_md5),
        preprocess=preprocess,
        notop_params=notop_params,
        file_format="keras_h5",
        top1=top1,
        top5=top5,
    )


def torchvision_imagenet(
    file_name, notop_params, top1, top5, arch=None, params=None, tag="tv_imagenet"
):
    """A tag of torchvision's published ImageNet weights (a `.pth` state dict).

    The file name, URL and hash are torchvision's (`torchvision/models/*.py`,
    `Weights.url`): the hash is the sha256 prefix in the file name, which is
    what torchvision itself checks, so a file torchvision downloaded into
    `$TORCH_HOME/hub/checkpoints` is found and accepted. Every torchvision
    model is trained on "torch"-preprocessed images; the file is converted
    once into a Keras `.weights.h5` (see `keras_dense.weights.converted`).

    Args:
        file_name: the published name, e.g. `"densenet161-8d451a50.pth"`.
        notop_params: parameters of the model built with `include_top=False`
            (and `arch`).
        top1, top5: the ImageNet accuracies (%) torchvision publishes
            (`meta["_metrics"]["ImageNet-1K"]`).
        arch: config overrides the weights need, e.g. `{"bn_epsilon": 1e-5}`.
        params: parameters with the classifier where `arch` changes the count.
        tag: the tag (`"tv_imagenet"`; `"tv_imagenet_v2"` for a newer recipe).

    Returns:
        A `WeightsRecord`.
    """
    match = _TORCHVISION_FILE.match(file_name)
    if match is None:
        raise ValueError(f"{file_name!r} is not a torchvision file name (NAME-SHA256PREFIX.pth).")
    return WeightsRecord(
        tag=tag,
        file=WeightsFile(
            file_name, f"{TORCHVISION_BASE_URL}{file_name}", match["sha256"], "sha256"
        ),
        preprocess="torch",
        notop_params=notop_params,
        file_format="torch_state_dict",
        top1=top1,
        top5=top5,
        arch=dict(arch or {}),
        params=params,
    )


def timm_imagenet(
    timm_name,
    notop_params,
    top1,
    top5,
    evaluation,
    arch=None,
    revision="main",
    sha256="",
):
    """A tag of timm's ImageNet weights, `model.safetensors` in the Hub repository `timm/NAME`.

    The tag is `timm_` and timm's own tag (`resnet50.a1_in1k` -> `timm_a1_in1k`).
    timm's ResNets and DenseNets have torchvision's state-dict keys, so the
    file is converted by torchvision's mapping (`keras_dense.weights.torchvision`)
    once, into a Keras `.weights.h5` (`keras_dense.weights.converted`).

    Args:
        timm_name: timm's `architecture.tag`, e.g. `"resnet50.a1_in1k"`.
        notop_params: parameters of the model built with `include_top=False` (and `arch`).
        top1, top5: the ImageNet accuracies (%) timm publishes
            (`results/results-imagenet.csv`) at `evaluation`'s size and crop.
        evaluation: the `EvalTransform` of timm's `pretrained_cfg` (test size, crop,
            interpolation, mean and std).
        arch: config overrides the weights need, e.g. `{"bn_epsilon": 1e-5}`.
        revision: the Hub revision read (a commit pins it).
        sha256: the file's published sha256, or `""` where the record does not pin it.

    Returns:
        A `WeightsRecord` with `file_format="timm_safetensors"`.
    """
    repo = f"timm/{timm_name}"
    return WeightsRecord(
        tag="timm_" + timm_name.split(".", 1)[1],
        file=WeightsFile(
            f"{timm_name}.safetensors",
            f"{HUB_BASE_URL}{repo}/resolve/{revision}/model.safetensors",
            sha256,
            "sha256",
            hub_repo=repo,
            hub_file="model.safetensors",
            revision=revision,
        ),
        preprocess="torch",
        notop_params=notop_params,
        file_format=TIMM_FORMAT,
        top1=top1,
        top5=top5,
        arch=dict(arch or {}),
        evaluation=evaluation,
    )


def timm_eval(size, crop_fraction, interpolation="bicubic"):
    """timm's test-time `EvalTransform`, ImageNet's mean and std (`timm_imagenet`)."""
    return EvalTransform(size, crop_fraction, interpolation)
