"""CIFAR augmentation and normalisation as a Keras layer, run inside the compiled step.

The images stay uint8 in memory and on their way to the device; this layer,
placed in front of the network, normalises them (`keras.layers.Normalization`)
and in training applies a random crop of the zero-padded image, a horizontal
flip (`keras.layers.RandomFlip`'s transformation) and optional cutout, all with
`keras.ops` and `keras.random`, so they are part of the jitted step under every
backend and the device never waits on a Python loop.

Why the crop and cutout are our own: Keras's `RandomCrop` draws one offset for
the whole batch and `RandomTranslation` interpolates fractional shifts, while
the CIFAR recipe shifts each image by a whole number of pixels; Keras's
`RandomErasing` erases rectangles of random area and aspect, not a fixed-size
square. The layer also saves its random generator's state with the model, so a
resumed run draws the augmentations an uninterrupted run would.

Example:
    >>> front = ImageAugmentation(padding=4, flip=True, cutout=8, seed=0)
    >>> model = with_augmentation(network, front)   # takes uint8 images
"""

import keras
from keras import ops

# CIFAR-10 training-set channel statistics on the 0..1 scale (official pixels).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def random_crop(images, padding, seed):
    """Crops each image at a random offset from its zero-padded copy.

    Args:
        images: float tensor `(batch, height, width, channels)`.
        padding: pixels of zeros added on every side before cropping.
        seed: a `keras.random.SeedGenerator` or int.

    Returns:
        A tensor of the input's shape; each image shifted by up to `padding`
        pixels in each direction, with zeros entering at the border.
    """
    if not padding:
        return images
    batch = ops.shape(images)[0]
    height, width, channels = images.shape[1:]
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    offsets = keras.random.randint((batch, 2), 0, 2 * padding + 1, seed=seed)
    rows = offsets[:, 0:1] + ops.arange(height, dtype="int32")[None, :]
    cols = offsets[:, 1:2] + ops.arange(width, dtype="int32")[None, :]
    rows = ops.broadcast_to(rows[:, :, None, None], (batch, height, width + 2 * padding, channels))
    x = ops.take_along_axis(padded, rows, axis=1)
    cols = ops.broadcast_to(cols[:, None, :, None], (batch, height, width, channels))
    return ops.take_along_axis(x, cols, axis=2)


def cutout(images, size, seed):
    """Sets a `size` x `size` square (clipped at the border) of each image to zero.

    The square's centre is uniform over the image, as in DeVries & Taylor (2017);
    applied after normalisation, zero is the dataset mean.
    """
    if not size:
        return images
    batch = ops.shape(images)[0]
    height, width = images.shape[1:3]
    centres = keras.random.randint((batch, 2), 0, max(height, width), seed=seed)
    top = centres[:, 0:1] - size // 2
    left = centres[:, 1:2] - size // 2
    ys = ops.arange(height, dtype="int32")[None, :]
    xs = ops.arange(width, dtype="int32")[None, :]
    inside_y = ops.logical_and(ys >= top, ys < top + size)
    inside_x = ops.logical_and(xs >= left, xs < left + size)
    inside = ops.logical_and(inside_y[:, :, None, None], inside_x[:, None, :, None])
    return ops.where(inside, ops.zeros_like(images), images)


@keras.saving.register_keras_serializable(package="keras_dense")
class ImageAugmentation(keras.layers.Layer):
    """uint8 images in, normalised float32 out; random crop, flip, cutout in training.

    Args:
        padding: zero padding before the random crop (0 disables the crop).
        flip: random horizontal flips.
        cutout: side of the cutout square in pixels (0 disables it).
        mean: per-channel mean on the 0..1 scale.
        std: per-channel standard deviation on the 0..1 scale.
        seed: seed of the layer's random generator.
        **kwargs: `keras.layers.Layer` arguments; the dtype defaults to float32
            so the augmentation is exact under mixed precision.

    Example:
        >>> layer = ImageAugmentation(cutout=16)
        >>> layer(images_uint8, training=True).dtype   # float32
    """

    def __init__(
        self,
        padding=4,
        flip=True,
        cutout=0,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if padding < 0 or cutout < 0:
            raise ValueError(
                f"padding and cutout must be >= 0 pixels; got padding={padding}, cutout={cutout}."
            )
        if len(mean) != len(std) or min(std) <= 0:
            raise ValueError(
                f"mean and std need one value per channel and std > 0; got {mean}, {std}."
            )
        self.padding = int(padding)
        self.flip = bool(flip)
        self.cutout = int(cutout)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.normalizer = keras.layers.Normalization(
            mean=[255.0 * m for m in self.mean],
            variance=[(255.0 * s) ** 2 for s in self.std],
            dtype="float32",
            name="normalize",
        )
        self.flipper = keras.layers.RandomFlip("horizontal", dtype="float32", name="flip")

    def build(self, input_shape):
        # Built here, outside any traced step, so Normalization's constants are concrete.
        self.normalizer.build(input_shape)
        self.built = True

    def normalize(self, images):
        """Casts uint8 0..255 images to float32 and standardises each channel."""
        return self.normalizer(ops.cast(images, "float32"))

    def call(self, inputs, training=None):
        if not training:
            return self.normalize(inputs)
        # Crop and flip the raw pixels (zero padding is black, as torchvision
        # pads), then normalise, so cutout's zeros are the dataset mean.
        x = ops.cast(inputs, "float32")
        x = random_crop(x, self.padding, self.seed_generator)
        if self.flip:
            flips = self.flipper.get_random_transformation(
                x, training=True, seed=self.seed_generator
            )
            x = self.flipper.transform_images(x, flips, training=True)
        x = self.normalize(x)
        return cutout(x, self.cutout, self.seed_generator)

    def save_own_variables(self, store):
        store["seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        if "seed_state" in store:  # files saved before the state was kept have none
            self.seed_generator.state.assign(store["seed_state"])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding,
            "flip": self.flip,
            "cutout": self.cutout,
            "mean": self.mean,
            "std": self.std,
            "seed": self.seed,
        }


def with_augmentation(network, front, name=None):
    """Returns a model taking uint8 images: `front` (an `ImageAugmentation`) then `network`.

    Args:
        network: a `keras.Model` on normalised float images.
        front: the `ImageAugmentation` layer.
        name: the wrapper's name (default `network.name`).

    Returns:
        A functional `keras.Model` with one uint8 input named `image`.
    """
    inputs = keras.Input(shape=network.input_shape[1:], dtype="uint8", name="image")
    outputs = network(front(inputs))
    return keras.Model(inputs, outputs, name=name or network.name)


def find_augmentation(model):
    """The `ImageAugmentation` layer of `model` (searched one level deep), or None."""
    for layer in model.layers:
        if isinstance(layer, ImageAugmentation):
            return layer
    return None
