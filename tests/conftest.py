"""Shared fixtures: the project's data folder and small helpers."""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = pathlib.Path(
    os.environ.get("KERAS_DENSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")
)


def pytest_xdist_auto_num_workers(config):
    """`--numprocesses=auto` (setup.cfg): one worker per core, at most 4 (each holds a
    backend and full-size ImageNet models: 2-5 GB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 4))


def shared_path(*parts):
    """Path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data folder (../shared/data) is needed")
    return path


def sample_folder(folder, count, name="{}.jpg", broken=None):
    """`folder` holding the first `count` ImageNet samples of the shared data folder (skip
    without it) as `name.format(index)`, and with `broken=(name, bytes)`, a file that is no
    image."""
    samples = sorted(shared_path("images", "imagenet-samples").glob("*.JPEG"))[:count]
    for index, path in enumerate(samples):
        shutil.copy(path, folder / name.format(index))
    if broken is not None:
        (folder / broken[0]).write_bytes(broken[1])
    return folder


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache_in_a_temporary_folder(tmp_path_factory):
    """Decoded CIFAR-10 caches go to one temporary folder per session, not the user's home."""
    previous = os.environ.get("KERAS_DENSE_CACHE")
    os.environ["KERAS_DENSE_CACHE"] = str(tmp_path_factory.mktemp("dataset_cache"))
    yield
    if previous is None:
        os.environ.pop("KERAS_DENSE_CACHE", None)
    else:
        os.environ["KERAS_DENSE_CACHE"] = previous


def run_cli(*args, timeout=600, **kwargs):
    """Runs `keras-dense ARGS...` as a user does, in a subprocess; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "keras_dense", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def summary_with_layers(name):
    """The output of `keras-dense summary NAME --layers`, which must succeed."""
    result = run_cli("summary", name, "--layers")
    assert result.returncode == 0, result.stderr
    return result.stdout


def predict_random_densenet121(path, *more):
    """`keras-dense predict PATH --model densenet121 --weights none --top 2 MORE...`."""
    random_densenet121 = ["--model", "densenet121", "--weights", "none", "--top", "2"]
    return run_cli("predict", str(path), *random_densenet121, *more)


@pytest.fixture
def shared_data():
    return shared_path()


@pytest.fixture(autouse=True, scope="session")
def _no_background_exports():
    """`keras-dense predict` exports in the background after a Keras run; not in tests
    (a test that checks it turns it on)."""
    previous = os.environ.get("KERAS_DENSE_BACKGROUND_EXPORT")
    os.environ["KERAS_DENSE_BACKGROUND_EXPORT"] = "0"
    yield
    if previous is None:
        os.environ.pop("KERAS_DENSE_BACKGROUND_EXPORT", None)
    else:
        os.environ["KERAS_DENSE_BACKGROUND_EXPORT"] = previous


HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def needs_writer(suffix):
    """Skips the test with the reason when the writer of result files `suffix` is absent."""
    if suffix == ".parquet" and not HAS_PYARROW:
        pytest.skip("pyarrow (pip install keras-dense[parquet]) is not installed: no .parquet")
