"""Repeated `keras_dense.predict(x, model=built_model)` calls against the model's own paths.

Each round calls, on the same random-weight DenseNet169 and the same batch of
pixels, alternating: `keras.applications.DenseNet169().predict` on the
preprocessed batch, our model's `predict_on_batch`, and `keras_dense.predict`
with the built model (preprocessing and decoding included). A `predict` that
copied, folded or retraced the model per call would fall far below
`predict_on_batch`; writes benchmarks/results/predict_densenet169-*.json.

Usage:
    python benchmarks/predict_densenet169.py --batch-size 32 --batches 2 --rounds 3
"""

import argparse
import json
import statistics
import time

import _common  # noqa: F401  (puts the repository root on sys.path)
import keras
import numpy as np

import keras_dense
from keras_dense.imagenet import preprocessing
from keras_dense.inference import predict_batches


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=2, help="batches per call")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds")
    args = parser.parse_args()

    reference = keras.applications.DenseNet169(weights=None)
    ours = keras_dense.get_model("densenet169")
    ours.set_weights(reference.get_weights())
    count = args.batch_size * args.batches
    pixels = np.random.default_rng(0).integers(0, 256, (count, 224, 224, 3)).astype("uint8")
    x = preprocessing.preprocess_input(pixels, mode="torch")
    paths = {
        "keras_applications_predict": lambda: reference.predict(
            x, batch_size=args.batch_size, verbose=0
        ),
        "ours_predict_on_batch": lambda: predict_batches(ours, x, args.batch_size),
        "keras_dense_predict_built_model": lambda: keras_dense.predict(
            pixels, model=ours, batch_size=args.batch_size
        ),
    }
    for run in paths.values():
        run()  # warm-up: tracing
    times = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, run in paths.items():
            times[name].append(seconds(run))
    rates = {name: count / statistics.median(t) for name, t in times.items()}
    result = {
        **_common.machine(),
        "model": "densenet169",
        "batch_size": args.batch_size,
        "images_per_call": count,
        "rounds": args.rounds,
        "images_per_second": {name: round(rate, 2) for name, rate in rates.items()},
        "predict_vs_keras_applications": round(
            rates["keras_dense_predict_built_model"] / rates["keras_applications_predict"], 3
        ),
        "predict_vs_predict_on_batch": round(
            rates["keras_dense_predict_built_model"] / rates["ours_predict_on_batch"], 3
        ),
    }
    print(json.dumps(result, indent=2))
    _common.write_json("predict_densenet169", result)


if __name__ == "__main__":
    main()
