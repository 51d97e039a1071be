import numpy as np
import pytest

from wavelib.tasks.linear_hds import task_operator
from wavelib.theory.gradients import (
    bump_tanh_rnn,
    decay_rate,
    distance_slope,
    input_sensitivity,
    random_tanh_rnn,
    rescale_writes,
    sensitivity_bound,
    spectral_norm,
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


def test_random_rnn_obeys_eq14_bound():
    d = 2
    w = random_tanh_rnn(64, d, np.random.default_rng(5))
    bound = sensitivity_bound(w, np.array(SEQ_LENGTHS))
    norm = {k: np.linalg.norm(v, 2) for k, v in w.items()}
    np.testing.assert_allclose(bound, [norm["W_r"] * norm["W_hh"] ** s * norm["W_uh"] for s in SEQ_LENGTHS])
    for s, b in zip(SEQ_LENGTHS, bound):
        for amplitude in (0.05, 1.0):
            first = input_sensitivity(w, s, amplitude, 16, np.random.default_rng(6))[0]
            assert first / np.sqrt(d) <= b
    with pytest.raises(ValueError):
        sensitivity_bound(w, np.array([0, 1]))


def test_bound_is_tight_for_a_linear_map():
    # W_hh = c I on a 1-D input with tiny inputs: dy(s+1)/dx(1) ~ c^s, so the exponent is s, not s - 1 or s + 1
    c, s = 0.9, 5
    w = {"W_hh": c * np.eye(3), "W_uh": np.eye(3)[:, :1], "W_r": np.eye(3)[:1]}
    first = input_sensitivity(w, s, 1e-6, 2, np.random.default_rng(0))[0]
    assert first == pytest.approx(sensitivity_bound(w, np.array([s]))[0], rel=1e-9)


def test_bump_rnn_is_a_projector_on_the_inputs():
    d, H = 3, 16
    w = bump_tanh_rnn(d, H, np.random.default_rng(8))
    assert w["W_hh"].shape == (H, H) and w["W_uh"].shape == (H, d) and w["W_r"].shape == (d, H)
    np.testing.assert_allclose(w["W_r"] @ w["W_uh"], np.eye(d), atol=1e-12)
    np.testing.assert_allclose(w["W_hh"] @ w["W_hh"], w["W_hh"], atol=1e-12)
    eigs = np.sort(np.linalg.eigvalsh(w["W_hh"]))
    np.testing.assert_allclose(eigs, [0.0] * (H - d) + [1.0] * d, atol=1e-12)
    with pytest.raises(ValueError):
        bump_tanh_rnn(5, 4, np.random.default_rng(0))


def test_bump_rnn_keeps_every_input_for_small_amplitudes():
    # y(s+1) ~ W_r W_hh (sum of W_uh x(t)) = sum of x(t): every input passes at full strength, order is lost
    d = 2
    w = bump_tanh_rnn(d, 32, np.random.default_rng(9))
    for s in SEQ_LENGTHS:
        norms = input_sensitivity(w, s, 0.01, 16, np.random.default_rng(10)) / np.sqrt(d)
        assert 0.97 < norms.min() <= norms.max() <= 1 + 1e-12


def test_wave_rnn_sensitivity_decays_for_unit_inputs():
    # with ±1 inputs the tanh Jacobians along the substrate (left out of Eq. 15) shrink the signal
    d, s = 2, 24
    w = wave_tanh_rnn(task_operator("repeat_copy", s, d), s, d, 64, np.random.default_rng(s))
    first = input_sensitivity(w, s, 1.0, 32, np.random.default_rng(11))[0] / np.sqrt(d)
    assert first < 0.5


def test_writing_small_keeps_unit_inputs_in_tanhs_linear_range():
    # the size of the stored values decides, not that of the inputs: ±1 written at norm 0.05 (read at 1/0.05)
    # is ±0.05 written at norm 1, to rounding, and keeps the gradient
    d, s = 2, 24
    w = wave_tanh_rnn(task_operator("repeat_copy", s, d), s, d, 64, np.random.default_rng(s))
    small = input_sensitivity(w, s, 0.05, 32, np.random.default_rng(11))
    rescaled = input_sensitivity(rescale_writes(w, 0.05), s, 1.0, 32, np.random.default_rng(11))
    np.testing.assert_allclose(rescaled, small, rtol=1e-10, atol=1e-15)
    assert rescaled[0] / np.sqrt(d) > 0.9
    np.testing.assert_array_equal(rescale_writes(w, 1.0)["W_uh"], w["W_uh"])
    with pytest.raises(ValueError, match="positive"):
        rescale_writes(w, 0.0)


def test_spectral_norm():
    assert spectral_norm(np.array([[0.0, 2.0], [-3.0, 0.0]])) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        spectral_norm(np.ones(3))


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


def test_distance_slope_is_batched_and_behind_the_figure_rates():
    """One fit for Fig. 5's decades per step (log10) and the gradient sweep's mu (ln), row by row."""
    from wavelib.plotting.spectrum import gradient_decay_rates

    s = 6
    distance = s + 1 - np.arange(1, s + 1)
    mu = np.array([0.5, 0.9, 1.2])
    norms = 2.0 * mu[:, None] ** distance  # (3, s)
    np.testing.assert_allclose(distance_slope(np.log(norms)), np.log(mu), rtol=1e-12)
    assert [decay_rate(row) for row in norms] == pytest.approx(mu, rel=1e-12)
    np.testing.assert_allclose(gradient_decay_rates(norms[None]), -np.log10(mu)[None], rtol=1e-12)


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


def test_input_sensitivity_is_the_mean_of_per_sample_frobenius_norms():
    """An RMS over samples instead of the documented mean of norms would inflate the plotted sensitivities."""
    import torch
    weights = random_tanh_rnn(6, 2, np.random.default_rng(0))
    s, amplitude = 3, 2.0
    got = input_sensitivity(weights, s, amplitude, 2, np.random.default_rng(7))
    signs = np.random.default_rng(7).choice((-1.0, 1.0), size=(2, s, 2))
    W_hh, W_uh, W_r = (torch.as_tensor(weights[k]) for k in ("W_hh", "W_uh", "W_r"))

    def output(x):  # x (s, d) -> y (d,)
        h = torch.zeros(6, dtype=torch.float64)
        for x_t in x:
            h = torch.tanh(W_hh @ h + W_uh @ x_t)
        return W_r @ torch.tanh(W_hh @ h)

    norms = []
    for sample in signs:
        jac = torch.autograd.functional.jacobian(output, torch.tensor(amplitude * sample))  # (d, s, d)
        norms.append(jac.pow(2).sum(dim=(0, 2)).sqrt().numpy())
    assert not np.allclose(norms[0], norms[1])  # else mean and RMS would agree
    np.testing.assert_allclose(got, np.mean(norms, axis=0), rtol=1e-12)
