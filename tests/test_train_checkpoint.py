"""dlbook.train: checkpoints that resume to the same result as an uninterrupted run, and the
after_step hook (Keras-style constraints)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook import nn as dnn
from dlbook import optim as doptim
from dlbook.data import load_digits_split
from dlbook.keras_dense import Dense, MaxNorm, apply_constraints
from dlbook.train import fit, load_checkpoint


@pytest.fixture(scope="module")
def digits():
    split = load_digits_split(seed=0, val_size=0.2)
    return split.X_train[:300], split.y_train[:300], split.X_val[:100], split.y_val[:100]


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                               torch.nn.Linear(32, 10)).double()


def _run(digits, epochs, **kwargs):
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, torch.nn.CrossEntropyLoss(), optimizer, *digits, epochs=epochs, batch_size=32,
                  seed=3, scheduler=scheduler, progress=False, device="cpu", **kwargs)
    return model, optimizer, history


def test_resuming_gives_the_same_run_as_not_stopping(digits, tmp_path):
    straight, straight_opt, straight_history = _run(digits, epochs=5)
    _run(digits, epochs=3, checkpoint=tmp_path / "run.pt")
    assert load_checkpoint(tmp_path / "run.pt")["epoch"] == 3
    resumed, resumed_opt, resumed_history = _run(digits, epochs=5, resume_from=tmp_path / "run.pt")
    # dropout masks, batch order, Adam's moments and the learning-rate schedule all carry over
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert straight_history.train_loss == resumed_history.train_loss
    assert straight_history.val_acc == resumed_history.val_acc and resumed_history.epochs == 5
    assert resumed_opt.param_groups[0]["lr"] == straight_opt.param_groups[0]["lr"] == 1e-2 * 0.5 ** 2


def test_each_saved_piece_is_needed(digits, tmp_path):
    """Loading only the weights (a plain state_dict) does not continue the same run."""
    straight, _, _ = _run(digits, epochs=5)
    _run(digits, epochs=3, checkpoint=tmp_path / "run.pt")
    weights_only = _model()
    weights_only.load_state_dict(load_checkpoint(tmp_path / "run.pt")["model"])
    optimizer = torch.optim.Adam(weights_only.parameters(), lr=1e-2 * 0.5)
    fit(weights_only, torch.nn.CrossEntropyLoss(), optimizer, *digits, epochs=2, batch_size=32, seed=3,
        progress=False, device="cpu")
    assert not torch.equal(weights_only[0].weight, straight[0].weight)


def test_resuming_a_finished_run_changes_nothing(digits, tmp_path):
    done, _, history = _run(digits, epochs=2, checkpoint=tmp_path / "run.pt")
    again, _, again_history = _run(digits, epochs=2, resume_from=tmp_path / "run.pt")
    assert torch.equal(done[0].weight, again[0].weight) and again_history.train_loss == history.train_loss


def test_early_stopping_state_survives_a_resume(digits, tmp_path):
    _, _, straight = _run(digits, epochs=8, patience=1)
    _run(digits, epochs=3, patience=1, checkpoint=tmp_path / "run.pt")
    _, _, resumed = _run(digits, epochs=8, patience=1, resume_from=tmp_path / "run.pt")
    assert (resumed.best_epoch, resumed.stopped_early, resumed.val_loss) == \
        (straight.best_epoch, straight.stopped_early, straight.val_loss)


def test_after_step_runs_after_each_optimizer_step(digits):
    model = torch.nn.Sequential(Dense(64, 32, activation="relu", kernel_constraint=MaxNorm(0.5)),
                                Dense(32, 10)).double()
    calls, norms_seen = [], []

    def after(m):
        apply_constraints(m)
        calls.append(1)
        norms_seen.append(float(m[0].weight.detach().norm(dim=1).max()))

    fit(model, torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.5), *digits,
        epochs=2, batch_size=50, after_step=after, progress=False, device="cpu")
    assert len(calls) == 2 * 300 // 50
    assert max(norms_seen) <= 0.5 * (1 + 1e-6)  # every unit's incoming weights within the cap
    # without the hook the same training lets them grow past it
    free = torch.nn.Sequential(Dense(64, 32, activation="relu"), Dense(32, 10)).double()
    fit(free, torch.nn.CrossEntropyLoss(), torch.optim.SGD(free.parameters(), lr=0.5), *digits, epochs=2,
        batch_size=50, progress=False, device="cpu")
    assert float(free[0].weight.detach().norm(dim=1).max()) > 0.5


def test_after_step_for_a_numpy_model(digits):
    model = dnn.Sequential(dnn.Linear(64, 10, dtype=np.float64, seed=0))
    seen = []
    fit(model, dnn.CrossEntropyLoss(), doptim.SGD(model.parameters(), lr=0.1), *digits, epochs=1,
        batch_size=100, after_step=lambda m: seen.append(np.array(m[0].weight, copy=True)), progress=False)
    assert len(seen) == 3 and not np.array_equal(seen[0], seen[1])  # after each update


def test_checkpoint_errors(digits, tmp_path):
    model = dnn.Sequential(dnn.Linear(64, 10, dtype=np.float64, seed=0))
    with pytest.raises(TypeError, match="torch models"):
        fit(model, dnn.CrossEntropyLoss(), doptim.SGD(model.parameters(), lr=0.1), *digits, epochs=1,
            checkpoint=tmp_path / "x.pt", progress=False)
    with pytest.raises(FileNotFoundError, match="writes one after every epoch"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a dlbook.train checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.gpu
def test_resuming_on_cuda_gives_the_same_run_as_not_stopping(digits, tmp_path):
    def run(epochs, **kwargs):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                    torch.nn.Linear(32, 10)).double().cuda()
        fit(model, torch.nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-2), *digits,
            epochs=epochs, batch_size=32, seed=3, progress=False, device="cuda", **kwargs)
        return model

    straight = run(4)
    run(2, checkpoint=tmp_path / "run.pt")
    resumed = run(4, resume_from=tmp_path / "run.pt")
    assert resumed[0].weight.device.type == "cuda"
    assert torch.equal(straight[0].weight, resumed[0].weight)  # CUDA dropout masks restored too
