"""Figures and tables of Chapter 5 (v-Wave Mamba)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from ..models.short_mixers import cell_responses, vwave_states
from .style import COLORS, figure

#: Fixed colours: Mamba (v = 1) red, v-Wave Mamba blues (lighter for slower waves), learned v teal, transformers.
_COLORS = {"mamba": COLORS["static"], "vwave-0.5": "#0b3c6e", "vwave-0.25": "#1f6fb4", "vwave-0.1": "#5d9fd6",
           "vwave-learned": "#2a9d8f", "alibi": COLORS["accent"], "rope": COLORS["theory"]}


def model_style(name: str) -> dict[str, str]:
    """Colour and line style of a model by name, the same in every figure: the colour of its base model (another
    fixed velocity v gets the blue of ``Blues`` at 0.4 + 0.55 v), dashed for a ``-K<cells>`` variant."""
    base, _, cells = name.partition("-K")
    color = _COLORS.get(base) or mpl.colors.to_hex(mpl.colormaps["Blues"](0.4 + 0.55 * float(base[6:])))
    return {"color": color, "ls": "--" if cells else "-"}


def _plot_seeds(ax: Axes, history: Mapping[str, np.ndarray], name: str, length: int, seeds: int,
                metric: str) -> None:
    """``metric`` of model ``name`` at ``length`` against examples seen: every seed thin against its own count,
    the mean over seeds thick against the mean count (the record at step 0 left out)."""
    runs = [f"L{length}|{name}|seed{s}" for s in range(seeds)]
    examples, curves = ([history[f"{k}|{key}"] for k in runs] for key in ("examples", metric))
    style = model_style(name)
    for x, y in zip(examples, curves):
        ax.plot(x[1:], y[1:], lw=0.6, alpha=0.35, **style)
    ax.plot(np.mean(examples, 0)[1:], np.mean(curves, 0)[1:], lw=1.8, label=name, **style)


def impulse_responses_figure(velocities: Sequence[float], cells: int = 4, length: int = 60) -> Figure:
    """Each cell's response to one input at the newest cell, for several velocities: one panel per v.

    Cell ``K-1-j`` first hears the pulse after ``j`` steps and peaks near ``j / v``: at v = 1 the K cells are a
    delay line of K steps; at v < 1 the same K cells reach back ~K/v steps, smeared."""
    fig, axes = figure(len(velocities), width=2.1 * len(velocities), height=2.4, sharey=True)
    t = np.arange(length)
    for ax, v in zip(axes[0], velocities):
        log_v = torch.tensor(math.log(v), dtype=torch.float64)
        log_1mv = torch.tensor(math.log1p(-v) if v < 1 else -math.inf, dtype=torch.float64)
        p = cell_responses(log_v, log_1mv, cells, length).numpy()
        for j in range(cells):
            shade = 0.25 + 0.75 * j / max(1, cells - 1)
            ax.plot(t, p[cells - 1 - j], color=COLORS["wave"], alpha=shade, lw=1.2, label=f"cell {cells - 1 - j}")
        ax.set(title=f"v = {v:g}", xlabel="delay (steps)")
    axes[0, 0].set(ylabel="response")
    axes[0, -1].legend(fontsize=7)
    return fig


def pulse_waves_figure(velocities: Sequence[float], cells: int = 16, length: int = 60,
                       pulses: Sequence[int] = (0, 12, 24)) -> Figure:
    """The shift SSM's state (cells vertical, time horizontal) driven by unit pulses: diagonal bands travelling
    at v cells per step, spreading when v < 1 (the untrained picture behind Fig. 1a of the abstract)."""
    x = torch.zeros(1, 1, length, dtype=torch.float64)
    x[..., list(pulses)] = 1.0
    fig, axes = figure(len(velocities), width=2.3 * len(velocities), height=2.4, sharey=True)
    for ax, v in zip(axes[0], velocities):
        h = vwave_states(x, v, cells)[0, 0].numpy()  # (K, L)
        ax.imshow(h, aspect="auto", origin="lower", cmap="magma", interpolation="nearest", vmin=0)
        ax.set(title=f"v = {v:g}", xlabel="time step")
    axes[0, 0].set(ylabel="cell (K-1 newest)")
    return fig


def mixer_states_figure(states: Mapping[str, np.ndarray], velocities: Mapping[str, np.ndarray],
                        split: int | None = None, channels: int = 8) -> Figure:
    """Fig. 1a: the short mixer's hidden state in layer 0 of trained models: the first ``channels`` channels
    stacked vertically, each a block of K cells (newest, K-1, at the top of its block, as in
    :func:`pulse_waves_figure`), time horizontal; ``states[name]`` (C, K, L); ``split`` marks the copy token."""
    names = list(states)
    fig, axes = figure(len(names), width=2.6 * len(names), height=3.2)
    for ax, name in zip(axes[0], names):
        h = states[name][:channels]
        image = h.reshape(-1, h.shape[-1])  # (C*K, L): row c*K + i is cell i of channel c
        limit = float(np.abs(image).max()) or 1.0
        ax.imshow(image, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit,
                  interpolation="nearest")
        for c in range(1, h.shape[0]):
            ax.axhline(c * h.shape[1] - 0.5, color="black", lw=0.5)
        if split is not None:
            ax.axvline(split, color="black", lw=0.6, ls="--")
        v = np.asarray(velocities[name])
        ax.set(title=f"{name} (v = {v.mean():.2g})" if v.std() < 1e-6 else f"{name} (mean v = {v.mean():.2g})",
               xlabel="token", yticks=[])
    axes[0, 0].set(ylabel=f"{h.shape[0]} channels × {h.shape[1]} cells")
    return fig


def loss_curves_figure(history: Mapping[str, np.ndarray], models: Sequence[str], lengths: Sequence[int],
                       seeds: int) -> Figure:
    """The counterpart of the abstract's Fig. 2: training loss (nats per answer token, mean over the steps since
    the previous record; log axis) against training examples seen, one panel per maximum string length; every
    seed thin, the mean over seeds thick."""
    fig, axes = figure(len(lengths), width=4.6 * len(lengths), height=3.2, sharey=True)
    for ax, length in zip(axes[0], lengths):
        for name in models:
            _plot_seeds(ax, history, name, length, seeds, "train_loss")
        ax.set(yscale="log", xlabel="training examples seen", title=f"copy, strings of length ≤ {length}")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes[0, 0].set(ylabel="training loss (nats / token)")
    axes[0, -1].legend(fontsize=7)
    return fig


def learning_curves_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int, seeds: int,
                           metric: str = "string_accuracy") -> Figure:
    """Accuracy on the fixed evaluation set (mean over every training length, each weighted equally) against
    examples seen (log axis): every seed thin, the mean over seeds thick; one line per model."""
    fig, axes = figure(1, width=5.2, height=3.2)
    ax = axes[0, 0]
    for name in models:
        _plot_seeds(ax, history, name, length, seeds, metric)
    ax.set(xscale="log", xlabel="training examples seen", ylabel=f"{metric.replace('_', ' ')} (mean over lengths)",
           ylim=(-0.02, 1.02), title=f"copy, strings of length ≤ {length} ({seeds} seeds)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def generalisation_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int,
                          seeds: int) -> Figure:
    """String accuracy at the end of training against string length (mean over seeds); dashed: the longest
    training length."""
    fig, axes = figure(1, width=5.2, height=3.0)
    ax = axes[0, 0]
    for name in models:
        runs = [f"L{length}|{name}|seed{s}" for s in range(seeds)]
        lengths = history[f"{runs[0]}|generalisation_lengths"]
        accuracy = np.stack([history[f"{k}|generalisation_string_accuracy"] for k in runs]).mean(0)
        ax.plot(lengths, accuracy, marker="o", ms=3, label=name, **model_style(name))
    ax.axvline(length, color=COLORS["muted"], ls="--", lw=0.8)
    ax.set(xlabel="string length", ylabel="string accuracy", ylim=(-0.02, 1.02),
           title=f"length generalisation (trained on ≤ {length})")
    ax.legend(fontsize=7)
    return fig


def summary_rows(metrics: Mapping[str, Mapping[str, float | None]], models: Sequence[str],
                 length: int) -> tuple[list[str], list[list[str]]]:
    """One row per model, at the end of training (means over seeds): string accuracy over all training lengths
    (with its range over seeds) and at the longest one, character accuracy, training loss, and the median examples
    seen to first reach 50% and 90% string accuracy ("not reached" unless every seed did)."""
    header = ["model", f"string accuracy, all lengths ≤ {length} (min–max)", f"string accuracy at {length}",
              "char accuracy", "training loss (nats)", "examples to 50%", "examples to 90%"]
    rows = []
    for name in models:
        m = metrics[f"L{length}|{name}"]
        reach = [("not reached" if m[f"examples_to_{t}"] is None else f"{m[f'examples_to_{t}']:,.0f}")
                 for t in ("0.5", "0.9")]
        rows.append([name, f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–"
                     f"{m['string_accuracy_max']:.2f})", f"{m['string_accuracy_at_max_mean']:.3f}",
                     f"{m['char_accuracy_mean']:.3f}", f"{m['train_loss_final_mean']:.3g}", *reach])
    return header, rows
