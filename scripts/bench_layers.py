"""Time forward+backward of each chapter-3 NumPy layer against its torch twin on the CPU.

    python scripts/bench_layers.py [--repeats 15] [--dtype float32] [--threads 1] [--clock cpu]
                                   [--case NAME ...] [--json PATH]

Both run side by side in this one process, at a realistic size (a batch of 256, hidden
widths around 1,000, a 64×64×32×32 feature map for BatchNorm2d). Timings alternate between
the NumPy layer and its torch twin (and the twin on the GPU, with CUDA: wall clock,
synchronized), so background load hits them alike. Printed: the median of each and the
ratio NumPy / torch (above 1: NumPy is slower); ``--json PATH`` also writes the rows.
"""

from __future__ import annotations

import argparse
import numpy as np
import torch
from tqdm.auto import tqdm

from benchtools import (add_json_argument, add_timing_arguments, alternating_medians, blas_pools,
                        cuda_available, synchronized, thread_limit, write_json)
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


def bench(dtype=np.float32, repeats: int = 15, clock_name: str = "wall",
          only: list[str] | None = None) -> list[dict]:
    """One row per layer and implementation: median forward+backward seconds of the NumPy layer
    ("numpy"), its torch twin ("torch-cpu") and, with CUDA, the twin on the GPU ("torch-cuda")."""
    rng = np.random.default_rng(0)
    devices = ["cpu", "cuda"] if cuda_available() else ["cpu"]
    rows = []
    cases = [case for case in _cases() if only is None or case[0].startswith(tuple(only))]
    if not cases:
        raise ValueError(f"no layer name starts with one of {only}")
    for name, build, shape, target in tqdm(cases, desc="layers", disable=None, leave=False):
        layer = build(dtype)
        x = rng.standard_normal(shape).astype(dtype)
        t = None if target is None else target(rng, shape)
        t = t.astype(dtype) if t is not None and t.dtype.kind == "f" else t
        dy = None if target is not None else rng.standard_normal(np.shape(layer(x))).astype(dtype)

        def ours():
            if t is None:
                layer.forward(x)
                layer.backward(dy)
            else:
                layer.forward(x, t)
                layer.backward()

        def torch_pass(device: str):
            twin = nn.to_torch(layer).to(device)
            xt = torch.tensor(x, device=device, requires_grad=True)
            extra = torch.tensor(dy if t is None else t, device=device)

            def theirs():
                xt.grad = None
                if t is None:
                    twin(xt).backward(extra)
                else:
                    twin(xt, extra).backward()
            return synchronized(theirs) if device == "cuda" else theirs

        fns = [ours] + [torch_pass(device) for device in devices]
        clocks = [clock_name] * 2 + ["wall"] * (len(devices) - 1)
        medians = alternating_medians(fns, repeats, clock_name, clock_names=clocks)
        rows += [{"case": name, "implementation": impl, "seconds": seconds, "input": list(shape)}
                 for impl, seconds in zip(["numpy"] + [f"torch-{d}" for d in devices], medians)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_arguments(parser, repeats=15, threads=None)
    add_json_argument(parser)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--case", nargs="+", default=None, metavar="NAME",
                        help="time only the layers whose name starts with one of these")
    args = parser.parse_args()
    with thread_limit(args.threads):
        print(f"numpy {np.__version__}, BLAS (threads, kernels) {blas_pools()}, torch "
              f"{torch.__version__} ({torch.get_num_threads()} threads), {args.dtype}, "
              f"median of {args.repeats} alternating runs, {args.clock} clock")
        rows = bench(np.dtype(args.dtype), args.repeats, args.clock, args.case)
        by_case = {}
        for row in rows:
            by_case.setdefault(row["case"], {})[row["implementation"]] = row
        cuda = cuda_available()
        print(f"{'layer':<22}{'input':>20}{'numpy ms':>11}{'torch ms':>11}{'ratio':>8}"
              + (f"{'cuda ms':>10}" if cuda else ""))
        for name, impls in by_case.items():
            ours, theirs = impls["numpy"]["seconds"], impls["torch-cpu"]["seconds"]
            print(f"{name:<22}{str(tuple(impls['numpy']['input'])):>20}{1e3 * ours:>11.2f}"
                  f"{1e3 * theirs:>11.2f}{ours / theirs:>8.1f}"
                  + (f"{1e3 * impls['torch-cuda']['seconds']:>10.3f}" if cuda else ""))
        settings = {"threads": torch.get_num_threads(), "clock": args.clock,
                    "repeats": args.repeats, "dtype": args.dtype, "pass": "forward+backward"}
        write_json(args.json, "layers", settings, rows)


if __name__ == "__main__":
    main()
