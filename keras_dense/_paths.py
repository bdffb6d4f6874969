"""Where keras_dense keeps what it caches: one root, one folder per kind.

The root is `$KERAS_DENSE_CACHE` when that variable is set, else
`$KERAS_HOME/keras_dense` (default `~/.keras/keras_dense`); each kind of
cached file has its folder under it:

- `engines/`: exported models of the engine cache (`keras_dense.inference.cache`);
- `converted/`: torchvision weights converted to Keras (`keras_dense.weights.converted`);
- `cifar10/`: decoded local CIFAR-10 sources (`keras_dense.datasets.cifar10`).

Everything there can be deleted: it is made again when next needed. Published
weights files are not cached here: they are looked for in the folders of
`keras_dense.weights.resolve` (`$KERAS_DENSE_WEIGHTS`, `./weights`,
`$KERAS_HOME/models`) and downloaded into Keras's own cache,
`$KERAS_HOME/models`, as `keras.applications` does.

Standard library only and importing nothing of keras_dense. Nothing is
created here: the modules that write create their folder (and warn, falling
back to a temporary folder, when it cannot be written).

Examples:
    >>> from keras_dense import _paths
    >>> _paths.cache_dir(_paths.ENGINES)      # with neither variable set
    PosixPath('/home/me/.keras/keras_dense/engines')
"""

import os
import pathlib

CACHE_VARIABLE = "KERAS_DENSE_CACHE"
ENGINES = "engines"
CONVERTED = "converted"
CIFAR10 = "cifar10"
CACHE_KINDS = (ENGINES, CONVERTED, CIFAR10)


def keras_home() -> pathlib.Path:
    """Keras's own folder: `$KERAS_HOME`, default `~/.keras` (as Keras finds it).

    Returns:
        The folder (not created here).
    """
    return pathlib.Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser()


def cache_root() -> pathlib.Path:
    """The root of keras_dense's caches: `$KERAS_DENSE_CACHE`, else `keras_home()/keras_dense`.

    Returns:
        The folder (not created here).
    """
    if os.environ.get(CACHE_VARIABLE):
        return pathlib.Path(os.environ[CACHE_VARIABLE]).expanduser()
    return keras_home() / "keras_dense"


def cache_dir(kind: str) -> pathlib.Path:
    """The folder of one kind of cached file, `cache_root() / kind`.

    Args:
        kind: one of `CACHE_KINDS` (`"engines"`, `"converted"`, `"cifar10"`).

    Returns:
        The folder (not created here).

    Raises:
        ValueError: `kind` is not one of `CACHE_KINDS`.

    Examples:
        >>> os.environ["KERAS_DENSE_CACHE"] = "/scratch/kd"
        >>> cache_dir(CIFAR10)
        PosixPath('/scratch/kd/cifar10')
    """
    if kind not in CACHE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CACHE_KINDS)}; got {kind!r}.")
    return cache_root() / kind
