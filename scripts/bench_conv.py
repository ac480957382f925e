"""How fast is dlbook's NumPy Conv2d? Compared with torch on the CPU, and with the naive loops.

    python scripts/bench_conv.py [--repeats 30] [--threads N]

Workload (issue 5): input (32, 16, 32, 32) float32, 32 kernels of 3×3, padding 1; one forward
plus one backward pass (dx, dweight, dbias). Timings alternate between the contenders in one
run, so background load hits both alike; the median of each is reported. The naive loop
convolution runs forward only, on the first 2 images (it is that slow), against the fast
forward on the same 2 images, both on one core.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from dlbook.check import rel_error
from dlbook.nn import Conv2d, naive_conv2d, no_grad, to_torch


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit both torch and NumPy's BLAS to N threads (default: their own defaults)")
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        torch.set_num_threads(args.threads)
        with threadpool_limits(limits=args.threads):
            run(args.repeats)
    else:
        run(args.repeats)


def run(repeats: int) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    blas_threads = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16, 32, 32)).astype(np.float32)
    layer = Conv2d(16, 32, 3, padding=1, seed=0)
    twin = to_torch(layer)
    dy = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)
    xt, dyt = torch.tensor(x, requires_grad=True), torch.tensor(dy)

    def ours():
        layer.zero_grad()
        layer.forward(x)
        layer.backward(dy)

    def theirs():
        xt.grad = None
        twin.zero_grad()
        twin(xt).backward(dyt)

    for _ in range(3):  # warm up: allocator, BLAS threads, oneDNN kernels
        ours(), theirs()
    t_ours, t_torch = [], []
    for _ in range(repeats):
        t_ours.append(_time(ours))
        t_torch.append(_time(theirs))
    ours_ms, torch_ms = 1e3 * statistics.median(t_ours), 1e3 * statistics.median(t_torch)

    # The same gradients, so the timing compares like with like.
    ours()
    theirs()
    assert rel_error(layer.weight.grad, twin.weight.grad.numpy()) < 1e-4

    x2 = x[:2]
    w, b = layer.weight, layer.bias
    t_naive = _time(lambda: naive_conv2d(x2, w, b, padding=1))
    # one core for both (the loops cannot use more; on a busy machine a second BLAS thread
    # makes a product this small wait for a time slice)
    with threadpool_limits(limits=1, user_api="blas"):
        with no_grad():  # forward only: nothing to keep for a backward pass
            t_fast = statistics.median(_time(lambda: layer.forward(x2)) for _ in range(20))
            assert rel_error(naive_conv2d(x2, w, b, padding=1), layer.forward(x2)) < 1e-5

    print(f"threads: torch {torch.get_num_threads()}, NumPy BLAS {blas_threads}")
    print(f"forward+backward, x (32, 16, 32, 32) float32, 32 filters 3x3, padding 1 (median of {repeats}):")
    print(f"  dlbook NumPy Conv2d : {ours_ms:8.2f} ms")
    print(f"  torch CPU           : {torch_ms:8.2f} ms")
    ratio = ours_ms / torch_ms
    print(f"  ratio NumPy / torch : {ratio:8.2f}x   (goal <= 3x: {'met' if ratio <= 3 else 'NOT met'})")
    print(f"forward on 2 images: naive loops {1e3 * t_naive:.1f} ms, fast {1e3 * t_fast:.2f} ms, "
          f"speed-up {t_naive / t_fast:.0f}x")


if __name__ == "__main__":
    main()
