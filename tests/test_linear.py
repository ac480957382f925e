"""Chapter 1's linear classifier: scores, gradients against torch, training, baseline."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.check import numerical_gradient, rel_error
from dlbook.linear import LinearClassifier, nearest_class_mean_predict, train_on_digits


def _torch_twin(model, X, y):
    linear = torch.nn.Linear(model.weight.shape[1], model.weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(model.weight))
        linear.bias.copy_(torch.from_numpy(model.bias))
    scores = linear(torch.from_numpy(X))
    target = torch.from_numpy(y)
    data = F.cross_entropy(scores, target) if model.loss_name == "softmax" else F.multi_margin_loss(scores, target)
    loss = data + 0.5 * model.weight_decay * (linear.weight ** 2).sum()
    loss.backward()
    return loss.item(), linear.weight.grad.numpy(), linear.bias.grad.numpy()


@pytest.mark.parametrize("loss", ["softmax", "svm"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_loss_and_grads_match_torch(loss, weight_decay):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 7)), rng.integers(0, 4, 20)
    model = LinearClassifier(7, 4, loss=loss, weight_decay=weight_decay, seed=1, init_std=1.0)
    value, grads = model.loss_and_grads(X, y)
    value_t, dW_t, db_t = _torch_twin(model, X, y)
    assert rel_error(value, value_t) < 1e-12
    assert rel_error(grads["weight"], dW_t) < 1e-12
    assert rel_error(grads["bias"], db_t) < 1e-12


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    model = LinearClassifier(5, 3, weight_decay=0.05, seed=0, init_std=0.5)
    _, grads = model.loss_and_grads(X, y)
    numeric = numerical_gradient(lambda: model.loss_and_grads(X, y)[0], model.weight)
    assert rel_error(grads["weight"], numeric) < 1e-7


def test_scores_are_Wx_plus_b():
    rng = np.random.default_rng(1)
    model = LinearClassifier(6, 4, seed=2)
    model.bias[:] = rng.standard_normal(4)
    X = rng.standard_normal((3, 6))
    assert np.allclose(model.scores(X)[1], model.weight @ X[1] + model.bias)


def test_fit_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 2)) * 5
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.standard_normal((300, 2)) * 0.3
    model = LinearClassifier(2, 3, seed=0)
    history = model.fit(X, y, epochs=30, lr=0.5, progress=False)
    assert history["train_loss"][-1] < 0.2 * history["train_loss"][0]
    assert model.accuracy(X, y) > 0.97


def test_fit_is_deterministic():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    runs = [LinearClassifier(3, 2, seed=4) for _ in range(2)]
    for model in runs:
        model.fit(X, y, epochs=3, lr=0.1, seed=7, progress=False)
    assert np.array_equal(runs[0].weight, runs[1].weight)


def test_train_on_digits_beats_nearest_mean_baseline():
    result = train_on_digits(features="pixels", epochs=20)
    from dlbook.data import load_digits_split

    split = load_digits_split()
    baseline = np.mean(nearest_class_mean_predict(split.X_train, split.y_train, split.X_test) == split.y_test)
    assert result["test_acc"] > baseline > 0.5
    assert result["weight"].shape == (10, 64) and len(result["history"]["train_loss"]) == 20


def test_nearest_class_mean_predicts_the_closest_mean():
    X_train = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 10.0], [10.0, 12.0]])
    y_train = np.array([3, 3, 7, 7])
    assert list(nearest_class_mean_predict(X_train, y_train, np.array([[1.0, 1.0], [9.0, 9.0]]))) == [3, 7]


def test_bad_input():
    model = LinearClassifier(4, 3)
    with pytest.raises(ValueError, match=r"X of shape \(N, 4\)"):
        model.scores(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="loss must be one of"):
        LinearClassifier(4, 3, loss="hinge")
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        LinearClassifier(4, 3, weight_decay=-1)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        LinearClassifier(4, 1)
    with pytest.raises(ValueError, match="lr > 0"):
        model.fit(np.zeros((2, 4)), np.array([0, 1]), lr=0)
    with pytest.raises(ValueError, match="X_train"):
        nearest_class_mean_predict(np.zeros((2, 3)), np.array([0, 1]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one label per training row"):
        nearest_class_mean_predict(np.zeros((3, 2)), np.array([0, 1]), np.zeros((2, 2)))
