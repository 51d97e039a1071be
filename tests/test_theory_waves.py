import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.special import comb

from wavelib.plotting.theory import explorer_figure, explorer_operator, pulse_figure, wave_vs_bump_figure
from wavelib.theory.lbc import match_eigenvalues
from wavelib.theory.velocity import wave_operator_at_velocity
from wavelib.theory.waves import (
    bump_states,
    centroid_velocity,
    decode_onsets,
    distinct_final_states,
    propagate,
    velocity_operator,
    wave_vs_bump,
)


def test_velocity_operator_form():
    A = velocity_operator(4, 0.25)
    expected = 0.75 * np.eye(4) + 0.25 * np.diag(np.ones(3), 1)
    np.testing.assert_array_equal(A, expected)
    np.testing.assert_array_equal(velocity_operator(3, 1.0), [[0, 1, 0], [0, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize("v", [0.0, -0.1, 1.5, 2.0])
def test_velocity_outside_range(v):
    with pytest.raises(ValueError, match="0 < v <= 1"):
        velocity_operator(5, v)


def test_unit_speed_pulse_moves_one_cell_and_leaves():
    K, T, t0 = 6, 12, 2
    drive = np.zeros(T)
    drive[t0] = 1.0
    states = propagate(velocity_operator(K, 1.0), drive)
    for t in range(t0, t0 + K):
        expected = np.zeros(K)
        expected[K - 1 - (t - t0)] = 1.0
        np.testing.assert_array_equal(states[t], expected)
    np.testing.assert_array_equal(states[t0 + K:], 0)  # open end: no reflection


@pytest.mark.parametrize("v", [1.0, 0.5, 0.25, 0.1])
def test_centroid_travels_at_v(v):
    drive = np.zeros(40)
    drive[3] = 1.0
    states = propagate(velocity_operator(64, v), drive)
    assert centroid_velocity(states) == pytest.approx(v, abs=1e-9)
    assert centroid_velocity(2.5 * states) == pytest.approx(v, abs=1e-9)  # whatever the pulse's amplitude


def test_centroid_velocity_needs_a_pulse_inside_for_two_steps():
    with pytest.raises(ValueError, match="no positive pulse"):
        centroid_velocity(np.zeros((5, 8)))
    drive = np.zeros(6)
    drive[0] = 1.0
    states = propagate(velocity_operator(2, 1.0), drive)  # inside for steps 0 and 1, then gone
    assert centroid_velocity(states) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="fewer than 2 steps"):
        centroid_velocity(propagate(velocity_operator(1, 1.0), drive))


def test_pulse_shape_is_binomial():
    v, K = 0.3, 20
    drive = np.zeros(10)
    drive[0] = 1.0
    states = propagate(velocity_operator(K, v), drive)
    t = 9
    j = np.arange(t + 1)
    np.testing.assert_allclose(states[t, K - 1 - j], comb(t, j) * v**j * (1 - v) ** (t - j), rtol=1e-12)


def test_channels_are_independent():
    rng = np.random.default_rng(0)
    drive = rng.standard_normal((15, 3))
    A = velocity_operator(7, 0.6)
    multi = propagate(A, drive)
    assert multi.shape == (15, 3, 7)
    for c in range(3):
        np.testing.assert_allclose(multi[:, c], propagate(A, drive[:, c]), rtol=0, atol=1e-14)


def test_bump_keeps_count_at_fixed_cell():
    drive = np.array([1.0, 0, 1, 1, 0])
    states = bump_states(drive, K=4)
    np.testing.assert_array_equal(states[:, 3], np.cumsum(drive))
    np.testing.assert_array_equal(states[:, :3], 0)
    leaky = bump_states(drive, K=4, decay=0.5)
    assert leaky[-1, 3] == pytest.approx(0.5**4 + 0.5**2 + 0.5)
    with pytest.raises(ValueError):
        bump_states(drive, K=4, decay=1.5)


def test_wave_vs_bump_layout():
    rng = np.random.default_rng(1)
    drive = (rng.random((10, 3)) < 0.3).astype(float)
    wave, bump = wave_vs_bump(drive, K=10)
    assert wave.shape == bump.shape == (10, 30)
    for c in range(3):
        np.testing.assert_array_equal(wave[:, c * 10:(c + 1) * 10], propagate(velocity_operator(10, 1.0), drive[:, c]))
    np.testing.assert_array_equal(bump.reshape(10, 3, 10)[-1, :, 9], drive.sum(axis=0))


def test_the_bump_panel_draws_each_channels_input_cell_at_full_width():
    drive = np.zeros((6, 3))
    drive[[1, 4], 0] = drive[2, 2] = 1
    wave, bump = wave_vs_bump(drive, K=5)
    fig = wave_vs_bump_figure(drive, wave, bump, K=5)
    shown = fig.axes[2].images[0].get_array()
    np.testing.assert_array_equal(shown, np.cumsum(drive, axis=0))  # one column per channel: the inputs summed
    np.testing.assert_array_equal(fig.axes[-1].get_yticks(), [0, 1, 2])  # whole counts on the colour bar
    plt.close(fig)
    with pytest.raises(ValueError, match="input cell"):
        wave_vs_bump_figure(drive, wave, wave, K=5)


def test_pulse_figure_draws_every_panel_on_one_scale_with_a_colour_bar():
    fig = pulse_figure((1.0, 0.25), K=10, T=12)
    norms = [ax.images[0].norm for ax in fig.axes[:2]]
    colour_bar = fig.axes[-1].get_ylabel()
    plt.close(fig)
    assert len(fig.axes) == 3 and "activity" in colour_bar
    assert all((norm.vmin, norm.vmax) == (0.0, 1.0) for norm in norms)


def test_decode_onsets_unit_speed():
    rng = np.random.default_rng(2)
    drive = (rng.random(12) < 0.5).astype(float)
    state = propagate(velocity_operator(12, 1.0), drive)[-1]
    assert decode_onsets(state) == list(np.flatnonzero(drive))
    short = propagate(velocity_operator(12, 1.0), drive[:7])[-1]
    assert decode_onsets(short, T=7) == list(np.flatnonzero(drive[:7]))


def test_decode_onsets_slow_wave():
    rng = np.random.default_rng(3)
    drive = (rng.random(10) < 0.5).astype(float)
    state = propagate(velocity_operator(12, 0.5), drive)[-1]
    assert decode_onsets(state, v=0.5, T=10) == list(np.flatnonzero(drive))


def test_decode_onsets_rejects_non_wave_state():
    state = np.zeros(8)
    state[0] = 1.0  # a pulse 8 steps old cannot be on the substrate after T = 4 steps
    with pytest.raises(ValueError):
        decode_onsets(state, T=4)
    with pytest.raises(ValueError):
        decode_onsets(np.zeros(4), T=5)


@pytest.mark.parametrize("T", [1, 4, 8])
def test_wave_keeps_every_sequence_bump_only_the_count(T):
    assert distinct_final_states(T, K=8, system="wave") == 2**T
    assert distinct_final_states(T, K=8, system="bump") == T + 1


def test_short_wave_substrate_forgets_the_oldest_inputs():
    assert distinct_final_states(8, K=5, system="wave") == 2**5
    with pytest.raises(ValueError):
        distinct_final_states(4, K=5, system="ring")


@pytest.mark.parametrize("task", ["repeat_copy", "diagonal_copy", "fibonacci"])
def test_velocity_maps_each_eigenvalue_towards_one(task):
    s, d = 6, 3
    F = explorer_operator(task, s, d)
    phi = np.linalg.eigvals(wave_operator_at_velocity(F, s, d, 1.0))
    for v in (0.5, 0.2):
        moved = np.linalg.eigvals(wave_operator_at_velocity(F, s, d, v))
        expected = (1 - v) + v * phi  # the eigenvalues of (1 - v) I + v Phi
        assert match_eigenvalues(moved, expected).max() < 1e-2  # loose: Φ's zero eigenvalues are defective
        on_circle = np.isclose(np.abs(moved), 1, atol=1e-6)
        assert np.allclose(moved[on_circle], 1, atol=1e-6)  # only eigenvalues at 1 stay on the unit circle
    if task == "fibonacci":
        # the dominant root of x^6 = x^5 + ... + 1, the growth rate of the order-6 Fibonacci recursion
        assert np.abs(phi).max() == pytest.approx(np.abs(np.roots([1] + [-1] * 6)).max(), abs=1e-9)
        assert 1 < np.abs(np.linalg.eigvals(wave_operator_at_velocity(F, s, d, 0.2))).max() < 1.2
    else:
        assert on_circle.sum() == d  # d eigenvalues at 1 (repeat and diagonal copy)


def test_explorer_spectrum_shows_every_eigenvalue():
    fig = explorer_figure(v=1.0, s=6, d=3, task="fibonacci")
    ax = fig.axes[2]
    assert ax.get_xlim()[1] > 1.98 and ax.get_ylim()[1] > 1.0 and ax.get_xlim()[0] < -1.0
    plt.close(fig)


def test_velocity_rollout_reads_the_newest_slot():
    """Reading slot 0 instead of the newest would make the v = 1 wave lag the HDS it is meant to reproduce exactly."""
    from wavelib.tasks.linear_hds import task_operator
    from wavelib.theory.velocity import velocity_rollout
    F = task_operator("diagonal_copy", 4, 3)
    u = np.random.default_rng(0).choice([-1.0, 1.0], (4, 3))
    y, substrates, target = velocity_rollout(F, u, 10, 1.0)
    np.testing.assert_allclose(y, target)
    np.testing.assert_allclose(y, substrates[4:, 9:])


def test_explorer_bit_accuracy_compares_signs():
    """At v < 1 the readout is not exactly ±1, so the explorer must score its signs (0.68 here), not exact equality."""
    from wavelib.theory.velocity import velocity_rollout
    u = np.random.default_rng(1).choice([-1.0, 1.0], size=(6, 3))
    outputs, _, target = velocity_rollout(explorer_operator("repeat_copy", 6, 3), u, 30, 0.5)
    expected = np.mean(np.sign(outputs) == np.sign(target))
    fig = explorer_figure(v=0.5, s=6, d=3, task="repeat_copy", steps=30, seed=1)
    title = fig.axes[1].get_title()
    plt.close(fig)
    assert expected > 0.5 and title == f"target | readout (bit accuracy {expected:.2f})"
