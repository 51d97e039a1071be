"""The one-way wave equation on a discrete substrate (Eq. 2 -> Eq. 21), and the static "bump"
system of the Wave-RNN paper (ICLR 2024, Fig. 1).

A substrate has ``K`` cells. Cell ``K-1`` is the input cell (the newest); content moves from cell
``i+1`` to cell ``i`` at ``v`` cells per step and whatever leaves cell 0 is lost (open end).
Time is in steps, position in cells.
"""

from __future__ import annotations

import itertools

import numpy as np


def _check_K(K: int) -> None:
    if int(K) != K or K < 1:
        raise ValueError(f"K (number of cells) must be a positive integer, got {K}")


def velocity_operator(K: int, v: float) -> np.ndarray:
    """Euler step of Eq. 21, ``A = (1 - v) I + v S`` with ``S[i, i+1] = 1``; shape ``(K, K)``.

    Valid for ``0 < v <= 1``, where the step is stable and monotone (no oscillation).
    """
    _check_K(K)
    if not 0 < v <= 1:
        raise ValueError(f"velocity v must satisfy 0 < v <= 1 (stable and monotone only there), got {v}")
    return (1 - v) * np.eye(K) + v * np.eye(K, k=1)


def _linear_states(A: np.ndarray, drive: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=float)
    drive = np.asarray(drive, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square (K, K) matrix, got {A.shape}")
    if drive.ndim not in (1, 2):
        raise ValueError(f"drive must have shape (T,) or (T, c), got {drive.shape}")
    K = A.shape[0]
    d2 = drive.reshape(drive.shape[0], -1)
    h = np.zeros((d2.shape[1], K))
    out = np.empty((d2.shape[0], d2.shape[1], K))
    for t in range(d2.shape[0]):
        h = h @ A.T
        h[:, K - 1] += d2[t]
        out[t] = h
    return out if drive.ndim == 2 else out[:, 0]


def propagate(A: np.ndarray, drive: np.ndarray) -> np.ndarray:
    """``h(t) = A h(t-1) + e_{K-1} drive(t)`` from ``h(0) = 0``, one substrate per channel.

    drive (T,) or (T, c) -> states (T, K) or (T, c, K); ``states[t]`` is the state after input ``t``.
    """
    return _linear_states(A, drive)


def bump_states(drive: np.ndarray, K: int, decay: float = 1.0) -> np.ndarray:
    """Static bump system: input is added to the fixed cell ``K-1``, nothing moves, and the state is
    multiplied by ``decay`` (0 < decay <= 1) each step. Shapes as in :func:`propagate`."""
    _check_K(K)
    if not 0 < decay <= 1:
        raise ValueError(f"decay must satisfy 0 < decay <= 1, got {decay}")
    return _linear_states(decay * np.eye(K), drive)


def wave_vs_bump(drive: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Space-time pictures of ICLR Fig. 1: drive (T, c) -> (wave, bump), each (T, c*K),
    column ``channel * K + cell``; the wave moves at ``v = 1``, the bump stays (decay 1)."""
    drive = np.asarray(drive, dtype=float)
    if drive.ndim != 2:
        raise ValueError(f"drive must have shape (T, c), got {drive.shape}")
    T = drive.shape[0]
    wave = propagate(velocity_operator(K, 1.0), drive).reshape(T, -1)
    bump = bump_states(drive, K).reshape(T, -1)
    return wave, bump


def centroid_velocity(states: np.ndarray) -> float:
    """Speed (cells per step, towards cell 0) of the activity centroid of one pulse; states (T, K).

    The centroid is fitted by least squares over the steps where the pulse's whole mass is inside
    the substrate (mass within 1e-9 of its maximum), so nothing has left through the open end yet.
    """
    states = np.asarray(states, dtype=float)
    if states.ndim != 2:
        raise ValueError(f"states must have shape (T, K), got {states.shape}")
    mass = states.sum(axis=1)
    if mass.max() <= 0:
        raise ValueError("states hold no positive pulse; drive one pulse of positive amplitude")
    inside = np.flatnonzero(mass >= (1 - 1e-9) * mass.max())
    if inside.size < 2:
        raise ValueError("the pulse is inside the substrate for fewer than 2 steps; use more cells")
    centroid = states[inside] @ np.arange(states.shape[1]) / mass[inside]
    slope = np.polyfit(inside.astype(float), centroid, 1)[0]
    return float(-slope)


def decode_onsets(state: np.ndarray, v: float = 1.0, T: int | None = None) -> list[int]:
    """Onset times of the unit pulses that produced a wave snapshot ``state`` (K,) after ``T`` steps.

    Onsets index the drive (0..T-1); ``T`` defaults to ``K``, where at ``v = 1`` the onset of a pulse
    equals its cell. For ``v < 1`` the snapshot is a sum of spread pulses, and the drive is recovered by
    solving the (triangular, invertible) linear map from drive to snapshot; needs ``T <= K``.
    """
    state = np.asarray(state, dtype=float)
    if state.ndim != 1:
        raise ValueError(f"state must have shape (K,), got {state.shape}")
    K = state.shape[0]
    T = K if T is None else T
    if int(T) != T or not 1 <= T <= K:
        raise ValueError(f"T must be an integer in 1..K={K}: a longer input cannot be decoded from K cells")
    A = velocity_operator(K, v)
    basis = np.empty((K, T))
    col = np.zeros(K)
    col[K - 1] = 1.0
    for age in range(T):
        basis[:, T - 1 - age] = col
        col = A @ col
    drive, *_ = np.linalg.lstsq(basis, state, rcond=None)
    if not np.allclose(basis @ drive, state, atol=1e-6):
        raise ValueError(f"state is not a wave snapshot after T={T} steps at v={v}")
    return [int(t) for t in np.flatnonzero(np.abs(drive) > 0.5)]


def distinct_final_states(T: int, K: int, system: str) -> int:
    """Number of distinct final states over all ``2**T`` binary inputs of length ``T`` on one channel.

    ``system`` is ``"wave"`` (v = 1: ``2**min(T, K)``, every sequence kept while it fits) or ``"bump"``
    (decay 1: ``T + 1``, only the count of pulses survives). States are compared rounded to 9 decimals.
    """
    _check_K(K)
    if int(T) != T or not 1 <= T <= 16:
        raise ValueError(f"T must be an integer in 1..16 (2**T sequences are enumerated), got {T}")
    if system == "wave":
        A = velocity_operator(K, 1.0)
    elif system == "bump":
        A = np.eye(K)
    else:
        raise ValueError(f"system must be 'wave' or 'bump', got {system!r}")
    drive = np.array(list(itertools.product((0.0, 1.0), repeat=T))).T
    final = propagate(A, drive)[-1]
    return int(np.unique(np.round(final, 9), axis=0).shape[0])
