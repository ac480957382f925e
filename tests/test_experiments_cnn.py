"""Chapter 4's experiments (dlbook.experiments.cnn): the digits CNN trained in NumPy and in torch by
the same loop, with the same seed, gives the same curves; the NumPy run's state_dict reloads."""

import numpy as np
import pytest

from dlbook import nn
from dlbook.data import load_digits_split
from dlbook.experiments.cnn import train_digits_cnn, train_digits_cnn_torch
from dlbook.models import digits_cnn
from dlbook.train import evaluate


@pytest.fixture(scope="module")
def runs():
    return train_digits_cnn(width=4, epochs=1), train_digits_cnn_torch(width=4, epochs=1, device="cpu")


def test_numpy_and_torch_runs_agree_after_one_epoch(runs):
    """Same initial weights, batch order and Adam steps (the cosine schedule only acts after the epoch):
    the two float32 runs differ by rounding only."""
    ours, theirs = (r["history"] for r in runs)
    for curve in ("train_loss", "val_loss"):
        assert getattr(ours, curve) == pytest.approx(getattr(theirs, curve), rel=1e-5), curve
    assert runs[1]["device"] == "cpu"


def test_numpy_run_returns_a_state_dict_that_reloads(runs):
    result = runs[0]
    model = digits_cnn(4, seed=1)
    assert list(result["state_dict"]) == list(model.state_dict())
    assert all(type(v) is np.ndarray for v in result["state_dict"].values())  # copies, not the live parameters
    model.load_state_dict(result["state_dict"])
    split = load_digits_split(flatten=False)
    acc = evaluate(model, nn.CrossEntropyLoss(), split.X_test.astype(np.float32), split.y_test)[1]
    assert acc == result["test_acc"] == result["history"].val_acc[-1]
