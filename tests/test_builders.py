"""The public builders are real `def`s, and a built model keeps its record when renamed.

Every registered builder is a `def` in its family's module, with
`keras.applications`' arguments, type hints and a docstring, calling the frame
(`_builder.build_registered`); `get_model(name)` calls it. A built model
carries its record and weight tag (`_registry.record_of`), so prediction and
export find its preprocessing whatever its name, and a model loaded from a
`.keras` file is found by its architecture.
"""

import ast
import importlib
import inspect
import textwrap
import typing

import h5_fixtures
import keras
import numpy as np
import pytest

import keras_dense
from keras_dense.inference import export, loading
from keras_dense.models import _builder, _registry, densenet, vgg

RECORDS = keras_dense.models.model_records()


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_every_builder_is_a_def_in_its_family_module(record):
    builder = record.builder
    module = importlib.import_module(type(record.config).__module__)
    assert builder.__module__ == module.__name__
    assert getattr(module, builder.__name__) is builder
    assert builder.__qualname__ == builder.__name__ != "builder"
    assert inspect.getsourcefile(builder) == inspect.getsourcefile(module)
    source = inspect.getsource(builder)
    (definition,) = [
        node
        for node in ast.walk(ast.parse(textwrap.dedent(source)))
        if isinstance(node, ast.FunctionDef) and node.name == builder.__name__
    ]
    first = definition.args.args[0]
    assert (first.arg, ast.unparse(first.annotation)) == ("include_top", "bool")
    assert ast.literal_eval(definition.args.defaults[0]) is True
    assert source.rstrip().endswith(f'return _builder.build_registered("{record.name}", locals())')
    assert source.startswith("@register_model(")


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_every_builder_has_type_hints_a_docstring_and_the_records_defaults(record):
    builder = record.builder
    hints = typing.get_type_hints(builder)
    parameters = inspect.signature(builder).parameters
    assert set(parameters) | {"return"} == set(hints), record.name
    assert hints["return"] is keras.Model
    assert list(parameters) == [*_builder.APPLICATION_ARGS, "overrides"]
    assert parameters["name"].default == record.name
    assert parameters["classes"].default == record.classes
    assert parameters["weights"].default is None  # as before: random weights unless asked
    doc = inspect.getdoc(builder)
    assert doc and doc.endswith(".") and "\n" not in doc, record.name


def test_a_builder_whose_signature_is_not_the_frames_is_refused():
    record = _registry.ModelRecord(
        "test_only_model", densenet.DenseNetConfig(blocks=(1,)), "test", params=0
    )

    def TestOnly(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=10,
        classifier_activation="softmax",
        name="test_only_model",
        **overrides,
    ):
        return _builder.build_registered("test_only_model", locals())

    with pytest.raises(ValueError, match="must take .*classes=1000"):
        _registry.register_model(record)(TestOnly)
    assert "test_only_model" not in _registry._RECORDS


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: record.name)
def test_get_model_calls_the_def_which_calls_the_frame(monkeypatch, record):
    calls = []
    monkeypatch.setattr(
        _builder,
        "build_registered",
        lambda name, arguments: calls.append((name, arguments)) or name,
    )
    assert keras_dense.get_model(record.name, pooling="avg", growth_rate=4) == record.name
    ((name, arguments),) = calls
    assert name == record.name
    assert arguments == {
        **_builder.APPLICATION_ARGS,
        "classes": record.classes,
        "name": record.name,
        "pooling": "avg",
        "overrides": {"growth_rate": 4},
    }


def test_get_model_returns_the_defs_model():
    tiny = keras_dense.model_record("resnet20").tiny
    by_name = keras_dense.get_model("resnet20", **tiny)
    by_def = keras_dense.models.resnet.ResNet20(**tiny)
    assert by_name.name == by_def.name == "resnet20"
    assert _registry._weights_layout(by_name) == _registry._weights_layout(by_def)
    assert (
        by_name.keras_dense_record
        is by_def.keras_dense_record
        is keras_dense.model_record("resnet20")
    )


def test_a_renamed_model_keeps_its_record_for_predict_and_export():
    tiny = keras_dense.model_record("densenet121").tiny
    model = densenet.DenseNet121(name="mine", **tiny)
    assert model.name == "mine"
    record, weights = _registry.record_of(model)
    assert record.name == "densenet121" and weights is None
    assert loading.load_engine_model(model, engine="keras")[1] == "torch"
    assert export._model_and_preprocess(model, None, None)[1] == "torch"


def test_the_weight_tag_a_model_carries_decides_its_preprocessing():
    model = vgg.VGG16(name="mine", **keras_dense.model_record("vgg16").tiny)
    assert loading.load_engine_model(model, engine="keras")[1] == "caffe"  # the default tag's
    model.keras_dense_weights = keras_dense.model_record("vgg16").weights_record("tv_imagenet")
    assert loading.load_engine_model(model, engine="keras")[1] == "torch"
    assert export._model_and_preprocess(model, None, None)[1] == "torch"


@pytest.fixture(scope="module")
def densenet121_body():
    """DenseNet-121 without its classifier at 32x32: the published architecture, small maps."""
    return densenet.DenseNet121(include_top=False, input_shape=(32, 32, 3), name="mine")


def test_a_model_with_published_weights_carries_their_tag(monkeypatch, tmp_path, densenet121_body):
    h5_fixtures.publish_stand_in(
        monkeypatch, tmp_path, densenet121_body, "densenet121.keras_imagenet", include_top=False
    )
    model = densenet.DenseNet121(
        include_top=False, weights="imagenet", input_shape=(32, 32, 3), name="mine"
    )
    record, weights = _registry.record_of(model)
    assert record.name == "densenet121" and weights.name == "densenet121.keras_imagenet"
    general = densenet.DenseNet(
        [6, 12, 24, 16], include_top=False, weights="imagenet", input_shape=(32, 32, 3)
    )  # a general builder, the same weights
    assert _registry.record_of(general)[1].name == "densenet121.keras_imagenet"


def test_a_rewrapped_model_is_found_by_its_architecture(densenet121_body):
    rewrapped = keras.Model(densenet121_body.inputs, densenet121_body.outputs, name="mine2")
    assert not hasattr(rewrapped, "keras_dense_record")
    assert _registry.record_of(rewrapped)[0].name == "densenet121"
    assert export._model_and_preprocess(rewrapped, None, None)[1] == "torch"


def test_a_keras_file_round_trip_keeps_the_model_findable(tmp_path, densenet121_body):
    path = tmp_path / "mine.keras"
    densenet121_body.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == "mine" and not hasattr(loaded, "keras_dense_record")
    assert _registry.record_of(loaded)[0].name == "densenet121"  # by its architecture
    x = np.zeros((1, 32, 32, 3), "float32")
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), densenet121_body.predict(x, verbose=0), atol=1e-6
    )


def test_a_tiny_model_loaded_from_a_keras_file_is_found_by_its_name(tmp_path):
    model = keras_dense.get_model("resnet20", **keras_dense.model_record("resnet20").tiny)
    model.save(tmp_path / "resnet20.keras")
    loaded = keras.saving.load_model(tmp_path / "resnet20.keras")
    assert _registry.record_of(loaded) == (keras_dense.model_record("resnet20"), None)
    renamed = keras.Model(loaded.inputs, loaded.outputs, name="mine")
    assert _registry.record_of(renamed) == (None, None)  # other blocks, another name: unknown
