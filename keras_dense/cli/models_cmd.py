"""`keras-dense list` and `keras-dense summary NAME`."""

from keras_dense.cli import argtypes, options


def add_parsers(subparsers):
    listing = subparsers.add_parser(
        "list", help="list the models with family, input size, parameters and weight tags"
    )
    listing.add_argument("pattern", nargs="?", help="shell-style name filter, e.g. 'densenet_bc*'")
    listing.add_argument("--family", help="keep one family, e.g. densenet")
    options.flags(
        listing,
        weights="only models with published weights",
        markdown="print the Markdown tables of docs/models.md (every model, by family)",
    )
    listing.set_defaults(func=run_list)

    summary = subparsers.add_parser(
        "summary", help="print model.summary() with parameter, MAC and FLOP totals"
    )
    summary.add_argument("name", help="registry name, see `keras-dense list`")
    summary.add_argument(
        "--input-shape",
        type=argtypes.image_shape,
        metavar="H,W,C",
        help="input shape (default: the model's own)",
    )
    summary.add_argument("--classes", type=argtypes.positive_int, help="number of classes")
    options.arch(summary, "architecture override, e.g. growth_rate=4")
    options.flags(summary, layers="also print MACs per layer")
    summary.set_defaults(func=run_summary)


def run_list(args):
    from keras_dense.analysis import tables
    from keras_dense.models import list_models

    if args.markdown:
        print(tables.models_markdown(), end="")
        return 0
    names = list_models(args.pattern, family=args.family, weights=args.weights)
    if not names:
        raise ValueError(
            f"No model matches pattern={args.pattern!r} family={args.family!r}; "
            "run `keras-dense list` for all."
        )
    print(tables.models_text(names))
    return 0


def run_summary(args):
    from keras_dense.analysis.summary import summarize
    from keras_dense.models import get_model

    kwargs = {"weights": None, **dict(args.arch)}
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.classes is not None:
        kwargs["classes"] = args.classes
    summarize(get_model(args.name, **kwargs), per_layer=args.layers)
    return 0
