"""CIFAR-10 arrays for training, and the training batches: fixed shapes, one shuffle per epoch.

Why not Keras's array input (`fit(x, y, shuffle=True)`): it ends each epoch
with a smaller batch, a second compilation under XLA and a batch that a
several-device split cannot divide; and its shuffle depends on how many epochs
the process has run, so a resumed run shuffles differently. `EpochBatches` is a
`keras.utils.PyDataset` whose order is a function of (seed, epoch) only.

Example:
    >>> (x, y), test, names = load_data("../shared/data/cifar10", subset=5000)
    >>> batches = EpochBatches(x, y, batch_size=128, seed=0)
    >>> # shuffle=False: the batches are shuffled; Keras would reorder them at random.
    >>> model.fit(batches, epochs=2, shuffle=False, callbacks=[batches.epoch_callback()])
"""

import math

import keras
import numpy as np

from keras_dense.datasets import cifar10


def load_data(data, subset=None, test_subset=None):
    """CIFAR-10 arrays for training: uint8 images, one-hot float32 labels.

    Args:
        data: a source for `keras_dense.datasets.cifar10.load` (None: download).
        subset: keep the first `subset` training images.
        test_subset: keep the first `test_subset` test images.

    Returns:
        `(x_train, y_train), (x_test, y_test), class_names` with one-hot labels.
    """
    for flag, value in (("subset", subset), ("test_subset", test_subset)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{flag} must be a positive number of images; got {value!r}.")
    (x_train, y_train), (x_test, y_test), names = cifar10.load(data)
    x_train, y_train = x_train[:subset], y_train[:subset]
    x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    eye = np.eye(len(names), dtype="float32")
    return (x_train, eye[y_train]), (x_test, eye[y_test]), names


def steps_per_epoch(images, batch_size, drop_remainder=True):
    """Training steps in one epoch of `images` at `batch_size`.

    Raises:
        ValueError: with `drop_remainder`, fewer images than one batch.
    """
    if drop_remainder:
        if images < batch_size:
            raise ValueError(
                f"{images} training images do not fill one batch of {batch_size}; "
                "lower --batch-size or train on more images."
            )
        return images // batch_size
    return math.ceil(images / batch_size)


def epoch_order(images, seed, epoch):
    """The permutation of `images` indices for `epoch` of a run seeded `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(images)


class EpochBatches(keras.utils.PyDataset):
    """Shuffled `(images, labels)` batches; the order depends only on (seed, epoch).

    Args:
        x: uint8 images `(n, height, width, channels)`.
        y: labels, `n` rows.
        batch_size: images per batch.
        seed: the run's seed.
        epoch: the first epoch (0-based; a resumed run starts later).
        drop_remainder: only full batches (each epoch leaves out a different
            random `n % batch_size` images); else the last batch is smaller.

    Example:
        >>> batches = EpochBatches(x, y, 128, seed=0)
        >>> len(batches), batches[0][0].shape
        (39, (128, 32, 32, 3))
    """

    def __init__(self, x, y, batch_size, seed=0, epoch=0, drop_remainder=True):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.steps = steps_per_epoch(len(x), self.batch_size, drop_remainder)
        self.set_epoch(epoch)

    def set_epoch(self, epoch):
        """Uses the order of `epoch` (0-based) from now on."""
        self.epoch = int(epoch)
        self.order = epoch_order(len(self.x), self.seed, self.epoch)

    def epoch_callback(self):
        """A Keras callback that sets the epoch before each epoch's first batch."""
        return keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: self.set_epoch(epoch)
        )

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        if not 0 <= index < self.steps:
            raise IndexError(f"batch {index} of an epoch of {self.steps}")
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]


def pad_to_multiple(x, multiple):
    """`x` with copies of its last row appended up to a multiple of `multiple` rows.

    Evaluation runs on the padded array in batches of `multiple`, so every
    batch has one shape, and keeps the first `len(x)` predictions.
    """
    missing = -len(x) % multiple
    if not missing:
        return x
    return np.concatenate([x, np.repeat(x[-1:], missing, axis=0)])
