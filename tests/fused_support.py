"""Shared by the fused-kernel tests (``tests/test_*_fused.py``, ``tests/test_wave_rnn_*.py``,
``tests/test_bench_wave_rnn.py``): importing this skips the importing test module unless triton imports and either
a CUDA device is present or ``TRITON_INTERPRET=1`` is set (Triton's CPU interpreter: tiny shapes only); ``DEVICE``
is where the tests put their tensors; the Wave-RNN kernels' inputs (projected, or pixels) and their float64
checks."""

import os

import pytest
import torch

from wavelib.models.triton_support import triton_modules
from wavelib.models.wave_rnn import _reference, circular_conv_norm

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
if triton_modules() is None:
    pytest.skip("triton does not import", allow_module_level=True)
if not (torch.cuda.is_available() or INTERPRET):
    pytest.skip("no CUDA device and TRITON_INTERPRET=1 is not set", allow_module_level=True)

DEVICE = "cuda" if torch.cuda.is_available() and not INTERPRET else "cpu"


def wave_inputs(batch: int, steps: int, c: int, n: int, bias: bool, seed: int = 0):
    """Wave-RNN recurrence inputs: leaves [x_proj (B, T, c*n), conv weight (c, c, 3), conv bias (c,) if ``bias``]
    and an output gradient (B, T, c*n), float32 on DEVICE. The conv weight is scaled to operator norm 0.9 (a
    contraction), so the states stay O(1) over the steps and float32 rounding stays near 1e-7 relative: with an
    expanding weight (a draw of N(0, 1/(3c)) taps grew the states to ~2e4 in 16 steps) the float32-vs-float64 gap says
    nothing about the kernel."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, c * n, generator=g)
    w = torch.randn(c, c, 3, generator=g)
    w = 0.9 * w / circular_conv_norm(w, n)
    b = 0.1 * torch.randn(c, generator=g) if bias else None
    grad = torch.randn(batch, steps, c * n, generator=g)
    leaves = [t.to(DEVICE).requires_grad_() for t in (x, w) + ((b,) if bias else ())]
    return leaves, grad.to(DEVICE)


def wave_reference64(leaves: list[torch.Tensor], c: int, n: int) -> list[torch.Tensor]:
    """Reference states in float64 (so CUDA's TF32 convolutions do not enter the comparison)."""
    leaves64 = [t.detach().double().requires_grad_() for t in leaves]
    x, w, *b = leaves64
    return [_reference(x, w, b[0] if b else None, c, n), leaves64]


def assert_wave_matches_float64(states: torch.Tensor, leaves: list[torch.Tensor], grad: torch.Tensor, c: int,
                                n: int) -> None:
    """``states`` (B, T, c*n) float32, made from ``leaves`` by a fused kernel, and its gradients w.r.t. the leaves
    for output gradient ``grad`` match the float64 reference loop; both ReLU branches must occur."""
    from wavelib.models.wave_rnn_fused import _conv_weight_grad

    batch, steps = states.shape[:2]
    ref, leaves64 = wave_reference64(leaves, c, n)
    assert states.dtype == torch.float32 and states.shape == (batch, steps, c * n)
    assert (states > 0).any() and (states == 0).any()  # both ReLU branches are exercised
    torch.testing.assert_close(states.double(), ref, rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(states, leaves, grad)
    want = torch.autograd.grad(ref, leaves64, grad.double())
    torch.testing.assert_close(got[0].double(), want[0], rtol=1e-4, atol=1e-4, msg=lambda m: f"x_proj: {m}")
    # conv weight and bias gradients are sums of B T n products that cancel: float32 rounding scales with the
    # sum of their magnitudes (the same sums over |dx| and |states|), not with the result
    dx, h = want[0].abs().detach(), ref.abs().detach()
    sizes = [_conv_weight_grad(dx, h, c, n), dx.view(batch, steps, c, n).sum((0, 1, 3))]
    for name, g_fused, g_ref, size in zip(("conv_weight", "conv_bias"), got[1:], want[1:], sizes):
        assert ((g_fused.double() - g_ref).abs() <= 1e-4 + 1e-6 * size).all(), name


def grads_match_float64(fused: torch.Tensor, reference64: torch.Tensor, leaves: list[torch.Tensor],
                         leaves64: list[torch.Tensor], grad: torch.Tensor) -> None:
    """``fused`` (float32, from ``leaves``) and its gradients for output gradient ``grad`` match the float64
    ``reference64`` (from ``leaves64``), relative to each result's largest magnitude."""
    torch.testing.assert_close(fused.double(), reference64, rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(fused, leaves, grad)
    want = torch.autograd.grad(reference64, leaves64, grad.double())
    for i, (g, w) in enumerate(zip(got, want)):
        scale = w.abs().max().item() + 1e-3
        assert (g.double() - w).abs().max().item() <= 1e-4 * scale, f"gradient {i}: {(g.double() - w).abs().max()}"


def pixel_inputs(batch: int, steps: int, c: int, n: int, in_bias: bool, seed: int) -> list[torch.Tensor]:
    """Leaves [x (B, T, 1), V weight (c*n, 1), V bias (c*n,) if ``in_bias``, conv weight (c, c, 3), conv bias
    (c,)] float32 on DEVICE; the conv weight a contraction (see ``wave_inputs``)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c, c, 3, generator=g)
    tensors = [torch.randn(batch, steps, 1, generator=g), torch.randn(c * n, 1, generator=g)]
    tensors += [0.5 * torch.randn(c * n, generator=g)] if in_bias else []
    tensors += [0.9 * w / circular_conv_norm(w, n), 0.1 * torch.randn(c, generator=g)]
    return [t.to(DEVICE).requires_grad_() for t in tensors]
