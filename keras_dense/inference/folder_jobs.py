"""Folder jobs: every image of some folders classified or embedded into one result file.

`predict_into` (and `keras_dense.inference.embed.embed_into`) find the image
files of the paths given (folders walked recursively, `@list.txt` read as one
path a line), open the result file (`keras_dense.inference.results`), skip the
paths it already holds when resuming, and write each batch's rows as soon as
it is done: memory stays at a few batches whatever the folder's size, the next
batch is decoded in a thread while the model runs (`predict_files`), and a
killed job keeps every batch it finished. `keras_dense.inference.ray` runs the
same jobs on a Ray cluster (`run_job` with rows from a Ray Data pipeline).

Examples:
    >>> from keras_dense.inference.folder_jobs import predict_into
    >>> predict_into(["photos/"], "photos.jsonl", model="resnet50", resume=True)
    JobSummary(total=1200, skipped=1000, written=200, errors=0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from keras_dense.inference import embed as embed_lib
from keras_dense.inference import predict as predict_lib
from keras_dense.inference import results

MAX_LIST_BYTES = 1 << 30


class JobSummary(NamedTuple):
    """What a folder job did.

    Attributes:
        total: images (and missing paths) the job was given, each once.
        skipped: those already in the result file (resumed).
        written: rows this run wrote.
        errors: of those, rows with an error (an image that could not be read).
    """

    total: int
    skipped: int
    written: int
    errors: int


def expand_lists(paths: Iterable[str | os.PathLike]) -> list[str]:
    """`paths` with each `@FILE` replaced by the paths FILE lists, one a line.

    Blank lines and lines starting with `#` are left out; relative paths are
    taken from the current folder, as on the command line.

    Args:
        paths: paths and `@FILE` arguments.

    Returns:
        A list of paths.

    Raises:
        ValueError: a list file that cannot be read as text.
    """
    expanded = []
    for path in map(os.fspath, paths):
        if not path.startswith("@"):
            expanded.append(path)
            continue
        name = path[1:]
        try:
            if os.path.getsize(name) > MAX_LIST_BYTES:
                raise ValueError(f"the list {name!r} is over 1 GiB; split it.")
            with open(name, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(
                f"the list of paths {name!r} cannot be read ({type(error).__name__}); give a "
                "text file of one path a line after @."
            ) from None
        expanded += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return expanded


def job_files(paths: Iterable[str | os.PathLike]) -> tuple[list[str], list[tuple[str, str]]]:
    """`(files, missing)` of a job: image files (absolute, each once, in order) and
    `(path, error)` for the paths that do not exist."""
    files, missing = predict_lib.image_files(expand_lists(paths))
    unique = dict.fromkeys(os.path.abspath(os.fspath(f)) for f in files)
    return list(unique), [(os.path.abspath(os.fspath(p)), e) for p, e in missing]


def run_job(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    task: str,
    rows_of: Callable[[list[str]], Iterator[dict]],
    resume: bool = False,
    top: int = 5,
    batch_size: int = 32,
    progress: Callable[[int, int], Any] | None = None,
) -> JobSummary:
    """Runs a folder job: the rows of the files `out` does not hold yet, written per batch.

    Args:
        paths: image files, folders and `@list` files.
        out: the result file (`keras_dense.inference.results` formats).
        task: `"predict"` or `"embed"`.
        rows_of: yields one result row per file of the list it is given, in any order.
        resume: continue `out` (the paths it holds are skipped).
        top: classes per image (csv columns).
        batch_size: rows per write.
        progress: called with `(done, todo)` after each write.

    Returns:
        A `JobSummary`.
    """
    files, missing = job_files(paths)
    if not files and not missing:
        raise ValueError(f"No image files found in {', '.join(map(os.fspath, paths))}.")
    with results.open_writer(out, task, resume=resume, top=top) as writer:
        todo = [f for f in files if f not in writer.done]
        lost = [(p, e) for p, e in missing if p not in writer.done]
        total, skipped = (
            len(files) + len(missing),
            len(files) + len(missing) - len(todo) - len(lost),
        )
        make = results.prediction_row if task == "predict" else results.embedding_row
        writer.write([make(path, error=error) for path, error in lost])
        errors, buffer, done = len(lost), [], 0
        for row in rows_of(todo) if todo else ():
            buffer.append(row)
            errors += row["error"] is not None
            if len(buffer) >= batch_size:
                writer.write(buffer)
                done, buffer = done + len(buffer), []
                if progress:
                    progress(done, len(todo))
        writer.write(buffer)
        if progress and buffer:
            progress(done + len(buffer), len(todo))
        return JobSummary(total, skipped, writer.written, errors)


def local_rows(task: str, files: list[str], settings: dict) -> Iterator[dict]:
    """The result rows of `files` computed in this process, for `task` `"predict"` or
    `"embed"` (`settings`: `predict_files`' or `embed_files`' keyword arguments)."""
    if task == "predict":
        for item in predict_lib.predict_files(files, **settings):
            yield results.prediction_row(item.path, item.predictions, item.error)
    else:
        for item in embed_lib.embed_files(files, **settings):
            yield results.embedding_row(item.path, item.embedding, item.error)


def task_job(
    task: str,
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    resume: bool,
    progress: Callable[[int, int], Any] | None,
    settings: dict,
    rows_of: Callable[[list[str]], Iterator[dict]] | None = None,
) -> JobSummary:
    """`run_job` for `task` after checking that `out`'s format holds its rows.

    Args:
        task: `"predict"` or `"embed"`.
        paths: image files, folders and `@list` files.
        out: the result file.
        resume: continue `out`.
        progress: called with `(done, todo)` after each write.
        settings: `predict_files`' or `embed_files`' keyword arguments (`top` and
            `batch_size` also shape the file and its writes).
        rows_of: the rows of a list of files; default: `local_rows`, in this process.

    Returns:
        A `JobSummary`.
    """
    results.output_format(out, task)
    return run_job(
        paths,
        out,
        task,
        rows_of or (lambda files: local_rows(task, files, settings)),
        resume,
        settings.get("top", 5),
        settings.get("batch_size", 32),
        progress,
    )


def predict_into(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    resume: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    **settings: Any,
) -> JobSummary:
    """The top classes of every image of `paths`, written to `out` batch by batch.

    Args:
        paths: image files, folders (walked recursively) and `@list.txt` files.
        out: `.jsonl`, `.csv` or `.parquet` (`keras_dense.inference.results`).
        resume: skip the paths `out` already holds and append the rest.
        progress: called with `(done, todo)` after each batch written.
        **settings: `predict_files`' keyword arguments (model, weights, top,
            batch_size, engine, precision, tta, ...).

    Returns:
        A `JobSummary`.

    Examples:
        >>> predict_into(["photos/"], "photos.parquet", model="resnet50", top=1)
    """
    return task_job("predict", paths, out, resume, progress, settings)


def embed_into(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    resume: bool = False,
    progress: Callable[[int, int], Any] | None = None,
    **settings: Any,
) -> JobSummary:
    """The embedding of every image of `paths`, written to `out` batch by batch.

    Args:
        paths: image files, folders (walked recursively) and `@list.txt` files.
        out: `.parquet` (rows `path, embedding, error`) or `.npz` (arrays
            `paths`, `embeddings`, `error_paths`, `errors`); both are written in
            parts and combined at the end (`keras_dense.inference.results`).
        resume: skip the paths `out` (and its unfinished parts) already hold.
        progress: called with `(done, todo)` after each batch written.
        **settings: `keras_dense.inference.embed.embed_files`' keyword arguments.

    Returns:
        A `JobSummary`.

    Examples:
        >>> embed_into(["photos/"], "photos.npz", model="resnet50")
    """
    return task_job("embed", paths, out, resume, progress, settings)
