"""What the layer benchmarks share: the clock, side-by-side timing, thread limits, BLAS info.

Timings alternate between the functions compared in one run, so background load hits them
alike, and each gets the median of its runs. On a busy machine ``--threads 1 --clock cpu``
measures this process's CPU time instead of wall-clock time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def add_timing_arguments(parser: argparse.ArgumentParser, repeats: int,
                         threads: int | None) -> None:
    """--repeats, --threads and --clock, with this benchmark's defaults."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=threads,
                        help="limit both torch and NumPy's BLAS to N threads (default: "
                             + ("their own defaults" if threads is None else str(threads)) + ")")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall-clock time (default) or this process's CPU time "
                             "(use with --threads 1 on a busy machine)")


@contextlib.contextmanager
def thread_limit(threads: int | None):
    """torch's intra-op threads and every BLAS pool limited to ``threads`` (None: as they are)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


def blas_pools() -> list[tuple[int, str | None]]:
    """(threads, kernel architecture) of each BLAS pool NumPy and friends loaded."""
    from threadpoolctl import threadpool_info

    return [(pool["num_threads"], pool.get("architecture"))
            for pool in threadpool_info() if pool["user_api"] == "blas"]


def elapsed(fn, clock_name: str = "wall") -> float:
    """Seconds one call of ``fn`` takes on the named clock."""
    clock = CLOCKS[clock_name]
    start = clock()
    fn()
    return clock() - start


def alternating_medians(fns, repeats: int, clock_name: str = "wall",
                        warmup: int = 2, clock_names: list[str] | None = None) -> list[float]:
    """Median time of each function, timed in turn ``repeats`` times after ``warmup`` rounds
    (allocator, BLAS threads, oneDNN kernels). ``clock_names`` overrides the clock per
    function (GPU work is timed on the wall clock: its CPU time is not its time)."""
    clock_names = clock_names or [clock_name] * len(fns)
    if len(clock_names) != len(fns):
        raise ValueError(f"got {len(clock_names)} clock names for {len(fns)} functions")
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record, clock in zip(fns, times, clock_names):
            record.append(elapsed(fn, clock))
    return [statistics.median(record) for record in times]


# -- results as JSON (read back and plotted by dlbook.benchmarks) -----------------------------


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """--json PATH: also write the measurements there (see :func:`write_json`)."""
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write the measurements, machine and versions to PATH as JSON")


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (the torch rows are then also timed on it)."""
    return torch.cuda.is_available()


# float32 on the GPU as on the CPU: TF32 products (cuDNN's default) would neither match
# dlbook's gradients to 1e-4 nor compare like with like.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def synchronized(fn):
    """``fn`` followed by waiting for the GPU: CUDA kernels run asynchronously, so a timer
    would otherwise stop when the work is queued, not when it is done."""
    def call():
        result = fn()
        torch.cuda.synchronize()
        return result
    return call


def machine() -> dict:
    """CPU model, logical cores, memory (GiB) and the GPU's name (None without CUDA)."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    memory_gib = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        memory_gib = round(kib / 2**20, 1)
    except (OSError, StopIteration):  # not Linux
        pass
    gpu = torch.cuda.get_device_name(0) if cuda_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory_gib, "gpu": gpu}


def versions(*extra: str) -> dict:
    """Python, NumPy, torch, dlbook (and the modules named in ``extra``), and the BLAS:
    library, version and kernel architecture of each pool threadpoolctl finds."""
    import importlib
    import platform

    import numpy as np
    from threadpoolctl import threadpool_info

    import dlbook

    found = {"python": platform.python_version(), "numpy": np.__version__,
             "torch": torch.__version__, "dlbook": dlbook.__version__}
    for name in extra:
        found[name] = importlib.import_module(name).__version__
    found["blas"] = "; ".join(
        f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('architecture')})"
        for pool in threadpool_info() if pool["user_api"] == "blas") or None
    return found


def write_json(path: str | None, benchmark: str, settings: dict, rows: list[dict],
               extra_versions: tuple[str, ...] = ()) -> None:
    """Write one benchmark's results to ``path`` (nothing when None): its name, the UTC date,
    :func:`machine`, :func:`versions`, the settings and one row per measurement
    ``{"case", "implementation", "seconds", ...}``."""
    if path is None:
        return
    import datetime
    import json
    import pathlib

    settings = {**settings, "cuda": (f"measured on {torch.cuda.get_device_name(0)}"
                                     if cuda_available() else
                                     "not measured: torch.cuda.is_available() is False")}
    result = {
        "benchmark": benchmark,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(*extra_versions),
        "settings": settings,
        "rows": rows,
    }
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
