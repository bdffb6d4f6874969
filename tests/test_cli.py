"""The `keras-dense` command line, run as a user runs it (a subprocess)."""

import subprocess
import sys

from conftest import run_cli, summary_with_layers

import keras_dense


def test_list_shows_every_model_with_family_input_and_params():
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    for name in keras_dense.list_models():
        line = next(line for line in result.stdout.splitlines() if line.startswith(name + " "))
        entry = keras_dense.model_record(name)
        assert entry.family in line and f"{entry.params:,}" in line
        assert "x".join(map(str, entry.input_shape)) in line


def test_summary_prints_parameters_and_flops():
    output = summary_with_layers("densenet_bc_100_k12")
    assert "Total params:         793,150" in output
    assert "MACs (conv + dense):  287,929,692" in output
    assert "FLOPs (2 x MACs):     575,859,384" in output
    assert "conv2_block1_1_conv" in output  # per-layer table


def test_summary_takes_input_shape_and_classes():
    result = run_cli("summary", "densenet121", "--input-shape", "64,64,3", "--classes", "10")
    assert result.returncode == 0, result.stderr
    assert "(None, 10)" in result.stdout


def test_unknown_model_is_one_clear_line_and_exit_2():
    result = run_cli("summary", "densenet12")
    assert result.returncode == 2
    assert "Unknown model 'densenet12'. Did you mean: densenet121" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_shape_is_refused():
    result = run_cli("summary", "densenet121", "--input-shape", "64,64")
    assert result.returncode == 2
    assert "--input-shape must be H,W,C" in result.stderr


def test_commands_print_no_backend_start_up_lines():
    result = run_cli("summary", "lenet5")
    assert result.returncode == 0, result.stderr
    assert "cuda" not in result.stderr.lower() and "absl" not in result.stderr
    assert result.stderr.strip() == ""


def test_debug_shows_the_backend_start_up_lines_and_tracebacks():
    import os

    env = {**os.environ, "KERAS_DENSE_DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "keras_dense", "summary", "densenet12"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr
