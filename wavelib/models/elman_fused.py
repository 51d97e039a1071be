"""A fused Triton implementation of the batched tanh Elman recurrence (:func:`elman.elman_recurrence`).

The reference loop launches a ``baddbmm`` and a ``tanh`` per step forward and about four kernels per step
backward (Chapter 2 trains 240 models at once through 108 steps, so a training step is launch-bound). Here the
hidden-state chain is one launch forward and one backward. Grid: (model, batch tile). Each program holds its
tile of hidden states (BB, H) and the model's recurrent weight in registers across all T steps, and multiplies
them with ``tl.dot`` in IEEE float32 (no TF32), so the numbers are float32 like the reference's.

The recurrent weight's gradient is not summed in the kernel: once dL/d(pre-activation) is known for every step,
it is one batched matrix product over all (sequence, step) pairs, in PyTorch (deterministic; no atomics).

tanh is computed as ``sign(z) (1 - e) / (1 + e)`` with ``e = exp(-2 |z|)`` (the kernels must also run in
Triton's interpreter, which has no libdevice): within ~2e-7 of ``torch.tanh``, so the fused and reference paths
agree to float32 rounding, not bit for bit.

Needs ``triton``; runs on CUDA tensors, or on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set before triton is imported; slow, for tests only).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .triton_support import lazy_kernels, placement_problem, pow2

MAX_HIDDEN = 128  #: the largest H one program holds (its H x H weight lives in registers)


@lazy_kernels
def _triton_kernels(triton: ModuleType, tl: ModuleType) -> tuple:
    """The (forward, backward) Triton kernels (None where triton does not import)."""

    @triton.jit
    def forward_kernel(drive_ptr, w_ptr, states_ptr, B, T, H: tl.constexpr, HP: tl.constexpr, BB: tl.constexpr):
        """Program (m, tile): states[m, b, t] = tanh(drive[m, b, t] + states[m, b, t - 1] W[m]^T), states[-1] = 0,
        for the tile's rows b. drive, states (M, B, T, H) and w (M, H, H) float32 contiguous."""
        m = tl.program_id(0).to(tl.int64)
        rows = tl.program_id(1) * BB + tl.arange(0, BB)
        cols = tl.arange(0, HP)
        col_ok = cols < H
        ok = (rows < B)[:, None] & col_ok[None, :]
        w_t = tl.load(w_ptr + m * H * H + cols[None, :] * H + cols[:, None],  # w_t[k, i] = W[m, i, k]
                      mask=col_ok[:, None] & col_ok[None, :], other=0.0)
        at = (m * B + rows[:, None].to(tl.int64)) * T * H + cols[None, :]  # (BB, HP) offsets of step 0
        h = tl.zeros((BB, HP), dtype=tl.float32)
        for t in range(T):
            z = tl.load(drive_ptr + at + t * H, mask=ok, other=0.0) + tl.dot(h, w_t, input_precision="ieee")
            e = tl.exp(-2.0 * tl.abs(z))
            h = tl.where(z < 0.0, -1.0, 1.0) * ((1.0 - e) / (1.0 + e))
            tl.store(states_ptr + at + t * H, h, mask=ok)

    @triton.jit
    def backward_kernel(grad_ptr, states_ptr, w_ptr, dz_ptr, B, T, H: tl.constexpr, HP: tl.constexpr,
                        BB: tl.constexpr):
        """Program (m, tile), t = T-1..0: dz[m, b, t] = (grad[m, b, t] + dz[m, b, t + 1] W[m]) (1 - states[m, b, t]^2),
        the gradient of the pre-activation (= of the drive)."""
        m = tl.program_id(0).to(tl.int64)
        rows = tl.program_id(1) * BB + tl.arange(0, BB)
        cols = tl.arange(0, HP)
        col_ok = cols < H
        ok = (rows < B)[:, None] & col_ok[None, :]
        w = tl.load(w_ptr + m * H * H + cols[:, None] * H + cols[None, :],  # w[i, k] = W[m, i, k]
                    mask=col_ok[:, None] & col_ok[None, :], other=0.0)
        at = (m * B + rows[:, None].to(tl.int64)) * T * H + cols[None, :]
        dz = tl.zeros((BB, HP), dtype=tl.float32)
        for s in range(T):
            t = T - 1 - s
            g = tl.load(grad_ptr + at + t * H, mask=ok, other=0.0) + tl.dot(dz, w, input_precision="ieee")
            h = tl.load(states_ptr + at + t * H, mask=ok, other=0.0)
            dz = g * (1.0 - h * h)
            tl.store(dz_ptr + at + t * H, dz, mask=ok)

    return forward_kernel, backward_kernel


def _tiles(batch: int, hidden: int) -> tuple[int, int, int]:
    """(batch rows per program, padded H, warps): tl.dot needs sides of at least 16."""
    hp = max(16, pow2(hidden))
    return max(16, min(64, pow2(batch))), hp, 8 if hp >= 128 else 4


def fused_problem(drive: Tensor, hidden: int) -> str | None:
    """Why the fused recurrence cannot run on ``drive`` (M, B, T, H), or None where it can."""
    problem = placement_problem(drive)
    if problem is not None:
        return problem
    if drive.dtype != torch.float32:
        return f"the kernel computes in float32 only, got {drive.dtype}"
    if hidden > MAX_HIDDEN:
        return f"H = {hidden} exceeds {MAX_HIDDEN} (the H x H weight must fit one program's registers)"
    return None


class FusedElmanRecurrence(torch.autograd.Function):
    """Autograd wiring: one launch forward; one launch plus one batched matmul backward."""

    @staticmethod
    def forward(ctx, drive: Tensor, W_hh: Tensor) -> Tensor:
        forward_kernel, _ = _triton_kernels()
        M, B, T, H = drive.shape
        drive, weight = drive.contiguous(), W_hh.contiguous()
        states = torch.empty_like(drive)
        bb, hp, warps = _tiles(B, H)
        forward_kernel[(M, -(-B // bb))](drive, weight, states, B, T, H=H, HP=hp, BB=bb, num_warps=warps)
        ctx.save_for_backward(states, weight)
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states: Tensor) -> tuple[Tensor, Tensor]:
        _, backward_kernel = _triton_kernels()
        states, weight = ctx.saved_tensors
        M, B, T, H = states.shape
        dz = torch.empty_like(states)
        bb, hp, warps = _tiles(B, H)
        backward_kernel[(M, -(-B // bb))](grad_states.contiguous(), states, weight, dz, B, T, H=H, HP=hp, BB=bb,
                                          num_warps=warps)
        # dW[m, i, k] = sum over b, t >= 1 of dz[m, b, t, i] states[m, b, t - 1, k]
        grad_w = torch.bmm(dz[:, :, 1:].reshape(M, -1, H).transpose(1, 2), states[:, :, :-1].reshape(M, -1, H))
        return dz, grad_w


def fused_elman_recurrence(drive: Tensor, W_hh: Tensor) -> Tensor:
    """Same contract as :func:`wavelib.models.elman.elman_recurrence`, on the fused Triton kernels.

    drive (M, B, T, H) float32, W_hh (M, H, H) -> states (M, B, T, H). Raises ValueError where
    :func:`fused_problem` finds a reason it cannot run.
    """
    if drive.dim() != 4 or W_hh.shape != (drive.shape[0], drive.shape[3], drive.shape[3]):
        raise ValueError(f"need drive (M, B, T, H) and W_hh (M, H, H), got {tuple(drive.shape)} and "
                         f"{tuple(W_hh.shape)}")
    problem = fused_problem(drive, drive.shape[3])
    if problem is None and W_hh.dtype != torch.float32:
        problem = f"the kernel computes in float32 only, got W_hh in {W_hh.dtype}"
    if problem is not None:
        raise ValueError(f"fused Elman recurrence unavailable: {problem}")
    return FusedElmanRecurrence.apply(drive, W_hh)
