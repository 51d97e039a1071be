"""The Triton conv weight and bias gradient kernel (:mod:`wavelib.models.wave_rnn_wgrad`, ``wgrad="kernel"``, the
default) against a float64 computation of its sums and against the "bmm" path.

Part of the wRNN's check in ``scripts/gpu_session.py`` (with ``tests/test_wave_rnn_fused.py``): a failure there
trains Chapters 3 and 4 on the reference loop. Skipped unless triton can run (``tests/fused_support.py``): on a
CUDA device, or in Triton's interpreter (tiny shapes).
"""

from __future__ import annotations

import pytest
import torch
from fused_support import DEVICE, wave_inputs  # skips where triton cannot run

from wavelib.models import wave_rnn_fused
from wavelib.models.wave_rnn_columns import columns_problem
from wavelib.models.wave_rnn_fused import KERNELS, fused_wave_rnn_recurrence
from wavelib.models.wave_rnn_wgrad import MAX_PROGRAMS, conv_grads


def _sums64(dx: torch.Tensor, states: torch.Tensor, c: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """dw[o, j, k] = sum over b, t >= 1, i of dx[b, t, o, i] states[b, t - 1, j, (i + k - 1) mod n] and
    db[o] = sum over b, t, i of dx[b, t, o, i], in float64; dx, states (B, T, c*n)."""
    batch, steps = dx.shape[:2]
    a = dx.double().view(batch, steps, c, n)
    h = states.double().view(batch, steps, c, n)[:, :-1]
    taps = [torch.einsum("btoi,btji->oj", a[:, 1:], torch.roll(h, 1 - k, dims=-1)) for k in range(3)]
    return torch.stack(taps, dim=-1), a.sum((0, 1, 3))


# (B, T, c, n, programs): masks (c, n not powers of two; n = 100: two column chunks), one program or several
# (rows not a multiple of them), T = 1 (no weight term), 32 padded channels
CASES = [(2, 5, 3, 7, MAX_PROGRAMS), (2, 5, 3, 7, 3), (2, 5, 3, 7, 1), (1, 1, 3, 7, MAX_PROGRAMS),
         (3, 1, 3, 7, 2), (2, 3, 6, 100, 4), (1, 4, 20, 40, 3)]
if DEVICE == "cuda":
    CASES += [(32, 16, 6, 100, MAX_PROGRAMS), (16, 16, 16, 256, MAX_PROGRAMS), (128, 16, 16, 256, MAX_PROGRAMS)]


@pytest.mark.parametrize("batch, steps, c, n, programs", CASES)
def test_kernel_sums_equal_float64(batch, steps, c, n, programs):
    g = torch.Generator().manual_seed(batch * 100 + steps)
    dx = torch.randn(batch, steps, c * n, generator=g).to(DEVICE)
    states = torch.rand(batch, steps, c * n, generator=g).to(DEVICE)
    dw, db = conv_grads(dx, states, c, n, programs)
    assert dw.shape == (c, c, 3) and db.shape == (c,) and dw.dtype == db.dtype == torch.float32
    want_w, want_b = _sums64(dx, states, c, n)
    # float32 rounding scales with the sums of the magnitudes of the products, not with the (cancelling) result
    size_w, size_b = _sums64(dx.abs(), states, c, n)
    assert ((dw.double() - want_w).abs() <= 1e-6 * size_w + 1e-7).all()
    assert ((db.double() - want_b).abs() <= 1e-6 * size_b + 1e-7).all()
    if steps == 1:
        assert (dw == 0).all()  # no (t - 1, t) pair: exactly nothing added


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bias", [True, False])
def test_wgrad_kernel_gives_the_bmm_gradients(kernel, bias, monkeypatch):
    """Same dL/dx_proj, then the same products summed in another order: equal to float32 rounding (and "kernel"
    does call the kernel)."""
    c, n = 6, 100
    leaves, grad = wave_inputs(3, 6, c, n, bias, seed=7)
    if kernel == "columns" and (problem := columns_problem(leaves[0], c, n)) is not None:
        pytest.skip(f'the "columns" kernels cannot run here: {problem}')
    x, w, *b = leaves
    calls = []
    monkeypatch.setattr(wave_rnn_fused, "conv_grads", lambda *args: calls.append(args) or conv_grads(*args))
    results = []
    for wgrad in ("bmm", "kernel"):
        states = fused_wave_rnn_recurrence(x, w, b[0] if b else None, c, n, kernel=kernel, wgrad=wgrad)
        results.append(torch.autograd.grad(states, leaves, grad))
        assert len(calls) == (1 if wgrad == "kernel" else 0), wgrad
    torch.testing.assert_close(results[1][0], results[0][0], rtol=0, atol=0)  # dL/dx_proj: not the wgrad's work
    for name, got, want in zip(("conv_weight", "conv_bias"), results[1][1:], results[0][1:]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}")


def test_wgrad_kernel_repeats_its_numbers_exactly():
    """Per-program partials summed in a fixed order, no atomics: bit for bit the same at every call."""
    c, n = 6, 100
    leaves, grad = wave_inputs(4, 9, c, n, True, seed=8)
    runs = [torch.autograd.grad(fused_wave_rnn_recurrence(*leaves, c, n, wgrad="kernel"), leaves, grad)
            for _ in range(2)]
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_unknown_wgrad_is_refused():
    c, n = 3, 7
    leaves, _ = wave_inputs(2, 3, c, n, True)
    with pytest.raises(ValueError, match="unknown wgrad 'atomic'; choose one of"):
        fused_wave_rnn_recurrence(*leaves, c, n, wgrad="atomic")
