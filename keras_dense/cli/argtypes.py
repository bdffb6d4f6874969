"""argparse `type=` converters shared by the subcommands; each fails with one clear line."""

import argparse


def positive_int(text):
    """`"32"` -> 32; zero, negatives and non-numbers are refused."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def image_shape(text):
    """`"224,224,3"` -> (224, 224, 3)."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"--input-shape must be H,W,C such as 224,224,3; got {text!r}."
        )
    return shape
