"""The Wave-RNN conv weight and bias gradients in one Triton kernel (``wgrad="kernel"``, the default of
:mod:`.wave_rnn_fused`).

From dx = dL/dx_proj and the states, both (B, T, c*n) float32:
dw[o, j, k] = sum over b, t >= 1, i of dx[b, t, o, i] * states[b, t - 1, j, (i + k - 1) mod n]  (c, c, 3) and
db[o] = sum over b, t, i of dx[b, t, o, i]  (c,).

Grid: P = min(B T, :data:`MAX_PROGRAMS`) programs, each summing a contiguous range of the B T (b, t) rows. Per
row, in chunks of up to :data:`CHUNK` columns, it loads dx's (c, chunk) tile and the three tiles of
states[b, t - 1] rolled by k - 1 along the ring (modular indices into one row: it is read from memory once, the
other two loads hit the cache; none for t = 0), adds ``dx_tile @ rolled_k^T`` (``tl.dot`` in IEEE float32, no
TF32, whatever the recurrence's precision: in 3xTF32 this loop took 255 registers and spilled at the copy and sMNIST
shapes, for about as many instructions per iteration, 1,102 against 1,128 at sMNIST, compiled for sm_90 with Triton
3.9) to its tap k partial and dx_tile to a running sum, whose row sums are its bias partial. The partials,
(P, c, c, 3) and (P, c) float32, are summed over P in PyTorch: a fixed order, so the same numbers at every call
(no atomics). Tiles are padded to powers of two of at least 16 (:func:`.triton_support.dot_tile`) and masked.

Memory traffic: dx and states read once each, 2 B T c n 4 bytes (3.3 GB at the sMNIST shapes: B 128, T 784,
c 16, n 256), and P (3 c^2 + c) 4 bytes of partials written; the "bmm" path reads and writes about 15 GB there
(the ring copy of the states, then three products that each read dx and the copy, and the bias sum that reads dx
again). Compiled for sm_90 (``scripts/kernel_resources.py``, Triton 3.6 and 3.9) it spills no register at the
copy and sMNIST shapes (whole rows of 256 columns in one ``tl.dot`` spilled), and Triton's pipeliner turns the
loads into asynchronous copies. Not yet measured on a GPU: ``benchmarks/bench_wave_rnn.py``'s
"wRNN recurrence [wgrad kernel]" rows time it against "bmm".

Needs ``triton``; runs on CUDA tensors, or on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor

from .triton_support import dot_tile, lazy_kernels

MAX_PROGRAMS = 1024  #: programs per launch at most (a few per SM on an H100's 132)
CHUNK = 64  #: columns of a row per iteration (with more, ``tl.dot``'s float32 operands spilled registers)
#: software-pipelining stages of the loop (Triton's ``num_stages``; ignored by the interpreter). With Triton 3.6
#: at the sMNIST shapes, 2 stages take 56 registers per thread and 3 stages 168: all 1024 programs fit on an H100 at
#: once with 2, not with 3
STAGES = 2


@lazy_kernels
def _triton_kernel(triton: ModuleType, tl: ModuleType):
    """The Triton kernel (None where triton does not import)."""

    @triton.jit
    def wgrad_kernel(dx_ptr, states_ptr, dw_ptr, db_ptr, T, ROWS, PER, C_REAL: tl.constexpr,
                     N_REAL: tl.constexpr, C: tl.constexpr, N: tl.constexpr, BN: tl.constexpr):
        """Program p sums rows r = p PER .. min((p + 1) PER, ROWS) - 1 (r = b T + t) of dx, states (ROWS, C_REAL *
        N_REAL) into dw[p, o, j, k] = sum dx[r, o, i] states[r - 1, j, (i + k - 1) mod n] over rows with t >= 1,
        and db[p, o] = sum dx[r, o, i]; dw (P, C_REAL, C_REAL, 3) (the weight's layout), db (P, C_REAL) float32.
        A row is taken in N / BN chunks of BN columns, one (row, chunk) pair per iteration.
        """
        CHUNKS: tl.constexpr = N // BN
        CN: tl.constexpr = C_REAL * N_REAL
        p = tl.program_id(0)
        rows = tl.arange(0, C)
        row_ok = rows < C_REAL
        dw0 = tl.zeros((C, C), dtype=tl.float32)
        dw1 = tl.zeros((C, C), dtype=tl.float32)
        dw2 = tl.zeros((C, C), dtype=tl.float32)
        dx_sum = tl.zeros((C, BN), dtype=tl.float32)  # summed over its columns once, at the end: the bias partial
        start = p * PER
        for q in range(start * CHUNKS, tl.minimum(start + PER, ROWS) * CHUNKS):
            r = tl.cast(q // CHUNKS, tl.int64)  # a tensor in the interpreter too (there q is a Python int)
            cols = (q % CHUNKS) * BN + tl.arange(0, BN)
            tile = r * CN + rows[:, None] * N_REAL
            tile_ok = row_ok[:, None] & (cols < N_REAL)[None, :]
            prev_ok = tile_ok & (cols < tl.where(r % T > 0, N_REAL, 0))[None, :]  # t = 0: no previous state
            a = tl.load(dx_ptr + tile + cols[None, :], mask=tile_ok, other=0.0)
            dx_sum += a
            prev = states_ptr + tile - CN
            h0 = tl.load(prev + ((cols + N_REAL - 1) % N_REAL)[None, :], mask=prev_ok, other=0.0)  # h[j, i - 1]
            h1 = tl.load(prev + cols[None, :], mask=prev_ok, other=0.0)
            h2 = tl.load(prev + ((cols + 1) % N_REAL)[None, :], mask=prev_ok, other=0.0)  # h[j, i + 1]
            dw0 = tl.dot(a, tl.trans(h0), dw0, input_precision="ieee")
            dw1 = tl.dot(a, tl.trans(h1), dw1, input_precision="ieee")
            dw2 = tl.dot(a, tl.trans(h2), dw2, input_precision="ieee")
        out_ok = row_ok[:, None] & row_ok[None, :]
        out = dw_ptr + p.to(tl.int64) * (C_REAL * C_REAL * 3) + rows[:, None] * (C_REAL * 3) + rows[None, :] * 3
        tl.store(out, dw0, mask=out_ok)
        tl.store(out + 1, dw1, mask=out_ok)
        tl.store(out + 2, dw2, mask=out_ok)
        tl.store(db_ptr + p * C_REAL + rows, tl.sum(dx_sum, axis=1), mask=row_ok)

    return wgrad_kernel


def tiles(c: int, n: int) -> tuple[int, int, int, int]:
    """(C, N, BN, warps): the padded (C, N) tile (:func:`.triton_support.dot_tile`), the columns per chunk (at most
    :data:`CHUNK`) and warps per program (2 per 16 padded channels, at most 8)."""
    C, N = dot_tile(c, n)
    return C, N, min(CHUNK, N), min(8, C // 8)


def conv_grads(dx: Tensor, states: Tensor, c: int, n: int, programs: int = MAX_PROGRAMS) -> tuple[Tensor, Tensor]:
    """(dL/dw (c, c, 3), dL/dbias (c,)) float32 from dx = dL/dx_proj and the states, both (B, T, c*n) float32
    contiguous on one device where triton runs; ``programs``: the most programs to share the B T rows."""
    steps = states.shape[1]
    rows = dx.shape[0] * steps
    per = -(-rows // min(programs, rows))
    grid = -(-rows // per)  # no program without rows
    dw = torch.empty(grid, c, c, 3, device=dx.device, dtype=torch.float32)
    db = torch.empty(grid, c, device=dx.device, dtype=torch.float32)
    C, N, BN, warps = tiles(c, n)
    _triton_kernel()[(grid,)](dx, states, dw, db, steps, rows, per, C_REAL=c, N_REAL=n, C=C, N=N, BN=BN,
                              num_warps=warps, num_stages=STAGES)
    return dw.sum(0), db.sum(0)
