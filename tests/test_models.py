"""Table-driven tests over every model record (see model_table.py)."""

import importlib.util
import pathlib

import keras
import numpy as np
import pytest
from model_table import KERAS_APPLICATIONS_BUILDERS, MODEL_CASES

import keras_dense

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
DOCS = README.parent / "docs"


def test_every_registered_model_is_in_the_table():
    assert sorted(c.name for c in MODEL_CASES) == sorted(keras_dense.list_models())
    for case in MODEL_CASES:
        assert {"input_shape", "classes"} <= set(case.tiny), case.name


def test_every_keras_published_model_is_tested_against_its_keras_twin():
    published = {w.model for w in keras_dense.models.weights_records() if w.tag == "keras_imagenet"}
    assert published == set(KERAS_APPLICATIONS_BUILDERS)


@pytest.mark.slow
@pytest.mark.parametrize("name", keras_dense.list_models())
def test_record_matches_its_built_model(name):
    record = keras_dense.model_record(name)
    model = record.build()
    assert model.name == name
    assert model.count_params() == record.params
    assert tuple(model.input_shape[1:]) == record.input_shape
    assert model.output_shape == (None, record.classes)
    del model
    keras.backend.clear_session()
    built = {}  # arch -> notop parameters: tags of one architecture are built once
    for weights in record.weights:  # the files' shapes: the model with and without its top
        assert weights.model == name and weights.preprocess in keras_dense.imagenet.MODES
        assert weights.name == f"{name}.{weights.tag}"
        arch = tuple(sorted(weights.arch.items()))
        if arch in built:
            assert weights.notop_params == built[arch]
            continue
        notop = record.build(include_top=False, **weights.arch)
        assert notop.count_params() == weights.notop_params
        built[arch] = weights.notop_params
        if weights.arch:
            assert record.build(**weights.arch).count_params() == (weights.params or record.params)
        keras.backend.clear_session()


def _docs_hooks():
    """The site's build hook (`docs/hooks.py`), which fills the pages' generated tables."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def test_docs_tables_are_made_from_every_record():
    hooks = _docs_hooks()
    models = hooks.render_page((DOCS / "models.md").read_text(encoding="utf8"))
    weights = hooks.render_page((DOCS / "weights.md").read_text(encoding="utf8"))
    for name in keras_dense.list_models():
        assert f"| `{name}` |" in models, f"docs/models.md has no row for {name}"
    for record in keras_dense.models.weights_records():
        assert f"| `{record.name}` |" in weights, f"docs/weights.md has no row for {record.name}"
    # the README carries no copy of the tables that could go stale
    readme = README.read_text(encoding="utf8")
    assert not any(f"| `{name}` |" in readme for name in keras_dense.list_models())


def test_docs_performance_page_shows_every_benchmark_file():
    page = _docs_hooks().render_page((DOCS / "performance.md").read_text(encoding="utf8"))
    assert "<!-- benchmarks -->" not in page
    for path in (DOCS.parent / "benchmarks" / "results").glob("*.json"):
        assert path.name in page, f"docs/performance.md does not show {path.name}"


def _tiny(case, **kwargs):
    return keras_dense.get_model(case.name, **{**case.tiny, **kwargs})


def _batch(case, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n,) + case.input_shape).astype("float32")


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_output_shapes_for_each_head(case):
    x = _batch(case, n=2)
    top = _tiny(case)
    probs = top(x)
    assert probs.shape == (2, case.classes)
    np.testing.assert_allclose(np.sum(keras.ops.convert_to_numpy(probs), axis=1), 1.0, rtol=1e-5)
    features = _tiny(case, include_top=False)
    assert len(features.output_shape) == 4
    channels = features.output_shape[-1]
    for pooling in ("avg", "max"):
        pooled = _tiny(case, include_top=False, pooling=pooling)
        assert pooled.output_shape == (None, channels)
        assert pooled(x).shape == (2, channels)


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_save_and_reload_gives_equal_outputs(case, tmp_path):
    model = _tiny(case)
    x = _batch(case)
    path = tmp_path / f"{case.name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)),
        keras.ops.convert_to_numpy(model(x)),
        atol=1e-6,
    )


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_training_lowers_the_loss_on_a_tiny_batch(case):
    keras.utils.set_random_seed(0)
    model = _tiny(case)
    # Eager steps: tracing a graph costs more than ten steps of a tiny model.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        run_eagerly=True,
    )
    x = _batch(case, n=8)
    y = np.arange(8) % case.classes
    losses = model.fit(x, y, epochs=10, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
