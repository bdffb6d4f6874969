"""A folder job's throughput against the engine's rate on preloaded arrays; Ray; peak memory.

1. The engine's rate: `probabilities_of` on a preloaded uint8 pixel array
   (no decoding, no file writes), images per second.
2. The same images as a folder job, `predict_into(files, out.jsonl)`:
   decoding in a thread, each batch's rows appended to the file. The model
   is built and warmed up before either is timed; the two alternate over
   `--rounds` slices of the images, so the machine's load shifts both alike.
3. The same job with `--ray --workers 2` on a local Ray (start-up and the
   actors' model building timed apart from the steady state).
4. Peak memory (ru_maxrss) of folder jobs of `--images` and `--big-images`
   images, each in a fresh process with a tiny model (32x32 input), so what
   grows with the folder's size (the file list, the rows) stands out.

The images are JPEG copies (short side 256) of the ImageNet samples in
../shared/data, hard-linked `--images` / `--big-images` times into a temporary
folder (deleted at the end, never committed). Writes
benchmarks/results/folder_jobs-<date>.json.

Usage:
    python benchmarks/folder_jobs.py --model resnet18 --images 2000 --big-images 20000
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

import _common

ROOT = _common.ROOT


def cpu_model():
    """The CPU's model name and flags that matter for inference, from /proc/cpuinfo."""
    try:
        info = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor(), []
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "")
    flags = next(
        (ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), []
    )
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma")
    return name, [flag for flag in flags if flag in wanted]


def make_folder(folder, count):
    """`count` hard links to JPEG copies (short side 256) of the shared ImageNet samples."""
    from PIL import Image

    samples = sorted(
        (ROOT.parent / "shared" / "data" / "images" / "imagenet-samples").glob("*.JPEG")
    )
    if not samples:
        sys.exit("../shared/data/images/imagenet-samples is needed (see ../shared/data/README.md)")
    sources = folder / "sources"
    sources.mkdir(parents=True)
    made = []
    for index, sample in enumerate(samples):
        image = Image.open(sample).convert("RGB")
        scale = 256 / min(image.size)
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        )
        path = sources / f"{index}.jpg"
        image.save(path, quality=90)
        made.append(path)
    images = folder / "images"
    for shard in range(0, count, 1000):  # 1,000 files a folder, as large datasets do
        sub = images / f"{shard // 1000:04d}"
        sub.mkdir(parents=True)
        for index in range(shard, min(count, shard + 1000)):
            os.link(made[index % len(made)], sub / f"{index:07d}.jpg")
    return images


def probe_memory(folder, out):
    """In a fresh process: a folder job with a tiny model; prints its peak RSS (GB)."""
    import keras_dense
    from keras_dense.inference import folder_jobs

    # the registry's tiny ResNet-18 (32x32 inputs) with ImageNet's 1000 classes
    tiny = keras_dense.models.model_record("resnet18").tiny
    model = keras_dense.get_model("resnet18", weights=None, **{**tiny, "classes": 1000})
    start = time.perf_counter()
    summary = folder_jobs.predict_into(
        [folder], out, model=model, preprocess="torch", top=5, batch_size=64, engine="keras"
    )
    print(
        json.dumps(
            {
                "images": summary.total,
                "seconds": time.perf_counter() - start,
                "peak_rss_gb": _common.peak_rss_gb(),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--engine", default="keras")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--big-images", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices of the images")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--probe", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe_memory(*args.probe)

    from keras_dense.inference import folder_jobs, loading
    from keras_dense.inference.inputs import probabilities_of, to_pixel_batch

    name, flags = cpu_model()
    print(f"CPU: {name} ({os.cpu_count()} cores; {' '.join(flags)})")
    work = pathlib.Path(tempfile.mkdtemp(prefix="folder_jobs_"))
    try:
        images = make_folder(work / "small", args.images)
        files = sorted(str(p) for p in images.rglob("*.jpg"))
        model, mode = loading.load_engine_model(
            args.model, None, "torch", "float32", False, args.engine, len(files)
        )
        pixels = to_pixel_batch(files, (224, 224))  # preloaded: decoded once, outside the timing
        probabilities_of(model, mode, pixels[: args.batch_size * 2], args.batch_size)  # warm-up
        settings = dict(
            model=args.model,
            weights=None,
            preprocess="torch",
            engine=args.engine,
            batch_size=args.batch_size,
            top=5,
        )
        # slices alternate between the two, so a change in the machine's load hits both alike
        preloaded_s = folder_s = 0.0
        slices = max(1, args.rounds)
        step = -(-len(files) // slices)
        for index, begin in enumerate(range(0, len(files), step)):
            part = slice(begin, begin + step)
            start = time.perf_counter()
            probabilities_of(model, mode, pixels[part], args.batch_size)
            preloaded_s += time.perf_counter() - start
            start = time.perf_counter()
            folder_jobs.predict_into(files[part], work / f"slice{index}.jsonl", **settings)
            folder_s += time.perf_counter() - start
            print(
                f"slice {index}: preloaded {preloaded_s:.1f} s, folder job {folder_s:.1f} s so far"
            )
        preloaded, folder = [len(files) / preloaded_s], [len(files) / folder_s]
        del pixels
        result = {
            "machine": {**_common.machine(), "cpu_model": name, "cpu_flags": flags},
            "model": args.model,
            "engine": getattr(model, "engine", "keras"),
            "batch_size": args.batch_size,
            "images": len(files),
            "preloaded_images_per_s": preloaded,
            "folder_job_images_per_s": folder,
            "folder_over_preloaded": _common.median(folder) / _common.median(preloaded),
            "per_image_ms": 1000 / _common.median(folder),
        }
        print(f"folder job / preloaded: {result['folder_over_preloaded']:.1%}")
        if not args.skip_ray:
            from keras_dense.inference import ray as ray_jobs

            start = time.perf_counter()
            ray_jobs.connect(2)
            started = time.perf_counter() - start
            start = time.perf_counter()
            ray_jobs.predict_into([images], work / "ray.jsonl", workers=2, **settings)
            seconds = time.perf_counter() - start
            result["ray_workers_2"] = {
                "ray_start_s": started,
                "job_s": seconds,
                "images_per_s": len(files) / seconds,
                "note": "2 actors (one model each) on the same 2-core machine as the driver",
            }
            print(
                f"--ray --workers 2: Ray start {started:.1f} s, "
                f"job {len(files) / seconds:.1f} img/s"
            )
            import ray

            ray.shutdown()
        memory = {}
        for count in (args.images, args.big_images):
            target = make_folder(work / f"mem{count}", count)
            probe = [
                sys.executable,
                __file__,
                "--probe",
                str(target),
                str(work / f"mem{count}.jsonl"),
            ]
            memory[count] = _common.run_probe(probe)
            print(f"{count} images, tiny model: peak RSS {memory[count]['peak_rss_gb']:.2f} GB")
            shutil.rmtree(target.parent, ignore_errors=True)
        result["peak_memory_tiny_model"] = memory
        _common.write_json("folder_jobs", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
