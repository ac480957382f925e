"""How fast is dlbook's NumPy Conv2d? Against torch on the CPU, and the naive loops.

    python scripts/bench_conv.py [--repeats 30] [--threads N] [--clock cpu]
                                 [--case NAME ...] [--no-naive] [--json PATH]

Workloads (issues 5 and 11), float32, one forward plus one backward pass (dx, dweight,
dbias) each:

- ``3x3``: input (32, 16, 32, 32), 32 kernels of 3×3, padding 1;
- ``1x1``: input (32, 64, 16, 16), 128 kernels of 1×1 (a ResNet bottleneck's widening);
- ``3x3-s2``: input (32, 32, 32, 32), 64 kernels of 3×3, stride 2, padding 1 (a ResNet
  stage's first, down-sampling convolution).

Timings alternate between dlbook and torch in one run, so background load hits both
alike; the median of each is reported, and their ratio (goal: at most 1.5×). On a busy
machine, ``--threads 1 --clock cpu`` measures this process's CPU time instead of
wall-clock time, which leaves out the time other processes hold the core.

The column "products" times the layer's three matrix products alone (y = W·cols,
dW = dY·colsᵀ, dcols = Wᵀ·dY on the whole batch, contiguous operands) with NumPy's
BLAS: a convolution built on these products cannot be faster, so its ratio to torch is
the floor for this approach on this machine.

With CUDA, torch's twin is also timed on the GPU (wall clock, synchronized after each
pass). ``--json PATH`` also writes the rows, machine and versions (see benchtools.write_json).

The naive loop convolution runs forward only, on the first 2 images of the first case
(it is that slow), against the fast forward on the same 2 images, both on one core.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from benchtools import (add_json_argument, add_timing_arguments, alternating_medians,
                        blas_pools, cuda_available, elapsed, synchronized, thread_limit,
                        write_json)
from dlbook.check import rel_error
from dlbook.nn import Conv2d, naive_conv2d, no_grad, to_torch

GOAL = 1.5  # dlbook's time over torch's, at most

# name: (input shape, out channels, kernel, stride, padding)
CASES = {
    "3x3": ((32, 16, 32, 32), 32, 3, 1, 1),
    "1x1": ((32, 64, 16, 16), 128, 1, 1, 0),
    "3x3-s2": ((32, 32, 32, 32), 64, 3, 2, 1),
}

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_arguments(parser, repeats=30, threads=None)
    add_json_argument(parser)
    parser.add_argument("--case", nargs="+", choices=list(CASES), default=list(CASES),
                        help="which workloads to time (default: all)")
    parser.add_argument("--no-naive", action="store_true",
                        help="skip the naive-loop comparison")
    args = parser.parse_args()
    with thread_limit(args.threads):
        rows = run(args.repeats, args.case, not args.no_naive, args.clock)
        settings = {"threads": torch.get_num_threads(), "clock": args.clock,
                    "repeats": args.repeats, "dtype": "float32",
                    "pass": "forward+backward", "goal": GOAL}
        write_json(args.json, "conv", settings, rows)


def time_case(name: str, repeats: int, clock_name: str) -> dict[str, float]:
    """Median forward+backward time (s) of dlbook's layer ("numpy"), of the three matrix
    products alone ("numpy-products"), of its torch twin ("torch-cpu") and, with CUDA, of
    the twin on the GPU ("torch-cuda")."""
    shape, out_channels, k, stride, padding = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    layer = Conv2d(shape[1], out_channels, k, stride=stride, padding=padding, seed=0)
    dy = rng.standard_normal(layer.forward(x).shape).astype(np.float32)
    layer.backward(dy)

    def torch_pass(device: str):
        module = to_torch(layer).to(device)
        xt = torch.tensor(x, device=device, requires_grad=True)
        dyt = torch.tensor(dy, device=device)

        def theirs():
            xt.grad = None
            module.zero_grad()
            module(xt).backward(dyt)
        return theirs, module, xt

    def ours():
        layer.zero_grad()
        layer.forward(x)
        return layer.backward(dy)

    n, f, ho, wo = dy.shape
    w_mat = np.asarray(layer.weight).reshape(f, -1)
    cols = rng.standard_normal((w_mat.shape[1], n * ho * wo)).astype(np.float32)
    dy_mat = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(f, -1)

    def products():
        w_mat @ cols
        dy_mat @ cols.T
        w_mat.T @ dy_mat

    fns = {"numpy": ours, "numpy-products": products}
    clocks = [clock_name, clock_name]
    twins = {"torch-cpu": torch_pass("cpu")}
    fns["torch-cpu"] = twins["torch-cpu"][0]
    clocks.append(clock_name)
    if cuda_available():
        twins["torch-cuda"] = torch_pass("cuda")
        fns["torch-cuda"] = synchronized(twins["torch-cuda"][0])
        clocks.append("wall")
    medians = alternating_medians(list(fns.values()), repeats, clock_name, warmup=3,
                                  clock_names=clocks)

    # The same gradients, so the timing compares like with like.
    dx = ours()
    for theirs, module, xt in twins.values():
        theirs()
        for a, b in ((dx, xt.grad), (layer.weight.grad, module.weight.grad),
                     (layer.bias.grad, module.bias.grad)):
            assert rel_error(a, b.cpu().numpy()) < 1e-4, name
    return dict(zip(fns, medians))


def run(repeats: int, cases: list[str], naive: bool, clock_name: str = "wall") -> list[dict]:
    """Time the cases, print the table; returns one row per case and implementation."""
    from threadpoolctl import threadpool_limits

    blas = blas_pools()
    rows = []
    print(f"threads: torch {torch.get_num_threads()}, "
          f"NumPy BLAS (threads, kernels) {blas}")
    print(f"forward+backward, float32, median of {repeats} alternating runs, "
          f"{clock_name} clock" + (" (GPU: wall clock)" if cuda_available() else "") + ":")
    print(f"  {'case':<8} {'input':<18} {'filters':<13} {'dlbook':>9} {'torch':>9} "
          f"{'ratio':>6}   {'products':>9} {'ratio':>6}"
          + (f"   {'cuda':>9}" if cuda_available() else ""))
    for name in cases:
        shape, f, k, s, p = CASES[name]
        times = time_case(name, repeats, clock_name)
        ours, theirs, products = times["numpy"], times["torch-cpu"], times["numpy-products"]
        ratio = ours / theirs
        filters = f"{f} {k}x{k}" + (f" s{s}" if s > 1 else "") + (f" p{p}" if p else "")
        print(f"  {name:<8} {str(shape):<18} {filters:<13} {1e3 * ours:7.2f}ms "
              f"{1e3 * theirs:7.2f}ms {ratio:5.2f}x   {1e3 * products:7.2f}ms "
              f"{products / theirs:5.2f}x"
              + (f"   {1e3 * times['torch-cuda']:7.3f}ms" if "torch-cuda" in times else "")
              + f"   (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})")
        rows += [{"case": name, "implementation": impl, "seconds": seconds,
                  "input": list(shape), "filters": filters}
                 for impl, seconds in times.items()]

    if not naive:
        return rows
    shape, f, k, s, p = CASES["3x3"]
    layer = Conv2d(shape[1], f, k, stride=s, padding=p, seed=0)
    x2 = np.random.default_rng(0).standard_normal((2,) + shape[1:]).astype(np.float32)
    w, b = layer.weight, layer.bias
    t_naive = elapsed(lambda: naive_conv2d(x2, w, b, padding=p), clock_name)
    # one core for both (the loops cannot use more; on a busy machine a second BLAS
    # thread makes a product this small wait for a time slice)
    with threadpool_limits(limits=1, user_api="blas"):
        with no_grad():  # forward only: nothing to keep for a backward pass
            t_fast = statistics.median(elapsed(lambda: layer.forward(x2), clock_name)
                                       for _ in range(20))
            naive = naive_conv2d(x2, w, b, padding=p)
            assert rel_error(naive, layer.forward(x2)) < 1e-5
    print(f"forward on 2 images of case 3x3: naive loops {1e3 * t_naive:.1f} ms, "
          f"fast {1e3 * t_fast:.2f} ms, speed-up {t_naive / t_fast:.0f}x")
    rows += [{"case": "3x3-forward-2-images", "implementation": impl, "seconds": seconds,
              "input": [2, *shape[1:]], "filters": f"{f} {k}x{k} p{p}", "pass": "forward",
              "threads": 1}
             for impl, seconds in (("numpy-naive", t_naive), ("numpy", t_fast))]
    return rows


if __name__ == "__main__":
    main()
