"""The short causal mixer of a Mamba layer: the plain depthwise conv, and the v-wave shift SSM that generalises it.

Read as a state space model, Mamba's causal depthwise ``conv1d`` of kernel ``K`` is a shift-SSM per channel (this
reading, and the velocity placed in the conv, follow the author's 2025 blog post, NOTES.md §3; Keller's extended
abstract names only the shift SSM of the H3 block that most SSMs can be seen to build on): a state of ``K``
cells, the input written into the newest cell ``K-1``, the content moved one cell towards cell 0 each step (and
dropped there), the output ``y_t = w · h_t + b``. That is the discretised one-way wave equation at velocity
``v = 1``. The v-wave mixer moves only a fraction ``v`` of each cell per step::

    h_t = A_v h_{t-1} + e_{K-1} x_t,   A_v = (1 - v) I + v S,   (S h)[i] = h[i+1], (S h)[K-1] = 0,

so a pulse spreads as it travels and cell ``K-1-j`` peaks near delay ``j / v``. An input stays ``1/v`` steps in
each cell on average, so each cell's impulse response sums to ``1/v`` (:func:`cell_gains`) and the input stays
``K/v`` steps in the state (:func:`reach`): with the same weights, a slower wave is also a filter of larger gain.

The abstract writes the shift SSM the other way round, ``h_{t+1} = A h_t + B x_t``, ``y_t = C h_t`` with ``A`` ones on
the first upper diagonal and ``B = e_0``: taken literally, the input enters cell 0, which ``A`` empties on the next
step (``A e_0 = 0``), and ``y_t`` does not see ``x_t``. This module uses the mirrored convention (newest cell
``K-1``, read out on the same step), which is what Mamba's causal ``conv1d`` computes.

The impulse response is closed-form (an infinite one for ``v < 1``)::

    k_t = sum_{j<K} w[K-1-j] C(t, j) v^j (1-v)^(t-j),

computed in log space and applied as a causal depthwise convolution over the whole sequence (FFT when long). The
explicit recurrence :func:`vwave_states` is the oracle. ``A_v``'s only eigenvalue is ``1 - v``: stable and monotone
for ``0 < v <= 1``, oscillating for ``1 < v < 2``, divergent for ``v >= 2``, so ``v`` stays in (0, 1]; learnable ``v``
is ``sigmoid(theta)`` per channel, ``theta`` marked ``_no_weight_decay`` (weight decay would pull ``v`` to 0.5).
Both mixers own an ``nn.Conv1d`` with Mamba's shapes and initialisation, so the same weights load into either, and
``v = 1`` reproduces the conv exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..presets import require_positive_int

KINDS = ("conv", "vwave")
FFT_MIN_LENGTH = 64  #: sequences at least this long are convolved by FFT, shorter ones directly


def _log_velocity(v: float | Tensor) -> tuple[Tensor, Tensor]:
    """``(log v, log(1 - v))`` as tensors (``-inf`` for ``log 0`` at ``v = 1``)."""
    v = torch.as_tensor(v, dtype=torch.float64) if not isinstance(v, Tensor) else v
    return torch.log(v), torch.log1p(-v)


def cell_responses(log_v: Tensor, log_1mv: Tensor, cells: int, length: int) -> Tensor:
    """Impulse response of each cell to an input at the newest cell: (..., cells, length), cell ``K-1-j`` first
    reached after ``j`` steps.

    ``out[..., K-1-j, t] = C(t, j) v^j (1 - v)^(t-j)`` (zero for ``t < j``), a binomial probability, so every entry
    is in [0, 1]; ``log_v``, ``log_1mv`` have any batch shape (...) and give the dtype and device.
    """
    dtype, device = log_v.dtype, log_v.device
    t = torch.arange(length, dtype=dtype, device=device)
    j = torch.arange(cells, dtype=dtype, device=device)[:, None]  # (K, 1): steps moved
    reached = t >= j
    moved, stayed = j.expand(cells, length), (t - j).clamp(min=0)
    log_binom = torch.lgamma(t + 1) - torch.lgamma(j + 1) - torch.lgamma(stayed + 1)
    lv, l1 = log_v[..., None, None], log_1mv[..., None, None]
    # 0 · log 0 = 0: at v = 1 a cell holds the pulse only at t = j; at v -> 0 only cell K-1 at any t.
    log_p = log_binom + torch.where(moved > 0, moved * lv, 0.0) + torch.where(stayed > 0, stayed * l1, 0.0)
    p = torch.where(reached, torch.exp(log_p), 0.0)
    return p.flip(-2)  # index by cell: cell K-1-j moved j times


def reach(v: float, cells: int) -> float:
    """The mixer's reach, ``K/v`` steps: how long an input stays in the ``K`` cells on average. It arrives at the
    oldest cell, 0, after ``(K-1)/v`` steps on average (that cell's response peaks within a step of it) and stays
    there ``1/v`` more; at ``v = 1`` exactly ``K`` steps, the conv's taps at delays ``0..K-1``."""
    return cells / v


def cell_gains(v: float, cells: int, length: int) -> tuple[Tensor, Tensor]:
    """Each cell's impulse response (:func:`cell_responses`) over ``length`` steps: its sum (its gain at DC, which
    tends to ``1/v`` for every cell, the mean steps an input stays in it) and its L2 norm; (K,) each, float64,
    indexed by cell (``K-1`` the newest)."""
    p = cell_responses(*_log_velocity(float(v)), cells, length)
    return p.sum(-1), p.norm(dim=-1)


def vwave_kernel(weight: Tensor, log_v: Tensor, log_1mv: Tensor, length: int) -> Tensor:
    """The mixer's impulse response per channel, (D, length): ``k_t = sum_i w[i] p_i(t)``.

    ``weight`` (D, K) are the conv weights (cell ``i`` read with ``w[i]``); ``log_v``, ``log_1mv`` scalars or (D,).
    """
    channels, cells = weight.shape
    log_v, log_1mv = (a.to(weight.dtype).expand(channels) for a in (log_v, log_1mv))
    return torch.einsum("dk,dkt->dt", weight, cell_responses(log_v, log_1mv, cells, length))


def causal_depthwise_conv(x: Tensor, kernel: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[b, d, t] = sum_{tau <= t} kernel[d, tau] x[b, d, t - tau] + bias[d]``: x (B, D, L), kernel (D, Lk).

    By FFT when ``L >= FFT_MIN_LENGTH`` (O(L log L)), else by a direct grouped conv1d.
    """
    length, taps = x.shape[-1], kernel.shape[-1]
    if length >= FFT_MIN_LENGTH:
        n = length + min(taps, length)  # no wrap-around into the first L outputs
        y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(kernel, n=n), n=n)[..., :length]
    else:
        kernel = kernel[:, :length]
        y = F.conv1d(F.pad(x, (kernel.shape[-1] - 1, 0)), kernel.flip(-1)[:, None], groups=x.shape[1])
    return y if bias is None else y + bias[:, None]


def vwave_states(x: Tensor, v: float | Tensor, cells: int) -> Tensor:
    """The explicit recurrence (the oracle): the state of every channel, (B, D, K, L), for input x (B, D, L).

    ``v`` a number or (D,) tensor in (0, 1]. Cell ``K-1`` is the newest; content moves towards cell 0.
    """
    batch, channels, _ = x.shape
    v = torch.as_tensor(v, dtype=x.dtype, device=x.device).expand(channels)[None, :, None]
    newest = F.one_hot(torch.tensor(cells - 1), cells).to(x)  # e_{K-1}: where each input is written
    h = x.new_zeros(batch, channels, cells)
    states = []
    for x_t in x.unbind(-1):  # one backward op for all steps, not a select per step
        h = torch.lerp(h, F.pad(h[..., 1:], (0, 1)), v)  # (1 - v) h + v S h
        h = torch.addcmul(h, x_t[..., None], newest)
        states.append(h)
    return torch.stack(states, dim=-1)


class CausalConv(torch.nn.Module):
    """Mamba's short mixer: causal depthwise ``Conv1d(D, D, K, groups=D, padding=K-1)`` with bias, cut to L.

    x (B, D, L) -> (B, D, L). As a shift-SSM its state is the last K inputs (:meth:`states`).
    """

    def __init__(self, channels: int, kernel: int = 4):
        super().__init__()
        require_positive_int(channels=channels, kernel=kernel)
        self.conv = torch.nn.Conv1d(channels, channels, kernel, groups=channels, padding=kernel - 1, bias=True)
        self.cells = kernel

    @property
    def velocity(self) -> Tensor:
        """Wave velocity of every channel, (D,) (cells per step): 1 for the plain conv."""
        return torch.ones(self.conv.out_channels, device=self.conv.weight.device)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)[..., : x.shape[-1]]

    def states(self, x: Tensor) -> Tensor:
        """The shift-SSM state behind the output, (B, D, K, L) (cell ``K-1`` the newest)."""
        return vwave_states(x, self.velocity.to(x.dtype), self.cells)


class VWaveMixer(CausalConv):
    """The v-wave shift SSM with the conv's weights: fixed velocity ``v`` in (0, 1], or learnable per channel
    (``v = sigmoid(theta)``, started at ``v`` in (0, 1)). x (B, D, L) -> (B, D, L); equals :class:`CausalConv`
    at ``v = 1``."""

    def __init__(self, channels: int, kernel: int = 4, v: float = 1.0, learn_v: bool = False):
        super().__init__(channels, kernel)
        if not 0.0 < v <= 1.0:
            raise ValueError(f"velocity v must be in (0, 1] (stable, non-oscillating waves), got {v!r}")
        if learn_v:
            if v == 1.0:
                raise ValueError("a learnable velocity starts inside (0, 1): v = sigmoid(theta); use e.g. v=0.5")
            self.theta = torch.nn.Parameter(torch.full((channels,), math.log(v / (1 - v))))
            self.theta._no_weight_decay = True  # decay would pull theta to 0, v to 0.5
        else:
            self.register_buffer("v", torch.full((channels,), float(v)))

    def _log_velocity(self) -> tuple[Tensor, Tensor]:
        if hasattr(self, "theta"):  # exact logs of sigmoid(theta) and 1 - sigmoid(theta): no v = 1 roundoff
            return F.logsigmoid(self.theta), F.logsigmoid(-self.theta)
        return _log_velocity(self.v)

    @property
    def velocity(self) -> Tensor:
        return torch.sigmoid(self.theta) if hasattr(self, "theta") else self.v

    def kernel(self, length: int) -> Tensor:
        """Impulse response of every channel over ``length`` steps, (D, length)."""
        return vwave_kernel(self.conv.weight[:, 0], *self._log_velocity(), length)

    def forward(self, x: Tensor) -> Tensor:
        return causal_depthwise_conv(x, self.kernel(x.shape[-1]).to(x.dtype), self.conv.bias)


def make_short_mixer(kind: str, channels: int, kernel: int = 4, v: float = 1.0,
                     learn_v: bool = False) -> CausalConv:
    """``"conv"`` (Mamba's) or ``"vwave"`` (velocity ``v``, learnable if ``learn_v``); x (B, D, L) -> (B, D, L)."""
    if kind == "conv":
        if v != 1.0 or learn_v:
            raise ValueError("the plain conv mixer has velocity 1; use kind='vwave' for another or a learnable v")
        return CausalConv(channels, kernel)
    if kind == "vwave":
        return VWaveMixer(channels, kernel, v, learn_v)
    raise ValueError(f"unknown short mixer {kind!r}; valid kinds: {', '.join(KINDS)}")
