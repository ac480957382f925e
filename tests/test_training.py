"""The NumPy training loop: it learns, it is reproducible, and it evaluates in eval mode."""

import numpy as np
import pytest

from dlbook import nn, optim
from dlbook.data import load_digits_split
from dlbook.training import evaluate, fit


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def _mlp(seed=0):
    return nn.Sequential(nn.Linear(64, 32, dtype=np.float64, seed=seed), nn.ReLU(), nn.Dropout(0.2, seed=seed),
                         nn.Linear(32, 10, dtype=np.float64, seed=seed + 1))


def test_fit_learns_digits(digits):
    model = _mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model, lr=0.1, momentum=0.9),
                  digits.X_train, digits.y_train, digits.X_test, digits.y_test, epochs=8, batch_size=32,
                  track={"norm": nn.weight_norm}, progress=False)
    assert len(history.train_loss) == len(history.val_acc) == len(history.tracked["norm"]) == 8
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.val_acc[-1] > 0.9  # chance is 0.1
    assert history.tracked["norm"][-1] == pytest.approx(nn.weight_norm(model))
    assert model.training  # fit leaves the model in training mode, evaluate restores it


def test_fit_is_reproducible(digits):
    runs = []
    for _ in range(2):
        model = _mlp()
        runs.append(fit(model, nn.CrossEntropyLoss(), optim.Adam(model, lr=1e-2), digits.X_train[:200],
                        digits.y_train[:200], epochs=2, seed=3, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_evaluate_uses_eval_mode(digits):
    model = _mlp()
    X, y = digits.X_test, digits.y_test
    model.eval()
    expected = float(nn.CrossEntropyLoss()(model(X), y))
    model.train()
    loss, acc = evaluate(model, nn.CrossEntropyLoss(), X, y, batch_size=100)
    assert loss == pytest.approx(expected, rel=1e-12)  # dropout off, batches weighted by size
    assert model.training and 0 <= acc <= 1


def test_regression_targets_give_nan_accuracy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1, dtype=np.float64, seed=0)
    history = fit(model, nn.MSELoss(), optim.SGD(model, lr=0.1), X, y, epochs=30, batch_size=8, progress=False)
    assert np.isnan(history.train_acc[-1]) and history.train_loss[-1] < 1e-3


def test_bad_arguments(digits):
    model = _mlp()
    opt = optim.SGD(model, lr=0.1)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit(model, nn.CrossEntropyLoss(), opt, digits.X_train, digits.y_train, epochs=0)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        fit(model, nn.CrossEntropyLoss(), opt, digits.X_train, digits.y_train, digits.X_test)
