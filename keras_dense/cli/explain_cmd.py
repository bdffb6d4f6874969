"""`keras-dense explain IMAGE --model NAME --weights W [--class N] --out cam.png` (Grad-CAM)."""

from keras_dense.cli import argtypes, options


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "explain",
        help="write an image's Grad-CAM heatmap over it and print the class explained",
    )
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    options.model_and_weights(parser)
    parser.add_argument(
        "--class",
        dest="class_index",
        type=argtypes.non_negative_int,
        metavar="N",
        help="class index to explain (default: the top class)",
    )
    parser.add_argument(
        "--layer",
        help="layer to explain (default: the last convolutional "
        "feature map, nested models included)",
    )
    options.crop(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="image file to write (.png, .jpg); an existing one is refused",
    )
    options.flags(parser, overwrite="replace an existing --out")
    parser.set_defaults(func=run_explain)


def run_explain(args):
    from keras_dense._files import refuse_existing
    from keras_dense.analysis import gradcam
    from keras_dense.imagenet import classes, images
    from keras_dense.inference import inputs, loading, runs

    images.image_format(args.out)  # refuse a bad or existing --out before the work
    refuse_existing(args.out, args.overwrite)
    weights = argtypes.weights_value(args.weights)
    # Grad-CAM needs the Keras model's gradients, never a cached runtime export
    model, mode = loading.load_engine_model(args.model, weights, engine="keras")
    pixels = images.load_image(args.image, inputs.input_size(model), crop=args.crop)
    x = inputs.model_input(model, mode, pixels[None])
    result = gradcam.explain(model, x, class_index=args.class_index, layer=args.layer)
    background = pixels if args.crop else images.load_image(args.image, size=None)
    images.save_image(
        gradcam.overlay(background, result.heatmap), args.out, overwrite=args.overwrite
    )
    name = ""
    run_names = runs.class_names_of(model)
    if run_names is not None:
        name = f" {run_names[result.class_index]}"
    elif model.output_shape[-1] == classes.NUM_CLASSES:
        wnid, label = classes.class_index()[result.class_index]
        name = f" {label} ({wnid})"
    print(
        f"{args.image}: class {result.class_index}{name}, score {result.score:.5f}, "
        f"layer {result.layer}; heatmap written to {args.out}"
    )
    return 0
