"""`keras-dense embed PATH... --out FILE`, and `keras-dense predict PATH... --out FILE`'s
folder-job options (`--out`, `--resume`, `--ray`, `--workers`)."""

import argparse
import sys

from keras_dense._choices import (
    EMBED_RESULT_FORMATS,
    ENGINES,
    PREPROCESSING_MODES,
)
from keras_dense.cli import EXIT_CODES_HELP, EXIT_OK, EXIT_SKIPPED, argtypes, options

PATHS_HELP = "image files, folders (walked recursively) or @LIST (a text file of one path a line)"


def job_options(parser, formats):
    """`--out FILE`, `--resume`, `--ray`, `--workers N`: a folder job into one file."""
    parser.add_argument(
        "--out",
        metavar="FILE",
        help=f"write one row per image to FILE ({', '.join(formats)}) as each batch "
        "finishes; a killed job keeps what it wrote",
    )
    options.flags(
        parser,
        resume="continue --out FILE: skip the images it already holds, append the rest",
        ray="run on Ray (RAY_ADDRESS when set, else a local Ray): one model per worker",
    )
    options.counts(
        parser, workers="with --ray: workers, one model each (default: one per node; locally one)"
    )


def check_job_options(args):
    """The job options that need `--out` (or `--ray`) refused without them."""
    if args.out is None:
        for flag, given in (("--resume", args.resume), ("--ray", args.ray)):
            if given:
                raise ValueError(f"{flag} needs --out FILE, the file the rows go to.")
    if getattr(args, "json", False) and args.out is not None:
        raise ValueError("--json prints one document; with --out the rows go to the file.")
    if args.workers and not args.ray:
        raise ValueError("--workers needs --ray; without it one process runs the job.")


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "embed",
        help="write the pooled features of images (files or folders) to a file",
        description="Write the embedding of each image (the model without its classifier, "
        "global average pooling; or a layer's output pooled) to --out, a .parquet "
        "(path, embedding, error) or .npz (paths, embeddings, error_paths, errors) file. "
        "The images are loaded and preprocessed as predict does.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help=PATHS_HELP)
    options.model_and_weights(parser)
    parser.add_argument("--layer", help="pool this layer's output (default: the last features)")
    parser.add_argument(
        "--batch-size", type=argtypes.positive_int, default=32, help="images per step"
    )
    options.crop(parser)
    parser.add_argument(
        "--preprocess", choices=PREPROCESSING_MODES, help="override the weights' preprocessing mode"
    )
    options.precision(parser)
    options.flags(
        parser, fold_bn="fold batch norms into the convolutions before them (keras engine)"
    )
    parser.add_argument("--engine", choices=ENGINES, default="auto", help="as in predict")
    job_options(parser, EMBED_RESULT_FORMATS)
    parser.set_defaults(func=run_embed)


def _progress():
    """The job's progress callback; its clock starts now, with the model's loading."""
    import time

    from keras_dense.cli.progress import JobProgress

    progress, started = None, time.monotonic()

    def update(done, total):
        nonlocal progress
        if progress is None:
            progress = JobProgress(total)
            progress.start = started
        progress(done, total)

    return update


def _report(summary, out, task):
    verb = "classified" if task == "predict" else "embedded"
    print(
        f"keras-dense: {verb} {summary.written - summary.errors} images into {out} "
        f"({summary.skipped} already there, {summary.errors} could not be read: their "
        "rows hold the error)",
        file=sys.stderr,
    )
    return EXIT_SKIPPED if summary.errors else EXIT_OK


def _run(task, args, settings):
    from keras_dense.inference import folder_jobs

    run = folder_jobs.predict_into if task == "predict" else folder_jobs.embed_into
    extra = {}
    if args.ray:
        from keras_dense.inference import ray as ray_jobs

        run = ray_jobs.predict_into if task == "predict" else ray_jobs.embed_into
        extra = {"workers": args.workers}
    try:
        summary = run(
            args.paths, args.out, resume=args.resume, progress=_progress(), **extra, **settings
        )
    except KeyboardInterrupt:
        print(
            f"keras-dense: {args.out} keeps the rows written so far; run again with "
            "--resume to finish it",
            file=sys.stderr,
        )
        raise
    return _report(summary, args.out, task)


def run_predict_out(args, settings):
    """`keras-dense predict ... --out FILE`: the folder job (settings: predict_files')."""
    check_job_options(args)
    return _run("predict", args, settings)


def run_embed(args):
    from keras_dense.cli.predict_cmd import enable_library_log

    if args.out is None:
        raise ValueError("embed needs --out FILE (.parquet or .npz), the file the rows go to.")
    check_job_options(args)
    enable_library_log()
    settings = options.model_settings(args)
    settings.update(
        layer=args.layer, preprocess=args.preprocess, crop=args.crop, engine=args.engine
    )
    return _run("embed", args, settings)
