"""Space-time Fourier analysis of a hidden state (Keller et al., ICLR 2024, Fig. 2; after Davis et al. 2021).

The hidden state ``h`` of one sequence is a (time × neuron) array. Its 2D Fourier magnitude ``|fft2(h)|`` (the
paper's Appendix B: ``torch.fft.fft2(seq).abs()``), divided by that of a shuffled copy (which keeps the distribution
of values but destroys the space-time order, removing the large autocorrelation that would otherwise dominate), is
shown as a log. A wave of constant speed ``v`` (units per step), ``h[t, i] = g(i - v t)``, puts all its power on the
line ``f_t = -v f_s`` (temporal frequency in cycles per step, spatial in cycles per unit): a ridge of slope ``-v``.
The wRNN's shift init moves waves to LOWER indices (``v = -1``), i.e. the diagonal ``f_t = f_s``; a static bump has
its power at ``f_t = 0``.

The share of the positive log magnitude that lies on a ridge (:func:`ridge_power_fraction`) needs two references:
its chance level (:func:`ridge_chance_level`, the share of the frequency bins the ridge covers, 2/T to 3/T) and
a null control (:func:`shift_null_ridge_fractions`): every neuron's time course rolled by its own random offset,
which keeps each neuron's profile but breaks any coordination between neurons, then laid out and measured the same
way. The null matters where neurons are sorted by onset (:func:`onset_order`): sorting by the time of their maximum
turns any set of neurons into a staircase, which puts power near a ridge even when nothing spreads between them.
"""

from __future__ import annotations

import numpy as np

SHUFFLES = ("both", "time")
"""``both``: independent random permutations of the time steps and of the neurons (the paper's text: "spatially and
temporally shuffled"); ``time``: the time steps only (what the public code does)."""
NEURON_ORDERS = ("onset", "raw")
"""How a network without a ring order (the iRNN) lays out its neurons for Fig. 2: ``onset`` (:func:`onset_order`,
what the paper does for the iRNN) or ``raw`` (its own unit order)."""
ACTIVE_RING_FRACTION = 0.01
"""A ring counts as active when its largest activation is at least this fraction of the largest of any ring."""


def normalised_fourier_power(states: np.ndarray, rng: np.random.Generator, shuffle: str = "both",
                             eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log of ``|fft2(h)| / |fft2(shuffled h)|`` (Fourier magnitudes, as the paper) for states ``h`` (T, N),
    fftshifted.

    Returns ``(log_ratio (T, N), temporal_freqs (T,) in cycles/step, spatial_freqs (N,) in cycles/unit)``, both
    frequency axes ascending (``np.fft.fftshift`` order). ``rng`` draws the shuffle, so equal seeds give equal
    results; ``eps`` keeps empty frequencies finite (they get log 0).
    """
    h = np.asarray(states, dtype=np.float64)
    if h.ndim != 2 or min(h.shape) < 2:
        raise ValueError(f"states must be (T, N) with T, N >= 2, got shape {h.shape}")
    if shuffle not in SHUFFLES:
        raise ValueError(f"unknown shuffle {shuffle!r}; valid values: {', '.join(SHUFFLES)}")
    shuffled = h[rng.permutation(h.shape[0])]
    if shuffle == "both":
        shuffled = shuffled[:, rng.permutation(h.shape[1])]
    magnitude = np.abs(np.fft.fft2(h))
    reference = np.abs(np.fft.fft2(shuffled))
    log_ratio = np.fft.fftshift(np.log((magnitude + eps) / (reference + eps)))
    freqs_t = np.fft.fftshift(np.fft.fftfreq(h.shape[0]))
    freqs_s = np.fft.fftshift(np.fft.fftfreq(h.shape[1]))
    return log_ratio, freqs_t, freqs_s


def wave_ridge(speed: float, spatial_freqs: np.ndarray) -> np.ndarray:
    """Temporal frequencies (cycles/step) of the ridge of a wave ``g(i - speed t)`` at ``spatial_freqs``
    (cycles/unit): ``-speed * f_s``, wrapped into [-1/2, 1/2) (aliasing)."""
    return (-speed * np.asarray(spatial_freqs, dtype=np.float64) + 0.5) % 1.0 - 0.5


def _ridge_bins(temporal_freqs: np.ndarray, spatial_freqs: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray]:
    """(near (T, N): bins within one temporal bin of the ridge, wrapping at ±1/2; counted (1, N): f_s != 0)."""
    df = temporal_freqs[1] - temporal_freqs[0]
    gap = np.abs(temporal_freqs[:, None] - wave_ridge(speed, spatial_freqs)[None, :])
    return np.minimum(gap, 1.0 - gap) <= df * 1.01, spatial_freqs[None, :] != 0


def ridge_power_fraction(log_power: np.ndarray, temporal_freqs: np.ndarray, spatial_freqs: np.ndarray,
                         speed: float) -> float:
    """Share of the positive log magnitude ratio (excluding ``f_s = 0``) that lies within one frequency bin of the
    ridge of ``speed``: a one-number summary of how wave-like a state is (0..1)."""
    near, counted = _ridge_bins(temporal_freqs, spatial_freqs, speed)
    positive = np.clip(log_power, 0.0, None) * counted
    total = positive.sum()
    return float(positive[near].sum() / total) if total > 0 else 0.0


def ridge_chance_level(temporal_freqs: np.ndarray, spatial_freqs: np.ndarray, speed: float) -> float:
    """The ridge share of a spectrum whose positive log magnitude is spread evenly: the fraction of the bins
    off ``f_s = 0`` that :func:`ridge_power_fraction` counts as on the ridge (``3 / T`` where the ridge falls on the
    temporal bins, ``2 / T`` between them)."""
    near, counted = _ridge_bins(temporal_freqs, spatial_freqs, speed)
    return float((near & counted).sum() / (counted.sum() * len(temporal_freqs)))


def onset_order(states: np.ndarray) -> np.ndarray:
    """Neurons of states (T, N) sorted by "onset time" of maximum activation (the paper's Fig. 2 for the iRNN):
    the (first) time step of each neuron's maximum, LATEST first, so that activity sweeping through the neurons
    reads as a wave toward lower indices, the direction of the wRNN's shift init, whose ridge the chapter measures.
    Neurons never active (maximum <= 0) come last; ties keep the neurons' own order. Returns indices (N,):
    ``states[:, onset_order(states)]`` is the sorted state. Any neurons sort into a staircase, whether or not
    activity travels between them: compare what the sorted state shows with :func:`shift_null_ridge_fractions`."""
    h = np.asarray(states)
    if h.ndim != 2:
        raise ValueError(f"states must be (T, N), got shape {h.shape}")
    silent = h.max(axis=0) <= 0
    return np.lexsort((-h.argmax(axis=0), silent))


def neuron_order(states: np.ndarray, order: str) -> np.ndarray:
    """Indices (N,) laying out the neurons of states (T, N): :func:`onset_order` for ``"onset"``, their own order
    for ``"raw"``."""
    if order not in NEURON_ORDERS:
        raise ValueError(f"unknown neuron order {order!r}; valid values: {', '.join(NEURON_ORDERS)}")
    return onset_order(states) if order == "onset" else np.arange(np.shape(states)[1])


def active_rings(states: np.ndarray, rings: int, fraction: float = ACTIVE_RING_FRACTION) -> np.ndarray:
    """Which of the ``rings`` equal blocks of neurons of states (T, rings * n) (ring-major) are active (rings,):
    their largest activation is at least ``fraction`` of the largest of all (none where nothing is positive)."""
    h = np.asarray(states, dtype=np.float64)
    if h.ndim != 2 or rings < 1 or h.shape[1] % rings:
        raise ValueError(f"states must be (T, rings * n) with {rings} rings, got shape {h.shape}")
    peaks = h.reshape(len(h), rings, -1).max(axis=(0, 2))
    top = peaks.max()
    return peaks >= fraction * top if top > 0 else np.zeros(rings, dtype=bool)


def ring_fourier_power(states: np.ndarray, rings: int, rng: np.random.Generator,
                       active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`normalised_fourier_power` of each active ring of states (T, rings * n) (ring-major), averaged:
    ``(log_ratio (T, n), temporal_freqs (T,), spatial_freqs (n,))``. ``active`` (rings,) bool: the rings to average
    (None: :func:`active_rings`; all of them where none is active, whose log ratio is then 0)."""
    h = np.asarray(states, dtype=np.float64)
    if active is None:
        active = active_rings(h, rings)
    use = np.flatnonzero(active) if np.any(active) else np.arange(rings)
    blocks = h.reshape(len(h), rings, -1)
    spectra = [normalised_fourier_power(blocks[:, r], rng) for r in use]
    return np.mean([s[0] for s in spectra], axis=0), spectra[0][1], spectra[0][2]


def ring_ridge_fractions(states: np.ndarray, rings: int, rng: np.random.Generator, speed: float) -> np.ndarray:
    """:func:`ridge_power_fraction` at ``speed`` of each ring of states (T, rings * n) (ring-major) on its own
    (rings,)."""
    blocks = np.asarray(states, dtype=np.float64).reshape(len(states), rings, -1)
    return np.array([ridge_power_fraction(*normalised_fourier_power(blocks[:, r], rng), speed) for r in range(rings)])


def circular_shift_units(states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """States (T, N) with each neuron's time course rolled (circularly, along time) by its own random offset in
    ``0 .. T-1``: every neuron keeps its own profile, any timing between neurons is gone."""
    h = np.asarray(states)
    offsets = rng.integers(0, h.shape[0], h.shape[1])
    return np.take_along_axis(h, (np.arange(h.shape[0])[:, None] - offsets[None, :]) % h.shape[0], axis=0)


def shift_null_ridge_fractions(states: np.ndarray, rings: int, rng: np.random.Generator, speed: float,
                               order: str = "raw", draws: int = 20) -> np.ndarray:
    """Ridge shares (draws,) of the null control of states (T, rings * n): per draw :func:`circular_shift_units`,
    then the neurons laid out by ``order`` (``"onset"`` re-sorts the shifted state, one ring only), then
    :func:`ring_fourier_power` over the rings active in ``states`` and :func:`ridge_power_fraction` at ``speed``:
    the shares that each neuron's own time course gives without any coordination between neurons."""
    if order == "onset" and rings != 1:
        raise ValueError("onset order sorts all neurons together: it needs rings = 1")
    active = active_rings(states, rings)
    fractions = []
    for _ in range(draws):
        shifted = circular_shift_units(states, rng)
        shifted = shifted[:, neuron_order(shifted, order)]
        fractions.append(ridge_power_fraction(*ring_fourier_power(shifted, rings, rng, active), speed))
    return np.asarray(fractions)
