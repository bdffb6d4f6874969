"""Training step of densenet_bc_100_k12: plain vs memory_efficient=True.

Throughput: both models are built in one process and their training steps
alternate (plain, lean, plain, ...), so a busy machine slows both alike; the
median images/s of each is reported. Peak memory: each variant trains a few
steps in its own subprocess, which reports its peak resident memory (RSS,
`getrusage`) and how far it rose above the memory after building the model.

Usage:
    python benchmarks/train_step.py            # full settings
    python benchmarks/train_step.py --quick    # a correctness run, a minute or two
    KERAS_BACKEND=torch python benchmarks/train_step.py --quick
"""

import argparse
import json
import sys
import time

import _common  # noqa: F401  (puts the repository root on sys.path)

MODEL = "densenet_bc_100_k12"


def _build(memory_efficient, jit_compile):
    import keras

    from keras_dense._device import default_jit_compile
    from keras_dense.models import densenet

    keras.utils.set_random_seed(0)
    model = densenet.DenseNetCIFAR(100, 12, memory_efficient=memory_efficient)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        loss="sparse_categorical_crossentropy",
        jit_compile=default_jit_compile() if jit_compile == "default" else jit_compile,
    )
    return model


def _batch(batch_size):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch_size, 32, 32, 3)).astype("float32")
    return x, rng.integers(0, 10, batch_size)


def memory_probe(memory_efficient, batch_size, steps, jit_compile):
    """Runs in a subprocess: prints JSON with peak RSS and its rise over the built model."""
    model = _build(memory_efficient, jit_compile)
    x, y = _batch(batch_size)
    before = _common.rss_gb()
    for _ in range(steps):
        model.train_on_batch(x, y)
    peak = _common.peak_rss_gb()
    print(json.dumps({"peak_rss_gb": peak, "built_rss_gb": before, "rise_gb": peak - before}))


def _probe_in_subprocess(memory_efficient, args):
    cmd = [
        sys.executable,
        __file__,
        "--probe",
        str(int(memory_efficient)),
        "--batch-size",
        str(args.batch_size),
        "--jit-compile",
        args.jit_compile,
        "--memory-steps",
        str(args.memory_steps),
    ]
    return _common.run_probe(cmd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, for a correctness run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per model")
    parser.add_argument("--memory-steps", type=int, default=None)
    parser.add_argument(
        "--jit-compile",
        default="default",
        help="'default' (keras_dense._device.default_jit_compile), 'True' or 'False'",
    )
    parser.add_argument("--probe", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (3 if args.quick else 10)
    args.memory_steps = args.memory_steps or (2 if args.quick else 3)
    jit = {"True": True, "False": False}.get(args.jit_compile, args.jit_compile)
    if args.probe is not None:
        return memory_probe(bool(args.probe), args.batch_size, args.memory_steps, jit)

    import keras

    from keras_dense._device import default_jit_compile

    applied = {"backend": keras.backend.backend(), "jit_compile": default_jit_compile()}
    gflops = _common.matmul_gflops()
    print(f"matmul: {gflops:.0f} GFLOP/s float32", flush=True)

    memory = {
        name: _probe_in_subprocess(lean, args)
        for name, lean in (("plain", False), ("memory_efficient", True))
    }
    for name, m in memory.items():
        print(
            f"{name}: peak RSS {m['peak_rss_gb']:.2f} GB (+{m['rise_gb']:.2f} GB while training)",
            flush=True,
        )

    x, y = _batch(args.batch_size)
    models = {"plain": _build(False, jit), "memory_efficient": _build(True, jit)}
    for model in models.values():  # trace and warm up
        model.train_on_batch(x, y)
    times = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)
    rate = {name: args.batch_size / _common.median(t) for name, t in times.items()}

    from keras_dense import count_flops

    train_flops = 3 * count_flops(models["plain"])  # forward + ~2x for the backward
    report = {
        "model": MODEL,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "quick": args.quick,
        "settings": applied,
        "jit_compile": str(jit),
        "machine": _common.machine(),
        "matmul_gflops": gflops,
        "images_per_s": rate,
        "step_time_ratio_memory_efficient_over_plain": rate["plain"] / rate["memory_efficient"],
        "peak_rss_gb": {k: v["peak_rss_gb"] for k, v in memory.items()},
        "training_rss_rise_gb": {k: v["rise_gb"] for k, v in memory.items()},
        "peak_rss_ratio": memory["memory_efficient"]["peak_rss_gb"]
        / memory["plain"]["peak_rss_gb"],
        "rise_ratio": memory["memory_efficient"]["rise_gb"] / memory["plain"]["rise_gb"],
        "share_of_matmul_peak": {k: r * train_flops / 1e9 / gflops for k, r in rate.items()},
        "baseline_issue_images_per_s": 28.0,
        "speedup_vs_issue_baseline": {k: r / 28.0 for k, r in rate.items()},
        "step_times_s": times,
    }
    for name, r in rate.items():
        print(f"{name}: {r:.1f} images/s", flush=True)
    print(
        f"step time ratio (memory_efficient / plain): "
        f"{report['step_time_ratio_memory_efficient_over_plain']:.2f}; "
        f"peak memory ratio {report['peak_rss_ratio']:.2f} "
        f"(rise ratio {report['rise_ratio']:.2f})"
    )
    _common.write_json("train_step", report)


if __name__ == "__main__":
    main()
