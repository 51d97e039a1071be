"""M independent tanh Elman RNNs in one module, so that all seeds of a configuration train together.

Model ``m``: ``h(t) = tanh(W_hh[m] h(t-1) + W_ih[m] u(t) + b[m])``, ``y(t) = W_r[m] h(t)``, ``h(0) = 0``
(ICML 2024 Eq. 9 / Eq. 48). Every operation acts on a leading model dimension (``bmm``/``baddbmm``), so
model ``m``'s numbers never mix with another model's: training the stack equals training each alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..presets import require_positive_int

INITS = ("pytorch", "gaussian")
RECURRENCE_BACKENDS = ("auto", "reference", "fused")


def _pytorch_init(d_in: int, hidden: int, d_out: int, bias: bool, seed: int,
                  dtype: torch.dtype) -> list[torch.Tensor]:
    """What ``torch.manual_seed(seed)`` then ``nn.RNN(d_in, hidden, bias=bias)`` and ``nn.Linear(hidden,
    d_out, bias=False)`` draw, in their order: W_ih, W_hh, [b_ih, b_hh] uniform(±1/sqrt(H)), then W_r by
    ``kaiming_uniform_(a=sqrt(5))``; drawn in float32 on the CPU from a private generator, then cast to
    ``dtype`` (so b = b_ih + b_hh is summed in ``dtype``, as in ``nn.RNN(...).to(dtype)``)."""
    gen = torch.Generator().manual_seed(seed)
    stdv = 1.0 / math.sqrt(hidden)
    shapes = [(hidden, d_in), (hidden, hidden)] + ([(hidden,), (hidden,)] if bias else [])
    rnn = [torch.nn.init.uniform_(torch.empty(shape), -stdv, stdv, generator=gen) for shape in shapes]
    W_r = torch.nn.init.kaiming_uniform_(torch.empty(d_out, hidden), a=math.sqrt(5), generator=gen)
    rnn, W_r = [w.to(dtype) for w in rnn], W_r.to(dtype)
    return rnn[:2] + [W_r] + ([rnn[2] + rnn[3]] if bias else [])


def _gaussian_init(d_in: int, hidden: int, d_out: int, bias: bool, seed: int,
                   dtype: torch.dtype) -> list[torch.Tensor]:
    """ICML Appendix B.3 (Fig. 14): W_ih, W_hh, W_r entries N(0, 1/H) (drawn in float32, in that order,
    then cast to ``dtype``); b = 0."""
    gen = torch.Generator().manual_seed(seed)
    std = 1.0 / math.sqrt(hidden)
    shapes = ((hidden, d_in), (hidden, hidden), (d_out, hidden))
    weights = [(torch.randn(shape, generator=gen) * std).to(dtype) for shape in shapes]
    return weights + ([torch.zeros(hidden, dtype=dtype)] if bias else [])


def resolve_recurrence(backend: str, device: torch.device | str, dtype: torch.dtype, hidden: int) -> str:
    """``"reference"`` or ``"fused"``: the path :func:`elman_recurrence` takes with ``backend`` on tensors of
    ``dtype`` on ``device`` with ``hidden`` units. ``"auto"`` is fused for float32 on CUDA where the kernels run,
    else the reference (a run records what it used: the two agree to rounding, not bit for bit)."""
    if backend not in RECURRENCE_BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {RECURRENCE_BACKENDS}")
    if backend != "auto":
        return backend
    if torch.device(device).type != "cuda" or dtype != torch.float32:
        return "reference"
    from .elman_fused import fused_problem  # lazy: triton only where used
    return "fused" if fused_problem(torch.empty(0, device=device), hidden) is None else "reference"


def elman_recurrence(drive: torch.Tensor, W_hh: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """All hidden states of M tanh RNNs from their input drive: ``h(t) = tanh(drive(t) + W_hh h(t-1))``, h(0) = 0.

    drive (M, B, T, H) is ``W_ih u(t) + b`` for every step; W_hh (M, H, H). Returns (M, B, T, H).
    ``backend``: ``"reference"`` (a ``baddbmm`` + ``tanh`` per step, autograd), ``"fused"`` (the Triton kernels
    of :mod:`wavelib.models.elman_fused`; ValueError where they cannot run), or ``"auto"``
    (:func:`resolve_recurrence`: so always the reference on the CPU and in float64).
    """
    if drive.dim() != 4 or W_hh.shape != (drive.shape[0], drive.shape[3], drive.shape[3]):
        raise ValueError(f"need drive (M, B, T, H) and W_hh (M, H, H), got {tuple(drive.shape)} and "
                         f"{tuple(W_hh.shape)}")
    if resolve_recurrence(backend, drive.device, drive.dtype, drive.shape[3]) == "fused":
        from .elman_fused import fused_elman_recurrence
        return fused_elman_recurrence(drive, W_hh)
    drives = drive.unbind(2)  # unbind: one backward op for all steps, not T selects
    W_hh_T = W_hh.transpose(1, 2)
    h = torch.tanh(drives[0])  # W_hh h(0) = 0
    states = [h]
    for t in range(1, drive.shape[2]):
        h = torch.tanh(torch.baddbmm(drives[t], h, W_hh_T))
        states.append(h)
    return torch.stack(states, dim=2)


class BatchedElman(torch.nn.Module):
    """``n_models`` independent tanh Elman RNNs: W_ih (M, H, d_in), W_hh (M, H, H), W_r (M, d_out, H), b (M, H).

    ``init="pytorch"``: model ``m`` gets exactly the weights of ``torch.manual_seed(seeds[m])``;
    ``nn.RNN(d_in, hidden, nonlinearity="tanh", bias=bias)``; ``nn.Linear(hidden, d_out, bias=False)``
    (drawn in float32 from a private generator, then cast to ``dtype``; global RNG state is untouched).
    ``nn.RNN`` has two biases ``b_ih``, ``b_hh`` that only ever appear as their sum, so one ``b = b_ih + b_hh``
    is stored: the same function with one redundant vector fewer (training differs: under Adam the two
    separate biases each take a full step, so their sum moves about twice as fast as this ``b``; the main text's
    Eq. 9 and the public code have no bias; Appendix Eq. 48 writes one). ``init="gaussian"``: weights N(0, 1/H), b = 0.
    """

    def __init__(self, n_models: int, d_in: int, hidden: int, d_out: int, seeds: Sequence[int],
                 bias: bool = False, init: str = "pytorch", dtype: torch.dtype = torch.float32):
        super().__init__()
        require_positive_int(n_models=n_models, d_in=d_in, hidden=hidden, d_out=d_out)
        if len(seeds) != n_models:
            raise ValueError(f"give one seed per model: n_models={n_models}, got {len(seeds)} seeds")
        if any(isinstance(seed, bool) or int(seed) != seed or seed < 0 for seed in seeds):
            raise ValueError(f"seeds must be non-negative integers, got {list(seeds)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        draw = _pytorch_init if init == "pytorch" else _gaussian_init
        per_model = [draw(d_in, hidden, d_out, bias, int(seed), dtype) for seed in seeds]
        names = ["W_ih", "W_hh", "W_r"] + (["b"] if bias else [])
        for i, name in enumerate(names):
            self.register_parameter(name, torch.nn.Parameter(torch.stack([w[i] for w in per_model])))
        self.n_models, self.d_in, self.hidden, self.d_out = n_models, d_in, hidden, d_out
        self.has_bias = bias
        self.recurrence_backend = "auto"  #: :func:`elman_recurrence`'s backend (benchmarks and runs pin it)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs u (M, B, T, d_in) -> (outputs y (M, B, T, d_out), hidden states h (M, B, T, H)), h(0) = 0."""
        M, H = self.n_models, self.hidden
        if u.ndim != 4 or u.shape[0] != M or u.shape[3] != self.d_in:
            raise ValueError(f"u must have shape (M, B, T, d_in) = ({M}, B, T, {self.d_in}), got {tuple(u.shape)}")
        _, B, T, _ = u.shape
        flat = u.reshape(M, B * T, self.d_in)
        W_ih_T = self.W_ih.transpose(1, 2)
        drive = torch.baddbmm(self.b[:, None, :], flat, W_ih_T) if self.has_bias else torch.bmm(flat, W_ih_T)
        hs = elman_recurrence(drive.view(M, B, T, H), self.W_hh, self.recurrence_backend)  # (M, B, T, H)
        y = torch.bmm(hs.view(M, B * T, H), self.W_r.transpose(1, 2)).view(M, B, T, self.d_out)
        return y, hs

    def select(self, start: int, stop: int) -> "BatchedElman":
        """Models ``start .. stop-1`` as a new BatchedElman holding copies of their weights (nothing is drawn)."""
        for name, value in (("start", start), ("stop", stop)):
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if not 0 <= start < stop <= self.n_models:
            raise ValueError(f"need 0 <= start < stop <= {self.n_models}, got start={start}, stop={stop}")
        new = BatchedElman.__new__(BatchedElman)
        torch.nn.Module.__init__(new)
        for name, p in self.named_parameters():
            new.register_parameter(name, torch.nn.Parameter(p.detach()[start:stop].clone()))
        new.n_models, new.d_in, new.hidden, new.d_out = stop - start, self.d_in, self.hidden, self.d_out
        new.has_bias, new.recurrence_backend = self.has_bias, self.recurrence_backend
        return new

    def model_weights(self, m: int) -> dict[str, np.ndarray]:
        """Model ``m``'s weights as float64 NumPy: W_ih (H, d_in), W_hh (H, H), W_r (d_out, H) [, b (H,)]."""
        if isinstance(m, bool) or int(m) != m or not 0 <= m < self.n_models:
            raise ValueError(f"model index must be in 0..{self.n_models - 1}, got {m!r}")
        return {name: p[m].detach().to("cpu", torch.float64).numpy().copy() for name, p in self.named_parameters()}


def clip_grad_norm_per_model_(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Total-norm (L2) gradient clipping of each model's slice (dim 0) of every parameter, in place.

    Exactly ``torch.nn.utils.clip_grad_norm_(model_m.parameters(), max_norm)`` for every model ``m``
    at once (same formula, eps 1e-6); no host sync. Returns the pre-clip norms (M,).
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        raise ValueError("no parameter has a gradient; call backward() before clipping")
    M = grads[0].shape[0]
    if any(g.ndim < 1 or g.shape[0] != M for g in grads):
        shapes = [tuple(g.shape) for g in grads]
        raise ValueError(f"every gradient needs the model dimension first, got shapes {shapes}")
    per_tensor = torch.stack([torch.linalg.vector_norm(g.reshape(M, -1), dim=1) for g in grads])  # (P, M)
    total = torch.linalg.vector_norm(per_tensor, dim=0)  # (M,)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view((M,) + (1,) * (g.ndim - 1)))
    return total
