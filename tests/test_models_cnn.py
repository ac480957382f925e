"""The chapter-4 digits CNN (dlbook.models.cnn): NumPy network == torch twin (forward, backward,
every gradient), and both learn under dlbook.train.fit, the torch one seeded."""

import numpy as np
import pytest
import torch

import dlbook.nn as nn
from dlbook.check import against_torch
from dlbook.data import load_digits_split
from dlbook.models import digits_cnn, digits_cnn_torch
from dlbook.optim import Adam
from dlbook.train import fit


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
    assert any(name.startswith("d0.") for name in report.errors)  # the first conv's gradient was compared


@pytest.mark.gpu
def test_numpy_network_matches_its_torch_twin_on_cuda(digits):
    model = digits_cnn(8, seed=3, dtype=np.float64)
    against_torch(model, digits.X_train[:16], device="cuda")  # raises beyond 1e-10, float64's default
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
    wa, wb, wc = (dict(m.named_parameters())["0.weight"] for m in (a, b, c))
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, wc)


def test_numpy_cnn_learns_digits_in_a_few_epochs(digits):
    model = digits_cnn(8, seed=0)
    history = fit(model, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=3e-3), digits.X_train.astype(np.float32),
                  digits.y_train, digits.X_test.astype(np.float32), digits.y_test, epochs=3, batch_size=32,
                  progress=False)
    assert history.val_acc[-1] > 0.9 and history.train_loss[-1] < history.train_loss[0]


def test_torch_twin_learns_under_fit_and_is_seeded(digits):
    X, y = digits.X_train[:600].astype(np.float32), digits.y_train[:600]
    runs = []
    for _ in range(2):
        model = digits_cnn_torch(8, seed=0, device="cpu")
        runs.append(fit(model, torch.nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=3e-3), X, y,
                        digits.X_test.astype(np.float32), digits.y_test, epochs=3, batch_size=32, seed=0,
                        device="cpu", progress=False))
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_acc == runs[1].val_acc
    assert runs[0].val_acc[-1] > 0.85 and runs[0].train_loss[-1] < runs[0].train_loss[0]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="width"):
        digits_cnn(0)
