"""Fixed points and the linearisation of a tanh Elman RNN (ICML 2024 Appendix A.5, Eq. 39-42).

Weights are a dict of float64 arrays ``W_ih`` (H, d), ``W_hh`` (H, H), ``W_r`` (d, H) and optionally
``b`` (H,), for ``h(t) = tanh(W_hh h(t-1) + W_ih u(t) + b)``, ``y(t) = W_r h(t)``. With zero input a
fixed point ``h*`` solves ``tanh(W_hh h* + b) = h*``; it is found as in Sussillo & Barak (2013) by
minimising ``q(h) = 1/2 ||tanh(W_hh h + b) - h||^2`` from several starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


@dataclass(frozen=True)
class FixedPoint:
    """A local minimum of ``q``: the state ``h`` (H,), ``q(h)`` and the Jacobian (H, H) there."""

    h: np.ndarray
    q: float
    jacobian: np.ndarray


def unpack_weights(weights: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Checked float64 ``(W_ih (H, d), W_hh (H, H), W_r (d, H), b (H,) or None)`` from a weights dict."""
    missing = sorted({"W_ih", "W_hh", "W_r"} - set(weights))
    if missing:
        raise ValueError(f"weights lack {missing}; pass a dict with W_ih, W_hh, W_r and optionally b")
    W_ih, W_hh, W_r = (np.asarray(weights[k], dtype=float) for k in ("W_ih", "W_hh", "W_r"))
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh must be square (H, H), got {W_hh.shape}")
    H = W_hh.shape[0]
    if W_ih.ndim != 2 or W_ih.shape[0] != H:
        raise ValueError(f"W_ih must have shape (H, d) with H = {H}, got {W_ih.shape}")
    if W_r.ndim != 2 or W_r.shape[1] != H:
        raise ValueError(f"W_r must have shape (d, H) with H = {H}, got {W_r.shape}")
    b = weights.get("b")
    if b is not None:
        b = np.asarray(b, dtype=float)
        if b.shape != (H,):
            raise ValueError(f"b must have shape (H,) = ({H},), got {b.shape}")
    return W_ih, W_hh, W_r, b


def _bias(W_hh: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return np.zeros(W_hh.shape[0]) if b is None else b


def jacobian_at(weights: Mapping[str, np.ndarray], h_star: np.ndarray) -> np.ndarray:
    """``diag(1 - tanh^2(W_hh h* + b)) W_hh`` (H, H): the zero-input Jacobian at the state ``h_star`` (H,)."""
    _, W_hh, _, b = unpack_weights(weights)
    h_star = np.asarray(h_star, dtype=float)
    if h_star.shape != (W_hh.shape[0],):
        raise ValueError(f"h_star must have shape (H,) = ({W_hh.shape[0]},), got {h_star.shape}")
    return _tanh_jacobian(h_star, W_hh, _bias(W_hh, b))


def _tanh_jacobian(h: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (1.0 - np.tanh(W_hh @ h + b) ** 2)[:, None] * W_hh


def _residual(h: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.tanh(W_hh @ h + b) - h


def _residual_jacobian(h: np.ndarray, W_hh: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _tanh_jacobian(h, W_hh, b) - np.eye(h.size)


def find_fixed_points(
    weights: Mapping[str, np.ndarray],
    starts: np.ndarray | None = None,
    n_random: int = 8,
    seed: int = 0,
    dedup_tol: float = 1e-6,
) -> list[FixedPoint]:
    """Local minima of ``q`` from the origin, the rows of ``starts`` (K, H) (e.g. states of simulated
    trajectories) and ``n_random`` states uniform in [-1, 1]^H.

    ``q`` is half a sum of squares, so each start runs Levenberg-Marquardt (``least_squares``, MINPACK)
    on the residual ``tanh(W_hh h + b) - h`` with its analytic Jacobian: quadratic convergence to machine
    precision at a fixed point, and a local minimum of ``q`` (a slow point) otherwise. Minima closer
    than ``dedup_tol`` (max norm) are merged. Returned sorted by ``q``; entries with ``q`` well above 0
    are slow points, not fixed points.
    """
    _, W_hh, _, b = unpack_weights(weights)
    H = W_hh.shape[0]
    b = _bias(W_hh, b)
    if int(n_random) != n_random or n_random < 0:
        raise ValueError(f"n_random must be a non-negative integer, got {n_random}")
    if not dedup_tol > 0:
        raise ValueError(f"dedup_tol must be > 0, got {dedup_tol}")
    extra = np.zeros((0, H)) if starts is None else np.asarray(starts, dtype=float)
    if extra.ndim != 2 or extra.shape[1] != H:
        raise ValueError(f"starts must have shape (K, H) with H = {H}, got {extra.shape}")
    rng = np.random.default_rng(seed)
    inits = np.concatenate([np.zeros((1, H)), extra, rng.uniform(-1.0, 1.0, (int(n_random), H))])
    found: list[tuple[float, np.ndarray]] = []
    for h0 in inits:
        res = least_squares(_residual, h0, jac=_residual_jacobian, args=(W_hh, b), method="lm",
                            xtol=1e-15, ftol=1e-15, gtol=1e-15)
        found.append((float(res.cost), res.x))
    found.sort(key=lambda item: item[0])
    unique: list[tuple[float, np.ndarray]] = []
    for q, h in found:
        if all(np.max(np.abs(h - other)) >= dedup_tol for _, other in unique):
            unique.append((q, h))
    return [FixedPoint(h, q, _tanh_jacobian(h, W_hh, b)) for q, h in unique]


def linearisation(
    weights: Mapping[str, np.ndarray], tol: float = 1e-10, starts: np.ndarray | None = None
) -> np.ndarray:
    """The Jacobian (H, H) whose spectrum Table 1 compares with Phi.

    Without a bias (``b`` absent or all zero) the origin is a fixed point and this is ``W_hh`` itself;
    otherwise the Jacobian at the fixed point with the lowest ``q`` found by :func:`find_fixed_points`
    (extra ``starts`` (K, H) are passed on), which must reach ``q < tol``.
    """
    _, W_hh, _, b = unpack_weights(weights)
    if b is None or not np.any(b):
        return W_hh.copy()
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    best = find_fixed_points(weights, starts=starts)[0]
    if not best.q < tol:
        raise ValueError(f"no fixed point found (lowest q = {best.q:.3g} >= tol = {tol:g}); "
                         "pass more starts, e.g. states of a simulated trajectory")
    return best.jacobian
