"""A fused Triton selective scan (:func:`selective_scan.selective_scan`, backend ``"fused"``), for float32 on CUDA
where ``mamba_ssm`` is not installed (the GPU machine of this book has Triton but not ``mamba_ssm``).

Grid: (sequence, block of ``BD`` channels). Each program keeps its (BD, N) block of the state in registers
through all L steps: one launch forward, one backward, where the ``"recurrent"`` backend launches a few
kernels per step. Each step's inputs are loaded one step ahead, so their latency overlaps the step before
(unmeasured when written: compare the "scan: sequential vs fused" rows with commit f3fae846382c's 1.95 / 3.79 ms
on an H200). The forward stores every state h_t (batch, D, L, N) for the backward (325 MB per layer at
Chapter 5's paper sizes: batch 32, D 256, L 620, N 16), which reads each once; the backward runs the adjoint recurrence
``G_t = C_t dy_t + a_{t+1} G_{t+1}`` (``a_t = exp(delta_t A)``) in reverse and forms every input gradient
from it. Gradients that sum over channels (B, C) come out per channel block and over sequences (A) per
sequence; PyTorch sums those partials (deterministic; no atomics).

Needs ``triton``; runs on CUDA tensors, or on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set before triton is imported; slow, for tests only).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .triton_support import lazy_kernels, placement_problem, pow2

BLOCK_D = 32  #: channels per program (the default)
NUM_WARPS = 2  #: warps per program (the default)
BLOCKS_D = (8, 16, 32, 64)  #: channels per program that a caller may ask for
WARPS = (1, 2, 4, 8)  #: warps per program that a caller may ask for


@lazy_kernels
def _triton_kernels(triton: ModuleType, tl: ModuleType) -> tuple:
    """The (forward, backward) Triton kernels (None where triton does not import)."""

    @triton.jit
    def forward_kernel(u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, y_ptr, hs_ptr, D, L, N: tl.constexpr,
                       NP: tl.constexpr, BD: tl.constexpr):
        """Program (b, block): h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t, y_t = C_t . h_t for its channels.

        u, delta, y (batch, D, L); A (D, N); B, C (batch, N, L); hs (batch, D, L, N); float32 contiguous."""
        b = tl.program_id(0).to(tl.int64)
        ds = tl.program_id(1) * BD + tl.arange(0, BD)
        ns = tl.arange(0, NP)
        d_ok = ds < D
        n_ok = ns < N
        ok = d_ok[:, None] & n_ok[None, :]
        A = tl.load(A_ptr + ds[:, None] * N + ns[None, :], mask=ok, other=0.0)
        row = (b * D + ds) * L  # (BD,): u, delta, y of step 0
        col = (b * N + ns) * L  # (NP,): B, C of step 0
        state = row[:, None] * N + ns[None, :]  # (BD, NP): hs of step 0
        h = tl.zeros((BD, NP), dtype=tl.float32)
        dt_next = tl.load(delta_ptr + row, mask=d_ok, other=0.0)
        u_next = tl.load(u_ptr + row, mask=d_ok, other=0.0)
        B_next = tl.load(B_ptr + col, mask=n_ok, other=0.0)
        C_next = tl.load(C_ptr + col, mask=n_ok, other=0.0)
        for t in range(L):
            dt, u, B, C = dt_next, u_next, B_next, C_next
            # step t + 1's inputs are loaded a step ahead (the last step loads its own again, unused)
            ahead = tl.minimum(t + 1, L - 1)
            dt_next = tl.load(delta_ptr + row + ahead, mask=d_ok, other=0.0)
            u_next = tl.load(u_ptr + row + ahead, mask=d_ok, other=0.0)
            B_next = tl.load(B_ptr + col + ahead, mask=n_ok, other=0.0)
            C_next = tl.load(C_ptr + col + ahead, mask=n_ok, other=0.0)
            h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * B[None, :]
            tl.store(hs_ptr + state + t * N, h, mask=ok)
            tl.store(y_ptr + row + t, tl.sum(h * C[None, :], axis=1), mask=d_ok)

    @triton.jit
    def backward_kernel(u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, hs_ptr, dy_ptr, du_ptr, ddelta_ptr, dA_ptr, dB_ptr,
                        dC_ptr, D, L, N: tl.constexpr, NP: tl.constexpr, BD: tl.constexpr):
        """Program (b, block), t = L-1..0, G_t = dLoss/dh_t:

        du_t = delta_t (G_t B_t), ddelta_t = sum_n G_t h_{t-1} a_t A + (G_t B_t) u_t, and this block's parts of
        dB_t = sum_d G_t delta_t u_t and dC_t = sum_d dy_t h_t (dB, dC: (batch, blocks, N, L)) and of
        dA = sum_t G_t h_{t-1} a_t delta_t (dA: (batch, D, N))."""
        b = tl.program_id(0).to(tl.int64)
        block = tl.program_id(1)
        ds = block * BD + tl.arange(0, BD)
        ns = tl.arange(0, NP)
        d_ok = ds < D
        n_ok = ns < N
        ok = d_ok[:, None] & n_ok[None, :]
        A = tl.load(A_ptr + ds[:, None] * N + ns[None, :], mask=ok, other=0.0)
        row = (b * D + ds) * L
        col = (b * N + ns) * L
        state = row[:, None] * N + ns[None, :]
        part = ((b * tl.num_programs(1) + block) * N + ns) * L  # (NP,): this block's dB, dC of step 0
        carry = tl.zeros((BD, NP), dtype=tl.float32)  # a_{t+1} G_{t+1}
        dA = tl.zeros((BD, NP), dtype=tl.float32)
        # Step t's inputs are loaded a step ahead, and each stored state once: h_t is step t + 1's h_prev.
        last = L - 1
        dt_next = tl.load(delta_ptr + row + last, mask=d_ok, other=0.0)
        u_next = tl.load(u_ptr + row + last, mask=d_ok, other=0.0)
        dy_next = tl.load(dy_ptr + row + last, mask=d_ok, other=0.0)
        B_next = tl.load(B_ptr + col + last, mask=n_ok, other=0.0)
        C_next = tl.load(C_ptr + col + last, mask=n_ok, other=0.0)
        h_next = tl.load(hs_ptr + state + last * N, mask=ok, other=0.0)
        h_prev_next = tl.load(hs_ptr + state + tl.maximum(last - 1, 0) * N, mask=ok, other=0.0)
        for s in range(L):
            t = L - 1 - s
            dt, u, dy, B, C, h = dt_next, u_next, dy_next, B_next, C_next, h_next
            h_prev = tl.where(t > 0, h_prev_next, 0.0)  # h_{-1} = 0
            ahead = tl.maximum(t - 1, 0)  # step 0 loads its own inputs again, unused
            dt_next = tl.load(delta_ptr + row + ahead, mask=d_ok, other=0.0)
            u_next = tl.load(u_ptr + row + ahead, mask=d_ok, other=0.0)
            dy_next = tl.load(dy_ptr + row + ahead, mask=d_ok, other=0.0)
            B_next = tl.load(B_ptr + col + ahead, mask=n_ok, other=0.0)
            C_next = tl.load(C_ptr + col + ahead, mask=n_ok, other=0.0)
            h_next = h_prev
            h_prev_next = tl.load(hs_ptr + state + tl.maximum(t - 2, 0) * N, mask=ok, other=0.0)
            a = tl.exp(dt[:, None] * A)
            G = dy[:, None] * C[None, :] + carry
            GB = tl.sum(G * B[None, :], axis=1)
            g_dA = G * a * h_prev  # dLoss/d(delta_t A)
            tl.store(du_ptr + row + t, GB * dt, mask=d_ok)
            tl.store(ddelta_ptr + row + t, tl.sum(g_dA * A, axis=1) + GB * u, mask=d_ok)
            tl.store(dB_ptr + part + t, tl.sum(G * (dt * u)[:, None], axis=0), mask=n_ok)
            tl.store(dC_ptr + part + t, tl.sum(dy[:, None] * h, axis=0), mask=n_ok)
            dA += g_dA * dt[:, None]
            carry = a * G
        tl.store(dA_ptr + (b * D + ds[:, None]) * N + ns[None, :], dA, mask=ok)

    return forward_kernel, backward_kernel


def fused_problem(u: Tensor) -> str | None:
    """Why the fused scan cannot run on tensors like ``u``, or None where it can."""
    problem = placement_problem(u)
    if problem is not None:
        return problem
    if u.dtype != torch.float32:
        return f"the kernel computes in float32 only, got {u.dtype}"
    return None


class FusedSelectiveScan(torch.autograd.Function):
    """The scan without the D term, (batch, D, L): one launch forward; one launch and three sums backward."""

    @staticmethod
    def forward(ctx, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, block_d: int, warps: int) -> Tensor:
        forward_kernel, _ = _triton_kernels()
        u, delta, A, B, C = (x.contiguous() for x in (u, delta, A, B, C))
        batch, D, L = u.shape
        N = A.shape[1]
        y = torch.empty_like(u)
        hs = u.new_empty(batch, D, L, N)
        forward_kernel[(batch, -(-D // block_d))](u, delta, A, B, C, y, hs, D, L, N=N, NP=pow2(N), BD=block_d,
                                                  num_warps=warps)
        ctx.save_for_backward(u, delta, A, B, C, hs)
        ctx.block_d, ctx.warps = block_d, warps
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, ...]:
        _, backward_kernel = _triton_kernels()
        u, delta, A, B, C, hs = ctx.saved_tensors
        batch, D, L = u.shape
        N = A.shape[1]
        blocks = -(-D // ctx.block_d)
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dA = A.new_empty(batch, D, N)
        dB, dC = B.new_empty(batch, blocks, N, L), C.new_empty(batch, blocks, N, L)
        backward_kernel[(batch, blocks)](u, delta, A, B, C, hs, dy.contiguous(), du, ddelta, dA, dB, dC, D, L, N=N,
                                         NP=pow2(N), BD=ctx.block_d, num_warps=ctx.warps)
        return du, ddelta, dA.sum(0), dB.sum(1), dC.sum(1), None, None


def fused_selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, *, block_d: int = BLOCK_D,
                         warps: int = NUM_WARPS) -> Tensor:
    """The scan without the D term on the fused kernels: u, delta (batch, D, L), A (D, N), B, C (batch, N, L)
    -> (batch, D, L). ``block_d`` channels per program (one of :data:`BLOCKS_D`) and ``warps`` per program (one
    of :data:`WARPS`) change the speed only (``benchmarks/bench_vwave.py``'s "[BD b, w warps]" rows time other
    choices against the defaults). Raises ValueError where :func:`fused_problem` finds a reason it cannot run."""
    if block_d not in BLOCKS_D or warps not in WARPS:
        raise ValueError(f"block_d must be one of {BLOCKS_D} and warps one of {WARPS}, got {block_d!r}, {warps!r}")
    problem = fused_problem(u)
    if problem is None and any(x.dtype != torch.float32 for x in (delta, A, B, C)):
        problem = "the kernel computes in float32 only (every input)"
    if problem is not None:
        raise ValueError(f"scan backend 'fused' unavailable: {problem}")
    return FusedSelectiveScan.apply(u, delta, A, B, C, block_d, warps)
