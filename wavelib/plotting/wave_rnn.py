"""Figures and tables of Chapter 3 (Wave-RNN on copy, adding and the Table 4 ablations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..experiments.wave_rnn_tasks import LABELS
from ..tasks.sequence_tasks import ADDING_SOLVED_MSE, memoryless_baseline
from .style import COLORS, figure, spacetime

_COLORS = {"wrnn": COLORS["wave"], "irnn": COLORS["static"], "irnn-large": COLORS["accent"]}
V_INIT_TEXT = {
    "sparse_identity": "sparse identity (paper): unit 0 (of every ring) gets weight 1 from every input, the rest 0; "
                       "bias 0",
    "normal": "N(0, 0.001) (the paper's grid), read as std 0.001 as the public code does; bias at PyTorch's "
              "default",
    "random": "PyTorch's default init (uniform weight and bias)",
}
"""What each ``init_v`` of :mod:`wavelib.models.wave_rnn` is, for the chapter's tables."""


def _color(model: str) -> str:
    return _COLORS.get(model, COLORS["wave"] if model.startswith("wrnn") else COLORS["static"])


def _plot_seed_curves(ax: Axes, history: Mapping[str, np.ndarray], task: str, T: int, models: Sequence[str],
                      seeds: int, name: str) -> None:
    """Curve ``name`` against training step for each model at ``T``: every seed thin, their geometric mean thick."""
    for model in models:
        runs = [f"{task}|T{T}|{model}|seed{s}" for s in range(seeds)]
        steps, curves = history[f"{runs[0]}|step"], np.stack([history[f"{k}|{name}"] for k in runs])
        for curve in curves:
            ax.plot(steps, curve, color=_color(model), lw=0.5, alpha=0.35)
        ax.plot(steps, np.exp(np.log(curves).mean(0)), color=_color(model), lw=1.6, label=LABELS[model])


def copy_curves_figure(history: Mapping[str, np.ndarray], Ts: Sequence[int], models: Sequence[str], seeds: int,
                       eval_batch: int, copy_format: str = "paper") -> Figure:
    """Fig. 3: the paper-comparable test loss (cross-entropy over all positions / test batch) against training
    step, log y, one panel per T; thin lines single seeds, thick their geometric mean; dashed the memoryless
    baseline ``10 ln 8 / L / batch``."""
    fig, axes = figure(len(Ts), width=2.6 * len(Ts) + 0.6, height=2.8, sharey=True)
    for ax, T in zip(axes[0], Ts):
        _plot_seed_curves(ax, history, "copy", T, models, seeds, "test_paper_comparable_loss")
        ax.axhline(memoryless_baseline(T, eval_batch, copy_format), color=COLORS["muted"], ls="--", lw=0.9,
                   label="memoryless")
        ax.set(yscale="log", title=f"copy, T = {T}", xlabel="training step")
    axes[0, 0].set(ylabel=f"test CE / batch ({eval_batch})")
    axes[0, -1].legend(fontsize=7)
    return fig


def example_recall_figure(history: Mapping[str, np.ndarray], T: int, models: Sequence[str]) -> Figure:
    """Fig. 4: one test sequence at T: the input tokens, the target, and each model's output probabilities
    (classes vertical, time horizontal) for seed 0."""
    first = f"copy|T{T}|{models[0]}|seed0"
    fig, axes = figure(1, nrows=2 + len(models), width=7.0, height=1.1 * (2 + len(models)) + 0.4, sharex=True)
    rows = [("input", np.eye(10)[history[f"{first}|example_input"]].T),
            ("target", np.eye(10)[history[f"{first}|example_target"]].T)]
    rows += [(f"{LABELS[m]} output", history[f"copy|T{T}|{m}|seed0|example_probs"].T) for m in models]
    for ax, (name, image) in zip(axes[:, 0], rows):
        ax.imshow(image, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set(ylabel=name, yticks=[0, 9])
        ax.axvline(T + 9.5, color=COLORS["wave"], lw=0.6, ls="--")
    axes[-1, 0].set(xlabel="time step (dashed: the delimiter)")
    fig.suptitle(f"copy, T = {T}: classes 0–9 (0 blank, 9 delimiter) over time", fontsize=9)
    return fig


def spacetime_figure(history: Mapping[str, np.ndarray], T: int, models: Sequence[str],
                     channels: int = 2, n: int | None = None) -> Figure:
    """The hidden state (units horizontal, time down) on the example copy input, seed 0: the wRNN's first
    ``channels`` rings of ``n`` units (diagonal bands: waves) beside the iRNN's units (stationary bumps)."""
    fig, axes = figure(len(models), width=3.3 * len(models), height=3.3)
    for ax, model in zip(axes[0], models):
        states = history[f"copy|T{T}|{model}|seed0|example_states"]
        if model == "wrnn" and n is not None:
            states = states[:, :channels * n]
        spacetime(ax, states, title=f"{LABELS[model]}" + (f", rings 0–{channels - 1}" if model == "wrnn" else ""),
                  xlabel="unit (channel × n + i)" if model == "wrnn" else "unit", symmetric=False)
        ax.axhline(T + 10, color="white", lw=0.6, ls="--")
    return fig


def adding_curves_figure(history: Mapping[str, np.ndarray], Ts: Sequence[int], models: Sequence[str],
                         seeds: int) -> Figure:
    """Fig. 5: test MSE of the final output against training step, one panel per T (log y); dotted: the
    "solved" threshold 0.05; dashed grey: predicting the mean (1/6)."""
    fig, axes = figure(len(Ts), width=2.6 * len(Ts) + 0.6, height=2.8, sharey=True)
    for ax, T in zip(axes[0], Ts):
        _plot_seed_curves(ax, history, "adding", T, models, seeds, "test_mse")
        ax.axhline(ADDING_SOLVED_MSE, color=COLORS["theory"], ls=":", lw=0.9, label="solved (0.05)")
        ax.axhline(1 / 6, color=COLORS["muted"], ls="--", lw=0.9, label="predict the mean")
        ax.set(yscale="log", title=f"adding, T = {T}", xlabel="training step")
    axes[0, 0].set(ylabel="test MSE")
    axes[0, -1].legend(fontsize=7)
    return fig


def solved_text(entry: Mapping) -> str:
    """An adding entry's solved step: mean over the seeds that solved, with their count, or "never"."""
    if entry["solved_step_mean"] is None:
        return "never"
    return f"{entry['solved_step_mean']:,.0f} ({entry['seeds_solved']}/{len(entry['solved_steps'])} seeds)"


def adding_table(metrics: Mapping[str, Mapping], Ts: Sequence[int],
                 models: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Table 1's layout: per model a final-test-MSE row (mean over seeds) and a solved-step row (mean over the
    seeds that reached MSE <= 0.05)."""
    header = ["model", ""] + [f"T = {T}" for T in Ts]
    rows = []
    for model in models:
        entries = [metrics[f"adding|T{T}|{model}"] for T in Ts]
        rows.append([LABELS[model], "test MSE"] + [f"{e['mse_mean']:.2g}" for e in entries])
        rows.append(["", "solved at step"] + [solved_text(e) for e in entries])
    return header, rows


def copy_table(metrics: Mapping[str, Mapping], task: str, Ts: Sequence[int],
               models: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Table 4's layout (``task`` "ablation") or the copy summary (``task`` "copy"): one row per model, one column
    per T: the best seed's paper-comparable loss, with the mean recall accuracy over seeds."""
    header = ["model", "parameters"] + [f"T = {T}: CE/batch (best) · recall acc." for T in Ts]
    rows = []
    for model in models:
        entries = [metrics[f"{task}|T{T}|{model}"] for T in Ts]
        rows.append([LABELS[model], f"{entries[0]['parameters']:,}"]
                    + [f"{e['paper_comparable_loss_best']:.1e} · {e['recall_accuracy_mean']:.3f}" for e in entries])
    return header, rows
