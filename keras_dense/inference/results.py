"""Result files of folder jobs, written row by row as batches finish, read back to resume.

One row per image: its absolute `path`, then `top` (a list of `{wnid, label,
probability}`) for `keras-dense predict --out`, or `embedding` (float32) for
`keras-dense embed --out`, or the `error` that made it skip the image.

- `.jsonl` (predict): one JSON object a line, appended and flushed each batch.
  A job killed mid-line leaves a partial last line, which `resume=True` cuts off.
- `.csv` (predict): `path, error, wnid_1, label_1, probability_1, ...` (one
  triple per `top`), appended and flushed the same way.
- `.parquet` (predict, embed) and `.npz` (embed): a finished file cannot be
  appended to, so rows go into parts, `OUT.parts/part-NNNNNN.*`, each written
  atomically every `ROWS_PER_PART` rows (a kill loses at most those); closing
  combines the file and its parts into `OUT` (parquet: one row group per part)
  and removes the folder. `resume=True` reads both.

`resume=True` returns the paths already written (`ResultWriter.done`), so the
job skips them and no row is ever written twice. pyarrow writes parquet
(`pip install keras-dense[parquet]`); the formats are written by hand because
no library appends rows to these files and repairs a kill's partial line.

Examples:
    >>> with open_writer("out.jsonl", "predict", resume=True) as writer:
    ...     todo = [p for p in paths if os.path.abspath(p) not in writer.done]
    ...     writer.write([prediction_row(p, top) for p, top in ...])
    >>> rows = read_rows("out.jsonl")
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pathlib
import zipfile
from collections.abc import Sequence

import numpy as np

from keras_dense._choices import EMBED_RESULT_FORMATS, PREDICT_RESULT_FORMATS
from keras_dense._files import (
    TEMP_MARK,
    FolderLock,
    LockedError,
    atomic_path,
    dir_mode,
    refuse_existing,
    remove,
)

TASKS = {"predict": PREDICT_RESULT_FORMATS, "embed": EMBED_RESULT_FORMATS}
ROWS_PER_PART = 1024
PARTS_SUFFIX = ".parts"


def output_format(path: str | os.PathLike, task: str) -> str:
    """The suffix of `path` (`.jsonl`, `.csv`, `.parquet`, `.npz`), checked for `task`.

    Args:
        path: the output file.
        task: `"predict"` or `"embed"`.

    Returns:
        The lower-case suffix.

    Raises:
        ValueError: a suffix `task` does not write.
    """
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in TASKS[task]:
        raise ValueError(
            f"{os.fspath(path)!r}: {task} writes {', '.join(TASKS[task])} files; "
            "give --out a name with one of these suffixes."
        )
    return suffix


def prediction_row(path, predictions=None, error=None) -> dict:
    """The row of one image's prediction: `{path, top, error}` (`path` made absolute)."""
    top = None
    if predictions is not None:
        top = [
            {"wnid": wnid, "label": label, "probability": float(probability)}
            for wnid, label, probability in predictions
        ]
    return {"path": os.path.abspath(os.fspath(path)), "top": top, "error": error}


def embedding_row(path, embedding=None, error=None) -> dict:
    """The row of one image's embedding: `{path, embedding, error}` (`path` made absolute)."""
    vector = None if embedding is None else np.asarray(embedding, "float32")
    return {"path": os.path.abspath(os.fspath(path)), "embedding": vector, "error": error}


def _bad(path, where, what):
    return ValueError(
        f"{os.fspath(path)!r} {where} is not a keras-dense result ({what}); "
        "remove that part, or write to a new --out file."
    )


def _check_row(row, path, where):
    """Raises the one-line error unless `row` looks like one of our rows."""
    if not isinstance(row, dict) or not isinstance(row.get("path"), str) or not row["path"]:
        raise _bad(path, where, "no path")
    error = row.get("error")
    if error is not None and not isinstance(error, str):
        raise _bad(path, where, "an error that is not text")
    top = row.get("top")
    if top is not None and not (
        isinstance(top, list)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("wnid"), str)
            and isinstance(item.get("label"), str)
            and isinstance(item.get("probability"), (int, float))
            for item in top
        )
    ):
        raise _bad(path, where, "top is not a list of {wnid, label, probability}")
    return row


def _complete_prefix(path):
    """The bytes of `path` up to its last newline: what a killed writer finished."""
    data = pathlib.Path(path).read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end], end < len(data)


def _csv_header(top):
    header = ["path", "error"]
    for rank in range(1, top + 1):
        header += [f"wnid_{rank}", f"label_{rank}", f"probability_{rank}"]
    return header


def _text(data, path):
    try:
        return data.decode("utf-8", errors="surrogateescape")
    except UnicodeDecodeError as error:  # pragma: no cover - surrogateescape decodes all
        raise _bad(path, "", "not UTF-8") from error


def _jsonl_rows(path, data):
    rows = []
    for number, line in enumerate(_text(data, path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise _bad(path, f"line {number}", "not JSON") from None
        rows.append(_check_row(row, path, f"line {number}"))
    return rows


def _csv_rows(path, data, top=None):
    try:
        records = list(csv.reader(io.StringIO(_text(data, path), newline="")))
    except csv.Error as error:
        raise _bad(path, "", f"not CSV: {error}") from None
    if not records:
        return []
    header = records[0]
    count = (len(header) - 2) // 3
    if header != _csv_header(count):
        raise _bad(path, "line 1", "not the header path,error,wnid_1,label_1,probability_1,...")
    if top is not None and count != top:
        raise ValueError(
            f"{os.fspath(path)!r} has the top {count} classes per image; resume it with "
            f"--top {count}, or write to a new --out file."
        )
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) != len(header):
            raise _bad(path, f"line {number}", f"{len(record)} fields, not {len(header)}")
        path_field, error = record[0], record[1] or None
        top_items = None
        if error is None:
            top_items = []
            for rank in range(count):
                wnid, label, probability = record[2 + 3 * rank : 5 + 3 * rank]
                try:
                    value = float(probability)
                except ValueError:
                    raise _bad(path, f"line {number}", "a probability that is no number") from None
                top_items.append({"wnid": wnid, "label": label, "probability": value})
        row = {"path": path_field, "top": top_items, "error": error}
        rows.append(_check_row(row, path, f"line {number}"))
    return rows


def _csv_record(row, top):
    record = [row["path"], row["error"] or ""]
    for item in (row["top"] or [])[:top]:
        record += [item["wnid"], item["label"], repr(float(item["probability"]))]
    return record + [""] * (2 + 3 * top - len(record))


def _arrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ValueError(
            "writing .parquet needs pyarrow: pip install keras-dense[parquet] (or pyarrow); "
            "or use --out with .jsonl or .csv."
        ) from None
    return pyarrow, pyarrow.parquet


def _schema(task):
    pa, _ = _arrow()
    if task == "predict":
        item = pa.struct(
            [("wnid", pa.string()), ("label", pa.string()), ("probability", pa.float64())]
        )
        middle = ("top", pa.list_(item))
    else:
        middle = ("embedding", pa.list_(pa.float32()))
    return pa.schema([("path", pa.string()), middle, ("error", pa.string())])


def _parquet_rows(path, task):
    pa, pq = _arrow()
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise _bad(path, "", f"not parquet: {str(error).splitlines()[0]}") from None
    expected = _schema(task)
    if not table.schema.remove_metadata().equals(expected):
        raise _bad(path, "", f"columns {table.schema.names}, not {expected.names}")
    rows = table.to_pylist()
    for index, row in enumerate(rows):
        _check_row({k: v for k, v in row.items() if k != "embedding"}, path, f"row {index}")
        if task == "embed" and row["embedding"] is not None:
            row["embedding"] = np.asarray(row["embedding"], "float32")
    return rows


def _npz_rows(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            paths, embeddings = data["paths"], data["embeddings"]
            error_paths, errors = data["error_paths"], data["errors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise _bad(path, "", f"not an embeddings .npz: {error}") from None
    if (
        paths.ndim != 1
        or paths.dtype.kind != "U"
        or embeddings.ndim != 2
        or len(embeddings) != len(paths)
        or error_paths.shape != errors.shape
        or error_paths.dtype.kind != "U"
        or errors.dtype.kind != "U"
    ):
        raise _bad(path, "", "arrays paths, embeddings, error_paths, errors do not match")
    rows = [
        {"path": str(p), "embedding": e.astype("float32"), "error": None}
        for p, e in zip(paths, embeddings)
    ]
    rows += [
        {"path": str(p), "embedding": None, "error": str(e)} for p, e in zip(error_paths, errors)
    ]
    for index, row in enumerate(rows):
        _check_row({"path": row["path"], "error": row["error"]}, path, f"row {index}")
    return rows


def _parts_of(out):
    """The finished parts of `out`'s parts folder, in order (our temporaries left out)."""
    folder = pathlib.Path(os.fspath(out) + PARTS_SUFFIX)
    if not folder.is_dir():
        return []
    suffix = pathlib.Path(out).suffix.lower()
    return sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith("part-") and p.suffix == suffix and TEMP_MARK not in p.name
    )


def read_rows(path: str | os.PathLike, top: int | None = None) -> list[dict]:
    """The rows written to a result file so far (with its unfinished parts, if any).

    Args:
        path: a `.jsonl`, `.csv`, `.parquet` or `.npz` result file (it may be absent
            while only its parts exist).
        top: for `.csv`, the classes per image the caller expects (None: any).

    Returns:
        Rows `{path, top, error}` or `{path, embedding, error}`, in file order;
        a partial last line (a killed job's) is left out.

    Raises:
        ValueError: the file is not a result file of this kind (one line naming it).
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".csv"):
        if not path.exists():
            return []
        data, _ = _complete_prefix(path)
        return _jsonl_rows(path, data) if suffix == ".jsonl" else _csv_rows(path, data, top)
    task = "embed" if suffix == ".npz" else None
    rows = []
    for file in ([path] if path.exists() else []) + _parts_of(path):
        if suffix == ".npz":
            rows += _npz_rows(file)
        else:
            task = task or _parquet_task(file)
            rows += _parquet_rows(file, task)
    return rows


def _parquet_task(path):
    """`"embed"` when a parquet file has an embedding column, else `"predict"`."""
    _, pq = _arrow()
    try:
        names = pq.read_schema(path).names
    except Exception as error:  # noqa: BLE001 - pyarrow raises several kinds for bad files
        raise _bad(path, "", f"not parquet: {str(error).splitlines()[0]}") from None
    return "embed" if "embedding" in names else "predict"


class ResultWriter:
    """Appends rows to a result file as batches finish; `done` holds the paths it has.

    Made by `open_writer`; use as a context manager (closing finishes the file).

    Attributes:
        path: the output file.
        done: absolute paths already in the file (a resumed job skips them).
        written: rows written by this writer.
    """

    def __init__(self, path, task, resume, top):
        self.path, self.task, self.top = pathlib.Path(path), task, top
        self.suffix = output_format(path, task)
        self.parts = pathlib.Path(os.fspath(path) + PARTS_SUFFIX)
        self.written, self.done, self._buffer = 0, set(), []
        self._handle = self._lock = None
        if self.suffix == ".parquet":
            _arrow()
        unfinished = self.parts.exists()
        if not resume:
            refuse_existing(self.path, fix="pass --resume to add the images it lacks")
            refuse_existing(self.parts, fix="an unfinished job's parts: pass --resume")
        if self.suffix in (".parquet", ".npz") and (unfinished or self.path.exists()):
            self._lock_parts()
        self.done = {row["path"] for row in read_rows(self.path, top=top)}
        if self.suffix in (".jsonl", ".csv") and self.path.exists():
            self._repair()

    def _lock_parts(self):
        self.parts.mkdir(mode=dir_mode(), exist_ok=True)
        self._lock = FolderLock(self.parts, "this job's output").acquire()

    def _repair(self):
        """Cuts a killed job's partial last line off, so appended rows start on a new line."""
        data, partial = _complete_prefix(self.path)
        if partial:
            with open(self.path, "r+b") as handle:
                handle.truncate(len(data))

    def _open_text(self):
        if self._handle is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._handle = open(  # noqa: SIM115 - held until close()
                self.path, "a", encoding="utf-8", errors="surrogateescape", newline=""
            )
            with contextlib.suppress(ImportError, OSError):
                import fcntl

                try:
                    fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self._handle.close()
                    self._handle = None
                    raise LockedError(
                        f"{os.fspath(self.path)!r} is being written by another job: wait "
                        "for it to end, or write to another --out file."
                    ) from None
            if new and self.suffix == ".csv":
                csv.writer(self._handle, lineterminator="\n").writerow(_csv_header(self.top))
        return self._handle

    def write(self, rows: Sequence[dict]) -> None:
        """Appends `rows` (from `prediction_row` / `embedding_row`); jsonl and csv are
        flushed at once, parquet and npz every `ROWS_PER_PART` rows."""
        rows = [row for row in rows if row["path"] not in self.done]
        if not rows:
            return
        self.done.update(row["path"] for row in rows)
        self.written += len(rows)
        if self.suffix == ".jsonl":
            handle = self._open_text()
            handle.write("".join(json.dumps(plain_row(row)) + "\n" for row in rows))
            handle.flush()
        elif self.suffix == ".csv":
            handle = self._open_text()
            csv.writer(handle, lineterminator="\n").writerows(
                _csv_record(row, self.top) for row in rows
            )
            handle.flush()
        else:
            self._buffer.extend(rows)
            if len(self._buffer) >= ROWS_PER_PART:
                self.flush()

    def flush(self) -> None:
        """Writes the buffered rows (parquet, npz) as the next part, atomically."""
        if not self._buffer:
            return
        if self._lock is None:
            self._lock_parts()
        existing = _parts_of(self.path)
        index = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        part = self.parts / f"part-{index:06d}{self.suffix}"
        with atomic_path(part, suffix=self.suffix) as tmp:
            if self.suffix == ".parquet":
                _arrow()[1].write_table(_table(self._buffer, self.task), tmp)
            else:
                _write_npz(tmp, [_npz_arrays(self._buffer)])
        self._buffer = []

    def close(self, finish: bool = True) -> None:
        """Flushes, and with `finish` combines the parts into the file (parquet, npz)."""
        try:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            self.flush()
            if finish and self.suffix in (".parquet", ".npz") and self.parts.exists():
                self._combine()
            elif self._lock is not None and not _parts_of(self.path):  # no part: no folder
                self._release()
                remove(self.parts)
        finally:
            self._release()

    def _release(self):
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _combine(self):
        parts = _parts_of(self.path)
        sources = ([self.path] if self.path.exists() else []) + parts
        if parts:  # a resumed job that wrote nothing leaves its file as it is
            with atomic_path(self.path, suffix=self.suffix) as tmp:
                if self.suffix == ".parquet":
                    _, pq = _arrow()
                    with pq.ParquetWriter(tmp, _schema(self.task)) as writer:
                        for source in sources:
                            for batch in pq.ParquetFile(source).iter_batches():
                                writer.write_batch(batch)
                else:
                    _write_npz(tmp, sources)
        self._release()
        remove(self.parts)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        # a failed or interrupted job keeps its rows (parts stay for --resume)
        self.close(finish=kind is None)


def open_writer(
    path: str | os.PathLike, task: str = "predict", resume: bool = False, top: int = 5
) -> ResultWriter:
    """A `ResultWriter` for `path`; with `resume`, the rows already there are read back.

    Args:
        path: the output file (`.jsonl`, `.csv`, `.parquet`; `.parquet`, `.npz` for embed).
        task: `"predict"` or `"embed"`.
        resume: continue an existing file (a killed job's partial last line is cut);
            without it an existing file is refused.
        top: classes per image (the `.csv` columns).

    Returns:
        The writer, its `done` set filled.

    Raises:
        ValueError: a suffix `task` does not write, or an existing file that is not
            a result file (one line naming it).
        OutputExistsError: the file exists and `resume` is false.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}.")
    return ResultWriter(path, task, resume, top)


def plain_row(row: dict) -> dict:
    """`row` with its embedding as a list of floats (for JSON and Arrow)."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}


def _table(rows, task):
    pa, _ = _arrow()
    return pa.Table.from_pylist([plain_row(row) for row in rows], schema=_schema(task))


def _npz_arrays(rows):
    good = [row for row in rows if row["error"] is None]
    bad = [row for row in rows if row["error"] is not None]
    width = len(good[0]["embedding"]) if good else 0
    return {
        "paths": np.array([row["path"] for row in good], dtype=str),
        "embeddings": (
            np.stack([row["embedding"] for row in good]).astype("float32")
            if good
            else np.zeros((0, width), "float32")
        ),
        "error_paths": np.array([row["path"] for row in bad], dtype=str),
        "errors": np.array([row["error"] for row in bad], dtype=str),
    }


def _npz_file_arrays(path):
    rows = _npz_rows(path)
    return _npz_arrays(rows)


def _write_npz(path, sources: Sequence):
    """One `.npz` of the sources' arrays (dicts of `_npz_arrays`, or `.npz` files) joined;
    the embeddings are streamed in source by source, so combining the parts of a large
    job holds one part's embeddings at a time (and every path)."""

    def arrays(source):
        return source if isinstance(source, dict) else _npz_file_arrays(source)

    names, widths, count = {"paths": [], "error_paths": [], "errors": []}, set(), 0
    for source in sources:
        chunk = arrays(source)
        for name, values in names.items():
            values.append(chunk[name])
        count += len(chunk["embeddings"])
        if len(chunk["embeddings"]):
            widths.add(chunk["embeddings"].shape[1])
    if len(widths) > 1:
        raise ValueError(
            f"{os.fspath(path)!r}: the parts have embeddings of widths {sorted(widths)}; "
            "resume with the same --model and --layer, or write to a new --out file."
        )
    width = widths.pop() if widths else 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, values in names.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.concatenate(values + [np.array([], str)]))
        with archive.open("embeddings.npy", "w", force_zip64=True) as handle:
            header = {"descr": "<f4", "fortran_order": False, "shape": (count, width)}
            np.lib.format.write_array_header_2_0(handle, header)
            for source in sources:
                embeddings = arrays(source)["embeddings"]
                handle.write(np.ascontiguousarray(embeddings, "<f4").tobytes())
