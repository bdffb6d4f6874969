"""`keras-dense weights list` and `keras-dense weights verify PATH`."""

import os


def add_parsers(subparsers):
    weights = subparsers.add_parser(
        "weights", help="list the published weight files, verify a file"
    )
    actions = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every published file: where it is found and whether its hash is right"
    )
    listing.add_argument("--urls", action="store_true", help="also print URLs and hashes")
    listing.add_argument("--markdown", action="store_true",
                         help="print the README's Markdown table of weight tags")
    listing.set_defaults(func=run_list)
    verify = actions.add_parser("verify", help="check a file's hash and that it can be read")
    verify.add_argument("path", help="a weights file (.h5)")
    verify.set_defaults(func=run_verify)


def run_list(args):
    from keras_dense.analysis import tables
    from keras_dense.models import weights_records
    from keras_dense.weights import resolve

    if args.markdown:
        print(tables.weights_markdown(), end="")
        return 0
    print("searched, in order: " + ", ".join(str(d) for d in resolve.search_dirs()))
    header = f"{'weights':<36} {'file':<58} status"
    print(header)
    print("-" * (len(header) + 40))
    for record in weights_records():
        for include_top, weights_file in record.files():
            label = record.name if include_top else f"{record.name} (no top)"
            path = resolve.find_local(weights_file)
            if path is None:
                status = "missing"
            elif resolve.hash_matches(resolve.file_hash(path, weights_file.hash_algorithm),
                                      weights_file.file_hash):
                status = f"verified  {path}"
            else:
                status = f"BAD HASH  {path}"
            print(f"{label:<36} {weights_file.file_name:<58} {status}")
            if args.urls:
                print(f"{'':<36} {weights_file.url}  {weights_file.hash_algorithm} "
                      f"{weights_file.file_hash}")
    return 0


def run_verify(args):
    from keras_dense.weights import find_published_file, h5, resolve

    path = args.path
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a file.")
    by_name = find_published_file(lambda f: f.file_name == os.path.basename(path))
    by_hash = find_published_file(
        lambda f: resolve.hash_matches(resolve.file_hash(path, f.hash_algorithm), f.file_hash))
    if by_hash is None and by_name is not None:
        resolve.check_hash(path, by_name[2])  # raises, naming the published hash and URL
    file_format, layers = h5.read_weights_file(path)
    count = sum(len(layer.arrays) for layer in layers)
    params = sum(int(a.size) for layer in layers for a in layer.arrays)
    print(f"{path}: md5 {resolve.file_hash(path)}")
    print(f"  readable {file_format} weights file: {len(layers)} layers, {count} arrays, "
          f"{params:,} parameters")
    if by_hash is None:
        print("  not a published file (hash unknown)")
        return 0
    record, include_top, weights_file = by_hash
    label = record.name if include_top else f"{record.name} (no top)"
    print(f"  verified: the published {weights_file.file_name} ({label})")
    return 0
