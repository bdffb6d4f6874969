"""CIFAR-10 time-to-accuracy: trains with `keras_dense.training.train` and writes JSON.

For every epoch: the wall seconds since training started, the test accuracy
and the training images/s; plus device, backend, versions, model and recipe.
The JSON goes to benchmarks/results/cifar10_train_<model>_<backend>_<device>_<time>.json.

Examples:
    # full run on a GPU (defaults: the preset's epochs and batch size)
    python benchmarks/cifar10_train.py --model densenet_bc_100_k12 --data ../shared/data/cifar10
    # a short CPU speed check: 2 epochs of 20 steps at batch 128
    python benchmarks/cifar10_train.py --data ../shared/data/cifar10 --epochs 2 \
        --batch-size 128 --subset 2560 --test-subset 500
"""

import argparse
import datetime
import importlib.metadata
import json
import pathlib
import platform
import re
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_dense.training.recipe import PRESETS, preset  # noqa: E402  (no Keras import)


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="densenet_bc_100_k12")
    parser.add_argument("--data", help="CIFAR-10 source (default: download)")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--subset", type=int, help="train on the first N images")
    parser.add_argument("--test-subset", type=int, help="test on the first N images")
    parser.add_argument("--out", help="run folder to keep (default: a temporary one)")
    parser.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    import keras

    from keras_dense.training import trainer

    overrides = {key: value for key, value in
                 (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr))
                 if value is not None}
    recipe = preset(args.preset, **overrides)
    with tempfile.TemporaryDirectory() as scratch:
        run = pathlib.Path(args.out or pathlib.Path(scratch) / "run")
        metrics = trainer.train(
            args.model, data=args.data, out=run, recipe=recipe, subset=args.subset,
            test_subset=args.test_subset, mixed_precision=args.mixed_precision,
            jit_compile=args.jit, verbose=2,
        )
        history = trainer.read_history(run)

    elapsed, per_epoch = 0.0, []
    for row in history:
        elapsed += row["epoch_seconds"]
        per_epoch.append({
            "epoch": row["epoch"], "wall_seconds": round(elapsed, 3),
            "test_accuracy": row["val_accuracy"],
            "train_images_per_second": round(row["images_per_second"], 2),
        })
    backend = keras.backend.backend()
    result = {
        "benchmark": "cifar10_train",
        "dataset": "CIFAR-10" if args.data is None else f"CIFAR-10 from {args.data}",
        "model": args.model,
        "recipe": recipe.to_dict(),
        "train_images": metrics["train_images"],
        "test_images": metrics["test_images"],
        "backend": backend,
        "device": metrics["device"],
        "mixed_precision": metrics["mixed_precision"],
        "jit_compile": metrics["jit_compile"],
        "versions": {
            "python": platform.python_version(), "keras": keras.__version__,
            "numpy": _version("numpy"),
            backend: _version({"torch": "torch", "jax": "jax"}.get(backend, "tensorflow")),
        },
        "epochs": per_epoch,
        "images_per_second": round(metrics["images_per_second"], 2),
        "final_test_accuracy": metrics["test_accuracy"],
        "best_test_accuracy": metrics["best_test_accuracy"],
        "wall_seconds": round(metrics["wall_seconds"], 3),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    results = pathlib.Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    device = re.sub(r"[^A-Za-z0-9]+", "-", metrics["device"]).strip("-").lower()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = results / f"cifar10_train_{args.model}_{backend}_{device}_{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({key: result[key] for key in ("model", "backend", "device", "images_per_second",
                                                    "final_test_accuracy")}))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
