"""The gradient argument of Sec. 4.3 (Eq. 10-17): how strongly the first closed-loop output of a
tanh RNN depends on each input, for a random network, for one that holds a traveling wave, and for a
static "bump" control that keeps the sum of its inputs in place.

Weights are a dict with ``W_hh`` (H, H), ``W_uh`` (H, d), ``W_r`` (d, H); no biases, ``h(0) = 0``.
"""

from __future__ import annotations

import numpy as np
import torch

from wavelib.theory.lbc import embedded_wave, random_basis, wave_operator


def random_tanh_rnn(H: int, d: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch's default init for ``nn.RNN(d, H, bias=False)`` + ``nn.Linear(H, d, bias=False)``:
    every entry uniform in ``(-1/sqrt(H), 1/sqrt(H))``."""
    if int(H) != H or int(d) != d or H < 1 or d < 1:
        raise ValueError(f"H and d must be positive integers, got H={H}, d={d}")
    b = 1 / np.sqrt(H)
    return {
        "W_hh": rng.uniform(-b, b, (H, H)),
        "W_uh": rng.uniform(-b, b, (H, d)),
        "W_r": rng.uniform(-b, b, (d, H)),
    }


def wave_tanh_rnn(F: np.ndarray, s: int, d: int, H: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A tanh RNN holding the TWM of ``F`` (s*d, d) in a random orthogonal basis ``P`` (H, H), ``H >= s*d``
    (:func:`~wavelib.theory.lbc.embedded_wave` with ``P_inv = P.T``; its ``W_in`` is ``W_uh`` here)."""
    n = s * d
    if int(H) != H or H < n:
        raise ValueError(f"H must be an integer >= s*d = {n} to hold the wave, got {H}")
    P = random_basis(H, rng, kind="orthogonal")
    wave = embedded_wave(wave_operator(F, s, d), s, d, P, P.T)
    return {"W_hh": wave["W_hh"], "W_uh": wave["W_in"], "W_r": wave["W_r"]}


def bump_tanh_rnn(d: int, H: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A static "bump" tanh RNN: ``W_uh`` = the first ``d`` columns of a random orthogonal basis ``P`` (H, H),
    ``W_r = W_uh.T`` and ``W_hh = W_uh W_uh.T``, the projector onto the input subspace (eigenvalue 1 d times,
    0 otherwise). Every input is added in place to the same d directions: the sum survives, the order does not."""
    if int(H) != H or int(d) != d or d < 1 or H < d:
        raise ValueError(f"need integers 1 <= d <= H, got d={d}, H={H}")
    W_uh = random_basis(H, rng, kind="orthogonal")[:, :d].copy()
    return {"W_hh": W_uh @ W_uh.T, "W_uh": W_uh, "W_r": W_uh.T.copy()}


def rescale_writes(weights: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """The same network writing its inputs ``scale`` times larger and reading ``1/scale`` times larger:
    ``W_uh * scale``, ``W_r / scale``, ``W_hh`` unchanged. With inputs ``±a`` it has the same pre-activations, and
    the same :func:`input_sensitivity`, as the original with inputs ``±scale*a``: what tanh sees is the size of the
    stored values, not of the inputs."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return {"W_hh": weights["W_hh"], "W_uh": weights["W_uh"] * scale, "W_r": weights["W_r"] / scale}


def input_sensitivity(weights: dict[str, np.ndarray], s: int, amplitude: float, n_samples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Mean Frobenius norm of ``dy(s+1)/dx(i)`` (a d x d Jacobian) for ``i = 1..s``; returns (s,).

    Inputs ``x(1..s)`` have entries ``±amplitude``; ``h(t) = tanh(W_hh h(t-1) + W_uh x(t))``, then one
    closed-loop step ``h(s+1) = tanh(W_hh h(s))`` and ``y = W_r h(s+1)``. This is the factor ``dy/dx(i)``
    of ``dC/dx(i) = dC/dy . dy/dx(i)`` that Eq. 13-16 bound; ``dC/dy`` (the current error) is left out.
    """
    W_hh, W_uh, W_r = (torch.as_tensor(weights[k], dtype=torch.float64) for k in ("W_hh", "W_uh", "W_r"))
    H, d = W_uh.shape
    if W_hh.shape != (H, H) or W_r.shape != (d, H):
        raise ValueError(f"need W_hh (H, H), W_uh (H, d), W_r (d, H); got {tuple(W_hh.shape)}, "
                         f"{tuple(W_uh.shape)}, {tuple(W_r.shape)}")
    if int(s) != s or s < 1 or int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"s and n_samples must be positive integers, got s={s}, n_samples={n_samples}")
    if not amplitude > 0:
        raise ValueError(f"amplitude must be positive, got {amplitude}")
    signs = rng.choice((-1.0, 1.0), size=(n_samples, s, d))
    x = torch.tensor(amplitude * signs, dtype=torch.float64, requires_grad=True)
    h = torch.zeros(n_samples, H, dtype=torch.float64)
    for x_t in x.unbind(1):
        h = torch.tanh(h @ W_hh.T + x_t @ W_uh.T)
    y = torch.tanh(h @ W_hh.T) @ W_r.T
    rows = [torch.autograd.grad(y[:, k].sum(), x, retain_graph=True)[0] for k in range(d)]
    jac = torch.stack(rows, dim=1)  # (n_samples, d_out, s, d_in); samples are independent
    return jac.pow(2).sum(dim=(1, 3)).sqrt().mean(dim=0).numpy()


def sensitivity_bound(weights: dict[str, np.ndarray], s: np.ndarray) -> np.ndarray:
    """Eq. 13-14 with ``mu = ||W_hh||_2``: ``||W_r||_2 ||W_hh||_2^s ||W_uh||_2`` for each history length s (S,).

    Bounds ``||dy(s+1)/dx(1)||_2``, hence ``||dy(s+1)/dx(1)||_F / sqrt(d)``: x(1) reaches y(s+1) through
    ``W_uh``, s factors ``W_hh`` (h(1) -> h(s+1)), ``W_r`` and s+1 tanh Jacobians of norm <= 1."""
    s = np.asarray(s)
    if (s < 1).any():
        raise ValueError("history lengths s must be >= 1")
    norm = {k: spectral_norm(weights[k]) for k in ("W_hh", "W_uh", "W_r")}
    return norm["W_r"] * norm["W_uh"] * norm["W_hh"] ** s.astype(float)


def distance_slope(values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values[..., i-1]`` against the distance ``s+1-i`` of input ``i = 1..s``, per row:
    (..., s) -> (...). Of log norms it is the log of the per-step factor (:func:`decay_rate`)."""
    values = np.asarray(values, dtype=float)
    s = values.shape[-1]
    distance = s + 1 - np.arange(1, s + 1)
    centred = distance - distance.mean()
    return (values - values.mean(axis=-1, keepdims=True)) @ centred / (centred @ centred)


def decay_rate(norms: np.ndarray) -> float:
    """mu from ``log norms[i-1] ~ a + (s+1-i) log mu`` by least squares over ``i = 1..s``; norms (s,) > 0."""
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1 or norms.size < 2 or not (norms > 0).all():
        raise ValueError("norms must be a 1-D array of at least 2 positive values")
    return float(np.exp(distance_slope(np.log(norms))))


def spectral_norm(W: np.ndarray) -> float:
    """Largest singular value ``||W||_2`` of a matrix ``W``."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix, got shape {W.shape}")
    return float(np.linalg.norm(W, 2))


def spectral_radius(W: np.ndarray) -> float:
    """Largest ``|lambda|`` of a square matrix ``W``."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got {W.shape}")
    return float(np.abs(np.linalg.eigvals(W)).max())
