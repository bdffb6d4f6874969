"""The choices the command line offers are `keras_dense._choices`' tuples, which the library
checks its arguments against: the two cannot disagree."""

import argparse
import subprocess
import sys

import numpy as np
import pytest

from keras_dense import _choices
from keras_dense.cli import build_parser
from keras_dense.imagenet import preprocessing, tta
from keras_dense.inference import cache, engines, export, precision, runtimes
from keras_dense.training import evaluation, recipe

# (command, option) -> the `_choices` tuple its `choices=` must be
CLI_CHOICES = {
    ("predict", "--engine"): _choices.ENGINES,
    ("predict", "--precision"): _choices.PRECISIONS,
    ("predict", "--preprocess"): _choices.PREPROCESSING_MODES,
    ("predict", "--tta"): _choices.TTA_MODES,
    ("embed", "--engine"): _choices.ENGINES,
    ("embed", "--precision"): _choices.PRECISIONS,
    ("embed", "--preprocess"): _choices.PREPROCESSING_MODES,
    ("export", "--format"): _choices.EXPORT_FORMATS,
    ("export", "--engine"): _choices.EXPORT_ENGINES,
    ("export", "--precision"): _choices.PRECISIONS,
    ("validate", "--precision"): _choices.PRECISIONS,
    ("train", "--optimizer"): _choices.OPTIMIZERS,
    ("train", "--schedule"): _choices.SCHEDULES,
    ("evaluate", "--tta"): _choices.EVALUATE_TTA_MODES,
    ("evaluate", "--engine"): _choices.ENGINES,
    ("evaluate", "--precision"): _choices.PRECISIONS,
}


def _options_with_choices(parser=None, command=""):
    """`{(command, option): choices}` for every option with choices, sub-commands included."""
    found = {}
    for action in (parser or build_parser())._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found.update(_options_with_choices(subparser, f"{command} {name}".strip()))
        elif action.choices is not None:
            found[(command, action.option_strings[-1])] = action.choices
    return found


def test_every_cli_choices_is_the_choices_module_tuple():
    found = _options_with_choices()
    # the recipe presets are the library's own dict's keys (data, not a copied list)
    assert sorted(found.pop(("train", "--preset"))) == sorted(recipe.PRESETS)
    assert found.keys() == CLI_CHOICES.keys()
    for key, choices in found.items():
        assert choices is CLI_CHOICES[key], key


def test_the_library_uses_the_same_tuples():
    assert engines.ENGINES is _choices.ENGINES
    assert preprocessing.MODES is _choices.PREPROCESSING_MODES
    assert tta.TTA_MODES is _choices.TTA_MODES
    assert precision.PRECISIONS is _choices.PRECISIONS
    assert recipe.OPTIMIZERS is _choices.OPTIMIZERS and recipe.SCHEDULES is _choices.SCHEDULES
    assert _choices.EXPORT_ENGINES == ("auto", *_choices.RUNTIME_ENGINES)
    # the tables keyed by those values cover exactly them
    assert tuple(export.FORMATS) == _choices.EXPORT_FORMATS
    assert tuple(runtimes.FORMAT_ENGINES) == _choices.EXPORT_FORMATS
    assert tuple(cache.ENGINE_FILES) == _choices.RUNTIME_ENGINES
    assert tuple(precision.POLICIES) == _choices.PRECISIONS


def test_each_library_check_accepts_the_choices_and_refuses_others():
    for engine in _choices.ENGINES:
        engines.check_engine(engine)
    with pytest.raises(
        ValueError, match="engine must be one of auto, keras, onnxruntime, openvino; got 'tensorrt'"
    ):
        engines.check_engine("tensorrt")
    for format in _choices.EXPORT_FORMATS:
        export.check_format(format)
    with pytest.raises(
        ValueError, match="format must be one of onnx, openvino, saved_model, litert; got 'tflite'"
    ):
        export.check_format("tflite")
    for value in _choices.PRECISIONS:
        precision.check_precision(value)
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.check_precision("float16")
    x = np.zeros((1, 2, 2, 3), "float32")
    for mode in _choices.PREPROCESSING_MODES:
        preprocessing.preprocess_input(x, mode=mode)
    with pytest.raises(ValueError, match="mode must be one of caffe, tf, torch; got 'inception'"):
        preprocessing.preprocess_input(x, mode="inception")
    for mode in _choices.TTA_MODES:
        tta.load_size((224, 224), mode)
    with pytest.raises(ValueError, match="tta must be None or one of flip, five_crop, ten_crop"):
        tta.load_size((224, 224), "rotate")
    for engine in _choices.RUNTIME_ENGINES:
        cache.entry_key("m", {"source": "s"}, engine, "float32", "arch")
    with pytest.raises(ValueError, match="The engine cache holds onnxruntime, openvino exports"):
        cache.entry_key("m", {"source": "s"}, "keras", "float32", "arch")


def test_recipes_and_evaluate_refuse_values_outside_the_choices(tmp_path):
    for optimizer in _choices.OPTIMIZERS:
        for schedule in _choices.SCHEDULES:
            recipe.Recipe(optimizer=optimizer, schedule=schedule)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        recipe.Recipe(optimizer="adam")
    with pytest.raises(ValueError, match="schedule must be one of"):
        recipe.Recipe(schedule="linear")
    with pytest.raises(ValueError, match="tta must be None or one of flip, none; got 'ten_crop'"):
        evaluation.evaluate(tmp_path, tta="ten_crop")


def test_the_choices_module_and_the_parser_import_no_keras():
    code = (
        "import sys; from keras_dense.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('keras', 'numpy', 'tensorflow', 'torch', 'jax') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
