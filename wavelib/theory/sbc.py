"""Traveling-wave memory with a self-attention boundary condition (SBC, Eq. 8), and the
autoregressive loop of one causal attention head that it equals.

States are rows: a window (s, d) holds ``h_1..h_s``, oldest first; weights are (d, d) and act on
column vectors (``k_i = W_K h_i``). Eq. 8 sums over ``i = 1..d``, a typo for the ``s`` slots; its
score ``h_i^T W_K W_Q h_s`` is read as ``(W_K h_i) . (W_Q h_s)``, with no ``1/sqrt(d)`` scaling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as Fn


def _check(init: torch.Tensor, steps: int, *weights: torch.Tensor) -> None:
    if init.ndim != 2 or init.shape[0] < 1 or init.shape[1] < 1:
        raise ValueError(f"init must have shape (s, d) with s, d >= 1, got {tuple(init.shape)}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    d = init.shape[1]
    for W in weights:
        if W.shape != (d, d):
            raise ValueError(f"W_Q, W_K, W_V must have shape (d, d) = {(d, d)}, got {tuple(W.shape)}")


def attention_boundary(window: torch.Tensor, W_Q: torch.Tensor, W_K: torch.Tensor, W_V: torch.Tensor) -> torch.Tensor:
    """Eq. 8: ``sum_i softmax_i((W_K h_i) . (W_Q h_s)) W_V h_i``; window (s, d) -> (d,)."""
    _check(window, 0, W_Q, W_K, W_V)
    query = W_Q @ window[-1]
    scores = (window @ W_K.T) @ query
    weights = torch.exp(scores - scores.max())
    weights = weights / weights.sum()
    return weights @ (window @ W_V.T)


def sbc_wave_rollout(init: torch.Tensor, steps: int, W_Q: torch.Tensor, W_K: torch.Tensor,
                     W_V: torch.Tensor) -> torch.Tensor:
    """Traveling wave with the SBC: shift the (s, d) substrate one slot towards the open end and write
    :func:`attention_boundary` into the newest slot. Returns every state, (s + steps, d)."""
    _check(init, steps, W_Q, W_K, W_V)
    s = init.shape[0]
    states = list(init)
    for _ in range(steps):
        states.append(attention_boundary(torch.stack(states[-s:]), W_Q, W_K, W_V))
    return torch.stack(states)


def attention_loop_rollout(init: torch.Tensor, steps: int, W_Q: torch.Tensor, W_K: torch.Tensor,
                           W_V: torch.Tensor, s: int | None = None) -> torch.Tensor:
    """Autoregressive loop of one causal attention head with a sliding window of ``s`` tokens
    (default ``len(init)``): project the whole sequence to q, k, v, run
    ``scaled_dot_product_attention`` (scale 1), append the last position's output. init (n0, d) ->
    (n0 + steps, d)."""
    _check(init, steps, W_Q, W_K, W_V)
    s = init.shape[0] if s is None else s
    if int(s) != s or s < 1:
        raise ValueError(f"window s must be a positive integer, got {s}")
    seq = init
    for _ in range(steps):
        n = seq.shape[0]
        pos = torch.arange(n)
        lag = pos[:, None] - pos[None, :]
        mask = (lag >= 0) & (lag < s)
        q, k, v = (seq @ W.T for W in (W_Q, W_K, W_V))
        out = Fn.scaled_dot_product_attention(q[None], k[None], v[None], attn_mask=mask, scale=1.0)
        seq = torch.cat([seq, out[0, -1:]])
    return seq
