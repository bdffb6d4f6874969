"""`keras-dense weights list` and `keras-dense weights verify PATH`."""

import os


def add_parsers(subparsers):
    weights = subparsers.add_parser(
        "weights", help="list the published ImageNet weight files, verify a file"
    )
    actions = weights.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every known file: where it is found and whether its md5 is right"
    )
    listing.add_argument("--urls", action="store_true", help="also print URLs and md5s")
    listing.set_defaults(func=run_list)
    verify = actions.add_parser("verify", help="check a file's md5 and that it can be read")
    verify.add_argument("path", help="a weights file (.h5)")
    verify.set_defaults(func=run_verify)


def run_list(args):
    from keras_dense.weights import catalog, resolve

    print("searched, in order: " + ", ".join(str(d) for d in resolve.search_dirs()))
    header = f"{'weights':<26} {'file':<58} status"
    print(header)
    print("-" * (len(header) + 40))
    for row in catalog.WEIGHTS_FILES:
        path = resolve.find_local(row)
        if path is None:
            status = "missing"
        elif resolve.file_md5(path) == row.md5:
            status = f"verified  {path}"
        else:
            status = f"BAD MD5   {path}"
        print(f"{row.label:<26} {row.file_name:<58} {status}")
        if args.urls:
            print(f"{'':<26} {row.url}  md5 {row.md5}")
    return 0


def run_verify(args):
    from keras_dense.weights import catalog, h5, resolve

    path = args.path
    if not os.path.isfile(path):
        raise ValueError(f"{path} is not a file.")
    md5 = resolve.file_md5(path)
    by_md5 = catalog.find_by_md5(md5)
    by_name = catalog.find_by_file_name(os.path.basename(path))
    if by_md5 is None and by_name is not None:
        raise resolve.WeightsHashError(
            f"{path} has md5 {md5}, but the published {by_name.file_name} has md5 "
            f"{by_name.md5}; the file is damaged or not the published one: download it "
            f"again from {by_name.url}."
        )
    file_format, layers = h5.read_weights_file(path)
    count = sum(len(layer.arrays) for layer in layers)
    params = sum(int(a.size) for layer in layers for a in layer.arrays)
    print(f"{path}: md5 {md5}")
    print(f"  readable {file_format} weights file: {len(layers)} layers, {count} arrays, "
          f"{params:,} parameters")
    if by_md5 is None:
        print("  not a published keras.applications file (md5 unknown)")
        return 0
    print(f"  verified: the published {by_md5.file_name} ({by_md5.label})")
    return 0
