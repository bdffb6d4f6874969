"""CIFAR-10 training benchmarks: time-to-accuracy, and the old loop against the lean one.

Time-to-accuracy (default): trains with `keras_dense.training.train` and, for
every epoch, records the wall seconds since training started, the test
accuracy and the training images/s; plus device, backend, versions, model and
recipe. The JSON goes to
benchmarks/results/cifar10_train_<model>_<backend>_<device>_<time>.json.

`--compare-loops`: one model trains one epoch at a time with each loop,
alternately, in one process, so a busy machine slows both alike:
- old: `fit(x, y, shuffle=True)` on the arrays (the last batch smaller) with
  the old per-batch NaN check (reads the loss back after every step, which also
  turns off Keras's asynchronous callback dispatch);
- lean: `fit(EpochBatches)` (full batches only) with the check at epoch end.
It reports images/s of each (median over rounds, first epoch excluded), their
ratio per round, and each loop's first-epoch overhead: the lean loop's is the
compilation; the old loop's, run second, what its smaller last batch adds. JSON:
benchmarks/results/cifar10_loops-<backend>-<time>.json.

Examples:
    # full run on a GPU (defaults: the preset's epochs and batch size)
    python benchmarks/cifar10_train.py --model densenet_bc_100_k12 --data ../shared/data/cifar10
    # a short CPU speed check: 2 epochs of 20 steps at batch 128
    python benchmarks/cifar10_train.py --data ../shared/data/cifar10 --epochs 2 \
        --batch-size 128 --subset 2560 --test-subset 500
    # old loop vs lean loop, 3 alternating rounds of 680 images (5 batches + 40)
    python benchmarks/cifar10_train.py --compare-loops --data ../shared/data/cifar10 \
        --batch-size 128 --subset 680 --rounds 3
    KERAS_BACKEND=jax python benchmarks/cifar10_train.py --compare-loops ...
"""

import argparse
import datetime
import importlib.metadata
import json
import math
import pathlib
import platform
import re
import sys
import tempfile
import time

import _common

ROOT = _common.ROOT

from keras_dense.cli.argtypes import arch_item  # noqa: E402  (no Keras import)
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
    parser.add_argument(
        "--compare-loops",
        action="store_true",
        help="old loop vs lean loop, alternating epochs in one process",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="--compare-loops: timed epochs per loop"
    )
    parser.add_argument(
        "--arch",
        action="append",
        default=[],
        type=arch_item,
        metavar="KEY=VALUE",
        help="--compare-loops: builder override, e.g. memory_efficient=True",
    )
    args = parser.parse_args(argv)
    if args.compare_loops:
        return compare_loops(args)

    import keras

    from keras_dense.training import run_folder, trainer

    overrides = {
        key: value
        for key, value in (
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("lr", args.lr),
        )
        if value is not None
    }
    recipe = preset(args.preset, **overrides)
    with tempfile.TemporaryDirectory() as scratch:
        run = pathlib.Path(args.out or pathlib.Path(scratch) / "run")
        metrics = trainer.train(
            args.model,
            data=args.data,
            out=run,
            recipe=recipe,
            subset=args.subset,
            test_subset=args.test_subset,
            mixed_precision=args.mixed_precision,
            jit_compile=args.jit,
            verbose=2,
        )
        history = run_folder.read_history(run)

    later = [row["train_seconds"] for row in history[1:]]
    first_epoch_extra = history[0]["train_seconds"] - _common.median(later) if later else None
    elapsed, per_epoch = 0.0, []
    for row in history:
        elapsed += row["epoch_seconds"]
        per_epoch.append(
            {
                "epoch": row["epoch"],
                "wall_seconds": round(elapsed, 3),
                "test_accuracy": row["val_accuracy"],
                "train_images_per_second": round(row["images_per_second"], 2),
            }
        )
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
            "python": platform.python_version(),
            "keras": keras.__version__,
            "numpy": _version("numpy"),
            backend: _version({"torch": "torch", "jax": "jax"}.get(backend, "tensorflow")),
        },
        "epochs": per_epoch,
        "images_per_second": round(metrics["images_per_second"], 2),
        # The first epoch's training time beyond a later epoch's: mostly compilation.
        "first_epoch_extra_seconds": None
        if first_epoch_extra is None
        else round(first_epoch_extra, 2),
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
    print(
        json.dumps(
            {
                key: result[key]
                for key in (
                    "model",
                    "backend",
                    "device",
                    "images_per_second",
                    "final_test_accuracy",
                )
            }
        )
    )
    print(f"wrote {path}")
    return 0


def compare_loops(args):
    """Old vs lean training loop on the same model, alternating epochs; writes JSON."""
    import keras

    from keras_dense._device import default_jit_compile
    from keras_dense.training import data as data_lib
    from keras_dense.training import trainer

    class PerBatchLossCheck(keras.callbacks.Callback):
        """The old loop's NaN check: the loss read back after every step."""

        def on_train_batch_end(self, batch, logs=None):
            if not math.isfinite(float(logs["loss"])):
                self.model.stop_training = True

    def epoch_end_check(epoch, logs):
        if not math.isfinite(float(logs["loss"])):
            raise RuntimeError("the loss diverged")

    (x, y), _, _ = data_lib.load_data(args.data, subset=args.subset)
    batch = args.batch_size or 128
    recipe = preset(args.preset, batch_size=batch, epochs=args.rounds + 1)
    batches = data_lib.EpochBatches(x, y, batch, seed=0)
    jit = default_jit_compile() if args.jit is None else args.jit

    keras.utils.set_random_seed(0)
    model = trainer.build_training_model(args.model, 10, recipe, 0, dict(args.arch))
    trainer.compile_model(model, recipe, len(batches), jit)
    # One model for both loops (one model's memory): the lean loop's first epoch
    # compiles the full-batch step; the old loop's first epoch then adds what its
    # smaller last batch costs (another compilation under XLA).
    loops = {
        "lean": (
            len(batches) * batch,
            lambda: model.fit(
                batches,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=epoch_end_check)],
            ),
        ),
        "old": (
            len(x),
            lambda: model.fit(
                x,
                y,
                batch_size=batch,
                epochs=1,
                shuffle=True,
                verbose=0,
                callbacks=[PerBatchLossCheck()],
            ),
        ),
    }
    seconds = {name: [] for name in loops}
    for _ in range(args.rounds + 1):  # the first round compiles
        for name, (_, run_epoch) in loops.items():
            start = time.perf_counter()
            run_epoch()
            seconds[name].append(time.perf_counter() - start)
            print(f"{name}: {seconds[name][-1]:.1f} s", flush=True)
    rate = {name: [images / s for s in seconds[name][1:]] for name, (images, _) in loops.items()}
    report = {
        "benchmark": "cifar10_loops",
        "model": args.model,
        "arch": dict(args.arch),
        "batch_size": batch,
        "train_images": len(x),
        "images_per_epoch": {name: images for name, (images, _) in loops.items()},
        "jit_compile": jit,
        "machine": _common.machine(),
        "versions": {"jax": _version("jax"), "tensorflow": _version("tensorflow")},
        "epoch_seconds": seconds,
        "images_per_second": {name: _common.median(r) for name, r in rate.items()},
        "lean_over_old_per_round": [lean / old for old, lean in zip(rate["old"], rate["lean"])],
        "first_epoch_extra_seconds": {
            name: seconds[name][0] - _common.median(seconds[name][1:]) for name in loops
        },
        "peak_rss_gb": _common.peak_rss_gb(),
    }
    report["lean_over_old"] = _common.median(report["lean_over_old_per_round"])
    print(
        json.dumps(
            {
                key: report[key]
                for key in ("images_per_second", "lean_over_old", "first_epoch_extra_seconds")
            }
        )
    )
    _common.write_json(f"cifar10_loops-{keras.backend.backend()}", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
