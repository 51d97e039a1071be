"""The one seeding function of the book."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch (every device) with ``seed``; return a NumPy Generator from it.

    Same seed on the same device gives the same result. Code that needs independent streams
    derives them as ``np.random.default_rng([seed, k, ...])``.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))
