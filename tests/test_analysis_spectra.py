import numpy as np
import pytest

from wavelib.analysis.spectra import SpectralComparison, angle_errors, compare_spectra, significant_eigs
from wavelib.tasks.linear_hds import TABLE1_RULES, task_operator
from wavelib.theory.lbc import exact_spectrum, wave_operator

TASKS = sorted(TABLE1_RULES)


def table1_phi(task: str) -> np.ndarray:
    return wave_operator(task_operator(task), 8, 8)


def rotation_blocks(angles) -> np.ndarray:
    """Block-diagonal real matrix with eigenvalues exp(+-i*angle) for each angle."""
    M = np.zeros((2 * len(angles), 2 * len(angles)))
    for k, a in enumerate(angles):
        M[2 * k:2 * k + 2, 2 * k:2 * k + 2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    return M


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("matching", ["optimal", "greedy"])
def test_similar_matrix_has_zero_error(task, matching):
    Phi = table1_phi(task)
    P = np.random.default_rng(0).standard_normal(Phi.shape)
    W = P @ Phi @ np.linalg.inv(P)
    result = compare_spectra(W, Phi, matching=matching)
    n = exact_spectrum(Phi)["nonzero"].size
    assert (result.n_learned, result.n_theory, result.matching) == (n, n, matching)
    assert result.error is not None and result.error < 1e-9


def test_significant_eigs_threshold():
    M = np.diag([2.0, 0.95, 0.9, 0.5, -1.0])
    np.testing.assert_array_equal(np.sort(significant_eigs(M).real), [-1.0, 0.95, 2.0])
    assert significant_eigs(M, threshold=3.0).size == 0
    assert significant_eigs(M).dtype == complex


def test_dropped_cycle_is_indeterminate():
    Phi = table1_phi("repeat_copy")
    W = Phi.copy()
    W[5] = 0.0  # breaks one 8-cycle into a nilpotent chain
    result = compare_spectra(W, Phi)
    assert (result.n_learned, result.n_theory, result.error) == (56, 64, None)
    assert str(result) == "—"


def test_shrunk_spectrum_is_indeterminate():
    Phi = table1_phi("compose_t4")
    result = compare_spectra(0.85 * Phi, Phi, matching="greedy")
    assert (result.n_learned, result.n_theory, result.error) == (0, 36, None)


def test_rotation_gives_its_angle():
    angles = np.array([0.3, 0.9, 1.7, 2.5])
    delta = 0.01
    P = np.random.default_rng(1).standard_normal((8, 8))
    W = P @ rotation_blocks(angles + delta) @ np.linalg.inv(P)
    for matching in ("optimal", "greedy"):
        result = compare_spectra(W, rotation_blocks(angles), matching=matching)
        assert result.n_learned == result.n_theory == 8
        assert result.error == pytest.approx(delta, abs=1e-12)
        assert str(result) == "1.00e-02"


def test_angles_wrap_across_pi():
    errors = angle_errors(np.exp(1j * np.array([3.1])), np.exp(1j * np.array([-3.1])))
    np.testing.assert_allclose(errors, [2 * np.pi - 6.2])


def test_greedy_is_suboptimal_in_order():
    # The first learned eigenvalue (angle 0.8) grabs 1.0 (distance 0.2); 1.3 is left with 0.5 (0.8).
    # The optimal matching pairs 0.8-0.5 and 1.3-1.0 (0.3 each).
    learned = np.exp(1j * np.array([0.8, 1.3]))
    theory = np.exp(1j * np.array([0.5, 1.0]))
    np.testing.assert_allclose(angle_errors(learned, theory, "greedy"), [0.2, 0.8])
    np.testing.assert_allclose(angle_errors(learned, theory, "optimal"), [0.3, 0.3])
    # Reversed order: greedy happens to be optimal.
    np.testing.assert_allclose(angle_errors(learned[::-1], theory, "greedy"), [0.3, 0.3])


def test_greedy_is_suboptimal_on_matrices():
    W, Phi = rotation_blocks([0.8, 1.3]), rotation_blocks([0.5, 1.0])
    order = np.abs(np.angle(significant_eigs(W)))
    assert order[0] < order[-1], "precondition: eigvals lists the 0.8 block before the 1.3 block"
    greedy, optimal = compare_spectra(W, Phi, matching="greedy"), compare_spectra(W, Phi)
    assert optimal.error == pytest.approx(0.3, abs=1e-12)
    assert greedy.error == pytest.approx(0.5, abs=1e-12)


def test_greedy_never_beats_optimal():
    rng = np.random.default_rng(2)
    for _ in range(50):
        a, b = np.exp(1j * rng.uniform(-np.pi, np.pi, (2, 12)))
        assert angle_errors(a, b, "greedy").sum() >= angle_errors(a, b, "optimal").sum() - 1e-12


def test_bad_arguments():
    Phi = table1_phi("repeat_copy")
    with pytest.raises(ValueError, match="matching"):
        compare_spectra(Phi, Phi, matching="hungarian")
    with pytest.raises(ValueError, match="square"):
        compare_spectra(np.zeros((3, 4)), Phi)
    with pytest.raises(ValueError, match="threshold"):
        significant_eigs(Phi, threshold=-1.0)
    with pytest.raises(ValueError, match="same size"):
        angle_errors(np.ones(2), np.ones(3))
    assert isinstance(compare_spectra(Phi, Phi), SpectralComparison)


def test_table1_cells_average_the_determinate_seeds_and_say_how_many():
    """A cell with some indeterminate seeds shows the mean of the others and their count, "—" only where every
    seed is indeterminate (the detail table: tests/test_table1_grid.py)."""
    from wavelib.plotting.spectrum import table1_rows

    nan = np.nan
    errors = {"repeat_copy|H8|l2=0": [0.001, 0.003, nan, nan], "repeat_copy|H8|l2=0.1": [nan] * 4}
    history, metrics = {}, {}
    for key, values in errors.items():
        e = np.array(values)
        history |= {f"{key}|error": e, f"{key}|error_greedy": e * 2, f"{key}|n_learned": np.array([64, 64, 63, 66]),
                    f"{key}|n_at_least_one": np.array([60, 61, 60, 64])}
        metrics[key] = {"accuracy_mean": 0.75, "n_indeterminate": int(np.isnan(e).sum()),
                        "error_mean_determinate": float(np.nanmean(e)) if not np.isnan(e).all() else None}
    _, rows = table1_rows(metrics, ["repeat_copy"], [8], [0.0, 0.1], n_seeds=4)
    assert rows == [["8", "0", "0.0020 [2/4] (0.750)"], ["8", "0.1", "— (0.750)"]]
    metrics["repeat_copy|H8|l2=0"]["n_indeterminate"] = 0
    assert table1_rows(metrics, ["repeat_copy"], [8], [0.0], n_seeds=4)[1][0][2] == "0.0020 (0.750)"


def test_no_eigenvalues_on_either_side_is_indeterminate_not_nan():
    """With no eigenvalue above threshold on both sides the Table 1 cell would read nan instead of counting as
    indeterminate."""
    result = compare_spectra(0.5 * np.eye(4), 0.5 * np.eye(4))
    assert (result.n_learned, result.n_theory, result.error) == (0, 0, None)


def test_error_is_the_mean_not_the_median_of_the_angle_errors():
    """A median would hide one badly placed eigenvalue that the mean angle error of Table 1 reports."""
    angles = np.array([0.3, 0.9, 1.7])
    result = compare_spectra(rotation_blocks(angles + [0.01, 0.02, 0.06]), rotation_blocks(angles))
    assert result.error == pytest.approx(0.03, abs=1e-9)  # mean(0.01, 0.02, 0.06); the median is 0.02


def test_one_eigenvalue_on_each_side_is_compared():
    result = compare_spectra(np.array([[1.0]]), np.array([[-1.0]]))
    assert (result.n_learned, result.n_theory) == (1, 1)
    assert result.error == pytest.approx(np.pi)
    with pytest.raises(ValueError, match="square"):
        significant_eigs(np.ones(4))
