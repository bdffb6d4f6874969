"""Files published on the Hugging Face Hub (timm's `model.safetensors`): found offline first.

Search order for a Hub `WeightsFile` (one with `hub_repo`):

1. the Hugging Face cache, as `huggingface_hub` lays it out
   (`models--timm--resnet50.a1_in1k/snapshots/REV/model.safetensors`, found
   through `refs/REV`): `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
   `~/.cache/huggingface/hub`. A file timm (`pretrained=True`) or the Hub's
   own tools already downloaded is used as it is;
2. `resolve`'s folders (`$KERAS_DENSE_WEIGHTS`, `weights/`, the Keras cache),
   under the record's own file name (`resnet50.a1_in1k.safetensors`);

then one download by `huggingface_hub.hf_hub_download` into the Hugging Face
cache, unless `HF_HUB_OFFLINE=1` (or `download=False`): then one error names
the repository, the file and every place searched. A record with a published
sha256 has every file found or downloaded checked against it.

Example:
    >>> from keras_dense.weights import hub
    >>> path = hub.hub_path(record.file)
"""

import logging
import os
import pathlib

from keras_dense.weights import resolve

logger = logging.getLogger("keras_dense.weights")

TRUE_VALUES = ("1", "on", "yes", "true")  # as huggingface_hub.constants reads its flags


def hub_cache_dir() -> pathlib.Path:
    """The Hugging Face cache, read from the environment now (`huggingface_hub.constants`
    reads it once, at import): `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    `$XDG_CACHE_HOME/huggingface/hub` (default `~/.cache/huggingface/hub`)."""
    if os.environ.get("HF_HUB_CACHE"):
        return pathlib.Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    return pathlib.Path(home).expanduser() / "hub"


def offline() -> bool:
    """Whether `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) forbids Hub downloads."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in TRUE_VALUES


def find_cached(weights_file) -> pathlib.Path | None:
    """The file in the Hugging Face cache (`huggingface_hub.try_to_load_from_cache`), or None."""
    from huggingface_hub import try_to_load_from_cache

    cache = hub_cache_dir()
    try:
        found = try_to_load_from_cache(
            weights_file.hub_repo,
            weights_file.hub_file,
            cache_dir=cache,
            revision=weights_file.revision,
        )
        if not isinstance(found, str) or not os.path.isfile(found):
            return None
        # a damaged refs/ file must not lead outside the cache (blobs are inside it)
        pathlib.Path(found).resolve().relative_to(cache.resolve())
    except (OSError, ValueError) as error:  # an unreadable or damaged refs/REV file
        logger.warning(
            "the Hugging Face cache entry of %s in %s cannot be used (%s); looking elsewhere",
            weights_file.hub_repo,
            cache,
            str(error).splitlines()[0] if str(error) else type(error).__name__,
        )
        return None
    return pathlib.Path(found)


def find_local(weights_file) -> pathlib.Path | None:
    """The first copy found offline: the Hugging Face cache, then `resolve`'s folders."""
    return find_cached(weights_file) or resolve.find_local(weights_file)


def _check(path, weights_file):
    resolve.check_hash(path, weights_file)
    return path


def unavailable_message(weights_file, reason) -> str:
    """The one-sentence error for a Hub file that is neither cached nor downloadable."""
    folders = ", ".join(str(d) for d in [hub_cache_dir(), *resolve.search_dirs()])
    return (
        f"{weights_file.hub_file} of the Hugging Face repository {weights_file.hub_repo} "
        f"(revision {weights_file.revision}) is not in any of {folders} (there as "
        f"{weights_file.file_name}), and it could not be downloaded ({reason}); download it on "
        f"a machine with internet access (huggingface-cli download {weights_file.hub_repo} "
        f"{weights_file.hub_file}) and copy the Hugging Face cache, or the file as "
        f"{weights_file.file_name} into KERAS_DENSE_WEIGHTS."
    )


def hub_path(weights_file, download: bool = True) -> pathlib.Path:
    """The verified local path of a file published on the Hugging Face Hub.

    Args:
        weights_file: a `WeightsFile` with `hub_repo`, `hub_file` and `revision`.
        download: whether a file found nowhere may be downloaded (`HF_HUB_OFFLINE=1`
            forbids it too).

    Returns:
        A `pathlib.Path`.

    Raises:
        WeightsUnavailableError: the file is not found offline and cannot be downloaded.
        WeightsHashError: a published sha256 does not match.
    """
    local = find_local(weights_file)
    if local is not None:
        return _check(local, weights_file)
    if not download:
        raise resolve.WeightsUnavailableError(
            unavailable_message(weights_file, "downloads are disabled")
        )
    if offline():
        raise resolve.WeightsUnavailableError(
            unavailable_message(weights_file, "HF_HUB_OFFLINE is set")
        )
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            weights_file.hub_repo,
            weights_file.hub_file,
            revision=weights_file.revision,
            cache_dir=hub_cache_dir(),
            etag_timeout=resolve.TIMEOUT_S,
            library_name="keras-dense",
        )
    except (OSError, ValueError) as error:  # HTTP, connection, offline and validation errors
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise resolve.WeightsUnavailableError(unavailable_message(weights_file, reason)) from None
    return _check(pathlib.Path(path), weights_file)
