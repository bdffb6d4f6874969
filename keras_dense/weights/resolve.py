"""Finding a published weights file: local folders first, then one download.

Search order for a published file (`weights="imagenet"` or a tag):

1. `$KERAS_DENSE_WEIGHTS` (one folder, or several joined by `os.pathsep`);
2. `weights/` in the current directory (the project checkout's folder when
   commands run from its root), and the checkout's `weights/` when the package
   is installed from a checkout in editable mode;
3. the Keras cache, `$KERAS_HOME/models` (default `~/.keras/models`);
4. for torchvision's files, torchvision's cache `$TORCH_HOME/hub/checkpoints`
   (passed in as `extra_dirs` by `keras_dense.weights.converted`);

then one download into the Keras cache. Every file, found or downloaded, must
have the published hash. Offline, the download fails within seconds with one
error naming the file, its URL, its hash and the folders searched.

The download is our own (urllib) rather than `keras.utils.get_file`, because
get_file has no timeout: a stalled connection would hang, and the only fix,
`socket.setdefaulttimeout`, changes every socket of the process.

Example:
    >>> from keras_dense.weights import resolve
    >>> path = resolve.resolve(record.file_for(include_top=True))
"""

import hashlib
import os
import pathlib
import urllib.request

from keras_dense import _files, _paths

TIMEOUT_S = 10.0  # per connection attempt and per read: a stalled download fails
CHUNK = 1 << 20
_CHECKOUT = pathlib.Path(__file__).resolve().parents[2]


class WeightsUnavailableError(OSError):
    """The file is in none of the folders and could not be downloaded."""


class WeightsHashError(ValueError):
    """A file's hash differs from the published one."""


def keras_cache_dir() -> pathlib.Path:
    """`$KERAS_HOME/models`, default `~/.keras/models`, as Keras caches downloads."""
    return _paths.keras_home() / "models"


def search_dirs():
    """The folders searched, in order (existing or not, without repeats)."""
    dirs = [
        pathlib.Path(p).expanduser()
        for p in os.environ.get("KERAS_DENSE_WEIGHTS", "").split(os.pathsep)
        if p
    ]
    dirs.append(pathlib.Path.cwd() / "weights")
    if (_CHECKOUT / "setup.cfg").is_file() and (_CHECKOUT / "weights").is_dir():
        dirs.append(_CHECKOUT / "weights")  # an editable install, run from elsewhere
    dirs.append(keras_cache_dir())
    unique = []
    for folder in dirs:
        if folder.resolve() not in [d.resolve() for d in unique]:
            unique.append(folder)
    return unique


_HASH_CACHE = {}  # (path, size, mtime, algorithm) -> digest: a file is hashed once per process


def file_hash(path, algorithm="md5"):
    """The hex digest of the file at `path` (cached by size and modification time)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns, algorithm)
    if key not in _HASH_CACHE:
        digest = hashlib.new(algorithm)
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def hash_matches(actual, expected):
    """Whether a digest matches the published one (a published prefix of 8+ hex digits counts,
    as torchvision names its files by the first digits of their sha256)."""
    return actual == expected or (len(expected) >= 8 and actual.startswith(expected))


def check_hash(path, weights_file):
    """Raises `WeightsHashError` unless the file at `path` has the published hash (a Hub
    file whose record pins no hash, `file_hash=""`, is checked by its contents instead)."""
    if not weights_file.file_hash:
        return
    actual = file_hash(path, weights_file.hash_algorithm)
    if not hash_matches(actual, weights_file.file_hash):
        raise WeightsHashError(
            f"{path} has {weights_file.hash_algorithm} {actual}, but the published "
            f"{weights_file.file_name} has {weights_file.file_hash}; the file is damaged or "
            f"not the published one: delete it and download it again from {weights_file.url}."
        )


def find_local(weights_file, extra_dirs=()):
    """The first existing file named `weights_file.file_name` in the search folders, or `None`."""
    for folder in [*search_dirs(), *map(pathlib.Path, extra_dirs)]:
        candidate = folder / weights_file.file_name
        if candidate.is_file():
            return candidate
    return None


def resolve(weights_file, download=True, extra_dirs=()):
    """Returns the path of the verified local copy of a published file.

    Args:
        weights_file: a `WeightsFile` (file name, URL, hash).
        download: whether to download the file when no folder holds it.
        extra_dirs: more folders to search after the usual ones (e.g. a
            publisher's own cache).

    Returns:
        A `pathlib.Path` to a file with the published hash.

    Raises:
        WeightsHashError: the file found or downloaded has another hash.
        WeightsUnavailableError: no folder holds it and the download failed.
    """
    local = find_local(weights_file, extra_dirs)
    if local is not None:
        check_hash(local, weights_file)
        return local
    if not download:
        raise WeightsUnavailableError(
            unavailable_message(weights_file, "downloads are disabled", extra_dirs)
        )
    return download_file(weights_file, extra_dirs=extra_dirs)


def unavailable_message(weights_file, reason, extra_dirs=()):
    """The one-sentence error for a file that is neither local nor downloadable."""
    folders = ", ".join(str(d) for d in [*search_dirs(), *map(pathlib.Path, extra_dirs)])
    return (
        f"The weights file {weights_file.file_name} ({weights_file.hash_algorithm} "
        f"{weights_file.file_hash}) is not in any of {folders}, and downloading it from "
        f"{weights_file.url} failed ({reason}); download it on a machine with internet "
        "access and copy it into one of those folders (or set KERAS_DENSE_WEIGHTS to its folder)."
    )


def download_file(weights_file, target_dir=None, timeout=TIMEOUT_S, extra_dirs=()):
    """Downloads a published file into `target_dir` (default the Keras cache), verified.

    The bytes go to a temporary file (a `_files.TEMP_MARK` name), hashed on the
    way, and are moved into place (with the umask's mode) only when the hash
    matches; nothing is left behind otherwise, and temporaries a killed process
    left in `target_dir` are removed after a day.

    Args:
        weights_file: the `WeightsFile`.
        target_dir: the folder to download into.
        timeout: seconds allowed for connecting and for each read.
        extra_dirs: the other folders searched, named in the error.

    Returns:
        The `pathlib.Path` of the verified file.
    """
    target_dir = pathlib.Path(target_dir or keras_cache_dir())
    target = target_dir / weights_file.file_name
    _files.clean_stale_once(target_dir, ("*.part[0-9]*",))  # also earlier versions' NAME.partPID
    partial = _files.temporary_path(target)
    digest = hashlib.new(weights_file.hash_algorithm)
    try:
        with urllib.request.urlopen(weights_file.url, timeout=timeout) as response:
            target_dir.mkdir(parents=True, exist_ok=True)
            with open(partial, "wb") as out:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections
        _discard(partial)
        raise WeightsUnavailableError(
            unavailable_message(weights_file, error, extra_dirs)
        ) from None
    except BaseException:
        _discard(partial)
        raise
    if not hash_matches(digest.hexdigest(), weights_file.file_hash):
        _discard(partial)
        raise WeightsHashError(
            f"The download of {weights_file.file_name} from {weights_file.url} has "
            f"{weights_file.hash_algorithm} {digest.hexdigest()}, not the published "
            f"{weights_file.file_hash}; it was deleted."
        )
    try:
        return _files.publish(partial, target)
    finally:
        _discard(partial)


def _discard(partial):
    """Deletes a download's temporary file, if there is one (its folder may be missing)."""
    if os.path.lexists(partial):
        _files.remove(partial)
