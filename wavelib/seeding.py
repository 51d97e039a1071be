"""The one seeding function of the book."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator

import numpy as np
import torch

#: held while a thread uses torch's global random state (:func:`isolated_rng`)
_GLOBAL_RNG = threading.RLock()


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


@contextlib.contextmanager
def isolated_rng(seed: int | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Torch's global random state for this thread alone inside the block: seeded with ``seed`` (left as it is
    for None), and restored on exit (the CPU's, and ``device``'s where it is CUDA).

    Every draw from the global state during training (model initialisation) happens in such a block, so runs
    trained at the same time in threads (:mod:`wavelib.grid`) get exactly the numbers they would alone; another
    thread entering waits until the block ends.
    """
    device = torch.device(device)
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(int(seed))
        yield
