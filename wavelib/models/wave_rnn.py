"""Wave-RNN and iRNN (Keller, Muller, Sejnowski & Welling, ICLR 2024, "Traveling Waves Encode the Recent Past").

wRNN (paper Eq. 3): the hidden state is ``c`` rings of ``n`` units, h of shape (B, c, n), flat index
``channel * n + unit``; with ``h_0 = 0``::

    h_{t+1} = ReLU(V x_t + conv(h_t)),    y_t = readout(h_{t+1})

``V = Linear(n_in, c*n)`` (with bias) and ``conv`` a circular ``Conv1d(c, c, 3)`` with bias. The states come from
:func:`wave_rnn_states` (projection and recurrence), the one hot path: a fused kernel can replace it without
touching the module. A model whose loss reads the last step only (sMNIST, the adding task) asks for that
(``last=True``): the fused kernels then keep no (B, T, ...) outputs for autograd but the states they need.

iRNN (Le et al. 2015): ``torch.nn.RNN(nonlinearity="relu")`` with identity recurrent weights and zero biases,
the paper's baseline, plus its Table 4 variants (shift ``Sigma`` init, sparse-identity ``V`` init).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..presets import require_positive_int

READOUTS = ("linear", "mlp")
WAVE_U_INITS = ("shift", "dirac", "uniform_sqrt_n", "normal", "random")
V_INITS = ("sparse_identity", "normal", "fan_in", "random")
V_NORMAL_STD = 1e-3
"""Standard deviation of ``init_v="normal"`` and ``init_u="normal"``: the paper's N(0, 0.001) read as std 0.001
(see :class:`WaveRNN`)."""
IRNN_INITS = ("identity", "sigma", "random")
RECURRENCE_BACKENDS = ("auto", "reference", "fused")


def _choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid values: {', '.join(valid)}")


def _make_readout(d_hidden: int, n_out: int, readout: str, mlp_hidden: int) -> torch.nn.Module:
    """``Linear(d_hidden, n_out)``, or ``Linear(d_hidden, mlp_hidden) -> ReLU -> Linear(mlp_hidden, n_out)``."""
    if readout == "linear":
        return torch.nn.Linear(d_hidden, n_out)
    return torch.nn.Sequential(torch.nn.Linear(d_hidden, mlp_hidden), torch.nn.ReLU(),
                               torch.nn.Linear(mlp_hidden, n_out))


def _init_v(weight: Tensor, bias: Tensor, init_v: str, channels: int) -> None:
    """Initialise V = (weight (channels*n, n_in), bias (channels*n,)) in place, as ``init_v`` says (see
    :class:`WaveRNN`, :class:`IRNN`); ``"random"`` leaves the module's default, ``"normal"`` leaves the bias at it,
    ``"fan_in"`` draws weight and bias from ``U(-1/sqrt(n_in), 1/sqrt(n_in))``, what ``nn.Linear(n_in, ...)`` does."""
    if init_v == "normal":
        torch.nn.init.normal_(weight, 0.0, V_NORMAL_STD)
    elif init_v == "fan_in":
        bound = weight.shape[1] ** -0.5
        torch.nn.init.uniform_(weight, -bound, bound)
        torch.nn.init.uniform_(bias, -bound, bound)
    elif init_v == "sparse_identity":
        bias.zero_()
        weight.zero_()
        weight.view(channels, -1, weight.shape[1])[:, 0] = 1.0


RECURRENT_BIASES = ("V.bias", "conv.bias", "rnn.bias_ih_l0", "rnn.bias_hh_l0")
"""The input and recurrent biases of :class:`WaveRNN` and :class:`IRNN` (not the readout's)."""


def parameter_count(model: torch.nn.Module, recurrent_biases: bool = True) -> int:
    """Number of scalar parameters of ``model`` (trainable or not); ``recurrent_biases=False`` leaves out
    :data:`RECURRENT_BIASES`, which is how the Wave-RNN paper's stated counts come out (10,288 for its adding wRNN,
    10,301 for its adding iRNN, 403,135 for the n = 625 copy iRNN, 434,954 for the nsCIFAR10 wRNN)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if recurrent_biases or name not in RECURRENT_BIASES)


def circular_conv(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Kernel-3 circular cross-correlation over the ring: h (B, c, n), weight (c, c, 3), bias (c,) -> (B, c, n).

    ``out[i] = sum_k weight[:, :, k] h[(i + k - 1) mod n]`` (+ bias): the same numbers as
    ``Conv1d(c, c, 3, padding=1, padding_mode="circular")``, but wrapping by hand (one ``cat``) instead of
    through ``F.pad(mode="circular")``, which is far cheaper per step on a GPU.
    """
    return F.conv1d(torch.cat((h[..., -1:], h, h[..., :1]), dim=-1), weight, bias)


def circular_conv_norm(weight: Tensor, n: int) -> float:
    """Operator 2-norm (largest gain) of :func:`circular_conv` without bias on rings of n units, weight (c, c, 3):
    the largest singular value of ``sum_k weight[:, :, k] exp(2 pi i f (k - 1) / n)`` over the n Fourier modes f.
    Below 1 the linear part contracts, so states stay bounded and rounding errors do not grow along a sequence."""
    f = torch.arange(n, dtype=torch.float64, device=weight.device)[:, None]
    phase = torch.exp(2j * torch.pi * f * (torch.arange(3, device=weight.device) - 1) / n)  # (n, 3)
    modes = torch.einsum("ojk,fk->foj", weight.detach().to(torch.complex128), phase)
    return torch.linalg.matrix_norm(modes, ord=2).max().item()


def _reference(x_proj: Tensor, conv_weight: Tensor, conv_bias: Tensor | None, c: int, n: int,
               last: bool = False) -> Tensor:
    """The plain per-step loop differentiated by autograd (the oracle for any faster backend); see
    :func:`wave_rnn_recurrence`."""
    batch, steps = x_proj.shape[:2]
    # unbind: one backward op for all steps; T selects would each scatter into a zero tensor of x_proj's size
    # (O(T^2) memory traffic: 60% of a copy-task step on the CPU went to those fills)
    drives = x_proj.reshape(batch, steps, c, n).unbind(1)
    h = x_proj.new_zeros(batch, c, n)
    states = []
    for drive in drives:
        h = torch.relu(drive + circular_conv(h, conv_weight, conv_bias))
        states.append(h)
    if last:
        return h.reshape(batch, c * n)
    return torch.stack(states, dim=1).reshape(batch, steps, c * n)


def _fused_runs(x: Tensor, c: int, n: int, backend: str) -> bool:
    """Whether ``backend`` (one of :data:`RECURRENCE_BACKENDS`) takes the fused kernels for input ``x``:
    "fused" always (they raise where they cannot run), "auto" for CUDA tensors where they can run."""
    _choice("backend", backend, RECURRENCE_BACKENDS)
    if backend != "auto":
        return backend == "fused"
    if x.device.type != "cuda":
        return False
    from .wave_rnn_fused import fused_problem  # lazy: triton only where used
    return fused_problem(x, c, n) is None


def _check_fused_options(options: dict[str, Any] | None) -> None:
    """Bad fused-kernel options fail on every path, the reference's included (which does not use them)."""
    if options:
        from .wave_rnn_fused import check_fused_options  # lazy: as the kernels' module is imported elsewhere here
        check_fused_options(options)


def wave_rnn_recurrence(x_proj: Tensor, conv_weight: Tensor, conv_bias: Tensor | None, c: int, n: int,
                        backend: str = "auto", last: bool = False,
                        fused_options: dict[str, Any] | None = None) -> Tensor:
    """All hidden states of the wRNN from its projected input.

    x_proj (B, T, c*n) is ``V x_t`` for every step (flat index ``channel * n + unit``); conv_weight (c, c, 3),
    conv_bias (c,) or None. Returns (B, T, c*n) with ``states[:, t] = ReLU(x_proj[:, t] + conv(states[:, t-1]))``
    and a zero state before the first step; with ``last``, only the last state (B, c*n).

    ``backend``: ``"reference"`` (the per-step loop), ``"fused"`` (the Triton kernels of
    :mod:`wavelib.models.wave_rnn_fused`; ValueError where they cannot run), or ``"auto"``: fused for CUDA tensors
    where it can run, else the reference (so always the reference on the CPU). ``fused_options``: keyword options
    of the fused kernels (:data:`.wave_rnn_fused.FUSED_OPTIONS`, e.g. ``{"precision": "ieee"}``; benchmarks time
    candidates with them), checked on every path, used on the fused one.
    """
    if x_proj.dim() != 3 or x_proj.shape[-1] != c * n:
        raise ValueError(f"x_proj must be (B, T, c*n) = (B, T, {c * n}), got {tuple(x_proj.shape)}")
    _check_fused_options(fused_options)
    if not _fused_runs(x_proj, c, n, backend):
        return _reference(x_proj, conv_weight, conv_bias, c, n, last)
    from .wave_rnn_fused import fused_wave_rnn_recurrence
    return fused_wave_rnn_recurrence(x_proj, conv_weight, conv_bias, c, n, last=last, **(fused_options or {}))


def wave_rnn_states(x: Tensor, in_weight: Tensor, in_bias: Tensor | None, conv_weight: Tensor,
                    conv_bias: Tensor | None, c: int, n: int, backend: str = "auto", last: bool = False,
                    fused_options: dict[str, Any] | None = None) -> Tensor:
    """The wRNN's hidden states from its raw input: :func:`wave_rnn_recurrence` of ``F.linear(x, in_weight,
    in_bias)``, the module's hot path.

    x (B, T, n_in), in_weight (c*n, n_in), in_bias (c*n,) or None (V), conv_weight (c, c, 3), conv_bias (c,) or
    None -> states (B, T, c*n), or with ``last`` the last state (B, c*n). ``backend`` and ``fused_options`` as for
    :func:`wave_rnn_recurrence`. Where the fused kernels run and the input is one value per step (n_in = 1: pixel
    sequences), the "tiles" kernels (the default; not ``fused_options["kernel"] == "columns"``) also do the
    projection (:func:`.wave_rnn_fused.fused_wave_rnn_pixels`); the same numbers to float32 rounding.
    """
    if x.dim() != 3 or in_weight.shape != (c * n, x.shape[-1]):
        raise ValueError(f"x must be (B, T, n_in) and in_weight (c*n, n_in) = ({c * n}, n_in), got "
                         f"{tuple(x.shape)} and {tuple(in_weight.shape)}")
    _check_fused_options(fused_options)
    options = dict(fused_options or {})
    if x.shape[-1] == 1 and options.get("kernel", "tiles") == "tiles" and _fused_runs(x, c, n, backend):
        from .wave_rnn_fused import fused_wave_rnn_pixels
        options.pop("kernel", None)
        return fused_wave_rnn_pixels(x, in_weight, in_bias, conv_weight, conv_bias, c, n, last=last, **options)
    return wave_rnn_recurrence(F.linear(x, in_weight, in_bias), conv_weight, conv_bias, c, n, backend, last,
                               fused_options)


class WaveRNN(torch.nn.Module):
    """Wave-RNN: ``c`` circular channels of ``n`` ReLU units coupled by a kernel-3 circular convolution.

    Inits (paper Sec. 2 and the Table 4 ablation grid, Appendix B):

    - ``init_u="shift"`` (the paper's): conv weight zero except a dirac over channels on the last kernel tap,
      so new ``h[i]`` = old ``h[i+1]``: a wave moves one unit per step towards lower indices, wrapping. The conv
      bias keeps PyTorch's default init, as the public code does (it is not zeroed).
      The Table 4 ablation's other inits, each with the bias at PyTorch's default: from its grid (Appendix B)
      ``"dirac"``: ``torch.nn.init.dirac_`` (identity, the centre tap) and ``"uniform_sqrt_n"``: every weight
      ``U(-1/sqrt(n), 1/sqrt(n))`` with ``n`` the units per ring; from its text, ``"normal"``: every weight
      ``N(0, 0.001)``, read as std 0.001 (:data:`V_NORMAL_STD`), the init it names for its best "- u-shift-init"
      models.
      ``"random"``: PyTorch's default ``Conv1d`` init (weight and bias ``U(-1/sqrt(3c), 1/sqrt(3c))``; the public
      code's ``init='rand'``), not in the paper's grid.
    - ``init_v="sparse_identity"`` (the paper's): V weight and bias zero, then unit 0 of every channel gets
      weight 1 from every input feature. ``"normal"``: the ablation grid's alternative ``N(0, 0.001)``, which we
      read as **std** 0.001 (:data:`V_NORMAL_STD`; variance would be std 0.032): the public code's
      ``nn.init.normal_(weight, 0.0, std=0.001)``, the bias left at PyTorch's default as that code leaves it.
      ``"random"``: PyTorch's default ``Linear`` init, weight and bias (``"fan_in"`` draws the same distribution).

    Parameters: ``V`` (n_in*c*n + c*n), ``conv`` (3c^2 + c), readout on the whole state (``readout="linear"``:
    c*n*n_out + n_out; ``"mlp"``: c*n -> ``mlp_hidden`` -> ReLU -> n_out).
    """

    def __init__(self, n_in: int, n: int, c: int, n_out: int, readout: str = "linear", mlp_hidden: int = 100,
                 init_u: str = "shift", init_v: str = "sparse_identity"):
        super().__init__()
        require_positive_int(n_in=n_in, n=n, c=c, n_out=n_out, mlp_hidden=mlp_hidden)
        _choice("readout", readout, READOUTS)
        _choice("init_u", init_u, WAVE_U_INITS)
        _choice("init_v", init_v, V_INITS)
        self.n_in, self.n, self.c, self.n_out = n_in, n, c, n_out
        self.recurrence_backend = "auto"  #: :func:`wave_rnn_recurrence`'s backend (benchmarks pin it)
        self.fused_options: dict[str, Any] = {}  #: its ``fused_options`` (benchmarks time candidate kernels)
        self.V = torch.nn.Linear(n_in, c * n)
        self.conv = torch.nn.Conv1d(c, c, 3, padding=1, padding_mode="circular")  # weights only; see circular_conv
        self.readout = _make_readout(c * n, n_out, readout, mlp_hidden)
        with torch.no_grad():
            _init_v(self.V.weight, self.V.bias, init_v, c)
            if init_u == "shift":
                self.conv.weight.zero_()
                self.conv.weight[:, :, 2] = torch.eye(c)
            elif init_u == "dirac":
                torch.nn.init.dirac_(self.conv.weight)
            elif init_u == "uniform_sqrt_n":
                torch.nn.init.uniform_(self.conv.weight, -n ** -0.5, n ** -0.5)
            elif init_u == "normal":
                torch.nn.init.normal_(self.conv.weight, 0.0, V_NORMAL_STD)

    def forward(self, x: Tensor, return_states: bool = False, last: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """x (B, T, n_in) -> outputs (B, T, n_out) [, states (B, T, c*n) if ``return_states``]; h_0 = 0.
        ``last``: the last step's only, outputs (B, n_out) [, state (B, c*n)] (what a loss on the last step needs:
        the readout then runs once, not T times)."""
        states = wave_rnn_states(x, self.V.weight, self.V.bias, self.conv.weight, self.conv.bias, self.c, self.n,
                                 backend=self.recurrence_backend, last=last, fused_options=self.fused_options)
        out = self.readout(states)
        return (out, states) if return_states else out


class IRNN(torch.nn.Module):
    """ReLU RNN on ``torch.nn.RNN(n_in, n, nonlinearity="relu", batch_first=True)`` plus a readout.

    ``h_t = ReLU(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, h_0 = 0. Two biases, as ``nn.RNN`` has them:
    n_in*n + n^2 + 2n recurrent parameters (the paper's stated counts include neither: see :func:`parameter_count`).

    Inits of U = W_hh (the paper's Table 4 and its Appendix B ablation grid):

    - ``"identity"`` (the iRNN of Le et al. 2015, the paper's baseline): W_hh = I, b_hh = 0 (the recurrent
      layer's weight and bias, as the public code's ``Wy``; b_ih belongs to V, see ``init_v``).
    - ``"sigma"`` (Table 4 "+ Sigma-init", "U = Sigma"): W_hh = the shift matrix of the wRNN's shift init,
      ``W_hh[i, (i+1) mod n] = 1`` (new ``h[i]`` = old ``h[i+1]``, same direction as :class:`WaveRNN`),
      b_hh = 0. The paper only says "shift initialization"; the direction is chosen to match the wRNN.
    - ``"random"``: PyTorch's default ``nn.RNN`` init for everything, ``U(-1/sqrt(n), 1/sqrt(n))``
      (Table 5's "U", a plain ReLU RNN).

    ``init_v`` acts on V = (W_ih, b_ih), which the public code builds as ``nn.Linear(n_in, n)``:
    ``"normal"`` (the paper's iRNN grid; the code's copy and adding iRNN): W_ih ~ N(0, std 0.001), b_ih from
    ``nn.Linear``'s default ``U(-1/sqrt(n_in), 1/sqrt(n_in))``; ``"fan_in"`` (the code's sMNIST, psMNIST and
    nsCIFAR10 iRNN, which keep ``nn.Linear``'s default): W_ih and b_ih from ``U(-1/sqrt(n_in), 1/sqrt(n_in))``;
    ``"random"``: both at ``nn.RNN``'s default ``U(-1/sqrt(n), 1/sqrt(n))``; ``"sparse_identity"`` (Table 4
    "+ Sigma-init + V-init") is the wRNN's init with one channel: W_ih and b_ih zero, then unit 0 gets weight 1
    from every input feature.
    """

    def __init__(self, n_in: int, n: int, n_out: int, init: str = "identity", init_v: str = "random",
                 readout: str = "linear", mlp_hidden: int = 100):
        super().__init__()
        require_positive_int(n_in=n_in, n=n, n_out=n_out, mlp_hidden=mlp_hidden)
        _choice("init", init, IRNN_INITS)
        _choice("init_v", init_v, V_INITS)
        _choice("readout", readout, READOUTS)
        self.n_in, self.n, self.n_out = n_in, n, n_out
        self.rnn = torch.nn.RNN(n_in, n, nonlinearity="relu", batch_first=True)
        self.readout = _make_readout(n, n_out, readout, mlp_hidden)
        with torch.no_grad():
            if init != "random":
                eye = torch.eye(n)
                self.rnn.weight_hh_l0.copy_(eye if init == "identity" else eye.roll(1, dims=1))
                self.rnn.bias_hh_l0.zero_()
            _init_v(self.rnn.weight_ih_l0, self.rnn.bias_ih_l0, init_v, 1)
            if init_v == "normal":  # the code's b_ih is nn.Linear(n_in, n)'s bias, not nn.RNN's
                torch.nn.init.uniform_(self.rnn.bias_ih_l0, -n_in ** -0.5, n_in ** -0.5)

    def forward(self, x: Tensor, return_states: bool = False, last: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """x (B, T, n_in) -> outputs (B, T, n_out) [, states (B, T, n) if ``return_states``]; h_0 = 0.
        ``last``: the last step's only, outputs (B, n_out) [, state (B, n)]."""
        states, final = self.rnn(x)
        if last:
            states = final[0]
        out = self.readout(states)
        return (out, states) if return_states else out
