"""Table 1 read seed by seed (wavelib.analysis.table1_grid) and the Chapter 2 tables and claims built from it."""

import numpy as np
import pytest

from wavelib.analysis.table1_grid import (CellSeeds, at_phi_angles, cell_key, chance_deviation, first_step_beyond,
                                          grid_cells, nearest_angle_deviation, phi_spectrum)
from wavelib.plotting import spectrum as figs

ROOTS8 = np.exp(2j * np.pi * np.arange(8) / 8)


def test_nearest_angle_deviation_measures_the_angle_only_and_ignores_small_eigenvalues():
    on_phi = np.concatenate([1.3 * ROOTS8, [0.5, -0.2j]])  # moduli do not count; |λ| <= 0.9 is left out
    assert nearest_angle_deviation(on_phi, ROOTS8) == pytest.approx(0.0, abs=1e-12)
    assert nearest_angle_deviation(ROOTS8[:5] * np.exp(0.01j), ROOTS8) == pytest.approx(0.01)
    assert np.isnan(nearest_angle_deviation(np.array([0.3, 0.1j]), ROOTS8))


def test_chance_is_a_quarter_of_the_spacing_for_evenly_spread_angles():
    assert chance_deviation(ROOTS8) == pytest.approx(np.pi / 16, rel=1e-4)
    assert at_phi_angles(0.01, chance_deviation(ROOTS8)) and not at_phi_angles(0.1, chance_deviation(ROOTS8))


def test_phi_spectrum_is_the_unit_circle_spectrum_of_each_task():
    assert len(phi_spectrum("repeat_copy", 8, 8)) == 64 and len(phi_spectrum("compose_t4", 8, 8)) == 36
    np.testing.assert_allclose(np.abs(phi_spectrum("diagonal_copy", 8, 8)), 1.0)


def test_first_step_beyond_is_the_median_seed_leaving_its_first_horizon():
    step = np.array([0, 100, 200, 300])
    horizon = np.array([[10, 10, 10], [10, 12, 10], [12, 12, 10], [14, 14, 10]])
    assert first_step_beyond(step, horizon) == 200  # seeds: 200, 100, never
    assert first_step_beyond(step, np.full((4, 3), 10)) is None


def _history(seeds: dict[str, tuple[list[float], list[float], list[int]]], s: int = 2, d: int = 2) -> dict:
    """A stored Table 1 history for repeat copy at H 8: per L2 key, each seed's (accuracy, error, count)."""
    theory = phi_spectrum("repeat_copy", s, d)
    history = {}
    for l2, (accuracy, error, count) in seeds.items():
        key = cell_key("repeat_copy", 8, float(l2))
        eigs = np.zeros((len(accuracy), 8), complex)
        for m, n in enumerate(count):
            eigs[m, :n] = np.resize(theory, n) * np.exp(0.001j)
        history.update({f"{key}|test_accuracy": np.array(accuracy), f"{key}|error": np.array(error),
                        f"{key}|error_greedy": np.array(error) * 1.5, f"{key}|n_learned": np.array(count),
                        f"{key}|n_at_least_one": np.array(count) - 1, f"{key}|eigs": eigs})
    return history


def test_grid_claims_count_seeds_and_cells_as_the_caption_reads_them():
    nan = float("nan")
    history = _history({"0": ([1.0, 0.99, 0.96], [0.002, nan, nan], [4, 3, 5]),
                        "0.1": ([0.5, 0.51, 0.49], [nan, nan, nan], [0, 0, 0])})
    cells = grid_cells(history, ["repeat_copy"], [8], [0.0, 0.1], {"repeat_copy": phi_spectrum("repeat_copy", 2, 2)})
    assert [c.l2 for c in cells] == [0.0, 0.1] and cells[0].phi_count == 4
    rows = {claim: measured for claim, _, measured in figs.grid_claim_rows(cells)}
    seeds = rows["Well-trained networks share Φ's unit-circle spectrum: seed by seed"]
    assert seeds.startswith("3 of 6 seeds learned") and "1 of them (33%)" in seeds
    assert "1 have fewer than Φ, 1 more" in seeds and "error median 2.0e-03" in seeds
    assert seeds.endswith("Of the 3 seeds that did not learn, 0 are determinate")
    cell_by_cell = rows["The same, cell by cell (the caption's reading of the table)"]
    assert cell_by_cell.startswith("1 cells with mean accuracy") and "1 in some (T1 H8 L2=0 [1/3])" in cell_by_cell
    most = rows["Cells where most learned seeds are indeterminate, beyond the named exception"]
    assert most.startswith("T1 H8 L2=0: 2 of 3 learned seeds, |λ| > 0.9: 3–5 (4)")
    assert most.endswith("at Φ's angles")  # not "fewer of them": one seed has more
    strong = rows["Strong L2 prevents learning"]
    assert "L2 ≥ 0.1, H 8: 3 seeds, accuracy 0.490–0.510, no eigenvalue" in strong
    assert rows["The cut: |λ| ≥ 1 (the paper's text) instead of |λ| > 0.9 (the public code)"] == \
        "learned seeds with Φ's count: 1 at > 0.9, 1 at ≥ 1, of 3"


def test_detail_rows_split_each_cell_by_seed():
    nan = float("nan")
    history = _history({"0": ([1.0, 0.99, 0.5], [0.002, nan, nan], [4, 3, 0]),
                        "0.1": ([0.5, 0.5, 0.5], [nan, nan, nan], [0, 0, 0])})
    cells = grid_cells(history, ["repeat_copy"], [8], [0.0, 0.1], {"repeat_copy": phi_spectrum("repeat_copy", 2, 2)})
    header, (row, failed) = figs.table1_detail_rows(cells)
    assert row[:6] == ["T1 H8 L2=0", "2 (1)", "2", "0–4 (4)", "-1–3 (4)", "0.0020 / 0.0030"]
    assert row[6].startswith("0.0010 (")  # the learned, indeterminate seed: 0.001 rad off Φ's angles
    assert failed[1:3] == ["0 (0)", "3"] and failed[5:] == ["—", "—"]
    assert figs.matching_gap(cells) == pytest.approx(0.001)


def test_the_named_exception_is_judged_by_where_its_eigenvalues_sit():
    theory = phi_spectrum("repeat_copy", 8, 8)
    shifted = np.angle(theory) + 0.3  # between Φ's angles: no closer than chance
    cell = CellSeeds(task="repeat_copy", hidden=64, l2=0.0, accuracy=np.ones(2), error=np.full(2, np.nan),
                     error_greedy=np.full(2, np.nan), n_significant=np.array([56, 56]),
                     n_at_least_one=np.array([56, 56]), deviation=np.array([0.3, 0.3]), phi_count=64,
                     chance=chance_deviation(theory))
    assert nearest_angle_deviation(np.exp(1j * shifted), theory) > 0.9 * cell.chance
    (row,) = [r for r in figs.grid_claim_rows([cell]) if r[0].startswith("The exception")]
    assert row[2].endswith("not at Φ's angles")
    close = CellSeeds(**{**cell.__dict__, "deviation": np.array([0.001, 0.002])})
    (row,) = [r for r in figs.grid_claim_rows([close]) if r[0].startswith("The exception")]
    assert row[2].endswith("at Φ's angles: a compressed wave")


def test_gradient_table_shows_the_crossing_the_milestones_and_the_reach():
    steps = np.array([0, 10, 20, 100, 1000, 3000])
    G, M, s = len(steps), 2, 3
    eig = np.array([0.5, 0.8, 1.1, 1.2, 1.0, 1.0])[:, None].repeat(M, axis=1)
    norms = np.ones((G, M, s))
    history = {"k|grad_step": steps, "k|grad_max_abs_eig": eig, "k|jacobian_norms": norms, "k|grad_norms": norms,
               "k|step": np.array([0, 500, 1000]), "k|horizon": np.array([[10, 10], [10, 12], [12, 12]])}
    record = figs.gradient_record(history, "k")
    assert record.crossing == 2 and record.learning_step == 750.0
    header, rows = figs.gradient_table_rows(record, milestones=(100, 1000, 5000))
    assert [r[0] for r in rows] == ["0", "10", "20", "100", "1,000", "3,000"]
    assert rows[0][4] == "1.00" and rows[0][2] in ("+0.000", "-0.000")
    assert "first > 1 at step 20" in figs.gradient_claim_row(record)[2]


def test_bottleneck_row_reads_with_and_without_a_learned_seed():
    from wavelib.plotting.spectrum import bottleneck_claim_row

    theory = np.exp(2j * np.pi * np.arange(1, 5) / 5)
    eigs = np.stack([np.concatenate([theory, np.zeros(2)]), np.full(6, 0.1 + 0j)])
    _, _, none = bottleneck_claim_row(np.array([0.6, 0.5]), eigs, theory, [10, 10], 2, 2, 6)
    assert none.startswith("seeds with test accuracy > 0.94: 0 of 2 (none to compare with Φ's 4) (s=2, d=2, H=6). ")
    _, _, one = bottleneck_claim_row(np.array([0.99, 0.5]), eigs, theory, [100, 10], 2, 2, 6)
    assert one.startswith("seeds with test accuracy > 0.94: 1 of 2, |λ| > 0.9: [4] (≥ 1: [")
    assert " rad from Φ's nearest angle (chance " in one
    assert ") vs 4 (s=2, d=2, H=6). All seeds: |λ| > 0.9 [4, 0]" in one
