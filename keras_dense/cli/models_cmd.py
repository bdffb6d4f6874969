"""`keras-dense list` and `keras-dense summary NAME`."""

from keras_dense.cli import argtypes


def add_parsers(subparsers):
    listing = subparsers.add_parser("list", help="list the models with family, input size, parameters")
    listing.add_argument("pattern", nargs="?", help="shell-style name filter, e.g. 'densenet_bc*'")
    listing.add_argument("--family", help="keep one family, e.g. densenet")
    listing.set_defaults(func=run_list)

    summary = subparsers.add_parser(
        "summary", help="print model.summary() with parameter, MAC and FLOP totals"
    )
    summary.add_argument("name", help="registry name, see `keras-dense list`")
    summary.add_argument("--input-shape", type=argtypes.image_shape, metavar="H,W,C",
                         help="input shape (default: the model's own)")
    summary.add_argument("--classes", type=int, help="number of classes")
    summary.add_argument("--layers", action="store_true", help="also print MACs per layer")
    summary.set_defaults(func=run_summary)


def run_list(args):
    from keras_dense import registry

    names = registry.list_models(args.pattern, family=args.family)
    if not names:
        raise ValueError(
            f"No model matches pattern={args.pattern!r} family={args.family!r}; "
            "run `keras-dense list` for all."
        )
    header = f"{'name':<22} {'family':<12} {'input':<12} {'classes':>7} {'params':>13}  weights"
    print(header)
    print("-" * len(header))
    for name in names:
        entry = registry.model_entry(name)
        size = "x".join(str(d) for d in entry.input_shape)
        weights = "imagenet" if entry.weights else "-"
        print(f"{name:<22} {entry.family:<12} {size:<12} {entry.classes:>7} "
              f"{entry.params:>13,}  {weights}")
    return 0


def run_summary(args):
    from keras_dense import registry
    from keras_dense.summary import summarize

    kwargs = {"weights": None}
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.classes is not None:
        kwargs["classes"] = args.classes
    model = registry.get_model(args.name, **kwargs)
    summarize(model, per_layer=args.layers)
    return 0
