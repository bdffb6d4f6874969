"""`keras-dense validate DIR --model NAME --weights W [--labels CSV] [--resize-only] [--json]`."""

import argparse
import json
import sys

from keras_dense.cli import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, argtypes, options
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
    options.model_and_weights(parser)
    parser.add_argument(
        "--labels", metavar="CSV", help="labels CSV: a file column and a wnid or class-index column"
    )
    options.flags(
        parser,
        resize_only="the Keras example's transform: resize to the model size (nearest), no crop",
    )
    parser.add_argument("--batch-size", type=argtypes.positive_int, default=32)
    options.counts(parser, limit="validate the first N images only")
    options.precision(parser)
    options.flags(
        parser,
        fold_bn="fold batch norms into the convolutions before them",
        json="print one JSON document",
    )
    parser.set_defaults(func=run_validate)


def run_validate(args):
    from keras_dense.inference.validate import validate

    bar = ProgressBar(0)
    report = validate(
        args.folder,
        **options.model_settings(args),
        labels=args.labels,
        resize_only=args.resize_only,
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
