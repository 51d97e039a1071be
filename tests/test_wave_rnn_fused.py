"""The fused Triton Wave-RNN recurrence against the reference loop.

Skipped unless triton can run (``tests/fused_support.py``): on a CUDA device, or in Triton's interpreter.
"""

from __future__ import annotations

import pytest
import torch
from fused_support import DEVICE, assert_wave_matches_float64, wave_inputs  # skips where triton cannot run

from wavelib.models.triton_support import placement_problem
from wavelib.models.wave_rnn import WaveRNN, wave_rnn_recurrence
from wavelib.models.wave_rnn_fused import SHIFTS, WARPS, fused_wave_rnn_recurrence

# (B, T, c, n, bias): non-powers of two exercise the masks; on CUDA also copy- and sMNIST-like shapes, short T.
SHAPES = [(2, 5, 3, 7, True), (2, 4, 2, 5, False), (2, 3, 6, 100, True),
          (1, 1, 3, 7, True), (2, 2, 3, 7, True)]  # T = 1, 2: the edges of the look-ahead
if DEVICE == "cuda":
    SHAPES += [(128, 16, 6, 100, True), (128, 16, 16, 256, True), (32, 12, 27, 100, True)]


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("batch, steps, c, n, bias", SHAPES)
def test_fused_forward_and_backward_equal_the_reference(batch, steps, c, n, bias, shift):
    leaves, grad = wave_inputs(batch, steps, c, n, bias)
    x, w, *b = leaves
    states = fused_wave_rnn_recurrence(x, w, b[0] if b else None, c, n, shift)
    assert_wave_matches_float64(states, leaves, grad, c, n)


def test_both_shifts_give_the_same_numbers():
    """The same products (bit for bit in the interpreter; on a GPU the two dots may see other register layouts)."""
    c, n = 6, 100
    leaves, grad = wave_inputs(3, 7, c, n, True, seed=3)
    results = []
    for shift in SHIFTS:
        states = fused_wave_rnn_recurrence(*leaves, c, n, shift)
        results.append([states, *torch.autograd.grad(states, leaves, grad)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unknown shift"):
        fused_wave_rnn_recurrence(*leaves, c, n, "roll")


def test_every_warp_count_gives_the_same_numbers():
    """Warps per program change the work split, not the products (bit for bit in the interpreter)."""
    c, n = 6, 100
    leaves, grad = wave_inputs(2, 5, c, n, True, seed=4)
    reference = None
    for warps in WARPS:
        states = fused_wave_rnn_recurrence(*leaves, c, n, warps=warps)
        result = [states, *torch.autograd.grad(states, leaves, grad)]
        for a, b in zip(result, reference or result):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
        reference = reference or result
    with pytest.raises(ValueError, match="warps must be one of"):
        fused_wave_rnn_recurrence(*leaves, c, n, warps=3)


def test_fused_bfloat16_keeps_dtypes_and_matches_float32():
    c, n = 3, 7
    leaves, grad = wave_inputs(2, 4, c, n, True, seed=1)
    low = [t.detach().bfloat16().requires_grad_() for t in leaves]
    states = fused_wave_rnn_recurrence(*low, c, n)
    assert states.dtype == torch.bfloat16
    grads = torch.autograd.grad(states, low, grad.bfloat16())
    assert [g.dtype for g in grads] == [torch.bfloat16] * 3
    ref = fused_wave_rnn_recurrence(*[t.detach().bfloat16().float() for t in leaves], c, n)
    torch.testing.assert_close(states.float(), ref, rtol=1e-2, atol=1e-2)


def test_dispatch_matches_the_reference():
    """backend="fused" here; on CUDA the module's default "auto" is the fused path too."""
    c, n = 3, 5
    (x, w, b), _ = wave_inputs(2, 3, c, n, True, seed=2)
    assert placement_problem(x) is None
    fused = wave_rnn_recurrence(x, w, b, c, n, backend="fused")
    torch.testing.assert_close(fused, wave_rnn_recurrence(x, w, b, c, n, backend="reference"), rtol=1e-5,
                               atol=1e-5)
    model = WaveRNN(2, n, c, 4).to(DEVICE)
    inputs = torch.randn(2, 3, 2, device=DEVICE)
    _, states = model(inputs, return_states=True)
    proj = model.V(inputs)
    torch.testing.assert_close(states, wave_rnn_recurrence(proj, model.conv.weight, model.conv.bias, c, n,
                                                           backend="reference"), rtol=1e-5, atol=1e-5)
