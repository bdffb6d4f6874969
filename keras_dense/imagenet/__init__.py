"""ImageNet data knowledge: preprocessing, image loading, the class index, TTA views.

- `preprocessing`: `preprocess_input(x, data_format=None, mode=...)`, Keras's modes.
- `images`: `load_image` (any Pillow mode, EXIF, resize or centre crop), `find_images`.
- `classes`: the bundled class index and `decode_predictions`.
- `tta`: test-time augmentation views (flip, five / ten crops) and their averaging.
- `preprocessing_layer`: `ImageNetPreprocessing`, the layer of `include_preprocessing=True`.

`predict` and `validate`, which run models, are in `keras_dense.inference`.

Example:
    >>> from keras_dense import imagenet
    >>> x = imagenet.preprocess_input(pixels, mode="torch")
    >>> imagenet.decode_predictions(model.predict(x), top=5)
"""

from keras_dense.imagenet.classes import class_index, decode_predictions
from keras_dense.imagenet.preprocessing import MODES, preprocess_input

__all__ = ["MODES", "class_index", "decode_predictions", "preprocess_input"]
