"""Time forward+backward of each chapter-3 NumPy layer against its torch twin on the CPU.

    python scripts/bench_layers.py [--repeat 15] [--dtype float32] [--threads 1]

Both run side by side in this one process, at a realistic size (a batch of 256, hidden
widths around 1,000, a 64×64×32×32 feature map for BatchNorm2d). Printed: best times and
the ratio NumPy / torch (above 1: NumPy is slower).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dlbook import nn


def _cases():
    """(name, layer factory(dtype), input shape, target maker or None)."""
    classes = lambda rng, shape: rng.integers(0, shape[1], shape[0])  # noqa: E731
    values = lambda rng, shape: rng.standard_normal(shape)  # noqa: E731
    return [
        ("Linear 1024->1024", lambda dt: nn.Linear(1024, 1024, dtype=dt, seed=0), (256, 1024), None),
        ("ReLU", lambda dt: nn.ReLU(), (256, 4096), None),
        ("LeakyReLU", lambda dt: nn.LeakyReLU(0.1), (256, 4096), None),
        ("Sigmoid", lambda dt: nn.Sigmoid(), (256, 4096), None),
        ("Tanh", lambda dt: nn.Tanh(), (256, 4096), None),
        ("Softmax", lambda dt: nn.Softmax(dim=1), (256, 1000), None),
        ("LogSoftmax", lambda dt: nn.LogSoftmax(dim=1), (256, 1000), None),
        ("Dropout(0.5) train", lambda dt: nn.Dropout(0.5, seed=0), (256, 4096), None),
        ("BatchNorm1d(1024)", lambda dt: nn.BatchNorm1d(1024, dtype=dt), (256, 1024), None),
        ("BatchNorm2d(64)", lambda dt: nn.BatchNorm2d(64, dtype=dt), (64, 64, 32, 32), None),
        ("CrossEntropyLoss", lambda dt: nn.CrossEntropyLoss(), (256, 1000), classes),
        ("MultiMarginLoss", lambda dt: nn.MultiMarginLoss(), (256, 1000), classes),
        ("MSELoss", lambda dt: nn.MSELoss(), (256, 1000), values),
        ("MLP 784-512-512-10", lambda dt: nn.Sequential(
            nn.Linear(784, 512, dtype=dt, seed=0), nn.BatchNorm1d(512, dtype=dt), nn.ReLU(), nn.Dropout(0.2, seed=0),
            nn.Linear(512, 512, dtype=dt, seed=1), nn.ReLU(), nn.Linear(512, 10, dtype=dt, seed=2)), (256, 784), None),
    ]


def _best_ms(ours, theirs, repeat: int) -> tuple[float, float]:
    """Interleave the two so that load from other processes hits both; keep each one's best time
    (the least disturbed run: noise only ever adds time)."""
    ours(), theirs()  # warm-up: allocations, torch's kernel selection
    times = ([], [])
    for _ in range(repeat):
        for fn, out in zip((ours, theirs), times):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return 1e3 * min(times[0]), 1e3 * min(times[1])


def bench(dtype=np.float32, repeat: int = 15) -> list[tuple[str, tuple, float, float]]:
    rng = np.random.default_rng(0)
    rows = []
    for name, build, shape, target in _cases():
        layer = build(dtype)
        twin = nn.to_torch(layer)
        x = rng.standard_normal(shape).astype(dtype)
        xt = torch.tensor(x, requires_grad=True)
        if target is None:
            dy = rng.standard_normal(np.shape(layer(x))).astype(dtype)
            dyt = torch.tensor(dy)

            def ours():
                layer.forward(x)
                layer.backward(dy)

            def theirs():
                twin(xt).backward(dyt)
        else:
            t = target(rng, shape)
            t = t.astype(dtype) if t.dtype.kind == "f" else t
            tt = torch.tensor(t)

            def ours():
                layer.forward(x, t)
                layer.backward()

            def theirs():
                twin(xt, tt).backward()
        rows.append((name, shape, *_best_ms(ours, theirs, repeat)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for both torch and NumPy's BLAS (default: each library's own "
                             "choice); 1 is steadier on a busy machine")
    args = parser.parse_args()
    if args.threads:  # limit both sides, or the ratio compares a multi-threaded BLAS with one torch thread
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    blas = max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=1)
    print(f"numpy {np.__version__} ({blas} BLAS threads), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {args.dtype}, best of {args.repeat} interleaved runs")
    print(f"{'layer':<22}{'input':>20}{'numpy ms':>11}{'torch ms':>11}{'ratio':>8}")
    for name, shape, ours, theirs in bench(np.dtype(args.dtype), args.repeat):
        print(f"{name:<22}{str(shape):>20}{ours:>11.2f}{theirs:>11.2f}{ours / theirs:>8.1f}")


if __name__ == "__main__":
    main()
