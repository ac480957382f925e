"""dlbook.train under torch.distributed: two processes launched by torchrun (gloo on the CPU)
end with the weights of one process training on the same global batches."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from dlbook.experiments.distributed import DEFAULTS, train_in_one_process, train_with_torchrun


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_global_batch():
    settings = dict(epochs=2, batch_size=64, n_train=640)
    together, history = train_with_torchrun(nproc=2, **settings)
    alone, alone_history = train_in_one_process(nproc=2, **settings)
    assert together.keys() == alone.keys()
    for name in together:
        assert together[name].dtype == torch.float64
        assert float((together[name] - alone[name]).abs().max()) <= 1e-10, name
    np.testing.assert_allclose(history.train_loss, alone_history.train_loss, rtol=1e-10, atol=0)
    assert history.train_loss[-1] < history.train_loss[0]  # it trained
    # the sharding matters: one process on the local batch (32) takes other steps
    local, _ = train_in_one_process(nproc=2, **dict(settings, batch_size=32))
    assert max(float((together[k] - local[k]).abs().max()) for k in together) > 1e-3


@pytest.mark.slow
def test_fit_refuses_a_batch_that_does_not_split_evenly_in_every_process():
    """Launched directly (train_with_torchrun checks first): 651 digits leave a last batch of
    11 rows, and fit itself must refuse to split it over 2 processes."""
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "dlbook.experiments.distributed", "--epochs=1", "--batch-size=64",
                          "--n-train=651", f"--out={os.devnull}"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode != 0
    assert "must split evenly over the 2 processes" in run.stderr and "last batch 11" in run.stderr


def test_bad_settings_fail_before_launching():
    with pytest.raises(ValueError, match="split evenly over 2 processes"):
        train_with_torchrun(nproc=2, batch_size=63)
    with pytest.raises(ValueError, match="last batch 11"):
        train_with_torchrun(nproc=2, n_train=651)
    with pytest.raises(ValueError, match="n_train must be in"):
        train_with_torchrun(nproc=2, n_train=10_000)
    with pytest.raises(TypeError, match="unknown settings"):
        train_in_one_process(lr_rate=0.1)
    assert set(DEFAULTS) == {"epochs", "batch_size", "lr", "seed", "hidden", "n_train"}


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL with one process per GPU needs two GPUs")
def test_two_gpus_with_nccl_equal_one_gpu():
    together, _ = train_with_torchrun(nproc=2, epochs=1, n_train=640)
    alone, _ = train_in_one_process(nproc=2, epochs=1, n_train=640)
    for name in together:
        assert float((together[name] - alone[name]).abs().max()) <= 1e-10, name
