"""The one table of published Keras ImageNet weight files.

File names, URLs and md5 hashes are exactly those of `keras.applications`
(keras/src/applications/{densenet,vgg16,vgg19,resnet,inception_v3}.py), so a
file Keras downloaded into `~/.keras/models` is found and accepted here.

Example:
    >>> from keras_dense.weights import catalog
    >>> catalog.find("densenet169", include_top=True).file_name
    'densenet169_weights_tf_dim_ordering_tf_kernels.h5'
"""

import dataclasses

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One published weights file.

    Attributes:
        key: the weights key, the registry name of the model it fits.
        include_top: whether the file holds the 1000-class classifier.
        file_name: the published file name (also its name in the Keras cache).
        url: where Keras downloads it from.
        md5: the md5 hash Keras checks.
        params: total parameters of the model the file fits.
    """

    key: str
    include_top: bool
    file_name: str
    url: str
    md5: str
    params: int

    @property
    def label(self):
        """`"densenet169"` or `"densenet169 (no top)"`."""
        return self.key if self.include_top else f"{self.key} (no top)"


def _row(key, folder, include_top, md5, params):
    suffix = "" if include_top else "_notop"
    file_name = f"{key}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    return WeightsFile(key, include_top, file_name, f"{BASE_URL}{folder}/{file_name}", md5, params)


# (key, folder under BASE_URL, md5 with top, md5 without, params with top, without)
_PUBLISHED = (
    ("densenet121", "densenet", "9d60b8095a5708f2dcce2bca79d332c7",
     "30ee3e1110167f948a6b9946edeeb738", 8_062_504, 7_037_504),
    ("densenet169", "densenet", "d699b8f76981ab1b30698df4c175e90b",
     "b8c4d4c20dd625c148057b9ff1c1176b", 14_307_880, 12_642_880),
    ("densenet201", "densenet", "1ceb130c1ea1b78c3bf6114dbdfd8807",
     "c13680b51ded0fb44dff2d8f86ac8bb1", 20_242_984, 18_321_984),
    ("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
     "6d6bbae143d832006294945121d1f1fc", 138_357_544, 14_714_688),
    ("vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
     "253f8cb515780f3b799900260a226db6", 143_667_240, 20_024_384),
    ("resnet50", "resnet", "2cb95161c43110f7111970584f804107",
     "4d473c1dd8becc155b73f8504c6f6626", 25_636_712, 23_587_712),
    ("resnet101", "resnet", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
     "88cf7a10940856eca736dc7b7e228a21", 44_707_176, 42_658_176),
    ("resnet152", "resnet", "100835be76be38e30d865e96f2aaae62",
     "ee4c566cf9a93f14d82f913c2dc6dd0c", 60_419_944, 58_370_944),
    ("inception_v3", "inception_v3", "9a0d58056eeedaa3f26cb7ebd46da564",
     "bcbd6486424b2319ff4ef7d526e38f63", 23_851_784, 21_802_784),
)

WEIGHTS_FILES = tuple(
    _row(key, folder, include_top, md5, params)
    for key, folder, md5_top, md5_notop, params_top, params_notop in _PUBLISHED
    for include_top, md5, params in ((True, md5_top, params_top), (False, md5_notop, params_notop))
)


def keys():
    """The weights keys, in table order."""
    return list(dict.fromkeys(row.key for row in WEIGHTS_FILES))


def find(key, include_top=True):
    """Returns the `WeightsFile` of `key` with or without the classifier.

    Raises:
        ValueError: no published file has that key.
    """
    for row in WEIGHTS_FILES:
        if row.key == key and row.include_top == bool(include_top):
            return row
    raise ValueError(
        f"No published ImageNet weights are known for {key!r}; known: {', '.join(keys())}. "
        "Pass weights=None, or a path to a weights file."
    )


def find_by_file_name(file_name):
    """The `WeightsFile` published under `file_name`, or `None`."""
    return next((row for row in WEIGHTS_FILES if row.file_name == file_name), None)


def find_by_md5(md5):
    """The `WeightsFile` whose md5 is `md5`, or `None`."""
    return next((row for row in WEIGHTS_FILES if row.md5 == md5), None)
