"""ImageNet utilities: preprocessing, image loading, the class index, and `predict`.

- `preprocessing`: `preprocess_input(x, data_format=None, mode=...)`, Keras's modes.
- `images`: `load_image` (any Pillow mode, EXIF, resize or centre crop), `find_images`.
- `classes`: the bundled class index and `decode_predictions`.
- `predict`: top-k classes of files, Pillow images or arrays; `predict_files` for folders.
- `tta`: test-time augmentation views (flip, five / ten crops) and their averaging.
- `preprocessing_layer`: `ImageNetPreprocessing`, the layer of `include_preprocessing=True`.
- `validate`: top-1 / top-5 over wnid folders or a labels CSV (`keras-dense validate`).

Example:
    >>> from keras_dense import imagenet
    >>> x = imagenet.preprocess_input(pixels, mode="torch")
    >>> imagenet.decode_predictions(model.predict(x), top=5)
"""

from keras_dense.imagenet.classes import class_index, decode_predictions
from keras_dense.imagenet.preprocessing import MODES, preprocess_input

__all__ = ["MODES", "class_index", "decode_predictions", "preprocess_input"]
