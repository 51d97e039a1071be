"""Decoder-only transformer language models: the baselines of the copy task of Jelassi et al. 2024.

Two position encodings, as in that paper: ALiBi (Press et al. 2022; a per-head linear penalty on the
query-key distance added to the attention logits) and RoPE (Su et al. 2021) applied GPT-NeoX style to a
fraction of each head's dimensions. There are no learned absolute positions. Attention goes through
``torch.nn.functional.scaled_dot_product_attention``: RoPE uses ``is_causal=True`` with no mask, ALiBi passes its
bias as ``attn_mask`` (the bias carries the causal mask as -inf). The book trains in float32, where PyTorch's flash
kernel does not run (it takes float16 and bfloat16); in half precision the RoPE path would be eligible for it.

Where these models differ from the GPT-NeoX models of Jelassi et al.'s code (Hugging Face ``GPTNeoXConfig``
defaults): a block is sequential, ``x + attn(ln1(x))`` then ``+ mlp(ln2(x))``, where GPT-NeoX's is parallel,
``x + attn(ln1(x)) + mlp(ln2(x))``; Linear layers keep PyTorch's default init, where Hugging Face draws them
N(0, 0.02²) with zero biases; embeddings are tied (theirs are not). Their ALiBi attention concatenates the part of q
and k that RoPE would not rotate (75% of each head's dims) onto the whole of them, so its q·k counts those dims
twice; this book computes the plain q·k.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..presets import require_positive_int

POSITIONS = ("alibi", "rope")


def _rotary_dims(head_dim: int, fraction: float) -> int:
    """Rotated dims per head: ``int(head_dim * fraction)`` rounded down to even; at least 2."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"rope fraction must be in (0, 1], got {fraction!r}")
    rot_dim = int(head_dim * fraction) // 2 * 2
    if rot_dim < 2:
        raise ValueError(f"rope rotates int(head_dim * fraction) rounded down to even dims; "
                         f"head_dim={head_dim}, fraction={fraction} gives none")
    return rot_dim


def check_attention(d_model: int, n_heads: int, position: str, rope_fraction: float = 0.25) -> None:
    """Raise ValueError unless heads divide ``d_model`` and (RoPE) each head has dims to rotate."""
    require_positive_int(d_model=d_model, n_heads=n_heads)
    if d_model % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads, got {d_model} and {n_heads}")
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
    if position == "rope":
        _rotary_dims(d_model // n_heads, rope_fraction)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes (n_heads,), float64 (Press et al. 2022).

    For n a power of two, ``m_h = 2^(-8h/n)``, h = 1..n. Otherwise, with p the largest power of two
    below n: the p slopes of p heads, then the odd-indexed slopes ``2^(-8h/(2p))``, h = 1, 3, 5, ...,
    of 2p heads, the first ``n - p`` of them.
    """
    require_positive_int(n_heads=n_heads)
    p = 2 ** int(math.floor(math.log2(n_heads)))
    slopes = [2.0 ** (-8.0 * h / p) for h in range(1, p + 1)]
    slopes += [2.0 ** (-8.0 * h / (2 * p)) for h in range(1, 2 * (n_heads - p), 2)]
    return torch.tensor(slopes, dtype=torch.float64)


def alibi_bias(n_heads: int, length: int, device: torch.device | str | None = None,
               dtype: torch.dtype | None = None) -> torch.Tensor:
    """ALiBi bias with the causal mask (n_heads, L, L): ``-m_h (i - j)`` for key j <= query i, else -inf.

    Built in float64, then cast to ``dtype`` (default: torch's default dtype).
    """
    require_positive_int(length=length)
    pos = torch.arange(length, dtype=torch.float64, device=device)
    distance = pos[:, None] - pos[None, :]
    bias = -alibi_slopes(n_heads).to(device)[:, None, None] * distance
    bias = bias.masked_fill(distance < 0, float("-inf"))
    return bias.to(dtype or torch.get_default_dtype())


def rope_frequencies(head_dim: int, fraction: float = 0.25, base: float = 10000.0,
                     dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> torch.Tensor:
    """The angular frequencies (radians per token) of partial RoPE's rotated pairs, (rot_dim / 2,):
    ``base^(-2i/rot_dim)``, ``rot_dim = int(head_dim * fraction)`` rounded down to even."""
    rot_dim = _rotary_dims(head_dim, fraction)
    return base ** (-torch.arange(0, rot_dim, 2, dtype=dtype, device=device) / rot_dim)


def apply_rope(x: torch.Tensor, fraction: float = 0.25, base: float = 10000.0,
               offset: int = 0) -> torch.Tensor:
    """GPT-NeoX partial rotary embedding of x (B, heads, L, head_dim); returns the same shape and dtype.

    The first ``rot_dim = int(head_dim * fraction)`` (rounded down to even) dims are rotated, dim i paired
    with dim ``i + rot_dim/2`` at frequency ``base^(-2i/rot_dim)``, position ``offset + t`` for step t; the
    remaining dims pass through. cos/sin and the rotation are computed in float32 (float64 for float64 x).
    """
    head_dim, length = x.shape[-1], x.shape[-2]
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    inv_freq = rope_frequencies(head_dim, fraction, base, dtype, x.device)
    rot_dim = 2 * len(inv_freq)
    positions = torch.arange(offset, offset + length, dtype=dtype, device=x.device)
    angles = torch.cat([torch.outer(positions, inv_freq)] * 2, dim=-1)  # (L, rot_dim)
    rot = x[..., :rot_dim].to(dtype)
    half = rot_dim // 2
    rotated_half = torch.cat([-rot[..., half:], rot[..., :half]], dim=-1)
    rot = rot * angles.cos() + rotated_half * angles.sin()
    return torch.cat([rot.to(x.dtype), x[..., rot_dim:]], dim=-1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with ALiBi or partial RoPE; (B, L, d_model) -> (B, L, d_model).

    ``qkv``: Linear(d, 3d), ``out``: Linear(d, d). The ALiBi bias of every (length, device, dtype) seen is
    kept (not in the state dict), cast to the query dtype, as SDPA requires: one per distinct row width, the
    training rows' and each scoring batch's (:func:`wavelib.training.copy_lm.evaluate` cuts a batch after its last
    scored token): 50 widths at the ``paper`` preset's strings of up to 300, 126 MB per layer at its 4 heads
    (float32, n_heads · L² each). Kept, not rebuilt: a captured CUDA graph (:mod:`wavelib.training.graphs`) reads
    its bias from the tensor it saw at capture, which must stay alive.
    """

    def __init__(self, d_model: int, n_heads: int, position: str, rope_fraction: float = 0.25):
        super().__init__()
        check_attention(d_model, n_heads, position, rope_fraction)
        self.n_heads, self.position, self.rope_fraction = n_heads, position, rope_fraction
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self._biases: dict[tuple, torch.Tensor] = {}

    def _alibi(self, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (length, device, dtype)
        if key not in self._biases:
            self._biases[key] = alibi_bias(self.n_heads, length, device, dtype)
        return self._biases[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if self.position == "rope":
            q, k = apply_rope(q, self.rope_fraction), apply_rope(k, self.rope_fraction)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self._alibi(L, q.device, q.dtype))
        return self.out(y.transpose(1, 2).reshape(B, L, d))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``, MLP d -> 4d -> d with GELU;
    (B, L, d_model) -> (B, L, d_model)."""

    def __init__(self, d_model: int, n_heads: int, position: str, rope_fraction: float = 0.25):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, position, rope_fraction)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TransformerLM(nn.Module):
    """Decoder-only transformer LM: ids (B, L) long -> logits (B, L, vocab_size).

    Token embedding (init N(0, 0.02^2)), no learned absolute positions (position enters only through
    ALiBi or RoPE in attention), ``n_layers`` pre-LN blocks, final LayerNorm, then an LM head without bias
    whose weight is the embedding weight: embeddings are tied in every model of the chapter so that
    parameter counts compare. Other layers keep PyTorch's default init.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, n_heads: int,
                 position: str = "rope", rope_fraction: float = 0.25):
        super().__init__()
        require_positive_int(vocab_size=vocab_size, n_layers=n_layers)
        check_attention(d_model, n_heads, position, rope_fraction)
        self.embed = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, n_heads, position, rope_fraction)
                                    for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
