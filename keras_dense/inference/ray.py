"""Folder jobs on a Ray cluster with Ray Data: one model per actor, the rows of one process.

Ray is an extra (`pip install keras-dense[ray]`). `BatchRunner` is a callable
class for `ray.data.Dataset.map_batches`: each actor builds its model once (on
the engine `auto` picks on that machine) and turns a batch of paths into result
rows, reading and decoding the images itself. `predict_into` / `embed_into`
run `keras_dense.inference.folder_jobs`' job with those rows: the paths go to
the cluster (`RAY_ADDRESS` when set, else a local Ray with `workers` CPUs),
the rows come back to this process, which writes them into the one `--out`
file as they arrive, so `resume` works across Ray and single-process runs. The
workers open the paths themselves: on several machines, they must see the
images at the same paths (a shared or mounted file system).

Examples:
    >>> import ray
    >>> from keras_dense.inference.ray import BatchRunner
    >>> ds = ray.data.from_items([{"path": p} for p in paths])
    >>> rows = ds.map_batches(
    ...     BatchRunner,
    ...     fn_constructor_kwargs={"task": "predict", "model": "resnet50", "top": 1},
    ...     batch_size=32,
    ...     compute=ray.data.ActorPoolStrategy(size=4),
    ... )
    >>> rows.write_parquet("s3://bucket/predictions/")   # or iter_rows(), to_pandas()
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from keras_dense.inference import embed as embed_lib
from keras_dense.inference import folder_jobs, loading, results

PREDICT_KEYS = ("model", "weights", "preprocess", "precision", "fold_bn", "engine")


def _ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise ValueError(
            "--ray needs Ray Data: pip install keras-dense[ray] (or 'ray[data]')."
        ) from None
    return ray


class BatchRunner:
    """A callable class for `Dataset.map_batches`: paths in, result rows out.

    Each actor builds its model once, in `__init__`, on the engine `engine`
    resolves to there, and reuses it for every batch.

    Args:
        task: `"predict"` or `"embed"`.
        job_images: how many images the whole job has (for `engine="auto"`).
        **settings: `predict_files`' or `embed_files`' keyword arguments
            (model, weights, top / layer, batch_size, engine, precision, ...).

    Returns (when called on a batch `{"path": [...]}`):
        `{"path": [...], "row": [...]}`: each row a JSON object (`results` rows;
        embeddings as lists of floats), so any Ray Data sink can write them.

    Examples:
        >>> runner = BatchRunner("predict", model="resnet50", top=1)
        >>> runner({"path": np.array(["a.jpg"])})["row"][0]
        '{"path": "/home/me/a.jpg", "top": [...], "error": null}'
    """

    def __init__(self, task: str = "predict", job_images: int = 0, **settings: Any):
        if task not in results.TASKS:
            raise ValueError(f"task must be one of {', '.join(results.TASKS)}; got {task!r}.")
        self.task, self.settings = task, dict(settings)
        get = self.settings.get
        if task == "embed":
            model, mode = embed_lib.embedding_model(
                get("model", "densenet169"), get("weights", "imagenet"), get("layer")
            )
            self.settings["layer"] = None
            weights = None
        else:
            model, mode, weights = get("model", "densenet169"), None, get("weights", "imagenet")
        runner, mode = loading.load_engine_model(
            model,
            weights,
            get("preprocess") or mode,
            get("precision", "float32"),
            get("fold_bn", False),
            get("engine", "auto"),
            job_images,
        )
        # the model as it runs, held by this actor: precision and folding are in it already
        self.settings.update(
            model=runner,
            preprocess=mode,
            precision="float32",
            fold_bn=False,
            engine=getattr(runner, "engine", "keras"),
        )
        self.engine = self.settings["engine"]

    def __call__(self, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        paths = [str(path) for path in batch["path"]]
        rows = list(folder_jobs.local_rows(self.task, paths, self.settings))
        return {
            "path": np.array([row["path"] for row in rows], dtype=object),
            "row": np.array([json.dumps(results.plain_row(row)) for row in rows], dtype=object),
        }


def connect(workers: int | None = None) -> int:
    """Connects to Ray: the cluster at `RAY_ADDRESS`, else a local one of `workers` CPUs.

    Args:
        workers: actors wanted; locally also the CPUs the local Ray gets
            (default: this machine's CPU count).

    Returns:
        The actors to run: `workers`, or by default one per node of the cluster
        (locally: one).
    """
    ray = _ray()
    if not ray.is_initialized():
        local = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers or os.cpu_count()}
        ray.init(
            **local,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=False,
        )
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
    return workers or max(1, sum(1 for node in ray.nodes() if node.get("Alive")))


def ray_rows(files: list[str], task: str, workers: int | None, settings: dict) -> Iterator[dict]:
    """The result rows of `files` computed on Ray by `workers` actors (in any order).

    Args:
        files: absolute image paths (each worker must be able to open them).
        task: `"predict"` or `"embed"`.
        workers: actors (one model each); default: one per node.
        settings: `predict_files`' or `embed_files`' keyword arguments.

    Yields:
        `results` rows, as the batches come back.
    """
    ray = _ray()
    actors = connect(workers)
    cpus = ray.cluster_resources().get("CPU", 1)
    # one actor per share of the cluster's CPUs, so N actors spread over N equal machines
    per_actor = max(1, math.floor(cpus / actors))
    dataset = ray.data.from_items([{"path": path} for path in files])
    dataset = dataset.map_batches(
        BatchRunner,
        fn_constructor_kwargs={"task": task, "job_images": len(files), **settings},
        batch_size=settings.get("batch_size", 32),
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=per_actor,
        batch_format="numpy",
    )
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for text in batch["row"]:
            row = json.loads(text)
            if task == "embed" and row["embedding"] is not None:
                row["embedding"] = np.asarray(row["embedding"], "float32")
            yield row


def _ray_job(task, paths, out, resume, workers, progress, settings):
    """`folder_jobs.task_job` with the rows of `task` computed on Ray by `workers` actors."""

    def rows_of(files):
        return ray_rows(files, task, workers, settings)

    return folder_jobs.task_job(task, paths, out, resume, progress, settings, rows_of)


def predict_into(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    resume: bool = False,
    workers: int | None = None,
    progress: Any = None,
    **settings: Any,
) -> folder_jobs.JobSummary:
    """`keras_dense.inference.folder_jobs.predict_into` with the rows computed on Ray.

    Args:
        paths: image files, folders and `@list.txt` files.
        out: `.jsonl`, `.csv` or `.parquet`, written by this process.
        resume: skip the paths `out` already holds.
        workers: actors (one model each); default: one per node.
        progress: called with `(done, todo)` after each batch written.
        **settings: `predict_files`' keyword arguments.

    Returns:
        A `JobSummary`.

    Examples:
        >>> predict_into(["/shared/photos"], "photos.parquet", workers=8, model="resnet50")
    """
    return _ray_job("predict", paths, out, resume, workers, progress, settings)


def embed_into(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    resume: bool = False,
    workers: int | None = None,
    progress: Any = None,
    **settings: Any,
) -> folder_jobs.JobSummary:
    """`keras_dense.inference.folder_jobs.embed_into` with the rows computed on Ray.

    Args:
        paths: image files, folders and `@list.txt` files.
        out: `.parquet` or `.npz`, written by this process.
        resume: skip the paths `out` already holds.
        workers: actors (one model each); default: one per node.
        progress: called with `(done, todo)` after each batch written.
        **settings: `embed_files`' keyword arguments.

    Returns:
        A `JobSummary`.

    Examples:
        >>> embed_into(["/shared/photos"], "photos.parquet", workers=8, model="resnet50")
    """
    return _ray_job("embed", paths, out, resume, workers, progress, settings)
