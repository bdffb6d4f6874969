"""Caches are an optimisation; the background export runs nothing from the working folder.

Issue 20, classes 2 and 6: a background export never imports from the user's
working folder, and one that dies leaves a failure record (no stale lock) and
is retried with back-off; a cache folder that cannot be written or an entry
that cannot be read is a warning and the work goes on; entries follow the
umask; stale temporaries are cleaned. The tests run as root, where a read-only
folder is writable: a cache path under a regular FILE is what fails for all.
"""

import json
import logging
import os
import signal
import stat
import sys
import time

import numpy as np
import pytest
from cifar_samples import write_cifar_png_tree
from conftest import run_cli, shared_path

# the stand-in torchvision file of test_torchvision_weights (fixtures used by name)
from test_torchvision_weights import (  # noqa: F401
    PUBLISHED,
    _logits,
    stand_in,
    tiny_reference,
    torch_outputs,
    torchvision,
)

import keras_dense
from keras_dense import _files
from keras_dense.datasets import cifar10
from keras_dense.inference import background, cache, engines
from keras_dense.weights import converted

RUNTIME = engines.RUNTIME_PREFERENCE["float32"][0]
DAY = 86400


@pytest.fixture
def hostile(tmp_path):
    """A cache path no one can create: its parent is a regular file."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder is expected")
    return blocker / "cache"


@pytest.fixture
def fresh_cleanup(monkeypatch):
    """Every folder counts as not yet cleaned in this process."""
    monkeypatch.setattr(_files, "_CLEANED", set())


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _wait_for_exit(pid, deadline_s=600):
    """Waits for a process this test started (reaped here, or by subprocess's own cleanup)."""
    try:
        os.waitpid(pid, 0)
        return
    except ChildProcessError:
        pass
    end = time.time() + deadline_s
    while _files.process_state(pid)[0] and time.time() < end:
        time.sleep(0.2)


def _key(name="tiny"):
    return cache.entry_key(
        name, {"source": "test", "hash": "sha256:0"}, "onnxruntime", "float32", "architecture"
    )


def _writer(path):
    path.write_bytes(b"an export")
    return {"check": {"passed": True}}


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


# --- class 2: nothing from the working folder; a dead export leaves a record --------------


def test_background_export_imports_nothing_from_the_working_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    marker = tmp_path / "imported_from_the_working_folder"
    for module in ("json", "keras", "argparse"):  # what the export imports first
        (work / f"{module}.py").write_text(f"open({str(marker)!r}, 'a').write('{module}\\n')\n")
    keras_dense.get_model("resnet20", weights=None).save_weights(work / "w.weights.h5")
    monkeypatch.chdir(work)
    monkeypatch.setenv("KERAS_DENSE_CACHE", "cache")  # relative: made absolute for the export
    monkeypatch.setenv(background.SWITCH, "1")

    assert background.start("resnet20", "w.weights.h5", RUNTIME, "float32")
    lock = background.lock_path("resnet20", RUNTIME, "float32")
    _wait_for_exit(json.loads(lock.read_text())["pid"])

    assert not marker.exists(), marker.read_text()
    assert not lock.exists() and not background.failure_path(lock).exists()
    entries = [p for p in (work / "cache" / "engines").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / cache.ENGINE_FILES[RUNTIME][1]).is_file()


def test_a_killed_export_leaves_a_failure_record_and_is_retried_with_back_off(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(background.SWITCH, "1")
    # a stand-in export that runs until it is killed
    monkeypatch.setattr(
        background, "command", lambda *a: [sys.executable, "-c", "import time; time.sleep(600)"]
    )
    lock = background.lock_path("resnet20", RUNTIME, "float32")

    def start():
        return background.start("resnet20", "none", RUNTIME, "float32")

    def kill_the_export():
        pid = json.loads(lock.read_text())["pid"]
        assert not start()  # a running export holds the lock
        os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer does
        _wait_for_exit(pid)
        assert lock.exists()  # it could not release its lock

    assert start()
    kill_the_export()
    assert not start()  # the dead lock is a failure record at once, and it is not retried
    assert not lock.exists()
    record = background.read_failure(lock)
    assert record["attempts"] == 1 and "ended without reporting" in record["error"]
    assert record["retry_at"] - record["failed_at"] == pytest.approx(3600)
    assert not start()

    def age(seconds):  # the record as if written `seconds` earlier
        record = json.loads(background.failure_path(lock).read_text())
        record = {
            **record,
            "failed_at": record["failed_at"] - seconds,
            "retry_at": record["retry_at"] - seconds,
        }
        background.failure_path(lock).write_text(json.dumps(record))

    age(3601)
    assert start()  # the back-off has passed
    kill_the_export()
    assert not start()
    record = background.read_failure(lock)
    assert record["attempts"] == 2
    assert record["retry_at"] - record["failed_at"] == pytest.approx(4 * 3600)
    age(3601)
    assert not start()  # the second wait is longer
    age(3 * 3600)
    assert start()
    pid = json.loads(lock.read_text())["pid"]
    background.release(lock)  # a success clears the record
    os.kill(pid, signal.SIGKILL)
    _wait_for_exit(pid)
    assert background.read_failure(lock) is None and not lock.exists()


def test_the_export_reads_a_tag_as_a_tag_and_a_path_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imagenet").mkdir()  # as for `keras-dense validate imagenet/val`
    (tmp_path / "mine.weights.h5").write_bytes(b"")

    def weights(given):
        line = background.command("densenet121", given, RUNTIME, "float32", "lock")
        return line[line.index("--weights") + 1]

    assert weights("imagenet") == "imagenet"
    assert weights("tv_imagenet") == "tv_imagenet"
    assert weights("mine.weights.h5") == str(tmp_path / "mine.weights.h5")
    line = background.command("densenet121", "imagenet", RUNTIME, "float32", "lock")
    assert "-m" not in line and (sys.version_info < (3, 11) or line[1] == "-P")


def test_an_export_error_is_recorded_with_its_attempt_count(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    lock = background.lock_path("m", RUNTIME, "float32")
    lock.parent.mkdir(parents=True)
    for attempt in (1, 2, 3):
        lock.write_text("{}")
        background.release(lock, ValueError("no such weights"))
        record = background.read_failure(lock)
        assert record["attempts"] == attempt and record["error"] == "ValueError: no such weights"
        assert record["retry_at"] - record["failed_at"] == pytest.approx(
            min(3600 * 4 ** (attempt - 1), 7 * DAY)
        )
    assert not lock.exists()


# --- class 6: a cache that cannot be written or read -------------------------------------


def test_predict_prints_its_results_and_succeeds_when_the_cache_cannot_be_written(
    tmp_path, hostile
):
    elephant = shared_path("images", "elephant.jpg")
    weights = tmp_path / "resnet18.weights.h5"
    keras_dense.get_model("resnet18", weights=None).save_weights(weights)
    env = {**os.environ, "KERAS_DENSE_CACHE": str(hostile), background.SWITCH: "1"}
    result = run_cli(
        "predict",
        str(elephant),
        "--model",
        "resnet18",
        "--weights",
        str(weights),
        "--preprocess",
        "torch",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads(result.stdout)["results"][0]["predictions"]) == 5
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "cannot be written" in line]
    assert len(warnings) == 1, result.stderr


@pytest.mark.parametrize("where", ["under_a_file", "a_file"])
def test_engine_cache_that_cannot_be_written_keeps_the_export_for_this_process(
    hostile, monkeypatch, caplog, where
):
    monkeypatch.setenv(
        "KERAS_DENSE_CACHE", str(hostile if where == "under_a_file" else hostile.parent)
    )
    with caplog.at_level(logging.WARNING, "keras_dense.inference"):
        path = cache.store(_key(), _writer)
    assert path.read_bytes() == b"an export"
    assert "cannot be written" in caplog.text
    assert cache.lookup(_key()) == path and cache.read_entry(_key())["check"]["passed"]
    assert cache.lookup(_key("other")) is None


@pytest.mark.parametrize("damage", ["truncated_entry", "entry_is_a_folder", "corrupt_export"])
def test_engine_cache_entry_that_cannot_be_read_is_exported_again(
    tmp_path, monkeypatch, caplog, damage
):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    path = cache.store(_key(), _writer)
    entry = path.parent / cache.ENTRY_FILE
    if damage == "truncated_entry":
        entry.write_text(entry.read_text()[:20])
    elif damage == "entry_is_a_folder":
        entry.unlink()
        entry.mkdir()
    else:
        path.write_bytes(b"another export")
    with caplog.at_level(logging.WARNING, "keras_dense.inference"):
        assert cache.lookup(_key()) is None
    assert "not usable" in caplog.text or "cannot be read" in caplog.text
    assert cache.store(_key(), _writer) == path and cache.lookup(_key()) == path


def test_converted_weights_load_when_their_cache_cannot_be_written(
    stand_in, tiny_reference, monkeypatch, hostile, caplog
):  # noqa: F811
    module, images = tiny_reference
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(hostile))
    with caplog.at_level(logging.WARNING, "keras_dense.weights"):
        model = keras_dense.get_model(
            "densenet161", weights="tv_imagenet", classifier_activation=None
        )
    np.testing.assert_allclose(
        _logits(model, images), torch_outputs(module, images), rtol=0, atol=1e-5
    )
    assert "could not be cached" in caplog.text


def test_converted_weights_whose_record_cannot_be_read_are_converted_again(
    stand_in, tiny_reference, monkeypatch, caplog
):  # noqa: F811
    module, images = tiny_reference
    keras_dense.get_model("densenet161", weights="tv_imagenet")
    sidecar = converted.converted_dir() / f"{PUBLISHED}.json"
    sidecar.unlink()
    sidecar.mkdir()  # cannot be read, nor replaced
    with caplog.at_level(logging.WARNING, "keras_dense.weights"):
        model = keras_dense.get_model(
            "densenet161", weights="tv_imagenet", classifier_activation=None
        )
    np.testing.assert_allclose(
        _logits(model, images), torch_outputs(module, images), rtol=0, atol=1e-5
    )
    assert "cannot be read" in caplog.text and "could not be cached" in caplog.text


def test_decoded_cifar_loads_when_its_cache_cannot_be_written_or_read(tmp_path, hostile, caplog):
    source = write_cifar_png_tree(tmp_path / "cifar")
    with caplog.at_level(logging.WARNING, "keras_dense.datasets"):
        (x_train, y_train), _, names = cifar10.load(source, cache_dir=hostile)
    assert x_train.shape == (10, 32, 32, 3) and list(y_train) == list(range(10))
    assert "could not be cached" in caplog.text

    folder = tmp_path / "cache"
    cifar10.load(source, cache_dir=folder)
    (npz,) = folder.glob("cifar10-*.npz")
    data = npz.read_bytes()
    for damaged in (data[: len(data) // 2], data[:200] + bytes(len(data) - 200)):
        npz.write_bytes(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, "keras_dense.datasets"):
            (again, labels), _, _ = cifar10.load(source, cache_dir=folder)
        np.testing.assert_array_equal(again, x_train)
        assert "cannot be read" in caplog.text


# --- class 6: the umask, stale temporaries --------------------------------------------------


def test_cache_entries_follow_the_umask(tmp_path, monkeypatch, umask_022):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    path = cache.store(_key(), _writer)
    assert _mode(path.parent) == 0o755
    assert {_mode(p) for p in path.parent.iterdir()} == {0o644}
    cifar10.load(write_cifar_png_tree(tmp_path / "cifar"), cache_dir=tmp_path / "datasets")
    (npz,) = (tmp_path / "datasets").glob("cifar10-*.npz")
    assert _mode(npz) == 0o644


def test_converted_weights_follow_the_umask(stand_in, umask_022):  # noqa: F811
    keras_dense.get_model("densenet161", weights="tv_imagenet")
    folder = converted.converted_dir()
    assert {_mode(p) for p in folder.iterdir()} == {0o644}


def _temporaries(folder, names):
    """Creates each name (a folder for `.staging-*`), dated 2 days back or now."""
    created = {}
    for name in names:
        for age, prefix in ((2 * DAY, "old"), (0, "new")):
            path = folder / name.format(prefix)
            if name.startswith(".staging-"):
                path.mkdir(parents=True)
                (path / "model.onnx").write_bytes(b"half an export")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"part")
            then = time.time() - age
            os.utime(path, (then, then))
            created[path] = prefix
    return created


def test_stale_temporaries_are_removed_when_a_cache_is_next_used(
    tmp_path, monkeypatch, fresh_cleanup
):
    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))
    engines_dir = cache.cache_dir()
    created = _temporaries(
        engines_dir,
        [
            ".staging-{}",
            "tiny.part123{}",
            "{}.npz.tmp",
            ".{}.tmp",
            f".entry{_files.TEMP_MARK}123-{{}}",
            "keep-{}.onnx",
        ],
    )
    datasets = tmp_path / "datasets"
    created.update(_temporaries(datasets, ["tmp{}.npz.tmp", f".x.npz{_files.TEMP_MARK}1-{{}}"]))
    assert cache.lookup(_key()) is None  # the engine cache is used
    cifar10.load(write_cifar_png_tree(tmp_path / "cifar"), cache_dir=datasets)
    for path, age in created.items():
        expected = age == "new" or path.name.startswith("keep-old")
        assert path.exists() == expected, path
