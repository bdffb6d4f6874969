"""`keras-dense predict PATH... --model NAME --weights imagenet|TAG|PATH|none`."""

import json
import sys

from keras_dense.cli import argtypes
from keras_dense.cli.progress import ProgressBar


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "predict", help="print the ImageNet top-k classes of images (files or folders)"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument("--model", default="densenet169",
                        help="registry name (default: densenet169)")
    parser.add_argument("--weights", default="imagenet", metavar="imagenet|TAG|PATH|none",
                        help="published weights (default: the model's first tag), a weight "
                             "tag, a weights file, or none")
    parser.add_argument("--top", type=argtypes.positive_int, default=5, help="classes per image")
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=32, help="images per step")
    parser.add_argument("--crop", action="store_true",
                        help="resize the short side and centre-crop instead of resizing")
    parser.add_argument("--preprocess", choices=("caffe", "tf", "torch"),
                        help="override the weights' preprocessing mode")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="bfloat16: faster on CPUs with bfloat16 units; the largest "
                             "probability difference against float32 on the first batch "
                             "is reported on stderr")
    parser.add_argument("--fold-bn", action="store_true",
                        help="fold batch norms into the convolutions before them")
    parser.add_argument("--tta", choices=("flip", "five_crop", "ten_crop"),
                        help="test-time augmentation: average the probabilities over the image "
                             "and its mirror, or 5 / 10 crops of the image loaded at size/0.875")
    parser.set_defaults(func=run_predict)


def _enable_weights_log():
    """Shows which weights file was loaded, once per process however often main() runs."""
    import logging

    weights_logger = logging.getLogger("keras_dense.weights")
    if not any(getattr(h, "keras_dense_cli", False) for h in weights_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("keras-dense: %(message)s"))
        handler.keras_dense_cli = True
        weights_logger.addHandler(handler)
    weights_logger.setLevel(logging.INFO)


def run_predict(args):
    from keras_dense.imagenet import predict

    _enable_weights_log()
    weights = None if args.weights.lower() == "none" else args.weights
    options = dict(model=args.model, weights=weights, top=args.top,
                   batch_size=args.batch_size, preprocess=args.preprocess, crop=args.crop,
                   precision=args.precision, fold_bn=args.fold_bn, tta=args.tta)
    files, missing = predict.image_files(args.paths)
    if not files and not missing:
        raise ValueError(f"No image files found in {', '.join(args.paths)}.")
    if args.precision != "float32" and files:
        difference = predict.precision_difference(
            files[:args.batch_size],
            **{k: v for k, v in options.items() if k not in ("top", "tta")})
        print(f"keras-dense: {args.precision}: largest probability difference against float32 "
              f"on the first {len(files[:args.batch_size])} images: {difference:.2e}",
              file=sys.stderr)
    total = len(files) + len(missing)
    progress = ProgressBar(total, enabled=total > args.batch_size)
    results, failures = [], []
    for result in predict.predict_files(args.paths, **options):
        progress.advance()
        if result.error:
            failures.append(result)
            continue
        results.append(result)
        if not args.json:
            _print_text(result.path, result.predictions)
    if args.json:
        print(json.dumps({
            "model": args.model,
            "weights": args.weights,
            "results": [
                {"path": r.path, "predictions": [
                    {"wnid": wnid, "label": label, "probability": probability}
                    for wnid, label, probability in r.predictions
                ]}
                for r in results
            ],
            "errors": [{"path": r.path, "error": r.error} for r in failures],
        }, indent=2))
    for result in failures:
        print(f"keras-dense: error: {result.error} (skipped)", file=sys.stderr)
    return 1 if failures else 0


def _print_text(path, top):
    print(path)
    for rank, (wnid, label, probability) in enumerate(top, start=1):
        print(f"  {rank}. {label:<28} {probability:9.5f}  {wnid}")
