"""DenseNet-169 inference: keras_dense's fast path vs keras.applications.DenseNet169().predict.

One process, the same numpy batch (default 32 images at 224x224, real photos
from ../shared/data when present), alternating the variants round by round so
a busy machine slows all alike. Reported per variant: median images/s, ratio to
`keras.applications` `predict`, share of the machine's float32 matmul GFLOP/s
(DenseNet-169 is 6.72 GFLOPs per image), the largest probability difference
against the float32 reference, and, in a subprocess each, the peak memory (RSS,
sampled every 5 ms while `predict` runs) of predicting N images.

Variants: `keras_applications` (`model.predict(x)`), `ours_float32`
(`keras_dense.inference.inference_model` folded, compiled `predict_on_batch`),
`ours_bfloat16` (the same, bfloat16).

Without `--weights` (the published `densenet169_weights_tf_dim_ordering_tf_kernels.h5`)
both models get the same random weights, with non-trivial BN statistics and a
classifier scaled to give confident (peaked) probabilities.

Usage:
    python benchmarks/inference.py            # full settings (a few minutes)
    python benchmarks/inference.py --quick    # a correctness run
"""

import argparse
import json
import sys
import time

import _common

GFLOPS_PER_IMAGE = 6.72  # keras_dense.count_flops(DenseNet169) / 1e9, checked below
VARIANTS = ("keras_applications", "ours_float32", "ours_bfloat16")


def _images(batch_size, size=224):
    import glob

    import numpy as np

    from keras_dense.imagenet import preprocessing

    files = sorted(glob.glob(str(_common.ROOT.parent / "shared" / "data" / "images"
                                 / "imagenet-samples" / "*.JPEG")))
    if files:
        from keras_dense.imagenet import images

        pixels = [images.load_image(f, (size, size)) for f in files[:batch_size]]
        pixels = np.stack([pixels[i % len(pixels)] for i in range(batch_size)])
        source = f"{min(len(files), batch_size)} photos from shared/data"
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (batch_size, size, size, 3))
        source = "random pixels"
    x = preprocessing.preprocess_input(pixels.astype("float32"), mode="torch")
    return x, source


def _models(variants, weights):
    """Builds the requested variants with one set of weights."""
    import keras
    import numpy as np

    from keras_dense.inference import inference_model
    from keras_dense.models import densenet

    if set(variants) == {"ours_float32"} or set(variants) == {"ours_bfloat16"}:
        if weights is None:  # memory probe: no reference model in this process
            ours = densenet.DenseNet169(weights=None)
            return {v: inference_model(ours, v.split("_")[1], fold_bn=True) for v in variants}
    reference = keras.applications.DenseNet169(weights=weights)
    if weights is None:
        # a confident classifier, so that probability differences mean something
        head = reference.get_layer("predictions")
        head.set_weights([w * 40.0 for w in head.get_weights()])
        rng = np.random.default_rng(0)
        for layer in reference.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                n = layer.gamma.shape[0]
                layer.set_weights([rng.uniform(0.8, 1.2, n), rng.normal(0, 0.1, n),
                                   rng.normal(0, 0.1, n), rng.uniform(0.8, 1.2, n)])
    models = {}
    if "keras_applications" in variants:
        models["keras_applications"] = reference
    ours = None
    for name in variants:
        if name.startswith("ours_"):
            if ours is None:
                ours = densenet.DenseNet169(weights=None)
                ours.set_weights(reference.get_weights())
            models[name] = inference_model(ours, name.split("_")[1], fold_bn=True)
    return models


def _predict(name, model, x, batch_size):
    if name == "keras_applications":
        return model.predict(x, batch_size=batch_size, verbose=0)
    from keras_dense import inference

    return inference.predict_batches(model, x, batch_size)


def memory_probe(variant, count, batch_size, weights):
    """Subprocess: peak RSS of predicting `count` images with one variant."""
    import numpy as np

    model = _models([variant], weights)[variant]
    x, _ = _images(batch_size)
    x = np.concatenate([x] * (count // batch_size + 1))[:count]
    import gc

    gc.collect()
    with _common.PeakRSS() as rss:
        _predict(variant, model, x, batch_size)
    print(json.dumps({"peak_rss_gb": rss.peak_gb, "before_predict_rss_gb": rss.start_gb,
                      "rise_gb": rss.peak_gb - rss.start_gb}))


def _probe_in_subprocess(variant, args):
    cmd = [sys.executable, __file__, "--probe", variant, "--memory-images",
           str(args.memory_images), "--batch-size", str(args.batch_size)]
    if args.weights:
        cmd += ["--weights", args.weights]
    return _common.run_probe(cmd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, 64 images for memory")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--memory-images", type=int, default=None)
    parser.add_argument("--weights", default=None, help="keras.applications DenseNet169 .h5")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.quick else 10)
    args.memory_images = args.memory_images or (64 if args.quick else 1000)
    if args.probe:
        return memory_probe(args.probe, args.memory_images, args.batch_size, args.weights)
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown or "keras_applications" not in variants:
        parser.error(f"--variants must include keras_applications and come from {VARIANTS}")

    import numpy as np

    from keras_dense import count_flops

    gflops = _common.matmul_gflops()
    print(f"matmul: {gflops:.0f} GFLOP/s float32", flush=True)
    x, source = _images(args.batch_size)
    models = _models(variants, args.weights)
    flops = count_flops(models["keras_applications"]) / 1e9
    outputs = {name: _predict(name, m, x, args.batch_size) for name, m in models.items()}
    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            _predict(name, model, x, args.batch_size)
            times[name].append(time.perf_counter() - start)
    rate = {name: args.batch_size / _common.median(t) for name, t in times.items()}
    base = rate["keras_applications"]
    exact = outputs["keras_applications"]
    diff = {name: float(np.max(np.abs(np.asarray(out, "float32") - exact)))
            for name, out in outputs.items()}
    for name in models:
        print(f"{name}: {rate[name]:.1f} images/s, x{rate[name] / base:.2f} of keras.applications, "
              f"{rate[name] * flops / gflops:.0%} of matmul peak, "
              f"max |p - p_keras| {diff[name]:.1e}", flush=True)
    del models
    memory = {name: _probe_in_subprocess(name, args) for name in variants}
    for name, m in memory.items():
        print(f"{name}: peak RSS {m['peak_rss_gb']:.2f} GB while predicting "
              f"{args.memory_images} images (+{m['rise_gb']:.2f} GB over the loaded model "
              "and inputs)", flush=True)
    _common.write_json("inference", {
        "model": "densenet169", "batch_size": args.batch_size, "rounds": args.rounds,
        "quick": args.quick, "images": source, "weights": args.weights or "random",
        "machine": _common.machine(), "matmul_gflops": gflops, "gflops_per_image": flops,
        "images_per_s": rate, "ratio_to_keras_applications": {k: r / base for k, r in rate.items()},
        "share_of_matmul_peak": {k: r * flops / gflops for k, r in rate.items()},
        "max_probability_difference_vs_keras_float32": diff,
        "memory_images": args.memory_images,
        "peak_rss_gb": {k: v["peak_rss_gb"] for k, v in memory.items()},
        "predict_rss_rise_gb": {k: v["rise_gb"] for k, v in memory.items()},
        "top1_probability_median_keras": float(np.median(exact.max(axis=1))),
        "times_s": times,
    })


if __name__ == "__main__":
    main()
