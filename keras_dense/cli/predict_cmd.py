"""`keras-dense predict PATH... --model NAME --weights imagenet|TAG|PATH|none`."""

import argparse
import json
import sys

from keras_dense._choices import ENGINES, PREDICT_RESULT_FORMATS, PREPROCESSING_MODES, TTA_MODES
from keras_dense.cli import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, argtypes, jobs_cmd, options
from keras_dense.cli.progress import ProgressBar


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="print the ImageNet top-k classes of images (files or folders)",
        description="Print the ImageNet top-k classes of image files and folders (walked). "
        "A file that cannot be read is named on stderr and skipped; the others "
        "are still classified.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help=jobs_cmd.PATHS_HELP)
    options.model_and_weights(parser)  # --model RUN: a fine-tuning run folder, its classes
    parser.add_argument("--top", type=argtypes.positive_int, default=5, help="classes per image")
    parser.add_argument(
        "--batch-size", type=argtypes.positive_int, default=32, help="images per step"
    )
    options.crop(parser)
    parser.add_argument(
        "--preprocess", choices=PREPROCESSING_MODES, help="override the weights' preprocessing mode"
    )
    options.flags(parser, json="print one JSON document")
    options.precision(
        parser,
        "bfloat16: faster on CPUs with bfloat16 units; the largest "
        "probability difference against float32 on the first batch "
        "is reported on stderr",
    )
    options.flags(
        parser, fold_bn="fold batch norms into the convolutions before them (keras engine)"
    )
    parser.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="test-time augmentation: average the probabilities over the image "
        "and its mirror, or 5 / 10 crops of the image loaded at size/0.875",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="auto (default): a CPU runtime when its export is cached or the "
        "job is large enough to pay for exporting, else keras; "
        "onnxruntime/openvino export once (checked, cached) and run there",
    )
    jobs_cmd.job_options(parser, PREDICT_RESULT_FORMATS)
    options.flags(
        parser, verbose="say what --engine auto chose and why (images counted, the constants)"
    )
    parser.set_defaults(func=run_predict)


def enable_library_log(verbose=False):
    """Shows which weights file was loaded and what the engines do (exports, cache), on
    stderr, once per process however often main() runs; `verbose`: `auto`'s decisions too."""
    import logging

    for name in ("keras_dense.weights", "keras_dense.inference"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "keras_dense_cli", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("keras-dense: %(message)s"))
            handler.keras_dense_cli = True
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def run_predict(args):
    from keras_dense.imagenet import images
    from keras_dense.inference import folder_jobs, loading, predict, runs

    enable_library_log(verbose=args.verbose)
    settings = options.model_settings(args)
    weights = settings["weights"]
    settings.update(top=args.top, preprocess=args.preprocess, crop=args.crop, tta=args.tta)
    if args.out or args.resume or args.ray or args.workers:  # a folder job into one file
        return jobs_cmd.run_predict_out(args, {**settings, "engine": args.engine})
    args.paths = folder_jobs.expand_lists(args.paths)
    files, missing = predict.image_files(args.paths)
    if not files and not missing:
        raise ValueError(f"No image files found in {', '.join(args.paths)}.")
    engine = args.engine
    if files:  # choose (and, if needed, export) once; predict_files reuses the loaded model
        loaded, _ = loading.load_engine_model(
            args.model,
            weights,
            args.preprocess,
            args.precision,
            args.fold_bn,
            args.engine,
            len(files),
        )
        engine = getattr(loaded, "engine", "keras")
        if args.model.startswith(loading.HUB_PREFIX):
            settings["model"] = loaded  # a Hub model is loaded once (it has no registry name)
        print(f"keras-dense: engine: {engine} ({args.precision})", file=sys.stderr)
    settings["engine"] = engine
    if args.precision != "float32" and files:
        try:
            difference = predict.precision_difference(
                files[: args.batch_size],
                **{k: v for k, v in settings.items() if k not in ("top", "tta")},
            )
            print(
                f"keras-dense: {args.precision}: largest probability difference against "
                f"float32 on the first {len(files[: args.batch_size])} images: "
                f"{difference:.2e}",
                file=sys.stderr,
            )
        except images.ImageLoadError:  # each unreadable file is reported below, by name
            print(
                f"keras-dense: {args.precision}: no image of the first "
                f"{len(files[: args.batch_size])} could be read to measure the difference "
                "against float32",
                file=sys.stderr,
            )
    total = len(files) + len(missing)
    progress = ProgressBar(total, enabled=total > args.batch_size)
    results, failures = [], []
    for result in predict.predict_files(args.paths, **settings):
        progress.advance()
        if result.error:
            failures.append(result)
            continue
        results.append(result)
        if not args.json:
            _print_text(result.path, result.predictions)
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "weights": args.weights,
                    "engine": engine,
                    "results": [
                        {
                            "path": r.path,
                            "predictions": [
                                {"wnid": wnid, "label": label, "probability": probability}
                                for wnid, label, probability in r.predictions
                            ],
                        }
                        for r in results
                    ],
                    "errors": [{"path": r.path, "error": r.error} for r in failures],
                },
                indent=2,
            )
        )
    for result in failures:
        print(f"keras-dense: error: {result.error} (skipped)", file=sys.stderr)
    if (
        files
        and args.engine == "auto"
        and engine == "keras"
        and isinstance(settings["model"], str)
        and not runs.is_run(args.model)
    ):
        _prepare_runtime_in_background(args.model, weights, args.precision, len(files))
    return EXIT_SKIPPED if failures else EXIT_OK


def _prepare_runtime_in_background(name, weights, precision, job_images):
    """After a job ran on Keras for want of a cached export that would have made it faster:
    export in the background, for the next runs."""
    from keras_dense.inference import background, engines

    try:
        runtime = engines.choose_engine("auto", precision, job_images, cached=lambda e: True)
        if weights is None or runtime == "keras":
            return
        started = background.start(name, str(weights), runtime, precision)
    except Exception as error:  # noqa: BLE001 - an optimisation for later runs: never fatal
        print(
            f"keras-dense: warning: the background export was not started ({error}); "
            "later runs use Keras.",
            file=sys.stderr,
        )
        return
    if started:
        print(
            f"keras-dense: exporting {name} for {runtime} in the background (once, about "
            f"{engines.EXPORT_SECONDS:.0f} s for DenseNet-169 at low priority); later runs "
            "use it. "
            f"{background.SWITCH}=0 turns this off.",
            file=sys.stderr,
        )


def _print_text(path, top):
    print(path)
    for rank, (wnid, label, probability) in enumerate(top, start=1):
        print(f"  {rank}. {label:<28} {probability:9.5f}  {wnid}")
