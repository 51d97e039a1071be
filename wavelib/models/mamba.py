"""A small Mamba-1 (Gu & Dao 2023) block and language model whose short mixer can be swapped.

The block is Mamba's mixer with its causal depthwise conv1d replaced by ``make_short_mixer(mixer, ...)``:
``"conv"`` is Mamba's own conv, ``"vwave"`` a variable-velocity shift SSM. Initialisation follows Mamba
(dt_proj, A_log, D; embedding N(0, 0.02²)); every other Linear keeps PyTorch's default init, and out_proj
gets no 1/sqrt(n_layers) rescaling. The layers are normalised with RMSNorm (``mamba_ssm``'s ``MambaConfig``
default). Jelassi et al.'s code builds its Mamba with ``MambaLMHeadModel(d_model=..., n_layer=..., ...)``, the
keyword API of early ``mamba_ssm`` releases (before ``MambaConfig``), whose defaults normalise with LayerNorm
(``rms_norm=False``) and rescale out_proj by 1/sqrt(n_layers).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..presets import require_positive_int
from .selective_scan import SCAN_BACKENDS, selective_scan
from .short_mixers import make_short_mixer

DT_RANGE = (1e-3, 1e-1)  #: Mamba's initial step sizes: dt drawn log-uniform in this range (floor 1e-4)


def dt_bias(dt: torch.Tensor) -> torch.Tensor:
    """The dt_proj bias whose softplus is the step size ``dt`` (> 0): its inverse softplus, elementwise."""
    return dt + torch.log(-torch.expm1(-dt))


def _check_scan(scan: str, chunk: int) -> None:
    if scan not in SCAN_BACKENDS:
        raise ValueError(f"unknown scan backend {scan!r}; valid: {', '.join(SCAN_BACKENDS)}")
    require_positive_int(chunk=chunk)


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x², -1) + eps) * weight`` over the last dimension (size ``d``); weight starts at ones."""

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        require_positive_int(d=d)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., d) -> (..., d)."""
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    """Mamba-1 mixer: (B, L, d_model) -> (B, L, d_model), causal along L.

    in_proj -> (x, z), each (B, L, d_inner) with d_inner = expand·d_model; x -> short mixer over
    (B, d_inner, L) -> SiLU; x_proj(x) -> (dt, B, C) of sizes (dt_rank, d_state, d_state);
    delta = softplus(dt_proj(dt)); y = selective_scan(x, delta, A = -exp(A_log), B, C, D);
    out = out_proj(y · SiLU(z)). dt_rank "auto" is ceil(d_model / 16). dt_proj's bias is softplus⁻¹ of dt
    drawn log-uniform in [1e-3, 1e-1] (floored at 1e-4), its weight uniform ±dt_rank^-0.5; A_log[d] =
    log(1..d_state) for every channel; D = 1. A_log and D are marked ``_no_weight_decay``, as in Mamba's reference
    code. ``scan``/``chunk`` go to ``selective_scan`` and may be changed on the instance later.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | str = "auto", mixer: str = "conv", v: float = 1.0, learn_v: bool = False,
                 scan: str = "auto", chunk: int = 64) -> None:
        super().__init__()
        require_positive_int(d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand)
        if dt_rank == "auto":
            dt_rank = math.ceil(d_model / 16)
        require_positive_int(dt_rank=dt_rank)
        _check_scan(scan, chunk)
        self.d_model, self.d_state, self.dt_rank = d_model, d_state, dt_rank
        self.d_inner = d_inner = expand * d_model
        self.scan, self.chunk = scan, chunk

        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.mixer = make_short_mixer(mixer, d_inner, d_conv, v, learn_v)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.A_log._no_weight_decay = self.D._no_weight_decay = True
        self._init_dt(*DT_RANGE, floor=1e-4)

    @torch.no_grad()
    def _init_dt(self, dt_min: float, dt_max: float, floor: float) -> None:
        bound = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        log_dt = torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        dt = torch.exp(log_dt).clamp(min=floor)
        self.dt_proj.bias.copy_(dt_bias(dt))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d_model) -> (B, L, d_model)."""
        xs, z = self.in_proj(x).chunk(2, dim=-1)                                 # (B, L, d_inner) each
        xs = F.silu(self.mixer(xs.transpose(1, 2)))                             # (B, d_inner, L)
        dt, B, C = self.x_proj(xs.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt)).transpose(1, 2)                    # (B, d_inner, L)
        A = -torch.exp(self.A_log)                                              # (d_inner, d_state)
        y = selective_scan(xs, delta, A, B.transpose(1, 2), C.transpose(1, 2), self.D,
                           backend=self.scan, chunk=self.chunk)                 # (B, d_inner, L)
        return self.out_proj(y.transpose(1, 2) * F.silu(z))


class MambaLM(nn.Module):
    """Token ids (B, L) -> logits (B, L, vocab_size): embedding, ``n_layers`` residual layers
    ``x = x + block(RMSNorm(x))``, a final RMSNorm and an lm head tied to the embedding weight.

    ``blocks[i].mixer`` is layer i's short mixer; the other arguments go to every ``MambaBlock``.
    """

    def __init__(self, vocab_size: int, d_model: int, n_layers: int, d_state: int = 16, d_conv: int = 4,
                 expand: int = 2, mixer: str = "conv", v: float = 1.0, learn_v: bool = False,
                 scan: str = "auto", chunk: int = 64) -> None:
        super().__init__()
        require_positive_int(vocab_size=vocab_size, d_model=d_model, n_layers=n_layers)
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.norms = nn.ModuleList(RMSNorm(d_model) for _ in range(n_layers))
        self.blocks = nn.ModuleList(
            MambaBlock(d_model, d_state=d_state, d_conv=d_conv, expand=expand, mixer=mixer, v=v,
                       learn_v=learn_v, scan=scan, chunk=chunk)
            for _ in range(n_layers))
        self.norm_f = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """LongTensor (B, L) -> logits (B, L, vocab_size)."""
        x = self.embedding(ids)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(norm(x))
        return self.lm_head(self.norm_f(x))

    @torch.no_grad()
    def mixer_inputs(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the input of its short mixer for ``ids`` (B, L): a list of (B, d_inner, L) tensors."""
        seen: list[torch.Tensor] = []
        hooks = [block.mixer.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach()))
                 for block in self.blocks]
        try:
            self(ids)
        finally:
            for hook in hooks:
                hook.remove()
        return seen
