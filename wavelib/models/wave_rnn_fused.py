"""A fused Triton implementation of the Wave-RNN recurrence (:func:`wave_rnn.wave_rnn_recurrence`).

The reference loop launches tens of small kernels per step; here the whole sequence is one launch forward and
one launch backward. Grid: one program per sequence (``B`` programs). Each keeps the hidden state of its
sequence, a (c, n) tile padded to powers of two of at least 16 (C, N) and masked, in registers across all T
steps.

Each step adds ``W_k @ tile_k`` for the three taps, tile_k = h_{t-1} rolled by k - 1 along the ring, with
``tl.dot`` in 3xTF32 on the tensor cores by default (about float32's accuracy; IEEE float32 FMAs with "ieee":
:data:`PRECISIONS`).
Two ways to get the rolled tiles (:data:`SHIFTS`): "gather" (default) rolls the registers with ``tl.gather``
(compiled for sm_90: warp shuffles, no global load on the step's critical path); "memory" reads them back from
global memory: the forward stores h_t into ``states[b, t]`` (an output anyway), a CTA barrier makes the store
visible, and step t + 1 loads the three tiles (cache-resident). On an H200 (benchmark at f3fae846382c, fwd + bwd,
batch 128) "gather" took 4.49 ms against 6.63 at the copy T = 480 shapes and 27.8 against 36.5 ms at the sMNIST
shapes.
The backward does the same with dL/dx_proj, which is the gradient of the pre-activation, and the transposed taps.
Each step's inputs from global memory (forward: x; backward: the incoming gradient and the states) are loaded one
step ahead, so their latency overlaps the step's products instead of starting it (unmeasured when written: compare
the "wRNN recurrence" rows with those of commit f3fae846382c, 4.49 / 27.8 ms with "gather" on an H200).
(The first version loaded the c * 3 shifted rows one by one: on an H200 about 16 us per step at the sMNIST shapes,
which looked like one cache round trip per row.)

The conv weight and bias gradients are not summed in the recurrence kernel (that took c * 3 reductions across the
tile per step): once dL/dx_proj is known for every step, one more Triton launch reads it and the states once
(``wgrad="kernel"``, the default: :mod:`.wave_rnn_wgrad`), or with ``wgrad="bmm"`` they are three batched matrix
products over all (sequence, step) pairs and a sum, in PyTorch (:data:`WGRADS`). Both deterministic: no atomics.
Summing them in the backward kernel as ``tl.dot`` products was tried at compile level (a prototype, not kept;
sm_90, Triton 3.6, sMNIST pixel shapes, "tf32x3"; ``scripts/kernel_resources.py``'s counts): with the rolled dx
tiles the step already gathers, one (16, 256) @ (256, 16) product per tap spilled 15 KB of stack per thread; split
into 8 column groups, a batched (8, 16, 32) @ (8, 32, 16) product per tap, the step loop held 1,396 instructions
and 24 CTA barriers against 991 and 18, with 104 bytes of spills. About 40% more per backward step, against a
separate pass that reads 3.3 GB (about 1 ms on an H100): no clear gain, so not built.

Pixel sequences and a loss on the last step (sMNIST, psMNIST: :func:`fused_wave_rnn_pixels`, which the wRNN's
``last=True`` takes on CUDA for one input a step): the kernels project the input themselves, ``x[b, t] win + bin``
with V's weight column and bias held in registers, so the (B, T, c*n) projection is never written or read; the
backward kernel reads one gradient per sequence (the last state's) instead of a (B, T, c*n) tensor of zeros but
its last step, and sums V's weight and bias gradients per sequence as it goes (registers; (B, c*n) partials
summed in PyTorch, a fixed order). Profiled at the sMNIST shapes on an H100 before this path existed (commit
0c709b84a93d, ``benchmarks/results/cuda-profile.md``: a 21.1 ms training step), beside the recurrence kernels
(4.3 ms) and the conv weight gradient (8.5 ms with its ring copy) about 7.8 ms went to matmuls, fills and
reductions, mostly the projection, the readout of all 784 steps and their gradients (not attributed kernel by
kernel). The "wRNN pixels [in kernel]" rows time this path against that one.

Numbers: float32 inside the kernels whatever the input dtype; states come back in ``x_proj``'s dtype (with
pixels, V's weight's). Saved for backward: the float32 states (B, T, c*n), and with pixels the input (B, T).

Needs ``triton``; runs on CUDA tensors, or on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``,
set before triton is imported; slow, for tests only).
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .triton_support import dot_tile, lazy_kernels, placement_problem
from .wave_rnn_columns import columns_backward, columns_forward, columns_problem
from .wave_rnn_wgrad import conv_grads

FUSED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_TILE = 16384  # padded C * N held per program; the sMNIST wRNN (c16, n256) is 4096
#: how a step reads the previous state rolled by -1, 0, +1 along the ring: "gather" (the default: faster on the
#: GPU, ``benchmarks/bench_wave_rnn.py``'s "wRNN recurrence [gather]" rows), ``tl.gather`` on the registers (warp
#: shuffles and shared memory, no barrier on global memory); "memory", loads of the step just stored (after a CTA
#: barrier; cache-resident). The same products, so the same numbers to float32 rounding.
SHIFTS = ("gather", "memory")
WARPS = (1, 2, 4, 8, 16)  #: warps per program that a caller may ask for
#: which kernels: "tiles" (the default; these Triton kernels, the state as ``tl.dot`` tiles; ``shift`` and
#: ``warps`` apply) or "columns" (the Gluon kernels of :mod:`.wave_rnn_columns`, each thread all channels of its
#: own units; CUDA only; on an H100 1.25x faster at the copy shapes, 0.96x at sMNIST's). The same products, so the
#: same numbers to float32 rounding.
KERNELS = ("tiles", "columns")
#: how the backward sums the conv weight and bias gradients once dL/dx_proj is known: "kernel" (the default), one
#: Triton pass over dL/dx_proj and the states (:mod:`.wave_rnn_wgrad`), or "bmm", a copy of the states wrapped
#: along the ring, three batched matmuls and sums in PyTorch (:func:`_conv_weight_grad`). The same products, so the
#: same numbers to float32 rounding. "kernel" became the default before its first GPU measurement, on the H100
#: profile of "bmm" (commit 0c709b84a93d: at the sMNIST shapes its matmuls and ring copy took 8.5 ms of a 21.1 ms
#: training step, for 15 GB of memory traffic where the kernel moves 3.3 GB): the "wRNN recurrence [wgrad
#: kernel]" rows time the two, and a ratio below 1 there means putting "bmm" back.
WGRADS = ("kernel", "bmm")
#: ``tl.dot``'s input precision in the "tiles" kernels: "tf32x3" (the default), each float32 operand split into two
#: TF32 parts and three tensor-core products summed, about 2^-21 relative error per product against float32's 2^-24
#: (as in :mod:`.elman_fused`), or "ieee", float32 FMAs on the CUDA cores (the "columns" kernels' only one).
#: "tf32x3" became the default before its first GPU speed measurement: a session's device time now allows one
#: call, which must time the speed goals with the defaults it will keep. What chose it: compiled for sm_90
#: (``scripts/kernel_resources.py``, Triton 3.9) the sMNIST step loop holds, per thread, 780 instructions and 16 CTA
#: barriers instead of 1,028 and 22 forward, 991 and 18 instead of 1,209 and 24 backward (pixels), and the kernels
#: 16 FFMA each instead of 784; at the copy shapes (c = 6, padded to 16) 390 against 383 instructions forward, 480
#: against 632 backward. With Triton 3.6, the GPU machine's: 813 and 16 against 1,024 and 22 forward, 991 and 18
#: against 1,210 and 24 backward; copy 420 against 403 forward, 512 against 676 backward (gather shift; spills:
#: none). Its float64 tests (now ``tests/test_wave_rnn_precision.py``, sMNIST shapes included)
#: passed on an H200 at commit 8fe816ccaad4. The "[tf32x3]" benchmark rows time the two; a loss there means putting
#: "ieee" back. Triton's CPU interpreter computes both alike (float32 products), so only a GPU tells them apart.
PRECISIONS = ("ieee", "tf32x3")
DEFAULT_PRECISION = "tf32x3"  #: what ``precision=None`` means for the "tiles" kernels ("columns": "ieee")
#: the keyword options of :func:`fused_wave_rnn_recurrence` (what :mod:`.wave_rnn`'s ``fused_options`` may hold)
FUSED_OPTIONS = ("shift", "warps", "kernel", "wgrad", "precision")


@lazy_kernels
def _triton_kernels(triton: ModuleType, tl: ModuleType) -> tuple:
    """The (forward, backward) Triton kernels (None where triton does not import)."""

    @triton.jit
    def forward_kernel(x_ptr, win_ptr, bin_ptr, w_ptr, bias_ptr, states_ptr, T, C_REAL: tl.constexpr,
                       N_REAL: tl.constexpr, C: tl.constexpr, N: tl.constexpr, HAS_BIAS: tl.constexpr,
                       GATHER: tl.constexpr, PIXELS: tl.constexpr, PRECISION: tl.constexpr):
        """Program b: states[b, t] = ReLU(x[b, t] + conv(states[b, t - 1]) + bias) for t = 0..T-1, h_{-1} = 0.

        x, states (B, T, C_REAL * N_REAL) float32 contiguous; w (C_REAL, C_REAL, 3); bias (C_REAL,).
        conv(h) = sum_k W_k @ shift_k(h): W_k = w[:, :, k] (C, C), shift_k(h)[j, i] = h[j, (i + k - 1) mod n];
        the shifted tiles are read back from states (GATHER False) or gathered from the registers (True).
        PIXELS: x is the raw input (B, T), one value a step, projected here: x[b, t] win + bin, win and bin
        (C_REAL * N_REAL,) (V's weight column and bias); otherwise win and bin are unused pointers.
        PRECISION: ``tl.dot``'s input precision, one of :data:`PRECISIONS`.
        """
        seq = tl.program_id(0).to(tl.int64) * T * (C_REAL * N_REAL)
        rows = tl.arange(0, C)
        cols = tl.arange(0, N)
        row_ok = rows < C_REAL
        col_ok = cols < N_REAL
        tile = rows[:, None] * N_REAL + cols[None, :]
        tile_ok = row_ok[:, None] & col_ok[None, :]
        taps = w_ptr + rows[:, None] * (3 * C_REAL) + rows[None, :] * 3  # (o, j) -> &w[o, j, 0]
        taps_ok = row_ok[:, None] & row_ok[None, :]
        w0 = tl.load(taps, mask=taps_ok, other=0.0)
        w1 = tl.load(taps + 1, mask=taps_ok, other=0.0)
        w2 = tl.load(taps + 2, mask=taps_ok, other=0.0)
        left_col = tl.broadcast_to(((cols + N_REAL - 1) % N_REAL)[None, :], (C, N))  # h[j, i - 1]: tap 0
        right_col = tl.broadcast_to(((cols + 1) % N_REAL)[None, :], (C, N))  # h[j, i + 1]: tap 2
        left = rows[:, None] * N_REAL + left_col
        right = rows[:, None] * N_REAL + right_col
        if HAS_BIAS:
            bias = tl.load(bias_ptr + rows, mask=row_ok, other=0.0)
        else:
            bias = tl.zeros((C,), dtype=tl.float32)
        h = tl.zeros((C, N), dtype=tl.float32)
        if PIXELS:
            pixels = tl.program_id(0).to(tl.int64) * T
            win = tl.load(win_ptr + tile, mask=tile_ok, other=0.0)
            base = tl.load(bin_ptr + tile, mask=tile_ok, other=0.0) + bias[:, None]
            x_next = tl.load(x_ptr + pixels)
        else:
            x_next = tl.load(x_ptr + seq + tile, mask=tile_ok, other=0.0)
        for t in range(T):
            step = seq + t * (C_REAL * N_REAL)
            # x[b, t + 1] is loaded a step ahead: its latency hides behind this step's products (the last step
            # loads x[b, T - 1] again, unused)
            if PIXELS:
                acc = x_next * win + base
                x_next = tl.load(x_ptr + pixels + tl.minimum(t + 1, T - 1))
            else:
                acc = x_next + bias[:, None]
                x_next = tl.load(x_ptr + seq + tl.minimum(t + 1, T - 1) * (C_REAL * N_REAL) + tile, mask=tile_ok,
                                 other=0.0)
            if GATHER:  # h_{-1} = 0: no special case
                acc = tl.dot(w0, tl.gather(h, left_col, 1), acc, input_precision=PRECISION)
                acc = tl.dot(w1, h, acc, input_precision=PRECISION)
                acc = tl.dot(w2, tl.gather(h, right_col, 1), acc, input_precision=PRECISION)
            elif t > 0:
                prev = states_ptr + step - C_REAL * N_REAL
                acc = tl.dot(w0, tl.load(prev + left, mask=tile_ok, other=0.0), acc, input_precision=PRECISION)
                acc = tl.dot(w1, tl.load(prev + tile, mask=tile_ok, other=0.0), acc, input_precision=PRECISION)
                acc = tl.dot(w2, tl.load(prev + right, mask=tile_ok, other=0.0), acc, input_precision=PRECISION)
            h = tl.where(tile_ok, tl.maximum(acc, 0.0), 0.0)  # padding stays 0: gathers read only real columns
            tl.store(states_ptr + step + tile, h, mask=tile_ok)
            if not GATHER:
                tl.debug_barrier()  # h_t must be visible to the whole program before step t + 1 reads it shifted

    @triton.jit
    def backward_kernel(grad_ptr, states_ptr, w_ptr, dx_ptr, x_ptr, dwin_ptr, dbin_ptr, T, C_REAL: tl.constexpr,
                        N_REAL: tl.constexpr, C: tl.constexpr, N: tl.constexpr, GATHER: tl.constexpr,
                        GRAD_LAST: tl.constexpr, PIXELS: tl.constexpr, PRECISION: tl.constexpr):
        """Program b, t = T-1..0: dx[b, t] = (grad[b, t] + conv^T(dx[b, t + 1])) masked by states[b, t] > 0.

        conv^T(a) = sum_k W_k^T @ unshift_k(a), unshift_k(a)[o, m] = a[o, (m - k + 1) mod n]; the unshifted
        tiles are read back from dx (GATHER False) or gathered from the registers (True).
        GRAD_LAST: grad is (B, C_REAL * N_REAL), the gradient of the last state only (zero at every other step).
        PIXELS: also dwin[b] = sum_t dx[b, t] x[b, t] and dbin[b] = sum_t dx[b, t], (B, C_REAL * N_REAL), for
        the raw input x (B, T) of the forward's PIXELS; otherwise x, dwin and dbin are unused pointers.
        PRECISION as in the forward.
        """
        seq = tl.program_id(0).to(tl.int64) * T * (C_REAL * N_REAL)
        rows = tl.arange(0, C)
        cols = tl.arange(0, N)
        row_ok = rows < C_REAL
        col_ok = cols < N_REAL
        tile = rows[:, None] * N_REAL + cols[None, :]
        tile_ok = row_ok[:, None] & col_ok[None, :]
        taps = w_ptr + rows[None, :] * (3 * C_REAL) + rows[:, None] * 3  # (j, o) -> &w[o, j, 0]: W_k^T
        taps_ok = row_ok[:, None] & row_ok[None, :]
        w0 = tl.load(taps, mask=taps_ok, other=0.0)
        w1 = tl.load(taps + 1, mask=taps_ok, other=0.0)
        w2 = tl.load(taps + 2, mask=taps_ok, other=0.0)
        right_col = tl.broadcast_to(((cols + 1) % N_REAL)[None, :], (C, N))  # a[o, m + 1]: tap 0
        left_col = tl.broadcast_to(((cols + N_REAL - 1) % N_REAL)[None, :], (C, N))  # a[o, m - 1]: tap 2
        right = rows[:, None] * N_REAL + right_col
        left = rows[:, None] * N_REAL + left_col
        a = tl.zeros((C, N), dtype=tl.float32)  # dx[b, t + 1]; 0 past the end
        last = seq + (T - 1) * (C_REAL * N_REAL)
        if GRAD_LAST:
            g_next = tl.load(grad_ptr + tl.program_id(0).to(tl.int64) * (C_REAL * N_REAL) + tile, mask=tile_ok,
                             other=0.0)
        else:
            g_next = tl.load(grad_ptr + last + tile, mask=tile_ok, other=0.0)
        h_next = tl.load(states_ptr + last + tile, mask=tile_ok, other=0.0)
        if PIXELS:
            pixels = tl.program_id(0).to(tl.int64) * T
            x_next = tl.load(x_ptr + pixels + T - 1)
            dwin = tl.zeros((C, N), dtype=tl.float32)
            dbin = tl.zeros((C, N), dtype=tl.float32)
        for s in range(T):
            t = T - 1 - s
            step = seq + t * (C_REAL * N_REAL)
            g = g_next
            h = h_next
            # grad and states of step t - 1 are loaded a step ahead: their latency hides behind this step's products
            # (step 0 loads its own again, unused)
            earlier = seq + tl.maximum(t - 1, 0) * (C_REAL * N_REAL)
            if GRAD_LAST:
                g_next = tl.zeros((C, N), dtype=tl.float32)
            else:
                g_next = tl.load(grad_ptr + earlier + tile, mask=tile_ok, other=0.0)
            h_next = tl.load(states_ptr + earlier + tile, mask=tile_ok, other=0.0)
            if PIXELS:
                x_t = x_next
                x_next = tl.load(x_ptr + pixels + tl.maximum(t - 1, 0))
            if GATHER:
                g = tl.dot(w0, tl.gather(a, right_col, 1), g, input_precision=PRECISION)
                g = tl.dot(w1, a, g, input_precision=PRECISION)
                g = tl.dot(w2, tl.gather(a, left_col, 1), g, input_precision=PRECISION)
            elif t < T - 1:
                nxt = dx_ptr + step + C_REAL * N_REAL
                g = tl.dot(w0, tl.load(nxt + right, mask=tile_ok, other=0.0), g, input_precision=PRECISION)
                g = tl.dot(w1, tl.load(nxt + tile, mask=tile_ok, other=0.0), g, input_precision=PRECISION)
                g = tl.dot(w2, tl.load(nxt + left, mask=tile_ok, other=0.0), g, input_precision=PRECISION)
            a = tl.where(h > 0.0, g, 0.0)  # masked loads: 0 in the padding
            tl.store(dx_ptr + step + tile, a, mask=tile_ok)
            if PIXELS:
                dwin += a * x_t
                dbin += a
            if not GATHER:
                tl.debug_barrier()  # dx[b, t] must be visible to the whole program before step t - 1 reads it
        if PIXELS:
            sums = tl.program_id(0).to(tl.int64) * (C_REAL * N_REAL) + tile
            tl.store(dwin_ptr + sums, dwin, mask=tile_ok)
            tl.store(dbin_ptr + sums, dbin, mask=tile_ok)

    return forward_kernel, backward_kernel


def fused_problem(x_proj: Tensor, c: int, n: int) -> str | None:
    """Why the fused recurrence cannot run on ``x_proj`` with this (c, n), or None where it can."""
    problem = placement_problem(x_proj)
    if problem is not None:
        return problem
    if x_proj.dtype not in FUSED_DTYPES:
        return f"the kernel does not support {x_proj.dtype}"
    C, N = dot_tile(c, n)
    if C * N > MAX_TILE:
        return f"the padded state {C} x {N} exceeds {MAX_TILE} values per program"
    return None


def default_warps(c: int, n: int) -> int:
    """Warps per program: about 256 state values per warp, between 1 and 8. (With the first, row-by-row
    kernels on an H200, fwd + bwd at batch 128: sMNIST shapes 28.4 / 25.4 / 25.1 / 22.5 ms and copy T = 480
    3.88 / 3.68 / 3.60 / 3.34 ms at 2 / 4 / 8 / 16 warps. Compiled for sm_90, the "gather" kernels' step loop
    holds 10 CTA barriers at the copy shapes with 8 warps and 2 with one warp, where the whole tile sits in one
    warp: ``benchmarks/bench_wave_rnn.py``'s "[N warps]" rows time other counts against this default.)"""
    C, N = dot_tile(c, n)
    return max(1, min(8, C * N // 256))


class FusedWaveRecurrence(torch.autograd.Function):
    """Autograd wiring of the two kernels ("tiles" or "columns"): one launch forward; backward one launch, then
    the weight and bias gradients ("bmm": three batched matmuls and a sum; "kernel": one more launch).

    ``in_weight`` None: ``x`` is the projected input (B, T, c*n). Otherwise ``x`` is the raw input (B, T, 1),
    projected inside the "tiles" kernels by ``in_weight`` (c*n, 1) and ``in_bias`` (c*n,) or None, whose
    gradients the backward kernel sums per sequence. ``last``: the output is the last state (B, c*n) only, and the
    backward kernel reads one gradient per sequence instead of a (B, T, c*n) tensor of zeros but for its last step.
    """

    @staticmethod
    def forward(ctx, x: Tensor, in_weight: Tensor | None, in_bias: Tensor | None, conv_weight: Tensor,
                conv_bias: Tensor | None, c: int, n: int, last: bool, shift: str, warps: int, kernel: str,
                wgrad: str, precision: str) -> Tensor:
        pixels = in_weight is not None
        inputs = x.float().contiguous()
        weight = conv_weight.float().contiguous()
        bias = None if conv_bias is None else conv_bias.float().contiguous()
        batch, steps = x.shape[:2]
        if kernel == "columns":
            states = columns_forward(inputs, weight, bias, c, n)
        else:
            forward_kernel, _ = _triton_kernels()
            states = torch.empty(batch, steps, c * n, device=x.device, dtype=torch.float32)
            if pixels:
                win = in_weight.float().reshape(c * n).contiguous()
                b_in = win.new_zeros(c * n) if in_bias is None else in_bias.float().contiguous()
            else:
                win = b_in = weight  # unused pointers
            C, N = dot_tile(c, n)
            forward_kernel[(batch,)](inputs, win, b_in, weight, weight if bias is None else bias, states, steps,
                                     C_REAL=c, N_REAL=n, C=C, N=N, HAS_BIAS=bias is not None,
                                     GATHER=shift == "gather", PIXELS=pixels, PRECISION=precision, num_warps=warps)
        ctx.save_for_backward(states, weight, inputs if pixels else None, in_weight)
        ctx.c, ctx.n, ctx.has_bias, ctx.shift, ctx.warps, ctx.kernel = c, n, bias is not None, shift, warps, kernel
        ctx.wgrad, ctx.precision, ctx.last, ctx.has_in_bias = wgrad, precision, last, in_bias is not None
        ctx.dtypes = [None if t is None else t.dtype for t in (x, in_weight, in_bias, conv_weight, conv_bias)]
        out = states[:, -1].clone() if last else states
        return out.to(in_weight.dtype if pixels else x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        states, weight, inputs, in_weight = ctx.saved_tensors
        c, n, pixels = ctx.c, ctx.n, in_weight is not None
        batch, steps = states.shape[:2]
        grad = grad_out.float().contiguous()
        if ctx.kernel == "columns":
            dx = columns_backward(grad, states, weight, c, n)
        else:
            _, backward_kernel = _triton_kernels()
            dx = torch.empty_like(states)
            # per sequence: V's weight and bias gradients (unused pointers without pixels)
            sums = torch.empty(2, batch, c * n, device=dx.device, dtype=torch.float32) if pixels else (dx, dx)
            C, N = dot_tile(c, n)
            backward_kernel[(batch,)](grad, states, weight, dx, inputs if pixels else dx, sums[0], sums[1], steps,
                                      C_REAL=c, N_REAL=n, C=C, N=N, GATHER=ctx.shift == "gather",
                                      GRAD_LAST=ctx.last, PIXELS=pixels, PRECISION=ctx.precision,
                                      num_warps=ctx.warps)
        if ctx.wgrad == "kernel":
            grad_weight, grad_bias = conv_grads(dx, states, c, n)
        else:
            grad_weight = _conv_weight_grad(dx, states, c, n)
            grad_bias = dx.view(batch, steps, c, n).sum((0, 1, 3)) if ctx.has_bias else None
        grads: list[Tensor | None] = [dx, None, None, grad_weight, grad_bias if ctx.has_bias else None]
        if pixels:
            in_sums = sums.sum(1)  # (2, c*n): over the sequences, in a fixed order
            grads[:3] = [dx.view(batch * steps, c * n).mv(in_weight.float().reshape(c * n)).view(batch, steps, 1)
                         if ctx.needs_input_grad[0] else None,
                         in_sums[0].view(c * n, 1), in_sums[1] if ctx.has_in_bias else None]
        return (*(None if g is None else g.to(dtype) for g, dtype in zip(grads, ctx.dtypes)),
                None, None, None, None, None, None, None, None)


def _conv_weight_grad(dx: Tensor, states: Tensor, c: int, n: int) -> Tensor:
    """dL/dw (c, c, 3) from dx = dL/dx_proj and the states, both (B, T, c*n) float32:
    dw[o, j, k] = sum over b, t >= 1, i of dx[b, t, o, i] * states[b, t - 1, j, (i + k - 1) mod n]."""
    batch, steps = states.shape[:2]
    a = dx.view(batch, steps, c, n)[:, 1:].reshape(-1, c, n)  # (B (T-1), c, n)
    h = states.view(batch, steps, c, n)[:, :-1]
    # one copy of the states, wrapped: ring[..., k + i] = h[..., (i + k - 1) mod n]; each tap reads a strided view
    ring = torch.cat([h[..., -1:], h, h[..., :1]], dim=-1).reshape(-1, c, n + 2)
    taps = [torch.bmm(a, ring[..., k:k + n].transpose(1, 2)).sum(0) for k in range(3)]
    return torch.stack(taps, dim=-1)


def _check_options(shift: str, warps: int | None, kernel: str, wgrad: str, precision: str | None) -> str:
    """Raise ValueError for a bad option; return the precision (None: :data:`DEFAULT_PRECISION` for the "tiles"
    kernels, "ieee" for the "columns" ones)."""
    precision = precision or (DEFAULT_PRECISION if kernel == "tiles" else "ieee")
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; choose one of {SHIFTS}")
    if warps is not None and warps not in WARPS:
        raise ValueError(f"warps must be one of {WARPS}, got {warps!r}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if wgrad not in WGRADS:
        raise ValueError(f"unknown wgrad {wgrad!r}; choose one of {WGRADS}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if kernel == "columns" and precision != "ieee":
        raise ValueError(f'precision {precision!r} is the "tiles" kernels\' (the "columns" ones use float32 FMAs)')
    return precision


def fused_defaults() -> dict[str, Any]:
    """The defaults of :data:`FUSED_OPTIONS`, as :func:`fused_wave_rnn_recurrence` takes them (``precision``:
    :data:`DEFAULT_PRECISION`; ``warps`` None: :func:`default_warps`)."""
    return {**_signature_defaults(), "precision": DEFAULT_PRECISION}


def other_precision() -> str:
    """The one of :data:`PRECISIONS` that is not :data:`DEFAULT_PRECISION` (what benchmarks time against it)."""
    return next(precision for precision in PRECISIONS if precision != DEFAULT_PRECISION)


def _signature_defaults() -> dict[str, Any]:
    """:data:`FUSED_OPTIONS`' defaults in the signature of :func:`fused_wave_rnn_recurrence` (``precision`` None)."""
    parameters = inspect.signature(fused_wave_rnn_recurrence).parameters
    return {name: parameters[name].default for name in FUSED_OPTIONS}


def check_fused_options(options: dict[str, Any]) -> None:
    """Raise ValueError for a name not in :data:`FUSED_OPTIONS` or a value :func:`fused_wave_rnn_recurrence` would
    refuse, without running anything."""
    unknown = sorted(set(options) - set(FUSED_OPTIONS))
    if unknown:
        raise ValueError(f"unknown fused-kernel option(s) {', '.join(unknown)}; valid: {', '.join(FUSED_OPTIONS)}")
    _check_options(**{**_signature_defaults(), **options})


def fused_wave_rnn_recurrence(x_proj: Tensor, conv_weight: Tensor, conv_bias: Tensor | None, c: int,
                              n: int, shift: str = "gather", warps: int | None = None,
                              kernel: str = "tiles", wgrad: str = "kernel", last: bool = False,
                              precision: str | None = None) -> Tensor:
    """Same contract as :func:`wavelib.models.wave_rnn.wave_rnn_recurrence`, on the fused Triton kernels.

    x_proj (B, T, c*n), conv_weight (c, c, 3), conv_bias (c,) or None -> states (B, T, c*n) in x_proj's dtype,
    or with ``last`` the last state (B, c*n) (the backward then reads one gradient per sequence).
    ``shift``: how a step gets the previous state rolled along the ring (:data:`SHIFTS`; same numbers either way).
    ``warps``: warps per program, one of :data:`WARPS` (None: :func:`default_warps`; same numbers either way).
    ``kernel``: one of :data:`KERNELS`; ``shift`` and ``warps`` are the "tiles" kernels' (the "columns" ones pick
    their own warps: :func:`.wave_rnn_columns.tiles`, and return every state: no ``last``).
    ``wgrad``: how the backward sums the conv weight and bias gradients, one of :data:`WGRADS` (either kernels).
    ``precision``: ``tl.dot``'s in the "tiles" kernels, one of :data:`PRECISIONS` (the same numbers to about float32
    rounding; None: :data:`DEFAULT_PRECISION`, or "ieee" for the "columns" kernels).
    Raises ValueError where :func:`fused_problem` (or, for "columns", :func:`.wave_rnn_columns.columns_problem`)
    finds a reason it cannot run.
    """
    if x_proj.dim() != 3 or x_proj.shape[-1] != c * n:
        raise ValueError(f"x_proj must be (B, T, c*n) = (B, T, {c * n}), got {tuple(x_proj.shape)}")
    precision = _check_options(shift, warps, kernel, wgrad, precision)
    if kernel == "columns" and last:
        raise ValueError('the "columns" kernels return every state: use kernel="tiles" for last=True')
    problem = fused_problem(x_proj, c, n) if kernel == "tiles" else columns_problem(x_proj, c, n)
    if problem is not None:
        raise ValueError(f"fused Wave-RNN recurrence unavailable: {problem}")
    return FusedWaveRecurrence.apply(x_proj, None, None, conv_weight, conv_bias, c, n, last, shift,
                                     warps or default_warps(c, n), kernel, wgrad, precision)


def fused_wave_rnn_pixels(x: Tensor, in_weight: Tensor, in_bias: Tensor | None, conv_weight: Tensor,
                          conv_bias: Tensor | None, c: int, n: int, last: bool = False, shift: str = "gather",
                          warps: int | None = None, wgrad: str = "kernel", precision: str | None = None) -> Tensor:
    """The wRNN's states from a raw input of one value per step (pixel sequences: sMNIST, psMNIST), the input
    projection ``x_proj = x in_weight^T + in_bias`` done inside the "tiles" kernels: the same numbers as
    :func:`fused_wave_rnn_recurrence` on ``F.linear(x, in_weight, in_bias)`` (to float32 rounding) without the
    (B, T, c*n) projection in memory, and the backward kernel sums the projection's gradients.

    x (B, T, 1), in_weight (c*n, 1), in_bias (c*n,) or None, conv_weight (c, c, 3), conv_bias (c,) or None ->
    states (B, T, c*n), or with ``last`` the last state (B, c*n), in ``in_weight``'s dtype. ``shift``, ``warps``,
    ``wgrad`` and ``precision`` as for :func:`fused_wave_rnn_recurrence`. Raises ValueError where it cannot run.
    """
    if x.dim() != 3 or x.shape[-1] != 1 or tuple(in_weight.shape) != (c * n, 1):
        raise ValueError(f"x must be (B, T, 1) and in_weight ({c * n}, 1), got {tuple(x.shape)} and "
                         f"{tuple(in_weight.shape)}")
    precision = _check_options(shift, warps, "tiles", wgrad, precision)
    problem = fused_problem(x, c, n)
    if problem is not None:
        raise ValueError(f"fused Wave-RNN recurrence unavailable: {problem}")
    return FusedWaveRecurrence.apply(x, in_weight, in_bias, conv_weight, conv_bias, c, n, last, shift,
                                     warps or default_warps(c, n), "tiles", wgrad, precision)
