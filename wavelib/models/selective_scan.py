"""Mamba-1's selective scan (Gu & Dao 2023, Alg. 2) with interchangeable backends.

Layout and meaning follow ``mamba_ssm``'s ``selective_scan_fn`` (with ``delta_softplus=False``), so the
CUDA backend is a direct call. With ``h_0 = 0`` and ``h_t`` of shape (batch, D, N)::

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t
    y_t = sum_n C_t[n] h_t[n] + D * u_t

Backends (all but ``"cuda"`` pure PyTorch, any float dtype and device):

- ``"sequential"``: a plain per-step loop differentiated by autograd; the reference (slow everywhere).
- ``"chunked"``: chunks of ``chunk`` steps carrying ``h``, a log-depth Hillis–Steele scan inside each;
  few large ops, so fast on a GPU without ``mamba_ssm``; on the CPU its O(log chunk) extra work costs.
- ``"recurrent"``: a ``torch.autograd.Function`` with a hand-written backward: one fused op per step,
  chunked recomputation (only the chunk-boundary states are kept); the fastest on the CPU.
- ``"fused"``: this book's Triton kernels (:mod:`wavelib.models.selective_scan_fused`): one launch each way;
  float32 CUDA tensors where triton imports.
- ``"cuda"``: ``mamba_ssm``'s fused kernel; CUDA tensors in float32/float16/bfloat16 only.
- ``"auto"``: ``"cuda"`` where it can run on these tensors, else ``"fused"`` where that can, else
  ``"recurrent"`` (:func:`resolve_backend`). On an H200 (batch 32, d_inner 256, N 16, fwd + bwd)
  ``"recurrent"`` beat ``"chunked"`` at both of Chapter 5's lengths, 13.1 vs 16.2 ms at L 220 and 32.6 vs
  44.3 ms at L 620, in a tenth of the memory (417 vs 4,723 MB).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint as _checkpoint

from ..presets import require_positive_int

SCAN_BACKENDS = ("auto", "sequential", "chunked", "recurrent", "fused", "cuda")
_CUDA_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@functools.lru_cache(maxsize=1)
def _mamba_scan_fn() -> Callable | None:
    """``mamba_ssm``'s ``selective_scan_fn``, or None where it does not import."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, or a broken CUDA extension (OSError, RuntimeError)
        return None
    return selective_scan_fn


def available_backends(device: torch.device | str) -> list[str]:
    """The concrete backends (not ``"auto"``) that can run on ``device``: the pure-PyTorch three, plus ``"fused"``
    and ``"cuda"``.

    ``"fused"`` is listed for a CUDA device where triton imports (float32 tensors only); ``"cuda"`` where
    ``mamba_ssm`` imports (float32, float16 or bfloat16 tensors: the kernel has no float64).
    """
    names = ["sequential", "chunked", "recurrent"]
    if torch.device(device).type == "cuda":
        from .selective_scan_fused import fused_problem
        if fused_problem(torch.empty(0, device=device)) is None:
            names.append("fused")
        if _mamba_scan_fn() is not None:
            names.append("cuda")
    return names


def _cuda_problem(u: torch.Tensor) -> str | None:
    """Why the CUDA backend cannot run on tensors like ``u``, or None where it can."""
    if _mamba_scan_fn() is None:
        return "mamba_ssm is not installed (or does not import)"
    if u.device.type != "cuda":
        return f"the tensors are on {u.device.type}, not CUDA"
    if u.dtype not in _CUDA_DTYPES:
        return f"the kernel does not support {u.dtype}"
    return None


def resolve_backend(backend: str, device: torch.device | str, dtype: torch.dtype) -> str:
    """The concrete backend that ``backend`` runs on tensors of ``dtype`` on ``device``: ``"auto"`` is
    ``"cuda"`` where ``mamba_ssm``'s kernel runs on them, else ``"fused"`` on CUDA where triton runs them,
    else ``"recurrent"``; any other name is itself."""
    if backend != "auto":
        return backend
    probe = torch.empty(0, device=device, dtype=dtype)
    if _cuda_problem(probe) is None:
        return "cuda"
    if probe.device.type == "cuda":
        from .selective_scan_fused import fused_problem
        if fused_problem(probe) is None:
            return "fused"
    return "recurrent"


def _sequential(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                C: torch.Tensor) -> torch.Tensor:
    """The per-step recurrence, without the D term: (batch, D, L). As ``mamba_ssm``'s own reference
    (``selective_scan_ref``), the decays and inputs of every step are computed at once, (b, D, L, N) each, so a
    step is one multiply-add and a readout."""
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    decay = torch.exp(delta.unsqueeze(-1) * A[:, None, :])                  # (b, D, L, N)
    drive = (delta * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1)      # (b, D, L, N)
    ys = []
    # unbind: one backward op per input for all steps (a select per step would scatter into a full-size zero tensor)
    for a_t, b_t, C_t in zip(decay.unbind(2), drive.unbind(2), C.unbind(-1)):
        h = a_t * h + b_t
        ys.append((h * C_t[:, None, :]).sum(-1))
    return torch.stack(ys, dim=-1)


def _chunk_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk of T steps from state ``h0`` (b, D, N): outputs without the D term (b, D, T) and h_T.

    Hillis–Steele scan over pairs (a_t, b_t) = (exp(delta_t A), delta_t B_t u_t), shape (b, D, T, N), with
    the combine (a1, b1) then (a2, b2) -> (a2 a1, a2 b1 + b2): after it, a_t is the product of the decays
    of steps 1..t (always in [0, 1], so nothing overflows) and b_t the state reached from zero.
    """
    dA = delta.unsqueeze(-1) * A[:, None, :]                         # (b, D, T, N), <= 0
    a = torch.exp(dA)
    b = (delta * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1)   # (b, D, T, N)
    T, s = u.shape[-1], 1
    while s < T:
        b = torch.cat([b[:, :, :s], a[:, :, s:] * b[:, :, :-s] + b[:, :, s:]], dim=2)
        a = torch.cat([a[:, :, :s], a[:, :, s:] * a[:, :, :-s]], dim=2)
        s *= 2
    h = a * h0.unsqueeze(2) + b                                      # (b, D, T, N)
    y = torch.einsum("bdtn,bnt->bdt", h, C)
    return y, h[:, :, -1]


def _chunked(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
             chunk: int, checkpoint: bool) -> torch.Tensor:
    """Chunks of ``chunk`` steps, the state carried between them, without the D term: (batch, D, L)."""
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for start in range(0, u.shape[-1], chunk):
        part = slice(start, start + chunk)
        args = (u[..., part], delta[..., part], A, B[..., part], C[..., part], h)
        if checkpoint and torch.is_grad_enabled():
            y, h = _checkpoint(_chunk_scan, *args, use_reentrant=False)
        else:
            y, h = _chunk_scan(*args)
        ys.append(y)
    return torch.cat(ys, dim=-1)


def _chunk_terms(delta: torch.Tensor, u: torch.Tensor, A: torch.Tensor,
                 B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Decays ``a = exp(delta A)`` and inputs ``b = delta u B`` of one chunk, each (T, b, D, N), time-major.

    ``delta``, ``u`` are (T, b, D) and ``B`` (T, b, N), as :class:`_RecurrentScan` stores them.
    """
    a = torch.mul(delta.unsqueeze(-1), A).exp_()
    b = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    return a, b


def _weighted_sum_over_channels(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum_d w[..., d] x[..., d, n]``: x (T, b, D, N), w (T, b, D) -> (T, b, N), as one batched matmul."""
    return torch.matmul(w.unsqueeze(-2), x).squeeze(-2)


def _chunk_states(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """States h_1..h_T (T, b, D, N) of one chunk from ``h0`` (b, D, N): one fused op per step."""
    states = torch.empty_like(b)
    h = h0
    for t in range(b.shape[0]):
        h = torch.addcmul(b[t], a[t], h, out=states[t])
    return states


def _batch_first(x: torch.Tensor | None) -> torch.Tensor | None:
    """A time-major (L, b, K) tensor as a (b, K, L) view; None stays None."""
    return None if x is None else x.permute(1, 2, 0)


class _RecurrentScan(torch.autograd.Function):
    """The scan without the D term, (batch, D, L), with a hand-written backward and chunked recomputation.

    Forward keeps only the state at every chunk boundary, (chunks, batch, D, N); backward recomputes each
    chunk's states from its boundary state and runs the adjoint recurrence ``G_t = C_t gy_t + a_{t+1} G_{t+1}``
    (``G_t = dLoss/dh_t``) backwards through it, then forms every input gradient from ``G`` at once. Works
    time-major inside, so that every step touches one contiguous (batch, D, N) block. No double backward.
    """

    @staticmethod
    def forward(ctx, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                chunk: int) -> torch.Tensor:
        u_t, delta_t = u.permute(2, 0, 1).contiguous(), delta.permute(2, 0, 1).contiguous()  # (L, b, D)
        B_t, C_t = B.permute(2, 0, 1).contiguous(), C.permute(2, 0, 1).contiguous()          # (L, b, N)
        L = u_t.shape[0]
        y = u_t.new_empty(u_t.shape)
        h = u_t.new_zeros(*u_t.shape[1:], A.shape[1])
        boundaries = []
        for start in range(0, L, chunk):
            part = slice(start, start + chunk)
            boundaries.append(h)
            states = _chunk_states(*_chunk_terms(delta_t[part], u_t[part], A, B_t[part]), h)
            y[part] = torch.einsum("tbdn,tbn->tbd", states, C_t[part])
            h = states[-1]
        ctx.chunk = chunk
        ctx.save_for_backward(u_t, delta_t, A, B_t, C_t, torch.stack(boundaries))
        return y.permute(1, 2, 0).contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, gy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        u_t, delta_t, A, B_t, C_t, boundaries = ctx.saved_tensors
        need_u, need_delta, need_A, need_B, need_C = ctx.needs_input_grad[:5]
        gy_t = gy.permute(2, 0, 1).contiguous()                                   # (L, b, D)
        L, chunk = u_t.shape[0], ctx.chunk
        g_u = torch.empty_like(u_t) if need_u else None
        g_delta = torch.empty_like(delta_t) if need_delta else None
        g_A = torch.zeros_like(A) if need_A else None
        g_B = torch.empty_like(B_t) if need_B else None
        g_C = torch.empty_like(C_t) if need_C else None
        carry = torch.zeros_like(boundaries[0])  # a_{t+1} G_{t+1} at the step after the chunk
        for k in reversed(range(boundaries.shape[0])):
            part = slice(k * chunk, min((k + 1) * chunk, L))
            delta, u, B, gyc = delta_t[part], u_t[part], B_t[part], gy_t[part]
            a, b = _chunk_terms(delta, u, A, B)
            states = _chunk_states(a, b, boundaries[k])                          # h_t, (T, b, D, N)
            if need_C:
                g_C[part] = _weighted_sum_over_channels(states, gyc)
            G = gyc.unsqueeze(-1) * C_t[part].unsqueeze(2)                         # C_t gy_t
            G[-1] += carry
            for t in range(G.shape[0] - 2, -1, -1):
                G[t].addcmul_(a[t + 1], G[t + 1])                                 # G_t = dLoss/dh_t
            carry = a[0] * G[0]
            if need_B:
                g_B[part] = _weighted_sum_over_channels(G, delta * u)
            if need_u or need_delta:
                GB = torch.einsum("tbdn,tbn->tbd", G, B)
                if need_u:
                    torch.mul(GB, delta, out=g_u[part])
            if need_delta or need_A:
                g_dA = G.mul_(a)                                                  # dLoss/d(delta A), in place
                g_dA[1:].mul_(states[:-1])
                g_dA[0].mul_(boundaries[k])
                if need_delta:
                    torch.addcmul((g_dA * A).sum(-1), GB, u, out=g_delta[part])
                if need_A:
                    g_A += g_dA.mul_(delta.unsqueeze(-1)).sum((0, 1))
        return _batch_first(g_u), _batch_first(g_delta), g_A, _batch_first(g_B), _batch_first(g_C), None


def _check_shapes(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                  D: torch.Tensor | None) -> None:
    if u.dim() != 3 or delta.shape != u.shape:
        raise ValueError(f"u and delta must both be (batch, D, L), got {tuple(u.shape)} and {tuple(delta.shape)}")
    batch, d, L = u.shape
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(f"A must be (D, N) = ({d}, N), got {tuple(A.shape)}")
    for name, X in (("B", B), ("C", C)):
        if X.shape != (batch, A.shape[1], L):
            raise ValueError(f"{name} must be (batch, N, L) = {(batch, A.shape[1], L)}, got {tuple(X.shape)}")
    if D is not None and D.shape != (d,):
        raise ValueError(f"D must be ({d},), got {tuple(D.shape)}")


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, *, backend: str = "auto", chunk: int = 64,
                   checkpoint: bool = False) -> torch.Tensor:
    """Selective scan ``y`` (batch, D, L) of u, delta (batch, D, L) with A (D, N), B, C (batch, N, L), D (D,).

    ``delta`` must already be positive (no softplus here) and A negative. ``chunk`` (steps) applies to
    ``"chunked"`` and ``"recurrent"``: ``"recurrent"`` keeps the state at every chunk boundary and recomputes
    one chunk at a time in the backward pass, O(batch·D·chunk·N) numbers; ``"chunked"`` holds
    O(batch·D·chunk·N·log2(chunk)) per chunk, and with ``checkpoint`` (which applies to it only) recomputes
    each chunk in the backward pass so that autograd keeps only the chunk boundary states.
    """
    if backend not in SCAN_BACKENDS:
        raise ValueError(f"unknown scan backend {backend!r}; valid: {', '.join(SCAN_BACKENDS)}")
    require_positive_int(chunk=chunk)
    _check_shapes(u, delta, A, B, C, D)
    backend = resolve_backend(backend, u.device, u.dtype)
    if backend == "cuda":
        problem = _cuda_problem(u)
        if problem is not None:
            raise ValueError(f"scan backend 'cuda' unavailable: {problem}; use 'chunked' (or 'auto')")
        return _mamba_scan_fn()(u, delta, A, B, C, D, delta_softplus=False)
    if backend == "fused":
        from .selective_scan_fused import fused_selective_scan  # lazy: triton only where used
        y = fused_selective_scan(u, delta, A, B, C)
    elif backend == "sequential":
        y = _sequential(u, delta, A, B, C)
    elif backend == "recurrent":
        y = _RecurrentScan.apply(u, delta, A, B, C, int(chunk))
    else:
        y = _chunked(u, delta, A, B, C, int(chunk), checkpoint)
    return y if D is None else y + D[:, None] * u
