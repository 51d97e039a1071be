"""Figures and tables of Chapter 2 (Elman RNNs learn hidden traveling waves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..analysis.table1_grid import (AT_ANGLES, LEARNED_ACCURACY, CellSeeds, at_phi_angles, cell_key, chance_deviation,
                                    first_step_beyond, named_exception, nearest_angle_deviation)
from ..analysis.variable_memory import SLOT_POWERS, MemoryGains, slot_reading_check
from ..tasks.linear_hds import TABLE1_LABELS
from ..theory.gradients import distance_slope
from .style import COLORS, figure, fit_unit_circle, legend_below, signed_matrix, unit_circle


def table1_error(cell: Mapping[str, float | None], n_seeds: int) -> str:
    """A Table 1 cell's spectral error (rad): the mean over seeds; where some seeds are indeterminate, the mean over
    the others and how many they are ("[15/20]"); "—" where every seed is."""
    if cell["error_mean_determinate"] is None:
        return "—"
    determinate = n_seeds - cell["n_indeterminate"]
    return f"{cell['error_mean_determinate']:.4f}" + (f" [{determinate}/{n_seeds}]" if determinate < n_seeds else "")


def table1_rows(metrics: Mapping[str, Mapping[str, float | None]], tasks: Sequence[str], hiddens: Sequence[int],
                l2s: Sequence[float], n_seeds: int) -> tuple[list[str], list[list[str]]]:
    """Table 1 laid out as in the paper: one row per (H, L2), one column per task, each cell
    "mean angular error (mean test accuracy)" as :func:`table1_error` gives it."""
    header = ["H", "L2"] + [TABLE1_LABELS.get(t, t) for t in tasks]
    rows = []
    for hidden in hiddens:
        for l2 in l2s:
            row = [str(hidden), f"{l2:g}"]
            for task in tasks:
                cell = metrics[f"{task}|H{hidden}|l2={l2:g}"]
                row.append(f"{table1_error(cell, n_seeds)} ({cell['accuracy_mean']:.3f})")
            rows.append(row)
    return header, rows


def cell_label(cell: CellSeeds) -> str:
    """A Table 1 cell in words: "T1 H64 L2=0"."""
    return f"{TABLE1_LABELS.get(cell.task, cell.task).split()[0]} H{cell.hidden} L2={cell.l2:g}"


def _span(values: np.ndarray, digits: int | None = None, scientific: bool = False) -> str:
    """"a" or "a–b" over ``values`` (integers, floats to ``digits`` decimals, or with ``scientific`` to 1e-3's
    form)."""
    low, high = (f"{v:.1e}" if scientific else f"{v:.{digits}f}" if digits is not None else str(int(v))
                 for v in (values.min(), values.max()))
    return low if low == high else f"{low}–{high}"


def table1_detail_rows(cells: Sequence[CellSeeds]) -> tuple[list[str], list[list[str]]]:
    """Per Table 1 cell (:func:`wavelib.analysis.table1_grid.grid_cells`, in its order): how many seeds learned
    (test accuracy > 0.94) and how many of those are determinate; the indeterminate seeds among all; the range over
    seeds of the eigenvalue counts at |λ| > 0.9 (the public code's cut) and at |λ| >= 1 (the threshold of the
    paper's Fig. 8B/10B captions) beside Φ's; the mean error over the determinate seeds, optimal and greedy
    matching; and for the learned but indeterminate seeds, the mean distance of their eigenvalues to Φ's nearest
    angle beside chance's (rad)."""
    header = ["cell", "seeds > 0.94 (determinate)", "indeterminate, all seeds", "count |λ| > 0.9: W_hh (Φ)",
              "count |λ| ≥ 1: W_hh (Φ)", "mean error: optimal / greedy (code)",
              "learned, indeterminate: angle to Φ (chance)"]
    rows = []
    for cell in cells:
        learned, determinate = cell.learned, cell.determinate
        odd = learned & ~determinate & np.isfinite(cell.deviation)
        rows.append([
            cell_label(cell), f"{learned.sum()} ({(learned & determinate).sum()})", str((~determinate).sum()),
            f"{_span(cell.n_significant)} ({cell.phi_count})", f"{_span(cell.n_at_least_one)} ({cell.phi_count})",
            " / ".join(f"{e[determinate].mean():.4f}" for e in (cell.error, cell.error_greedy))
            if determinate.any() else "—",
            f"{cell.deviation[odd].mean():.4f} ({cell.chance:.3f})" if odd.any() else "—"])
    return header, rows


def matching_gap(cells: Sequence[CellSeeds]) -> float:
    """The largest difference (rad) between the greedy and the optimal error of any determinate seed."""
    gaps = [np.abs(c.error_greedy - c.error)[c.determinate] for c in cells if c.determinate.any()]
    return float(max(g.max() for g in gaps)) if gaps else 0.0


def gradient_decay_rates(norms: np.ndarray) -> np.ndarray:
    """Decay rate of a per-input norm (G, M, s) per record and seed, (G, M) decades per step: MINUS the slope of
    log10(norm) against the distance s+1-i (0 = no vanishing; positive = weaker towards older inputs)."""
    return -distance_slope(np.log10(np.maximum(norms, 1e-30)))


def spectra_against_theory(learned: Mapping[str, np.ndarray], theory: Mapping[str, np.ndarray],
                           titles: Mapping[str, str] | None = None) -> Figure:
    """Eigenvalues of learned W_hh (dots) against Φ's unit-circle spectrum (rings), one panel each."""
    fig, axes = figure(len(learned), width=2.4 * len(learned), height=3.0)
    for ax, name in zip(axes[0], learned):
        title = (titles or {}).get(name, TABLE1_LABELS.get(name, name))
        unit_circle(ax, learned[name], theory[name], title=title, label="learned W_hh (all eigenvalues)",
                    reference_label="Φ (its unit-circle eigenvalues)")
        fit_unit_circle(ax, learned[name])
    legend_below(fig, axes[0, 0], ncols=2)
    return fig


def memory_frames_figure(raw: np.ndarray, frames: np.ndarray, times: Sequence[int], s: int) -> Figure:
    """Fig. 3: A (top, with its colour bar), the hidden state in the standard basis (T, H), row ``t - 1`` holding
    h(t), drawn against t = 1..T with a dashed line after the last input step t = s; B (below, three per row), the
    same states projected on the variable memories, one (slot × component) frame per chosen time ``t`` of ``times``
    (1-based, like A's axis)."""
    ncols = min(3, len(times))
    nrows = -(-len(times) // ncols)
    names = [str(i) if i < len(times) else "." for i in range(nrows * ncols)]
    fig, axd = plt.subplot_mosaic([["A"] * ncols] + [names[r * ncols:(r + 1) * ncols] for r in range(nrows)],
                                  figsize=(7.0, 2.4 + 2.1 * nrows), height_ratios=[1.15] + [1] * nrows)
    ax = axd["A"]
    limit = float(np.abs(raw).max()) or 1.0
    image = ax.imshow(raw, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest",
                      extent=(-0.5, raw.shape[1] - 0.5, raw.shape[0] + 0.5, 0.5))
    fig.colorbar(image, ax=ax, label="activation", pad=0.01)
    ax.axhline(s + 0.5, color="black", lw=0.8, ls="--")
    ax.set(title="A: hidden state h(t)", xlabel="unit", ylabel="t")
    for i, t in enumerate(times):
        ax = axd[str(i)]
        signed_matrix(ax, frames[t - 1], title=f"t = {t}" if i else f"B: memories, t = {t}")
        ax.set(xticks=[], yticks=[])
        if i + ncols >= len(times):  # nothing below: label the x axis
            ax.set(xticks=[0, frames.shape[2] - 1], xlabel="component")
        if i % ncols == 0:
            ax.set(yticks=[0, s - 1], ylabel="slot (top: oldest)")
    return fig


def _saturation(M: np.ndarray) -> float:
    """Where Fig. 4's colours saturate: the 99.5% quantile of |entry| (1 for a zero matrix)."""
    return float(np.quantile(np.abs(M), 0.995)) or 1.0


def weights_in_basis_figure(matrices: Mapping[str, np.ndarray], n_memory: Mapping[str, int]) -> Figure:
    """Fig. 4: Re(Ψ⁺ W_hh Ψ) per task, each with its colour bar; the colours saturate at the 99.5% quantile of
    |entry| (the bar's arrows mark entries beyond); the dashed lines close off the variable-memory block."""
    fig, axes = figure(len(matrices), width=3.9 * len(matrices), height=3.3)
    for ax, (name, M) in zip(axes[0], matrices.items()):
        limit = _saturation(M)
        image = ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8, extend="both" if np.abs(M).max() > limit else "neither",
                     label="entry of Ψ⁺ W_hh Ψ")
        k = n_memory[name]
        ax.axhline(k - 0.5, color="black", lw=0.6, ls="--")
        ax.axvline(k - 0.5, color="black", lw=0.6, ls="--")
        ax.set(title=TABLE1_LABELS.get(name, name), xlabel="from (basis index)", ylabel="to")
    return fig


def weights_in_basis_text(gains: Mapping[str, MemoryGains], matrices: Mapping[str, np.ndarray]) -> str:
    """Fig. 4 in numbers, per task: the band's and the boundary's entries (Φ's are ±1), the largest entry off Φ's
    pattern and how many exceed 0.3, how far the band is from the ratios of column norms, and where the colours
    of :func:`weights_in_basis_figure` of ``matrices`` saturate."""
    parts = [f"{TABLE1_LABELS.get(name, name).split()[0]}: band {_span(g.band, 2)} ({g.ratio_gap:.0e} from those "
             f"ratios), boundary {_span(g.boundary, 2)} (times Φ's sign), off Φ's "
             f"pattern up to {g.off.max():.2g} ({int((g.off > 0.3).sum())} of {g.off.size} above 0.3); colours "
             f"saturate at ±{_saturation(matrices[name]):.2f}" for name, g in gains.items()]
    return ("The entries are gains, not Φ's ±1: each basis column is normalised, so a band entry is the norm of the "
            "older slot's column before normalisation over the newer one's, how much $W_{hh}$ stretches that column "
            "(exactly so without the transient step of §2.2; how far from it, per task). " + "; ".join(parts) + ".")


def slot_reading_rows(tasks: Sequence[str], s: int = 8, d: int = 8) -> tuple[list[str], list[list[str]]]:
    """Algorithm 1's two readings of the slot powers (:func:`wavelib.analysis.variable_memory.slot_reading_check`)
    on exact wave networks of each task, in an orthogonal and in a Gaussian basis: per reading, the largest
    |entry| of Ψ⁺ W_hh Ψ off Φ's pattern and the rank of the memory columns (of the coordinates Φ uses)."""
    names = {"forward": "W_hh^(s−k) W_r⁺ (this page)", "printed": "(W_hhᵀ)^k W_r⁺ (printed)"}
    header = ["task", "basis"] + [f"{names[p]}: {what}" for p in SLOT_POWERS for what in ("off Φ's pattern", "rank")]
    rows = []
    for task in tasks:
        for basis in ("orthogonal", "gaussian"):
            check = slot_reading_check(task, basis, s, d)
            rows.append([TABLE1_LABELS.get(task, task).split()[0], basis]
                        + [text for p in SLOT_POWERS
                           for text in (f"{check[p][0]:.1e}", f"{check[p][1]} of {check[p][2]}")])
    return header, rows


@dataclass(frozen=True)
class GradientRecord:
    """Fig. 5's records of one Table 1 cell, means over seeds: at each recorded step (G,), the decay rates of the
    state Jacobian and of the cost gradient (decades per step, :func:`gradient_decay_rates`), the largest
    |eig(W_hh)|, and each input's reach ||∂h(s+1)/∂x(i)||_F/√d (G, s); the first record where the largest |λ|
    exceeds 1 (an index, or None) and the step at which the curriculum first leaves its starting horizon (median
    over seeds, or None)."""

    step: np.ndarray
    jacobian_rate: np.ndarray
    cost_rate: np.ndarray
    max_abs_eig: np.ndarray
    reach: np.ndarray
    crossing: int | None
    learning_step: float | None


def gradient_record(history: Mapping[str, np.ndarray], key: str) -> GradientRecord:
    """The :class:`GradientRecord` of the cell ``key`` of a stored Table 1 ``history``."""
    eig = history[f"{key}|grad_max_abs_eig"].mean(axis=1)
    above = eig > 1
    return GradientRecord(
        step=history[f"{key}|grad_step"],
        jacobian_rate=gradient_decay_rates(history[f"{key}|jacobian_norms"]).mean(axis=1),
        cost_rate=gradient_decay_rates(history[f"{key}|grad_norms"]).mean(axis=1), max_abs_eig=eig,
        reach=history[f"{key}|jacobian_norms"].mean(axis=1),
        crossing=int(np.argmax(above)) if above.any() else None,
        learning_step=first_step_beyond(history[f"{key}|step"], history[f"{key}|horizon"]))


def gradient_table_rows(record: GradientRecord,
                        milestones: Sequence[int] = (100, 1000, 5000)) -> tuple[list[str], list[list[str]]]:
    """Fig. 5 in numbers: the first and last records, the two around the crossing of |λ| = 1, and the first record
    at or after each of ``milestones`` (steps)."""
    step = record.step
    picks = {0, len(step) - 1} | ({max(record.crossing - 1, 0), record.crossing}
                                  if record.crossing is not None else set())
    picks |= {int(np.argmax(step >= m)) for m in milestones if step[-1] >= m}
    header = ["training step", "mean max |λ|", "decay rate, state Jacobian", "decay rate, cost gradient",
              "reach ‖∂h(s+1)/∂x(i)‖/√d, over i"]
    return header, [[f"{int(step[g]):,}", f"{record.max_abs_eig[g]:.3f}", f"{record.jacobian_rate[g]:+.3f}",
                     f"{record.cost_rate[g]:+.3f}", _span(record.reach[g], 2)] for g in sorted(picks)]


def _log_spaced_records(steps: np.ndarray, n: int) -> list[int]:
    """Indices of up to ``n`` records (G,) spread evenly in log(step + 1), the first and last included."""
    wanted = np.geomspace(1, steps[-1] + 1, n)
    return sorted({int(np.argmin(np.abs(np.log(steps + 1.0) - np.log(w)))) for w in wanted})


def gradient_training_figure(grad_step: np.ndarray, jacobian_norms: np.ndarray, grad_norms: np.ndarray,
                             max_abs_eig: np.ndarray, n_curves: int = 6, learning_step: float | None = None) -> Figure:
    """Fig. 5 from the records at ``grad_step`` (G,): A, ||∂h(s+1)/∂x(i)||_F/√d (G, M, s) against input index i
    at several points in training (mean over seeds); B, its decay rate and that of the cost gradient
    ||∂C(s+1)/∂x(i)|| (G, M, s) over training, beside the largest |eig(W_hh)| (G, M) (means over seeds), with
    dotted vertical lines where that mean first exceeds 1 and at ``learning_step`` (when the curriculum first
    leaves its starting horizon)."""
    s = jacobian_norms.shape[-1]
    fig, axes = figure(2, width=8.5, height=3.2)
    ax = axes[0, 0]
    picks = _log_spaced_records(grad_step, n_curves)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(picks)))
    for colour, g in zip(colours, picks):
        ax.semilogy(np.arange(1, s + 1), jacobian_norms[g].mean(axis=0), marker=".", color=colour,
                    label=f"step {int(grad_step[g])}")
    ax.set(xlabel="input index i (1 = oldest)", ylabel="‖∂h(s+1)/∂x(i)‖ / √d",
           title="A: each input's reach into the state")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(grad_step, gradient_decay_rates(jacobian_norms).mean(axis=1), color=COLORS["static"],
            label="state Jacobian (A)")
    ax.plot(grad_step, gradient_decay_rates(grad_norms).mean(axis=1), color=COLORS["muted"], ls="--",
            label="cost gradient ‖∂C(s+1)/∂x(i)‖")
    ax.axhline(0.0, color=COLORS["static"], lw=0.6, ls=":")
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlabel="training step", ylabel="decay rate (decades / step)", title="B: decay rate vs |λ|max")
    twin = ax.twinx()
    twin.plot(grad_step, max_abs_eig.mean(axis=1), color=COLORS["wave"], marker=".", ms=3,
              label="max |eig(W_hh)|, mean over seeds (right axis)")
    twin.axhline(1.0, color=COLORS["wave"], lw=0.6, ls=":")
    twin.set_ylabel("max |eig(W_hh)|, mean over seeds", color=COLORS["wave"])
    above = max_abs_eig.mean(axis=1) > 1
    if above.any():
        ax.axvline(grad_step[np.argmax(above)], color=COLORS["wave"], lw=0.8, ls=":", label="mean max |λ| first > 1")
    if learning_step is not None:
        ax.axvline(learning_step, color=COLORS["muted"], lw=0.8, ls="-.", label="curriculum leaves its first horizon")
    legend_below(fig, ax, twin)
    return fig


def eigenvalue_counts_figure(eigs: Mapping[str, np.ndarray], theory: np.ndarray, titles: Mapping[str, str],
                             accuracy: Mapping[str, np.ndarray] | None = None) -> Figure:
    """Figs. 9 and 14: every seed's eigenvalues of W_hh (M, H) against Φ's spectrum, one panel per run; with
    ``accuracy``, each run's test accuracy per seed (M,) under its title, and the seeds that did not learn (test
    accuracy <= 0.94, Table 1's threshold) drawn in grey, apart from those that did."""
    fig, axes = figure(len(eigs), width=3.4 * len(eigs), height=3.6 if accuracy else 3.4)
    for ax, (name, values) in zip(axes[0], eigs.items()):
        near = [int(n) for n in (np.abs(values) > 0.9).sum(axis=1)]
        learned = np.ones(len(values), bool) if accuracy is None else accuracy[name] > LEARNED_ACCURACY
        scores = "" if accuracy is None else \
            "\ntest accuracy per seed: [" + ", ".join(f"{a:.2f}" for a in accuracy[name]) + "]"
        unit_circle(ax, values[learned].ravel(), theory,
                    title=f"{titles[name]}\n|λ| > 0.9 per seed: {near} (Φ: {len(theory)}){scores}",
                    label="learned" if accuracy is None else f"seeds with accuracy > {LEARNED_ACCURACY}",
                    reference_label="Φ")
        if not learned.all():
            ax.scatter(values[~learned].real, values[~learned].imag, s=6, color=COLORS["muted"], zorder=2,
                       label=f"seeds with accuracy ≤ {LEARNED_ACCURACY}")
        fit_unit_circle(ax, values)
    legend_below(fig, axes[0, 0], ncols=3)
    return fig


def _cells_text(cells: Sequence[CellSeeds], text) -> str:
    return ", ".join(f"{cell_label(c)}{text(c)}" for c in cells) if cells else "none"


def _pooled(cells: Sequence[CellSeeds]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every seed of ``cells`` in one array each: learned, determinate, count at |λ| > 0.9, Φ's count."""
    return (np.concatenate([c.learned for c in cells]), np.concatenate([c.determinate for c in cells]),
            np.concatenate([c.n_significant for c in cells]),
            np.concatenate([np.full(len(c.accuracy), c.phi_count) for c in cells]))


def _seeds_text(cells: Sequence[CellSeeds]) -> str:
    """The seeds that learned, how many of them have Φ's count (with their errors), fewer or more."""
    learned, determinate, counts, phi = _pooled(cells)
    good = learned & determinate
    errors = np.concatenate([c.error for c in cells])[good]
    return (f"{learned.sum()} of {learned.size} seeds learned their task (test accuracy > {LEARNED_ACCURACY}); "
            f"{good.sum()} of them ({100 * good.sum() / max(learned.sum(), 1):.0f}%) have Φ's number of "
            f"eigenvalues with |λ| > 0.9"
            + (f", error median {np.median(errors):.1e}, mean {errors.mean():.1e}, largest {errors.max():.1e} rad"
               if errors.size else "")
            + f"; {(learned & ~determinate & (counts < phi)).sum()} have fewer than Φ, "
            f"{(learned & ~determinate & (counts > phi)).sum()} more")


def _unnamed_exceptions(cells: Sequence[CellSeeds]) -> list[CellSeeds]:
    """Cells with mean test accuracy above 0.94 and no determinate seed, the caption's named exception left out."""
    named = named_exception(cells)
    return [c for c in cells if c is not named and c.accuracy.mean() > LEARNED_ACCURACY and not c.determinate.any()]


def order_of_magnitude(x: float) -> int:
    """The power of ten nearest ``x`` > 0 in log scale: 1e-3 for 3.2e-4 to 3.2e-3."""
    return int(np.round(np.log10(x)))


def table1_verdict(cells: Sequence[CellSeeds], paper_grid: tuple[int, int] | None = None) -> str:
    """Table 1's caption, §4.1's "consistently converge" and the reference notes' expected scale, checked over
    ``cells`` claim by claim, in markdown: which reproduced here, then each claim with this grid's numbers;
    ``paper_grid``: the paper's (cells, seeds), named in the heading where this grid is smaller."""
    learned, determinate, _, _ = _pooled(cells)
    good = learned & determinate
    first = f"every model with test accuracy > {LEARNED_ACCURACY} has Φ's count, so an error (caption)"
    status = {first: bool(good.sum() == learned.sum()) if learned.any() else None}
    bullets = [f"*Caption: for models with test accuracy > {LEARNED_ACCURACY} the spectral error is very low.* "
               + _seeds_text(cells) + ": "
               + ("every learned seed has an error." if status[first] else
                  "no seed learned, nothing to compare." if not learned.any() else
                  f"for {learned.sum() - good.sum()} learned seeds the error is indeterminate.")]
    named = named_exception(cells)
    claim = "the named exception, T1 H64 L2=0, is a compressed wave at Φ's angles (caption)"
    if named is None:
        status[claim] = None
        bullets.append("*Caption: the exception is T1 with H = 64, L2 = 0, a lower-rank wave.* Not in this "
                       "preset's grid.")
    else:
        odd = named.learned & ~named.determinate
        deviation = float(named.deviation[odd].mean()) if odd.any() else float("nan")
        status[claim] = bool(odd.sum() == named.learned.sum() and (named.n_significant[odd] < named.phi_count).all()
                             and at_phi_angles(deviation, named.chance)) if named.learned.any() else None
        bullets.append(f"*Caption: the exception is T1 with H = 64, L2 = 0, a lower-rank wave.* {odd.sum()} of its "
                       f"{named.learned.sum()} learned seeds are indeterminate"
                       + (f", with {_span(named.n_significant[odd])} eigenvalues at |λ| > 0.9 of Φ's "
                          f"{named.phi_count}, {deviation:.1e} rad from Φ's nearest angle (chance "
                          f"{named.chance:.2f})" if odd.any() else "")
                       + (": a compressed wave." if status[claim] else "."))
    unnamed = _unnamed_exceptions(cells)
    status[f"no other cell with mean accuracy > {LEARNED_ACCURACY} lacks a determinate seed (caption)"] = \
        not unnamed if any(c.accuracy.mean() > LEARNED_ACCURACY for c in cells) else None
    bullets.append(f"*Caption: one exception.* Cells with mean test accuracy > {LEARNED_ACCURACY} and no "
                   "determinate seed, besides the named one: " + _cells_text(unnamed, lambda c: (
                       f" (accuracy {c.accuracy.mean():.3f}; |λ| > 0.9: {_span(c.n_significant)} of "
                       f"{c.phi_count})")) + ".")
    places = {"at Φ's angles": [], "closer than chance, not at Φ's angles": [],
              "no closer to Φ's angles than chance": []}
    for c in cells:
        odd = c.learned & ~c.determinate & np.isfinite(c.deviation)
        if odd.any():
            deviation = float(c.deviation[odd].mean())
            where = ("at Φ's angles" if at_phi_angles(deviation, c.chance) else
                     "no closer to Φ's angles than chance" if deviation >= c.chance else
                     "closer than chance, not at Φ's angles")
            places[where].append((c, deviation))
    if any(places.values()):
        status["learned networks without Φ's count still sit at Φ's angles (§4.1: 'consistently converge')"] = \
            not any(found for where, found in places.items() if where != "at Φ's angles")
        bullets.append("*§4.1: RNNs \"consistently converge to the hypothetical circuit\"; a learned seed without "
                       "Φ's count is still that wave where its eigenvalues sit at Φ's angles.* Mean distance of the "
                       "learned, indeterminate seeds' eigenvalues to Φ's nearest angle, per cell, beside chance's "
                       f"(\"at Φ's angles\": below {AT_ANGLES:g} of chance): "
                       + "; ".join(f"{where}: " + ", ".join(f"{cell_label(c)} {dev:.4f} ({c.chance:.3f})"
                                                           for c, dev in found)
                                   for where, found in places.items() if found) + ".")
    means = [(c, float(c.error[c.learned & c.determinate].mean())) for c in cells if (c.learned & c.determinate).any()]
    if means:
        off_scale = [(c, m) for c, m in means if order_of_magnitude(m) != -3]
        status["errors of order 1e-3 rad (reference notes)"] = not off_scale
        bullets.append("*The reference notes on the public code expect errors of order 1e-3 rad* (not a number the "
                       "paper gives). Cell means over the learned, determinate seeds: "
                       f"{_span(np.array([m for _, m in means]), scientific=True)} rad; "
                       f"{len(means) - len(off_scale)} of {len(means)} cells of order 1e-3 (3.2e-4 to 3.2e-3)"
                       + ("" if not off_scale else "; the others: "
                          + ", ".join(f"{cell_label(c)} {m:.1e}" for c, m in off_scale)) + ".")
    held, failed, open_ = ([claim for claim, ok in status.items() if ok is value] for value in (True, False, None))
    size = (len(cells), int(learned.size))
    grid = f"{size[0]} cells, {size[1]} seeds" + (
        f"; the paper's: {paper_grid[0]} cells, {paper_grid[1]} seeds" if paper_grid and paper_grid != size else "")
    return (f"**Verdict on this page's grid** ({grid}). Reproduced: "
            + ("; ".join(held) or "none") + ". Not reproduced: " + ("; ".join(failed) or "none") + "."
            + (" Not testable on this grid: " + "; ".join(open_) + "." if open_ else "") + "\n\n"
            + "\n".join(f"- {b}" for b in bullets))


def exception_note(cells: Sequence[CellSeeds]) -> str:
    """Where on this page Table 1's named exception (T1, H = 64, L2 = 0) is counted: §2.1 and §2.7 where the grid
    has it, else a line saying that this preset's grid lacks it."""
    named = named_exception(cells)
    text = ("Table 1 holds the same compression without a bottleneck figure: repeat copy with $H = 64 = s \\cdot d$ "
            "and no L2, the caption's exception")
    if named is None:
        return text + (" — not in this preset's grid (hidden sizes "
                       + ", ".join(str(h) for h in sorted({c.hidden for c in cells}, reverse=True))
                       + "), so this page does not count it; the `paper` preset does.")
    return (text + f"; on this page its seeds keep {_span(named.n_significant)} eigenvalues with |λ| > 0.9 of Φ's "
            f"{named.phi_count} (§2.1's second table and verdict, §2.7).")


#: Appendix B's Table 2 (repeat copy and compose copy): hidden units and training iterations; its weight decay is
#: "none"
APPENDIX_TABLE2 = {"H": 128, "iterations": 45_000}


def figure_network_row(hiddens: Sequence[int], steps: int) -> tuple[str, str, str]:
    """The protocol table's row for the networks of Figs. 3 and 4 (seed 0 of the largest H, L2 = 0) beside
    Appendix B's Table 2, and whether they match it."""
    shown = {"H": max(hiddens), "iterations": steps}
    differ = [k for k, v in APPENDIX_TABLE2.items() if shown[k] != v]
    return ("networks of Figs. 3, 4", f"App. B Table 2: H {APPENDIX_TABLE2['H']}, weight decay none, "
            f"{APPENDIX_TABLE2['iterations']:,} iterations",
            f"seed 0, H {shown['H']}, L2 0, {steps:,} iterations: "
            + ("as Table 2" if not differ else "differs from Table 2 in " + ", ".join(differ)))


def figure_networks_text(history: Mapping[str, np.ndarray], tasks: Sequence[str], hidden: int) -> str:
    """The test accuracy of the networks the figures show (seed 0 of each task at ``hidden`` units, L2 = 0), with
    whether each learned its task (above :data:`LEARNED_ACCURACY`)."""
    accuracy = {t: float(history[f"{cell_key(t, hidden, 0.0)}|test_accuracy"][0]) for t in tasks}
    failed = [t for t, a in accuracy.items() if a <= LEARNED_ACCURACY]
    return ("Test accuracy of these seed-0 networks, the ones Figs. 3 and 4 show too: "
            + "; ".join(f"{TABLE1_LABELS[t].split()[0]} {a:.3f}" for t, a in accuracy.items())
            + (f" ({', '.join(TABLE1_LABELS[t].split()[0] for t in failed)} at or below {LEARNED_ACCURACY}: "
               "not a network that learned its task)" if failed else f" (each above {LEARNED_ACCURACY})") + ".")


def grid_claim_rows(cells: Sequence[CellSeeds]) -> list[tuple[str, str, str]]:
    """The claims of Table 1's caption and the reference notes' expectations for the public code, checked over every
    cell and seed of the stored grid (:func:`wavelib.analysis.table1_grid.grid_cells`): (claim, paper, measured)."""
    learned, determinate, _, phi = _pooled(cells)
    at_one = np.concatenate([c.n_at_least_one for c in cells]) == phi
    good = learned & determinate
    seeds = (_seeds_text(cells) + f". Of the {(~learned).sum()} seeds that did not learn, "
             f"{(~learned & determinate).sum()} are determinate")
    well = [c for c in cells if c.accuracy.mean() > LEARNED_ACCURACY]
    full = [c for c in well if c.determinate.all()]
    part = [c for c in well if c.determinate.any() and not c.determinate.all()]
    none = [c for c in well if not c.determinate.any()]
    per_cell = (f"{len(well)} cells with mean accuracy > {LEARNED_ACCURACY}: {len(full)} determinate in every seed ("
                + _cells_text(full, lambda c: f" {c.error.mean():.1e}") + f"); {len(part)} in some ("
                + _cells_text(part, lambda c: f" [{c.determinate.sum()}/{len(c.error)}]") + f"); {len(none)} in none ("
                + _cells_text(none, lambda c: "") + ")")
    rows = [("Well-trained networks share Φ's unit-circle spectrum: seed by seed",
             f"Table 1 caption: error 'very low' for models with test accuracy > {LEARNED_ACCURACY}", seeds),
            ("The same, cell by cell (the caption's reading of the table)", "Table 1 caption", per_cell)]
    named = named_exception(cells)
    if named:
        c = named
        verdict = "at Φ's angles: a compressed wave" if at_phi_angles(np.nanmean(c.deviation), c.chance) else \
            "not at Φ's angles"
        rows.append(("The exception: T1 repeat copy, H = 64, L2 = 0 learns a lower-rank wave (64 units = s·d)",
                     "Table 1 caption", f"test accuracy {_span(c.accuracy, 3)}; {c.determinate.sum()} of "
                     f"{len(c.error)} seeds determinate; |λ| > 0.9: {_span(c.n_significant)} of {c.phi_count}, "
                     f"{np.nanmean(c.deviation):.1e} rad from Φ's nearest angle (chance {c.chance:.2f}): {verdict}"))
    else:
        rows.append(("The exception: T1 repeat copy, H = 64, L2 = 0 learns a lower-rank wave (64 units = s·d)",
                     "Table 1 caption", "not in this preset's grid (the `paper` preset has it)"))
    others = [c for c in cells if c is not named and (c.learned & ~c.determinate).sum() * 2 > max(c.learned.sum(), 1)]

    def other_text(c: CellSeeds) -> str:
        odd = c.learned & ~c.determinate
        deviation = float(c.deviation[odd].mean())
        return (f": {odd.sum()} of {c.learned.sum()} learned seeds, |λ| > 0.9: {_span(c.n_significant[odd])} "
                f"({c.phi_count}), {deviation:.1e} rad from Φ's angles (chance {c.chance:.2f}), "
                + (("at Φ's angles" + (", fewer of them" if (c.n_significant[odd] < c.phi_count).all() else ""))
                   if at_phi_angles(deviation, c.chance) else "not at Φ's angles"))
    rows.append(("Cells where most learned seeds are indeterminate, beyond the named exception",
                 "none named", "; ".join(f"{cell_label(c)}{other_text(c)}" for c in others) or "none"))
    scale = []
    for l2 in sorted({c.l2 for c in cells}):
        means = [float(c.error[c.learned & c.determinate].mean()) for c in cells
                 if c.l2 == l2 and (c.learned & c.determinate).any()]
        scale.append(f"L2 = {l2:g}: " + (f"{min(means):.1e}–{max(means):.1e} rad ({len(means)} cells)"
                                         if means else "no learned, determinate seed"))
    rows.append(("Errors of well-trained networks are of order 1e-3 rad",
                 "not in the paper: what the reference notes on the public code expect",
                 f"cell means over the seeds with accuracy > {LEARNED_ACCURACY} and Φ's count: " + "; ".join(scale)))
    strong = [c for c in cells if c.l2 >= 0.1]
    if strong:
        accuracy = np.concatenate([c.accuracy for c in strong])
        most = max(int(c.n_significant.max()) for c in strong)
        rows.append(("Strong L2 prevents learning",
                     "not in the paper: the reference notes on the public code expect accuracy ≈ 0.5 and "
                     "indeterminate cells at L2 = 0.1",
                     f"L2 ≥ 0.1, H {', '.join(str(h) for h in sorted({c.hidden for c in strong}))}: "
                     f"{accuracy.size} seeds, accuracy {_span(accuracy, 3)}, "
                     + (f"at most {most} eigenvalues" if most else "no eigenvalue") + " with |λ| > 0.9"))
    rows.append(("The cut: |λ| ≥ 1 (the threshold the Fig. 8B/10B captions use) instead of |λ| > 0.9 (the public "
                 "code)", "Figs. 8B and 10B captions; no cut is stated for Table 1",
                 f"learned seeds with Φ's count: {good.sum()} at > 0.9, {(learned & at_one).sum()} at ≥ 1, "
                 f"of {learned.sum()}"))
    return rows


def gradient_claim_row(record: GradientRecord) -> tuple[str, str, str]:
    """Fig. 5B's claim beside the record: decay rates first and last, when the largest |λ| crosses 1 and when the
    networks start to learn, and the inputs' reach at the last record."""
    crossed = f"step {int(record.step[record.crossing]):,}" if record.crossing is not None else "never"
    learning = f"step {record.learning_step:,.0f}" if record.learning_step is not None else "never"
    return ("Gradient decay stops when max |λ| crosses 1", "Fig. 5B",
            f"state Jacobian decay rate {record.jacobian_rate[0]:+.3f} → {record.jacobian_rate[-1]:+.3f} "
            "decades/step "
            f"(cost gradient {record.cost_rate[0]:+.3f} → {record.cost_rate[-1]:+.3f}); mean max |λ| first > 1 at "
            f"{crossed}, the curriculum first leaves its starting horizon at {learning} (median seed); each input's "
            f"reach at the last record {_span(record.reach[-1], 2)} (1: the identity's)")


def bottleneck_claim_row(accuracy: np.ndarray, eigs: np.ndarray, theory: np.ndarray, final_horizon: Sequence[int],
                         s: int, d: int, hidden: int) -> tuple[str, str, str]:
    """Fig. 9's claim beside the bottleneck run: seeds (M,) with their test ``accuracy``, ``eigs`` (M, H) and final
    curriculum horizons; ``theory``: Φ's nonzero eigenvalues for (s, d)."""
    learned = np.flatnonzero(accuracy > LEARNED_ACCURACY)
    counts = (np.abs(eigs) > 0.9).sum(axis=1)
    chance = chance_deviation(theory)
    measured = (f"seeds with test accuracy > {LEARNED_ACCURACY}: {len(learned)} of {len(accuracy)}"
                + (f", |λ| > 0.9: {[int(counts[m]) for m in learned]} (≥ 1: "
                   f"{[int(n) for n in (np.abs(eigs[learned]) >= 1).sum(axis=1)]}), "
                   f"{np.mean([nearest_angle_deviation(eigs[m], theory) for m in learned]):.1e} rad from Φ's "
                   f"nearest angle (chance {chance:.2f}) vs {s * d}" if len(learned) else
                   f" (none to compare with Φ's {s * d})")
                + f" (s={s}, d={d}, H={hidden}). All seeds: |λ| > 0.9 {[int(n) for n in counts]}, test "
                f"accuracy {[round(float(a), 2) for a in accuracy]}, final curriculum horizon {list(final_horizon)}")
    return ("Bottleneck: fewer unit-circle eigenvalues than Φ", "Fig. 9: 63 near the circle vs 80 (H not given)",
            measured)


def init_claim_row(eigs: Mapping[str, np.ndarray], accuracy: Mapping[str, np.ndarray], s: int,
                   d: int) -> tuple[str, str, str]:
    """Fig. 14's claim beside the run: ``eigs[init]`` (M, H) and ``accuracy[init]`` (M,) for "uniform" and
    "gaussian"."""
    outer = {k: float(np.abs(v).max(axis=1).mean()) for k, v in eigs.items()}
    return ("Gaussian init: largest eigenvalues further out",
            "Fig. 14 (s = 8, d = 4): 32 eigenvalues outside the circle, at larger radii",
            f"{'seen' if outer['gaussian'] > outer['uniform'] else 'not seen'} at this preset: mean max |λ| uniform "
            f"{outer['uniform']:.3f}, Gaussian {outer['gaussian']:.3f}; test accuracy "
            f"{accuracy['uniform'].mean():.3f}, {accuracy['gaussian'].mean():.3f} (s={s}, d={d})")
