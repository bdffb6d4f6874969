"""argparse `type=` converters shared by the subcommands; each fails with one clear line."""

import argparse
import ast


def positive_int(text):
    """`"32"` -> 32; zero, negatives and non-numbers are refused."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def positive_float(text):
    """`"1e-4"` -> 0.0001; zero, negatives and non-numbers are refused."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
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


def arch_item(text):
    """`KEY=VALUE` with a Python literal value: `growth_rate=4` -> ("growth_rate", 4),
    `blocks=2,2,2` -> ("blocks", (2, 2, 2)), `stem=cifar` -> ("stem", "cifar")."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"--arch takes KEY=VALUE such as growth_rate=4; got {text!r}"
        )
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # plain strings, e.g. stem=cifar
    return key, parsed


def non_negative_int(text):
    """`"0"` -> 0; negatives and non-numbers are refused."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer 0 or more; got {text!r}")
    return value


def freeze_value(text):
    """`--freeze`: `"backbone"`, `"none"`, or a number of trailing layers (`"4"` -> 4)."""
    from keras_dense._choices import FREEZE_MODES

    if text in FREEZE_MODES:
        return text
    try:
        return non_negative_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"--freeze takes {', '.join(FREEZE_MODES)} or a number of layers; got {text!r}"
        ) from None


def fraction(text):
    """`"0.2"` -> 0.2; values outside (0, 1) are refused."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1; got {text!r}")
    return value


def weights_value(text):
    """`--weights` as the library takes it: `"none"` -> `None`, anything else as given (a
    keyword such as `imagenet` stays a keyword even beside a folder of that name; see
    `keras_dense.models.pretrained.classify_weights_argument`). Called at run time, so that
    `keras-dense --help` imports no Keras."""
    from keras_dense.models.pretrained import classify_weights_argument

    return classify_weights_argument(text)[1]
