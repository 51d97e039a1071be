"""The language models of Chapter 5, named: Mamba, v-Wave Mamba and the two transformers, built from one spec.

A name says the model: ``mamba`` (Mamba's causal conv, velocity 1), ``vwave-<v>`` (fixed velocity ``v``, e.g.
``vwave-0.25``), ``vwave-learned`` (per-channel ``v = sigmoid(theta)`` started at 0.5), each optionally with
``-K<cells>`` (short-mixer state size, default 4: Mamba's ``d_conv``), and ``alibi`` / ``rope`` (decoder-only
transformers). :func:`model_spec` turns a name and the sizes into an :class:`LMSpec`; :meth:`LMSpec.build` makes it.
"""

from __future__ import annotations

import dataclasses
import re

import torch

from .mamba import MambaLM
from .transformer import TransformerLM, check_attention

LEARNED_V_START = 0.5  #: initial velocity of ``vwave-learned``
_NAME = re.compile(r"^(?:(mamba)|vwave-(learned|[0-9.]+)|(alibi|rope))(?:-K([0-9]+))?$")


@dataclasses.dataclass(frozen=True)
class LMSpec:
    """Everything that defines one model of the chapter (sizes in units, ``v`` in cells per step)."""

    name: str
    family: str  #: "mamba" or "transformer"
    d_model: int
    n_layers: int
    mixer: str = "conv"  #: Mamba's short mixer: "conv" or "vwave"
    v: float = 1.0
    learn_v: bool = False
    cells: int = 4  #: short-mixer state size K (Mamba's d_conv)
    d_state: int = 16  #: selective-scan state per channel
    n_heads: int = 4
    position: str = "rope"  #: transformer position encoding: "alibi" or "rope"
    rope_fraction: float = 0.25  #: RoPE: the fraction of each head's dims rotated (GPT-NeoX's 0.25)
    scan: str = "auto"  #: selective-scan backend (see :mod:`wavelib.models.selective_scan`)

    def __post_init__(self) -> None:
        if self.family == "transformer":  # fail at configuration, not when the model is first built
            check_attention(self.d_model, self.n_heads, self.position, self.rope_fraction)

    def build(self, vocab_size: int) -> torch.nn.Module:
        """A freshly initialised model (from torch's global RNG): ids (B, L) -> logits (B, L, vocab_size)."""
        if self.family == "mamba":
            return MambaLM(vocab_size, self.d_model, self.n_layers, d_state=self.d_state, d_conv=self.cells,
                           mixer=self.mixer, v=self.v, learn_v=self.learn_v, scan=self.scan)
        return TransformerLM(vocab_size, self.d_model, self.n_layers, self.n_heads, position=self.position,
                             rope_fraction=self.rope_fraction)


def model_spec(name: str, d_model: int, mamba_layers: int, transformer_layers: int, n_heads: int,
               d_state: int, scan: str = "auto", rope_fraction: float = 0.25) -> LMSpec:
    """The spec of the model called ``name`` (see the module docstring) at the given sizes; ``rope_fraction``
    applies to ``rope`` alone."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"unknown model {name!r}; valid names: mamba, vwave-<v in (0, 1]>, vwave-learned, "
                         "alibi, rope, optionally with -K<cells> on the Mamba ones (e.g. vwave-0.25-K16)")
    mamba, velocity, position, cells = match.groups()
    if position is not None:
        if cells is not None:
            raise ValueError(f"{name!r}: -K<cells> sizes Mamba's short mixer; transformers have none")
        return LMSpec(name, "transformer", d_model, transformer_layers, n_heads=n_heads, position=position,
                      rope_fraction=rope_fraction if position == "rope" else LMSpec.rope_fraction)
    common = dict(name=name, family="mamba", d_model=d_model, n_layers=mamba_layers, d_state=d_state, scan=scan,
                  cells=int(cells) if cells is not None else 4)
    if mamba is not None:
        return LMSpec(**common)
    if velocity == "learned":
        return LMSpec(**common, mixer="vwave", v=LEARNED_V_START, learn_v=True)
    v = float(velocity)
    if not 0 < v <= 1:
        raise ValueError(f"{name!r}: the velocity must be in (0, 1], got {v}")
    return LMSpec(**common, mixer="vwave", v=v)
