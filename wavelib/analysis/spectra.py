"""The Table 1 metric (ICML 2024 §4): learned vs theoretical spectrum, compared by complex argument.

Eigenvalues with ``|lambda| > threshold`` are kept from the learned Jacobian ``W`` and from the wave
operator ``Phi``; when the counts agree, each learned eigenvalue is matched to a theoretical one and
the mean absolute difference of their arguments (radians, wrapped to ``[0, pi]``) is the error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from wavelib.theory.lbc import unit_circle_eigs

MATCHINGS = ("optimal", "greedy")


@dataclass(frozen=True)
class SpectralComparison:
    """One Table 1 cell: eigenvalue counts above the threshold and the mean angle error (radians).

    ``error`` is None when the counts differ or are zero (indeterminate, shown as "—").
    """

    n_learned: int
    n_theory: int
    error: float | None
    matching: str

    def __str__(self) -> str:
        return "—" if self.error is None else f"{self.error:.2e}"


def significant_eigs(M: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Eigenvalues (complex, in ``np.linalg.eigvals`` order) of the square ``M`` with ``|lambda| > threshold``."""
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be a square matrix, got shape {M.shape}")
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    return unit_circle_eigs(M, tol=threshold).astype(complex)


def angle_errors(learned: np.ndarray, theory: np.ndarray, matching: str = "optimal") -> np.ndarray:
    """|arg(l) - arg(t)| wrapped to [0, pi] for each learned eigenvalue and its matched theoretical one.

    ``learned`` and ``theory`` are complex (n,), in the same count. ``"optimal"`` minimises the total
    (Hungarian algorithm); ``"greedy"`` walks ``learned`` in order, each taking the nearest (by angle)
    theoretical eigenvalue not yet taken: the public code's greedy rule (its ``spectral_comparison`` walks the
    eigenvalues of its first operator, which its docstring names Φ; the call is not in its published notebook, so
    which side it walks is not certain). Returns (n,), in ``learned``'s order.
    """
    if matching not in MATCHINGS:
        raise ValueError(f"matching must be one of {MATCHINGS}, got {matching!r}")
    learned = np.asarray(learned, dtype=complex)
    theory = np.asarray(theory, dtype=complex)
    if learned.ndim != 1 or learned.shape != theory.shape:
        raise ValueError(f"learned and theory must be 1-D of the same size, got {learned.shape} and {theory.shape}")
    # angle(l * conj(t)) is the argument difference already wrapped to (-pi, pi].
    cost = np.abs(np.angle(learned[:, None] * np.conj(theory[None, :])))
    if matching == "optimal":
        rows, cols = linear_sum_assignment(cost)
        return cost[rows, cols]
    free = np.ones(theory.size, dtype=bool)
    out = np.empty(learned.size)
    for i in range(learned.size):
        j = np.flatnonzero(free)[np.argmin(cost[i, free])]
        free[j] = False
        out[i] = cost[i, j]
    return out


def compare_spectra(
    W: np.ndarray, Phi: np.ndarray, threshold: float = 0.9, matching: str = "optimal"
) -> SpectralComparison:
    """Compare the learned Jacobian ``W`` (H, H) with the wave operator ``Phi`` (n, n) by eigenvalue argument.

    Indeterminate (``error=None``) when the numbers of eigenvalues with ``|lambda| > threshold`` differ
    or are both zero; else the mean of :func:`angle_errors` (radians).
    """
    if matching not in MATCHINGS:
        raise ValueError(f"matching must be one of {MATCHINGS}, got {matching!r}")
    learned = significant_eigs(W, threshold)
    theory = significant_eigs(Phi, threshold)
    error = None
    if learned.size == theory.size and learned.size > 0:
        error = float(angle_errors(learned, theory, matching).mean())
    return SpectralComparison(learned.size, theory.size, error, matching)
