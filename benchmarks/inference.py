"""DenseNet-169 CPU inference: keras_dense's engines vs keras.applications.DenseNet169().predict.

One process, the same batch (32 real photos from ../shared/data when present),
the variants alternating round by round so that a busy machine slows all
alike. Reported per variant: median images/s, ratio to `keras.applications`
`predict`, share of the float32 matmul GFLOP/s measured in the same run
(DenseNet-169: 6.72 GFLOPs per image), largest probability difference against
`keras.applications`.

Variants (those whose runtime is installed):
- `keras_applications`: `model.predict(x, batch_size=32)`, the baseline;
- `default_predict`: `keras_dense.predict(pixels, model="densenet169", weights=FILE)`
  as a user calls it (engine `auto`: the cached export; preprocessing and
  decoding included);
- `keras_float32`, `keras_bfloat16`: our Keras model's compiled step (and its
  bfloat16 copy), `engine="keras"`;
- `onnxruntime`, `openvino_float32`, `openvino_bfloat16`: the exported model
  in each runtime (`predict_batches`);
- `openvino_int8`: the cached float32 IR quantized by NNCF
  (`engines.quantize_model`) on half of the 16 shared photos, checked on the
  other half (the check's top-1 agreement is printed).

Each rate is also given as a share of the machine's matrix-product rate in its
precision (`_common.matmul_rates`: float32, bfloat16, int8 -> int32). A
precision the CPU has no units for (bfloat16: AVX512-BF16 / AMX; int8: VNNI /
AMX) is refused with one line, never timed slowly.

Also measured: the first call's export time per runtime (build, export, check,
open: what `engine=...` costs once), the peak memory (RSS sampled every 5 ms,
in a subprocess each) of predicting N preloaded images with
`keras_applications` and `default_predict`, and `predict_files` over a folder
of JPEGs (the shared samples copied to N files) against `predict` on the same
images preloaded, with the same engine.

Without `--weights` both models get the same random weights (non-trivial BN
statistics, a classifier scaled for confident probabilities), saved as a
`.weights.h5` file that keras_dense loads by name; the engine cache is a
temporary folder, so the export is timed from scratch.

Usage:
    python benchmarks/inference.py            # full settings (about 10 minutes)
    python benchmarks/inference.py --quick    # a correctness run (about 3 minutes)
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import _common

GFLOPS_PER_IMAGE = 6.72  # keras_dense.count_flops(DenseNet169) / 1e9, checked below
DEVICE = _common.cpu()
# variant -> the precision whose matrix-product rate it is a share of
PRECISION_OF = {
    "openvino_int8": "int8",
    "keras_bfloat16": "bfloat16",
    "openvino_bfloat16": "bfloat16",
}
SAMPLES = _common.ROOT.parent / "shared" / "data" / "images" / "imagenet-samples"


def _photos(count, size=224):
    """`count` RGB pixel arrays of the shared samples (repeated), or random pixels."""
    import numpy as np

    from keras_dense.imagenet import images

    files = sorted(SAMPLES.glob("*.JPEG"))
    if not files:
        return np.random.default_rng(0).integers(0, 256, (count, size, size, 3)).astype(
            "uint8"
        ), "random pixels"
    pixels = [images.load_image(f, (size, size)) for f in files]
    return np.stack(
        [pixels[i % len(pixels)] for i in range(count)]
    ), f"{len(files)} photos from shared/data"


def _reference(weights):
    """keras.applications.DenseNet169 with the published or confident random weights."""
    import keras
    import numpy as np

    reference = keras.applications.DenseNet169(weights=weights)
    if weights is None:
        head = reference.get_layer("predictions")
        head.set_weights([w * 40.0 for w in head.get_weights()])
        rng = np.random.default_rng(0)
        for layer in reference.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                n = layer.gamma.shape[0]
                layer.set_weights(
                    [
                        rng.uniform(0.8, 1.2, n),
                        rng.normal(0, 0.1, n),
                        rng.normal(0, 0.1, n),
                        rng.uniform(0.8, 1.2, n),
                    ]
                )
    return reference


def _weights_file(reference, folder):
    path = pathlib.Path(folder) / "densenet169_benchmark.weights.h5"
    reference.save_weights(str(path))
    return str(path)


def _first_call_exports(weights_file, pixels):
    """Seconds of the first `keras_dense.predict(..., engine=E)` per runtime (export included)."""
    from keras_dense import predict
    from keras_dense.inference import cache, engines
    from keras_dense.models import model_record

    record = model_record("densenet169")
    result = {}
    for engine in ("onnxruntime", "openvino"):
        for precision in ("float32", "bfloat16"):
            if engine not in engines.installed_runtimes(precision):
                continue
            start = time.perf_counter()
            predict(
                pixels[:1],
                model="densenet169",
                weights=weights_file,
                engine=engine,
                precision=precision,
            )
            entry = cache.read_entry(engines.record_key(record, weights_file, engine, precision))
            result[f"{engine}_{precision}"] = {
                "first_call_s": time.perf_counter() - start,
                "export_s": entry["export_seconds"],
                "check_max_probability_difference": entry["check"]["max_probability_difference"],
                "size_mb": sum(
                    os.path.getsize(cache.entry_dir(entry["key"]) / name) for name in entry["files"]
                )
                / 1e6,
            }
            print(
                f"first call with {engine} ({precision}): {result[f'{engine}_{precision}']}",
                flush=True,
            )
    return result


def _refusal(precision, device):
    """One line when this CPU has no units for `precision`, else None."""
    if precision == "bfloat16" and not device["bf16"]:
        return "bfloat16 refused: no bfloat16 units on this CPU (avx512_bf16 / amx_bf16)"
    if precision == "int8" and not (device["vnni"] or device["amx"]):
        return "int8 refused: no int8 dot-product units on this CPU (VNNI / AMX)"
    return None


def _int8_variant(weights_file, pixels, x, count):
    """The NNCF int8 model of densenet169 on half the shared photos, or a refusal line."""
    from keras_dense import inference
    from keras_dense.inference import engines

    start = time.perf_counter()
    try:
        # distinct images: the shared samples (the batch repeats them), else the pixels
        source = sorted(SAMPLES.glob("*.JPEG")) if SAMPLES.is_dir() else pixels
        model = engines.quantize_model(
            "densenet169", source, calibration_size=len(source) // 2, weights=weights_file
        )
    except ValueError as error:  # the NNCF extra missing, or a failed check
        return None, f"int8 skipped: {error}"
    print(f"int8: quantized (and checked) in {time.perf_counter() - start:.0f} s", flush=True)
    return lambda: inference.predict_batches(model, x, count), None


def _variants(reference, weights_file, pixels):
    """name -> (callable returning probabilities of `pixels`, the model it runs)."""
    import keras_dense
    from keras_dense import inference, predict
    from keras_dense.imagenet import preprocessing
    from keras_dense.inference import engines, loading

    x = preprocessing.preprocess_input(pixels.astype("float32"), mode="torch")
    count = len(pixels)
    # built directly, as a separate model: `keras_dense.predict` by name (default_predict)
    # decides as in a fresh process, where no Keras model is built yet
    ours = keras_dense.get_model("densenet169", weights=weights_file)
    variants = {
        "keras_applications": lambda: reference.predict(x, batch_size=count, verbose=0),
        "default_predict": lambda top=5: predict(
            pixels, model="densenet169", weights=weights_file, batch_size=count, top=top
        ),
        "keras_float32": lambda: inference.predict_batches(ours, x, count),
    }
    if not _refusal("bfloat16", DEVICE):
        bf16 = inference.inference_model(ours, "bfloat16")
        variants["keras_bfloat16"] = lambda: inference.predict_batches(bf16, x, count)
    for engine, precision, name in (
        ("onnxruntime", "float32", "onnxruntime"),
        ("openvino", "float32", "openvino_float32"),
        ("openvino", "bfloat16", "openvino_bfloat16"),
    ):
        refused = _refusal(precision, DEVICE)
        if refused:
            print(refused, flush=True)
        elif engine in engines.installed_runtimes(precision):
            model, _ = loading.load_engine_model(
                "densenet169", weights_file, precision=precision, engine=engine
            )
            variants[name] = (lambda m: lambda: inference.predict_batches(m, x, count))(model)
    refused = _refusal("int8", DEVICE)
    if not refused:
        variants["openvino_int8"], refused = _int8_variant(weights_file, pixels, x, count)
        if variants["openvino_int8"] is None:
            del variants["openvino_int8"]
    if refused:
        print(refused, flush=True)
    return variants


def _probabilities(name, output):
    """The (n, 1000) probabilities of a variant's output (decoded rows for default_predict)."""
    import numpy as np

    from keras_dense.imagenet import classes

    if name != "default_predict":
        return np.asarray(output, "float32")
    index = {wnid: i for i, (wnid, _) in classes.class_index().items()}
    probabilities = np.zeros((len(output), 1000), "float32")
    for row, predictions in zip(probabilities, output):
        for wnid, _, p in predictions:
            row[index[wnid]] = p
    return probabilities


def _folder_rate(weights_file, count, rounds, batch_size):
    """images/s of `predict_files` over a folder of `count` JPEGs vs `predict` on them preloaded."""
    import numpy as np

    from keras_dense.imagenet import images
    from keras_dense.inference import loading
    from keras_dense.inference import predict as predict_lib

    files = sorted(SAMPLES.glob("*.JPEG"))
    if not files:
        return None
    folder = pathlib.Path(tempfile.mkdtemp(prefix="keras_dense_jpegs_"))
    try:
        for i in range(count):
            shutil.copy(files[i % len(files)], folder / f"{i:05d}.jpg")
        paths = sorted(folder.glob("*.jpg"))
        pixels = np.stack([images.load_image(p, (224, 224)) for p in paths])
        options = dict(model="densenet169", weights=weights_file, batch_size=batch_size, top=5)
        runs = {
            "folder": lambda: list(predict_lib.predict_files([folder], **options)),
            "preloaded": lambda: predict_lib.predict(pixels, **options),
        }
        engine = getattr(
            loading.load_engine_model("densenet169", weights_file, job_images=count).model,
            "engine",
            "keras",
        )
        times = {name: [] for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        rate = {name: count / _common.median(t) for name, t in times.items()}
        return {
            "images": count,
            "engine": engine,
            "images_per_s": rate,
            "folder_vs_preloaded": rate["folder"] / rate["preloaded"],
            "times_s": times,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _auto_constants(rate, exports, cli):
    """The figures `keras_dense.inference.engines` decides `auto` from, as measured here:
    `EXPORT_SECONDS` (the first call with the default runtime), `KERAS_START_SECONDS` (the
    README's command on Keras minus with the cached export) and, per precision, the time
    the fastest runtime saves per image over Keras (`SECONDS_SAVED_PER_IMAGE`)."""
    saved = {}
    for precision, keras_name, names in (
        ("float32", "keras_float32", ("onnxruntime", "openvino_float32")),
        ("bfloat16", "keras_bfloat16", ("openvino_bfloat16",)),
    ):
        measured = [name for name in names if name in rate]
        if measured and keras_name in rate:
            best = max(measured, key=rate.get)
            saved[precision] = {"runtime": best, "seconds": 1 / rate[keras_name] - 1 / rate[best]}
    return {
        "EXPORT_SECONDS": exports.get("onnxruntime_float32", {}).get("first_call_s"),
        "KERAS_START_SECONDS": cli["keras_s"] - cli["cached_s"] if cli else None,
        "SECONDS_SAVED_PER_IMAGE": saved,
    }


def _cli_main_command(weights_file, rounds):
    """Wall seconds of `keras-dense predict elephant.jpg` on Keras and with the cached export."""
    import subprocess

    elephant = SAMPLES.parent / "elephant.jpg"
    if not elephant.exists():
        return None
    env = {**os.environ, "KERAS_DENSE_BACKGROUND_EXPORT": "0"}
    base = [
        sys.executable,
        "-m",
        "keras_dense",
        "predict",
        str(elephant),
        "--model",
        "densenet169",
        "--weights",
        weights_file,
    ]
    times = {"keras": [], "cached": []}
    engine = None
    for _ in range(rounds):
        for name, extra in (("keras", ["--engine", "keras"]), ("cached", [])):
            start = time.perf_counter()
            result = subprocess.run(base + extra, capture_output=True, text=True, env=env)
            times[name].append(time.perf_counter() - start)
            if result.returncode:
                raise RuntimeError(result.stderr[-2000:])
            if name == "cached":
                engine = result.stderr.split("engine: ")[1].split()[0]
    return {
        "keras_s": _common.median(times["keras"]),
        "cached_s": _common.median(times["cached"]),
        "cached_engine": engine,
        "times_s": times,
    }


def memory_probe(variant, count, batch_size, weights_file):
    """Subprocess: peak RSS of classifying `count` preloaded uint8 images with one variant
    (`keras_applications`: `preprocess_input`, then `predict`, as its examples do)."""
    import gc

    pixels, _ = _photos(count)
    if variant == "keras_applications":
        import keras

        model = keras.applications.DenseNet169(weights=None)
        model.load_weights(weights_file)
        preprocess = keras.applications.densenet.preprocess_input

        def run():
            model.predict(preprocess(pixels.astype("float32")), batch_size=batch_size, verbose=0)
    else:
        from keras_dense import predict

        predict(pixels[:1], model="densenet169", weights=weights_file)  # load the cached export

        def run():
            predict(pixels, model="densenet169", weights=weights_file, batch_size=batch_size)

    gc.collect()
    with _common.PeakRSS() as rss:
        run()
    print(
        json.dumps(
            {
                "peak_rss_gb": rss.peak_gb,
                "before_predict_rss_gb": rss.start_gb,
                "rise_gb": rss.peak_gb - rss.start_gb,
            }
        )
    )


def _probe_in_subprocess(variant, args, weights_file):
    cmd = [
        sys.executable,
        __file__,
        "--probe",
        variant,
        "--memory-images",
        str(args.memory_images),
        "--batch-size",
        str(args.batch_size),
        "--probe-weights",
        weights_file,
    ]
    return _common.run_probe(cmd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds, 64 images for memory and the folder"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--memory-images", type=int, default=None)
    parser.add_argument("--folder-images", type=int, default=None)
    parser.add_argument("--weights", default=None, help="keras.applications DenseNet169 .h5")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--probe-weights", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.quick else 10)
    args.memory_images = args.memory_images or (64 if args.quick else 1000)
    args.folder_images = args.folder_images or (64 if args.quick else 256)
    if args.probe:
        return memory_probe(args.probe, args.memory_images, args.batch_size, args.probe_weights)

    scratch = tempfile.mkdtemp(prefix="keras_dense_benchmark_")
    os.environ["KERAS_DENSE_CACHE"] = scratch  # a fresh engine cache: exports are timed
    try:
        run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args, scratch):
    import numpy as np

    from keras_dense import count_flops
    from keras_dense.inference import loading

    print(_common.cpu_line(DEVICE), flush=True)
    rates = _common.matmul_rates()
    gflops = rates["float32"]
    print(
        "matmul: " + ", ".join(f"{p} {r:.0f}" for p, r in rates.items() if r) + " G(FL)OP/s",
        flush=True,
    )
    pixels, source = _photos(args.batch_size)
    reference = _reference(args.weights)
    flops = count_flops(reference) / 1e9
    weights_file = _weights_file(reference, scratch)
    exports = _first_call_exports(weights_file, pixels)
    variants = _variants(reference, weights_file, pixels)
    outputs = {
        name: _probabilities(name, run(top=1000) if name == "default_predict" else run())
        for name, run in variants.items()
    }
    times = {name: [] for name in variants}
    cpu_times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run_variant in variants.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            run_variant()
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)
    rate = {name: args.batch_size / _common.median(t) for name, t in times.items()}
    cpu_ms = {name: 1000 * _common.median(t) / args.batch_size for name, t in cpu_times.items()}
    base = rate["keras_applications"]
    exact = outputs["keras_applications"]
    diff = {name: float(np.max(np.abs(out - exact))) for name, out in outputs.items()}
    share = {}
    for name in variants:
        peak = rates.get(PRECISION_OF.get(name, "float32")) or gflops
        share[name] = rate[name] * flops / peak
        print(
            f"{name}: {rate[name]:.1f} images/s, x{rate[name] / base:.2f} of keras.applications, "
            f"{share[name]:.0%} of the {PRECISION_OF.get(name, 'float32')} matmul rate, "
            f"{cpu_ms[name]:.1f} CPU-ms per image, max |p - p_keras| {diff[name]:.1e}",
            flush=True,
        )

    default_engine = getattr(
        loading.load_engine_model("densenet169", weights_file, job_images=args.batch_size).model,
        "engine",
        "keras",
    )
    print(f"default_predict ran on: {default_engine}", flush=True)
    del variants
    folder = _folder_rate(
        weights_file, args.folder_images, max(2, args.rounds // 3), args.batch_size
    )
    if folder:
        print(
            f"folder of {folder['images']} JPEGs ({folder['engine']}): "
            f"{folder['images_per_s']['folder']:.1f} images/s vs preloaded "
            f"{folder['images_per_s']['preloaded']:.1f}: "
            f"{folder['folder_vs_preloaded']:.0%}",
            flush=True,
        )
    cli = _cli_main_command(weights_file, rounds=2)
    if cli:
        print(
            f"keras-dense predict elephant.jpg: {cli['keras_s']:.1f} s on Keras (a first "
            f"run), {cli['cached_s']:.1f} s with the cached {cli['cached_engine']} export",
            flush=True,
        )
    constants = _auto_constants(rate, exports, cli)
    print(
        f"auto's figures measured here (keras_dense/inference/engines.py): {constants}", flush=True
    )
    memory = {
        name: _probe_in_subprocess(name, args, weights_file)
        for name in ("keras_applications", "default_predict")
    }
    for name, m in memory.items():
        print(
            f"{name}: peak RSS {m['peak_rss_gb']:.2f} GB while predicting "
            f"{args.memory_images} images (+{m['rise_gb']:.2f} GB over the loaded model "
            "and inputs)",
            flush=True,
        )
    _common.write_json(
        "inference",
        {
            "model": "densenet169",
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "quick": args.quick,
            "images": source,
            "weights": args.weights or "random",
            "machine": _common.machine(),
            "versions": _versions(),
            "matmul_gflops": gflops,
            "matmul_rates": rates,
            "device": DEVICE,
            "gflops_per_image": flops,
            "default_predict_engine": default_engine,
            "cpu_ms_per_image": cpu_ms,
            "auto_constants": constants,
            "cli_main_command": cli,
            "images_per_s": rate,
            "ratio_to_keras_applications": {k: r / base for k, r in rate.items()},
            "share_of_matmul_peak": share,
            "max_probability_difference_vs_keras_applications": diff,
            "first_call_exports": exports,
            "folder": folder,
            "memory_images": args.memory_images,
            "peak_rss_gb": {k: v["peak_rss_gb"] for k, v in memory.items()},
            "predict_rss_rise_gb": {k: v["rise_gb"] for k, v in memory.items()},
            "top1_probability_median_keras": float(np.median(exact.max(axis=1))),
            "times_s": times,
            "cpu_times_s": cpu_times,
        },
    )


def _versions():
    import importlib.metadata

    found = {}
    for package in ("keras", "tensorflow", "onnxruntime", "openvino", "tf2onnx", "numpy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


if __name__ == "__main__":
    main()
