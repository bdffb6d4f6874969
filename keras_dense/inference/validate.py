"""ImageNet validation: top-1 and top-5 accuracy of a model over labelled images.

As timm's validate.py.

The images are a folder of class folders named by WordNet id
(`DIR/n01440764/*.JPEG`: the ILSVRC2012 validation set as torchvision's
`ImageFolder` reads it), or files listed in a labels CSV (a file column and a
wnid or class-index column; `DIR/labels.csv` is used when present). The default
transform is the published evaluation's (short side to size / 0.875 with bicubic
resampling, then the centre crop: 256 then 224, as torchvision and the Keras
papers evaluate; a timm tag's own test size, crop fraction and interpolation,
from its `pretrained_cfg`, for timm's weights); `resize_only=True` is the Keras
example's (straight to the model size, nearest neighbour), which loses about a
point (keras#8672). The report records the transform, and images that cannot be
read, like labels CSV rows that cannot be used, are reported and skipped, as in
`predict`.

Example:
    >>> from keras_dense.inference.validate import validate
    >>> report = validate("imagenet/val", model="densenet121", weights="imagenet")
    >>> report["top1"], report["top5"], report["images_per_second"]
"""

import csv
import io
import os
import pathlib
import time
from collections.abc import Callable

import numpy as np

from keras_dense.imagenet import classes
from keras_dense.imagenet import images as images_lib
from keras_dense.inference import inputs, loading, predict
from keras_dense.models import model_record, pretrained, record_of

FILE_COLUMNS = ("file", "filename", "path", "image", "ImageId")
WNID_COLUMNS = ("wnid", "PredictionString")  # PredictionString: ILSVRC's "n01751748 x y ..."
INDEX_COLUMNS = ("keras_index", "class_index", "label", "class")
LABELS_FILE = "labels.csv"
TOP = 5
# ILSVRC's 50,000-row LOC_val_solution.csv is 2.6 MB; a file this large is not a labels CSV.
MAX_LABELS_BYTES = 64 << 20


def _layout_help(folder):
    return (
        f"lay it out as {folder}/<wnid>/*.JPEG (e.g. {folder}/n01440764/"
        "ILSVRC2012_val_00000293.JPEG), or put the images beside a labels CSV with a file "
        f"column ({', '.join(FILE_COLUMNS)}) and a wnid or class-index column "
        f"({', '.join(WNID_COLUMNS + INDEX_COLUMNS)}), passed with --labels (labels= in "
        "Python) or named "
        f"{LABELS_FILE}."
    )


def _wnid_indices():
    return {wnid: index for index, (wnid, _) in classes.class_index().items()}


def _label_of(row, column, wnids, where):
    value = row[column].strip()
    if column in WNID_COLUMNS:
        wnid = value.split()[0] if value else ""
        if wnid not in wnids:
            raise ValueError(f"{where}: {wnid!r} is not an ImageNet wnid (such as n01440764).")
        return wnids[wnid]
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < classes.NUM_CLASSES:
        raise ValueError(
            f"{where}: the class index {value!r} is not an integer from 0 to "
            f"{classes.NUM_CLASSES - 1}."
        )
    return index


def _image_path(folder, name):
    path = folder / name
    if not path.suffix and not path.exists():  # ILSVRC ImageIds have no extension
        path = path.with_suffix(".JPEG")
    return path


def _read_text(labels_file):
    """The CSV's text: at most `MAX_LABELS_BYTES`, UTF-8 with or without a byte-order mark."""
    try:
        size = labels_file.stat().st_size
    except FileNotFoundError:
        raise ValueError(f"The labels CSV {labels_file} does not exist.") from None
    if not labels_file.is_file():
        raise ValueError(f"The labels CSV {labels_file} is not a file.")
    if size > MAX_LABELS_BYTES:
        raise ValueError(
            f"{labels_file} is {size:,} bytes, more than the {MAX_LABELS_BYTES:,} "
            "a labels CSV needs; is it the right file?"
        )
    raw = labels_file.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{labels_file} line {line} is not UTF-8 text (byte "
            f'0x{raw[error.start]:02x}); save it as UTF-8 ("CSV UTF-8" in a '
            "spreadsheet)."
        ) from None


def _rows(text, labels_file):
    """Yields `(line, fields)` of the CSV's non-blank rows, `line` where each row starts."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                yield line, fields
            line = reader.line_num + 1
    except csv.Error as error:
        reason = " ".join(str(error).split())
        raise ValueError(
            f"{labels_file} line {line}: {reason} (malformed quoting); quote whole "
            'fields, with a doubled "" for a quote inside one.'
        ) from None


def read_labels(labels_file, folder=None, errors=None):
    """`[(path, class_index), ...]` from a labels CSV, in its row order.

    What is wrong with the file is refused whole (`ValueError` naming the file and
    line): more than `MAX_LABELS_BYTES`, bytes that are not UTF-8 (the wrong
    encoding spoils every name, so no row can be trusted), malformed quoting (after a
    stray quote the row boundaries are lost, so the rows after it cannot be trusted
    either), or no file or label column. What is wrong with one row costs that row
    only: fewer fields than the file and label columns need, more fields than the
    header with something in them (an unquoted comma shifted the row), an empty
    file name, or a label that is not an ImageNet class. Blank lines and rows of
    empty fields (what spreadsheets leave at the end) name no image and are passed
    over silently. A UTF-8 byte-order mark (a spreadsheet's "CSV UTF-8") is read.

    Args:
        labels_file: the CSV: a header row with a file column (`FILE_COLUMNS`)
            and a label column (`WNID_COLUMNS` or `INDEX_COLUMNS`; a wnid wins).
        folder: where the files are; default the CSV's folder.
        errors: a list to append `{"path", "line", "error"}` to for each row that
            is skipped; `None` raises `ValueError` on the first instead.

    Returns:
        A list of `(pathlib.Path, int)`.

    Raises:
        ValueError: the file is refused (see above), or a row is wrong and `errors`
            is `None`; the message names the file and line.
    """
    labels_file = pathlib.Path(labels_file)
    folder = pathlib.Path(folder) if folder is not None else labels_file.parent
    rows = _rows(_read_text(labels_file), labels_file)
    _, header = next(rows, (1, []))
    columns = [column.strip() for column in header]
    file_column = next((c for c in FILE_COLUMNS if c in columns), None)
    label_column = next((c for c in WNID_COLUMNS + INDEX_COLUMNS if c in columns), None)
    if file_column is None or label_column is None:
        shown = ", ".join(repr(column)[1:-1] for column in columns)  # one line, whatever they hold
        raise ValueError(
            f"{labels_file} has the columns {shown or 'none'}; "
            f"it needs a file column ({', '.join(FILE_COLUMNS)}) and a label "
            f"column ({', '.join(WNID_COLUMNS + INDEX_COLUMNS)})."
        )
    file_at, label_at = columns.index(file_column), columns.index(label_column)
    wnids = _wnid_indices()
    found = []
    for line, fields in rows:
        where = f"{labels_file} line {line}"
        try:
            if len(fields) <= max(file_at, label_at):
                raise ValueError(
                    f"{where} has {len(fields)} field(s); the {file_column} and "
                    f"{label_column} columns need {max(file_at, label_at) + 1}."
                )
            if any(field.strip() for field in fields[len(columns) :]):
                raise ValueError(
                    f"{where} has {len(fields)} fields, more than the header's "
                    f"{len(columns)}; quote a file name that holds a comma."
                )
            name = fields[file_at].strip()
            if not name or "\0" in name:
                raise ValueError(f"{where}: the {file_column} field is empty or not a file name.")
            found.append(
                (
                    _image_path(folder, name),
                    _label_of({label_column: fields[label_at]}, label_column, wnids, where),
                )
            )
        except ValueError as error:
            if errors is None:
                raise
            errors.append({"path": str(labels_file), "line": line, "error": str(error)})
    return found


def labelled_images(folder, labels=None, errors=None):
    """The labelled images of `folder`: from `labels` (a CSV), `folder/labels.csv`, or wnid folders.

    Args:
        folder: the images' folder.
        labels: a labels CSV, or `None`.
        errors: as in `read_labels`: a list collecting the CSV rows skipped, or
            `None` to raise on the first.

    Returns:
        A list of `(pathlib.Path, class_index)`, sorted by path for wnid folders.

    Raises:
        ValueError: nothing labelled was found (the message says how to lay it out),
            or the labels CSV is refused (see `read_labels`).
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; {_layout_help('DIR')}")
    if labels is None and (folder / LABELS_FILE).is_file():
        labels = folder / LABELS_FILE
    skipped = [] if errors is None else errors
    if labels is not None:
        found = read_labels(labels, folder, errors)
    else:
        wnids = _wnid_indices()
        found = [
            (path, wnids[sub.name])
            for sub in sorted(folder.iterdir())
            if sub.is_dir() and sub.name in wnids
            for path in images_lib.find_images([sub])
        ]
    if not found and skipped:
        raise ValueError(
            f"No usable row in {labels} ({len(skipped)} skipped); the first: {skipped[0]['error']}"
        )
    if not found:
        raise ValueError(f"No labelled images in {folder}: {_layout_help(folder)}")
    return found


def transform_of(size, resize_only=False, evaluation=None):
    """The evaluation transform for a model of `size`, as the report records it.

    Args:
        size: the model's `(height, width)`.
        resize_only: the Keras example's resize instead of the published crop.
        evaluation: the weight tag's own `EvalTransform` (timm's tags: their
            crop fraction and interpolation), or `None` for the default crop.

    Returns:
        A dict: `name`, `interpolation`, `crop` (bool), the final `size`, and
        for the crop the `resize_short_side` and `crop_fraction`.
    """
    if resize_only:
        return {"name": "resize", "interpolation": "nearest", "crop": False, "size": list(size)}
    fraction = images_lib.CROP_FRACTION if evaluation is None else evaluation.crop_fraction
    return {
        "name": "center_crop",
        "interpolation": "bicubic" if evaluation is None else evaluation.interpolation,
        "crop": True,
        "resize_short_side": round(max(size) / fraction),
        "crop_fraction": fraction,
        "size": list(size),
    }


def evaluation_of(model, weights):
    """The `EvalTransform` of the weights a prediction runs (a name and a tag, or a model
    keras_dense built with a tag), or `None` where the tag has none (the default crop)."""
    if isinstance(model, str):
        if model.startswith(loading.HUB_PREFIX):
            return None
        record = model_record(model)
        if pretrained.classify_weights_argument(weights)[0] != "tag" or not record.weights:
            return None
        try:
            return record.weights_record(weights).evaluation
        except ValueError:
            return None
    tagged = record_of(model)[1] if hasattr(model, "layers") else None
    return tagged.evaluation if tagged is not None else None


def validate(
    folder: str | os.PathLike,
    model: predict.ModelLike = "densenet169",
    weights: predict.WeightsLike = "imagenet",
    labels: str | os.PathLike | None = None,
    resize_only: bool = False,
    batch_size: int = 32,
    preprocess: str | None = None,
    precision: str = "float32",
    fold_bn: bool = False,
    limit: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    engine: str = "auto",
) -> dict:
    """Top-1 and top-5 accuracy (%) of an ImageNet classifier over labelled images.

    Args:
        folder: `DIR/<wnid>/*.JPEG`, or images with a labels CSV (see `labelled_images`).
        model: a registry name or a built 1000-class `keras.Model` (as in `predict`).
        weights: `"imagenet"`, a tag, a path or `None` (with a name).
        labels: a labels CSV; default `folder/labels.csv` when present, else wnid folders.
        resize_only: the Keras example's transform instead of the published crop.
        batch_size: images per inference step.
        preprocess: as in `predict`.
        precision: as in `predict`.
        fold_bn: as in `predict`.
        engine: as in `predict`.
        limit: validate the first `limit` images only.
        progress: optional `progress(done, total)` called after each batch.

    Returns:
        A dict: `model`, `weights`, `images` (predicted), `top1`, `top5` (%),
        `correct_top1`, `correct_top5`, `seconds`, `images_per_second` (reading
        and predicting), `model_images_per_second` (predicting only),
        `transform`, `errors` (`[{"path", "error"}]` for each image file skipped,
        with a `line` for each labels CSV row skipped; each error names its file).

    Example:
        >>> validate("../shared/data/images/imagenet-samples", model="densenet121")["top5"]
    """
    errors = []  # labels CSV rows, then image files, that were skipped
    items = labelled_images(folder, labels, errors)[:limit]
    keras_model, mode = loading.load_engine_model(
        model, weights, preprocess, precision, fold_bn, engine, len(items)
    )
    size = inputs.input_size(keras_model)
    transform = transform_of(size, resize_only, evaluation_of(model, weights))
    correct_top1 = correct_top5 = predicted = done = 0
    model_seconds, start = 0.0, time.perf_counter()
    chunks = [items[first : first + batch_size] for first in range(0, len(items), batch_size)]
    decoded = predict.decoded_ahead(
        [[path for path, _ in chunk] for chunk in chunks],
        size,
        transform["crop"] and transform["crop_fraction"],
        transform["interpolation"],
    )
    for chunk, (loaded, pixels, failed) in zip(chunks, decoded):
        errors.extend(
            {"path": str(path), "error": failed[path]} for path, _ in chunk if path in failed
        )
        if loaded:
            truth = np.asarray([label for path, label in chunk if path not in failed])
            tick = time.perf_counter()
            probabilities = inputs.probabilities_of(keras_model, mode, pixels, batch_size)
            model_seconds += time.perf_counter() - tick
            if probabilities.shape[-1] != classes.NUM_CLASSES:
                raise ValueError(
                    f"validate needs a {classes.NUM_CLASSES}-class ImageNet "
                    f"classifier; {keras_model.name} has "
                    f"{probabilities.shape[-1]} outputs."
                )
            top = classes.top_k(probabilities, TOP)
            correct_top1 += int(np.sum(top[:, 0] == truth))
            correct_top5 += int(np.sum(np.any(top == truth[:, None], axis=1)))
            predicted += len(loaded)
        done += len(chunk)
        if progress is not None:
            progress(done, len(items))
    seconds = time.perf_counter() - start
    return {
        "model": model if isinstance(model, str) else keras_model.name,
        "weights": None if weights is None else str(weights),
        "images": predicted,
        "top1": 100.0 * correct_top1 / predicted if predicted else 0.0,
        "top5": 100.0 * correct_top5 / predicted if predicted else 0.0,
        "correct_top1": correct_top1,
        "correct_top5": correct_top5,
        "seconds": seconds,
        "images_per_second": predicted / seconds if seconds else 0.0,
        "model_images_per_second": predicted / model_seconds if model_seconds else 0.0,
        "transform": transform,
        "errors": errors,
    }
