"""Chapter 1's experiments (dlbook.experiments.basics): the linear classifier trained by
dlbook.train.fit, against torch step for step, and the nearest-class-mean baseline."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from dlbook import nn
from dlbook.check import rel_error
from dlbook.experiments.basics import (linear_classifier, nearest_class_mean_predict, sweep_digits,
                                       train_linear_classifier, train_on_digits)
from dlbook.train import History, evaluate


def test_linear_classifier_starts_from_small_gaussian_weights_and_zero_bias():
    model = linear_classifier(300, 10, init_std=0.05, seed=0)
    assert isinstance(model, nn.Linear) and model.weight.shape == (10, 300) and model.dtype == np.float64
    assert not model.bias.any()
    assert stats.kstest(np.asarray(model.weight).ravel(), stats.norm(0, 0.05).cdf).pvalue > 1e-3
    np.testing.assert_array_equal(model.weight, linear_classifier(300, 10, init_std=0.05, seed=0).weight)


def _torch_sgd_steps(weight, bias, X, y, loss, weight_decay, lr, steps):
    """Full-batch SGD in torch on the mean loss + (λ/2)‖W‖² (the bias is not decayed)."""
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.array(weight)))
        linear.bias.copy_(torch.from_numpy(np.array(bias)))
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(steps):
        linear.zero_grad()
        scores = linear(X)
        data = F.cross_entropy(scores, y) if loss == "softmax" else F.multi_margin_loss(scores, y)
        (data + 0.5 * weight_decay * (linear.weight ** 2).sum()).backward()
        with torch.no_grad():
            for p in linear.parameters():
                p -= lr * p.grad
    return linear.weight.detach().numpy(), linear.bias.detach().numpy()


@pytest.mark.parametrize("loss", ["softmax", "svm"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_training_matches_torch_with_the_penalty_on_the_weight_only(loss, weight_decay):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 7)), rng.integers(0, 4, 20)
    model = linear_classifier(7, 4, init_std=1.0, seed=1)
    model.bias[...] = rng.standard_normal(4)  # a decayed bias would then move differently
    w_t, b_t = _torch_sgd_steps(model.weight, model.bias, X, y, loss, weight_decay, lr=0.3, steps=3)
    history = train_linear_classifier(model, X, y, loss=loss, weight_decay=weight_decay, epochs=3, lr=0.3,
                                      batch_size=len(X), progress=False)
    assert isinstance(history, History) and len(history.train_loss) == 3
    assert rel_error(model.weight, w_t) < 1e-12
    assert rel_error(model.bias, b_t) < 1e-12


def test_training_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 2)) * 5
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.standard_normal((300, 2)) * 0.3
    model = linear_classifier(2, 3, seed=0)
    history = train_linear_classifier(model, X, y, epochs=30, lr=0.5, progress=False)
    assert history.train_loss[-1] < 0.2 * history.train_loss[0]
    assert history.train_acc[-1] > 0.97
    assert evaluate(model, nn.CrossEntropyLoss(), X, y)[1] == history.train_acc[-1]


def test_training_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    weights = []
    for seed in (7, 7, 8):
        model = linear_classifier(3, 2, seed=4)
        train_linear_classifier(model, X, y, epochs=3, lr=0.1, batch_size=8, seed=seed, progress=False)
        weights.append(np.array(model.weight))
    np.testing.assert_array_equal(weights[0], weights[1])
    assert not np.array_equal(weights[0], weights[2])  # the seed sets the batch order


def test_train_on_digits_validates_on_the_validation_set_and_beats_the_baseline():
    from dlbook.data import load_digits_split

    result = train_on_digits(features="pixels", epochs=20)
    split = load_digits_split(val_size=0.2)
    history = result["history"]
    assert isinstance(history, History) and len(history.train_loss) == len(history.val_loss) == 20
    model = linear_classifier(64, 10)
    model.weight[...], model.bias[...] = result["weight"], result["bias"]
    loss_fn = nn.CrossEntropyLoss()
    # the curves are measured on the training and validation sets, not on the test set
    assert evaluate(model, loss_fn, split.X_train, split.y_train)[1] == history.train_acc[-1]
    assert evaluate(model, loss_fn, split.X_val, split.y_val) == (history.val_loss[-1], history.val_acc[-1])
    assert result["val_acc"] == history.val_acc[-1]
    assert result["test_acc"] == evaluate(model, loss_fn, split.X_test, split.y_test)[1]
    baseline = np.mean(nearest_class_mean_predict(split.X_train, split.y_train, split.X_test) == split.y_test)
    assert result["test_acc"] > baseline > 0.5
    assert result["weight"].shape == (10, 64) and result["bias"].shape == (10,) and result["n_features"] == 64


def test_sweep_records_the_runs_train_on_digits_would_make():
    sweep = sweep_digits([0.3, 1.0], [0.0, 1e-2], epochs=4)
    assert list(sweep["lrs"]) == [0.3, 1.0] and list(sweep["weight_decays"]) == [0.0, 1e-2]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert sweep[key].shape == (2, 2, 4)
    # a shorter run with the same settings stops where the sweep measured that epoch
    run = train_on_digits(epochs=3, lr=1.0, weight_decay=1e-2)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        np.testing.assert_array_equal(getattr(run["history"], key), sweep[key][1, 1, :3])
    assert not np.array_equal(sweep["val_loss"][0, 0], sweep["val_loss"][1, 0])  # lr matters
    assert not np.array_equal(sweep["val_loss"][1, 0], sweep["val_loss"][1, 1])  # decay matters


def test_nearest_class_mean_predicts_the_closest_mean():
    X_train = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 10.0], [10.0, 12.0]])
    y_train = np.array([3, 3, 7, 7])
    assert list(nearest_class_mean_predict(X_train, y_train, np.array([[1.0, 1.0], [9.0, 9.0]]))) == [3, 7]


def test_bad_input():
    model = linear_classifier(4, 3)
    with pytest.raises(ValueError, match=r"Linear expects input of shape \(\.\.\., 4\)"):
        train_linear_classifier(model, np.zeros((2, 5)), np.array([0, 1]), progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_linear_classifier(model, np.zeros((2, 4)), np.array([0, 1]), loss="hinge")
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        train_linear_classifier(model, np.zeros((2, 4)), np.array([0, 1]), weight_decay=-1)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        linear_classifier(4, 1)
    with pytest.raises(ValueError, match="X_train"):
        nearest_class_mean_predict(np.zeros((2, 3)), np.array([0, 1]), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="one label per training row"):
        nearest_class_mean_predict(np.zeros((3, 2)), np.array([0, 1]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="val_size must be > 0"):
        train_on_digits(epochs=1, val_size=0.0)
    with pytest.raises(ValueError, match="val_size must be > 0"):
        sweep_digits([0.1], [0.0], epochs=1, val_size=0.0)
