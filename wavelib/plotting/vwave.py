"""Figures and tables of Chapter 5 (v-Wave Mamba)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from ..models.short_mixers import cell_responses, vwave_states
from .style import COLORS, figure

#: Line colour of each model family: Mamba (v = 1) red, v-Wave blues, transformers greys/accents.
_FIXED = {"mamba": COLORS["static"], "alibi": COLORS["accent"], "rope": COLORS["theory"]}


def model_color(name: str, index: int = 0) -> str:
    """The colour of a model by name: Mamba red, transformers accent/black, v-Wave models shades of blue."""
    base = name.split("-K")[0]
    if base in _FIXED:
        return _FIXED[base]
    blues = ["#0b3c6e", "#1f6fb4", "#5d9fd6", "#a3c8ea", "#2a9d8f"]
    return blues[index % len(blues)]


def _colors(models: Sequence[str]) -> dict[str, str]:
    waves = [m for m in models if m.startswith("vwave")]
    return {m: model_color(m, waves.index(m) if m in waves else 0) for m in models}


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


def learning_curves_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int, seeds: int,
                           metric: str = "string_accuracy") -> Figure:
    """Fig. 2: accuracy on the fixed evaluation set against examples seen (log axis): every seed thin, the
    mean over seeds thick; one line per model."""
    fig, axes = figure(1, width=5.2, height=3.2)
    ax = axes[0, 0]
    colors = _colors(models)
    for name in models:
        runs = [f"L{length}|{name}|seed{s}" for s in range(seeds)]
        examples = history[f"{runs[0]}|examples"]
        curves = np.stack([history[f"{k}|{metric}"] for k in runs])
        for curve in curves:
            ax.plot(examples[1:], curve[1:], color=colors[name], lw=0.6, alpha=0.35)
        ax.plot(examples[1:], curves.mean(0)[1:], color=colors[name], lw=1.8, label=name)
    ax.set(xscale="log", xlabel="training examples seen", ylabel=metric.replace("_", " "), ylim=(-0.02, 1.02),
           title=f"copy, strings of length ≤ {length} ({seeds} seeds)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def generalisation_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int,
                          seeds: int) -> Figure:
    """String accuracy at the end of training against string length (mean over seeds); dashed: the longest
    training length."""
    fig, axes = figure(1, width=5.2, height=3.0)
    ax = axes[0, 0]
    colors = _colors(models)
    for name in models:
        runs = [f"L{length}|{name}|seed{s}" for s in range(seeds)]
        lengths = history[f"{runs[0]}|generalisation_lengths"]
        accuracy = np.stack([history[f"{k}|generalisation_string_accuracy"] for k in runs]).mean(0)
        ax.plot(lengths, accuracy, "o-", ms=3, color=colors[name], label=name)
    ax.axvline(length, color=COLORS["muted"], ls="--", lw=0.8)
    ax.set(xlabel="string length", ylabel="string accuracy", ylim=(-0.02, 1.02),
           title=f"length generalisation (trained on ≤ {length})")
    ax.legend(fontsize=7)
    return fig


def summary_rows(metrics: Mapping[str, Mapping[str, float | None]], models: Sequence[str],
                 length: int) -> tuple[list[str], list[list[str]]]:
    """One row per model: final string accuracy (mean, range), character accuracy, and the median examples
    seen to first reach 50% and 90% string accuracy ("not reached" unless every seed did)."""
    header = ["model", "final string accuracy (min–max)", "char accuracy", "examples to 50%", "examples to 90%"]
    rows = []
    for name in models:
        m = metrics[f"L{length}|{name}"]
        reach = [("not reached" if m[f"examples_to_{t}"] is None else f"{m[f'examples_to_{t}']:,.0f}")
                 for t in ("0.5", "0.9")]
        rows.append([name, f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–"
                     f"{m['string_accuracy_max']:.2f})", f"{m['char_accuracy_mean']:.3f}", *reach])
    return header, rows
