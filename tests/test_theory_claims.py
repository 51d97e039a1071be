"""Chapter 1's closing claims table (wavelib.plotting.theory.claim_rows) on hand-made measurements: the rows say
what was measured, and every verdict flips when a measurement is wrong."""

import numpy as np

from wavelib.plotting import theory as figs

WAVES = "With waves the sensitivity to an old input does not decay"


def _gradients(wave_small: float = 0.99, wave_large: float = 0.14) -> dict[float, dict[str, float]]:
    """The sweep's metrics at inputs ±0.05 and ±1, with the wave's smallest sensitivity at each."""
    return {0.05: {"random_decay_rate_mean": 0.597, "wave_x1_min": wave_small, "wave_x1_max": 1.0,
                   "wave_decay_rate_mean": 1.0, "bump_x1_min": 0.98, "bump_x1_max": 1.0},
            1.0: {"random_decay_rate_mean": 0.563, "wave_x1_min": wave_large, "wave_x1_max": 0.71,
                  "wave_decay_rate_mean": 0.79, "bump_x1_min": 0.13, "bump_x1_max": 0.77}}


def _measured(**changes) -> dict:
    """Measurements as the notebook passes them, all claims holding except Eq. 15–16 at inputs ±1."""
    measured = dict(
        fibonacci=[(2, 2, True, 26), (3, 2, True, 33)], fibonacci_steps=120, velocities={1.0: 1.0, 0.5: 0.5004},
        decoded=[[2, 9], [5]], onsets=[[2, 9], [5]], distinct={2: (4, 3), 10: (1024, 11)},
        lbc_errors={"repeat_copy": 2e-11, "diagonal_copy": 3.4e-12}, lbc_steps=40, variables_placed=True,
        placement_steps=24, spectra={"repeat_copy": (np.ones(64), np.ones(64)),
                                     "compose_t4": (np.ones(36), np.ones(36))},
        spectrum_match={"repeat_copy": True, "compose_t4": True}, sbc_diffs={(4, 3): 1e-16, (8, 8): 2.2e-16},
        gradients=_gradients(), spectral_radius=0.655, norm=1.089, s_max=8)
    return {**measured, **changes}


def _rows(**changes) -> dict[str, str]:
    """claim (up to its first colon) -> measured, after checking every row is (claim, paper, measured) text."""
    rows = figs.claim_rows(**_measured(**changes))
    assert all(len(row) == 3 and all(isinstance(c, str) for c in row) for row in rows)
    named = {claim.split(":")[0]: measured for claim, _, measured in rows}
    assert len(named) == len(rows) == 9
    return named


def test_rows_state_the_measurements():
    rows = _rows()
    assert rows["Theorem 3.1"] == ("integer-exact for 120 steps, (s, d) ∈ [(2, 2), (3, 2)], three implementations of "
                                   "the recursion compared (a check of the code: the theorem holds by construction): "
                                   "True")
    assert rows["Discretised wave equation"] == ("centroid speed, v→measured: 1→1.000, 0.5→0.500 (the centroid of "
                                                 "Binomial(t, v) moves vt: a check of the code)")
    assert rows["Waves keep onset time, bumps do not"] == \
        "onsets decoded exactly: True; distinct states at T = 10: wave 1024, bump 11"
    assert rows["LBC"] == "max error over 2 tasks, random basis, 40 steps: 2.0e-11"
    assert rows["Repeat copy"] == "exact for every μ and t = 0..23: True"
    assert rows["Spectra of Φ for the Table 1 tasks"] == "T1 64 (as the public code); T4 36 (as the public code)"
    assert rows["SBC"].startswith("max difference to scaled_dot_product_attention: 2.2e-16 (an identity for a head "
                                  "that attends to a window of exactly s tokens")
    assert rows["Without waves ‖∂C/∂x(1)‖ ≤ ‖∂C/∂h(s+1)‖ ‖W_xh‖ μ^s, with μ ≥ ‖J(σ) W_hh‖"] == (
        "‖∂y/∂x(1)‖_F/√d of a random tanh RNN: fitted per-step decay 0.597 (inputs ±0.05), 0.563 (inputs ±1); "
        "spectral radius 0.655; ‖W_hh‖₂ = 1.089, so the bound grows with s")
    assert rows[WAVES] == (
        "stored ±0.05 (inputs ±0.05 written at unit norm): holds (smallest 0.99; criterion ≥ 0.9); stored ±1 "
        "(inputs ±1 written at unit norm): does not hold (smallest 0.14; criterion ≥ 0.9). ‖∂y/∂x(1)‖_F/√d for s ≤ 8, "
        "wave: 0.99 – 1.00 (±0.05; rate 1.00 per step); 0.14 – 0.71 (±1; rate 0.79 per step); bump control: "
        "0.98 – 1.00 (±0.05); 0.13 – 0.77 (±1). The rates are fitted across s, where the distance and how full the "
        "network's units are grow together")


def test_one_unequal_fibonacci_case_makes_theorem_3_1_not_exact():
    assert _rows(fibonacci=[(2, 2, True, 26), (3, 2, False, 33)])["Theorem 3.1"].endswith(": False")


def test_onsets_decoded_wrongly_are_not_exact():
    assert _rows(decoded=[[2, 9], [6]])["Waves keep onset time, bumps do not"].startswith(
        "onsets decoded exactly: False;")


def test_a_misplaced_variable_shows():
    assert _rows(variables_placed=False)["Repeat copy"].endswith(": False")


def test_a_spectrum_that_does_not_match_says_so_for_its_task_only():
    spectra = _rows(spectrum_match={"repeat_copy": True, "compose_t4": False})["Spectra of Φ for the Table 1 tasks"]
    assert spectra == "T1 64 (as the public code); T4 36 (MISMATCH)"


def test_eq_14_bound_decays_where_the_norm_is_at_most_one():
    bound = _rows(norm=0.95)["Without waves ‖∂C/∂x(1)‖ ≤ ‖∂C/∂h(s+1)‖ ‖W_xh‖ μ^s, with μ ≥ ‖J(σ) W_hh‖"]
    assert bound.endswith("‖W_hh‖₂ = 0.950, so the bound decays with s")


def test_eq_15_16_verdict_follows_the_smallest_wave_sensitivity():
    flipped = _rows(gradients=_gradients(wave_small=0.5, wave_large=figs.WAVE_KEEPS))[WAVES]
    assert flipped.startswith("stored ±0.05 (inputs ±0.05 written at unit norm): does not hold (smallest 0.50; "
                              "criterion ≥ 0.9); stored ±1 (inputs ±1 written at unit norm): holds (smallest 0.90; "
                              "criterion ≥ 0.9).")
