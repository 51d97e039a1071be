from collections import Counter

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from wavelib.tasks.linear_hds import PUBLIC_CODE_CYCLES, TABLE1_RULES, rollout, task_operator
from wavelib.theory.hds import fibonacci_direct
from wavelib.theory.lbc import (
    angle_counts,
    embedded_wave,
    exact_spectrum,
    in_basis,
    lbc_rollout,
    polluted_rollout,
    random_basis,
    shift_part,
    unit_circle_eigs,
    wave_operator,
)

TASKS = sorted(TABLE1_RULES)

EXPECTED_CYCLES = PUBLIC_CODE_CYCLES  # (L, p) per task, as recorded from the public code


def max_matched_distance(a, b):
    """Largest |a_i - b_j| under the optimal one-to-one matching (respects multiplicities)."""
    assert a.size == b.size
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].max()


def test_wave_operator_structure():
    s, d = 3, 2
    F = task_operator("repeat_copy", s, d)
    Phi = wave_operator(F, s, d)
    assert Phi.shape == (6, 6)
    np.testing.assert_array_equal(Phi[:4], np.eye(6, k=2)[:4])
    np.testing.assert_array_equal(Phi[4:], F.T)
    np.testing.assert_array_equal(shift_part(s, d)[4:], 0)
    np.testing.assert_array_equal(shift_part(s, d)[:4], Phi[:4])


def test_wave_operator_validation():
    with pytest.raises(ValueError, match="shape"):
        wave_operator(np.zeros((6, 3)), 3, 2)
    with pytest.raises(ValueError):
        shift_part(0, 2)


def test_random_basis_kinds():
    rng = np.random.default_rng(0)
    G = random_basis(300, rng)
    assert np.mean(G**2) * 300 == pytest.approx(1.0, rel=0.02)
    Q = random_basis(50, np.random.default_rng(1), kind="orthogonal")
    np.testing.assert_allclose(Q.T @ Q, np.eye(50), atol=1e-12)
    np.testing.assert_array_equal(Q, random_basis(50, np.random.default_rng(1), kind="orthogonal"))
    with pytest.raises(ValueError):
        random_basis(4, rng, kind="hadamard")
    with pytest.raises(ValueError):
        random_basis(0, rng)


def test_in_basis_is_a_similarity():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((10, 10))
    Psi = random_basis(10, rng)
    np.testing.assert_allclose(in_basis(M, Psi), Psi @ M @ np.linalg.inv(Psi), atol=1e-10)
    np.testing.assert_allclose(in_basis(M @ M, Psi), in_basis(M, Psi) @ in_basis(M, Psi), atol=1e-9)


@pytest.mark.parametrize("name", TASKS)
def test_lbc_reproduces_the_hds_in_a_random_basis(name):
    rng = np.random.default_rng(3)
    F = task_operator(name)
    u = rng.choice([-1.0, 1.0], size=(16, 8, 8))
    want = rollout(F, u, 100)
    np.testing.assert_array_equal(lbc_rollout(F, u, 100), want)  # standard basis: exact
    got = lbc_rollout(F, u, 100, random_basis(64, rng))
    assert np.abs(got - want).max() < 1e-8
    np.testing.assert_array_equal(np.sign(got), want)
    np.testing.assert_allclose(lbc_rollout(F, u[0], 100), want[0])


def test_lbc_generalized_fibonacci():
    s, d = 3, 2
    F = np.vstack([np.eye(d)] * s)  # Eq. 5: the boundary sums every slot
    init = [[1, -2], [0, 3], [2, 1]]
    want = np.array(fibonacci_direct(init, 20)[s:], dtype=float)
    got = lbc_rollout(F, np.array(init, dtype=float), 20, random_basis(s * d, np.random.default_rng(4)))
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_single_recurrent_matrix_pollutes_all_but_repeat_copy():
    rng = np.random.default_rng(5)
    u = rng.choice([-1.0, 1.0], size=(32, 8, 8))
    Psi = random_basis(64, rng)
    for name in TASKS:
        F = task_operator(name)
        err = np.abs(polluted_rollout(F, u, 50, Psi) - rollout(F, u, 50)).max()
        if name == "repeat_copy":
            assert err < 1e-8  # the boundary reads only slot 0, which is empty until the input ends
        else:
            assert err > 0.5  # the boundary writes f of a half-filled substrate during the input


@pytest.mark.parametrize("name", TASKS)
def test_exact_spectrum_matches_notes(name):
    Phi = wave_operator(task_operator(name), 8, 8)
    ex = exact_spectrum(Phi)
    assert Counter(ex["cycles"]) == Counter(EXPECTED_CYCLES[name])
    n_nonzero = sum(L for L, _ in EXPECTED_CYCLES[name])
    assert ex["nonzero"].size == n_nonzero and ex["n_zero"] == 64 - n_nonzero
    expected = np.concatenate([np.roots([1] + [0] * (L - 1) + [-p]) for L, p in EXPECTED_CYCLES[name]])
    assert max_matched_distance(ex["nonzero"], expected) < 1e-9
    # the other eigenvalues are exactly 0: Phi^64 (integer arithmetic) has rank n_nonzero
    assert np.linalg.matrix_rank(np.linalg.matrix_power(Phi.astype(int), 64)) == n_nonzero


def test_repeat_copy_angles_are_eighth_roots_eight_times():
    counts = angle_counts(exact_spectrum(wave_operator(task_operator("repeat_copy"), 8, 8))["nonzero"])
    assert counts == {round(k * np.pi / 4, 6): 8 for k in range(-3, 5)}


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("basis", ["standard", "gaussian"])
def test_numeric_eigvals_agree_with_exact_spectrum(name, basis):
    Phi = wave_operator(task_operator(name), 8, 8)
    exact = exact_spectrum(Phi)["nonzero"]
    M = Phi if basis == "standard" else in_basis(Phi, random_basis(64, np.random.default_rng(6)))
    numeric = unit_circle_eigs(M)
    assert numeric.size == exact.size
    assert max_matched_distance(numeric, exact) < 1e-6
    assert angle_counts(numeric) == angle_counts(exact)
    rest = np.linalg.eigvals(M)
    assert np.sort(np.abs(rest))[: 64 - exact.size].max(initial=0.0) < 0.1  # perturbed zeros stay far below tol


def test_exact_spectrum_of_random_signed_graph():
    rng = np.random.default_rng(7)
    n = 40
    Phi = np.zeros((n, n))
    Phi[np.arange(n), rng.integers(0, n, n)] = rng.choice([-1.0, 1.0], n)
    ex = exact_spectrum(Phi)
    numeric = unit_circle_eigs(Phi)
    assert ex["nonzero"].size + ex["n_zero"] == n
    assert max_matched_distance(numeric, ex["nonzero"]) < 1e-6


def test_exact_spectrum_rejects_other_matrices():
    s, d = 3, 2
    fib = wave_operator(np.vstack([np.eye(d)] * s), s, d)
    with pytest.raises(ValueError, match="one entry"):
        exact_spectrum(fib)
    with pytest.raises(ValueError):
        exact_spectrum(2 * np.eye(3))
    with pytest.raises(ValueError):
        exact_spectrum(np.ones((2, 3)))


def test_angle_counts_merges_minus_pi():
    assert angle_counts(np.array([-1 + 1e-17j, -1 - 1e-17j, 1j])) == {round(np.pi / 2, 6): 1, round(np.pi, 6): 2}


def test_spectra_figure_titles_give_distinct_points_and_the_largest_multiplicity():
    """T2's cycles λ^m = 1, m = 1..8, put λ = 1 eight times on the circle; the title must not call every point
    1-fold."""
    import matplotlib.pyplot as plt

    from wavelib.plotting.theory import spectra_figure

    Phi = wave_operator(task_operator("diagonal_copy", 8, 8), 8, 8)
    exact = exact_spectrum(Phi)["nonzero"]
    fig = spectra_figure({"diagonal_copy": (exact, exact)})
    title = fig.axes[0].get_title()
    plt.close(fig)
    assert "36 on |λ| = 1" in title and "22 distinct, up to 8-fold" in title


def test_spectra_figure_titles_say_when_no_eigenvalue_repeats():
    import matplotlib.pyplot as plt

    from wavelib.plotting.theory import spectra_figure

    exact = np.exp(2j * np.pi * np.arange(5) / 5)
    fig = spectra_figure({"compose_copy_a": (exact, exact)})
    title = fig.axes[0].get_title()
    plt.close(fig)
    assert "5 distinct, none repeated" in title


def test_orthogonal_basis_fixes_the_qr_signs():
    """Without the sign fix Q is not Haar distributed: diag(R) = diag(Q.T G) must come out positive for the same
    draw."""
    n = 8
    G = np.random.default_rng(3).standard_normal((n, n)) / np.sqrt(n)
    Q = random_basis(n, np.random.default_rng(3), kind="orthogonal")
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-12)
    assert (np.diag(Q.T @ G) > 0).all()


def test_embedded_wave_holds_phi_in_its_basis_and_reads_what_it_writes():
    """In the basis P the recurrence is blockdiag(Φ, 0); the readout reads back what the input wrote (W_r W_in = I),
    in a non-orthogonal basis too; a basis too small for the wave is refused."""
    s, d, H = 4, 3, 15
    Phi = wave_operator(task_operator("repeat_copy", s, d), s, d)
    P = random_basis(H, np.random.default_rng(2), kind="gaussian")
    w = embedded_wave(Phi, s, d, P, np.linalg.inv(P))
    block = np.zeros((H, H))
    block[:s * d, :s * d] = Phi
    np.testing.assert_allclose(np.linalg.solve(P, w["W_hh"] @ P), block, atol=1e-10)
    np.testing.assert_allclose(w["W_r"] @ w["W_in"], np.eye(d), atol=1e-12)
    np.testing.assert_allclose(w["W_in"], P[:, (s - 1) * d:s * d])
    with pytest.raises(ValueError, match="H >= 12"):
        embedded_wave(Phi, s, d, P[:10, :10], np.linalg.inv(P[:10, :10]))
