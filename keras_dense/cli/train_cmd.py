"""`keras-dense train MODEL --data PATH ...`, `train --resume RUN`, `evaluate RUN`.

With any fine-tuning option (`--weights`, `--freeze`, `--image-size`,
`--val-split`, `--head-epochs`, `--finetune-epochs`, or `--preset finetune`),
`train` fine-tunes MODEL on the image folder `--data`
(`keras_dense.training.folder_train`); otherwise it trains on CIFAR-10."""

import argparse

from keras_dense._choices import ENGINES, EVALUATE_TTA_MODES, OPTIMIZERS, SCHEDULES
from keras_dense.cli import argtypes, options

SCHEDULE_HELP = (
    "cosine: warm-up then cosine; onecycle; step: x step-factor at 50%%/75%% "
    "(the paper's and the notes' schedule); constant"
)


def add_parsers(subparsers):
    from keras_dense.training.recipe import PRESETS

    train = subparsers.add_parser(
        "train",
        help="train a model on CIFAR-10, or fine-tune any model on an image folder, "
        "into a run folder",
        description="Train a registry model on CIFAR-10, or, with --weights/--freeze/"
        "--image-size/--val-split or --preset finetune, fine-tune it on the image folder "
        "--data (DIR/train/<class> and DIR/val/<class>, or DIR/<class> split by --val-split). "
        "Recipe options override the preset.",
    )
    train.add_argument("model", nargs="?", help="registry name, e.g. densenet_bc_100_k12")
    train.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run folder RUN from its last epoch; with --epochs N, "
        "extend it (finished or not) to N epochs in all: the learning-rate "
        "schedule is recomputed for N epochs and continues from the steps "
        "already taken (a finished cosine continued at its final rate, 0, "
        "would not train)",
    )
    train.add_argument(
        "--data",
        metavar="PATH",
        help="CIFAR-10 source: a folder with the jpg zips, an official archive or "
        "folder, an image folder or zip (default: download)",
    )
    train.add_argument(
        "--out", metavar="RUN", help="run folder to create, missing or empty (default runs/MODEL)"
    )
    options.flags(
        train,
        overwrite="start over the run already in --out, removing its files (a folder "
        "holding other files is never written into)",
    )
    train.add_argument(
        "--preset", default=None, choices=sorted(PRESETS), help="starting recipe (default: default)"
    )
    train.add_argument(
        "--epochs",
        type=argtypes.positive_int,
        help="epochs in all (with --resume: the run's new length, at least the epochs done)",
    )
    train.add_argument("--batch-size", type=argtypes.positive_int)
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd is Nesterov momentum")
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--schedule", choices=SCHEDULES, help=SCHEDULE_HELP)
    train.add_argument("--warmup-epochs", type=float)
    train.add_argument("--step-factor", type=float, help="multiplier of the step schedule")
    train.add_argument("--weight-decay", type=float, help="decoupled weight decay")
    train.add_argument("--label-smoothing", type=float)
    train.add_argument("--cutout", type=int, metavar="PIXELS", help="cutout square side (0: off)")
    train.add_argument(
        "--bn-momentum",
        type=float,
        help="batch-norm momentum (default: from the run's length, at most 0.99)",
    )
    train.add_argument(
        "--ema",
        dest="use_ema",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep a moving average of the weights; test and save it",
    )
    train.add_argument("--ema-momentum", type=float, help="the average's momentum (default 0.99)")
    options.tristates(
        train, tta_flip="test on each image and its mirror image, averaging the probabilities"
    )
    options.counts(
        train,
        eval_every="test every N epochs (and after the last)",
        checkpoint_every="write last.keras every N epochs (and after the last)",
        steps_per_execution="training steps per compiled call",
    )
    options.tristates(train, drop_remainder="full batches only, one shape for XLA (default: on)")
    options.counts(
        train,
        subset="train on the first N images",
        test_subset="test on the first N test images (quick runs)",
    )
    fine = train.add_argument_group(
        "fine-tuning on an image folder (any of these, or --preset finetune, selects it)"
    )
    fine.add_argument(
        "--weights",
        metavar="imagenet|TAG|PATH|none",
        help="the backbone's weights (default with the other options: imagenet)",
    )
    options.typed(
        fine,
        argtypes.freeze_value,
        "backbone|N|none",
        freeze="backbone: the head trains first, then the whole backbone; N: then its last N "
        "weighted layers (batch norms stay frozen); none: everything trains from the start",
    )
    options.typed(fine, argtypes.positive_int, "S", image_size="S x S (default: the model's)")
    options.typed(
        fine,
        argtypes.fraction,
        "F",
        val_split="share of each class held out when --data has no val/ (default 0.2; seeded, "
        "stratified, written into the run folder as split.json)",
    )
    options.typed(
        fine,
        argtypes.non_negative_int,
        "N",
        head_epochs="phase 1: epochs of the new head on the frozen backbone (finetune preset: 3)",
        finetune_epochs="phase 2: epochs of the unfrozen backbone (finetune preset: 5)",
    )
    options.typed(
        fine,
        float,
        "F",
        finetune_lr_scale="phase 2's learning rate as a fraction of --lr (default 0.1; 0.01 to "
        "0.1)",
    )
    fine.add_argument("--dropout", type=float, help="dropout before the new head (default 0)")
    options.counts(fine, workers="threads decoding and augmenting images (default 4)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    options.arch(
        train,
        "architecture override passed to the builder, e.g. growth_rate=4, "
        "blocks=2,2,2 (repeatable)",
    )
    options.tristates(train, mixed_precision="float16 compute (default: on with a GPU, off on CPU)")
    options.flags(
        train, bfloat16="mixed precision with bfloat16 instead of float16 (A100, H100, TPU)"
    )
    train.add_argument(
        "--devices",
        type=device_count,
        metavar="N|all",
        help="train data-parallel on N devices (JAX backend); --batch-size is the "
        "global batch, split evenly (allowed with --resume)",
    )
    options.tristates(train, jit="jit_compile the step (default: on with a GPU, off on CPU)")
    options.flags(train, quiet="one line per epoch, no progress bar")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="test accuracy and per-class accuracy of a run or .keras file",
    )
    evaluate.add_argument("target", help="run folder (its best.keras) or a .keras file")
    evaluate.add_argument(
        "--data",
        metavar="PATH",
        help="CIFAR-10 source, or for a fine-tuning run an image folder with its class "
        "folders (or a val/ of them) (default: the run's test set / validation split)",
    )
    evaluate.add_argument("--batch-size", type=argtypes.positive_int, default=256)
    evaluate.add_argument(
        "--tta",
        choices=EVALUATE_TTA_MODES,
        help="flip: average each image's probabilities with its mirror's; "
        "none: no test-time augmentation (default: the run's recipe)",
    )
    evaluate.add_argument(
        "--engine",
        choices=ENGINES,
        default="keras",
        help="keras (default); openvino / onnxruntime: the model exported once (checked, "
        "cached) and tested there",
    )
    options.precision(
        evaluate,
        "bfloat16: Keras's bfloat16 copy or OpenVINO's; int8: OpenVINO, quantized by NNCF "
        "on --calibration images (default: the run's training images)",
    )
    options.calibration(evaluate)
    evaluate.set_defaults(func=run_evaluate)


RECIPE_FLAGS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "schedule",
    "warmup_epochs",
    "step_factor",
    "weight_decay",
    "label_smoothing",
    "cutout",
    "bn_momentum",
    "use_ema",
    "ema_momentum",
    "tta_flip",
    "eval_every",
    "checkpoint_every",
    "steps_per_execution",
    "drop_remainder",
    "finetune_lr_scale",
)
# The options that make `train` fine-tune on an image folder.
FOLDER_FLAGS = (
    "weights",
    "freeze",
    "image_size",
    "val_split",
    "head_epochs",
    "finetune_epochs",
    "dropout",
    "workers",
)


def device_count(text):
    """`--devices` values: `"2"` -> 2, `"all"` -> "all"."""
    if text == "all":
        return text
    try:
        return argtypes.positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"--devices takes a positive integer or 'all'; got {text!r}"
        ) from None


def _mixed_precision(args):
    from keras_dense.cli import CommandError

    if args.bfloat16:
        if args.mixed_precision is False:
            raise CommandError("--bfloat16 is mixed precision; drop --no-mixed-precision.")
        return "bfloat16"
    return args.mixed_precision


def _phase_epochs(args, overrides):
    """`--head-epochs` / `--finetune-epochs` as the recipe's `head_epochs` and `epochs`."""
    from keras_dense.cli import CommandError
    from keras_dense.training.recipe import PRESETS

    if args.head_epochs is None and args.finetune_epochs is None:
        return
    if args.epochs is not None:
        raise CommandError(
            "give either --epochs or --head-epochs/--finetune-epochs (the epochs of each phase)."
        )
    base = PRESETS[args.preset or "finetune"]
    head = base.head_epochs if args.head_epochs is None else args.head_epochs
    tail = base.epochs - base.head_epochs if args.finetune_epochs is None else args.finetune_epochs
    if head + tail < 1:
        raise CommandError("--head-epochs and --finetune-epochs add up to no epoch to train.")
    overrides.update(epochs=head + tail, head_epochs=head)


def _train_folder(args, overrides, verbose):
    from keras_dense.cli import CommandError
    from keras_dense.training import folder_train
    from keras_dense.training import recipe as recipe_lib

    if not args.data:
        raise CommandError(
            "fine-tuning needs --data DIR: an image folder (DIR/train/<class>, DIR/val/<class>, "
            "or DIR/<class>)."
        )
    if args.subset or args.test_subset or args.cutout:
        raise CommandError("--subset, --test-subset and --cutout are CIFAR-10 options.")
    _phase_epochs(args, overrides)
    recipe = recipe_lib.preset(args.preset or "finetune", **overrides)
    weights = argtypes.weights_value(args.weights or "imagenet")
    return lambda: folder_train.train_folder(
        args.model,
        args.data,
        out=args.out or f"runs/{args.model}",
        recipe=recipe,
        weights=weights,
        freeze="backbone" if args.freeze is None else args.freeze,
        image_size=args.image_size,
        val_split=args.val_split,
        seed=args.seed or 0,
        model_kwargs=dict(args.arch),
        dropout=args.dropout or 0.0,
        mixed_precision=_mixed_precision(args),
        jit_compile=args.jit,
        devices=args.devices,
        workers=args.workers or 4,
        verbose=verbose,
        overwrite=args.overwrite,
    )


def run_train(args):
    from keras_dense.cli import CommandError
    from keras_dense.training import folder_train, trainer
    from keras_dense.training import recipe as recipe_lib

    verbose = 2 if args.quiet else "auto"
    overrides = {
        name: getattr(args, name) for name in RECIPE_FLAGS if getattr(args, name) is not None
    }
    folder_options = [name for name in FOLDER_FLAGS if getattr(args, name) is not None]
    if args.resume:
        run_flags = {
            "preset": args.preset,
            "seed": args.seed,
            "mixed_precision": args.mixed_precision,
            "bfloat16": args.bfloat16 or None,
            "jit": args.jit,
            "overwrite": args.overwrite or None,
        }
        extra = [f"--{name.replace('_', '-')}" for name in overrides if name != "epochs"] + [
            f"--{name.replace('_', '-')}" for name, value in run_flags.items() if value is not None
        ]
        extra += [f"--{name.replace('_', '-')}" for name in folder_options]
        if args.model or extra or args.out or args.arch or args.subset or args.test_subset:
            raise CommandError(
                "--resume takes the model and recipe from the run's config.json; give only "
                "--resume RUN (and --epochs N to extend it, --data if the data moved, --devices "
                f"to change the devices), not {' '.join(extra) or 'a model/--out'}."
            )

        def run():
            return folder_train.resume(
                args.resume,
                data=args.data,
                devices=args.devices,
                verbose=verbose,
                epochs=args.epochs,
            )
    elif not args.model:
        raise CommandError("name a MODEL to train (see `keras-dense list`), or --resume RUN.")
    elif folder_options or args.preset == "finetune" or args.finetune_lr_scale is not None:
        run = _train_folder(args, overrides, verbose)
    else:
        recipe = recipe_lib.preset(args.preset or "default", **overrides)
        run = lambda: trainer.train(  # noqa: E731
            args.model,
            data=args.data,
            out=args.out or f"runs/{args.model}",
            recipe=recipe,
            subset=args.subset,
            test_subset=args.test_subset,
            seed=args.seed or 0,
            model_kwargs=dict(args.arch),
            mixed_precision=_mixed_precision(args),
            jit_compile=args.jit,
            devices=args.devices,
            verbose=verbose,
            overwrite=args.overwrite,
        )
    try:
        run()
    except trainer.TrainingDivergedError as error:
        raise CommandError(str(error)) from error
    return 0


def run_evaluate(args):
    from keras_dense.training import evaluation

    report = evaluation.evaluate(
        args.target,
        data=args.data,
        batch_size=args.batch_size,
        tta=args.tta,
        engine=args.engine,
        precision=args.precision,
        calibration=args.calibration,
        calibration_size=args.calibration_size,
    )
    print(
        f"{report['model_file']}: test accuracy {report['accuracy']:.4f} "
        f"on {report['images']:,} images"
        + (f" (tta {report['tta']})" if report["tta"] else "")
        + f" ({report['engine']}, {report['precision']}, "
        f"{report['images'] / report['seconds']:.0f} img/s)"
    )
    if report.get("skipped"):
        print(f"keras-dense: skipped {report['skipped']} file(s) that cannot be read as images")
    if report.get("int8_check"):
        check = report["int8_check"]
        print(
            f"int8: calibrated on {check['calibration']['images']} images; top-1 agreement "
            f"with float32 {check['top1_agreement']:.1%} on {len(check['images'])} held-out "
            "images"
        )
    width = max(len(name) for name in report["per_class_accuracy"])
    for name, accuracy in report["per_class_accuracy"].items():
        print(f"  {name:<{width}}  {accuracy:.4f}")
    return 0
