"""Space-time Fourier power: waves sit on the ridge of their speed, static bumps at zero temporal frequency."""

import numpy as np
import pytest

from wavelib.analysis.fourier import (active_rings, circular_shift_units, normalised_fourier_power, onset_order,
                                      ridge_chance_level, ridge_power_fraction, ring_fourier_power,
                                      ring_ridge_fractions, shift_null_ridge_fractions, wave_ridge)

T, N = 64, 32


def _peak(log_power, ft, fs):
    """(temporal, spatial) frequency of the largest log power off f_s = 0."""
    masked = np.where(fs[None, :] == 0, -np.inf, log_power)
    i, j = np.unravel_index(np.argmax(masked), masked.shape)
    return ft[i], fs[j]


@pytest.mark.parametrize("speed", [-1.0, 1.0, 0.5])
def test_a_traveling_wave_peaks_on_the_ridge_of_its_speed(speed):
    t, i = np.arange(T)[:, None], np.arange(N)[None, :]
    k = 4 / N  # cycles per unit; speed * k is on the temporal grid (multiples of 1/T)
    states = np.cos(2 * np.pi * k * (i - speed * t)) + 0.05 * np.random.default_rng(0).standard_normal((T, N))
    log_power, ft, fs = normalised_fourier_power(states, np.random.default_rng(1))
    f_t, f_s = _peak(log_power, ft, fs)
    assert abs(f_s) == pytest.approx(k)
    assert f_t == pytest.approx(wave_ridge(speed, f_s))
    assert ridge_power_fraction(log_power, ft, fs, speed) > ridge_power_fraction(log_power, ft, fs, -speed)


def test_a_static_bump_peaks_at_zero_temporal_frequency():
    bump = np.exp(-0.5 * ((np.arange(N) - N / 2) / 3.0) ** 2)
    log_power, ft, fs = normalised_fourier_power(np.tile(bump, (T, 1)), np.random.default_rng(1))
    assert _peak(log_power, ft, fs)[0] == 0.0
    assert log_power[ft != 0].max() == pytest.approx(0.0, abs=1e-6)  # nothing moves: no power off f_t = 0
    assert ridge_power_fraction(log_power, ft, fs, -1.0) < 0.1


def test_same_seed_same_power_and_both_shuffles_differ():
    states = np.random.default_rng(3).random((T, N))
    a = normalised_fourier_power(states, np.random.default_rng(7))[0]
    b = normalised_fourier_power(states, np.random.default_rng(7))[0]
    c = normalised_fourier_power(states, np.random.default_rng(7), shuffle="time")[0]
    np.testing.assert_array_equal(a, b)
    assert a.shape == (T, N) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="shuffle"):
        normalised_fourier_power(states, np.random.default_rng(7), shuffle="space")


def test_ridge_wraps_into_the_nyquist_band():
    fs = np.array([-0.25, 0.0, 0.25, 0.4])
    np.testing.assert_allclose(wave_ridge(-1.0, fs), fs)
    np.testing.assert_allclose(wave_ridge(2.0, fs), [0.5 - 1.0, 0.0, -0.5, 0.2])


def test_onset_order_recovers_a_wave_from_shuffled_neurons():
    """Neurons peaking one after another (a bump moving one unit per step toward lower indices), stored in a random
    order: sorting by onset of maximum activation, latest first, restores the wave and its ridge."""
    t, j = np.arange(T)[:, None], np.arange(N)[None, :]
    wave = np.exp(-0.5 * ((t - (N - 1 - j)) / 2.0) ** 2)  # neuron j peaks at step N - 1 - j
    shuffled = wave[:, np.random.default_rng(0).permutation(N)]
    np.testing.assert_array_equal(shuffled[:, onset_order(shuffled)], wave)
    fraction = [ridge_power_fraction(*normalised_fourier_power(h, np.random.default_rng(1)), -1.0)
                for h in (shuffled, shuffled[:, onset_order(shuffled)])]
    assert fraction[1] > 2 * fraction[0]


def test_onset_order_puts_silent_neurons_last_and_keeps_ties_in_order():
    h = np.zeros((5, 5))
    h[3, 1], h[1, 2], h[3, 4] = 1.0, 2.0, 0.5  # neuron 0 and 3 never active; 1 and 4 peak at step 3
    assert onset_order(h).tolist() == [1, 4, 2, 0, 3]
    with pytest.raises(ValueError, match="states must be"):
        onset_order(np.zeros(5))


def test_ridge_neighbourhood_wraps_across_the_nyquist_edge():
    """Without the wrap-around, power one bin from the ridge at f_t = -1/2 (but at the top of the axis) would not
    count."""
    ft = np.fft.fftshift(np.fft.fftfreq(16))
    fs = np.fft.fftshift(np.fft.fftfreq(8))
    log_power = np.zeros((16, 8))
    log_power[-1, list(fs).index(0.25)] = 1.0   # speed 2 puts the ridge at f_t = -0.5; this is f_t = 0.5 - 1/16
    assert ridge_power_fraction(log_power, ft, fs, 2.0) == 1.0


def test_ridge_fraction_leaves_out_the_spatially_uniform_column():
    """Counting f_s = 0 would let a spatially uniform oscillation (no wave at all) dilute the ridge fraction."""
    ft = np.fft.fftshift(np.fft.fftfreq(16))
    fs = np.fft.fftshift(np.fft.fftfreq(8))
    log_power = np.zeros((16, 8))
    log_power[list(ft).index(0.125), list(fs).index(-0.125)] = 1.0    # on the ridge of speed 1
    log_power[list(ft).index(0.25), list(fs).index(0.0)] = 1.0        # uniform in space, oscillating in time
    assert ridge_power_fraction(log_power, ft, fs, 1.0) == 1.0


def test_the_ratio_is_of_fourier_magnitudes_as_the_paper_computes_it():
    """App. B: ``torch.fft.fft2(seq).abs()`` normalised by the shuffled sequence's: magnitudes, not squared."""
    states = np.random.default_rng(3).random((T, N))
    rng = np.random.default_rng(7)
    shuffled = states[rng.permutation(T)][:, rng.permutation(N)]
    expected = np.fft.fftshift(np.log(np.abs(np.fft.fft2(states)) / np.abs(np.fft.fft2(shuffled))))
    np.testing.assert_allclose(normalised_fourier_power(states, np.random.default_rng(7))[0], expected, atol=1e-9)


def test_chance_level_is_the_share_of_an_even_spectrum():
    """The ridge covers 3 of the T temporal bins in every column off f_s = 0 (T = N: the ridge lands on bins)."""
    ft, fs = np.fft.fftshift(np.fft.fftfreq(T)), np.fft.fftshift(np.fft.fftfreq(T))
    even = np.ones((T, T))
    even[:, fs == 0] = 5.0  # the f_s = 0 column counts neither in the share nor in its chance level
    assert ridge_chance_level(ft, fs, -1.0) == pytest.approx(3 / T)
    assert ridge_power_fraction(even, ft, fs, -1.0) == pytest.approx(ridge_chance_level(ft, fs, -1.0))


def _isolated_bumps(steps, units, seed):
    """Each unit fires one 8-step bump at its own random time: nothing travels between units."""
    g = np.random.default_rng(seed)
    h = np.zeros((steps, units))
    for j, start in enumerate(g.integers(0, steps - 8, units)):
        h[start:start + 8, j] = np.hanning(10)[1:9]
    return h


def test_onset_sorting_makes_a_ridge_of_isolated_bumps_and_the_null_control_shows_it():
    """Sorting units by onset turns bumps that never spread into a staircase: the ridge share grows well above the
    raw order's and the chance level. The null control (each unit's time course rolled by its own offset, then
    sorted and measured the same way) reaches the same share; a real wave stays far above its null."""
    steps = units = 196
    h = _isolated_bumps(steps, units, 0)
    share = {name: ridge_power_fraction(*normalised_fourier_power(x, np.random.default_rng(1)), -1.0)
             for name, x in (("raw", h), ("sorted", h[:, onset_order(h)]))}
    ft, fs = np.fft.fftshift(np.fft.fftfreq(steps)), np.fft.fftshift(np.fft.fftfreq(units))
    assert share["sorted"] > 3 * max(share["raw"], ridge_chance_level(ft, fs, -1.0))
    null = shift_null_ridge_fractions(h, 1, np.random.default_rng(2), -1.0, "onset", draws=5)
    assert null.shape == (5,) and abs(null.mean() - share["sorted"]) < 3 * null.std(ddof=1) + 0.01
    t, j = np.arange(steps)[:, None], np.arange(units)[None, :]
    wave = np.exp(-0.5 * (((units - 1 - j - t) % units) / 2.0) ** 2)  # one unit per step toward lower indices
    wave_share = ridge_power_fraction(*normalised_fourier_power(wave, np.random.default_rng(1)), -1.0)
    assert wave_share > 5 * shift_null_ridge_fractions(wave, 1, np.random.default_rng(2), -1.0, "raw", 5).max()
    with pytest.raises(ValueError, match="rings = 1"):
        shift_null_ridge_fractions(np.zeros((8, 8)), 2, np.random.default_rng(0), -1.0, "onset")


def test_circular_shift_keeps_each_units_time_course():
    h = np.random.default_rng(0).random((T, N))
    shifted = circular_shift_units(h, np.random.default_rng(1))
    offsets = [next(k for k in range(T) if np.array_equal(np.roll(h[:, j], k), shifted[:, j])) for j in range(N)]
    assert len(set(offsets)) > N // 2  # independent offsets, not one common roll


def test_silent_rings_are_left_out_of_the_mean_spectrum():
    """A ring of zeros (log ratio 0 everywhere) or of activity under 1 % of the largest ring's would dilute the
    wave's ridge if averaged in."""
    t, i = np.arange(T)[:, None], np.arange(N)[None, :]
    wave = 1.0 + np.cos(2 * np.pi * 4 / N * (i + t))
    states = np.concatenate([wave, np.zeros((T, N)), 1e-4 * np.random.default_rng(0).random((T, N))], axis=1)
    assert active_rings(states, 3).tolist() == [True, False, False]
    alone = normalised_fourier_power(wave, np.random.default_rng(5))[0]
    np.testing.assert_allclose(ring_fourier_power(states, 3, np.random.default_rng(5))[0], alone)
    assert active_rings(np.zeros((T, 2 * N)), 2).tolist() == [False, False]
    shares = ring_ridge_fractions(states, 3, np.random.default_rng(5), -1.0)  # cos(i + t): toward lower indices
    assert shares.shape == (3,) and shares[0] > 0.5 and shares[1] == 0.0
