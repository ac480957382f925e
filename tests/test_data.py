"""Offline data loaders."""

import numpy as np
import pytest

from dlbook.data import OFFLINE_IMAGES, load_digits_split, load_image, minibatches


def test_digits_split_is_stratified_and_scaled():
    split = load_digits_split(test_size=0.25, seed=0)
    assert len(split.X_train) + len(split.X_test) == 1797
    assert split.X_train.shape[1:] == (64,) and 0.0 <= split.X_train.min() and split.X_train.max() == 1.0
    train_freq = np.bincount(split.y_train) / len(split.y_train)
    test_freq = np.bincount(split.y_test) / len(split.y_test)
    assert np.abs(train_freq - test_freq).max() < 0.01  # stratified
    assert split.n_classes == 10


def test_validation_set_is_carved_from_training_and_leaves_the_test_set_alone():
    plain = load_digits_split(test_size=0.25, seed=0)
    split = load_digits_split(test_size=0.25, seed=0, val_size=0.2)
    assert len(plain.X_val) == 0 and len(plain.y_val) == 0
    assert np.array_equal(split.X_test, plain.X_test) and np.array_equal(split.y_test, plain.y_test)
    # 20% of 1,797 digits, rounded up by scikit-learn's split
    assert len(split.y_val) == int(np.ceil(0.2 * 1797)) and len(split.y_train) + len(split.y_val) == len(plain.y_train)
    # train and validation together are exactly the old training set
    together = sorted(r.tobytes() for r in np.concatenate([split.X_train, split.X_val]))
    assert together == sorted(r.tobytes() for r in plain.X_train)
    val_freq = np.bincount(split.y_val) / len(split.y_val)
    train_freq = np.bincount(split.y_train) / len(split.y_train)
    assert np.abs(val_freq - train_freq).max() < 0.01  # stratified


def test_digits_images_and_determinism():
    a, b = load_digits_split(flatten=False, seed=1), load_digits_split(flatten=False, seed=1)
    assert a.X_train.shape[1:] == (1, 8, 8)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, load_digits_split(flatten=False, seed=2).y_test)


@pytest.mark.parametrize("name", ["camera", "astronaut", "coins"])
def test_load_image(name):
    image = load_image(name)
    assert image.dtype == np.float64 and 0.0 <= image.min() and image.max() <= 1.0
    gray = load_image(name, gray=True)
    assert gray.ndim == 2 and gray.shape == image.shape[:2]


def test_every_offline_image_loads_without_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("a loader tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    for name in OFFLINE_IMAGES:
        assert load_image(name).size > 0


def test_minibatches_cover_every_sample_once():
    X, y = np.arange(10)[:, None], np.arange(10)
    batches = list(minibatches(X, y, 4, np.random.default_rng(0)))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    assert all(np.array_equal(xb[:, 0], yb) for xb, yb in batches)


def test_bad_input():
    with pytest.raises(ValueError, match="test_size"):
        load_digits_split(test_size=1.5)
    with pytest.raises(ValueError, match=r"val_size must be a fraction in \[0, 1 - test_size\)"):
        load_digits_split(test_size=0.25, val_size=0.75)
    with pytest.raises(ValueError, match="unknown or non-offline image"):
        load_image("lena")
    with pytest.raises(ValueError, match="same length"):
        next(minibatches(np.zeros((3, 1)), np.zeros(2), 2))
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(np.zeros((3, 1)), np.zeros(3), 0))
