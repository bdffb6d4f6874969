"""The `keras-dense` command line: one module per group of subcommands.

Each module in `COMMAND_MODULES` has `add_parsers(subparsers)`, which adds its
subcommands with `set_defaults(func=run_function)`. The commands only parse
arguments, call one library function and print; they import Keras only inside
their run functions, so `keras-dense --help` is instant.
"""

import argparse
import importlib
import os
import sys

COMMAND_MODULES = (
    "keras_dense.cli.models_cmd",
    "keras_dense.cli.predict_cmd",
    "keras_dense.cli.jobs_cmd",
    "keras_dense.cli.export_cmd",
    "keras_dense.cli.weights_cmd",
    "keras_dense.cli.train_cmd",
    "keras_dense.cli.explain_cmd",
    "keras_dense.cli.validate_cmd",
)


# The exit statuses of every command (README.md and docs/security-and-exit-codes.md list them).
EXIT_OK = 0
EXIT_CRASH = 1  # Python's own status for an uncaught exception: a bug, please report it
EXIT_ERROR = 2  # bad input or arguments: one line on stderr, nothing written
EXIT_SKIPPED = 3  # finished, but some inputs were skipped (each named on stderr)
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = f"""exit status:
  {EXIT_OK}    done
  {EXIT_CRASH}    crashed (an uncaught exception: a bug, please report it)
  {EXIT_ERROR}    bad input or arguments (one line on stderr; nothing written)
  {EXIT_SKIPPED}    finished, but some inputs were skipped (each named on stderr)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status `EXIT_ERROR`."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-dense",
        description="Classic CNNs for Keras 3: list, inspect, predict, export, train.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parsers(subparsers)
    return parser


def main(argv=None):
    """Entry point of `keras-dense`; returns the process exit status."""
    from keras_dense.cli.quiet import import_backend_quietly

    args = build_parser().parse_args(argv)
    try:
        import_backend_quietly()
        return args.func(args) or EXIT_OK
    except (CommandError, ValueError, OSError) as error:
        if os.environ.get("KERAS_DENSE_DEBUG"):
            raise  # the traceback, for bug reports
        print(f"keras-dense: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("keras-dense: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
