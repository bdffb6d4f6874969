"""memory_efficient=True: same weights, same outputs, same loss, gradients and BN updates.

Each backend runs in its own subprocess. Gradients are read backend-neutrally
from one `train_on_batch` step of plain SGD with learning rate 1 (w - grad).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import json, numpy as np, keras
from keras_dense.models import densenet
keras.utils.set_random_seed(0)
kw = dict(blocks=(2, 3), growth_rate=4, stem="cifar", default_size=16, classes=3,
          bottleneck=BOTTLENECK, dropout_rate=DROPOUT)
plain = densenet.DenseNet(**kw, input_shape=(16, 16, 3))
lean = densenet.DenseNet(**kw, input_shape=(16, 16, 3), memory_efficient=True)
lean.set_weights(plain.get_weights())
x = np.random.default_rng(0).normal(0, 1, (8, 16, 16, 3)).astype("float32")
y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
out = {"paths": [[w.path for w in m.weights] for m in (plain, lean)]}
out["infer"] = [keras.ops.convert_to_numpy(m(x)).tolist() for m in (plain, lean)]
out["stages"] = [len(l.stages) for l in lean.layers if l.name.endswith("_recompute")]
if DROPOUT:  # dropout masks differ between the models: compare inference only
    print(json.dumps(out))
    raise SystemExit
out["loss"], out["step"] = [], []
for m in (plain, lean):
    m.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    before = m.get_weights()
    out["loss"].append(float(m.train_on_batch(x, y)))
    # trainable weights: w - (w - grad); BN moving statistics: the new values
    out["step"].append([(b - a).tolist() if v.trainable else a.tolist()
                        for b, a, v in zip(before, m.get_weights(), m.weights)])
print(json.dumps(out))
"""


def _run(backend, bottleneck, dropout=0.0):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"the {backend} backend is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = SCRIPT.replace("BOTTLENECK", str(bottleneck)).replace("DROPOUT", str(dropout))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# JAX (its own subprocess, as each backend): the bottleneck layer, whose two
# recomputed stages cover the plain layer's one.
@pytest.mark.parametrize(
    "backend,bottleneck",
    [
        ("tensorflow", True),
        ("tensorflow", False),
        ("torch", True),
        ("torch", False),
        ("jax", True),
    ],
)
def test_memory_efficient_matches_plain(backend, bottleneck):
    report = _run(backend, bottleneck)
    plain_paths, lean_paths = report["paths"]
    # Same weights in the same order; the sublayers sit inside `*_recompute`.
    assert [p.split("_recompute/")[-1] for p in lean_paths] == plain_paths
    assert any("_recompute/" in p for p in lean_paths)
    np.testing.assert_allclose(*report["infer"], atol=1e-5)
    # A bottleneck layer is recomputed whole: both BN-ReLU-conv stages.
    assert set(report["stages"]) == {2 if bottleneck else 1}
    assert report["loss"][0] == pytest.approx(report["loss"][1], rel=1e-5)
    max_grad = max(np.abs(np.asarray(g)).max() for g in report["step"][0])
    assert max_grad > 0
    for path, a, b in zip(plain_paths, *report["step"]):
        np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, max_grad), err_msg=path)


def test_memory_efficient_with_dropout_recomputes_only_the_first_stage():
    report = _run("tensorflow", bottleneck=True, dropout=0.2)
    plain_paths, lean_paths = report["paths"]
    assert [p.split("_recompute/")[-1] for p in lean_paths] == plain_paths
    np.testing.assert_allclose(*report["infer"], atol=1e-5)
    assert set(report["stages"]) == {1}


def test_memory_efficient_keeps_weights_saves_and_reloads(tmp_path):
    import keras

    from keras_dense.models import densenet

    kw = dict(
        blocks=(2, 2),
        growth_rate=4,
        stem="cifar",
        default_size=16,
        classes=3,
        input_shape=(16, 16, 3),
    )
    plain = densenet.DenseNet(**kw)
    path = str(tmp_path / "plain.weights.h5")
    plain.save_weights(path)
    lean = densenet.DenseNet(**kw, weights=path, memory_efficient=True)
    x = np.random.default_rng(1).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(plain.predict(x, verbose=0), lean.predict(x, verbose=0), atol=1e-6)
    lean.save(tmp_path / "lean.keras")
    again = keras.saving.load_model(tmp_path / "lean.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), lean.predict(x, verbose=0), atol=1e-6)


def test_memory_efficient_reaches_every_builder():
    from keras_dense.models import densenet

    model = densenet.DenseNetCIFAR(depth=40, growth_rate=2, bottleneck=False, memory_efficient=True)
    assert any(layer.name.endswith("_recompute") for layer in model.layers)
    assert densenet.DenseNet121(
        memory_efficient=True, input_shape=(32, 32, 3), include_top=False
    ).count_params() == (
        densenet.DenseNet121(input_shape=(32, 32, 3), include_top=False).count_params()
    )
