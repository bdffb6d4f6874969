"""Batch-norm epsilons: one named constant per value (`keras_dense.models._epsilons`, read as
`_layers.*`), and no epsilon written as a number anywhere else in the package."""

import ast
import pathlib
import subprocess
import sys

import keras_dense
from keras_dense.models import (
    _layers,
    _recompute,
    densenet,
    googlenet,
    inception_v3,
    resnet,
    vgg,
)

PACKAGE = pathlib.Path(keras_dense.__file__).parent


def _number(node):
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


def _epsilon_literals(tree):
    """Lines where an epsilon (a keyword, default, constant or field named so) is a number."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.keyword)
            and node.arg
            and "epsilon" in node.arg.lower()
            and _number(node.value)
        ):
            found.append(node.value.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = (
                [None] * (len(node.args.args) - len(node.args.defaults))
                + node.args.defaults
                + node.args.kw_defaults
            )
            found += [
                d.lineno
                for a, d in zip(args, defaults)
                if d is not None and "epsilon" in a.arg.lower() and _number(d)
            ]
        elif isinstance(node, ast.Assign) and _number(node.value):
            if any(isinstance(t, ast.Name) and "epsilon" in t.id.lower() for t in node.targets):
                found.append(node.lineno)
        elif (
            isinstance(node, ast.AnnAssign)
            and node.value is not None
            and _number(node.value)
            and isinstance(node.target, ast.Name)
            and "epsilon" in node.target.id.lower()
        ):
            found.append(node.lineno)
    return found


def test_epsilons_are_numbers_only_in_the_epsilons_module():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        lines = _epsilon_literals(ast.parse(path.read_text(encoding="utf8")))
        if lines:
            offenders[str(path.relative_to(PACKAGE))] = lines
    assert list(offenders) == ["models/_epsilons.py"], offenders
    assert len(offenders["models/_epsilons.py"]) == 3


def test_the_constants_and_their_users():
    assert _layers.KERAS_APPLICATIONS_BN_EPSILON == 1.001e-5
    assert _layers.TORCHVISION_BN_EPSILON == 1e-5
    assert _layers.INCEPTION_BN_EPSILON == 1e-3
    config = densenet.DenseNetConfig(blocks=(1, 1, 1, 1))
    assert config.bn_epsilon == _layers.KERAS_APPLICATIONS_BN_EPSILON
    assert (
        densenet.TORCH_BN_EPSILON
        == resnet.TORCH_BN_EPSILON
        == vgg.TORCH_BN_EPSILON
        == _layers.TORCHVISION_BN_EPSILON
    )
    assert resnet.KERAS_BN_EPSILON == _layers.KERAS_APPLICATIONS_BN_EPSILON
    assert googlenet.BN_EPSILON == inception_v3.BN_EPSILON == _layers.INCEPTION_BN_EPSILON
    layer = _recompute.RecomputedDenseLayer([(4, 1, "a_bn", "a_conv")])
    assert layer.epsilon == _layers.KERAS_APPLICATIONS_BN_EPSILON


def test_the_layers_register_when_the_layers_module_loads_keras():
    """`_layers` imports Keras, whose import registers `_recompute`, which reads an epsilon:
    the epsilons live in a module that imports nothing, so this still registers."""
    code = (
        "import warnings; warnings.simplefilter('error'); import keras_dense; "
        "import keras_dense.models._layers; import keras; "
        "assert keras.saving.get_registered_object('keras_dense>RecomputedDenseLayer')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
