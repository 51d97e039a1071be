"""A fused Triton implementation of the batched tanh Elman recurrence (:func:`elman.elman_recurrence`).

The reference loop launches a ``baddbmm`` and a ``tanh`` per step forward and about four kernels per step
backward (Chapter 2 trains 240 models at once through 108 steps, so a training step is launch-bound). Here the
hidden-state chain is one launch forward and one backward. Grid: (model, batch tile of 16 rows). Each program
holds its tile of hidden states (16, H) across all T steps and multiplies it by the model's recurrent weight on
the tensor cores.

Precision: 3xTF32. Each float32 operand x is split into ``hi = tf32(x)`` and ``lo = tf32(x - hi)`` (truncation
to TF32's 10-bit mantissa, done here by masking bits, so every value fed to ``tl.dot`` is exactly
representable in TF32 and the tensor cores' products are exact) and ``x y`` is formed as
``hi_x hi_y + hi_x lo_y + lo_x hi_y``, accumulated in float32: about 2^-21 relative error per product (the
dropped ``lo lo`` term and the truncation of ``lo``), against 2^-24 for float32. Through Chapter 2's 108 steps at
H = 128 from PyTorch's init the states came within 1.1e-6 of float64, the float32 reference within 0.8e-6
(Triton's CPU interpreter, which forms the same exact products, summed in its own order): the two paths agree to
float32 rounding, not bit for bit (the tests hold both to float64). Why not ``tl.dot`` in IEEE float32: compiled
for sm_90a (Triton 3.6, ``scripts/kernel_resources.py``), that FMA form at H = 128 used 10 KB of stack per thread
and about 9,600 local-memory loads and stores per step; this form uses none (8 bytes with Triton 3.9).

The recurrent weight's gradient is not summed in the kernel: once dL/d(pre-activation) is known for every step,
it is one batched matrix product over all (sequence, step) pairs, in PyTorch (deterministic; no atomics).

tanh is computed as ``sign(z) (1 - e) / (1 + e)`` with ``e = exp(-2 |z|)`` (the kernels must also run in
Triton's interpreter, which has no libdevice): within ~2e-7 of ``torch.tanh``.

Needs ``triton``; runs on CUDA tensors, or on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set before triton is imported; slow, for tests only).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .triton_support import lazy_kernels, placement_problem, pow2

MAX_HIDDEN = 128  #: the largest H one program holds (checked free of register spills up to here)
ROWS = 16  #: batch rows per program (tl.dot's smallest side; larger tiles spilled registers at H = 128)


@lazy_kernels
def _triton_kernel(triton: ModuleType, tl: ModuleType):
    """The Triton kernel, forward or backward by its ``BACKWARD`` flag (None where triton does not import)."""

    @triton.jit
    def recurrence_kernel(in_ptr, w_ptr, states_ptr, out_ptr, B, T, H: tl.constexpr, HP: tl.constexpr,
                          BB: tl.constexpr, BACKWARD: tl.constexpr):
        """Program (m, tile), for the tile's rows b; in, states, out (M, B, T, H) and w (M, H, H) float32 contiguous.

        Forward, t = 0..T-1 (``in`` = drive): out[t] = tanh(in[t] + out[t - 1] W[m]^T), out[-1] = 0 (the states).
        Backward, t = T-1..0 (``in`` = dL/dstates): out[t] = (in[t] + out[t + 1] W[m]) (1 - states[t]^2), the
        gradient of the pre-activation (= of the drive).
        The product with W in 3xTF32: x = hi + lo, each part truncated to TF32 (mask -8192 keeps the sign, the
        exponent and 10 mantissa bits), x W = lo_x hi_W + hi_x lo_W + hi_x hi_W (small terms first).
        """
        m = tl.program_id(0).to(tl.int64)
        rows = tl.program_id(1) * BB + tl.arange(0, BB)
        cols = tl.arange(0, HP)
        col_ok = cols < H
        ok = (rows < B)[:, None] & col_ok[None, :]
        if BACKWARD:
            w_at = cols[:, None] * H + cols[None, :]  # [i, k] = W[m, i, k]
        else:
            w_at = cols[None, :] * H + cols[:, None]  # [k, i] = W[m, i, k]
        w = tl.load(w_ptr + m * H * H + w_at, mask=col_ok[:, None] & col_ok[None, :], other=0.0)
        w_hi = (w.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
        w_lo = ((w - w_hi).to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
        at = (m * B + rows[:, None].to(tl.int64)) * T * H + cols[None, :]  # (BB, HP) offsets of step 0
        carry = tl.zeros((BB, HP), dtype=tl.float32)
        for s in range(T):
            t = T - 1 - s if BACKWARD else s
            c_hi = (carry.to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
            c_lo = ((carry - c_hi).to(tl.int32, bitcast=True) & -8192).to(tl.float32, bitcast=True)
            z = tl.dot(c_lo, w_hi, input_precision="tf32")
            z = tl.dot(c_hi, w_lo, z, input_precision="tf32")
            z = tl.dot(c_hi, w_hi, z, input_precision="tf32")
            z += tl.load(in_ptr + at + t * H, mask=ok, other=0.0)
            if BACKWARD:
                h = tl.load(states_ptr + at + t * H, mask=ok, other=0.0)
                carry = z * (1.0 - h * h)
            else:
                e = tl.exp(-2.0 * tl.abs(z))
                carry = tl.where(z < 0.0, -1.0, 1.0) * ((1.0 - e) / (1.0 + e))
            tl.store(out_ptr + at + t * H, carry, mask=ok)

    return recurrence_kernel


def _tiles(hidden: int) -> tuple[int, int, int]:
    """(batch rows per program, padded H, warps): tl.dot needs sides of at least 16. Compiled for sm_90a
    (``scripts/kernel_resources.py``, Triton 3.6), these use no stack at H = 16, 32, 64 and 128."""
    hp = max(16, pow2(hidden))
    return ROWS, hp, 8 if hp >= 128 else 4


def fused_problem(drive: Tensor, hidden: int) -> str | None:
    """Why the fused recurrence cannot run on ``drive`` (M, B, T, H), or None where it can."""
    problem = placement_problem(drive)
    if problem is not None:
        return problem
    if drive.dtype != torch.float32:
        return f"the kernel computes in float32 only, got {drive.dtype}"
    if hidden > MAX_HIDDEN:
        return f"H = {hidden} exceeds {MAX_HIDDEN} (the largest checked free of register spills)"
    return None


class FusedElmanRecurrence(torch.autograd.Function):
    """Autograd wiring: one launch forward; one launch plus one batched matmul backward (same kernel)."""

    @staticmethod
    def forward(ctx, drive: Tensor, W_hh: Tensor) -> Tensor:
        M, B, T, H = drive.shape
        drive, weight = drive.contiguous(), W_hh.contiguous()
        states = torch.empty_like(drive)
        bb, hp, warps = _tiles(H)
        _triton_kernel()[(M, -(-B // bb))](drive, weight, states, states, B, T, H=H, HP=hp, BB=bb, BACKWARD=False,
                                           num_warps=warps)
        ctx.save_for_backward(states, weight)
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states: Tensor) -> tuple[Tensor, Tensor]:
        states, weight = ctx.saved_tensors
        M, B, T, H = states.shape
        dz = torch.empty_like(states)
        bb, hp, warps = _tiles(H)
        _triton_kernel()[(M, -(-B // bb))](grad_states.contiguous(), weight, states, dz, B, T, H=H, HP=hp, BB=bb,
                                           BACKWARD=True, num_warps=warps)
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
