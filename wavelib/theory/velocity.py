"""The TWM with a wave velocity v: the Euler step of Eq. 21 with the linear boundary condition.

At v = 1 this is Φ of Eq. 6 (exact transport); for 0 < v < 1 each step moves only a fraction v of the
content one slot on, so stored inputs spread out and the boundary reads a blend of them. The paper treats
only v = 1 (Eq. 22-23); Φ_v is this book's extension, and it blends the boundary slot too (its rows are
(1 - v) of the old content plus v F^T). Each eigenvalue λ of Φ becomes (1 - v) + v λ.
"""

from __future__ import annotations

import numpy as np

from ..tasks.linear_hds import rollout
from .lbc import shift_part, wave_operator


def wave_operator_at_velocity(F: np.ndarray, s: int, d: int, v: float) -> np.ndarray:
    """Φ_v = (1 - v) I + v Φ, shape (s*d, s*d); valid for 0 < v <= 1."""
    if not 0 < v <= 1:
        raise ValueError(f"velocity v must satisfy 0 < v <= 1, got {v}")
    return (1 - v) * np.eye(s * d) + v * wave_operator(F, s, d)


def velocity_rollout(F: np.ndarray, u: np.ndarray, steps: int, v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the inputs u (s, d) by exact shifts, then run ``steps`` closed-loop steps of Φ_v.

    Returns (readout (steps, d) of the newest slot, substrates (s + steps, s*d) over the whole run,
    target (steps, d) of the true HDS).
    """
    u = np.asarray(u, dtype=float)
    if u.ndim != 2:
        raise ValueError(f"u must have shape (s, d), got {u.shape}")
    s, d = u.shape
    S, Phi_v = shift_part(s, d), wave_operator_at_velocity(F, s, d, v)
    h = np.zeros(s * d)
    substrates = []
    for t in range(s):
        h = S @ h
        h[(s - 1) * d:] = u[t]
        substrates.append(h)
    for _ in range(steps):
        h = Phi_v @ h
        substrates.append(h)
    substrates = np.array(substrates)
    return substrates[s:, (s - 1) * d:], substrates, rollout(F, u, steps)
