"""Options several subcommands share, each defined once: a command calls the helper."""

import argparse

from keras_dense._choices import PRECISIONS
from keras_dense.cli import argtypes

WEIGHTS_HELP = (
    "published weights (default: the model's first tag), a weight tag, a weights file, or none"
)


def model_and_weights(parser, weights_help=WEIGHTS_HELP):
    """`--model NAME` (default densenet169) and `--weights imagenet|TAG|PATH|none`."""
    parser.add_argument(
        "--model",
        default="densenet169",
        help="registry name (default: densenet169), or hf://user/repo: a Keras model saved on "
        "the Hugging Face Hub (predict, validate)",
    )
    weights(parser, weights_help)


def weights(parser, help=WEIGHTS_HELP):
    """`--weights imagenet|TAG|PATH|none` (default imagenet)."""
    parser.add_argument(
        "--weights", default="imagenet", metavar="imagenet|TAG|PATH|none", help=help
    )


def flags(parser, **helps):
    """One `store_true` option per keyword: `fold_bn="..."` adds `--fold-bn`."""
    for dest, help in helps.items():
        parser.add_argument(f"--{dest.replace('_', '-')}", action="store_true", help=help)


def tristates(parser, **helps):
    """One `--x/--no-x` option per keyword, None when not given."""
    for dest, help in helps.items():
        parser.add_argument(
            f"--{dest.replace('_', '-')}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=help,
        )


def typed(parser, type, metavar, **helps):
    """One `--x METAVAR` option per keyword, its value converted by `type`."""
    for dest, help in helps.items():
        parser.add_argument(f"--{dest.replace('_', '-')}", type=type, metavar=metavar, help=help)


def counts(parser, **helps):
    """One positive-integer `--x N` option per keyword."""
    typed(parser, argtypes.positive_int, "N", **helps)


def crop(parser):
    """`--crop`: the short side resized and the centre cropped."""
    flags(parser, crop="resize the short side and centre-crop instead of resizing")


def precision(parser, help=None):
    """`--precision` (default float32)."""
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help=help)


def calibration(parser):
    """`--calibration DIR|FILES` and `--calibration-size N` (int8)."""
    parser.add_argument(
        "--calibration",
        nargs="+",
        metavar="PATH",
        help="int8: real images (folders or files) NNCF calibrates on; those left over "
        "check the result",
    )
    parser.add_argument(
        "--calibration-size",
        type=argtypes.positive_int,
        metavar="N",
        help="int8: images that calibrate (default 300)",
    )


def arch(parser, help):
    """`--arch KEY=VALUE` (repeatable): architecture overrides."""
    parser.add_argument(
        "--arch",
        type=argtypes.arch_item,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=help,
    )


def model_settings(args):
    """The settings `--model`, `--weights`, `--batch-size`, `--precision` and `--fold-bn`
    give: the keyword arguments of `predict_files` and `validate` they share."""
    return dict(
        model=args.model,
        weights=argtypes.weights_value(args.weights),
        batch_size=args.batch_size,
        precision=args.precision,
        fold_bn=args.fold_bn,
    )
