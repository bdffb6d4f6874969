"""`keras-dense validate DIR --model NAME --weights W [--labels CSV] [--resize-only] [--json]`."""

import argparse
import json
import sys

from keras_dense._choices import PRECISIONS
from keras_dense.cli import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, argtypes
from keras_dense.cli.progress import ProgressBar


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "validate",
        help="ImageNet top-1 / top-5 accuracy over labelled images",
        description="Top-1 and top-5 accuracy over DIR/<wnid>/*.JPEG or images with a labels "
        "CSV, with the published evaluation transform (short side 256, bicubic, "
        "centre crop 224) unless --resize-only. Images that cannot be read and "
        "labels CSV rows that cannot be used are named on stderr (file and line) "
        "and skipped.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "folder",
        metavar="DIR",
        help="DIR/<wnid>/*.JPEG, or images with a labels CSV (DIR/labels.csv by default)",
    )
    parser.add_argument(
        "--model", default="densenet169", help="registry name (default: densenet169)"
    )
    parser.add_argument(
        "--weights",
        default="imagenet",
        metavar="imagenet|TAG|PATH|none",
        help="published weights (default: the model's first tag), a weight "
        "tag, a weights file, or none",
    )
    parser.add_argument(
        "--labels", metavar="CSV", help="labels CSV: a file column and a wnid or class-index column"
    )
    parser.add_argument(
        "--resize-only",
        action="store_true",
        help="the Keras example's transform: resize to the model size (nearest), no crop",
    )
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=32)
    parser.add_argument(
        "--limit", type=argtypes.positive_int, metavar="N", help="validate the first N images only"
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument(
        "--fold-bn", action="store_true", help="fold batch norms into the convolutions before them"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run_validate)


def run_validate(args):
    from keras_dense.inference.validate import validate

    weights = argtypes.weights_value(args.weights)
    bar = ProgressBar(0)
    report = validate(
        args.folder,
        model=args.model,
        weights=weights,
        labels=args.labels,
        resize_only=args.resize_only,
        batch_size=args.batch_size,
        precision=args.precision,
        fold_bn=args.fold_bn,
        limit=args.limit,
        progress=bar.update,
    )
    for error in report["errors"]:
        print(f"keras-dense: error: {error['error']} (skipped)", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        transform = report["transform"]
        how = (
            f"short side {transform['resize_short_side']} ({transform['interpolation']}), "
            f"centre crop {transform['size'][0]}x{transform['size'][1]}"
            if transform["crop"]
            else f"resize to {transform['size'][0]}x{transform['size'][1]} "
            f"({transform['interpolation']})"
        )
        weights = report["weights"] or "random weights"
        print(
            f"{report['model']} ({weights}) on {report['images']:,} images: "
            f"top-1 {report['top1']:.2f}%, top-5 {report['top5']:.2f}%, "
            f"{report['images_per_second']:.1f} images/s; transform: {how}"
            + (f"; {len(report['errors'])} skipped (named above)" if report["errors"] else "")
        )
    return EXIT_SKIPPED if report["errors"] else EXIT_OK
