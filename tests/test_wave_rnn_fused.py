"""The fused Triton Wave-RNN recurrence against the reference loop.

Skipped unless triton can run (``tests/fused_support.py``): on a CUDA device, or in Triton's interpreter.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
# fused_support skips this module where triton cannot run
from fused_support import DEVICE, assert_wave_matches_float64, grads_match_float64, pixel_inputs, wave_inputs

from wavelib.models.triton_support import placement_problem
from wavelib.models.wave_rnn import WaveRNN, _reference, wave_rnn_recurrence
from wavelib.models.wave_rnn_fused import SHIFTS, WARPS, fused_wave_rnn_pixels, fused_wave_rnn_recurrence

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
    rounded = [t.detach().bfloat16().float().requires_grad_() for t in leaves]
    ref = fused_wave_rnn_recurrence(*rounded, c, n)
    torch.testing.assert_close(states.float(), ref, rtol=1e-2, atol=1e-2)
    for got, want in zip(grads, torch.autograd.grad(ref, rounded, grad.bfloat16().float())):  # to bf16's 8 bits
        torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2 * want.abs().max().item())


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


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("batch, steps, c, n, bias", SHAPES)
def test_last_state_only_equals_the_reference(batch, steps, c, n, bias, shift):
    """``last=True``: the last state (B, c*n), and the backward from one gradient per sequence."""
    leaves, grad = wave_inputs(batch, steps, c, n, bias, seed=5)
    x, w, *b = leaves
    final = fused_wave_rnn_recurrence(x, w, b[0] if b else None, c, n, shift, last=True)
    assert final.shape == (batch, c * n)
    leaves64 = [t.detach().double().requires_grad_() for t in leaves]
    x64, w64, *b64 = leaves64
    want = _reference(x64, w64, b64[0] if b64 else None, c, n, last=True)
    grads_match_float64(final, want, leaves, leaves64, grad[:, -1])


@pytest.mark.parametrize("shift", SHIFTS)
@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize("batch, steps, c, n, in_bias", [(2, 5, 3, 7, True), (2, 3, 6, 100, False),
                                                          (1, 1, 3, 7, True), (3, 2, 2, 5, True)])
def test_pixels_projected_in_the_kernels_equal_the_reference(batch, steps, c, n, in_bias, last, shift):
    """``fused_wave_rnn_pixels``: states (or the last) and the gradients of the input, V's weight and bias and the
    conv's, against the float64 loop on ``F.linear(x, V)``."""
    leaves = pixel_inputs(batch, steps, c, n, in_bias, seed=batch + steps)
    x, v_weight, *rest = leaves
    v_bias, (w, b) = (rest[0], rest[1:]) if in_bias else (None, rest)
    states = fused_wave_rnn_pixels(x, v_weight, v_bias, w, b, c, n, last=last, shift=shift)
    assert states.shape == ((batch, c * n) if last else (batch, steps, c * n))
    assert (states > 0).any() and (states == 0).any()  # both ReLU branches
    leaves64 = [t.detach().double().requires_grad_() for t in leaves]
    x64, v64, *rest64 = leaves64
    vb64, (w64, b64) = (rest64[0], rest64[1:]) if in_bias else (None, rest64)
    want = _reference(F.linear(x64, v64, vb64), w64, b64, c, n, last=last)
    grad = torch.randn(want.shape, generator=torch.Generator().manual_seed(9)).to(DEVICE)
    grads_match_float64(states, want, leaves, leaves64, grad)


def test_pixels_refuse_other_shapes_and_columns_refuse_last():
    c, n = 3, 7
    x, v_weight, v_bias, w, b = pixel_inputs(2, 3, c, n, True, seed=0)
    with pytest.raises(ValueError, match=r"x must be \(B, T, 1\)"):
        fused_wave_rnn_pixels(x.expand(2, 3, 2), v_weight, v_bias, w, b, c, n)
    with pytest.raises(ValueError, match="unknown wgrad"):
        fused_wave_rnn_pixels(x, v_weight, v_bias, w, b, c, n, wgrad="atomic")
    leaves, _ = wave_inputs(2, 3, c, n, True)
    with pytest.raises(ValueError, match='"columns" kernels return every state'):
        fused_wave_rnn_recurrence(*leaves, c, n, kernel="columns", last=True)


@pytest.mark.parametrize("n_in", [1, 3])
def test_the_module_asks_for_the_last_step_only(n_in):
    """``WaveRNN(..., last=True)`` on the fused path (pixels projected in the kernels where n_in = 1) gives the
    reference's last outputs and parameter gradients."""
    c, n = 3, 7
    model = WaveRNN(n_in, n, c, 4, init_v="random").to(DEVICE)
    inputs = torch.randn(2, 5, n_in, generator=torch.Generator().manual_seed(n_in)).to(DEVICE)
    results = []
    for backend in ("fused", "reference"):
        model.recurrence_backend = backend
        out, final = model(inputs, return_states=True, last=True)
        assert out.shape == (2, 4) and final.shape == (2, c * n)
        results.append([out, final, *torch.autograd.grad(out.square().sum(), list(model.parameters()))])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n_in", [1, 3])
def test_the_module_takes_the_fused_kernels_by_default_on_cuda_only(n_in, monkeypatch):
    """``WaveRNN``'s default backend ("auto") runs the fused kernels, forward and backward, on CUDA tensors (the
    pixels kernels where n_in = 1) and the reference loop elsewhere (here: CPU tensors under Triton's interpreter)."""
    import wavelib.models.wave_rnn_fused as fused

    calls = []
    for name in ("fused_wave_rnn_recurrence", "fused_wave_rnn_pixels"):
        def counted(*args, _real=getattr(fused, name), _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(fused, name, counted)
    model = WaveRNN(n_in, 7, 3, 4).to(DEVICE)
    assert model.recurrence_backend == "auto"
    model(torch.randn(2, 5, n_in, device=DEVICE)).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    on_cuda = ["fused_wave_rnn_pixels" if n_in == 1 else "fused_wave_rnn_recurrence"]
    assert calls == (on_cuda if DEVICE == "cuda" else [])
