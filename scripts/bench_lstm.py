"""How fast is dlbook's NumPy LSTM? Against torch's LSTM on the CPU.

    python scripts/bench_lstm.py [--repeats 10] [--threads 2] [--clock cpu]
                                 [--seq 64] [--batch 32] [--input 128] [--hidden 256]
                                 [--layers 2] [--json PATH]

Workload (issue 12): a character-model-sized LSTM, by default sequence length 64, batch 32,
input size 128, hidden size 256, 2 layers, float32; one forward pass and one backward pass
(d input, every weight gradient) each. Both sides get the same number of threads (torch's
intra-op threads and NumPy's BLAS; default 2).

Timings alternate between dlbook and torch in one run, so background load hits both alike;
the median of each is reported, and their ratio (goal: at most 3×). The column "products"
times the matrix products the NumPy layer cannot avoid (per layer: the input parts of all
steps, L recurrent products forward and L backward, d input and the two weight gradients),
with NumPy's BLAS: the layer cannot be faster than these, so their ratio to torch is the
floor for this approach on this machine; the rest is the per-step element-wise work.
With CUDA, torch's LSTM is also timed on the GPU (wall clock, synchronized);
``--json PATH`` also writes the rows, machine and versions.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchtools import (add_json_argument, add_timing_arguments, alternating_medians,
                        blas_pools, cuda_available, synchronized, thread_limit, write_json)
from dlbook.check import rel_error
from dlbook.nn import LSTM, to_torch

GOAL = 3.0  # dlbook's time over torch's, at most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_timing_arguments(parser, repeats=10, threads=2)
    add_json_argument(parser)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    with thread_limit(args.threads):
        rows = run(args)
        settings = {"threads": torch.get_num_threads(), "clock": args.clock,
                    "repeats": args.repeats, "dtype": "float32", "pass": "forward+backward",
                    "goal": GOAL}
        write_json(args.json, "lstm", settings, rows)


def run(args) -> list[dict]:
    """Time the layer, print the table; returns one row per implementation ("numpy",
    "numpy-products", "torch-cpu" and, with CUDA, "torch-cuda")."""
    blas = blas_pools()
    L, N, H_in, H, layers = args.seq, args.batch, args.input, args.hidden, args.layers
    rng = np.random.default_rng(0)
    x = rng.standard_normal((L, N, H_in)).astype(np.float32)
    dy = rng.standard_normal((L, N, H)).astype(np.float32)
    lstm = LSTM(H_in, H, num_layers=layers, seed=0)

    def ours():
        lstm.zero_grad()
        lstm(x)
        return lstm.backward(dy)[0]

    def torch_pass(device: str):
        twin = to_torch(lstm).to(device)
        xt = torch.tensor(x, device=device, requires_grad=True)
        dyt = torch.tensor(dy, device=device)

        def theirs():
            xt.grad = None
            twin.zero_grad()
            twin(xt)[0].backward(dyt)
        return theirs, twin, xt

    w_ih = [rng.standard_normal((4 * H, H_in if k == 0 else H)).astype(np.float32)
            for k in range(layers)]
    w_hh = rng.standard_normal((4 * H, H)).astype(np.float32)
    h = rng.standard_normal((N, H)).astype(np.float32)
    d_pre = rng.standard_normal((L * N, 4 * H)).astype(np.float32)

    def products():
        for k in range(layers):
            inputs = x.reshape(L * N, -1) if k == 0 else dy.reshape(L * N, H)
            inputs @ w_ih[k].T  # input parts
            for _ in range(2 * L):  # forward and backward recurrent products
                h @ w_hh.T
            d_pre @ w_ih[k]  # d input
            d_pre.T @ inputs  # d weight_ih
            d_pre.T @ dy.reshape(L * N, H)  # d weight_hh

    twins = {"torch-cpu": torch_pass("cpu")}
    fns = {"numpy": ours, "numpy-products": products, "torch-cpu": twins["torch-cpu"][0]}
    clocks = [args.clock] * 3
    if cuda_available():
        twins["torch-cuda"] = torch_pass("cuda")
        fns["torch-cuda"] = synchronized(twins["torch-cuda"][0])
        clocks.append("wall")
    times = dict(zip(fns, alternating_medians(list(fns.values()), args.repeats, args.clock,
                                              clock_names=clocks)))
    t_ours, t_theirs, t_products = times["numpy"], times["torch-cpu"], times["numpy-products"]

    # The same gradients, so the timing compares like with like.
    dx = ours()
    for theirs, twin, xt in twins.values():
        theirs()
        params = dict(twin.named_parameters())
        assert rel_error(dx, xt.grad.cpu().numpy()) < 1e-4
        for name, p in lstm.named_parameters():
            assert rel_error(p.grad, params[name].grad.cpu().numpy()) < 1e-4, name

    ratio = t_ours / t_theirs
    print(f"threads: torch {torch.get_num_threads()}, NumPy BLAS (threads, kernels) {blas}")
    print(f"LSTM forward+backward, float32, median of {args.repeats} alternating runs, "
          f"{args.clock} clock:")
    print(f"  {'seq x batch':<12} {'in -> hidden':<13} {'layers':>6} {'dlbook':>9} {'torch':>9} "
          f"{'ratio':>6}   {'products':>9} {'ratio':>6}")
    print(f"  {f'{L} x {N}':<12} {f'{H_in} -> {H}':<13} {layers:>6} {1e3 * t_ours:7.1f}ms "
          f"{1e3 * t_theirs:7.1f}ms {ratio:5.2f}x   {1e3 * t_products:7.1f}ms "
          f"{t_products / t_theirs:5.2f}x   (goal <= {GOAL}x: "
          f"{'met' if ratio <= GOAL else 'NOT met'})")
    if "torch-cuda" in times:
        print(f"  torch on {torch.cuda.get_device_name(0)}: {1e3 * times['torch-cuda']:.2f}ms "
              "(wall clock)")
    case = f"seq {L}, batch {N}, {H_in}->{H}, {layers} layers"
    return [{"case": case, "implementation": impl, "seconds": seconds, "seq": L, "batch": N,
             "input_size": H_in, "hidden_size": H, "num_layers": layers}
            for impl, seconds in times.items()]


if __name__ == "__main__":
    main()
