"""Where torch code runs: the GPU when there is one, else the CPU."""

from __future__ import annotations

import torch


def best_device() -> torch.device:
    """``cuda`` when a CUDA device is available, otherwise ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device=None) -> torch.device:
    """None means :func:`best_device`; a string or torch.device is taken as given."""
    return best_device() if device is None else torch.device(device)
