"""`keras-dense weights list`, `weights verify PATH` and `weights convert`."""

import os


def add_parsers(subparsers):
    weights = subparsers.add_parser(
        "weights",
        help="list the published weight files, verify a file, convert torchvision's or timm's",
    )
    actions = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every published file: where it is found and whether its hash is right"
    )
    listing.add_argument("--urls", action="store_true", help="also print URLs and hashes")
    listing.add_argument(
        "--markdown",
        action="store_true",
        help="print the Markdown table of weight tags (docs/weights.md)",
    )
    listing.set_defaults(func=run_list)
    verify = actions.add_parser("verify", help="check a file's hash and that it can be read")
    verify.add_argument("path", help="a weights file (.h5, .weights.h5 or torchvision .pth)")
    verify.set_defaults(func=run_verify)
    convert = actions.add_parser(
        "convert",
        help="convert a torchvision .pth or timm .safetensors state dict into a Keras .weights.h5",
    )
    convert.add_argument(
        "path",
        help="the .pth file (read with torch.load(weights_only=True)) or .safetensors file "
        "(timm's model.safetensors, read without torch)",
    )
    convert.add_argument("--model", required=True, help="the model it is for, e.g. densenet161")
    convert.add_argument(
        "--out",
        required=True,
        help="the Keras weights file to write (ending in .weights.h5); an existing one is refused",
    )
    convert.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    convert.set_defaults(func=run_convert)


# WeightsRecord.file_format -> how `weights list` names it
FORMAT_LABELS = {
    "keras_h5": "keras .h5",
    "torch_state_dict": "torch .pth",
    "timm_safetensors": "timm hub",
}


def run_list(args):
    from keras_dense.analysis import tables
    from keras_dense.models import weights_records
    from keras_dense.weights import converted, hub, resolve

    if args.markdown:
        print(tables.weights_markdown(), end="")
        return 0
    torch_dirs = [converted.torch_checkpoints_dir()]
    print(
        "searched, in order: "
        + ", ".join(str(d) for d in resolve.search_dirs())
        + f" (torchvision's files also: {torch_dirs[0]}; timm's: the Hugging Face cache "
        f"{hub.hub_cache_dir()} first)"
    )
    header = f"{'weights':<36} {'format':<11} {'file':<58} status"
    print(header)
    print("-" * (len(header) + 40))
    for record in weights_records():
        extra_dirs = torch_dirs if record.file_format == "torch_state_dict" else []
        for include_top, weights_file in record.files():
            label = record.name if include_top else f"{record.name} (no top)"
            if weights_file.hub_repo is not None:
                path = hub.find_local(weights_file)
            else:
                path = resolve.find_local(weights_file, extra_dirs)
            if path is None:
                status = "missing"
            elif not weights_file.file_hash:  # a Hub file whose record pins no hash
                status = f"found     {path}"
            elif resolve.hash_matches(
                resolve.file_hash(path, weights_file.hash_algorithm), weights_file.file_hash
            ):
                status = f"verified  {path}"
            else:
                status = f"BAD HASH  {path}"
            kind = FORMAT_LABELS.get(record.file_format, record.file_format)
            print(f"{label:<36} {kind:<11} {weights_file.file_name:<58} {status}")
            if args.urls:
                pinned = (
                    f"{weights_file.hash_algorithm} {weights_file.file_hash}"
                    if weights_file.file_hash
                    else f"revision {weights_file.revision}"
                )
                print(f"{'':<48} {weights_file.url}  {pinned}")
    return 0


def _describe_state_dict(path):
    from keras_dense.weights import torch_state

    state = torch_state.read_state_dict(path)
    params = sum(int(a.size) for key, a in state.items() if not key.endswith("num_batches_tracked"))
    kind = "safetensors" if path.lower().endswith(".safetensors") else "torch"
    return f"readable {kind} state dict: {len(state)} tensors, {params:,} values"


def _describe_keras_file(path):
    from keras_dense.weights import h5

    file_format, layers = h5.read_weights_file(path)
    count = sum(len(layer.arrays) for layer in layers)
    params = sum(int(a.size) for layer in layers for a in layer.arrays)
    return (
        f"readable {file_format} weights file: {len(layers)} layers, {count} arrays, "
        f"{params:,} parameters"
    )


def run_verify(args):
    from keras_dense.models.pretrained import find_published_file
    from keras_dense.weights import STATE_DICT_SUFFIXES, resolve

    path = args.path
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a file.")
    by_name = find_published_file(lambda f: f.file_name == os.path.basename(path))
    by_hash = find_published_file(
        lambda f: resolve.hash_matches(resolve.file_hash(path, f.hash_algorithm), f.file_hash)
    )
    if by_hash is None and by_name is not None:
        resolve.check_hash(path, by_name[2])  # raises, naming the published hash and URL
    is_torch = path.lower().endswith(STATE_DICT_SUFFIXES)
    description = _describe_state_dict(path) if is_torch else _describe_keras_file(path)
    algorithm = "sha256" if is_torch else "md5"
    print(f"{path}: {algorithm} {resolve.file_hash(path, algorithm)}")
    print(f"  {description}")
    if by_hash is None:
        print("  not a published file (hash unknown)")
        return 0
    record, include_top, weights_file = by_hash
    label = record.name if include_top else f"{record.name} (no top)"
    print(f"  verified: the published {weights_file.file_name} ({label})")
    return 0


def run_convert(args):
    from keras_dense._files import refuse_existing
    from keras_dense.models import model_record
    from keras_dense.models.pretrained import from_torchvision
    from keras_dense.weights import converted, torchvision

    if not args.out.endswith(".weights.h5"):
        raise ValueError(
            f"--out must name a Keras weights file ending in .weights.h5; got {args.out!r}."
        )
    refuse_existing(args.out, args.overwrite)
    record = model_record(args.model)  # an unknown name fails before the file is read
    model = from_torchvision(args.path, record.name)
    out = converted.save_weights_atomically(model, args.out)
    tagged = torchvision.torchvision_weights(record)
    arch = "".join(f", {key}={value!r}" for key, value in (tagged.arch if tagged else {}).items())
    classes = model.output_shape[-1]
    classes_arg = f", classes={classes}" if classes != record.classes else ""
    print(
        f"wrote {out}: {len(model.weights)} arrays, {model.count_params():,} parameters "
        f"of {record.name}"
    )
    print(
        f"  load it with keras_dense.get_model({record.name!r}, weights={str(out)!r}"
        f'{classes_arg}{arch}) and "torch" preprocessing'
    )
    return 0
