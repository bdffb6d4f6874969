"""Text and Markdown tables made from the model and weight records.

`keras-dense list`, `keras-dense weights list` and the README's tables all come
from here, so they cannot disagree with the records (a test checks the
README's copy).

Example:
    >>> from keras_dense.analysis import tables
    >>> print(tables.models_markdown())
"""

from keras_dense.models import _registry

FAMILY_TITLES = {
    "densenet": "DenseNet",
    "lenet": "LeNet-5",
    "alexnet": "AlexNet",
    "vgg": "VGG",
    "googlenet": "GoogLeNet",
    "resnet": "ResNet",
    "inception": "Inception v3",
}


def _shape(record):
    return "x".join(str(d) for d in record.input_shape)


def _tags(record):
    return ", ".join(w.tag for w in record.weights) or "-"


def models_text(names):
    """The `keras-dense list` table: one line per model."""
    header = (f"{'name':<22} {'family':<10} {'input':<10} {'classes':>7} {'params':>13}  "
              "weights")
    lines = [header, "-" * (len(header) + 12)]
    for name in names:
        record = _registry.model_record(name)
        lines.append(f"{name:<22} {record.family:<10} {_shape(record):<10} {record.classes:>7} "
                     f"{record.params:>13,}  {_tags(record)}")
    return "\n".join(lines)


def models_markdown():
    """One Markdown table per family: name, description, input, parameters, weight tags."""
    by_family = {}
    for record in _registry.model_records():
        by_family.setdefault(record.family, []).append(record)
    parts = []
    for family, records in by_family.items():
        rows = [f"#### {FAMILY_TITLES.get(family, family)}", "",
                "| name | what | input | params | weights |", "| --- | --- | --- | ---: | --- |"]
        rows += [f"| `{r.name}` | {r.description} | {_shape(r)} | {r.params:,} | {_tags(r)} |"
                 for r in records]
        parts.append("\n".join(rows))
    return "\n\n".join(parts) + "\n"


def _accuracy(value):
    return "-" if value is None else f"{value:.1f}"


def weights_markdown():
    """One row per weight tag: name, preprocessing, published accuracy, files."""
    rows = ["| weights | preprocess | top-1 | top-5 | file (with classifier) |",
            "| --- | --- | ---: | ---: | --- |"]
    rows += [
        f"| `{w.name}` | {w.preprocess} | {_accuracy(w.top1)} | {_accuracy(w.top5)} | "
        f"[{w.file.file_name}]({w.file.url}) |"
        for w in _registry.weights_records()
    ]
    return "\n".join(rows) + "\n"


def replace_block(text, marker, block):
    """`text` with the lines between `<!-- marker:begin -->` and `<!-- marker:end -->`
    replaced by `block`.

    Raises:
        ValueError: the markers are missing.
    """
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if begin not in text or end not in text:
        raise ValueError(f"The text has no {begin} ... {end} block.")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}{end}{tail}"


README_BLOCKS = {"models": models_markdown, "weights": weights_markdown}


def render_readme(text):
    """`text` (the README) with every generated block brought up to date."""
    for marker, make in README_BLOCKS.items():
        text = replace_block(text, marker, make())
    return text


def main(path="README.md"):
    """Rewrites the generated blocks of the README at `path` (`python -m keras_dense.analysis.tables`)."""
    import pathlib

    readme = pathlib.Path(path)
    readme.write_text(render_readme(readme.read_text(encoding="utf8")), encoding="utf8")


if __name__ == "__main__":
    main()
