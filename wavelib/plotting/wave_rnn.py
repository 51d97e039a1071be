"""Figures and tables of Chapter 3 (Wave-RNN on copy, adding and the Table 4 ablations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ..experiments.wave_rnn_tasks import (LABELS, PAPER_TABLE1, PAPER_TABLE4, PAPER_TABLE7, WaveRNNTasksConfig,
                                          run_key)
from ..tasks.sequence_tasks import (ADDING_CONSTANT_BASELINE, ADDING_SOLVED_MSE, copy_layout, memoryless_baseline,
                                    reported_T_from_code)
from .style import COLORS, figure

_COLORS = {"wrnn": COLORS["wave"], "irnn": COLORS["static"], "irnn-large": COLORS["accent"]}
TABLE4_MISPRINT = "1 × 8⁻¹¹"
"""Table 4's wRNN entry at T = 80 as printed (every other entry reads "9 × 10⁻¹²" style)."""
V_INIT_TEXT = {
    "sparse_identity": "sparse identity (paper): unit 0 (of every ring) gets weight 1 from every input, the rest 0; "
                       "bias 0",
    "normal": "N(0, 0.001) (the paper's grid), read as std 0.001 as the public code does; bias at PyTorch's "
              "default",
    "random": "PyTorch's default init (uniform weight and bias)",
}
"""What each ``init_v`` of :mod:`wavelib.models.wave_rnn` is, for the chapter's tables."""
U_INIT_TEXT = {
    "shift": "u-shift (paper): new h[i] = old h[i+1] in every ring; bias at PyTorch's default",
    "normal": "N(0, 0.001), read as std 0.001 (the init the paper names for its best \"− u-shift-init\" models); "
              "bias at PyTorch's default",
    "uniform_sqrt_n": "U(−1/√n, 1/√n), n units per ring (the paper's grid); bias at PyTorch's default",
    "dirac": "Dirac: the identity on the centre tap (the paper's grid); bias at PyTorch's default",
    "identity": "identity, recurrent bias 0 (iRNN)",
    "sigma": "Σ: the shift matrix, recurrent bias 0",
}
"""What each ``init_u`` of :mod:`wavelib.models.wave_rnn` is; ``"random"`` is in :func:`init_text`."""


def init_text(kind: str, init_u: str) -> str:
    """The recurrent init ``init_u`` of a ``kind`` ("wrnn" or "irnn") model, in words."""
    if init_u != "random":
        return U_INIT_TEXT[init_u]
    if kind == "wrnn":
        return "PyTorch's default conv init, U(±1/√(3c)) (not in the paper's grid)"
    return "PyTorch's default nn.RNN init, U(±1/√n) (Table 5's \"U\")"


def ablation_init_table(config: WaveRNNTasksConfig) -> tuple[list[str], list[list[str]]]:
    """Per Table 4 row of ``config``: its recurrent (u / U) and V inits in words; where an init depends on T
    (the iRNN's Table 5 row), each T's."""
    rows = []
    for model in config.ablation_models:
        specs = {T: config.model_spec("ablation", model, T) for T in config.ablation_T}
        cells = []
        for words in (lambda spec: init_text(spec.kind, spec.init_u), lambda spec: V_INIT_TEXT[spec.init_v]):
            by_T = {T: words(spec) for T, spec in specs.items()}
            texts = list(dict.fromkeys(by_T.values()))
            cells.append(texts[0] if len(texts) == 1 else "; ".join(
                f"T = {', '.join(str(T) for T in by_T if by_T[T] == text)}: {text}" for text in texts))
        rows.append([LABELS[model], *cells])
    return ["Table 4 row", "u / U init on this page", "V init on this page"], rows


def orders_below(other: float, wrnn: float) -> str:
    """How many orders of magnitude ``wrnn`` lies below ``other`` (both losses), e.g. "+5.2 orders"; a zero loss
    has no logarithm, so it is said instead of divided by."""
    if wrnn > 0 and other > 0:
        return f"{np.log10(other / wrnn):+.1f} orders"
    return "undefined (a loss of exactly 0)"


def T_text(T: int, copy_format: str = "paper") -> str:
    """A copy ``T``: ``"T = 30"``, or in ``copy_format="code"`` ``"code T = 50 (reported 30)"`` (the pairing of
    :data:`~wavelib.tasks.sequence_tasks.REPORTED_T_OF_CODE_T`; "no reported T" outside the code's sweep)."""
    if copy_format == "paper":
        return f"T = {T}"
    reported = reported_T_from_code(T)
    return f"code T = {T} ({'no reported T' if reported is None else f'reported {reported}'})"


def _color(model: str) -> str:
    return _COLORS.get(model, COLORS["wave"] if model.startswith("wrnn") else COLORS["static"])


def _plot_seed_curves(ax: Axes, history: Mapping[str, np.ndarray], task: str, T: int, models: Sequence[str],
                      seeds: int, name: str) -> None:
    """Curve ``name`` against training step for each model at ``T``: every seed thin, their geometric mean thick
    (left out at steps where a seed's value is 0 or NaN: a log axis has no place for it)."""
    for model in models:
        runs = [run_key(task, T, model, s) for s in range(seeds)]
        steps, curves = history[f"{runs[0]}|step"], np.stack([history[f"{k}|{name}"] for k in runs])
        for curve in curves:
            ax.plot(steps, curve, color=_color(model), lw=0.5, alpha=0.35)
        positive = np.where(curves > 0, curves, np.nan)
        ax.plot(steps, np.exp(np.log(positive).mean(0)), color=_color(model), lw=1.6, label=LABELS[model])


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
        ax.set(yscale="log", title=f"copy, {T_text(T, copy_format)}", xlabel="training step")
    axes[0, 0].set(ylabel=f"test CE / batch ({eval_batch})")
    axes[0, -1].legend(fontsize=7)
    return fig


def example_recall_figure(history: Mapping[str, np.ndarray], T: int, models: Sequence[str],
                          copy_format: str = "paper") -> Figure:
    """Fig. 4: one test sequence at T: the input tokens, the target, and each model's output probabilities
    (classes vertical, time horizontal) for seed 0, grey 0 to 1 with a colour bar; dashed: where the delimiter of
    ``copy_format`` begins."""
    delimiter = copy_layout(T, copy_format).delimiter
    first = run_key("copy", T, models[0], 0)
    fig, axes = figure(1, nrows=2 + len(models), width=7.4, height=1.1 * (2 + len(models)) + 0.4, sharex=True)
    rows = [("input", np.eye(10)[history[f"{first}|example_input"]].T),
            ("target", np.eye(10)[history[f"{first}|example_target"]].T)]
    rows += [(LABELS[m], history[f"{run_key('copy', T, m, 0)}|example_probs"].T) for m in models]
    for ax, (name, image) in zip(axes[:, 0], rows):
        shown = ax.imshow(image, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1,
                          interpolation="nearest")
        ax.set(yticks=[0, 9])
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.axvline(delimiter - 0.5, color=COLORS["wave"], lw=0.6, ls="--")
    axes[-1, 0].set(xlabel="time step (dashed: the delimiter)")
    fig.colorbar(shown, ax=axes[2:, 0], label="probability", pad=0.02)
    fig.suptitle(f"copy, {T_text(T, copy_format)}: classes 0–9 (0 blank, 9 delimiter) over time; below the target, "
                 "each model's output probabilities", fontsize=9)
    return fig


def spacetime_figure(history: Mapping[str, np.ndarray], T: int, models: Sequence[str],
                     channels: int = 2, n: int | None = None, copy_format: str = "paper") -> Figure:
    """The hidden state (units horizontal, time down) on the example copy input, seed 0: the wRNN's first
    ``channels`` rings of ``n`` units (diagonal bands: waves) beside the iRNN's units (stationary bumps); dashed:
    the delimiter's step in ``copy_format``. Square-root colour scale up to each panel's 99.5th percentile (the
    activity often grows along the sequence: on a linear scale the input phase looks black), with a colour bar."""
    delimiter = copy_layout(T, copy_format).delimiter
    fig, axes = figure(len(models), width=3.9 * len(models), height=3.4)
    for ax, model in zip(axes[0], models):
        states = history[f"{run_key('copy', T, model, 0)}|example_states"]
        if model == "wrnn" and n is not None:
            states = states[:, :channels * n]
        top = float(np.percentile(states, 99.5)) or float(states.max()) or 1.0
        shown = ax.imshow(states, aspect="auto", interpolation="nearest", cmap="magma",
                          norm=PowerNorm(0.5, vmin=0, vmax=top))
        fig.colorbar(shown, ax=ax, label="activation (√ scale)", pad=0.02)
        ax.set(title=f"{LABELS[model]}" + (f", rings 0–{channels - 1}" if model == "wrnn" else ""),
               xlabel="unit (channel × n + i)" if model == "wrnn" else "unit", ylabel="time step")
        ax.axhline(delimiter, color="white", lw=0.6, ls="--")
    return fig


def adding_curves_figure(history: Mapping[str, np.ndarray], Ts: Sequence[int], models: Sequence[str],
                         seeds: int) -> Figure:
    """Fig. 5: test MSE of the final output against training step, one panel per T (log y); dotted: the
    "solved" threshold 0.05; dashed grey: predicting the mean (1/6)."""
    fig, axes = figure(len(Ts), width=2.6 * len(Ts) + 0.6, height=2.8, sharey=True)
    for ax, T in zip(axes[0], Ts):
        _plot_seed_curves(ax, history, "adding", T, models, seeds, "test_mse")
        ax.axhline(ADDING_SOLVED_MSE, color=COLORS["theory"], ls=":", lw=0.9, label="solved (0.05)")
        ax.axhline(ADDING_CONSTANT_BASELINE, color=COLORS["muted"], ls="--", lw=0.9, label="predict the mean")
        ax.set(yscale="log", title=f"adding, T = {T}", xlabel="training step")
    axes[0, 0].set(ylabel="test MSE")
    axes[0, -1].legend(fontsize=7)
    return fig


def _pm(mean: float, std: float | None, fmt: str) -> str:
    """``mean ± std`` in ``fmt`` (the std left out where there is none)."""
    return format(mean, fmt) + ("" if std is None else " ± " + format(std, fmt))


def solved_text(entry: Mapping) -> str:
    """An adding entry's solved step: mean ± sample std over the seeds that solved, with their count, or
    "never"."""
    if entry["solved_step_mean"] is None:
        return "never"
    return (f"{_pm(entry['solved_step_mean'], entry['solved_step_std'], ',.0f')} "
            f"({entry['seeds_solved']}/{len(entry['solved_steps'])} seeds)")


def paper_adding_text(model: str, T: int, row: str) -> str:
    """The paper's adding numbers of ``model`` at ``T`` for ``row`` "mse" or "solved": Table 1 (the best model)
    and Table 7 (mean ± sample std over 3 seeds), or "no paper value at this T"."""
    if (model, T) not in PAPER_TABLE1:
        return "no paper value at this T"
    best, (mse, solved) = PAPER_TABLE1[(model, T)], PAPER_TABLE7[(model, T)]
    if row == "mse":
        return f"T1: {best[0]:.2g}; T7: {_pm(mse[0], mse[1], '.2e')}"
    table1 = "never" if best[1] is None else f"{best[1]:,.0f}"
    return f"T1: {table1}; T7: " + ("never" if solved is None else _pm(solved[0], solved[1], ",.0f"))


def adding_table(metrics: Mapping[str, Mapping], Ts: Sequence[int],
                 models: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Table 1's layout: per model a final-test-MSE row and a solved-step row (mean ± sample std over the seeds,
    the solved step over the seeds that reached MSE <= 0.05), each T beside the paper's Table 1 (T1, the best
    model) and Table 7 (T7, mean ± sample std over 3 seeds)."""
    header = ["model", ""] + [h for T in Ts for h in (f"T = {T}", "paper")]
    rows = []
    for model in models:
        entries = {T: metrics[run_key("adding", T, model)] for T in Ts}
        rows.append([LABELS[model], "test MSE"] + [c for T, e in entries.items() for c in (
            _pm(e["mse_mean"], e["mse_std"], ".2g"), paper_adding_text(model, T, "mse"))])
        rows.append(["", "solved at step"] + [c for T, e in entries.items() for c in (
            solved_text(e), paper_adding_text(model, T, "solved"))])
    return header, rows


def paper_table4_text(model: str, T: int) -> str:
    """The paper's Table 4 value of ``model`` at reported ``T``: "1e-10", "misprint", or "no paper value at this
    T"."""
    if (model, T) not in PAPER_TABLE4:
        return "no paper value at this T"
    value = PAPER_TABLE4[(model, T)]
    return f"misprint (“{TABLE4_MISPRINT}”)" if value is None else f"{value:.0e}"


def code_loss(entry: Mapping[str, float]) -> float | None:
    """The best seed's CE/batch computed in float32, as the paper's code computes its "test MSE" (the number to rank
    beside Table 4's); None for an artifact from before it was recorded (``--retrain`` records it)."""
    return entry.get("paper_comparable_loss_float32_best")


def copy_table(metrics: Mapping[str, Mapping], task: str, Ts: Sequence[int], models: Sequence[str],
               copy_format: str = "paper") -> tuple[list[str], list[list[str]]]:
    """Table 4's layout (``task`` "ablation") or the copy summary (``task`` "copy"): one row per model, one column
    per T: the best seed's paper-comparable loss, with the mean recall accuracy over seeds; for ``task``
    "ablation" each T beside the paper's Table 4 value (the best model's "test MSE", i.e. CE/batch)."""
    header = ["model", "parameters"]
    for T in Ts:
        header += [f"{T_text(T, copy_format)}: CE/batch, best seed (in float32 as the code, its own best seed) · "
                   "recall acc."] + (
            ["paper"] if task == "ablation" else [])
    rows = []
    for model in models:
        row = [LABELS[model], f"{metrics[run_key(task, Ts[0], model)]['parameters']:,}"]
        for T in Ts:
            e = metrics[run_key(task, T, model)]
            as_code = code_loss(e)
            row.append(f"{e['paper_comparable_loss_best']:.1e} ("
                       + ("not recorded" if as_code is None else f"{as_code:.1e}")
                       + f") · {e['recall_accuracy_mean']:.3f}")
            if task == "ablation":
                row.append(paper_table4_text(model, reported_T_from_code(T) if copy_format == "code" else T))
        rows.append(row)
    return header, rows


def copy_claim_text(T: int | None) -> str:
    """What the paper says about the wRNN against the iRNNs on the copy task at reported ``T`` (None: a run with no
    reported T): Fig. 3 shows T = 0, 30, 80; Fig. 4 shows examples at several T, up to 480."""
    if T in (0, 30, 80):
        return "Fig. 3: > 5 orders of magnitude lower"
    if T == 480:
        return ("Fig. 4 (examples at several T, up to 480): the wRNN \"remains perfect at T=480\" (MSE ~1e-9), the "
                "iRNN (n = 625) \"loses significant accuracy after T=10\"; no loss curve (Fig. 3 has T = 0, 30, 80)")
    return "not shown (Fig. 3 has T = 0, 30, 80: > 5 orders of magnitude lower)"


def table4_claim_text(models: Sequence[str], T: int) -> str:
    """The paper's Table 4 at reported ``T`` as a ranking of ``models`` by its values (or where it has no such T,
    which T it has)."""
    values = {m: PAPER_TABLE4[(m, T)] for m in models if (m, T) in PAPER_TABLE4}
    if not values:
        return "not in Table 4 (T = 0, 10, 30, 80); its text: the full wRNN performs best"
    known = sorted((v, m) for m, v in values.items() if v is not None)
    text = "Table 4: " + "".join((" = " if k and v == known[k - 1][0] else " < " if k else "")
                                 + f"{LABELS[m]} ({v:.0e})" for k, (v, m) in enumerate(known))
    missing = [LABELS[m] for m, v in values.items() if v is None]
    return text + (f"; {', '.join(missing)}: misprint “{TABLE4_MISPRINT}” (1e-11 or 8e-11)" if missing else "")


def sigma_claim_text(T: int) -> str:
    """Table 4's gain of the iRNN from the Σ init at reported ``T``, in orders of magnitude."""
    if ("irnn", T) not in PAPER_TABLE4:
        return "Table 4: 1.7 to 4.5 orders (T = 0, 10, 30, 80: 4, 4.5, 4, 1.7)"
    before, after = PAPER_TABLE4[("irnn", T)], PAPER_TABLE4[("irnn-sigma", T)]
    return f"Table 4: {np.log10(before / after):.1f} orders ({before:.0e} → {after:.0e})"


def table4_agreement_text(metrics: Mapping[str, Mapping], models: Sequence[str], T: int, reported: int,
                          copy_format: str = "paper") -> str:
    """Which of Table 4's pairwise orderings at reported ``T`` (pairs the paper ranks strictly, by the best
    model's CE/batch) hold among this page's runs at ``T`` (the best seed's CE/batch in float32, as the paper's code
    computes it: :func:`code_loss`; the float64 one for an artifact without it, said so), and the Σ-init gain of
    the iRNN beside the paper's; "" where the paper has no such T."""
    paper = {m: PAPER_TABLE4.get((m, reported)) for m in models}
    entries = {m: metrics[run_key("ablation", T, m)] for m in models}
    as_code = all(code_loss(e) is not None for e in entries.values())
    ours = {m: code_loss(e) if as_code else e["paper_comparable_loss_best"] for m, e in entries.items()}
    pairs = [(a, b) for a in models for b in models
             if paper[a] is not None and paper[b] is not None and paper[a] < paper[b]]
    if not pairs:
        return ""
    failing = [(a, b) for a, b in pairs if not ours[a] < ours[b]]
    text = (f"Of the {len(pairs)} pairs of rows that Table 4 ranks at T = {reported}, {len(pairs) - len(failing)} keep "
            f"their order here ({T_text(T, copy_format)}; CE/batch "
            + ("in float32, as the paper's code computes it" if as_code else
               "in float64: this artifact predates the float32 number, `--retrain` records it") + ").")
    if failing:
        text += " Reversed or tied: " + "; ".join(
            f"{LABELS[a]} below {LABELS[b]} (paper {paper[a]:.0e} < {paper[b]:.0e}; here {ours[a]:.1e} vs "
            f"{ours[b]:.1e})" for a, b in failing) + "."
    if {"irnn", "irnn-sigma"} <= set(models) and paper["irnn"] and paper["irnn-sigma"]:
        losses = [entries[m]["paper_comparable_loss_best"] for m in ("irnn", "irnn-sigma")]
        gain = np.log10(losses[0] / losses[1])
        text += (f" Σ-init improves the iRNN by {gain:+.1f} orders of magnitude here (the losses themselves, in "
                 f"float64: float32 may round one to 0), {np.log10(paper['irnn'] / paper['irnn-sigma']):+.1f} in the "
                 "paper.")
    return text


def claims_rows(config: WaveRNNTasksConfig, copy_metrics: Mapping[str, Mapping] | None,
                adding_metrics: Mapping[str, Mapping] | None, ablation_metrics: Mapping[str, Mapping] | None,
                missing: str) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, paper, measured) per row: copy (wRNN below each iRNN, per T), adding
    (who solves sooner, per T), Table 4 (the ranking, and the Σ-init gain, per T); an experiment not computed (its
    metrics None) gets one row saying ``missing``."""
    def ce(metrics: Mapping[str, Mapping], task: str, T: int, m: str) -> float:
        return metrics[run_key(task, T, m)]["paper_comparable_loss_best"]

    def accuracy(metrics: Mapping[str, Mapping], task: str, T: int, m: str) -> float:
        return metrics[run_key(task, T, m)]["recall_accuracy_mean"]

    rows = []
    for T in config.copy_T if copy_metrics is not None else []:
        for other in [m for m in ("irnn", "irnn-large") if m in config.copy_models]:
            if "wrnn" in config.copy_models:
                w, o = ce(copy_metrics, "copy", T, "wrnn"), ce(copy_metrics, "copy", T, other)
                rows.append((f"copy {T_text(T, config.copy_format)}: wRNN below {LABELS[other]}",
                             copy_claim_text(config.reported_T("copy", T)),
                             f"{orders_below(o, w)} (CE/batch {w:.1e} vs {o:.1e}); recall accuracy "
                             f"{accuracy(copy_metrics, 'copy', T, 'wrnn'):.3f} vs "
                             f"{accuracy(copy_metrics, 'copy', T, other):.3f}"))
    for T in config.adding_T if adding_metrics is not None else []:
        if {"wrnn", "irnn"} <= set(config.adding_models):
            w, i = adding_metrics[run_key("adding", T, "wrnn")], adding_metrics[run_key("adding", T, "irnn")]
            rows.append((f"adding T = {T}: wRNN solves sooner than the iRNN",
                         "Table 1: orders of magnitude sooner; iRNN never at T ≥ 700",
                         f"solved at: wRNN {solved_text(w)}, iRNN {solved_text(i)}; final MSE {w['mse_mean']:.2g} "
                         f"vs {i['mse_mean']:.2g}"))
    for T in config.ablation_T if ablation_metrics is not None else []:
        reported = config.reported_T("ablation", T)
        order = sorted(config.ablation_models, key=lambda m: ce(ablation_metrics, "ablation", T, m))
        rows.append((f"Table 4, {T_text(T, config.copy_format)}: ranking of the rows",
                     table4_claim_text(config.ablation_models, reported),
                     "ranking by CE/batch (best seed): " + " < ".join(LABELS[m] for m in order)))
        if {"irnn", "irnn-sigma"} <= set(config.ablation_models):
            before = ce(ablation_metrics, "ablation", T, "irnn")
            after = ce(ablation_metrics, "ablation", T, "irnn-sigma")
            rows.append((f"Table 4, {T_text(T, config.copy_format)}: Σ-init improves the iRNN",
                         sigma_claim_text(reported),
                         f"{orders_below(before, after)} (CE/batch {before:.1e} → {after:.1e})"))
    claims_of = {"copy": "Fig. 3 (T = 0, 30, 80): wRNN > 5 orders of magnitude below the iRNNs",
                 "adding": "Table 1: wRNN solves orders of magnitude sooner",
                 "ablations": "Table 4: the full wRNN best at T = 0 and 30 (at T = 10 − V-init); Σ-init improves "
                              "the iRNN by 1.7 to 4.5 orders"}
    return rows + [(f"experiment `{name}`", claims_of[name], missing)
                   for name, metrics in (("copy", copy_metrics), ("adding", adding_metrics),
                                         ("ablations", ablation_metrics)) if metrics is None]
