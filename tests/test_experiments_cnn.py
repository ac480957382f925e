"""Chapter 4's experiments (dlbook.experiments.cnn): the digits CNN trained in NumPy and in torch by
the same loop, with the same seed, gives the same curves; both are monitored on the validation split,
never the test split; the state_dicts they return reload into the networks."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.data import load_digits_split
from dlbook.experiments.cnn import train_digits_cnn, train_digits_cnn_torch
from dlbook.models import digits_cnn, digits_cnn_torch
from dlbook.train import evaluate


@pytest.fixture(scope="module")
def runs():
    return (train_digits_cnn(width=4, epochs=1, val_size=0.2),
            train_digits_cnn_torch(width=4, epochs=1, val_size=0.2, device="cpu"))


@pytest.fixture(scope="module")
def split():
    return load_digits_split(flatten=False, val_size=0.2)


def test_numpy_and_torch_runs_agree_after_one_epoch(runs):
    """Same initial weights, batch order and Adam steps (the cosine schedule only acts after the epoch):
    the two float32 runs differ by rounding only."""
    ours, theirs = (r["history"] for r in runs)
    for curve in ("train_loss", "val_loss"):
        assert getattr(ours, curve) == pytest.approx(getattr(theirs, curve), rel=1e-5), curve
    assert runs[1]["device"] == "cpu"


def test_runs_are_monitored_on_the_validation_split(runs, split):
    """The reported accuracy is the validation split's; the test split is not touched."""
    result = runs[0]
    model = digits_cnn(4, seed=1)
    model.load_state_dict(result["state_dict"])
    X_val = split.X_val.astype(np.float32)
    acc = evaluate(model, nn.CrossEntropyLoss(), X_val, split.y_val)[1]
    assert acc == result["val_acc"] == result["history"].val_acc[-1]
    assert all("test" not in key for r in runs for key in r)


def test_numpy_run_returns_a_state_dict_of_copies(runs):
    result = runs[0]
    assert list(result["state_dict"]) == list(digits_cnn(4).state_dict())
    assert all(type(v) is np.ndarray for v in result["state_dict"].values())  # copies, not the live parameters


def test_torch_run_returns_a_state_dict_that_reloads(runs, split):
    result = runs[1]
    twin = digits_cnn_torch(4, seed=1, device="cpu")
    twin.load_state_dict(result["state_dict"])
    assert all(v.device.type == "cpu" for v in result["state_dict"].values())
    acc = evaluate(twin, torch.nn.CrossEntropyLoss(), split.X_val.astype(np.float32), split.y_val)[1]
    assert acc == result["val_acc"]


def test_a_validation_split_is_required():
    with pytest.raises(ValueError, match="val_size"):
        train_digits_cnn(width=4, epochs=1, val_size=0.0)
