"""Figures and tables of Chapter 2 (Elman RNNs learn hidden traveling waves)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

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


def table1_detail_rows(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                       phi_counts: Mapping[str, int]) -> tuple[list[str], list[list[str]]]:
    """Per Table 1 cell: the seeds whose spectrum is indeterminate, the range over seeds of the eigenvalue counts
    at |λ| > 0.9 (the public code's cut) and at |λ| >= 1 (the paper's text) beside Φ's (``phi_counts[task]``: its
    nonzero eigenvalues, all on the unit circle), and the mean error over the determinate seeds with optimal and
    with greedy matching ("—" where none)."""
    header = ["cell", "seeds indeterminate", "count |λ| > 0.9: W_hh (Φ)", "count |λ| ≥ 1: W_hh (Φ)",
              "mean error, optimal matching", "mean error, greedy (code)"]
    rows = []
    for key, cell in metrics.items():
        phi = phi_counts[key.split("|")[0]]
        counts = [f"{n.min()}–{n.max()} ({phi})" if n.min() < n.max() else f"{n.min()} ({phi})"
                  for n in (history[f"{key}|n_learned"], history[f"{key}|n_at_least_one"])]
        optimal, greedy = history[f"{key}|error"], history[f"{key}|error_greedy"]
        found = ~np.isnan(optimal)
        errors = [f"{e[found].mean():.4f}" if found.any() else "—" for e in (optimal, greedy)]
        rows.append([key, str(cell["n_indeterminate"]), *counts, *errors])
    return header, rows


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
    """Fig. 3: A, the hidden state in the standard basis (T, H); B, the same states projected on the
    variable memories, one (slot × component) frame per chosen time step."""
    fig, axes = figure(len(times) + 1, width=1.45 * (len(times) + 1) + 1.5, height=2.8,
                       gridspec_kw={"width_ratios": [2.2] + [1] * len(times)})
    ax = axes[0, 0]
    limit = float(np.abs(raw).max()) or 1.0
    ax.imshow(raw, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.axhline(s - 0.5, color="black", lw=0.8, ls="--")
    ax.set(title="A: hidden state h(t)", xlabel="unit", ylabel="time step")
    for ax, t in zip(axes[0, 1:], times):
        signed_matrix(ax, frames[t], title=f"t = {t + 1}")
        ax.set(xticks=[], yticks=[])
    axes[0, 1].set(ylabel="slot (oldest → newest)", yticks=[0, s - 1])
    axes[0, 1].set_title(f"B: memories, t = {times[0] + 1}")
    return fig


def weights_in_basis_figure(matrices: Mapping[str, np.ndarray], n_memory: Mapping[str, int]) -> Figure:
    """Fig. 4: Re(Ψ⁺ W_hh Ψ) per task; the dashed lines close off the variable-memory block."""
    fig, axes = figure(len(matrices), width=3.3 * len(matrices), height=3.3)
    for ax, (name, M) in zip(axes[0], matrices.items()):
        limit = float(np.quantile(np.abs(M), 0.995)) or 1.0
        ax.imshow(np.clip(M, -limit, limit), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        k = n_memory[name]
        ax.axhline(k - 0.5, color="black", lw=0.6, ls="--")
        ax.axvline(k - 0.5, color="black", lw=0.6, ls="--")
        ax.set(title=TABLE1_LABELS.get(name, name), xlabel="from (basis index)", ylabel="to")
    return fig


def gradient_decay_rates(norms: np.ndarray) -> np.ndarray:
    """Decay rate of a per-input norm (G, M, s) per record and seed, (G, M) decades per step: MINUS the slope of
    log10(norm) against the distance s+1-i (0 = no vanishing; positive = weaker towards older inputs)."""
    return -distance_slope(np.log10(np.maximum(norms, 1e-30)))


def _log_spaced_records(steps: np.ndarray, n: int) -> list[int]:
    """Indices of up to ``n`` records (G,) spread evenly in log(step + 1), the first and last included."""
    wanted = np.geomspace(1, steps[-1] + 1, n)
    return sorted({int(np.argmin(np.abs(np.log(steps + 1.0) - np.log(w)))) for w in wanted})


def gradient_training_figure(grad_step: np.ndarray, jacobian_norms: np.ndarray, grad_norms: np.ndarray,
                             max_abs_eig: np.ndarray, n_curves: int = 6) -> Figure:
    """Fig. 5 from the records at ``grad_step`` (G,): A, ||∂h(s+1)/∂x(i)||_F/√d (G, M, s) against input index i
    at several points in training (mean over seeds); B, its decay rate and that of the cost gradient
    ||∂C(s+1)/∂x(i)|| (G, M, s) over training, beside the largest |eig(W_hh)| (G, M) (means over seeds)."""
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
              label="max |eig(W_hh)| (right axis)")
    twin.axhline(1.0, color=COLORS["wave"], lw=0.6, ls=":")
    twin.set_ylabel("max |eig(W_hh)|", color=COLORS["wave"])
    legend_below(fig, ax, twin)
    return fig


def eigenvalue_counts_figure(eigs: Mapping[str, np.ndarray], theory: np.ndarray, titles: Mapping[str, str],
                             accuracy: Mapping[str, np.ndarray] | None = None) -> Figure:
    """Figs. 9 and 14: every seed's eigenvalues of W_hh (M, H) against Φ's spectrum, one panel per run; with
    ``accuracy``, each run's test accuracy per seed (M,) under its title."""
    fig, axes = figure(len(eigs), width=3.4 * len(eigs), height=3.6 if accuracy else 3.4)
    for ax, (name, values) in zip(axes[0], eigs.items()):
        near = [int(n) for n in (np.abs(values) > 0.9).sum(axis=1)]
        scores = "" if accuracy is None else \
            "\ntest accuracy per seed: [" + ", ".join(f"{a:.2f}" for a in accuracy[name]) + "]"
        unit_circle(ax, values.ravel(), theory,
                    title=f"{titles[name]}\n|λ| > 0.9 per seed: {near} (Φ: {len(theory)}){scores}",
                    label="learned (all seeds)", reference_label="Φ")
        fit_unit_circle(ax, values)
    legend_below(fig, axes[0, 0], ncols=2)
    return fig
