"""mkdocs hook: fills the pages' generated tables when the site is built.

- `<!-- models -->`, `<!-- weights -->`: the model and weight records
  (`keras_dense.analysis.tables`).
- `<!-- benchmarks -->`: every `benchmarks/results/*.json`, newest first, with the
  machine and versions each file records and the date in its name.

The tables come from the `keras_dense` that Python imports: the checkout's once it
is installed (`pip install -e ".[docs]"`). Nothing here is written to the repository;
`tests/test_models.py` renders the pages with `render_page` to check that every
record appears.
"""

import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# benchmark keys -> what a reader calls them
LABELS = {
    "keras_applications": "`keras.applications` DenseNet169 `predict`",
    "default_predict": '`keras_dense.predict` default (`engine="auto"`)',
    "keras_float32": "Keras engine, compiled predict step, float32",
    "keras_bfloat16": "Keras engine, bfloat16 copy",
    "onnxruntime": "ONNX Runtime, float32",
    "openvino_float32": "OpenVINO, float32",
    "openvino_bfloat16": "OpenVINO, bfloat16",
    "ours_float32": "keras_dense float32 (before the runtimes)",
    "ours_bfloat16": "keras_dense bfloat16 (before the runtimes)",
    "onnxruntime_float32": "ONNX Runtime, float32",
    "keras_applications_predict": "`keras.applications` DenseNet169 `predict`",
    "ours_predict_on_batch": "keras_dense model, `predict_on_batch`",
    "keras_dense_predict_built_model": "`keras_dense.predict(x, model=m)`",
    "plain": "plain",
    "memory_efficient": "`memory_efficient=True`",
    "lean": "lean loop (today's)",
    "old": "old loop",
}


def _label(key):
    return LABELS.get(key, f"`{key}`")


def _num(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) < 1e-3 and value != 0:
        return f"{value:.1e}"
    return f"{value:,.{digits}f}"


def _sci(value):
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def _table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _date(path, data):
    if "date" in data:
        return data["date"][:16].replace("T", " ") + " UTC"
    match = re.search(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})", path.name)
    if not match:
        return "undated"
    y, m, d, hh, mm, _ = match.groups()
    return f"{y}-{m}-{d} {hh}:{mm}"


def _machine(data):
    machine = dict(data.get("machine") or {})
    for key in ("cpu_count", "processor", "python", "keras", "backend"):  # flat files
        if key in data and not isinstance(data[key], dict):
            machine.setdefault(key, data[key])
    if "device" in data:
        machine.setdefault("device", data["device"])
    versions = dict(data.get("versions") or {})
    parts = []
    if "cpu_count" in machine:
        parts.append(f"{machine['cpu_count']} CPUs ({machine.get('processor', '?')})")
    elif "device" in machine:
        parts.append(machine["device"])
    if "backend" in machine or "backend" in data:
        parts.append(f"backend {machine.get('backend', data.get('backend'))}")
    for name in ("python", "keras"):
        if name in machine:
            versions.setdefault(name, machine[name])
    parts += [f"{name} {version}" for name, version in versions.items()]
    if "matmul_gflops" in data:
        parts.append(f"measured float32 matmul rate {_num(data['matmul_gflops'], 0)} GFLOP/s")
    return ", ".join(parts)


def _inference(path, data):
    run = "quick run" if data.get("quick") else "full run"
    out = [
        f"#### {_date(path, data)}: {data['model']}, batch {data['batch_size']}, "
        f"{data['rounds']} rounds ({run})",
        "",
        f"`benchmarks/results/{path.name}`: {_machine(data)}; {data.get('images', '')}, "
        f"{data.get('weights', '')} weights.",
        "",
    ]
    ips = data["images_per_s"]
    ratio = data.get("ratio_to_keras_applications", {})
    cpu = data.get("cpu_ms_per_image", {})
    share = data.get("share_of_matmul_peak", {})
    diff = (
        data.get("max_probability_difference_vs_keras_applications")
        or data.get("max_probability_difference_vs_keras_float32")
        or {}
    )
    rows = [
        [
            _label(k),
            _num(v),
            f"{_num(ratio.get(k), 2)}x" if k in ratio else "-",
            _num(cpu.get(k)),
            f"{share[k]:.0%}" if k in share else "-",
            _sci(diff.get(k)),
        ]
        for k, v in ips.items()
    ]
    out.append(
        _table(
            [
                "engine",
                "images/s",
                "vs keras.applications",
                "CPU-ms per image",
                "share of matmul rate",
                "largest probability difference",
            ],
            rows,
        )
    )
    extras = []
    if "first_call_exports" in data:
        extras.append(
            _table(
                ["first call with an engine", "total s", "export s", "check difference", "MB"],
                [
                    [
                        _label(k),
                        _num(v["first_call_s"]),
                        _num(v["export_s"]),
                        _sci(v["check_max_probability_difference"]),
                        _num(v["size_mb"]),
                    ]
                    for k, v in data["first_call_exports"].items()
                ],
            )
        )
    if "cli_main_command" in data:
        c = data["cli_main_command"]
        extras.append(
            _table(
                ["`keras-dense predict elephant.jpg`, fresh process", "wall s"],
                [
                    ["on Keras (first run)", _num(c["keras_s"])],
                    [f"cached {c['cached_engine']} export", _num(c["cached_s"])],
                ],
            )
        )
    if "folder" in data:
        f = data["folder"]
        extras.append(
            _table(
                [f"{f['images']} JPEGs, {f['engine']}", "images/s"],
                [
                    ["`predict_files` (decoding a folder)", _num(f["images_per_s"]["folder"])],
                    ["`predict` on the images preloaded", _num(f["images_per_s"]["preloaded"])],
                ],
            )
        )
    if "peak_rss_gb" in data:
        rise = data.get("predict_rss_rise_gb", {})
        extras.append(
            _table(
                [
                    f"classifying {data.get('memory_images', '?')} preloaded images",
                    "peak RSS GB",
                    "rise while predicting GB",
                ],
                [
                    [_label(k), _num(v, 2), _num(rise.get(k), 2)]
                    for k, v in data["peak_rss_gb"].items()
                ],
            )
        )
    if "auto_constants" in data:
        a = data["auto_constants"]
        saved = a["SECONDS_SAVED_PER_IMAGE"]
        extras.append(
            _table(
                ['`engine="auto"` inputs measured', "seconds"],
                [
                    ["building the Keras model", _num(a["KERAS_START_SECONDS"])],
                    ["first export", _num(a["EXPORT_SECONDS"])],
                ]
                + [
                    [f"saved per image, {p} ({_label(v['runtime'])})", _num(v["seconds"], 4)]
                    for p, v in saved.items()
                ],
            )
        )
    for table in extras:
        out += ["", table]
    return "\n".join(out)


def _train_step(files):
    rows = []
    for path, d in files:
        rows.append(
            [
                _date(path, d),
                d["machine"]["backend"],
                d["steps"],
                _num(d["images_per_s"]["plain"]),
                _num(d["images_per_s"]["memory_efficient"]),
                f"{_num(d['step_time_ratio_memory_efficient_over_plain'], 2)}x",
                _num(d["peak_rss_gb"]["plain"], 2),
                _num(d["peak_rss_gb"]["memory_efficient"], 2),
                _num(d["peak_rss_ratio"], 2),
                f"`{path.name}`",
            ]
        )
    return (
        _table(
            [
                "date",
                "backend",
                "steps",
                "plain img/s",
                "memory-efficient img/s",
                "step time ratio",
                "plain peak GB",
                "memory-efficient peak GB",
                "memory ratio",
                "file",
            ],
            rows,
            ["---", "---"] + ["---:"] * 7 + ["---"],
        )
        + "\n\n"
        + "\n".join(
            f"- `{p.name}`: {d['model']}, batch {d['batch_size']}; {_machine(d)}." for p, d in files
        )
    )


def _loops(files):
    rows = []
    for path, d in files:
        ips, extra = d["images_per_second"], d["first_epoch_extra_seconds"]
        rows.append(
            [
                _date(path, d),
                d["machine"]["backend"],
                _num(ips["lean"]),
                _num(ips["old"]),
                ", ".join(_num(r, 2) for r in d["lean_over_old_per_round"]),
                _num(extra["lean"]),
                _num(extra["old"]),
                _num(d["peak_rss_gb"], 2),
                f"`{path.name}`",
            ]
        )
    return (
        _table(
            [
                "date",
                "backend",
                "lean img/s",
                "old img/s",
                "lean / old per round",
                "first epoch extra s (lean)",
                "(old)",
                "peak GB",
                "file",
            ],
            rows,
            ["---", "---"] + ["---:"] * 6 + ["---"],
        )
        + "\n\n"
        + "\n".join(
            f"- `{p.name}`: {d['model']}, batch {d['batch_size']}, {d['train_images']} images; "
            f"{_machine(d)}."
            for p, d in files
        )
    )


def _per_file(files, describe, table):
    """Per result file: "`name` (date): `describe(d)`; the machine.", then `table(d)`."""
    out = []
    for path, d in files:
        out += [f"`{path.name}` ({_date(path, d)}): {describe(d)}; {_machine(d)}.", ""]
        out += [table(d), ""]
    return "\n".join(out)


def _cifar10_train(files):
    def describe(d):
        return (
            f"{d['model']}, {d['dataset']}, "
            f"{d['train_images']} training and {d['test_images']} test images, "
            f"{d['recipe']['epochs']} epochs of batch {d['recipe']['batch_size']}"
        )

    def table(d):
        return _table(
            ["epoch", "wall s", "test accuracy", "training images/s"],
            [
                [
                    e["epoch"],
                    _num(e["wall_seconds"]),
                    f"{e['test_accuracy']:.1%}",
                    _num(e["train_images_per_second"]),
                ]
                for e in d["epochs"]
            ],
        )

    return _per_file(files, describe, table)


def _predict(files):
    def describe(d):
        return (
            f"{d['model']}, batch {d['batch_size']}, "
            f"{d['images_per_call']} images per call, {d['rounds']} rounds"
        )

    def table(d):
        rows = [[_label(k), _num(v)] for k, v in d["images_per_second"].items()]
        return _table(["call", "images/s"], rows)

    return _per_file(files, describe, table)


def _folder_jobs(files):
    def describe(d):
        return (
            f"{d['model']} on {d['engine']}, batch {d['batch_size']}, {d['images']} JPEG "
            f"images (short side 256), CPU {d['machine'].get('cpu_model', '?')}"
        )

    def table(d):
        rows = [
            ["preloaded arrays (the engine's rate)", _num(d["preloaded_images_per_s"][0])],
            ["folder job, single process (.jsonl)", _num(d["folder_job_images_per_s"][0])],
            ["folder job / preloaded", f"{d['folder_over_preloaded']:.1%}"],
        ]
        ray = d.get("ray_workers_2")
        if ray:
            rows.append(
                [
                    f"--ray --workers 2 (Ray start {_num(ray['ray_start_s'])} s apart)",
                    _num(ray["images_per_s"]),
                ]
            )
        for count, probe in d.get("peak_memory_tiny_model", {}).items():
            rows.append(
                [f"peak RSS, {count} images, tiny model (GB)", _num(probe["peak_rss_gb"], 2)]
            )
        return _table(["job", "images/s"], rows)

    return _per_file(files, describe, table)


def _precision(files):
    def describe(d):
        trained = d.get("train_seconds")
        return (
            f"{d['model']} trained by `{d.get('train_command') or '?'}`"
            + (f" ({_num(trained / 60)} min of training)" if trained else "")
            + f", {d['dataset']}"
        )

    def table(d):
        rows = [
            [r["engine"], r["precision"], "skipped: " + r["skipped"], "", ""]
            if "skipped" in r
            else [
                r["engine"],
                r["precision"],
                f"{r['top1']:.2%}",
                f"{r.get('top1_change_points', 0):+.2f}",
                _num(r["img_per_s"]),
            ]
            for r in d["results"]
        ]
        return _table(["engine", "precision", "top-1", "pt vs float32", "images/s"], rows)

    return _per_file(files, describe, table)


SECTIONS = [  # file prefix, title, command, renderer
    (
        "inference-",
        "Inference engines (DenseNet-169)",
        "python benchmarks/inference.py [--quick]",
        None,
    ),
    (
        "train_step-",
        "Training step: plain vs memory-efficient DenseNet",
        "python benchmarks/train_step.py [--quick]",
        _train_step,
    ),
    (
        "cifar10_loops-",
        "Training loop: lean vs old",
        "python benchmarks/cifar10_train.py --compare-loops",
        _loops,
    ),
    (
        "cifar10_train_",
        "Time to accuracy on CIFAR-10",
        "python benchmarks/cifar10_train.py",
        _cifar10_train,
    ),
    (
        "precision-",
        "Accuracy per engine and precision on real data (CIFAR-10, JPEG copy)",
        "python benchmarks/precision.py --data ../shared/data/cifar10 [--run RUN]",
        _precision,
    ),
    (
        "folder_jobs-",
        "Folder jobs: files to a result file, single process and Ray",
        "python benchmarks/folder_jobs.py --images 2000 --big-images 20000",
        _folder_jobs,
    ),
    (
        "predict_densenet169-",
        "Repeated `keras_dense.predict` calls",
        "python benchmarks/predict_densenet169.py",
        _predict,
    ),
]


def benchmark_files(results=RESULTS):
    """Every results file as (path, data), newest first (the names end in a time stamp)."""

    def stamp(path):
        match = re.search(r"\d{8}-\d{6}", path.name)
        return match.group(0) if match else ""

    paths = sorted(results.glob("*.json"), key=stamp, reverse=True)
    return [(p, json.loads(p.read_text(encoding="utf8"))) for p in paths]


def benchmarks_markdown(results=RESULTS):
    """The performance page's tables: one section per benchmark, every file in it."""
    files = benchmark_files(results)
    out, seen = [], set()
    for prefix, title, command, render in SECTIONS:
        mine = [(p, d) for p, d in files if p.name.startswith(prefix)]
        if not mine:
            continue
        seen.update(p for p, _ in mine)
        out += [f"### {title}", "", f"`{command}` · {len(mine)} file(s)", ""]
        if render is None:
            out += [_inference(p, d) + "\n" for p, d in mine]
        else:
            out += [render(mine), ""]
    others = [p.name for p, _ in files if p not in seen]
    if others:
        out += ["### Other results", ""] + [f"- `benchmarks/results/{n}`" for n in others]
    return "\n".join(out).rstrip() + "\n"


def render_page(markdown):
    """`markdown` with every generated-table marker replaced (records and benchmarks)."""
    from keras_dense.analysis import tables

    markdown = tables.render_markers(markdown, heading="###")
    return re.sub(
        r"^<!-- benchmarks -->$",
        lambda _: benchmarks_markdown().rstrip("\n"),
        markdown,
        flags=re.MULTILINE,
    )


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 (mkdocs' signature)
    return render_page(markdown)
