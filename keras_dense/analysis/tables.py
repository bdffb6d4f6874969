"""Text and Markdown tables made from the model and weight records.

`keras-dense list`, `keras-dense weights list` and the documentation site's
tables (`docs/models.md`, `docs/weights.md`, filled in when the site is built)
all come from here, so they cannot disagree with the records.

Example:
    >>> from keras_dense.analysis import tables
    >>> print(tables.models_markdown())
"""

import re

from keras_dense._families import FAMILIES, FAMILY_TITLES
from keras_dense.models import _registry

FAMILY_WIDTH = max(len("family"), *map(len, FAMILIES))  # the `family` column of the text table


def _shape(record):
    return "x".join(str(d) for d in record.input_shape)


def _tags(record):
    return ", ".join(w.tag for w in record.weights) or "-"


def models_text(names):
    """The `keras-dense list` table: one line per model."""
    header = (
        f"{'name':<22} {'family':<{FAMILY_WIDTH}} {'input':<10} {'classes':>7} "
        f"{'params':>13}  weights"
    )
    lines = [header, "-" * (len(header) + 12)]
    for name in names:
        record = _registry.model_record(name)
        lines.append(
            f"{name:<22} {record.family:<{FAMILY_WIDTH}} {_shape(record):<10} "
            f"{record.classes:>7} {record.params:>13,}  {_tags(record)}"
        )
    return "\n".join(lines)


def models_markdown(heading="####"):
    """One Markdown table per family (under a `heading` title): name, description, input,
    parameters, weight tags."""
    by_family = {}
    for record in _registry.model_records():
        by_family.setdefault(record.family, []).append(record)
    parts = []
    for family, records in by_family.items():
        rows = [
            f"{heading} {FAMILY_TITLES.get(family, family)}",
            "",
            "| name | what | input | params | weights |",
            "| --- | --- | --- | ---: | --- |",
        ]
        rows += [
            f"| `{r.name}` | {r.description} | {_shape(r)} | {r.params:,} | {_tags(r)} |"
            for r in records
        ]
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"


def _accuracy(value):
    return "-" if value is None else f"{value:.1f}"


def _evaluation(record):
    """`288, crop 1.0, bicubic` for a tag with its own evaluation (timm's), else "default"."""
    evaluation = record.evaluation
    if evaluation is None:
        return "default"  # the model's size, crop 0.875 (see the notes below)
    return f"{evaluation.size}, crop {evaluation.crop_fraction}, {evaluation.interpolation}"


def weights_markdown():
    """One row per weight tag: name, preprocessing, published accuracy, the evaluation it was
    measured with (a timm tag's own test size, crop and interpolation), files."""
    rows = [
        "| weights | preprocess | top-1 | top-5 | measured at | file (with classifier) |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    rows += [
        f"| `{w.name}` | {w.preprocess} | {_accuracy(w.top1)} | {_accuracy(w.top5)} | "
        f"{_evaluation(w)} | [{w.file.file_name}]({w.file.url}) |"
        for w in _registry.weights_records()
    ]
    return "\n".join(rows) + "\n"


def doc_tables(heading="###"):
    """The documentation site's generated tables by marker name (`<!-- models -->`, ...),
    with family titles under `heading`."""
    return {"models": models_markdown(heading), "weights": weights_markdown()}


def render_markers(text, heading="###"):
    """`text` with every line that is only a `<!-- NAME -->` marker of `doc_tables()`
    replaced by that table; the site's build hook (`docs/hooks.py`) calls it on each page."""
    made = doc_tables(heading)
    pattern = r"^<!-- (" + "|".join(made) + r") -->$"
    return re.sub(
        pattern, lambda match: made[match.group(1)].rstrip("\n"), text, flags=re.MULTILINE
    )
