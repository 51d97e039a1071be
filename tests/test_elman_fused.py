"""The fused Triton Elman recurrence against the reference loop.

Skipped unless triton can run (``tests/fused_support.py``): on a CUDA device, or in Triton's interpreter.
"""

from __future__ import annotations

import pytest
import torch
from fused_support import DEVICE  # tests/fused_support.py: skips this module where triton cannot run

from wavelib.models.elman import BatchedElman, elman_recurrence, resolve_recurrence
from wavelib.models.elman_fused import fused_elman_recurrence

# (M, B, T, H): non-powers of two exercise the masks, (2, 17, 108, 128) Chapter 2's T and H (3xTF32 through 108
# steps: about 1e-6 from float64, as the float32 reference); on CUDA also Chapter 2's whole H = 128 group and H = 64.
SHAPES = [(2, 3, 5, 7), (3, 17, 4, 16), (1, 2, 3, 20), (2, 17, 108, 128)]
if DEVICE == "cuda":
    SHAPES += [(240, 64, 108, 128), (24, 64, 30, 64), (3, 5, 12, 100)]


def _inputs(M: int, B: int, T: int, H: int, seed: int = 0):
    """float32 leaves on DEVICE: a drive of about unit size and PyTorch's nn.RNN init U(±1/sqrt(H)) for W_hh."""
    g = torch.Generator().manual_seed(seed)
    drive = torch.randn(M, B, T, H, generator=g)
    w = (2 * torch.rand(M, H, H, generator=g) - 1) / H ** 0.5
    grad = torch.randn(M, B, T, H, generator=g)
    return [t.to(DEVICE).requires_grad_() for t in (drive, w)], grad.to(DEVICE)


@pytest.mark.parametrize("M, B, T, H", SHAPES)
def test_fused_forward_and_backward_equal_the_reference(M, B, T, H):
    (drive, w), grad = _inputs(M, B, T, H)
    states = fused_elman_recurrence(drive, w)
    leaves64 = [t.detach().double().requires_grad_() for t in (drive, w)]
    ref = elman_recurrence(*leaves64, backend="reference")
    ref32 = elman_recurrence(drive, w, backend="reference")  # float32's own rounding, the scale of the tolerance
    assert states.dtype == torch.float32 and states.shape == (M, B, T, H)
    # within float32 rounding of float64: 1e-5, or 4x the float32 reference's own error where that is larger
    # (3xTF32 on tensor cores rounds a little more than float32 FMAs; a bug would be off by O(1))
    slack = 4 * (ref32.double() - ref).abs().max().item()
    torch.testing.assert_close(states.double(), ref, rtol=1e-5, atol=max(1e-5, slack))
    got = torch.autograd.grad(states, (drive, w), grad)
    want = torch.autograd.grad(ref, leaves64, grad.double())
    slack = 4 * (torch.autograd.grad(ref32, drive, grad)[0].double() - want[0]).abs().max().item()
    torch.testing.assert_close(got[0].double(), want[0], rtol=1e-4, atol=max(1e-4, slack),
                               msg=lambda m: f"drive: {m}")
    # dW sums B (T-1) products that cancel: float32 rounding scales with the sum of their magnitudes
    size = torch.einsum("mbti,mbtk->mik", want[0][:, :, 1:].abs(), ref[:, :, :-1].abs().detach())
    assert ((got[1].double() - want[1]).abs() <= 1e-4 + 1e-6 * size).all()


def test_batched_elman_trains_the_same_on_both_paths():
    """A whole forward + backward of BatchedElman (bias, readout) on each backend."""
    torch.manual_seed(0)
    u = torch.randn(3, 4, 9, 2, device=DEVICE)
    grads = {}
    for backend in ("reference", "fused"):
        model = BatchedElman(3, 2, 16, 2, seeds=[0, 1, 2], bias=True).to(DEVICE)
        model.recurrence_backend = backend
        y, hs = model(u)
        (y.square().sum() + hs.sum()).backward()
        grads[backend] = [y.detach(), *(p.grad for p in model.parameters())]
    for a, b in zip(grads["reference"], grads["fused"]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_dispatch():
    (drive, w), _ = _inputs(2, 3, 4, 8)
    assert resolve_recurrence("auto", DEVICE, torch.float64, 8) == "reference"
    expected = "fused" if DEVICE == "cuda" else "reference"  # "auto" is the reference off CUDA, interpreter or not
    assert resolve_recurrence("auto", DEVICE, torch.float32, 8) == expected
    torch.testing.assert_close(elman_recurrence(drive, w, backend="fused"),
                               elman_recurrence(drive, w, backend="reference"), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="float32 only"):
        fused_elman_recurrence(drive.double(), w.double())
