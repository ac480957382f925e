"""One call that makes a page or a test repeatable."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's, NumPy's global and torch's generators (CPU and CUDA); return a fresh NumPy Generator."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)
