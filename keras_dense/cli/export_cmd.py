"""`keras-dense export NAME --format F --out PATH [--check IMAGES]`; `--engine E`: the cache;
`--precision int8 --calibration DIR|FILES [--calibration-size N]`: NNCF's int8."""

import argparse
import os

from keras_dense._choices import EXPORT_ENGINES, EXPORT_FORMATS
from keras_dense.cli import argtypes, options

RUN_CHECK_IMAGES = 16  # validation images of a run that check its export, over its classes


def add_parsers(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a model (ONNX, OpenVINO, SavedModel, LiteRT) and check it "
        "against Keras on real images; or prepare an engine's cached export",
    )
    parser.add_argument(
        "name",
        help="registry name (see `keras-dense list`), or a fine-tuning run folder (its best "
        "model, checked on its validation images)",
    )
    options.weights(parser, "published weights (default), a weight tag, a weights file, or none")
    parser.add_argument(
        "--format", choices=EXPORT_FORMATS, default="onnx", help="export format (default: onnx)"
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="where to write the export (.onnx, .xml, .tflite, or a folder for "
        "saved_model); without it, fill the engine cache for --engine",
    )
    parser.add_argument(
        "--engine",
        choices=EXPORT_ENGINES,
        default="auto",
        help="without --out: the runtime whose cached export to prepare "
        "(default: the one `predict --engine auto` prefers); with --out: "
        "the runtime that runs the check",
    )
    options.precision(
        parser,
        "precision the runtime computes in (bfloat16: OpenVINO only; int8: OpenVINO, "
        "quantized by NNCF on --calibration images)",
    )
    options.calibration(parser)
    parser.add_argument(
        "--check",
        nargs="+",
        metavar="IMAGE",
        help="images (files or folders) for the check; default: four bundled photographs",
    )
    options.flags(
        parser,
        no_check="write the export without checking it (--out only)",
        overwrite="replace an earlier export at --out and its report (a folder "
        "holding anything but a SavedModel is never replaced)",
    )
    parser.add_argument(
        "--tolerance",
        type=argtypes.positive_float,
        help="largest probability difference the check accepts (default 1e-4, bfloat16 5e-2)",
    )
    parser.add_argument("--release-lock", help=argparse.SUPPRESS)  # background exports
    parser.set_defaults(func=run_export)


def run_export(args):
    from keras_dense.cli.predict_cmd import enable_library_log

    enable_library_log()
    if args.release_lock:  # a background export: yield the CPU to the user's commands
        os.nice(10)
    error = None
    try:
        if args.out:
            return _export_to_path(args)
        return _prepare_engine(args)
    except Exception as raised:
        error = raised
        raise
    finally:
        if args.release_lock:
            from keras_dense.inference import background

            background.release(args.release_lock, error)


def _export_to_path(args):
    from keras_dense.imagenet.preprocessing_layer import included_mode
    from keras_dense.inference import runs
    from keras_dense.inference.export import export
    from keras_dense.inference.predict import image_files

    images = None
    if args.check:
        images, missing = image_files(args.check)
        if missing:
            raise ValueError(missing[0][1])
        if not images:
            raise ValueError(f"No image files found in {', '.join(args.check)} for --check.")
    weights = argtypes.weights_value(args.weights)
    engine = None if args.engine == "auto" else args.engine
    model, preprocess = args.name, None
    if runs.is_run(args.name):  # the run's best model, checked on its validation images
        model = runs.load_run(args.name)
        preprocess = included_mode(model)
        images = images or runs.validation_images(args.name, limit=RUN_CHECK_IMAGES)
    result = export(
        model,
        args.out,
        format=args.format,
        weights=weights,
        check=not args.no_check,
        images=images,
        preprocess=preprocess,
        tolerance=args.tolerance,
        engine=engine,
        precision=args.precision,
        overwrite=args.overwrite,
        calibration=args.calibration,
        calibration_size=args.calibration_size,
    )
    print(f"keras-dense: {result.summary()}")
    if result.report_path:
        print(f"keras-dense: report: {result.report_path}")
    return 0


def _prepare_engine(args):
    from keras_dense.inference import cache, engines, runs
    from keras_dense.inference.built import preprocess_of
    from keras_dense.models import model_record

    if runs.is_run(args.name):
        raise ValueError(
            f"{args.name} is a run folder: export it to a file with --out PATH (the engine "
            "cache keeps registry models)."
        )
    if args.check or args.no_check or args.tolerance or args.overwrite:
        raise ValueError(
            "--check, --no-check, --tolerance and --overwrite apply to an export "
            "written with --out; the engine cache always checks on the bundled "
            "photographs."
        )
    record = model_record(args.name)
    weights = argtypes.weights_value(args.weights)
    if weights is None:
        raise ValueError(
            "The engine cache keeps exports of known weights; pass --weights "
            "imagenet, a tag or a file, or use --out to export random weights."
        )
    engine = args.engine
    if engine == "auto":
        options = engines.installed_runtimes(args.precision)
        if not options:
            raise ValueError(
                f"No runtime that computes in {args.precision} is installed; "
                "install one with: pip install onnxruntime (float32) or "
                "pip install openvino"
            )
        engine = options[0]
    engines.choose_engine(engine, args.precision)  # installed, and computes in the precision
    if args.precision == "int8":
        return _prepare_int8(args, record, weights, engine)
    if args.calibration or args.calibration_size:
        raise ValueError("--calibration and --calibration-size apply to --precision int8 only.")
    exported = engines.record_engine_model(
        record, weights, engine, args.precision, preprocess_of(record, weights)
    )
    entry = cache.read_entry(engines.record_key(record, weights, engine, args.precision))
    check = entry["check"]
    print(
        f"keras-dense: {record.name} ({weights}) is ready for {engine} ({args.precision}): "
        f"{exported.path}"
    )
    print(
        f"keras-dense: exported in {entry['export_seconds']:.1f} s; largest probability "
        f"difference {check['max_probability_difference']:.1e} on {len(check['images'])} "
        f"images, top-1 agreement {check['top1_agreement']:.0%}"
    )
    return 0


def _prepare_int8(args, record, weights, engine):
    from keras_dense.inference import cache, engines

    if engine != "openvino":
        raise ValueError("int8 runs on OpenVINO: pass --engine openvino.")
    if not args.calibration:
        raise ValueError(
            "--precision int8 needs --calibration DIR|FILES: real images (a few hundred) "
            "that NNCF calibrates the int8 scales on."
        )
    exported = engines.quantize_model(
        record.name, args.calibration, args.calibration_size, weights=weights
    )
    entry = cache.read_entry(
        cache.lookup_calibrated(engines.record_key(record, weights, "openvino", "int8"))[1]
    )
    check = entry["check"]
    print(f"keras-dense: {record.name} ({weights}) is ready for openvino (int8): {exported.path}")
    print(
        f"keras-dense: quantized in {entry['export_seconds']:.1f} s on "
        f"{check['calibration']['images']} calibration images; on {len(check['images'])} "
        f"held-out images: top-1 agreement with float32 {check['top1_agreement']:.1%}, "
        f"largest probability difference {check['max_probability_difference']:.1e}"
    )
    return 0
