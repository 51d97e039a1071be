"""Space-time Fourier analysis of a hidden state (Keller et al., ICLR 2024, Fig. 2; after Davis et al. 2021).

The hidden state ``h`` of one sequence is a (time × neuron) array. Its 2D Fourier magnitude, divided by that of a
shuffled copy (which keeps the distribution of values but destroys the space-time order, removing the large
autocorrelation that would otherwise dominate), is shown as a log power. A wave of constant speed ``v`` (units per
step), ``h[t, i] = g(i - v t)``, puts all its power on the line ``f_t = -v f_s`` (temporal frequency in cycles per
step, spatial in cycles per unit): a ridge of slope ``-v``. The wRNN's shift init moves waves to LOWER indices
(``v = -1``), i.e. the diagonal ``f_t = f_s``; a static bump has its power at ``f_t = 0``.
"""

from __future__ import annotations

import numpy as np

SHUFFLES = ("both", "time")
"""``both``: independent random permutations of the time steps and of the neurons (the paper's text: "spatially and
temporally shuffled"); ``time``: the time steps only (what the public code does)."""
NEURON_ORDERS = ("onset", "raw")
"""How a network without a ring order (the iRNN) lays out its neurons for Fig. 2: ``onset`` (:func:`onset_order`,
what the paper does for the iRNN) or ``raw`` (its own unit order)."""


def normalised_fourier_power(states: np.ndarray, rng: np.random.Generator, shuffle: str = "both",
                             eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log of ``|fft2(h)|^2 / |fft2(shuffled h)|^2`` for states ``h`` (T, N), fftshifted.

    Returns ``(log_power (T, N), temporal_freqs (T,) in cycles/step, spatial_freqs (N,) in cycles/unit)``, both
    frequency axes ascending (``np.fft.fftshift`` order). ``rng`` draws the shuffle, so equal seeds give equal
    results; ``eps`` keeps empty frequencies finite (they get log power 0).
    """
    h = np.asarray(states, dtype=np.float64)
    if h.ndim != 2 or min(h.shape) < 2:
        raise ValueError(f"states must be (T, N) with T, N >= 2, got shape {h.shape}")
    if shuffle not in SHUFFLES:
        raise ValueError(f"unknown shuffle {shuffle!r}; valid values: {', '.join(SHUFFLES)}")
    shuffled = h[rng.permutation(h.shape[0])]
    if shuffle == "both":
        shuffled = shuffled[:, rng.permutation(h.shape[1])]
    power = np.abs(np.fft.fft2(h)) ** 2
    reference = np.abs(np.fft.fft2(shuffled)) ** 2
    log_power = np.fft.fftshift(np.log((power + eps) / (reference + eps)))
    freqs_t = np.fft.fftshift(np.fft.fftfreq(h.shape[0]))
    freqs_s = np.fft.fftshift(np.fft.fftfreq(h.shape[1]))
    return log_power, freqs_t, freqs_s


def wave_ridge(speed: float, spatial_freqs: np.ndarray) -> np.ndarray:
    """Temporal frequencies (cycles/step) of the ridge of a wave ``g(i - speed t)`` at ``spatial_freqs``
    (cycles/unit): ``-speed * f_s``, wrapped into [-1/2, 1/2) (aliasing)."""
    return (-speed * np.asarray(spatial_freqs, dtype=np.float64) + 0.5) % 1.0 - 0.5


def ridge_power_fraction(log_power: np.ndarray, temporal_freqs: np.ndarray, spatial_freqs: np.ndarray,
                         speed: float) -> float:
    """Share of the positive log power (excluding ``f_s = 0``) that lies within one frequency bin of the ridge
    of ``speed``: a one-number summary of how wave-like a state is (0..1)."""
    df = temporal_freqs[1] - temporal_freqs[0]
    ridge = wave_ridge(speed, spatial_freqs)
    gap = np.abs(temporal_freqs[:, None] - ridge[None, :])
    near = np.minimum(gap, 1.0 - gap) <= df * 1.01
    positive = np.clip(log_power, 0.0, None) * (spatial_freqs[None, :] != 0)
    total = positive.sum()
    return float(positive[near].sum() / total) if total > 0 else 0.0


def onset_order(states: np.ndarray) -> np.ndarray:
    """Neurons of states (T, N) sorted by "onset time" of maximum activation (the paper's Fig. 2 for the iRNN):
    the (first) time step of each neuron's maximum, LATEST first, so that activity sweeping through the neurons
    reads as a wave toward lower indices, the direction of the wRNN's shift init, whose ridge the chapter measures.
    Neurons never active (maximum <= 0) come last; ties keep the neurons' own order. Returns indices (N,):
    ``states[:, onset_order(states)]`` is the sorted state."""
    h = np.asarray(states)
    if h.ndim != 2:
        raise ValueError(f"states must be (T, N), got shape {h.shape}")
    silent = h.max(axis=0) <= 0
    return np.lexsort((-h.argmax(axis=0), silent))
