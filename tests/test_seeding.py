"""The one seeding function: every generator the book draws from is seeded, and bad seeds are refused
(``isolated_rng``'s tests are with the threads that use it, in test_grid.py)."""

import random

import numpy as np
import pytest
import torch

from wavelib.seeding import seed_everything


def _draws(rng: np.random.Generator) -> tuple:
    return random.random(), np.random.rand(), torch.rand(1).item(), rng.random()


def test_the_same_seed_gives_the_same_draws_from_every_generator():
    first = _draws(seed_everything(7))
    assert _draws(seed_everything(7)) == first
    assert all(a != b for a, b in zip(_draws(seed_everything(8)), first))
    assert first[3] == np.random.default_rng(7).random()  # the returned generator is default_rng(seed)
    assert _draws(seed_everything(np.int64(7))) == first


@pytest.mark.parametrize("seed", [-1, 1.5, "3", None])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(seed)
