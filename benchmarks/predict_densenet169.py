"""Images per second of DenseNet169 inference: our batched path vs `model.predict`.

Both run the same random-weight `keras.applications.DenseNet169` on the same
preprocessed batch: `keras_dense.inference.predict_batches` (the compiled
predict step, as `keras_dense.predict` uses) against `model.predict(numpy)`.
Writes benchmarks/results/predict_densenet169.json.

Usage:
    python benchmarks/predict_densenet169.py --batch-size 16 --batches 3
"""

import argparse
import json
import os
import pathlib
import platform
import time

import keras
import numpy as np

from keras_dense.inference import predict_batches


def images_per_second(run, count, repeats):
    run()  # warm-up: tracing and compilation
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batches", type=int, default=3, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best is kept")
    args = parser.parse_args()

    model = keras.applications.DenseNet169(weights=None)
    count = args.batch_size * args.batches
    x = np.random.default_rng(0).uniform(-2, 2, (count, 224, 224, 3)).astype("float32")
    ours = images_per_second(lambda: predict_batches(model, x, args.batch_size), count, args.repeats)
    keras_predict = images_per_second(
        lambda: model.predict(x, batch_size=args.batch_size, verbose=0), count, args.repeats)
    result = {
        "model": "densenet169", "backend": keras.backend.backend(),
        "batch_size": args.batch_size, "images": count, "repeats": args.repeats,
        "predict_batches_images_per_s": round(ours, 2),
        "keras_model_predict_images_per_s": round(keras_predict, 2),
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "keras": keras.__version__,
    }
    print(json.dumps(result, indent=2))
    out = pathlib.Path(__file__).parent / "results" / "predict_densenet169.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
