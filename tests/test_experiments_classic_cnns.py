"""Chapter 5's experiments (dlbook.experiments.classic_cnns): the degradation experiment
returns per-epoch curves for plain and residual networks of two depths, is deterministic
for a seed on the CPU, checks its arguments, runs on CUDA, and (slow) shows the paper's
result with the settings the chapter uses."""

import math

import numpy as np
import pytest
import torch

from dlbook.experiments.classic_cnns import (DEGRADATION_SETTINGS, KINDS,
                                             degradation_experiment)
from dlbook.models import cifar_resnet
from dlbook.train import History

TINY = dict(depths=(8, 14), epochs=2, batch_size=32, max_train=96, val_size=0.2)


@pytest.fixture(scope="module")
def tiny():
    return degradation_experiment(**TINY, seed=0, device="cpu")


def test_returns_a_curve_per_epoch_for_each_kind_and_depth(tiny):
    assert set(tiny["history"]) == set(tiny["train_error"]) == set(KINDS)
    for kind in KINDS:
        assert set(tiny["history"][kind]) == {8, 14}
        for depth in (8, 14):
            history = tiny["history"][kind][depth]
            assert isinstance(history, History) and history.epochs == 2
            assert len(history.train_loss) == len(history.val_acc) == 2
            errors = tiny["train_error"][kind][depth]
            assert len(errors) == 2 and all(type(e) is float for e in errors)
            assert all(0 <= e <= 1 for e in errors)
            # the training error is the training accuracy's complement, on 96 images
            for e, acc in zip(errors, history.train_acc):
                assert math.isclose(e + acc, 1.0, rel_tol=0, abs_tol=1e-12)
                assert math.isclose(e * 96, round(e * 96), rel_tol=0, abs_tol=1e-9)
    assert tiny["n_train"] == 96 and tiny["device"] == "cpu" and isinstance(tiny["seconds"], float)
    assert tiny["settings"] == dict(TINY, seed=0, lr=0.05, momentum=0.9,
                                    weight_decay=1e-4)


def test_plain_and_residual_have_the_same_parameters(tiny):
    """Option A: the shortcuts add no parameter, so the comparison is fair."""
    for depth, n in ((8, 1), (14, 2)):
        count = cifar_resnet(n, 10, 1).parameter_count()
        assert tiny["parameters"]["plain"][depth] == count
        assert tiny["parameters"]["residual"][depth] == count


def test_deterministic_for_a_seed_and_seed_dependent(tiny):
    again = degradation_experiment(**TINY, seed=0, device="cpu")
    other = degradation_experiment(**TINY, seed=1, device="cpu")
    for kind in KINDS:
        for depth in (8, 14):
            ours = tiny["history"][kind][depth]
            assert again["history"][kind][depth].train_loss == ours.train_loss
            assert again["history"][kind][depth].val_loss == ours.val_loss
            assert other["history"][kind][depth].train_loss != ours.train_loss


def test_plain_and_residual_runs_differ(tiny):
    """Same initial weights and batches: only the shortcuts tell the two runs apart."""
    for depth in (8, 14):
        assert (tiny["history"]["plain"][depth].train_loss
                != tiny["history"]["residual"][depth].train_loss)


def test_leaves_the_thread_count_as_it_was():
    threads = torch.get_num_threads()
    degradation_experiment(depths=(8, 14), epochs=1, max_train=32, batch_size=32,
                           device="cpu")
    assert torch.get_num_threads() == threads


def test_without_a_validation_split():
    result = degradation_experiment(depths=(8, 14), epochs=1, max_train=32,
                                    val_size=0.0, device="cpu")
    history = result["history"]["plain"][8]
    assert history.val_loss == [] and len(history.train_loss) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(depths=(8,)), r"depths must be two layer counts \(shallow, deep\)"),
    (dict(depths=8), r"depths must be two layer counts"),
    (dict(depths=(8, 21)), r"6n\+2 layers .* got depth 21"),
    (dict(depths=(2, 8)), r"6n\+2 layers .* got depth 2"),
    (dict(depths=(20, 8)), r"shallow < deep, got \(20, 8\)"),
    (dict(depths=(8, 8.0)), r"each depth must be a positive int, got 8.0"),
    (dict(epochs=0), r"epochs must be a positive int, got 0"),
    (dict(batch_size=0), r"batch_size must be a positive int"),
    (dict(lr=0.0), r"lr must be positive, got 0.0"),
    (dict(momentum=1.0), r"momentum must be in \[0, 1\), got 1.0"),
    (dict(weight_decay=-1e-4), r"weight_decay must be >= 0"),
    (dict(seed=-1), r"seed must be a non-negative int, got -1"),
    (dict(max_train=0), r"max_train must be a positive int, got 0"),
    (dict(val_size=0.9), r"val_size must be a fraction"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        degradation_experiment(**{"device": "cpu", **kwargs})


def test_the_chapter_settings_are_the_defaults():
    """The page passes DEGRADATION_SETTINGS explicitly; the defaults say the same."""
    import inspect

    defaults = {k: p.default for k, p in
                inspect.signature(degradation_experiment).parameters.items()}
    assert {k: defaults[k] for k in DEGRADATION_SETTINGS} == DEGRADATION_SETTINGS


@pytest.mark.gpu
def test_runs_on_cuda():
    result = degradation_experiment(depths=(8, 14), epochs=2, max_train=256,
                                    device="cuda")
    assert result["device"].startswith("cuda")
    for kind in KINDS:
        for depth in (8, 14):
            history = result["history"][kind][depth]
            assert len(history.train_loss) == 2
            assert np.all(np.isfinite(history.train_loss + history.val_loss))
            assert all(0 <= e <= 1 for e in result["train_error"][kind][depth])


@pytest.mark.slow
def test_the_deeper_plain_network_trains_worse_the_deeper_residual_one_does_not():
    """The chapter's run (seed 0, DEGRADATION_SETTINGS, about 15 s on one CPU thread).

    Over seeds 0-4 the 38-layer plain network ended with training errors 5.4%-47%
    against 0% for the 8-layer one; both residual networks ended at 0%, the 38-layer
    one with 0.3-0.54 times the 8-layer one's training loss. The bounds below: the plain
    gap is at least 1% of the training images (about ten of them, not a borderline digit
    or two), and the deeper residual network is no worse in error and better in loss.
    """
    result = degradation_experiment(**DEGRADATION_SETTINGS, seed=0)
    shallow, deep = DEGRADATION_SETTINGS["depths"]
    error = {k: {d: v[-1] for d, v in curves.items()}
             for k, curves in result["train_error"].items()}
    loss = {k: {d: h.train_loss[-1] for d, h in hs.items()}
            for k, hs in result["history"].items()}
    assert error["plain"][deep] > error["plain"][shallow] + 0.01
    assert loss["plain"][deep] > loss["plain"][shallow]
    assert error["residual"][deep] <= error["residual"][shallow]
    assert loss["residual"][deep] < loss["residual"][shallow]
    assert error["residual"][deep] < error["plain"][deep] - 0.01
