"""The Gluon "columns" Wave-RNN kernels (:mod:`wavelib.models.wave_rnn_columns`) against the float64 reference
loop and the default "tiles" kernels.

A candidate kernel, used by no chapter yet: ``scripts/gpu_session.py`` runs this file as a check of its own, so a
failure here turns off nothing the chapters use. The numerical tests need CUDA (Triton's interpreter does not run
Gluon) and are skipped elsewhere with the reason; the refusal test runs wherever triton can run.
"""

from __future__ import annotations

import pytest
import torch
from fused_support import DEVICE, assert_wave_matches_float64, wave_inputs  # skips where triton cannot run

from wavelib.models.wave_rnn_columns import columns_problem, tiles
from wavelib.models.wave_rnn_fused import fused_wave_rnn_recurrence

# (B, T, c, n, bias): masks (c, n not powers of two; n below one warp's 32 units), T = 1, 2, the copy and
# sMNIST shapes, and 600 units (several per thread)
SHAPES = [(2, 5, 3, 7, True), (2, 4, 2, 5, False), (1, 1, 3, 7, True), (2, 2, 3, 7, True), (2, 3, 6, 100, True),
          (128, 16, 6, 100, True), (128, 16, 16, 256, True), (32, 12, 27, 100, True), (4, 9, 5, 600, False)]


def _skip_unless_runs(c: int, n: int) -> None:
    problem = columns_problem(torch.empty(1, 1, c * n, device=DEVICE), c, n)
    if problem is not None:
        pytest.skip(f'the "columns" kernels cannot run here: {problem}')


@pytest.mark.parametrize("batch, steps, c, n, bias", SHAPES)
def test_columns_forward_and_backward_equal_the_reference(batch, steps, c, n, bias):
    _skip_unless_runs(c, n)
    leaves, grad = wave_inputs(batch, steps, c, n, bias)
    x, w, *b = leaves
    states = fused_wave_rnn_recurrence(x, w, b[0] if b else None, c, n, kernel="columns")
    assert_wave_matches_float64(states, leaves, grad, c, n)


def test_columns_give_the_tiles_numbers_to_rounding():
    """Same products, another summation order: equal to float32 rounding, not bit for bit."""
    c, n = 16, 256
    _skip_unless_runs(c, n)
    leaves, grad = wave_inputs(8, 20, c, n, True, seed=5)
    results = []
    for kernel in ("tiles", "columns"):
        states = fused_wave_rnn_recurrence(*leaves, c, n, kernel=kernel)
        results.append([states, *torch.autograd.grad(states, leaves, grad)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_columns_refuse_where_they_cannot_run():
    """Named before any work: tensors on the CPU (in Triton's interpreter too), a state too large per thread, an
    unknown kernel."""
    c, n = 3, 7
    leaves, _ = wave_inputs(2, 3, c, n, True)
    with pytest.raises(ValueError, match="unknown kernel"):
        fused_wave_rnn_recurrence(*leaves, c, n, kernel="rows")
    with pytest.raises(ValueError, match="CUDA only"):
        fused_wave_rnn_recurrence(*[t.detach().cpu() for t in leaves], c, n, kernel="columns")
    assert tiles(6, 100) == (8, 128, 4) and tiles(16, 256) == (16, 256, 8) and tiles(3, 7) == (4, 32, 1)
    if DEVICE == "cuda":
        wide = torch.empty(1, 1, 64 * 4096, device=DEVICE)
        assert "exceed" in columns_problem(wide, 64, 4096)
