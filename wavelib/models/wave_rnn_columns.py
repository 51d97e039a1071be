"""The Wave-RNN recurrence as Gluon kernels where each thread owns whole columns of the state ("columns").

Same contract and autograd wiring as the Triton "tiles" kernels of :mod:`.wave_rnn_fused` (one program per
sequence, the whole sequence in one launch forward and one backward; the weight and bias gradients are summed
after, in PyTorch), but another way to share a step's work among the threads. The "tiles" kernels hold the
(C, N) state as tiles of ``tl.dot``, whose operand layouts go through shared memory: compiled for sm_90 the
sMNIST step loop holds 22 CTA barriers. Here the layout is chosen by hand (Gluon, Triton's explicit-layout
language): each thread holds all C channels of its own N / (32 * warps) units, so a step's channel mixing,
``acc[o, i] += w[o, j, k] * h[j, i + k - 1]``, is C * C * 3 fused multiply-adds in its registers (the weights are
read from shared memory, the same address for every thread); only the ring shift crosses threads, two
``gl.gather`` through shared memory: 4 CTA barriers per step (``scripts/kernel_resources.py`` counts them).

Measured (H100, commit 0c709b84a93d, fwd + bwd, batch 128; ``benchmarks/bench_wave_rnn.py``'s "wRNN recurrence
[columns]" rows): 2.54 against 3.17 ms for "tiles" at the copy T = 480 shapes (1.25x), 19.7 against 19.0 ms at the
sMNIST shapes (0.96x); ``tests/test_wave_rnn_columns.py`` passed there (float64 reference, 9 shapes). So it stays
opt-in: faster at few channels, not at 16. It runs on CUDA only: Triton's interpreter does not run Gluon.

Numbers: float32 multiply-adds in the order bias, tap 0 (channels 0..c-1), tap 1, tap 2; the same products as the
other backends, summed in another order (rounding-level differences).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor

from .triton_support import gluon_modules, interpreting, placement_problem, pow2

MAX_VALUES_PER_THREAD = 64  #: state values (C * units) one thread may hold; more and the registers spill


def tiles(c: int, n: int) -> tuple[int, int, int]:
    """(C, N, warps): the padded channels and units a program holds (powers of two) and its warps, one unit
    per thread up to 8 warps (at most 8 warps, at least 1)."""
    C, N = pow2(c), max(32, pow2(n))
    return C, N, max(1, min(8, N // 32))


def columns_problem(x_proj: Tensor, c: int, n: int) -> str | None:
    """Why the columns kernels cannot run on ``x_proj`` with this (c, n), or None where they can."""
    if interpreting() or x_proj.device.type != "cuda":
        return "the columns kernels are Gluon, which runs on CUDA only (not in Triton's interpreter)"
    problem = placement_problem(x_proj)
    if problem is not None:
        return problem
    if gluon_modules() is None:
        return "this Triton has no Gluon (triton.experimental.gluon, Triton 3.5 or later)"
    if x_proj.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"the kernels do not support {x_proj.dtype}"
    C, N, warps = tiles(c, n)
    if C * N // (32 * warps) > MAX_VALUES_PER_THREAD:
        return f"{C} channels x {N // (32 * warps)} units per thread exceed {MAX_VALUES_PER_THREAD} values"
    return None


@functools.lru_cache(maxsize=1)
def kernels() -> tuple[Any, Any]:
    """The (forward, backward) Gluon kernels, built on first use (needs :func:`_gluon`)."""
    gluon, gl = gluon_modules()
    barrier = getattr(gl, "barrier", None) or gl.thread_barrier  # a CTA barrier: Triton 3.6 named it thread_barrier

    @gluon.jit
    def forward_kernel(x_ptr, w_ptr, bias_ptr, states_ptr, T, C_REAL: gl.constexpr, N_REAL: gl.constexpr,
                       C: gl.constexpr, N: gl.constexpr, HAS_BIAS: gl.constexpr, WARPS: gl.constexpr):
        """Program b: states[b, t] = ReLU(x[b, t] + conv(states[b, t - 1]) + bias), t = 0..T-1, h_{-1} = 0.

        x, states (B, T, C_REAL * N_REAL) float32 contiguous; w (C_REAL, C_REAL, 3); bias (C_REAL,).
        conv(h)[o, i] = sum_{j, k} w[o, j, k] h[j, (i + k - 1) mod n].
        """
        L: gl.constexpr = gl.BlockedLayout([C, 1], [1, 32], [1, WARPS], [0, 1])  # a thread: all C of its units
        ROW: gl.constexpr = gl.SliceLayout(0, L)
        COL: gl.constexpr = gl.SliceLayout(1, L)
        WL: gl.constexpr = gl.BlockedLayout([1, C], [32, 1], [WARPS, 1], [1, 0])
        SHARED: gl.constexpr = gl.SwizzledSharedLayout(1, 1, 1, [1, 0])
        CN: gl.constexpr = C_REAL * N_REAL
        seq = gl.program_id(0).to(gl.int64) * T * CN
        rows = gl.arange(0, C, layout=COL)
        cols = gl.arange(0, N, layout=ROW)
        tile = gl.expand_dims(rows * N_REAL, 1) + gl.expand_dims(cols, 0)
        tile_ok = gl.expand_dims(rows < C_REAL, 1) & gl.expand_dims(cols < N_REAL, 0)
        every = gl.zeros([C, N], gl.int32, layout=L)
        row_of = gl.expand_dims(rows, 1) + every
        left_col = gl.expand_dims((cols + N_REAL - 1) % N_REAL, 0) + every  # h[j, i - 1]: tap 0
        right_col = gl.expand_dims((cols + 1) % N_REAL, 0) + every  # h[j, i + 1]: tap 2
        # wsm[k, j, o] = w[o, j, k]: row j of tap k is what unit j sends to every channel o
        wj = gl.arange(0, C, layout=gl.SliceLayout(1, WL))
        wo = gl.arange(0, C, layout=gl.SliceLayout(0, WL))
        w_at = w_ptr + gl.expand_dims(wj * 3, 1) + gl.expand_dims(wo * (3 * C_REAL), 0)
        w_ok = gl.expand_dims(wj < C_REAL, 1) & gl.expand_dims(wo < C_REAL, 0)
        wsm = gl.allocate_shared_memory(gl.float32, [4, C, C], SHARED)
        for k in gl.static_range(3):
            wsm.index(k).store(gl.load(w_at + k, mask=w_ok, other=0.0))
        if HAS_BIAS:
            bias = gl.load(bias_ptr + rows, mask=rows < C_REAL, other=0.0)
        else:
            bias = gl.zeros([C], gl.float32, layout=COL)
        barrier()  # the weights are in shared memory before the first step reads them
        h = gl.zeros([C, N], gl.float32, layout=L)
        x_next = gl.load(x_ptr + seq + tile, mask=tile_ok, other=0.0)
        for t in range(T):
            acc = x_next + gl.expand_dims(bias, 1)
            # x[b, t + 1] is loaded a step ahead, its latency behind this step's products
            x_next = gl.load(x_ptr + seq + gl.minimum(t + 1, T - 1) * CN + tile, mask=tile_ok, other=0.0)
            for k in gl.static_range(3):
                if k == 0:
                    shifted = gl.gather(h, left_col, 1)
                elif k == 1:
                    shifted = h
                else:
                    shifted = gl.gather(h, right_col, 1)
                for j in gl.static_range(C_REAL):
                    unit_row = gl.sum(gl.where(row_of == j, shifted, 0.0), axis=0)  # in-thread: one value
                    weights = wsm.index(k).slice(j, 1, 0).permute([1, 0]).load(L)  # (C, 1): w[:, j, k]
                    acc = acc + weights * gl.expand_dims(unit_row, 0)
            h = gl.maximum(acc, 0.0)  # padding: never stored, and the gathers read only real units
            gl.store(states_ptr + seq + t * CN + tile, h, mask=tile_ok)

    @gluon.jit
    def backward_kernel(grad_ptr, states_ptr, w_ptr, dx_ptr, T, C_REAL: gl.constexpr, N_REAL: gl.constexpr,
                        C: gl.constexpr, N: gl.constexpr, WARPS: gl.constexpr):
        """Program b, t = T-1..0: dx[b, t] = (grad[b, t] + conv^T(dx[b, t + 1])) masked by states[b, t] > 0.

        conv^T(a)[j, m] = sum_{o, k} w[o, j, k] a[o, (m - k + 1) mod n].
        """
        L: gl.constexpr = gl.BlockedLayout([C, 1], [1, 32], [1, WARPS], [0, 1])
        ROW: gl.constexpr = gl.SliceLayout(0, L)
        COL: gl.constexpr = gl.SliceLayout(1, L)
        WL: gl.constexpr = gl.BlockedLayout([1, C], [32, 1], [WARPS, 1], [1, 0])
        SHARED: gl.constexpr = gl.SwizzledSharedLayout(1, 1, 1, [1, 0])
        CN: gl.constexpr = C_REAL * N_REAL
        seq = gl.program_id(0).to(gl.int64) * T * CN
        rows = gl.arange(0, C, layout=COL)
        cols = gl.arange(0, N, layout=ROW)
        tile = gl.expand_dims(rows * N_REAL, 1) + gl.expand_dims(cols, 0)
        tile_ok = gl.expand_dims(rows < C_REAL, 1) & gl.expand_dims(cols < N_REAL, 0)
        every = gl.zeros([C, N], gl.int32, layout=L)
        row_of = gl.expand_dims(rows, 1) + every
        right_col = gl.expand_dims((cols + 1) % N_REAL, 0) + every  # a[o, m + 1]: tap 0
        left_col = gl.expand_dims((cols + N_REAL - 1) % N_REAL, 0) + every  # a[o, m - 1]: tap 2
        # wsm[k, o, j] = w[o, j, k]: row o of tap k is what channel o sends back to every unit j
        wo = gl.arange(0, C, layout=gl.SliceLayout(1, WL))
        wj = gl.arange(0, C, layout=gl.SliceLayout(0, WL))
        w_at = w_ptr + gl.expand_dims(wo * (3 * C_REAL), 1) + gl.expand_dims(wj * 3, 0)
        w_ok = gl.expand_dims(wo < C_REAL, 1) & gl.expand_dims(wj < C_REAL, 0)
        wsm = gl.allocate_shared_memory(gl.float32, [4, C, C], SHARED)
        for k in gl.static_range(3):
            wsm.index(k).store(gl.load(w_at + k, mask=w_ok, other=0.0))
        barrier()
        a = gl.zeros([C, N], gl.float32, layout=L)  # dx[b, t + 1]; 0 past the end
        last = seq + (T - 1) * CN
        g_next = gl.load(grad_ptr + last + tile, mask=tile_ok, other=0.0)
        h_next = gl.load(states_ptr + last + tile, mask=tile_ok, other=0.0)
        for s in range(T):
            t = T - 1 - s
            g = g_next
            h = h_next
            earlier = seq + gl.maximum(t - 1, 0) * CN  # step t - 1's inputs, a step ahead
            g_next = gl.load(grad_ptr + earlier + tile, mask=tile_ok, other=0.0)
            h_next = gl.load(states_ptr + earlier + tile, mask=tile_ok, other=0.0)
            for k in gl.static_range(3):
                if k == 0:
                    shifted = gl.gather(a, right_col, 1)
                elif k == 1:
                    shifted = a
                else:
                    shifted = gl.gather(a, left_col, 1)
                for o in gl.static_range(C_REAL):
                    unit_row = gl.sum(gl.where(row_of == o, shifted, 0.0), axis=0)
                    weights = wsm.index(k).slice(o, 1, 0).permute([1, 0]).load(L)  # (C, 1): w[o, :, k]
                    g = g + weights * gl.expand_dims(unit_row, 0)
            a = gl.where(h > 0.0, g, 0.0)  # masked loads: 0 in the padding
            gl.store(dx_ptr + seq + t * CN + tile, a, mask=tile_ok)

    return forward_kernel, backward_kernel


def columns_forward(x: Tensor, weight: Tensor, bias: Tensor | None, c: int, n: int) -> Tensor:
    """States (B, T, c*n) float32 from x (B, T, c*n), weight (c, c, 3), bias (c,) or None, all float32
    contiguous on CUDA (the caller, :class:`.wave_rnn_fused.FusedWaveRecurrence`, prepares them)."""
    forward_kernel, _ = kernels()
    batch, steps = x.shape[:2]
    states = torch.empty_like(x)
    C, N, warps = tiles(c, n)
    forward_kernel[(batch,)](x, weight, weight if bias is None else bias, states, steps, C_REAL=c, N_REAL=n,
                             C=C, N=N, HAS_BIAS=bias is not None, WARPS=warps, num_warps=warps)
    return states


def columns_backward(grad: Tensor, states: Tensor, weight: Tensor, c: int, n: int) -> Tensor:
    """dL/dx_proj (B, T, c*n) float32 from dL/dstates and the states (both (B, T, c*n) float32 contiguous)."""
    _, backward_kernel = kernels()
    batch, steps = states.shape[:2]
    dx = torch.empty_like(states)
    C, N, warps = tiles(c, n)
    backward_kernel[(batch,)](grad, states, weight, dx, steps, C_REAL=c, N_REAL=n, C=C, N=N, WARPS=warps,
                              num_warps=warps)
    return dx
