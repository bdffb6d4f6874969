"""`keras-dense train` / `train --resume` / `evaluate` as a user runs them (subprocesses)."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest
from cifar_samples import TINY_MODEL, train_argv, write_binary_cifar

from keras_dense.training import run_folder

EPOCHS = 4
TINY = ["--arch", "blocks=1,1,1", "--arch", "growth_rate=4"]


def _env(tmp_path):
    return {**os.environ, "KERAS_DENSE_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _cli(*args, env, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "keras_dense", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _completed_epoch(run):
    try:
        return run_folder.read_state(run / "last.keras")["epoch"]
    except (OSError, ValueError):
        return 0


def test_killed_run_resumes_without_repeating_or_losing_epochs(tmp_path):
    data = write_binary_cifar(tmp_path, train=320, test=40)
    run = tmp_path / "run"
    env = _env(tmp_path)
    command = [
        sys.executable,
        "-m",
        "keras_dense",
        *train_argv(data, run, EPOCHS),
        "--batch-size",
        "16",
        "--lr",
        "0.05",
        "--quiet",
        *TINY,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 240
    while _completed_epoch(run) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    output = process.communicate()[0].decode()
    killed_after = _completed_epoch(run)
    assert process.returncode == -signal.SIGKILL, output
    assert killed_after >= 1 and killed_after < EPOCHS, output
    before = run_folder.read_state(run / "last.keras")["history"]

    result = _cli("train", "--resume", str(run), "--quiet", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Resuming {run} after epoch {killed_after} of {EPOCHS}." in result.stdout
    # Keras prints "Epoch k/N" once per epoch it runs: exactly the missing ones.
    ran = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("Epoch ")]
    assert ran == [f"{epoch}/{EPOCHS}" for epoch in range(killed_after + 1, EPOCHS + 1)]

    history = run_folder.read_history(run)
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
    for old, new in zip(before, history):  # the epochs before the kill are kept as they were
        assert new["val_accuracy"] == pytest.approx(old["val_accuracy"])
        assert new["loss"] == pytest.approx(old["loss"])
    # The learning-rate schedule continued (cosine decays to 0 at the last epoch).
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-7)
    # Optimizer state carried over: every step counted exactly once.
    model = keras.saving.load_model(run / "last.keras")
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == EPOCHS * 320 // 16
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS

    evaluated = _cli("evaluate", str(run), env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "best.keras: test accuracy" in evaluated.stdout and "on 40 images" in evaluated.stdout
    assert (
        sum(
            line.strip().startswith(("airplane", "truck")) for line in evaluated.stdout.splitlines()
        )
        == 2
    )


def test_cli_errors_are_one_line(tmp_path, monkeypatch, capsys):
    # In-process (same code path as the command, without a new interpreter per case).
    from keras_dense.cli import main

    monkeypatch.setenv("KERAS_DENSE_CACHE", str(tmp_path / "cache"))

    def error_of(*args):
        assert main(list(args)) == 2
        err = capsys.readouterr().err
        assert err.startswith("keras-dense: error: ") and "Traceback" not in err
        return err

    err = error_of(
        "train", TINY_MODEL, "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")
    )
    assert "CIFAR-10 source" in err and "does not exist" in err
    assert not (tmp_path / "r").exists()  # nothing left behind
    assert "--resume takes the model and recipe" in error_of(
        "train", "--resume", str(tmp_path), "--batch-size", "3"
    )
    assert "--seed" in error_of("train", "--resume", str(tmp_path), "--seed", "1")
    assert "--jit" in error_of("train", "--resume", str(tmp_path), "--no-jit")
    assert "has no completed epoch to resume from" in error_of(
        "train", "--resume", str(_run_without_epochs(tmp_path))
    )
    assert "is not a training run folder" in error_of("evaluate", str(tmp_path))
    assert "name a MODEL to train" in error_of("train")
    assert "--bfloat16 is mixed precision" in error_of(
        "train", TINY_MODEL, "--bfloat16", "--no-mixed-precision"
    )
    if keras.backend.backend() != "jax":
        err = error_of("train", TINY_MODEL, "--devices", "2", "--out", str(tmp_path / "r"))
        assert "--devices 2 needs the JAX backend" in err and "KERAS_BACKEND=jax" in err
        assert not (tmp_path / "r").exists()


def _run_without_epochs(tmp_path):
    run = tmp_path / "empty_run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    return run


def test_bad_arch_and_devices_options_are_argparse_errors(tmp_path):
    result = _cli("train", TINY_MODEL, "--arch", "growth", env=_env(tmp_path))
    assert result.returncode == 2 and "--arch takes KEY=VALUE" in result.stderr
    result = _cli("train", TINY_MODEL, "--devices", "two", env=_env(tmp_path))
    assert result.returncode == 2 and "--devices takes a positive integer or 'all'" in result.stderr
