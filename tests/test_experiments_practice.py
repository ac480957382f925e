"""Chapter 8's experiment functions (dlbook.experiments.practice) on tiny settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import LabelBinarizer

from dlbook.experiments import practice
from dlbook.train import History


@pytest.fixture(scope="module")
def named_digits():
    return practice.digits_with_names()


def test_digits_carry_their_names(named_digits):
    images, labels = named_digits
    digits = load_digits()
    assert images.shape == (1797, 8, 8) and images.min() == 0.0 and images.max() == 1.0
    assert np.array_equal(images * 16, digits.images)
    assert [practice.DIGIT_NAMES.index(name) for name in labels] == digits.target.tolist()


def test_prepare_splits_stratified_and_indexes_by_the_binarizer(named_digits):
    images, labels = named_digits
    data = practice.prepare(images, labels, val_size=0.2, test_size=0.2, seed=0)
    sizes = {part: len(data[f"X_{part}"]) for part in ("train", "val", "test")}
    assert sum(sizes.values()) == 1797 and abs(sizes["test"] - 0.2 * 1797) <= 1
    assert abs(sizes["val"] - 0.2 * 1797) <= 1
    assert data["classes"] == sorted(practice.DIGIT_NAMES)  # LabelBinarizer sorts its classes
    assert data["X_train"].shape[1:] == (64,) and data["X_train"].dtype == np.float32
    # every picture is in exactly one set: the rows, as bytes, are all distinct and all there
    rows = {x.tobytes() for part in ("train", "val", "test") for x in data[f"X_{part}"]}
    assert len(rows) == len({x.astype(np.float32).tobytes() for x in images.reshape(-1, 64)})
    # the index is the position of the name among the sorted classes
    binarizer = LabelBinarizer().fit(labels)
    names = np.array(data["classes"])[data["y_test"]]
    assert np.array_equal(binarizer.transform(names).argmax(1), data["y_test"])
    counts = np.bincount(data["y_test"], minlength=10)
    assert counts.max() - counts.min() <= 2  # stratified: about 36 of each digit
    small = practice.prepare(images, labels, train_size=100, flatten=False, seed=0)
    assert small["X_train"].shape == (100, 1, 8, 8) and len(small["X_test"]) == sizes["test"]
    assert np.array_equal(small["X_test"][:, 0].reshape(-1, 64), data["X_test"])  # same test set


def test_prepare_refuses_what_it_cannot_one_hot(named_digits):
    images, labels = named_digits
    two = np.isin(labels, ["zero", "one"])
    with pytest.raises(ValueError, match="at least 3 classes"):
        practice.prepare(images[two], labels[two])
    with pytest.raises(ValueError, match=r"images \(N, H, W\)"):
        practice.prepare(images.reshape(-1, 64), labels)
    with pytest.raises(ValueError, match="train_size"):
        practice.prepare(images, labels, train_size=5000)


def test_keras_initialization():
    model = practice.practice_mlp(64, (512, 256), 10, seed=0)
    first = model[0].weight.detach()
    limit = np.sqrt(6 / (64 + 512))  # Glorot uniform
    assert float(first.abs().max()) <= limit and float(first.abs().max()) > 0.95 * limit
    assert all(float(m.bias.abs().max()) == 0 for m in model if isinstance(m, torch.nn.Linear))
    cut = practice.practice_mlp(64, (512, 256), 10, stddev=0.05, seed=0)
    w = cut[0].weight.detach()
    assert float(w.abs().max()) <= 0.1  # cut at 2 stddev
    # a normal cut at ±2σ keeps a std of 0.8796σ (the truncated normal's variance)
    assert abs(float(w.std()) / (0.05 * 0.8796) - 1) < 0.02
    assert torch.equal(practice.practice_mlp(seed=3)[0].weight, practice.practice_mlp(seed=3)[0].weight)


def test_practice_models_shapes_and_layers():
    mlp = practice.practice_mlp(activation="relu", dropout=0.5)
    assert [type(m).__name__ for m in mlp] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                                               "Linear"]
    assert mlp(torch.zeros(3, 64)).shape == (3, 10)
    cnn = practice.practice_cnn(batchnorm=True, conv_dropout=0.25, dense_dropout=0.5)
    assert cnn(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    convs = [m for m in cnn if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 and all(c.bias is None for c in convs)  # BatchNorm's shift instead
    assert sum(isinstance(m, torch.nn.Dropout) for m in cnn) == 3
    plain = practice.practice_cnn()
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout)) for m in plain)
    with pytest.raises(ValueError, match="activation"):
        practice.practice_mlp(activation="softmax")
    with pytest.raises(ValueError, match="dropout"):
        practice.practice_cnn(conv_dropout=1.0)


def test_digit_row_lstm_reads_rows_as_time_steps():
    torch.manual_seed(0)
    model = practice.DigitRowLSTM(input_size=8, hidden_size=16, classes=10)
    x = torch.randn(5, 1, 8, 8)
    # the same LSTM and readout, applied by hand: time steps are the rows
    output, _ = model.lstm(x[:, 0])
    assert torch.equal(model(x), model.classifier(output[:, -1]))
    assert torch.equal(model(x), model(x[:, 0]))
    twin = practice.DigitRowLSTM(**model.config)
    twin.load_state_dict(model.state_dict())
    assert torch.equal(twin(x), model(x))
    assert model.lstm.weight_ih_l0.shape == (4 * 16, 8)
    with pytest.raises(ValueError, match="DigitRowLSTM expects"):
        model(torch.zeros(5, 64))


def test_gap_and_epochs_to_reach():
    history = History(train_loss=[1.0, 0.5, 0.2, 0.1], val_loss=[1.1, 0.7, 0.6, 0.7])
    assert practice.train_val_gap(history, last=2) == pytest.approx(((0.6 - 0.2) + (0.7 - 0.1)) / 2,
                                                                     rel=1e-12)
    assert practice.epochs_to_reach(history.train_loss, 0.5) == 2
    assert practice.epochs_to_reach(history.train_loss, 0.01) is None
    with pytest.raises(ValueError, match="validation"):
        practice.train_val_gap(History(train_loss=[1.0]))


def test_train_mlp_is_seeded_and_learns(named_digits):
    images, labels = named_digits
    runs = [practice.train_mlp(images, labels, lr=1e-3, epochs=3, optimizer="adam", activation="relu",
                               train_size=200, seed=1, device="cpu", progress=False) for _ in range(2)]
    for key, value in runs[0]["state_dict"].items():
        assert np.array_equal(value, runs[1]["state_dict"][key]), key
    history = runs[0]["history"]
    assert history.epochs == 3 and len(history.val_acc) == 3
    assert history.train_loss[-1] < history.train_loss[0] < np.log(10) * 1.05
    assert runs[0]["sizes"]["train"] == 200 and runs[0]["config"]["activation"] == "relu"
    # the stored weights give the stored test accuracy
    model = practice.practice_mlp(**runs[0]["config"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in runs[0]["state_dict"].items()})
    data = practice.prepare(images, labels, train_size=200, seed=1)
    with torch.no_grad():
        predicted = model(torch.from_numpy(data["X_test"])).argmax(1).numpy()
    assert np.mean(predicted == data["y_test"]) == runs[0]["test_acc"]
    assert torch.get_num_threads() >= 1


def test_one_thread_inside_and_restored_after():
    before = torch.get_num_threads()
    with practice._one_thread(torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_train_cnn_and_lstm_run_one_epoch(named_digits):
    images, labels = named_digits
    cnn = practice.train_cnn(images, labels, batchnorm=True, epochs=1, train_size=100, device="cpu",
                             progress=False)
    assert cnn["history"].epochs == 1 and cnn["config"]["batchnorm"]
    assert any(k.endswith("running_mean") for k in cnn["state_dict"])
    lstm = practice.train_lstm(images, labels, rows="last only", hidden_size=8, epochs=1, device="cpu",
                               progress=False)
    assert lstm["config"] == dict(input_size=8, hidden_size=8, num_layers=1, classes=10)
    with pytest.raises(ValueError, match="rows"):
        practice.train_lstm(images, labels, rows="backwards")
