"""Image folders for fine-tuning: class folders found, split, and streamed with augmentation.

A folder holds `train/<class>/*` and `val/<class>/*`, or only `<class>/*`,
which `scan_folder` splits per class (stratified, seeded) into training and
validation files. The split is written into the run folder (`split.json`), so
a resumed run, `evaluate RUN` and `export RUN` see the same files.

`FolderBatches` is a `keras.utils.PyDataset`: each batch is decoded from its
files when Keras asks for it, in the PyDataset's worker threads (Pillow
releases the GIL while it decodes and resizes, and threads need no copy of
the dataset per process), so no more than the queued batches are ever in
memory. Training batches get a random resized crop and a horizontal flip,
drawn from a generator seeded by (seed, epoch, position in the epoch), so a
batch is the same whichever worker makes it and whenever (a resumed run sees
the batches an uninterrupted one would); validation batches are resized and
centre-cropped. Pixels stay uint8 until the model's own preprocessing layer
scales them inside the compiled step.

Example:
    >>> data = scan_folder("flowers/", val_split=0.2, seed=0)
    >>> batches = FolderBatches(data.train, len(data.class_names), 32, 224, training=True)
    >>> model.fit(batches, epochs=3, shuffle=False, callbacks=[batches.epoch_callback()])
"""

import dataclasses
import json
import math
import os
import pathlib

import keras
import numpy as np

from keras_dense.imagenet import images as images_lib
from keras_dense.inference.runs import SPLIT_FILE
from keras_dense.training import data as data_lib

# torchvision's RandomResizedCrop defaults: the area fraction and the aspect ratio range
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
DEFAULT_WORKERS = 4


@dataclasses.dataclass(frozen=True)
class FolderData:
    """The files of an image folder, by split.

    Attributes:
        root: the folder (absolute).
        class_names: the class folder names, sorted; a label is an index into them.
        train: `(path, label)` of each training image.
        val: `(path, label)` of each validation image.
        skipped: `(path, error)` of each file left out because it cannot be read.
        layout: `"train_val"` (train/ and val/ folders) or `"split"` (one folder split).
    """

    root: str
    class_names: list
    train: list
    val: list
    skipped: list = dataclasses.field(default_factory=list)
    layout: str = "split"

    def to_json(self):
        """The split as JSON data, paths relative to `root`."""

        def relative(items):
            return [[os.path.relpath(path, self.root), label] for path, label in items]

        return {
            "root": self.root,
            "layout": self.layout,
            "class_names": list(self.class_names),
            "train": relative(self.train),
            "val": relative(self.val),
            "skipped": len(self.skipped),
        }


def _class_folders(folder):
    """The sorted class folder names under `folder` (hidden folders left out)."""
    return sorted(
        entry.name
        for entry in os.scandir(folder)
        if entry.is_dir() and not entry.name.startswith(".")
    )


def _readable(path):
    """None when Pillow can read `path`'s header, else the one-line reason (the pixels are
    decoded, and any other damage met, when the batch is made)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - the header is parsed on open; size proves it
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for a bad header
        return f"{path} cannot be read as an image ({type(error).__name__})"
    return None


def _images_of(folder, name, skipped):
    """The readable image files of class folder `folder`, sorted; the unreadable go to
    `skipped`."""
    kept = []
    for path in images_lib.find_images([folder]):
        problem = _readable(path)
        if problem is None:
            kept.append(str(path))
        else:
            skipped.append((str(path), problem))
    if not kept:
        raise ValueError(
            f"The class folder {str(folder)!r} holds no readable image; add images to it "
            f"or remove the folder {name!r}."
        )
    return kept


def _check_classes(names, where):
    if len(names) < 2:
        found = f"only {names[0]!r}" if names else "none"
        raise ValueError(
            f"{where} needs at least two class folders (<class>/image files); found {found}."
        )


def stratified_split(files_by_class, fraction, seed):
    """Splits each class's files at random (seeded) into training and validation files.

    Args:
        files_by_class: per class (in label order), its sorted files.
        fraction: the share of each class that goes to validation, in (0, 1).
        seed: the split's seed.

    Returns:
        `(train, val)`: lists of `(path, label)`; each class keeps at least one
        image on each side.

    Raises:
        ValueError: a class has fewer than two images.
    """
    train, val = [], []
    for label, files in enumerate(files_by_class):
        if len(files) < 2:
            raise ValueError(
                f"The class folder of {files[0]!r} holds one image; a split needs at least "
                "two per class (one to train on, one to validate on)."
            )
        order = np.random.default_rng([seed, label]).permutation(len(files))
        count = min(len(files) - 1, max(1, round(len(files) * fraction)))
        val.extend((files[i], label) for i in sorted(order[:count]))
        train.extend((files[i], label) for i in sorted(order[count:]))
    return train, val


def scan_folder(data, val_split=None, seed=0):
    """The classes and files of an image folder, split for training and validation.

    Args:
        data: a folder holding `train/<class>/*` and `val/<class>/*`, or `<class>/*`.
        val_split: the share of each class held out for validation when the
            folder has no `val/` (default 0.2 for a folder of class folders).
        seed: the seed of that split.

    Returns:
        A `FolderData`.

    Raises:
        ValueError: the folder is missing, has fewer than two classes, a class
            without images, a class missing from `val/` (or only there), or
            `val_split` is not in (0, 1).
    """
    root = pathlib.Path(data).expanduser()
    if not root.is_dir():
        raise ValueError(f"--data {str(data)!r} is not a folder of class folders of images.")
    root = root.resolve()
    if val_split is not None and not 0 < val_split < 1:
        raise ValueError(f"--val-split must be a fraction in (0, 1); got {val_split!r}.")
    skipped = []
    if (root / "train").is_dir():
        names = _class_folders(root / "train")
        _check_classes(names, f"{str(root / 'train')!r}")
        train_files = [_images_of(root / "train" / n, n, skipped) for n in names]
        if not (root / "val").is_dir():
            if val_split is None:
                raise ValueError(
                    f"{str(root)!r} has train/ but no val/ folder: add val/<class> folders, "
                    "or pass --val-split 0.2 to hold out part of train/."
                )
            train, val = stratified_split(train_files, val_split, seed)
            return FolderData(str(root), names, train, val, skipped, "split")
        if val_split is not None:
            raise ValueError(
                f"{str(root)!r} has its own val/ folder; drop --val-split (it splits a folder "
                "without one)."
            )
        val_names = _class_folders(root / "val")
        missing = [n for n in names if n not in val_names]
        if missing:
            raise ValueError(
                f"The class {missing[0]!r} of train/ is missing from {str(root / 'val')!r}; "
                "give every class a val/ folder with images."
            )
        extra = [n for n in val_names if n not in names]
        if extra:
            raise ValueError(
                f"The class {extra[0]!r} of val/ has no train/ folder in {str(root)!r}; "
                "remove it or add its training images."
            )
        val_files = [_images_of(root / "val" / n, n, skipped) for n in names]
        return FolderData(
            str(root),
            names,
            [(p, label) for label, files in enumerate(train_files) for p in files],
            [(p, label) for label, files in enumerate(val_files) for p in files],
            skipped,
            "train_val",
        )
    names = _class_folders(root)
    _check_classes(names, f"{str(root)!r}")
    files = [_images_of(root / n, n, skipped) for n in names]
    train, val = stratified_split(files, 0.2 if val_split is None else val_split, seed)
    return FolderData(str(root), names, train, val, skipped, "split")


def write_split(run_dir, data, write_json):
    """Writes `data`'s split into the run folder (`split.json`) with `write_json`."""
    write_json(pathlib.Path(run_dir) / SPLIT_FILE, data.to_json())


def read_split(run_dir, root=None):
    """The `FolderData` of a run's `split.json`; `root` replaces its folder if the data moved.

    Raises:
        ValueError: the run has no split, or `root` has other class folders than the run.
    """
    path = pathlib.Path(run_dir) / SPLIT_FILE
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{str(run_dir)!r} has no readable {SPLIT_FILE} ({type(error).__name__}); it is not "
            "a run fine-tuned on an image folder."
        ) from None
    names = stored["class_names"]
    base = stored["root"] if root is None else str(pathlib.Path(root).expanduser().resolve())
    if root is not None:
        folder = pathlib.Path(base) / ("train" if stored["layout"] == "train_val" else "")
        found = _class_folders(folder) if folder.is_dir() else []
        if found != names:
            raise ValueError(
                f"The class folders of {base!r} ({', '.join(found) or 'none'}) are not the "
                f"run's ({', '.join(names)}); give --data the folder the run was trained on."
            )

    def absolute(items):
        return [(os.path.join(base, path), int(label)) for path, label in items]

    return FolderData(
        base, names, absolute(stored["train"]), absolute(stored["val"]), [], stored["layout"]
    )


def evaluation_files(data, class_names):
    """`(items, skipped)`: the labelled images of `data` (its `val/` if it has one, else its
    class folders) for a model of `class_names`.

    Raises:
        ValueError: the folder's class folders are not `class_names`.
    """
    root = pathlib.Path(data).expanduser()
    folder = root / "val" if (root / "val").is_dir() else root
    if not folder.is_dir():
        raise ValueError(f"--data {str(data)!r} is not a folder of class folders of images.")
    found = _class_folders(folder)
    if found != list(class_names):
        raise ValueError(
            f"The class folders of {str(folder)!r} ({', '.join(found) or 'none'}) are not the "
            f"model's classes ({', '.join(class_names)}); give a folder with those class folders."
        )
    skipped = []
    items = [
        (path, label)
        for label, name in enumerate(found)
        for path in _images_of(folder / name, name, skipped)
    ]
    return items, skipped


def random_resized_crop_box(width, height, rng, scale=CROP_SCALE, ratio=CROP_RATIO):
    """A random crop box `(left, top, right, bottom)` as torchvision's `RandomResizedCrop`
    draws it: an area fraction in `scale`, a log-uniform aspect ratio in `ratio`, ten tries,
    then the centre crop of the nearest allowed aspect ratio."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(rng.integers(0, width - w + 1))
            top = int(rng.integers(0, height - h + 1))
            return left, top, left + w, top + h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def load_train_image(path, size, rng):
    """`path` decoded, randomly resized-cropped to `size` x `size` and randomly flipped."""
    from PIL import Image

    pixels = images_lib.load_image(path, size=None)
    image = Image.fromarray(pixels)
    box = random_resized_crop_box(image.size[0], image.size[1], rng)
    image = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image, dtype=np.uint8)


def load_val_image(path, size):
    """`path` with its short side resized to `size / 0.875` and centre-cropped."""
    return images_lib.load_image(path, (size, size), crop=True, interpolation="bilinear")


class FolderBatches(keras.utils.PyDataset):
    """Batches of `(uint8 images, one-hot labels)` decoded from files as Keras asks for them.

    Training batches (`training=True`) are shuffled per epoch (the order a
    function of seed and epoch only, as `data.EpochBatches`), full, and
    augmented; validation batches keep the files' order and the last one is
    filled up with copies of its last image, so every batch has one shape
    (callers keep the first `len(items)` predictions). A file that fails to
    decode is replaced in its batch by the next readable file of the batch
    and counted in `failed` (for the worker threads; processes keep their own).

    Args:
        items: `(path, label)` pairs.
        classes: number of classes (the one-hot width).
        batch_size: images per batch.
        image_size: the side of the square images.
        training: augment and shuffle (else resize and centre crop).
        seed: the run's seed.
        epoch: the first epoch (0-based; a resumed run starts later).
        mirror: validation images flipped (flip test-time augmentation).
        workers: PyDataset worker threads (or processes).
        use_multiprocessing: workers are processes instead of threads.
        max_queue_size: batches prepared ahead.
    """

    def __init__(
        self,
        items,
        classes,
        batch_size,
        image_size,
        training=False,
        seed=0,
        epoch=0,
        mirror=False,
        workers=DEFAULT_WORKERS,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        if not items:
            raise ValueError("An image folder split holds no images.")
        self.paths = [str(path) for path, _ in items]
        self.labels = np.asarray([label for _, label in items], dtype="int64")
        self.classes = int(classes)
        self.batch_size = int(batch_size)
        self.image_size = int(image_size)
        self.training = bool(training)
        self.seed = int(seed)
        self.mirror = bool(mirror)
        self.failed = {}
        if self.training:
            self.steps = data_lib.steps_per_epoch(len(self.paths), self.batch_size, True)
        else:
            self.steps = math.ceil(len(self.paths) / self.batch_size)
        self.set_epoch(epoch)

    def set_epoch(self, epoch):
        """Uses the order and augmentations of `epoch` (0-based) from now on."""
        self.epoch = int(epoch)
        if self.training:
            self.order = data_lib.epoch_order(len(self.paths), self.seed, self.epoch)
        else:
            self.order = np.arange(len(self.paths))

    def epoch_callback(self):
        """A Keras callback that sets the epoch before the epoch's workers start."""
        return keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: self.set_epoch(epoch)
        )

    def one_hot(self):
        """The labels of all items, one-hot float32."""
        return np.eye(self.classes, dtype="float32")[self.labels]

    def mirrored(self):
        """The same validation batches, each image flipped left to right."""
        return FolderBatches(
            list(zip(self.paths, self.labels.tolist())),
            self.classes,
            self.batch_size,
            self.image_size,
            training=False,
            mirror=not self.mirror,
            workers=self.workers,
            use_multiprocessing=self.use_multiprocessing,
            max_queue_size=self.max_queue_size,
        )

    def __len__(self):
        return self.steps

    def _load(self, position, row):
        path = self.paths[row]
        if self.training:
            rng = np.random.default_rng([self.seed, self.epoch, position])
            return load_train_image(path, self.image_size, rng)
        pixels = load_val_image(path, self.image_size)
        return pixels[:, ::-1] if self.mirror else pixels

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"batch {index} of an epoch of {self.steps}")
        start = index * self.batch_size
        rows = self.order[start : start + self.batch_size]
        pixels, labels = [], []
        for offset, row in enumerate(rows):
            try:
                pixels.append(self._load(start + offset, row))
                labels.append(self.labels[row])
            except images_lib.ImageLoadError as error:
                self.failed[self.paths[row]] = str(error)
        if not pixels:
            raise ValueError(
                f"No image of batch {index} could be decoded (e.g. "
                f"{next(iter(self.failed.values()))}); remove the damaged files."
            )
        while len(pixels) < self.batch_size:  # a short last batch or a damaged file
            pixels.append(pixels[-1])
            labels.append(labels[-1])
        x = np.stack(pixels)
        y = np.eye(self.classes, dtype="float32")[np.asarray(labels)]
        return x, y


def predict_folder(model, batches, tta_flip=False):
    """Class probabilities of every validation image of `batches` (float32 `(n, classes)`),
    averaged with those of the mirrored images with `tta_flip`."""
    count = len(batches.paths)
    probabilities = model.predict(batches, verbose=0)[:count].astype("float32")
    if tta_flip:
        mirrored = model.predict(batches.mirrored(), verbose=0)[:count]
        probabilities = (probabilities + mirrored.astype("float32")) / 2
    return probabilities
