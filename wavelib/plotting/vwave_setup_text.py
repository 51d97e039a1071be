"""Chapter 5's table of how its models and training differ from those of Jelassi et al.'s code beyond their size
(the sizes: :func:`.vwave_scale_text.scale_text`), with what the weight decay does over a run computed from the
preset."""

from __future__ import annotations

import math

import torch

from ..experiments.vwave import VWaveConfig
from ..models.mamba import DT_RANGE, dt_bias
from ..models.transformer import rope_frequencies
from ..training.copy_lm import learning_rate_factor
from .vwave_numbers import short_number
from .vwave_scale_text import JELASSI


def decay_shrink(lr: float, weight_decay: float, warmup: int, steps: int) -> float:
    """What AdamW's decoupled weight decay alone multiplies a decayed weight by over a run of ``steps`` steps at
    peak learning rate ``lr`` (warm-up, then linear decay: :func:`learning_rate_factor`): the product over the
    steps of ``1 - lr_n * weight_decay``."""
    return math.prod(1 - lr * learning_rate_factor(n, warmup, steps) * weight_decay for n in range(steps))


def _decayed_step_size(dt: float, shrink: float) -> float:
    """The step size ``softplus(shrink * bias)`` that Mamba's dt_proj bias for initial step size ``dt`` (its
    inverse softplus) gives once shrunk by ``shrink``."""
    return float(torch.nn.functional.softplus(shrink * dt_bias(torch.tensor(dt, dtype=torch.float64))))


def _rope(head_dim: int, fraction: float) -> str:
    frequencies = len(rope_frequencies(head_dim, fraction))
    return (f"{fraction:.0%} of each {head_dim}-dim head: {2 * frequencies} dims at {frequencies} "
            f"frequenc{'y' if frequencies == 1 else 'ies'}")


def setup_rows(config: VWaveConfig) -> tuple[list[str], list[list[str]]]:
    """(what, Jelassi et al.'s code, this page) for each way the models and the training of ``config`` differ from
    theirs beyond size: Mamba's normalisation and out_proj init, the transformer block, init, tied embeddings,
    ALiBi's q·k and RoPE's frequencies, and how far the weight decay alone shrinks a decayed weight over a run
    (and with it the step sizes that Mamba's dt_proj bias starts at)."""
    ours = decay_shrink(config.lr, config.weight_decay, config.warmup, config.steps)
    theirs = decay_shrink(JELASSI["lr"], JELASSI["weight_decay"], JELASSI["warmup"], JELASSI["steps"])
    low, high = (_decayed_step_size(dt, ours) for dt in DT_RANGE)
    header = ["", "Jelassi et al.'s code", "this page"]
    rows = [
        ["Mamba's normalisation", "LayerNorm: their code calls `MambaLMHeadModel` with keywords, the API of early "
         "mamba_ssm releases (before `MambaConfig`), whose default is `rms_norm=False`",
         "RMSNorm (mamba_ssm's later default)"],
        ["Mamba's out_proj init", "rescaled by 1/√n_layers (mamba_ssm's init)",
         f"PyTorch's default, not rescaled ({math.sqrt(config.mamba_layers):.3g}× theirs at {config.mamba_layers} "
         "layers)"],
        ["transformer block", "GPT-NeoX's parallel residual: x + attn(ln₁ x) + mlp(ln₂ x)",
         "sequential pre-LN: x + attn(ln₁ x), then + mlp(ln₂ x)"],
        ["transformer init", "N(0, 0.02²) weights and zero biases (Hugging Face)",
         "embedding N(0, 0.02²); every other layer PyTorch's default"],
        ["tied embeddings", "Mamba only (GPT-NeoX's default leaves them untied)", "every model"],
        ["ALiBi's attention scores", "q·k over each head's dims, plus once more over the 75% that RoPE would not "
         "rotate (their code concatenates that part of q and k onto the whole)", "q·k over each head's dims"],
        ["RoPE", _rope(JELASSI["head_dim"], 0.25), _rope(config.d_model // config.n_heads, config.rope_fraction)],
        ["weight decay over a run",
         f"{JELASSI['weight_decay']:g} on every parameter at lr {short_number(JELASSI['lr'])}: alone, it shrinks a "
         f"weight to ×{theirs:.4f} over {JELASSI['steps']:,} steps",
         f"{config.weight_decay:g} on all but A_log, D and θ at lr {short_number(config.lr)}: alone, it shrinks a "
         f"decayed weight to ×{ours:.3f} over {config.steps:,} steps"
         + (f"; on dt_proj's bias, that would move Mamba's initial step sizes {DT_RANGE[0]:g}–{DT_RANGE[1]:g} to "
            f"{low:.2g}–{high:.2g} (a shorter memory) unless the gradients push back" if ours < 0.999 else "")],
    ]
    return header, rows
