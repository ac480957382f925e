"""Chapter 8: the book's one training loop on several processes, with torch.distributed.

Launch it with torch's launcher, one process per GPU (or two on a CPU)::

    torchrun --standalone --nproc_per_node 2 -m dlbook.experiments.distributed --out w.pt

Each process runs :func:`main`: it joins the process group (NCCL with a GPU per process,
gloo otherwise), builds the same model from the same seed, wraps it in
``DistributedDataParallel`` and calls :func:`dlbook.train.fit` with the *global* batch
size; fit hands each process its rows of every batch, DDP averages the gradients during
backward, and rank 0 alone reports and saves. :func:`train_with_torchrun` launches it from
Python; :func:`train_in_one_process` is the same training in one process, to compare with.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from ..data import load_digits_split
from ..train import History, fit

#: the settings both runs take (a float64 MLP on the digits, plain SGD)
DEFAULTS = {"epochs": 5, "batch_size": 64, "lr": 0.5, "seed": 0, "hidden": 32, "n_train": 960}


def digits_data(n_train: int):
    """The first ``n_train`` training digits and the validation digits, float64 (N, 64)."""
    split = load_digits_split(seed=0, val_size=0.2)
    if not 0 < n_train <= len(split.X_train):
        raise ValueError(f"n_train must be in 1..{len(split.X_train)}, got {n_train}")
    return split.X_train[:n_train], split.y_train[:n_train], split.X_val, split.y_val


def build_model(hidden: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # every process builds the same initial weights
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, 10)).double()


def backend_and_device(world_size: int) -> tuple[str, torch.device]:
    """NCCL when every process gets its own GPU, else gloo on the CPU."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= world_size:
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        return "nccl", torch.device("cuda", local_rank)
    return "gloo", torch.device("cpu")


def main(argv=None) -> None:
    """One process of the distributed run (torchrun sets RANK, WORLD_SIZE and
    LOCAL_RANK)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value),
                            default=value)
    parser.add_argument("--out", type=Path, required=True, help="where rank 0 saves")
    args = parser.parse_args(argv)

    backend, device = backend_and_device(int(os.environ["WORLD_SIZE"]))
    dist.init_process_group(backend)
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        model = build_model(args.hidden, args.seed).to(device)
        device_ids = [device.index] if device.index is not None else None
        ddp = DistributedDataParallel(model, device_ids=device_ids)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr)
        history = fit(ddp, torch.nn.CrossEntropyLoss(), optimizer,
                      *digits_data(args.n_train), epochs=args.epochs,
                      batch_size=args.batch_size, seed=args.seed, device=device)
        if dist.get_rank() == 0:  # one writer
            weights = {k: v.cpu() for k, v in model.state_dict().items()}
            torch.save({"state_dict": weights,
                        "history": asdict(history), "world_size": dist.get_world_size(),
                        "backend": backend}, args.out)
    finally:
        dist.destroy_process_group()


def train_with_torchrun(nproc: int = 2, **settings) -> tuple[dict, History]:
    """Run :func:`main` in ``nproc`` processes under torchrun; rank 0's weights and curves.

    The processes import the same dlbook as this one (its folder goes first on PYTHONPATH).
    """
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    settings = _settings(settings)
    digits_data(settings["n_train"])  # bad settings fail here, not in every process
    batch, last = settings["batch_size"], settings["n_train"] % settings["batch_size"]
    if batch % nproc or last % nproc:
        raise ValueError(f"the global batch must split evenly over {nproc} processes, the last one "
                         f"too: batch_size={batch}, n_train={settings['n_train']} (last batch {last})")
    package_root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(package_root), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "weights.pt"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={nproc}", "-m", "dlbook.experiments.distributed",
                   *(f"--{k.replace('_', '-')}={v}" for k, v in settings.items()), f"--out={out}"]
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if run.returncode != 0:
            raise RuntimeError(f"torchrun exited with {run.returncode}:\n{run.stderr[-4000:]}")
        saved = torch.load(out, weights_only=True)
    return saved["state_dict"], History(**saved["history"])


def train_in_one_process(nproc: int = 2, **settings) -> tuple[dict, History]:
    """The same training as ``train_with_torchrun(nproc, **settings)``, in this process, on
    the device its rank 0 uses."""
    settings = _settings(settings)
    _, device = backend_and_device(nproc)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun process (OMP_NUM_THREADS=1)
    try:
        model = build_model(settings["hidden"], settings["seed"]).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr"])
        history = fit(model, torch.nn.CrossEntropyLoss(), optimizer, *digits_data(settings["n_train"]),
                      epochs=settings["epochs"], batch_size=settings["batch_size"], seed=settings["seed"],
                      device=device, progress=False)
    finally:
        torch.set_num_threads(threads)
    return {k: v.cpu() for k, v in model.state_dict().items()}, history


def _settings(given: dict) -> dict:
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; expected some of {sorted(DEFAULTS)}")
    return {**DEFAULTS, **given}


if __name__ == "__main__":
    main()
