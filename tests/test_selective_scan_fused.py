"""The fused Triton selective scan against the sequential reference.

Skipped unless triton can run (``tests/fused_support.py``): on a CUDA device, or in Triton's interpreter.
"""

from __future__ import annotations

import pytest
import torch
from fused_support import DEVICE  # tests/fused_support.py: skips this module where triton cannot run

from wavelib.models.selective_scan import resolve_backend, selective_scan
from wavelib.models.selective_scan_fused import fused_selective_scan

# (batch, D, N, L): channel counts that do not fill a block and N that is not a power of two exercise the masks;
# on CUDA also Chapter 5's paper shapes (d_inner 256, d_state 16, contexts 220 and 620).
SHAPES = [(2, 3, 4, 7), (1, 40, 5, 9), (2, 33, 16, 4),
          (1, 3, 4, 1), (2, 5, 3, 2)]  # L = 1, 2: the edges of the look-ahead
if DEVICE == "cuda":
    SHAPES += [(32, 256, 16, 220), (8, 256, 16, 620)]


def _inputs(batch: int, d: int, n: int, L: int, seed: int = 0):
    """float32 leaves on DEVICE as Mamba makes them: delta > 0 (after softplus), A < 0."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d, L, generator=g)
    delta = 0.05 + torch.rand(batch, d, L, generator=g)
    A = -(0.1 + 2 * torch.rand(d, n, generator=g))
    B = torch.randn(batch, n, L, generator=g)
    C = torch.randn(batch, n, L, generator=g)
    dy = torch.randn(batch, d, L, generator=g)
    return [x.to(DEVICE).requires_grad_() for x in (u, delta, A, B, C)], dy.to(DEVICE)


@pytest.mark.parametrize("batch, d, n, L", SHAPES)
def test_fused_scan_and_gradients_equal_the_sequential_reference(batch, d, n, L):
    leaves, dy = _inputs(batch, d, n, L)
    y = selective_scan(*leaves, backend="fused")
    leaves64 = [x.detach().double().requires_grad_() for x in leaves]
    ref = selective_scan(*leaves64, backend="sequential")
    assert y.dtype == torch.float32 and y.shape == (batch, d, L)
    torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(y, leaves, dy)
    want = torch.autograd.grad(ref, leaves64, dy.double())
    for name, g, w in zip(("u", "delta", "A", "B", "C"), got, want):
        # A, B and C sum over sequences, steps or channels: tolerance on the scale of the largest entry
        torch.testing.assert_close(g.double(), w, rtol=1e-4, atol=1e-5 * max(1.0, w.abs().max().item()),
                                   msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("block_d, warps", [(8, 1), (64, 4)])
def test_other_blocks_and_warps_give_the_default_numbers(block_d, warps):
    leaves, dy = _inputs(2, 40, 5, 9)  # 40 channels: 5 blocks of 8 (the last one full), one partial block of 64
    y = fused_selective_scan(*leaves)
    other = fused_selective_scan(*leaves, block_d=block_d, warps=warps)
    torch.testing.assert_close(other, y, rtol=1e-6, atol=1e-6)
    for name, a, b in zip("u delta A B C".split(), torch.autograd.grad(y, leaves, dy),
                          torch.autograd.grad(other, leaves, dy)):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5, msg=lambda m: f"{name}: {m}")


def test_a_block_or_warp_count_not_offered_is_refused():
    leaves, _ = _inputs(1, 3, 4, 2)
    with pytest.raises(ValueError, match="block_d must be one of"):
        fused_selective_scan(*leaves, block_d=12)
    with pytest.raises(ValueError, match="warps one of"):
        fused_selective_scan(*leaves, warps=3)


def test_auto_picks_fused_on_cuda_without_mamba_ssm():
    expected = {"cpu": "recurrent", "cuda": "fused"}[DEVICE]  # "auto" is the recurrent scan off CUDA
    if DEVICE == "cuda" and resolve_backend("auto", DEVICE, torch.float32) == "cuda":
        pytest.skip("mamba_ssm is installed: auto is its kernel")
    assert resolve_backend("auto", DEVICE, torch.float32) == expected
    assert resolve_backend("auto", DEVICE, torch.float64) == "recurrent"


def test_a_mamba_lm_has_the_same_loss_and_gradients_on_the_fused_scan():
    from wavelib.models.mamba import MambaLM

    ids = torch.randint(0, 11, (3, 13), generator=torch.Generator().manual_seed(0)).to(DEVICE)
    results = {}
    for scan in ("recurrent", "fused"):
        torch.manual_seed(0)
        model = MambaLM(vocab_size=11, d_model=8, n_layers=2, d_state=4, scan=scan).to(DEVICE)
        loss = torch.nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten())
        loss.backward()
        results[scan] = [loss.detach(), *(p.grad for p in model.parameters())]
    for a, b in zip(results["recurrent"], results["fused"]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
