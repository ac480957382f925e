import random

import numpy as np
import pytest
import torch

from dlbook.seeding import seed_everything


def test_same_seed_same_numbers_everywhere():
    draws = []
    for _ in range(2):
        rng = seed_everything(3)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item(), rng.random()))
    assert draws[0] == draws[1]
    seed_everything(4)
    assert (random.random(), np.random.rand()) != draws[0][:2]


def test_bad_seed():
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(1.5)
