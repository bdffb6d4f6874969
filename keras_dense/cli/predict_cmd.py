"""`keras-dense predict PATH... --model NAME --weights imagenet|PATH|none`."""

import json
import sys

from keras_dense.cli import argtypes


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "predict", help="print the ImageNet top-k classes of images (files or folders)"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument("--model", default="densenet169",
                        help="registry name (default: densenet169)")
    parser.add_argument("--weights", default="imagenet", metavar="imagenet|PATH|none",
                        help="published ImageNet weights (default), a weights file, or none")
    parser.add_argument("--top", type=argtypes.positive_int, default=5, help="classes per image")
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=32, help="images per step")
    parser.add_argument("--crop", action="store_true",
                        help="resize the short side and centre-crop instead of resizing")
    parser.add_argument("--preprocess", choices=("caffe", "tf", "torch"),
                        help="override the model's preprocessing mode")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="bfloat16: faster on CPUs with bfloat16 units; the largest "
                             "probability difference against float32 on the first batch "
                             "is reported on stderr")
    parser.add_argument("--no-fold-bn", dest="fold_bn", action="store_false",
                        help="do not fold batch norms into the convolutions before them")
    parser.set_defaults(func=run_predict)


class _Progress:
    """A one-line progress bar on stderr, for runs of many images."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = total, 0, enabled

    def advance(self, count):
        self.done += count
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'=' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _expand(paths):
    """Image files from the arguments, and `(path, error)` for missing ones."""
    from keras_dense import images

    files, failures = [], []
    for path in paths:
        try:
            files.extend(images.find_images([path]))
        except images.ImageLoadError as error:
            failures.append((path, str(error)))
    return files, failures


def run_predict(args):
    import logging

    import numpy as np

    from keras_dense import images, prediction

    weights_logger = logging.getLogger("keras_dense.weights")
    if not any(getattr(h, "keras_dense_cli", False) for h in weights_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("keras-dense: %(message)s"))
        handler.keras_dense_cli = True  # added once per process, however often main() runs
        weights_logger.addHandler(handler)
    weights_logger.setLevel(logging.INFO)

    weights = None if args.weights.lower() == "none" else args.weights
    files, failures = _expand(args.paths)
    if not files and failures:
        for path, error in failures:
            print(f"keras-dense: error: {error}", file=sys.stderr)
        return 1
    if not files:
        raise ValueError(f"No image files found in {', '.join(args.paths)}.")

    model, mode = prediction.build_for_predict(args.model, weights, args.preprocess,
                                               args.precision, args.fold_bn)
    size = prediction.input_size(model)
    progress = _Progress(len(files), enabled=len(files) > args.batch_size)
    results = []
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        loaded, pixels = [], []
        for path in chunk:
            try:
                pixels.append(images.load_image(path, size, crop=args.crop))
                loaded.append(path)
            except images.ImageLoadError as error:
                failures.append((str(path), str(error)))
        if pixels:
            if args.precision != "float32" and start == 0:
                _report_precision_difference(args, weights, model, mode, np.stack(pixels))
            decoded = prediction.classify(model, mode, np.stack(pixels), args.top,
                                       args.batch_size)
            for path, top in zip(loaded, decoded):
                results.append((str(path), top))
                if not args.json:
                    _print_text(path, top)
        progress.advance(len(chunk))

    if args.json:
        print(json.dumps({
            "model": model.name,
            "results": [
                {"path": path, "predictions": [
                    {"wnid": wnid, "label": label, "probability": probability}
                    for wnid, label, probability in top
                ]}
                for path, top in results
            ],
            "errors": [{"path": path, "error": error} for path, error in failures],
        }, indent=2))
    for path, error in failures:
        print(f"keras-dense: error: {error} (skipped)", file=sys.stderr)
    return 1 if failures else 0


def _report_precision_difference(args, weights, model, mode, pixels):
    """Prints the largest probability difference against float32 on one batch."""
    import numpy as np

    from keras_dense import imagenet_utils, inference, prediction

    reference, _ = prediction.build_for_predict(args.model, weights, mode, "float32",
                                                args.fold_bn)
    x = imagenet_utils.preprocess_input(pixels, mode=mode)
    ours = inference.predict_batches(model, x, args.batch_size)
    exact = inference.predict_batches(reference, x, args.batch_size)
    difference = float(np.max(np.abs(ours.astype("float32") - exact.astype("float32"))))
    print(f"keras-dense: {args.precision}: largest probability difference against float32 "
          f"on the first {len(pixels)} images: {difference:.2e}", file=sys.stderr)


def _print_text(path, top):
    print(path)
    for rank, (wnid, label, probability) in enumerate(top, start=1):
        print(f"  {rank}. {label:<28} {probability:9.5f}  {wnid}")
