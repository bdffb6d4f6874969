"""ImageNet validation: top-1 and top-5 accuracy of a model over labelled images (timm's validate.py).

The images are a folder of class folders named by WordNet id
(`DIR/n01440764/*.JPEG`: the ILSVRC2012 validation set as torchvision's
`ImageFolder` reads it), or files listed in a labels CSV (a file column and a
wnid or class-index column; `DIR/labels.csv` is used when present). The
default transform is the published evaluation's (short side to size / 0.875
with bicubic resampling, then the centre crop: 256 then 224, as torchvision
and the Keras papers evaluate); `resize_only=True` is the Keras example's
(straight to the model size, nearest neighbour), which loses about a point
(keras#8672). The report records the transform, and images that cannot be
read are reported and skipped, as in `predict`.

Example:
    >>> from keras_dense.imagenet.validate import validate
    >>> report = validate("imagenet/val", model="densenet121", weights="imagenet")
    >>> report["top1"], report["top5"], report["images_per_second"]
"""

import csv
import pathlib
import time

import numpy as np

from keras_dense.imagenet import classes, images as images_lib, predict

FILE_COLUMNS = ("file", "filename", "path", "image", "ImageId")
WNID_COLUMNS = ("wnid", "PredictionString")  # PredictionString: ILSVRC's "n01751748 x y ..."
INDEX_COLUMNS = ("keras_index", "class_index", "label", "class")
LABELS_FILE = "labels.csv"
TOP = 5


def _layout_help(folder):
    return (f"lay it out as {folder}/<wnid>/*.JPEG (e.g. {folder}/n01440764/"
            "ILSVRC2012_val_00000293.JPEG), or put the images beside a labels CSV with a file "
            f"column ({', '.join(FILE_COLUMNS)}) and a wnid or class-index column "
            f"({', '.join(WNID_COLUMNS + INDEX_COLUMNS)}), passed with --labels (labels= in "
            "Python) or named "
            f"{LABELS_FILE}.")


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
        raise ValueError(f"{where}: the class index {value!r} is not an integer from 0 to "
                         f"{classes.NUM_CLASSES - 1}.")
    return index


def _image_path(folder, name):
    path = folder / name
    if not path.suffix and not path.exists():  # ILSVRC ImageIds have no extension
        path = path.with_suffix(".JPEG")
    return path


def read_labels(labels_file, folder=None):
    """`[(path, class_index), ...]` from a labels CSV, in its row order.

    Args:
        labels_file: the CSV: a header row with a file column (`FILE_COLUMNS`)
            and a label column (`WNID_COLUMNS` or `INDEX_COLUMNS`; a wnid wins).
        folder: where the files are; default the CSV's folder.

    Returns:
        A list of `(pathlib.Path, int)`.

    Raises:
        ValueError: a column is missing or a label is not an ImageNet class.
    """
    labels_file = pathlib.Path(labels_file)
    folder = pathlib.Path(folder) if folder is not None else labels_file.parent
    with open(labels_file, newline="", encoding="utf8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        file_column = next((c for c in FILE_COLUMNS if c in columns), None)
        label_column = next((c for c in WNID_COLUMNS + INDEX_COLUMNS if c in columns), None)
        if file_column is None or label_column is None:
            raise ValueError(f"{labels_file} has the columns {', '.join(columns) or 'none'}; "
                             f"it needs a file column ({', '.join(FILE_COLUMNS)}) and a label "
                             f"column ({', '.join(WNID_COLUMNS + INDEX_COLUMNS)}).")
        wnids = _wnid_indices()
        return [
            (_image_path(folder, row[file_column].strip()),
             _label_of(row, label_column, wnids, f"{labels_file} line {number}"))
            for number, row in enumerate(reader, start=2)
        ]


def labelled_images(folder, labels=None):
    """The labelled images of `folder`: from `labels` (a CSV), `folder/labels.csv`, or wnid folders.

    Args:
        folder: the images' folder.
        labels: a labels CSV, or `None`.

    Returns:
        A list of `(pathlib.Path, class_index)`, sorted by path for wnid folders.

    Raises:
        ValueError: nothing labelled was found (the message says how to lay it out).
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; {_layout_help('DIR')}")
    if labels is None and (folder / LABELS_FILE).is_file():
        labels = folder / LABELS_FILE
    if labels is not None:
        found = read_labels(labels, folder)
    else:
        wnids = _wnid_indices()
        found = [(path, wnids[sub.name])
                 for sub in sorted(folder.iterdir()) if sub.is_dir() and sub.name in wnids
                 for path in images_lib.find_images([sub])]
    if not found:
        raise ValueError(f"No labelled images in {folder}: {_layout_help(folder)}")
    return found


def transform_of(size, resize_only=False):
    """The evaluation transform for a model of `size`, as the report records it.

    Args:
        size: the model's `(height, width)`.
        resize_only: the Keras example's resize instead of the published crop.

    Returns:
        A dict: `name`, `interpolation`, `crop` (bool), the final `size`, and
        for the crop the `resize_short_side` and `crop_fraction`.
    """
    if resize_only:
        return {"name": "resize", "interpolation": "nearest", "crop": False, "size": list(size)}
    return {"name": "center_crop", "interpolation": "bicubic", "crop": True,
            "resize_short_side": round(max(size) / images_lib.CROP_FRACTION),
            "crop_fraction": images_lib.CROP_FRACTION, "size": list(size)}


def validate(folder, model="densenet169", weights="imagenet", labels=None, resize_only=False,
             batch_size=32, preprocess=None, precision="float32", fold_bn=False, limit=None,
             progress=None, engine="auto"):
    """Top-1 and top-5 accuracy (%) of an ImageNet classifier over labelled images.

    Args:
        folder: `DIR/<wnid>/*.JPEG`, or images with a labels CSV (see `labelled_images`).
        model: a registry name or a built 1000-class `keras.Model` (as in `predict`).
        weights: `"imagenet"`, a tag, a path or `None` (with a name).
        labels: a labels CSV; default `folder/labels.csv` when present, else wnid folders.
        resize_only: the Keras example's transform instead of the published crop.
        batch_size: images per inference step.
        preprocess, precision, fold_bn, engine: as in `predict`.
        limit: validate the first `limit` images only.
        progress: optional `progress(done, total)` called after each batch.

    Returns:
        A dict: `model`, `weights`, `images` (predicted), `top1`, `top5` (%),
        `correct_top1`, `correct_top5`, `seconds`, `images_per_second` (reading
        and predicting), `model_images_per_second` (predicting only),
        `transform`, `errors` (`[{"path", "error"}]` for skipped files).

    Example:
        >>> validate("../shared/data/images/imagenet-samples", model="densenet121")["top5"]
    """
    items = labelled_images(folder, labels)[:limit]
    keras_model, mode = predict.load_model(model, weights, preprocess, precision, fold_bn,
                                           engine, len(items))
    size = predict.input_size(keras_model)
    transform = transform_of(size, resize_only)
    correct_top1 = correct_top5 = predicted = done = 0
    errors, model_seconds, start = [], 0.0, time.perf_counter()
    chunks = [items[first:first + batch_size] for first in range(0, len(items), batch_size)]
    decoded = predict.decoded_ahead([[path for path, _ in chunk] for chunk in chunks], size,
                                    transform["crop"], transform["interpolation"])
    for chunk, (loaded, pixels, failed) in zip(chunks, decoded):
        errors.extend({"path": str(path), "error": failed[path]}
                      for path, _ in chunk if path in failed)
        if loaded:
            truth = np.asarray([label for path, label in chunk if path not in failed])
            tick = time.perf_counter()
            probabilities = predict.probabilities_of(keras_model, mode, pixels, batch_size)
            model_seconds += time.perf_counter() - tick
            if probabilities.shape[-1] != classes.NUM_CLASSES:
                raise ValueError(f"validate needs a {classes.NUM_CLASSES}-class ImageNet "
                                 f"classifier; {keras_model.name} has "
                                 f"{probabilities.shape[-1]} outputs.")
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
