"""Helpers the benchmark scripts share: peak matmul rate, peak memory, JSON output.

Run the scripts from the repository root (`python benchmarks/inference.py`);
they put the root on `sys.path` themselves.
"""

import datetime
import json
import os
import pathlib
import platform
import resource
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def matmul_gflops(size=2048, repeats=5):
    """The machine's float32 matmul rate in GFLOP/s (best of `repeats`), via the backend."""
    import keras
    import numpy as np

    a = keras.ops.convert_to_tensor(np.random.default_rng(0).random((size, size), "float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def matmul_rates(size=2048, repeats=5):
    """The machine's matrix-product rate per precision, in G(FL)OP/s: float32 through the
    backend (`matmul_gflops`), bfloat16 and int8 (int8 x int8 -> int32, `torch._int_mm`)
    through PyTorch's CPU kernels (oneDNN: AVX512-BF16 / VNNI / AMX where present);
    None for a precision that cannot be measured here (PyTorch absent)."""
    rates = {"float32": matmul_gflops(size, repeats), "bfloat16": None, "int8": None}
    try:
        import torch
    except ImportError:
        return rates
    a = torch.randn(size, size).to(torch.bfloat16)
    q = torch.randint(-128, 127, (size, size), dtype=torch.int8)
    for precision, run in (("bfloat16", lambda: a @ a), ("int8", lambda: torch._int_mm(q, q))):
        try:
            run()  # warm-up
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - start)
            rates[precision] = 2 * size**3 / best / 1e9
        except (RuntimeError, AttributeError):  # no such kernel in this PyTorch
            pass
    return rates


def peak_rss_gb():
    """This process's peak resident memory so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def rss_gb():
    """This process's current resident memory in GB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def median(values):
    return statistics.median(values)


def machine():
    import keras

    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }


# /proc/cpuinfo flags of the low-precision units (bfloat16, int8 dot products, AMX tiles)
LOW_PRECISION_FLAGS = (
    "avx512_bf16",
    "amx_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "amx_tile",
)


def cpu():
    """The CPU's model name and which low-precision units it has (from /proc/cpuinfo)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("", platform.machine()):
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {
        "model_name": name,
        "bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "vnni": bool(flags & {"avx512_vnni", "avx_vnni"}),
        "amx": bool(flags & {"amx_tile", "amx_int8", "amx_bf16"}),
        "flags": [flag for flag in LOW_PRECISION_FLAGS if flag in flags],
        "cpu_count": os.cpu_count(),
    }


def cpu_line(info=None):
    """`CPU: <name>, <n> cores, bf16 yes, VNNI yes, AMX no` for the printed results."""
    info = info or cpu()
    yes = {True: "yes", False: "no"}
    return (
        f"CPU: {info['model_name']}, {info['cpu_count']} cores, bf16 {yes[info['bf16']]}, "
        f"VNNI {yes[info['vnni']]}, AMX {yes[info['amx']]}"
    )


def write_json(name, payload):
    """Writes `payload` to benchmarks/results/{name}-{timestamp}.json and prints the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def run_probe(cmd):
    """Runs a benchmark's `--probe` subprocess; returns the JSON of its last stdout line."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


class PeakRSS:
    """Context manager sampling this process's RSS every `interval` s; `.peak_gb` after.

    `getrusage` keeps the peak of the whole process life (model building
    included); this measures the peak of one stretch of work.
    """

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak_gb = 0.0
        self.start_gb = 0.0

    def _poll(self):
        while not self._stop.is_set():
            self.peak_gb = max(self.peak_gb, rss_gb())
            self._stop.wait(self.interval)

    def __enter__(self):
        import threading

        self.start_gb = self.peak_gb = rss_gb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_gb = max(self.peak_gb, rss_gb())
