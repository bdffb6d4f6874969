"""Folder jobs: result files streamed per batch, resumed after a kill, on Ray as in one process."""

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import HAS_PYARROW, REPO_ROOT, needs_writer, sample_folder, shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_table import tiny_resnet18

import keras_dense
from keras_dense._files import OutputExistsError
from keras_dense.cli.progress import JobProgress
from keras_dense.inference import folder_jobs, results

FORMATS = (".jsonl", ".csv", ".parquet")


def _rows(count, top=3, start=0):
    rows = []
    for index in range(start, start + count):
        path = f'/data/ünï cöde, "q"\n{index}.jpg'
        if index % 5 == 4:
            rows.append(results.prediction_row(path, error=f"{path} is not an image, {index}"))
        else:
            rows.append(
                results.prediction_row(
                    path,
                    [
                        (f"n{rank:08d}", f"label, {rank}", 1 / (rank + index + 3))
                        for rank in range(top)
                    ],
                )
            )
    return rows


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_resnet18()


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """A dozen small real images (the ImageNet samples) and one file that is no image."""
    folder = tmp_path_factory.mktemp("images")
    return sample_folder(folder, 12, "{:02d}.jpg", ("broken.jpg", b"not a jpeg"))


@pytest.mark.parametrize("suffix", FORMATS)
def test_each_format_gives_back_the_rows_written(tmp_path, suffix):
    needs_writer(suffix)
    out = tmp_path / f"out{suffix}"
    rows = _rows(7)
    with results.open_writer(out, "predict", top=3) as writer:
        writer.write(rows[:3])
        writer.write(rows[3:])
    assert results.read_rows(out) == rows
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no parts, no temporaries left


@pytest.mark.parametrize("suffix", (".jsonl", ".csv"))
def test_resume_cuts_a_partial_last_line_and_never_writes_a_row_twice(tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    rows = _rows(10)
    with results.open_writer(out, "predict", top=3) as writer:
        writer.write(rows[:6])
    complete = out.read_bytes()
    with open(out, "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"path": "/data/half' if suffix == ".jsonl" else b"/data/half,,n0")
    with results.open_writer(out, "predict", resume=True, top=3) as writer:
        assert writer.done == {row["path"] for row in rows[:6]}
        assert out.read_bytes() == complete
        writer.write(rows[4:])  # the first two are there already
        assert writer.written == 4
    assert results.read_rows(out) == rows


def test_parquet_parts_keep_an_interrupted_job_and_resume_finishes_one_file(tmp_path, monkeypatch):
    needs_writer(".parquet")
    monkeypatch.setattr(results, "ROWS_PER_PART", 3)
    out = tmp_path / "out.parquet"
    rows = _rows(8)
    with pytest.raises(KeyboardInterrupt):
        with results.open_writer(out, "predict", top=3) as writer:
            writer.write(rows[:4])
            writer.write(rows[4:5])
            raise KeyboardInterrupt
    assert not out.exists()
    assert results.read_rows(out) == rows[:5]  # from the parts
    with pytest.raises(OutputExistsError, match="--resume"):
        results.open_writer(out, "predict", top=3)
    with results.open_writer(out, "predict", resume=True, top=3) as writer:
        writer.write(rows)
    assert results.read_rows(out) == rows
    assert sorted(os.listdir(tmp_path)) == ["out.parquet"]
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).num_row_groups >= 2  # one per part


def test_an_existing_result_file_is_refused_without_resume(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("")
    with pytest.raises(OutputExistsError, match="--resume"):
        results.open_writer(out, "predict")
    with pytest.raises(ValueError, match=r"\.jsonl, \.csv, \.parquet"):
        results.open_writer(tmp_path / "out.txt", "predict")
    with pytest.raises(ValueError, match="--top 3"):
        with results.open_writer(tmp_path / "top3.csv", "predict", top=3) as writer:
            writer.write(_rows(1))
        results.open_writer(tmp_path / "top3.csv", "predict", resume=True, top=5)


def test_a_folder_job_writes_one_row_per_path_and_resume_adds_nothing(
    tmp_path, tiny_model, image_folder
):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two entries\n{image_folder}\n\n{tmp_path / 'missing.jpg'}\n")
    out = tmp_path / "out.jsonl"
    settings = dict(model=tiny_model, preprocess="torch", top=2, batch_size=5, engine="keras")
    summary = folder_jobs.predict_into([f"@{listing}", image_folder], out, **settings)
    assert summary == folder_jobs.JobSummary(total=14, skipped=0, written=14, errors=2)
    rows = {row["path"]: row for row in results.read_rows(out)}
    assert len(rows) == 14
    expected = keras_dense.inference.predict.predict_files(
        sorted(image_folder.glob("0*.jpg")), model=tiny_model, preprocess="torch", top=2
    )
    for result in expected:
        got = rows[os.path.abspath(result.path)]["top"]
        assert [item["wnid"] for item in got] == [p[0] for p in result.predictions]
        np.testing.assert_allclose(
            [item["probability"] for item in got], [p[2] for p in result.predictions], atol=1e-6
        )
    assert "not" in rows[str(image_folder / "broken.jpg")]["error"]
    assert "does not exist" in rows[str(tmp_path / "missing.jpg")]["error"]
    again = folder_jobs.predict_into([image_folder], out, resume=True, **settings)
    assert again.written == 0 and again.skipped == 13
    with pytest.raises(ValueError, match="cannot be read"):
        folder_jobs.predict_into([f"@{tmp_path / 'nope.txt'}"], tmp_path / "x.jsonl", **settings)


def _mutations():
    return st.tuples(
        st.sampled_from((".jsonl", ".csv", ".npz") + ((".parquet",) if HAS_PYARROW else ())),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255) | st.just(-1)), max_size=6),
        st.integers(0, 10_000),
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_mutations())
def test_a_damaged_result_file_resumes_or_fails_in_one_sentence(tmp_path_factory, case):
    suffix, edits, cut = case
    folder = tmp_path_factory.mktemp("damaged")
    out = folder / f"out{suffix}"
    task = "embed" if suffix == ".npz" else "predict"
    with results.open_writer(out, task, top=3) as writer:
        if task == "embed":
            writer.write(
                [results.embedding_row(f"/x/{i}.jpg", np.full(4, i, "float32")) for i in range(4)]
                + [results.embedding_row("/x/bad.jpg", error="unreadable")]
            )
        else:
            writer.write(_rows(5))
    data = bytearray(out.read_bytes())
    for position, value in edits:
        if data:
            if value < 0:
                del data[position % len(data)]
            else:
                data[position % len(data)] = value
    out.write_bytes(bytes(data[: max(cut, len(data) // 2)]))
    before = sorted(os.listdir(folder))
    try:
        with results.open_writer(out, task, resume=True, top=3) as writer:
            assert all(isinstance(path, str) for path in writer.done)
    except ValueError as error:
        assert "\n" not in str(error) and str(out) in str(error)
    after = [name for name in sorted(os.listdir(folder)) if name != f"out{suffix}.parts"]
    assert after == before  # nothing written beside the output


def test_the_progress_of_a_job_in_a_log_is_a_line_every_n_images():
    stream = io.StringIO()
    progress = JobProgress(2500, every=1000, stream=stream)
    for done in range(0, 2501, 250):
        progress(done, 2500)
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1000/2500", "2000/2500", "2500/2500"]
    assert all("images/s" in line and "left" in line for line in lines)


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory):
    """Random ResNet-18 weights in a file, so every process builds the same model."""
    path = tmp_path_factory.mktemp("weights") / "resnet18.weights.h5"
    keras_dense.get_model("resnet18", weights=None).save_weights(path)
    return path


def _cifar_folder(folder, count):
    """`count` CIFAR-10 test JPEGs (32x32, read from the shared zip) in `folder`."""
    import zipfile

    with zipfile.ZipFile(shared_path("cifar10", "cifar10-jpg-test.zip")) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))[:count]
        for index, name in enumerate(names):
            (folder / f"{index:04d}.jpg").write_bytes(archive.read(name))
    return folder


@pytest.mark.slow
def test_a_killed_predict_resumes_to_every_image_once_with_the_same_classes(
    tmp_path, resnet18_weights
):
    (tmp_path / "images").mkdir()
    images = _cifar_folder(tmp_path / "images", 32)
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "keras_dense", "predict", str(images), "--model", "resnet18"]
    command += ["--weights", str(resnet18_weights), "--engine", "keras", "--top", "2"]
    command += ["--batch-size", "4", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "KERAS_DENSE_BACKGROUND_EXPORT": "0"}
    job = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 8:
            break
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL, job.stderr.read().decode()[-2000:]
    killed_rows = out.read_bytes().count(b"\n")
    assert 8 <= killed_rows < 32
    with open(out, "ab") as handle:  # as if the kill had come in the middle of a write
        handle.write(b'{"path": "' + str(images).encode())
    resumed = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{killed_rows} already there" in resumed.stderr
    rows = results.read_rows(out)
    paths = [row["path"] for row in rows]
    files = sorted(str(p) for p in images.glob("*.jpg"))
    assert sorted(paths) == files  # every image, exactly once
    expected = keras_dense.predict(files, model="resnet18", weights=resnet18_weights, top=2)
    by_path = {row["path"]: row["top"] for row in rows}
    for path, top in zip(files, expected):
        assert by_path[path][0]["wnid"] == top[0][0]
        np.testing.assert_allclose(
            [item["probability"] for item in by_path[path]], [p[2] for p in top], atol=1e-5
        )


def test_ray_with_two_local_workers_gives_the_single_process_rows(
    tmp_path, tiny_model, image_folder
):
    ray = pytest.importorskip(
        "ray", reason="Ray is the ray extra (pip install keras-dense[ray]); not installed"
    )
    pytest.importorskip("ray.data", reason="Ray Data (pip install 'ray[data]') is not installed")
    from keras_dense.inference import ray as ray_jobs

    settings = dict(model=tiny_model, preprocess="torch", top=3, batch_size=4, engine="keras")
    local = folder_jobs.predict_into([image_folder], tmp_path / "local.jsonl", **settings)
    try:
        on_ray = ray_jobs.predict_into(
            [image_folder], tmp_path / "ray.parquet", workers=2, **settings
        )
    finally:
        ray.shutdown()
    assert on_ray == local
    single = sorted(results.read_rows(tmp_path / "local.jsonl"), key=lambda r: r["path"])
    spread = sorted(results.read_rows(tmp_path / "ray.parquet"), key=lambda r: r["path"])
    assert [r["path"] for r in spread] == [r["path"] for r in single]
    for ours, theirs in zip(spread, single):
        assert ours["error"] == theirs["error"]
        if ours["top"] is not None:
            assert [i["wnid"] for i in ours["top"]] == [i["wnid"] for i in theirs["top"]]
            np.testing.assert_allclose(
                [i["probability"] for i in ours["top"]],
                [i["probability"] for i in theirs["top"]],
                atol=1e-6,
            )


def test_the_job_options_need_out(tmp_path):
    from keras_dense.cli import main

    assert main(["predict", str(tmp_path), "--resume"]) == 2
    assert main(["embed", str(tmp_path)]) == 2


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200))
def test_a_list_file_gives_its_paths_or_one_sentence(tmp_path_factory, data):
    listing = tmp_path_factory.mktemp("lists") / "list.txt"
    listing.write_bytes(data)
    try:
        paths = folder_jobs.expand_lists(["a.jpg", f"@{listing}"])
    except ValueError as error:
        assert "\n" not in str(error) and "list.txt" in str(error)
    else:
        assert paths[0] == "a.jpg" and all(p and "\n" not in p for p in paths)
