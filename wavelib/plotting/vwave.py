"""Figures of Chapter 5 (v-Wave Mamba); its computed texts and tables are in the ``vwave_*_text`` modules (the
measures they share: :mod:`.vwave_numbers`), its claims table in :mod:`.vwave_claims`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..experiments.vwave import run_key
from ..models.short_mixers import cell_gains, cell_responses, reach, vwave_states
from ..reporting import live_widgets, widgets_left_out
from .style import COLORS, figure

if TYPE_CHECKING:
    from ipywidgets import interactive

#: Fixed colours: Mamba (v = 1) red, v-Wave Mamba blues (lighter for slower waves), learned v teal, transformers
#: yellow (ALiBi) and purple (RoPE).
_COLORS = {"mamba": COLORS["static"], "vwave-0.5": "#08306b", "vwave-0.25": "#3a7fc1", "vwave-0.1": "#9cc9e8",
           "vwave-learned": "#2a9d8f", "alibi": COLORS["accent"], "rope": "#9b4dca"}
TRANSFORMERS = ("alibi", "rope")
GAIN_REACHES = 40  #: a cell's whole response is summed over this many reaches (K/v steps each): the tail is < 1e-12


def model_style(name: str) -> dict[str, str]:
    """Colour and line style of a model by name, the same in every figure: the colour of its base model (another
    fixed velocity v gets the blue of ``Blues`` at 0.4 + 0.55 v); dashed for a ``-K<cells>`` variant, dash-dot for
    the transformers."""
    base, _, cells = name.partition("-K")
    color = _COLORS.get(base) or mpl.colors.to_hex(mpl.colormaps["Blues"](0.4 + 0.55 * float(base[6:])))
    return {"color": color, "ls": "--" if cells else "-." if base in TRANSFORMERS else "-"}


def _plot_seeds(ax: Axes, history: Mapping[str, np.ndarray], name: str, length: int, seeds: int,
                metric: str) -> None:
    """``metric`` of model ``name`` at ``length`` against examples seen: every seed thin against its own count,
    the median over seeds thick against the median count (the record at step 0 left out). The median, not the
    mean: a loss on a log axis, and the claims' factors, are medians over seeds too."""
    runs = [run_key(length, name, s) for s in range(seeds)]
    examples, curves = ([history[f"{k}|{key}"] for k in runs] for key in ("examples", metric))
    style = model_style(name)
    for x, y in zip(examples, curves):
        ax.plot(x[1:], y[1:], lw=0.6, alpha=0.35, **style)
    ax.plot(np.median(examples, 0)[1:], np.median(curves, 0)[1:], lw=1.8, label=name, **style)


def examples_label(x: float, _position: Any = None) -> str:
    """A count of examples as a short tick label: 30k, 100k, 1.5M."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:g}M"
    return f"{x / 1e3:g}k" if abs(x) >= 1e3 else f"{x:g}"


def _examples_axis(ax: Axes, log: bool) -> None:
    """Tick labels of an examples axis that do not collide: 1, 2, 5 × 10^k on a log axis, minor ticks unlabelled,
    every label short (:func:`examples_label`)."""
    if log:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(examples_label))


def impulse_responses_figure(velocities: Sequence[float], cells: int = 4, length: int = 60) -> Figure:
    """Each cell's response to one input at the newest cell, for several velocities: one panel per v, on a shared
    y axis; each title gives the sum of every cell's whole response, its gain at DC (1/v, :func:`cell_gains`). Each
    panel shows the first 2(K-1)/v steps (at least 8, at most ``length``), twice the oldest cell's mean arrival time;
    a dot marks each step where a panel shows at most 16.

    Cell ``K-1-j`` first hears the pulse after ``j`` steps and peaks near ``j / v``: at v = 1 the K cells are a
    delay line of K steps; at v < 1 the same K cells hold an input K/v steps on average (:func:`reach`), smeared."""
    fig, axes = figure(len(velocities), width=2.1 * len(velocities), height=2.4, sharey=True)
    t = np.arange(length)
    for ax, v in zip(axes[0], velocities):
        log_v = torch.tensor(math.log(v), dtype=torch.float64)
        log_1mv = torch.tensor(math.log1p(-v) if v < 1 else -math.inf, dtype=torch.float64)
        p = cell_responses(log_v, log_1mv, cells, length).numpy()
        shown = min(length - 1, max(8, math.ceil(2 * (cells - 1) / v)))
        for j in range(cells):
            shade = 0.45 + 0.55 * j / max(1, cells - 1)
            ax.plot(t, p[cells - 1 - j], color=COLORS["wave"], alpha=shade, lw=1.2, label=f"cell {cells - 1 - j}",
                    marker="o" if shown <= 16 else None, ms=2.5)
        gain = float(cell_gains(v, cells, math.ceil(GAIN_REACHES * reach(v, cells)))[0].mean())
        ax.set(title=f"v = {v:g}\neach cell sums to {gain:.3g}", xlabel="delay (steps)", xlim=(-0.5, shown + 0.5))
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    axes[0, 0].set(ylabel="response")
    if cells <= 8:  # beyond, the legend would hide the curves
        axes[0, -1].legend(fontsize=7)
    return fig


def oldest_cell_peak(v: float, cells: int, length: int) -> int:
    """The delay (steps) at which cell 0, the oldest of ``cells``, responds most to one input: within a step of
    (K-1)/v, the mean time an input takes to arrive there."""
    log_v = torch.tensor(math.log(v), dtype=torch.float64)
    log_1mv = torch.tensor(math.log1p(-v) if v < 1 else -math.inf, dtype=torch.float64)
    return int(cell_responses(log_v, log_1mv, cells, length)[0].argmax())


def velocity_explorer() -> interactive | None:
    """An ipywidgets explorer over one shift-SSM channel's velocity v and cells K: its state under unit pulses
    (:func:`pulse_waves_figure`), its cells' impulse responses (:func:`impulse_responses_figure`), where the
    oldest cell peaks and the channel's reach, K/v (:func:`reach`; needs a live kernel). None, with a line saying
    so, in an unattended run (:func:`~wavelib.reporting.live_widgets`)."""
    if not live_widgets():
        widgets_left_out()
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(v: float, cells: int) -> None:
        length = max(60, math.ceil(1.5 * (cells - 1) / v) + 20)  # the oldest cell's peak, near (K-1)/v, in view
        pulse_waves_figure([v], cells=cells, length=length)
        impulse_responses_figure([v], cells=cells, length=length)
        plt.show()
        print(f"v = {v:g}, K = {cells}: the oldest cell peaks {oldest_cell_peak(v, cells, length)} steps after an "
              f"input (it arrives there after (K-1)/v = {(cells - 1) / v:.1f} steps on average); an input stays "
              f"K/v = {reach(v, cells):.1f} steps in the cells (the reach), 1/v = {1 / v:.3g} in each, so each "
              f"cell's response sums to {1 / v:.3g}. At v = 1: {reach(1.0, cells):g} steps, the last {cells} inputs.")

    return widgets.interactive(
        draw,
        v=widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="velocity v"),
        cells=widgets.IntSlider(value=4, min=1, max=32, description="cells K"),
    )


def pulse_waves_figure(velocities: Sequence[float], cells: int = 16, length: int = 60,
                       pulses: Sequence[int] = (0, 12, 24)) -> Figure:
    """The shift SSM's state (cells vertical, time horizontal) driven by unit pulses: diagonal bands travelling
    at v cells per step, spreading when v < 1 (the mixer alone, untrained). Every panel has the same colour scale,
    from 0 to the largest state of any panel (the colour bar)."""
    x = torch.zeros(1, 1, length, dtype=torch.float64)
    x[..., list(pulses)] = 1.0
    fig, axes = figure(len(velocities), width=2.3 * len(velocities) + 0.6, height=2.4, sharey=True)
    states = [vwave_states(x, v, cells)[0, 0].numpy() for v in velocities]  # each (K, L)
    top = max(float(h.max()) for h in states)
    for ax, v, h in zip(axes[0], velocities, states):
        image = ax.imshow(h, aspect="auto", origin="lower", cmap="magma", interpolation="nearest", vmin=0, vmax=top)
        ax.set(title=f"v = {v:g}", xlabel="time step")
    axes[0, 0].set(ylabel="cell (K-1 newest)")
    fig.colorbar(image, ax=axes[0].tolist(), label="state h (pulses of 1)", fraction=0.03, pad=0.02)
    return fig


def mixer_states_figure(states: Mapping[str, np.ndarray], velocities: Mapping[str, np.ndarray],
                        inputs: Mapping[str, np.ndarray], split: int | None = None, channels: int = 8) -> Figure:
    """This book's counterpart of Fig. 1a: the short mixer's hidden state in layer 0 of trained models: the first
    ``channels`` channels stacked vertically, each a block of K cells (newest, K-1, at the top of its block, as in
    :func:`pulse_waves_figure`), time horizontal; ``states[name]`` (C, K, L); ``split`` marks the copy token. Each
    panel has its own colour scale: its title gives the largest |h| and the largest |x| of ``inputs[name]`` (C, L),
    the mixer's input in those channels."""
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
        scale = f"|h| ≤ {limit:.2g}, input |x| ≤ {np.abs(inputs[name][:channels]).max():.2g}"
        ax.set(title=(f"{name} (v = {v.mean():.2g})" if v.std() < 1e-6 else f"{name} (mean v = {v.mean():.2g})")
               + f"\n{scale}", xlabel="token", yticks=[])
    axes[0, 0].set(ylabel=f"{h.shape[0]} channels × {h.shape[1]} cells")
    return fig


def loss_curves_figure(history: Mapping[str, np.ndarray], models: Sequence[str], lengths: Sequence[int],
                       seeds: int) -> Figure:
    """The counterpart of the abstract's Fig. 2: training loss (nats per answer token, mean over the steps since
    the previous record; log axis) against training examples seen, one panel per maximum string length; every
    seed thin, the median over seeds thick."""
    fig, axes = figure(len(lengths), width=4.6 * len(lengths), height=3.2, sharey=True)
    for ax, length in zip(axes[0], lengths):
        for name in models:
            _plot_seeds(ax, history, name, length, seeds, "train_loss")
        ax.set(yscale="log", xlabel="training examples seen",
               title=f"copy, strings of length ≤ {length} ({seeds} seeds; thick: median)")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        _examples_axis(ax, log=False)
    axes[0, 0].set(ylabel="training loss (nats / token)")
    axes[0, -1].legend(fontsize=7)
    return fig


def _flat_lines_note(ax: Axes, names: Sequence[str], what: str) -> None:
    """Name, at the bottom right of ``ax``, the models whose lines lie on top of each other at 0 (``what``: where)."""
    if len(names) > 1:
        listed = ",\n".join(", ".join(names[i:i + 3]) for i in range(0, len(names), 3))
        ax.text(0.98, 0.04, f"{what}\n(lines on top of each other):\n{listed}", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7, color="0.2",
                path_effects=[patheffects.withStroke(linewidth=2, foreground="white")])


def learning_curves_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int, seeds: int,
                           metric: str = "string_accuracy") -> Figure:
    """Accuracy on the fixed evaluation set (mean over every training length, each weighted equally) against
    examples seen (log axis): every seed thin, the median over seeds thick; one line per model. The models whose
    every seed stays at most 0.01 throughout, whose lines lie on top of each other, are named in a note."""
    fig, axes = figure(1, width=5.2, height=3.2)
    ax = axes[0, 0]
    for name in models:
        _plot_seeds(ax, history, name, length, seeds, metric)
    _flat_lines_note(ax, [m for m in models if max(history[f"{run_key(length, m, s)}|{metric}"].max()
                                                   for s in range(seeds)) <= 0.01], "at most 0.01 throughout")
    ax.set(xscale="log", xlabel="training examples seen", ylabel=f"{metric.replace('_', ' ')} (mean over lengths)",
           ylim=(-0.02, 1.02), title=f"copy, strings of length ≤ {length} ({seeds} seeds; thick: median)")
    _examples_axis(ax, log=True)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def generalisation_scores(history: Mapping[str, np.ndarray], name: str, length: int,
                    seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """The generalisation set's lengths and ``name``'s final string accuracy at each (mean over seeds)."""
    runs = [run_key(length, name, s) for s in range(seeds)]
    lengths = np.asarray(history[f"{runs[0]}|generalisation_lengths"])
    return lengths, np.stack([history[f"{k}|generalisation_string_accuracy"] for k in runs]).mean(0)


def generalisation_figure(history: Mapping[str, np.ndarray], models: Sequence[str], length: int,
                          seeds: int) -> Figure:
    """String accuracy at the end of training against string length (mean over ``seeds`` seeds, on the
    generalisation set); dashed: the longest training length. Lines join only lengths that were scored: the
    training lengths (every one) and, thinner, the longer ones; between the longest training length and the first
    longer one, if lengths were skipped there, no line but a grey band. The models at exactly 0 at every longer
    length, whose lines there lie on top of each other, are named in a note above them."""
    fig, axes = figure(1, width=5.2, height=3.0)
    ax = axes[0, 0]
    gap, zero = None, []
    for name in models:
        lengths, accuracy = generalisation_scores(history, name, length, seeds)
        inside = lengths <= length
        style = model_style(name)
        ax.plot(lengths[inside], accuracy[inside], marker="o", ms=3, label=name, **style)
        beyond = np.flatnonzero(~inside)
        if beyond.size:
            joined = beyond if lengths[beyond[0]] > length + 1 else np.r_[beyond[0] - 1, beyond]
            ax.plot(lengths[joined], accuracy[joined], marker="o", ms=3, lw=0.9, alpha=0.8, **style)
            gap = (length, int(lengths[beyond[0]])) if lengths[beyond[0]] > length + 1 else gap
            if np.all(accuracy[beyond] == 0):
                zero.append(name)
    _flat_lines_note(ax, zero, f"exactly 0 at every length > {length}")
    if gap:
        ax.axvspan(gap[0] + 0.5, gap[1] - 0.5, color=COLORS["muted"], alpha=0.15, lw=0)
    ax.axvline(length, color=COLORS["muted"], ls="--", lw=0.8)
    ax.set(xlabel="string length", ylabel="string accuracy", ylim=(-0.02, 1.02),
           title=f"length generalisation (trained on ≤ {length}; mean of {seeds} seeds)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    return fig
