"""Accuracy in low precision on real data: a CIFAR DenseNet's CIFAR-10 test top-1 per precision.

Trains a DenseNet of the CIFAR family with `keras-dense train` (skipped with
`--run RUN`), then tests it on the CIFAR-10 test images (the JPEG copy) in
float32 and bfloat16 on Keras, and float32, bfloat16 and int8 on OpenVINO
(int8: NNCF post-training quantization calibrated on `--calibration-size` of
the run's training images). The test pass is timed (img/s; the export and
quantization, once per model, are not). A precision the CPU lacks the units
for is refused with one line and recorded as skipped.

Writes benchmarks/results/precision-<date>.json: `model`, `train_command`,
`train_seconds`, `device` (the CPU's model name and its bf16 / VNNI / AMX
flags), and `results`, a list of `{"engine", "precision", "top1", "images",
"img_per_s"}`.

Targets (issue 22): bfloat16 within 0.2 points of float32, int8 within 0.5.

Examples:
    # the full run (about an hour of training on a 2-core CPU; see DEFAULT_TRAIN)
    python benchmarks/precision.py --data ../shared/data/cifar10
    # an already trained run
    python benchmarks/precision.py --data ../shared/data/cifar10 --run runs/precision
    # a tiny end-to-end check (accuracy meaningless)
    python benchmarks/precision.py --data ../shared/data/cifar10 --subset 512 --epochs 1 \\
        --test-subset 1000 --calibration-size 100
"""

import argparse
import csv
import datetime
import pathlib
import subprocess
import sys
import tempfile
import time

import _common

MODEL = "densenet_bc_100_k12"
# A DenseNet-BC of 3 blocks of 6 bottleneck layers, growth 12 (181,210 parameters), 4
# epochs of one-cycle SGD: 58 img/s when the 2-core AMD EPYC was otherwise idle (about
# 15 minutes an epoch), 30-38 img/s when shared. The run recorded in
# benchmarks/results/precision-*.json is this command.
DEFAULT_ARCH = ("blocks=(6,6,6)", "growth_rate=12")
DEFAULT_EPOCHS = 4
DEFAULT_TRAIN = (
    "--batch-size", "128", "--schedule", "onecycle", "--lr", "0.2", "--warmup-epochs", "1",
    "--label-smoothing", "0.1", "--cutout", "0", "--seed", "0",
)  # fmt: skip
# (engine, precision) in the order they run; Keras float32 is the anchor
VARIANTS = (
    ("keras", "float32"),
    ("keras", "bfloat16"),
    ("openvino", "float32"),
    ("openvino", "bfloat16"),
    ("openvino", "int8"),
)


def train_command(args, run):
    """The `keras-dense train` argv that makes the run."""
    command = [sys.executable, "-m", "keras_dense", "train", args.model, "--data", args.data]
    command += ["--out", str(run), "--epochs", str(args.epochs), "--quiet", *DEFAULT_TRAIN]
    for item in args.arch:
        command += ["--arch", item]
    if args.subset:
        command += ["--subset", str(args.subset)]
    if args.test_subset:
        command += ["--test-subset", str(args.test_subset)]
    return command


def _shown(command):
    """The train argv as a user types it (`keras-dense train ...`)."""
    return " ".join(["keras-dense", *command[3:]])


def refusal(engine, precision, device):
    """One line saying why this CPU does not run `precision` on `engine`, or None."""
    if precision == "bfloat16" and not device["bf16"]:
        return "bfloat16 refused: this CPU has no bfloat16 units (avx512_bf16 / amx_bf16)"
    if precision == "int8" and not device["vnni"] and not device["amx"]:
        return "int8 refused: this CPU has no int8 dot-product units (VNNI / AMX)"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CIFAR-10 source (the JPEG copy)")
    parser.add_argument("--run", help="a trained run folder: skip the training")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--arch", action="append", default=None, help="KEY=VALUE overrides")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--subset", type=int, help="train on the first N images (quick runs)")
    parser.add_argument("--test-subset", type=int, help="test on the first N images")
    parser.add_argument("--calibration-size", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=256, help="test batch")
    parser.add_argument("--train-command", help="with --run: the command that trained it")
    args = parser.parse_args(argv)
    args.arch = DEFAULT_ARCH if args.arch is None else tuple(args.arch)
    device = _common.cpu()
    print(_common.cpu_line(device))
    with tempfile.TemporaryDirectory(prefix="precision-") as scratch:
        run, command, train_seconds = args.run, None, None
        if run is not None:
            train_seconds = run_train_seconds(run)
        else:
            run = pathlib.Path(scratch) / "run"
            command = train_command(args, run)
            print("training:", _shown(command), flush=True)
            start = time.perf_counter()
            subprocess.run(command, check=True)
            train_seconds = time.perf_counter() - start
            print(f"trained in {train_seconds:.0f} s")
        results = evaluate_all(run, args, device)
    payload = {
        "benchmark": "precision",
        "model": args.model,
        "arch": list(args.arch) if command else None,
        "run": str(args.run) if args.run else None,
        "train_command": _shown(command) if command else args.train_command,
        "train_seconds": train_seconds,
        "dataset": f"CIFAR-10 (JPEG copy) from {args.data}",
        "device": device,
        "calibration_size": args.calibration_size,
        "results": results,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **_common.machine(),
    }
    _common.write_json("precision", payload)
    return payload


def run_train_seconds(run):
    """The seconds a run folder's epochs trained (its history.csv), or None."""
    history = pathlib.Path(run) / "history.csv"
    if not history.is_file():
        return None
    with open(history, newline="") as f:
        return sum(float(row["train_seconds"]) for row in csv.DictReader(f))


def evaluate_all(run, args, device):
    """Tests `run` in every (engine, precision) of `VARIANTS`; prints one line each."""
    from keras_dense.training import evaluation

    results, anchor = [], None
    for engine, precision in VARIANTS:
        refused = refusal(engine, precision, device)
        if refused:
            print(f"{engine:>8} {precision:<8} {refused}")
            results.append({"engine": engine, "precision": precision, "skipped": refused})
            continue
        report = evaluation.evaluate(
            run,
            data=args.data,
            batch_size=args.batch_size,
            test_subset=args.test_subset,
            tta="none",
            engine=engine,
            precision=precision,
            calibration_size=args.calibration_size,
        )
        row = {
            "engine": engine,
            "precision": precision,
            "top1": report["accuracy"],
            "images": report["images"],
            "img_per_s": report["images"] / report["seconds"],
        }
        if "int8_check" in report:
            check = report["int8_check"]
            row["int8_check"] = {
                "calibration_images": check["calibration"]["images"],
                "held_out_images": len(check["images"]),
                "top1_agreement": check["top1_agreement"],
                "max_probability_difference": check["max_probability_difference"],
            }
        anchor = anchor or row
        row["top1_change_points"] = 100 * (row["top1"] - anchor["top1"])
        print(
            f"{engine:>8} {precision:<8} top-1 {row['top1']:.4f} "
            f"({row['top1_change_points']:+.2f} pt vs keras float32) on {row['images']} "
            f"images, {row['img_per_s']:.0f} img/s"
        )
        results.append(row)
    return results


if __name__ == "__main__":
    main()
