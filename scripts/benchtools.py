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
                        warmup: int = 2) -> list[float]:
    """Median time of each function, timed in turn ``repeats`` times after ``warmup`` rounds
    (allocator, BLAS threads, oneDNN kernels)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            record.append(elapsed(fn, clock_name))
    return [statistics.median(record) for record in times]
