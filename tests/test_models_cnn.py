"""The chapter-4 digits CNN: NumPy network == torch twin (forward, backward, every gradient),
it learns, and the torch training loop is seeded and device-aware."""

import numpy as np
import pytest
import torch

import dlbook.nn as nn
from dlbook.check import against_torch
from dlbook.data import load_digits_split
from dlbook.models import digits_cnn, digits_cnn_torch
from dlbook.optim import Adam
from dlbook.torch_training import evaluate_torch, fit_torch
from dlbook.training import fit


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(flatten=False)


@pytest.fixture(autouse=True)
def one_thread():
    """These networks multiply a few thousand numbers per step: a second thread only adds
    syncing, and on a shared 2-core machine a busy-waiting thread pool turns a 0.1 s run
    into tens of seconds. train_digits_cnn(_torch) limit themselves the same way."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


def test_numpy_network_matches_its_torch_twin_float64(digits):
    model = digits_cnn(8, seed=3, dtype=np.float64)
    report = against_torch(model, digits.X_train[:16], device="cpu")
    assert report.max_rel <= 1e-10
    assert any(name.startswith("d0.") for name in report.errors)  # the first conv's gradient was compared


@pytest.mark.gpu
def test_numpy_network_matches_its_torch_twin_on_cuda(digits):
    model = digits_cnn(8, seed=3, dtype=np.float64)
    assert against_torch(model, digits.X_train[:16], device="cuda").max_rel <= 1e-10
    twin = digits_cnn_torch(8, seed=3, device="cuda")
    assert all(p.device.type == "cuda" for p in twin.parameters())


def test_shapes_and_parameter_count():
    model = digits_cnn(16, seed=0)
    y = model(np.zeros((5, 1, 8, 8), np.float32))
    assert y.shape == (5, 10) and y.dtype == np.float32
    expected = (16 * 9 + 2 * 16) + (32 * 16 * 9 + 2 * 32) + (128 * 10 + 10)  # conv, BN, conv, BN, linear
    twin = digits_cnn_torch(16, seed=0, device="cpu")
    assert model.parameter_count() == expected == sum(p.numel() for p in twin.parameters())


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = digits_cnn(seed=1), digits_cnn(seed=1), digits_cnn(seed=2)
    wa, wb, wc = (m.named_parameters()["0.weight"] for m in (a, b, c))
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, wc)


def test_numpy_cnn_learns_digits_in_a_few_epochs(digits):
    model = digits_cnn(8, seed=0)
    history = fit(model, nn.CrossEntropyLoss(), Adam(model, lr=3e-3), digits.X_train.astype(np.float32),
                  digits.y_train, digits.X_test.astype(np.float32), digits.y_test, epochs=3, batch_size=32,
                  progress=False)
    assert history.val_acc[-1] > 0.9 and history.train_loss[-1] < history.train_loss[0]


def test_torch_loop_is_seeded_and_learns(digits):
    X, y = digits.X_train[:600].astype(np.float32), digits.y_train[:600]
    runs = [fit_torch(digits_cnn_torch(8, seed=0, device="cpu"), X, y, digits.X_test.astype(np.float32),
                      digits.y_test, epochs=3, batch_size=32, lr=3e-3, seed=0, device="cpu", progress=False)
            for _ in range(2)]
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_acc == runs[1].val_acc
    assert runs[0].val_acc[-1] > 0.85 and runs[0].train_loss[-1] < runs[0].train_loss[0]


def test_evaluate_torch_counts_correct_predictions():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
        model[1].bias.zero_()
    X = np.array([[[[2, 0], [0, 0]]], [[[0, 2], [0, 0]]], [[[0, 3], [0, 0]]]], np.float32)
    loss, acc = evaluate_torch(model, X, np.array([0, 1, 0]), device="cpu")
    assert acc == pytest.approx(2 / 3)
    expected = np.mean([np.log1p(np.exp(-2)), np.log1p(np.exp(-2)), np.log1p(np.exp(3))])
    assert loss == pytest.approx(expected, rel=1e-6)


def test_bad_arguments_are_refused(digits):
    with pytest.raises(ValueError, match="width"):
        digits_cnn(0)
    with pytest.raises(ValueError, match="optimizer"):
        fit_torch(digits_cnn_torch(device="cpu"), digits.X_train[:4], digits.y_train[:4], optimizer="lbfgs",
                  device="cpu")
    with pytest.raises(ValueError, match="same length"):
        fit_torch(digits_cnn_torch(device="cpu"), digits.X_train[:4], digits.y_train[:3], device="cpu")
