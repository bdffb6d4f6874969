"""Tiny CIFAR-10 sources in the official binary layout, for training tests."""

import io
import tarfile

import numpy as np
from PIL import Image

from keras_dense.datasets import cifar10

TINY_MODEL = "densenet_bc_100_k12"
TINY_ARCH = {"blocks": (1, 1, 1), "growth_rate": 4}


def train_argv(data, out, epochs, *more):
    """`keras-dense train TINY_MODEL --data DATA --out OUT --epochs N ...` as an argv list."""
    paths = ["--data", str(data), "--out", str(out)]
    return ["train", TINY_MODEL, *paths, "--epochs", str(epochs), *more]


def train_tiny(data, out, recipe, **kwargs):
    """`trainer.train` of TINY_MODEL with TINY_ARCH on `data` into `out`, silently."""
    from keras_dense.training import trainer

    return trainer.train(
        TINY_MODEL, data=data, out=out, recipe=recipe, model_kwargs=TINY_ARCH, verbose=0, **kwargs
    )


def write_binary_cifar(folder, train=160, test=40, seed=0):
    """Writes `cifar-10-binary.tar.gz` of random images into `folder`; returns its path.

    The training images are spread over the five official batches.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(train + test, 3 * 32 * 32), dtype=np.uint8)
    labels = (np.arange(train + test) % 10).astype(np.uint8)
    records = np.concatenate([labels[:, None], images], axis=1)
    bounds = np.linspace(0, train, 6).astype(int)
    batches = {
        f"data_batch_{i + 1}.bin": records[a:b]
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    }
    batches["test_batch.bin"] = records[train:]
    path = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, rows in batches.items():
            data = rows.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_cifar_png_tree(root):
    """`root/{train,test}/<class name>/0.png`: one 32x32 image per class and split."""
    for split in ("train", "test"):
        for label, name in enumerate(cifar10.CLASS_NAMES):
            path = root / split / name / "0.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (label * 25, 0, 200)).save(path)
    return root


def assert_histories_close(got, expected, keys, atol):
    """Two runs' `history` rows agree on `keys`, epoch by epoch (rtol 1e-4, `atol`)."""
    for key in keys:
        np.testing.assert_allclose(
            [row[key] for row in got],
            [row[key] for row in expected],
            rtol=1e-4,
            atol=atol,
            err_msg=key,
        )
