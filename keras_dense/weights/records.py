"""What a published weight file is: `WeightsFile` (one download) and `WeightsRecord` (a tag).

Plain data, below the model registry: the registry (`keras_dense.models`) holds
each model's `WeightsRecord`s and fills in their `model`; the weights package
finds, verifies and loads the files they describe without looking models up.

Examples:
    >>> from keras_dense.weights.records import WeightsFile, WeightsRecord
    >>> WeightsRecord("my_tag", WeightsFile("f.h5", "https://...", "0123"), "torch", 0).tag
    'my_tag'
"""

import dataclasses

# "imagenet" asks for a model's first (default) weight tag, as keras.applications spells it.
DEFAULT_WEIGHTS_ALIAS = "imagenet"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable file.

    Attributes:
        file_name: the published name (also its name in the caches searched).
        url: where it is downloaded from.
        file_hash: its published hash (hex).
        hash_algorithm: `"md5"` (Keras) or `"sha256"` (torchvision).
        hub_repo: the Hugging Face Hub repository it is published in (e.g.
            `"timm/resnet50.a1_in1k"`), or `None` for a plain URL.
        hub_file: its name in that repository (`"model.safetensors"`).
        revision: the Hub revision (a branch, tag or commit) it is read from.
    """

    file_name: str
    url: str
    file_hash: str
    hash_algorithm: str = "md5"
    hub_repo: str | None = None
    hub_file: str | None = None
    revision: str = "main"


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """The evaluation transform published weights were measured with (timm's `pretrained_cfg`).

    Attributes:
        size: the test image side (timm's `test_input_size`, else `input_size`).
        crop_fraction: the centre crop's share of the resized short side (`crop_pct`).
        interpolation: the resampling filter (`"bicubic"`, `"bilinear"`).
        mean, std: the per-channel normalisation, on 0-1 pixels.
    """

    size: int
    crop_fraction: float
    interpolation: str
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class WeightsRecord:
    """One set of published weights for one model (a weight tag).

    Attributes:
        tag: the tag, e.g. `"keras_imagenet"`; the record's full name is `model.tag`.
        file: the file with the classifier.
        notop_file: the file without the classifier, where one is published
            (Keras publishes both); otherwise `file` is loaded by name without
            the classifier.
        file_format: `"keras_h5"` (Keras 2 HDF5, loaded as it is),
            `"torch_state_dict"` (torchvision's `.pth`) or `"timm_safetensors"`
            (timm's `model.safetensors` on the Hugging Face Hub); both of the
            latter are converted once, then cached.
        preprocess: the ImageNet preprocessing the weights were trained with:
            `"caffe"`, `"tf"` or `"torch"`.
        top1, top5: ImageNet validation accuracy (%) as published.
        notop_params: total parameters of the model built with `include_top=False`.
        arch: architecture overrides these weights need (e.g. the batch-norm
            epsilon they were trained with), applied when they are loaded.
        params: total parameters of the model built with the classifier, where
            `arch` changes the record's count (e.g. GoogLeNet's 3x3 "5x5"
            branch in torchvision's weights); `None`: the record's `params`.
        evaluation: the `EvalTransform` the accuracies were measured with, where
            it is not the default (short side / 0.875, bicubic, the model's size).
        model: the model's name; `register_model` fills it in.
    """

    tag: str
    file: WeightsFile
    preprocess: str
    notop_params: int
    notop_file: WeightsFile | None = None
    file_format: str = "keras_h5"
    top1: float | None = None
    top5: float | None = None
    arch: dict = dataclasses.field(default_factory=dict)
    params: int | None = None
    evaluation: EvalTransform | None = None
    model: str = ""

    @property
    def name(self):
        """`"densenet169.keras_imagenet"`."""
        return f"{self.model}.{self.tag}"

    def files(self):
        """`(include_top, WeightsFile)` for every published file of the tag."""
        rows = [(True, self.file)]
        if self.notop_file is not None:
            rows.append((False, self.notop_file))
        return rows

    def file_for(self, include_top):
        """The file to load for a model with (or without) its classifier."""
        if not include_top and self.notop_file is not None:
            return self.notop_file
        return self.file
