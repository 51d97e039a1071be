"""Table 1 read seed by seed (wavelib.analysis.table1_grid) and the Chapter 2 tables and claims built from it."""

import numpy as np
import pytest

from wavelib.analysis.table1_grid import (CellSeeds, at_phi_angles, cell_key, chance_deviation, first_step_beyond,
                                          grid_cells, nearest_angle_deviation, phi_spectrum)
from wavelib.analysis.variable_memory import MemoryGains, slot_reading_check
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
    """A stored Table 1 history for repeat copy at H 8: per L2 key, each seed's (accuracy, error, count). A seed's
    ``count`` eigenvalues sit 0.001 rad off Φ's angles, on the unit circle but for the last, at |λ| = 0.95 (counted
    above 0.9, not at >= 1)."""
    theory = phi_spectrum("repeat_copy", s, d)
    history = {}
    for l2, (accuracy, error, count) in seeds.items():
        key = cell_key("repeat_copy", 8, float(l2))
        eigs = np.zeros((len(accuracy), 8), complex)
        for m, n in enumerate(count):
            eigs[m, :n] = np.resize(theory, n) * np.exp(0.001j)
            eigs[m, n - 1:n] *= 0.95
        history.update({f"{key}|test_accuracy": np.array(accuracy), f"{key}|error": np.array(error),
                        f"{key}|error_greedy": np.array(error) * 1.5, f"{key}|n_learned": np.array(count),
                        f"{key}|n_at_least_one": (np.abs(eigs) >= 1 - 1e-12).sum(axis=1), f"{key}|eigs": eigs})
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
    assert rows["The cut: |λ| ≥ 1 (the threshold the Fig. 8B/10B captions use) instead of |λ| > 0.9 (the public "
                "code)"] == "learned seeds with Φ's count: 1 at > 0.9, 1 at ≥ 1, of 3"
    sources = {claim: paper for claim, paper, _ in figs.grid_claim_rows(cells)}
    assert sources["Errors of well-trained networks are of order 1e-3 rad"].startswith("not in the paper: ")
    assert sources["Strong L2 prevents learning"].startswith("not in the paper: the reference notes")


def test_detail_rows_split_each_cell_by_seed():
    nan = float("nan")
    history = _history({"0": ([1.0, 0.99, 0.5], [0.002, nan, nan], [4, 3, 0]),
                        "0.1": ([0.5, 0.5, 0.5], [nan, nan, nan], [0, 0, 0])})
    cells = grid_cells(history, ["repeat_copy"], [8], [0.0, 0.1], {"repeat_copy": phi_spectrum("repeat_copy", 2, 2)})
    header, (row, failed) = figs.table1_detail_rows(cells)
    # counts above 0.9: 4, 3, 0; at >= 1 one fewer where there are any: 3, 2, 0 (Φ: 4 and 4)
    assert row[:6] == ["T1 H8 L2=0", "2 (1)", "2", "0–4 (4)", "0–3 (4)", "0.0020 / 0.0030"]
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


def test_the_verdict_says_which_caption_claims_reproduced():
    nan = float("nan")
    theory = {"repeat_copy": phi_spectrum("repeat_copy", 2, 2)}
    history = _history({"0": ([1.0, 0.99, 0.96], [0.002, nan, nan], [4, 3, 5]),
                        "0.001": ([0.99, 0.98, 0.97], [nan, nan, nan], [3, 3, 3]),
                        "0.1": ([0.5, 0.51, 0.49], [nan, nan, nan], [0, 0, 0])})
    cells = grid_cells(history, ["repeat_copy"], [8], [0.0, 0.001, 0.1], theory)
    verdict = figs.table1_verdict(cells, paper_grid=(24, 480))
    head, reproduced, failed = verdict.split("\n\n")[0].split(". Reproduced: ")[0], \
        verdict.split("Reproduced: ")[1].split(". Not reproduced: ")[0], verdict.split("Not reproduced: ")[1]
    assert head == "**Verdict on this page's grid** (3 cells, 9 seeds; the paper's: 24 cells, 480 seeds)"
    assert reproduced == ("learned networks without Φ's count still sit at Φ's angles (§4.1: 'consistently "
                          "converge'); errors of order 1e-3 rad (reference notes)")
    assert failed.startswith("every model with test accuracy > 0.94 has Φ's count, so an error (caption); no other "
                             "cell with mean accuracy > 0.94 lacks a determinate seed (caption).")
    assert "for 5 learned seeds the error is indeterminate." in verdict
    assert "besides the named one: T1 H8 L2=0.001 (accuracy 0.980; |λ| > 0.9: 3 of 4)." in verdict
    assert "the exception is T1 with H = 64, L2 = 0, a lower-rank wave.* Not in this preset's grid." in verdict
    assert "1 of 1 cells of order 1e-3" in verdict
    # 4e-3 is nearer 1e-2 than 1e-3 in log scale: not "of order 1e-3"
    clean = grid_cells(_history({"0": ([1.0, 0.99], [0.004, 0.004], [4, 4])}), ["repeat_copy"], [8], [0.0], theory)
    verdict = figs.table1_verdict(clean, paper_grid=(1, 2))
    assert verdict.startswith("**Verdict on this page's grid** (1 cells, 2 seeds). Reproduced: every model with test "
                              "accuracy > 0.94 has Φ's count, so an error (caption); no other cell")
    assert verdict.split("\n\n")[0].endswith(
        "Not reproduced: errors of order 1e-3 rad (reference notes). Not testable on this grid: the named exception, "
        "T1 H64 L2=0, is a compressed wave at Φ's angles (caption).")
    assert "the others: T1 H8 L2=0 4.0e-03." in verdict
    failed = grid_cells(_history({"0": ([0.6, 0.5], [nan, nan], [0, 0])}), ["repeat_copy"], [8], [0.0], theory)
    assert figs.table1_verdict(failed).split("\n\n")[0].endswith(
        "Reproduced: none. Not reproduced: none. Not testable on this grid: every model with test accuracy > 0.94 has "
        "Φ's count, so an error (caption); the named exception, T1 H64 L2=0, is a compressed wave at Φ's angles "
        "(caption); no other cell with mean accuracy > 0.94 lacks a determinate seed (caption).")


def test_the_verdict_judges_the_named_exception_by_count_and_angle():
    theory = phi_spectrum("repeat_copy", 8, 8)
    cell = CellSeeds(task="repeat_copy", hidden=64, l2=0.0, accuracy=np.ones(2), error=np.full(2, np.nan),
                     error_greedy=np.full(2, np.nan), n_significant=np.array([56, 58]),
                     n_at_least_one=np.array([56, 56]), deviation=np.array([0.001, 0.002]), phi_count=64,
                     chance=chance_deviation(theory))
    verdict = figs.table1_verdict([cell])
    assert "Reproduced: the named exception, T1 H64 L2=0, is a compressed wave at Φ's angles (caption)" in verdict
    assert "2 of its 2 learned seeds are indeterminate, with 56–58 eigenvalues at |λ| > 0.9 of Φ's 64" in verdict
    assert "and no determinate seed, besides the named one: none." in verdict
    far = CellSeeds(**{**cell.__dict__, "deviation": np.array([0.3, 0.3])})
    verdict = figs.table1_verdict([far])
    assert "the named exception" in verdict.split("Not reproduced: ")[1].split("\n")[0]
    assert "no closer to Φ's angles than chance: T1 H64" in verdict
    more = CellSeeds(**{**cell.__dict__, "n_significant": np.array([56, 66])})
    assert "the named exception" in figs.table1_verdict([more]).split("Not reproduced: ")[1].split("\n")[0]
    unlearned = CellSeeds(**{**cell.__dict__, "accuracy": np.full(2, 0.5)})
    assert "Not testable on this grid: every model with test accuracy > 0.94 has Φ's count, so an error (caption); " \
        "the named exception" in figs.table1_verdict([unlearned])


def test_the_exception_note_follows_the_grid():
    nan = float("nan")
    cells = grid_cells(_history({"0": ([1.0], [0.002], [4])}), ["repeat_copy"], [8], [0.0],
                       {"repeat_copy": phi_spectrum("repeat_copy", 2, 2)})
    assert figs.exception_note(cells).endswith("— not in this preset's grid (hidden sizes 8), so this page does not "
                                               "count it; the `paper` preset does.")
    theory = phi_spectrum("repeat_copy", 8, 8)
    named = CellSeeds(task="repeat_copy", hidden=64, l2=0.0, accuracy=np.ones(2), error=np.full(2, nan),
                      error_greedy=np.full(2, nan), n_significant=np.array([56, 59]), n_at_least_one=np.zeros(2),
                      deviation=np.zeros(2), phi_count=64, chance=chance_deviation(theory))
    assert figs.exception_note(cells + [named]).endswith(
        "on this page its seeds keep 56–59 eigenvalues with |λ| > 0.9 of Φ's 64 (§2.1's second table and verdict, "
        "§2.7).")


def test_the_figure_networks_are_compared_with_appendix_table_2():
    assert figs.figure_network_row((128, 64), 45_000)[2] == "seed 0, H 128, L2 0, 45,000 iterations: as Table 2"
    assert figs.figure_network_row((128,), 2_000)[2].endswith("differs from Table 2 in iterations")
    assert figs.figure_network_row((16,), 300)[2].endswith("differs from Table 2 in H, iterations")


def test_fig3_rows_are_labelled_by_t_from_1():
    """Panel A's rows run t = 1..T with the dashed line after t = s; panel B's frame titled t shows h(t)."""
    import matplotlib.pyplot as plt
    T, H, s = 10, 5, 8
    frames = np.arange(T, dtype=float)[:, None, None] * np.ones((T, 2, 2))
    fig = figs.memory_frames_figure(np.zeros((T, H)), frames, times=[8, 9], s=s)
    ax = fig.axes[0]
    assert ax.get_ylim() == (T + 0.5, 0.5) and ax.get_ylabel() == "t"
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [s + 0.5]
    assert fig.axes[1].get_title() == "B: memories, t = 8" and fig.axes[2].get_title() == "t = 9"
    np.testing.assert_array_equal(fig.axes[1].get_images()[0].get_array(), frames[7])  # h(8) is row 7
    assert [a.get_xlabel() for a in fig.axes[1:3]] == ["component"] * 2
    assert ax.get_images()[0].colorbar.ax.get_ylabel() == "activation"
    plt.close(fig)


def test_fig4_has_a_colour_bar_and_its_gains_in_words():
    import matplotlib.pyplot as plt
    M = np.linspace(-1, 1, 400).reshape(20, 20)
    M[0, 1] = 5.0  # beyond the 99.5% quantile (1.00): the bar gets arrows
    fig = figs.weights_in_basis_figure({"repeat_copy": M}, {"repeat_copy": 15})
    (bar,) = [ax for ax in fig.axes if ax.get_ylabel() == "entry of Ψ⁺ W_hh Ψ"]
    assert bar is not fig.axes[0] and fig.axes[0].get_images()[0].colorbar.extend == "both"
    plt.close(fig)
    gains = MemoryGains(band=np.array([0.84, 1.04]), boundary=np.array([1.15, 1.19]), off=np.array([0.009, 0.4]),
                        ratio_gap=1e-15)
    text = figs.weights_in_basis_text({"repeat_copy": gains}, {"repeat_copy": M})
    assert text.startswith("The entries are gains, not Φ's ±1") and text.endswith(
        "T1: band 0.84–1.04 (1e-15 from those ratios), boundary 1.15–1.19 (times Φ's sign), "
        "off Φ's pattern up to 0.4 (1 of 2 above 0.3); colours saturate at ±1.00.")


def test_slot_reading_rows_show_both_readings_per_task_and_basis():
    header, rows = figs.slot_reading_rows(["repeat_copy", "diagonal_copy"])
    assert len(header) == 6 and [r[:2] for r in rows] == [["T1", "orthogonal"], ["T1", "gaussian"],
                                                          ["T2", "orthogonal"], ["T2", "gaussian"]]
    printed_rank = slot_reading_check("diagonal_copy", "orthogonal")["printed"][1]  # its value: variable_memory's test
    assert rows[2][3] == "36 of 36" and rows[2][5] == f"{printed_rank} of 36"


def test_the_figures_networks_say_whether_they_learned():
    history = {"repeat_copy|H128|l2=0|test_accuracy": np.array([1.0, 0.5]),
               "compose_t3|H128|l2=0|test_accuracy": np.array([0.94, 1.0])}
    text = figs.figure_networks_text(history, ["repeat_copy", "compose_t3"], 128)
    assert text == ("Test accuracy of these seed-0 networks, the ones Figs. 3 and 4 show too: T1 1.000; T3 0.940 (T3 "
                    "at or below 0.94: not a network that learned its task).")
    history["compose_t3|H128|l2=0|test_accuracy"][0] = 0.99
    text = figs.figure_networks_text(history, ["repeat_copy", "compose_t3"], 128)
    assert text.endswith("T3 0.990 (each above 0.94).")
