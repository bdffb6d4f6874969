"""Fine-tuning input pipeline: the image-folder loader's images/s against the training step's.

The loader (`keras_dense.training.folder_data.FolderBatches`, a
`keras.utils.PyDataset`) decodes JPEGs, random-resized-crops and flips them to
224x224, run as `fit` runs it (Keras's data adapter and its worker pool), with
1, 2 and 4 worker threads and with 2 worker processes. The training step is
`train_on_batch` of the fine-tuning model (preprocessing layer, backbone, new
head) on ready uint8 batches: phase 1 (frozen backbone) and phase 2 (unfrozen).
The input keeps up when the loader's images/s exceed the step's; loader
throughput grows with cores (one image per worker at a time), so on a machine
with C cores expect about C / (this machine's cores) times the figure here.
The anchor is the float32 matmul rate measured in the same run.

Images: the ImageNet samples of ../shared/data (16 photographs, 75x56 to
2400x1600, 4 grayscale), repeated.

Usage:
    python benchmarks/finetune_loader.py            # resnet18 and densenet121, batch 16
    python benchmarks/finetune_loader.py --quick    # resnet18, fewer steps
"""

import argparse
import os
import pathlib
import subprocess
import time

import _common

SAMPLES = _common.ROOT.parent / "shared" / "data" / "images" / "imagenet-samples"


def cpu_description():
    """The CPU's model name and its vector flags (from lscpu)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return {"model": "unknown", "flags": []}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")
    return {
        "model": fields.get("Model name", "unknown").strip(),
        "flags": [flag for flag in wanted if flag in flags],
    }


def loader_rate(items, batch, size, workers, processes, batches):
    """Images/s of the training loader over `batches` batches, iterated as `fit` does."""
    from keras.src.trainers.data_adapters import get_data_adapter

    from keras_dense.training.folder_data import FolderBatches

    dataset = FolderBatches(
        items,
        2,
        batch,
        size,
        training=True,
        seed=0,
        workers=workers,
        use_multiprocessing=processes,
    )
    adapter = get_data_adapter(dataset, shuffle=False)
    adapter.on_epoch_begin()
    iterator = adapter.get_numpy_iterator()
    next(iterator)  # the pool starts
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        x, _ = next(iterator)
        count += len(x)
    seconds = time.perf_counter() - start
    adapter.on_epoch_end()
    return count / seconds


def step_rate(name, batch, size, steps, unfrozen):
    """Images/s of the fine-tuning model's training step (batch of `batch`, `size` pixels)."""
    import keras
    import numpy as np

    from keras_dense.training import folder_train, optim, recipe

    keras.utils.set_random_seed(0)
    model = folder_train.build_folder_model(name, 2, None, "backbone", size, "torch", 0.0, {})
    if unfrozen:
        folder_train.unfreeze(model, {"backbone": name, "freeze": "backbone"})
    r = recipe.preset("finetune")
    model.compile(optimizer=optim.make_optimizer(r, 100), loss=optim.make_loss(r))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, batch)]
    model.train_on_batch(x, y)  # compiles
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return batch / _common.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    files = sorted(SAMPLES.glob("*.JPEG"))
    if not files:
        raise SystemExit(f"{SAMPLES} holds no images: the shared data folder is needed.")
    items = [(str(path), i % 2) for i, path in enumerate(files * 16)]
    batches = 6 if args.quick else 12
    cpu = cpu_description()
    anchor = _common.matmul_gflops()
    print(f"CPU: {cpu['model']} ({os.cpu_count()} cores; {', '.join(cpu['flags'])})")
    print(f"anchor: float32 matmul {anchor:.0f} GFLOP/s")
    loader = {}
    for workers, processes in ((1, False), (2, False), (4, False), (2, True)):
        label = f"{workers} {'processes' if processes else 'threads'}"
        rate = loader_rate(items, args.batch, args.size, workers, processes, batches)
        loader[label] = rate
        print(f"loader, {label}: {rate:.1f} images/s at {args.size}x{args.size}")
    models = ["resnet18"] if args.quick else ["resnet18", "densenet121"]
    steps = {}
    for name in models:
        for unfrozen in (False, True):
            label = f"{name} {'phase 2 (unfrozen)' if unfrozen else 'phase 1 (frozen)'}"
            rate = step_rate(name, args.batch, args.size, 2 if args.quick else 3, unfrozen)
            steps[label] = rate
            print(f"training step, {label}: {rate:.1f} images/s (batch {args.batch})")
    best = max(loader, key=loader.get)
    for label, rate in steps.items():
        verdict = "keeps up" if loader[best] >= rate else "is the bottleneck"
        print(f"{label}: the loader ({best}, {loader[best]:.0f}/s) {verdict} ({rate:.0f}/s)")
    _common.write_json(
        "finetune_loader",
        {
            **_common.machine(),
            "cpu": cpu,
            "anchor_matmul_gflops": anchor,
            "image_size": args.size,
            "batch": args.batch,
            "images": str(pathlib.Path(SAMPLES).name),
            "loader_images_per_second": loader,
            "train_step_images_per_second": steps,
            "note": "a 2-core machine shared with other jobs while measured",
        },
    )


if __name__ == "__main__":
    main()
