"""Layer cases shared by the tests of chapter 3's layers: a factory and an input shape each."""

from __future__ import annotations

import numpy as np

from dlbook import nn

def _with_slopes(layer):
    """Distinct slopes per channel, so a slope applied to the wrong channel shows."""
    layer.weight[...] = np.linspace(-0.2, 0.6, layer.num_parameters)
    return layer


# name -> (build(dtype) -> layer, input shape). Every layer of chapter 3 that maps x -> y.
LAYERS = {
    "Linear": (lambda dt: nn.Linear(7, 5, dtype=dt, seed=0), (6, 7)),
    "Linear-nobias": (lambda dt: nn.Linear(7, 5, bias=False, dtype=dt, seed=1), (6, 7)),
    "Linear-1d": (lambda dt: nn.Linear(7, 5, dtype=dt, seed=2), (7,)),
    "ReLU": (lambda dt: nn.ReLU(), (6, 7)),
    "LeakyReLU": (lambda dt: nn.LeakyReLU(0.2), (6, 7)),
    "PReLU": (lambda dt: nn.PReLU(init=0.3, dtype=dt), (6, 7)),
    "PReLU-channels": (lambda dt: _with_slopes(nn.PReLU(3, dtype=dt)), (4, 3, 5, 5)),
    "Sigmoid": (lambda dt: nn.Sigmoid(), (6, 7)),
    "Tanh": (lambda dt: nn.Tanh(), (3, 4, 5)),
    "Softmax": (lambda dt: nn.Softmax(dim=1), (6, 7)),
    "Softmax-dim0": (lambda dt: nn.Softmax(dim=0), (6, 7)),
    "LogSoftmax": (lambda dt: nn.LogSoftmax(dim=-1), (3, 4, 5)),
    "Dropout-eval": (lambda dt: nn.Dropout(0.4).eval(), (6, 7)),
    "BatchNorm1d": (lambda dt: nn.BatchNorm1d(7, dtype=dt), (6, 7)),
    "BatchNorm1d-NCL": (lambda dt: nn.BatchNorm1d(4, momentum=None, dtype=dt), (5, 4, 3)),
    "BatchNorm1d-noaffine": (lambda dt: nn.BatchNorm1d(7, affine=False, dtype=dt), (6, 7)),
    "BatchNorm1d-nostats": (lambda dt: nn.BatchNorm1d(7, track_running_stats=False, dtype=dt), (6, 7)),
    "BatchNorm1d-eval": (lambda dt: nn.BatchNorm1d(7, dtype=dt).eval(), (6, 7)),
    "BatchNorm2d": (lambda dt: nn.BatchNorm2d(3, eps=1e-3, momentum=0.3, dtype=dt), (4, 3, 5, 5)),
    "BatchNorm2d-eval": (lambda dt: nn.BatchNorm2d(3, dtype=dt).eval(), (4, 3, 5, 5)),
    "Flatten": (lambda dt: nn.Flatten(), (4, 3, 2, 2)),
    "PixelShuffle": (lambda dt: nn.PixelShuffle(2), (2, 8, 3, 3)),
    "PixelUnshuffle": (lambda dt: nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    "Sequential": (lambda dt: nn.Sequential(nn.Flatten(), nn.Linear(12, 8, bias=False, dtype=dt, seed=3), nn.BatchNorm1d(8, dtype=dt),
                                            nn.ReLU(), nn.Dropout(0.5).eval(), nn.Linear(8, 3, dtype=dt, seed=4),
                                            nn.LogSoftmax(dim=1)), (5, 3, 2, 2)),
}

# name -> (build() -> loss layer, input shape, target maker(rng, shape, dtype))
def _classes(rng, shape, dtype):
    return rng.integers(0, shape[1], shape[0])


def _values(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _probabilities(rng, shape, dtype):
    return rng.uniform(size=shape).astype(dtype)


LOSSES = {
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(), (6, 4), _classes),
    "CrossEntropyLoss-sum": (lambda: nn.CrossEntropyLoss(reduction="sum"), (6, 4), _classes),
    "CrossEntropyLoss-none": (lambda: nn.CrossEntropyLoss(reduction="none"), (6, 4), _classes),
    "MultiMarginLoss": (lambda: nn.MultiMarginLoss(), (6, 4), _classes),
    "MultiMarginLoss-p2": (lambda: nn.MultiMarginLoss(p=2, margin=0.7, reduction="sum"), (6, 4), _classes),
    "MultiMarginLoss-none": (lambda: nn.MultiMarginLoss(reduction="none"), (6, 4), _classes),
    "MSELoss": (lambda: nn.MSELoss(), (6, 4), _values),
    "MSELoss-sum": (lambda: nn.MSELoss(reduction="sum"), (2, 3, 4), _values),
    "MSELoss-none": (lambda: nn.MSELoss(reduction="none"), (6, 4), _values),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), (6, 4), _probabilities),
    "BCEWithLogitsLoss-none": (lambda: nn.BCEWithLogitsLoss(reduction="none"), (6, 4), _probabilities),
}


def make_input(shape, dtype, seed=10) -> np.ndarray:
    # (against_torch draws its dy from a separate stream, so dy is never a copy of x)
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
