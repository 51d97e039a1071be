import numpy as np
import pytest

from wavelib.tasks.linear_hds import task_operator
from wavelib.theory.gradients import (
    decay_rate,
    input_sensitivity,
    random_tanh_rnn,
    spectral_radius,
    wave_tanh_rnn,
)
from wavelib.theory.lbc import angle_counts, exact_spectrum, unit_circle_eigs, wave_operator

SEQ_LENGTHS = (2, 8, 16, 24)


def test_random_rnn_init():
    w = random_tanh_rnn(64, 3, np.random.default_rng(0))
    assert w["W_hh"].shape == (64, 64) and w["W_uh"].shape == (64, 3) and w["W_r"].shape == (3, 64)
    for W in w.values():
        assert np.abs(W).max() < 1 / 8
        assert np.var(W) == pytest.approx(1 / (3 * 64), rel=0.15)


def test_wave_rnn_holds_phi():
    s, d, H = 8, 2, 20
    F = task_operator("diagonal_copy", s, d)
    w = wave_tanh_rnn(F, s, d, H, np.random.default_rng(1))
    np.testing.assert_allclose(w["W_r"] @ w["W_uh"], np.eye(d), atol=1e-12)
    exact = exact_spectrum(wave_operator(F, s, d))["nonzero"]
    numeric = unit_circle_eigs(w["W_hh"])
    assert angle_counts(numeric) == angle_counts(exact)
    with pytest.raises(ValueError, match="s\\*d"):
        wave_tanh_rnn(F, s, d, 15, np.random.default_rng(1))


def test_random_rnn_sensitivity_decays_like_its_spectral_radius():
    w = random_tanh_rnn(64, 2, np.random.default_rng(2))
    first = [input_sensitivity(w, s, 1.0, 64, np.random.default_rng(3))[0] for s in SEQ_LENGTHS]
    assert first[-1] < 1e-3 * first[0]  # orders of magnitude over 22 extra steps
    assert all(a > b for a, b in zip(first, first[1:]))
    mu = decay_rate(input_sensitivity(w, 24, 1.0, 64, np.random.default_rng(4)))
    rho = spectral_radius(w["W_hh"])
    assert mu < 1 and rho / 1.5 < mu < rho * 1.5


def test_random_rnn_obeys_eq13_bound():
    d = 2
    w = random_tanh_rnn(64, d, np.random.default_rng(5))
    norm = {k: np.linalg.norm(v, 2) for k, v in w.items()}
    for s in SEQ_LENGTHS:
        first = input_sensitivity(w, s, 1.0, 16, np.random.default_rng(6))[0]
        assert first <= np.sqrt(d) * norm["W_r"] * norm["W_hh"] ** s * norm["W_uh"]


def test_wave_rnn_sensitivity_does_not_decay():
    # Linearised, dy(s+1)/dx(1) = W_r D W_hh D ... D W_uh = prod(tanh') * I_d with ||W_hh|| = 1, so the
    # Frobenius norm is at most sqrt(d) and, for small inputs, stays close to it at every s.
    d = 2
    for s in SEQ_LENGTHS:
        w = wave_tanh_rnn(task_operator("repeat_copy", s, d), s, d, 64, np.random.default_rng(s))
        norms = input_sensitivity(w, s, 0.05, 64, np.random.default_rng(7))
        assert 0.9 * np.sqrt(d) < norms[0] <= np.sqrt(d) * (1 + 1e-12)
        if s > 1:
            assert norms[1:].max() < 0.01  # repeat copy's first output depends on x(1) only


def test_decay_rate_recovers_a_geometric_law():
    s = 10
    distance = s + 1 - np.arange(1, s + 1)
    assert decay_rate(3.0 * 0.7**distance) == pytest.approx(0.7, rel=1e-12)
    assert decay_rate(np.full(5, 2.0)) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError):
        decay_rate(np.array([1.0, 0.0]))


def test_spectral_radius():
    assert spectral_radius(np.array([[0.0, 2.0], [-2.0, 0.0]])) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        spectral_radius(np.ones((2, 3)))


def test_sensitivity_validation():
    w = random_tanh_rnn(8, 2, np.random.default_rng(0))
    with pytest.raises(ValueError):
        input_sensitivity(w, 0, 1.0, 4, np.random.default_rng(0))
    with pytest.raises(ValueError):
        input_sensitivity(w, 3, -1.0, 4, np.random.default_rng(0))
    with pytest.raises(ValueError):
        input_sensitivity({**w, "W_r": np.ones((3, 8))}, 3, 1.0, 4, np.random.default_rng(0))
