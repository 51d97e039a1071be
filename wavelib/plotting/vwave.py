"""Figures and tables of Chapter 5 (v-Wave Mamba)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from ..experiments.vwave import LOSS_THRESHOLDS, THRESHOLDS, VWaveConfig, first_crossing, run_key
from ..models.language_models import LEARNED_V_START
from ..models.short_mixers import cell_responses, vwave_states
from .style import COLORS, figure

SPEEDUP = 10.0  #: "exponentially faster" read as at least this factor fewer training examples

#: Fixed colours: Mamba (v = 1) red, v-Wave Mamba blues (lighter for slower waves), learned v teal, transformers
#: yellow (ALiBi) and purple (RoPE).
_COLORS = {"mamba": COLORS["static"], "vwave-0.5": "#08306b", "vwave-0.25": "#3a7fc1", "vwave-0.1": "#9cc9e8",
           "vwave-learned": "#2a9d8f", "alibi": COLORS["accent"], "rope": "#9b4dca"}
_TRANSFORMERS = ("alibi", "rope")


def model_style(name: str) -> dict[str, str]:
    """Colour and line style of a model by name, the same in every figure: the colour of its base model (another
    fixed velocity v gets the blue of ``Blues`` at 0.4 + 0.55 v); dashed for a ``-K<cells>`` variant, dash-dot for
    the transformers."""
    base, _, cells = name.partition("-K")
    color = _COLORS.get(base) or mpl.colors.to_hex(mpl.colormaps["Blues"](0.4 + 0.55 * float(base[6:])))
    return {"color": color, "ls": "--" if cells else "-." if base in _TRANSFORMERS else "-"}


def _plot_seeds(ax: Axes, history: Mapping[str, np.ndarray], name: str, length: int, seeds: int,
                metric: str) -> None:
    """``metric`` of model ``name`` at ``length`` against examples seen: every seed thin against its own count,
    the mean over seeds thick against the mean count (the record at step 0 left out)."""
    runs = [run_key(length, name, s) for s in range(seeds)]
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
    """String accuracy at the end of training against string length (mean over ``seeds`` seeds, on the
    generalisation set); dashed: the longest training length."""
    fig, axes = figure(1, width=5.2, height=3.0)
    ax = axes[0, 0]
    for name in models:
        runs = [run_key(length, name, s) for s in range(seeds)]
        lengths = history[f"{runs[0]}|generalisation_lengths"]
        accuracy = np.stack([history[f"{k}|generalisation_string_accuracy"] for k in runs]).mean(0)
        ax.plot(lengths, accuracy, marker="o", ms=3, label=name, **model_style(name))
    ax.axvline(length, color=COLORS["muted"], ls="--", lw=0.8)
    ax.set(xlabel="string length", ylabel="string accuracy", ylim=(-0.02, 1.02),
           title=f"length generalisation (trained on ≤ {length}; mean of {seeds} seeds)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    return fig


def summary_rows(metrics: Mapping[str, Mapping[str, float | None]], models: Sequence[str],
                 length: int) -> tuple[list[str], list[list[str]]]:
    """One row per model, at the end of training (means over seeds): string accuracy over all training lengths
    (with its range over seeds) and at the longest one, character accuracy, training loss, and the median examples
    seen to first reach 50% and 90% string accuracy ("not reached" unless every seed did)."""
    header = ["model", f"string accuracy, all lengths ≤ {length} (min–max over seeds)",
              f"string accuracy at {length}", "char accuracy", "training loss (nats)", "examples to 50%",
              "examples to 90%"]
    rows = []
    for name in models:
        m = metrics[run_key(length, name)]
        reach = [("not reached" if m[f"examples_to_{t}"] is None else f"{m[f'examples_to_{t}']:,.0f}")
                 for t in ("0.5", "0.9")]
        rows.append([name, f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–"
                     f"{m['string_accuracy_max']:.2f})", f"{m['string_accuracy_at_max_mean']:.3f}",
                     f"{m['char_accuracy_mean']:.3f}", f"{m['train_loss_final_mean']:.3g}", *reach])
    return header, rows


def _accuracy(metrics: Mapping[str, Mapping[str, float | None]], name: str, length: int) -> str:
    m = metrics[run_key(length, name)]
    return f"{m['string_accuracy_mean']:.3f} (seeds {m['string_accuracy_min']:.2f}–{m['string_accuracy_max']:.2f})"


def _overlap(metrics: Mapping[str, Mapping[str, float | None]], a: str, b: str, length: int) -> int:
    """-1, 0 or 1: every seed of ``a`` ends below every seed of ``b``, the ranges over seeds overlap, or above."""
    ma, mb = metrics[run_key(length, a)], metrics[run_key(length, b)]
    if ma["string_accuracy_max"] < mb["string_accuracy_min"]:
        return -1
    return 1 if ma["string_accuracy_min"] > mb["string_accuracy_max"] else 0


#: the learning-speed measures: history key -> (levels, whether it falls to them, its name, a level in words)
SPEED_MEASURES = {
    "train_loss": (LOSS_THRESHOLDS, True, "training loss", lambda level: f"{level:g} nats"),
    "string_accuracy": (THRESHOLDS, False, "string accuracy", lambda level: f"{level:.0%}"),
}


def _crossings(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int, threshold: float,
               measure: str = "string_accuracy") -> list[float]:
    """Per seed, the examples seen when ``measure`` (:data:`SPEED_MEASURES`) first reached ``threshold``
    (inf if never)."""
    below = SPEED_MEASURES[measure][1]
    crossings = [first_crossing(history[f"{run_key(length, name, s)}|examples"],
                                history[f"{run_key(length, name, s)}|{measure}"], threshold, below=below)
                 for s in range(seeds)]
    return [math.inf if c is None else c for c in crossings]


def _factor(ratio: float) -> str:
    """``ratio`` to 2 decimals, or 3 where 2 would print a ratio that is not 1 as 1.00 (a slower model as
    "×1.00")."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if text == "1.00" and ratio != 1.0 else text


def speed_claim_text(history: Mapping[str, np.ndarray], base: str, waves: Sequence[str], length: int,
                     seeds: int, eval_every: int, measure: str = "string_accuracy") -> str:
    """Whether the examples each model needed to first reach the levels of ``measure`` (:data:`SPEED_MEASURES`:
    the training loss of the abstract's Fig. 2 falling to 1 and 0.1 nats, or the string accuracy rising to 50% and
    90%) support "exponentially faster than ``base``", read as at least :data:`SPEEDUP` times fewer examples
    (medians over seeds, a seed that never got there counting as beyond its run); with the evaluation grid's
    resolution and the models slower than ``base``."""
    levels, _, label, level_text = SPEED_MEASURES[measure]
    runs = [run_key(length, m, s) for m in (base, *waves) for s in range(seeds)]
    total = min(float(history[f"{k}|examples"][-1]) for k in runs)
    grid = float(np.mean([np.diff(history[f"{k}|examples"]).mean() for k in runs]))
    exact, bounds, slower, parts = [], [], [], []
    for threshold in levels:
        level = level_text(threshold)
        base_runs = _crossings(history, base, length, seeds, threshold, measure)
        b = float(np.median(base_runs))
        cells = []
        for w in waves:
            x = float(np.median(_crossings(history, w, length, seeds, threshold, measure)))
            if math.isinf(x):
                cells.append(f"{w} not reached")
                slower += [] if math.isinf(b) else [f"{w} (to {level})"]
            elif math.isinf(b):
                bounds.append(total / x)
                cells.append(f"{w} > ×{total / x:.1f}")
            else:
                exact.append(b / x)
                cells.append(f"{w} ×{_factor(b / x)}")
                slower += [f"{w} (to {level})"] if b < x else []
        got = sum(not math.isinf(c) for c in base_runs)
        where = "beyond the run" if math.isinf(b) else f"at {b:,.0f} examples"
        parts.append(f"to {level} ({base} {where}; {got} of {seeds} seeds got there): " + ", ".join(cells))
    if exact + bounds and max(exact + bounds) >= SPEEDUP:
        verdict = f"Yes: a factor of at least ×{max(exact + bounds):.1f}"
    elif exact or bounds:
        verdict = ("Not shown at this preset: " if bounds else "No, not at this preset: ") + "; ".join(
            ([f"the measured factors are at most ×{_factor(max(exact))}"] if exact else [])
            + ([f"where only v-Wave got there, the factor exceeds ×{max(bounds):.1f}, a lower bound set by the "
                f"run's length (×{SPEEDUP:g} is not ruled out there)"] if bounds else []))
    elif slower:
        verdict = f"No: {base} got there and no v-Wave model did"
    else:
        verdict = f"They cannot tell: neither {base} nor any v-Wave model got there"
    text = (f"Factor by which fewer training examples than {base} reached the same {label} (medians over seeds, a "
            "seed that never got there counting as beyond the run) — " + "; ".join(parts)
            + f". Do the numbers support \"exponentially faster\", read as ×{SPEEDUP:g} or more? {verdict}. "
            f"Resolution: one evaluation every {eval_every} steps (about {grid:,.0f} examples) in a run of "
            f"{total:,.0f} examples, so the largest factor this run could show is about ×{total / grid:.0f}")
    if measure == "string_accuracy":
        text += "; the table of §5.2 gives a median only where every seed got there"
    return text + (f". Slower than {base}: {', '.join(slower)}" if slower else "")


def worse_than_text(metrics: Mapping[str, Mapping[str, float | None]], base: str, waves: Sequence[str],
                    length: int) -> str:
    """The models of ``waves`` whose final string accuracy (mean over lengths) is below ``base``'s ("" if none)."""
    reference = metrics[run_key(length, base)]["string_accuracy_mean"]
    below = [w for w in waves if metrics[run_key(length, w)]["string_accuracy_mean"] < reference]
    return (f"; below {base} ({reference:.2f}) in final string accuracy: "
            + ", ".join(f"{w} {metrics[run_key(length, w)]['string_accuracy_mean']:.2f}" for w in below)
            if below else "")


def reach_text(metrics: Mapping[str, Mapping[str, float | None]], reach: Mapping[str, float], larger: str,
               base: str, fixed: Sequence[str], length: int) -> str:
    """Compare ``larger`` (a short mixer with more cells) with ``base`` and the fixed velocities ``fixed`` by the
    mixer's reach, about K/v tokens (``reach``), and by final string accuracy (range over seeds)."""
    same = min(fixed, key=lambda m: abs(reach[m] - reach[larger]))
    best = max(fixed, key=lambda m: metrics[run_key(length, m)]["string_accuracy_mean"])
    reaches = ", ".join(f"{m} {reach[m]:g}" for m in (base, *fixed, larger))
    text = (f"The short mixer reaches back about K/v tokens: {reaches}. {larger} ends at string accuracy "
            f"{_accuracy(metrics, larger, length)}, {base} at "
            f"{_accuracy(metrics, base, length)}, {same} (reach {reach[same]:g}) at {_accuracy(metrics, same, length)}")
    if best != same:
        text += f", {best} (the best fixed v) at {_accuracy(metrics, best, length)}"
    text += ". "
    against = _overlap(metrics, larger, best, length)
    if against == 0:
        text += (f"Its range over seeds overlaps {best}'s: at this scale the longer reach gains about as much as the "
                 "slower wave, so the reach explains the gain over Mamba as well as the velocity does")
    elif against < 0:
        text += f"Every seed ends below every seed of {best}: the velocity gains more than the longer reach alone"
    else:
        text += f"Every seed ends above every seed of {best}: the longer reach alone gains more than the velocity"
    versus_base = _overlap(metrics, larger, base, length)
    return text + {1: f"; every seed ends above every seed of {base}.",
                   0: f"; its range over seeds overlaps {base}'s.",
                   -1: f"; every seed ends below every seed of {base}."}[versus_base]


def learned_velocity_text(history: Mapping[str, np.ndarray], metrics: Mapping[str, Mapping[str, float | None]],
                          learned: str, start: str, start_v: float, length: int, seeds: int) -> str:
    """Where the learned velocities ended (every layer, channel and seed) and ``learned``'s accuracy beside its
    fixed-velocity start ``start``."""
    v = np.concatenate([history[f"{run_key(length, learned, s)}|velocity"].ravel() for s in range(seeds)])
    close = {0: "overlap", -1: "lie below", 1: "lie above"}[_overlap(metrics, learned, start, length)]
    return (f"{learned}'s velocities at the end, every layer, channel and seed: median {np.median(v):.3f}, range "
            f"{v.min():.3f}–{v.max():.3f}, at most {np.abs(v - start_v).max():.3f} from their start {start_v:g}. Its "
            f"final string accuracy {_accuracy(metrics, learned, length)} and that of {start} (fixed v = {start_v:g}) "
            f"{_accuracy(metrics, start, length)}: the ranges over seeds {close}.")


def state_size_text(metrics: Mapping[str, Mapping[str, float | None]], reach: Mapping[str, float], larger: str,
                    smaller: str, length: int) -> str:
    """Compare ``larger`` with ``smaller``, the same velocity with fewer cells, by reach (about K/v tokens) and by
    final string accuracy (ranges over seeds)."""
    close = {0: "overlap", -1: "lie below", 1: "lie above"}[_overlap(metrics, larger, smaller, length)]
    return (f"{larger} (reach about {reach[larger]:g} tokens) ends at string accuracy "
            f"{_accuracy(metrics, larger, length)}, {smaller} (the same velocity, reach {reach[smaller]:g}) at "
            f"{_accuracy(metrics, smaller, length)}: the ranges over seeds {close}.")


def ablation_texts(config: VWaveConfig, metrics: Mapping[str, Mapping[str, float | None]],
                   history: Mapping[str, np.ndarray], length: int) -> list[str]:
    """A note per ablation of ``config`` whose comparison models are in ``metrics``: a learned velocity against
    its fixed start (:func:`learned_velocity_text`); a larger short mixer at v = 1 against Mamba and the fixed
    velocities of the same reach (:func:`reach_text`); a larger mixer at another velocity against the same
    velocity with Mamba's 4 cells (:func:`state_size_text`)."""
    spec = {m: config.spec(m) for m in (*config.models, *config.ablation_models)}
    have = [m for m in config.models if run_key(length, m) in metrics]
    fixed = [m for m in have if spec[m].mixer == "vwave" and not spec[m].learn_v]
    reach = {m: s.cells / s.v for m, s in spec.items() if s.family == "mamba"}
    start = f"vwave-{LEARNED_V_START:g}"
    mamba_cells = config.spec("mamba").cells
    texts = []
    for m in config.ablation_models:
        s = spec[m]
        if s.learn_v:
            if start in have:
                texts.append(learned_velocity_text(history, metrics, m, start, LEARNED_V_START, length,
                                                   config.n_seeds))
        elif s.family != "mamba" or s.cells == mamba_cells:
            continue
        elif s.v == 1:
            if "mamba" in have and fixed:
                texts.append(reach_text(metrics, reach, m, "mamba", fixed, length))
        else:
            same = [x for x in have if spec[x].family == "mamba" and not spec[x].learn_v and spec[x].v == s.v
                    and spec[x].cells == mamba_cells]
            if same:
                texts.append(state_size_text(metrics, reach, m, same[0], length))
    return texts


def evaluation_sets_text(history: Mapping[str, np.ndarray], models: Sequence[str], length: int, seeds: int,
                         per_length: int) -> str:
    """How the generalisation set relates to the learning curves' set at the longest training length: the model
    whose two final accuracies there differ most (means over seeds)."""
    def at(name: str, key: str, lengths_key: str) -> float:
        """Final accuracy at ``length`` (mean over seeds) of the per-length record ``key``."""
        runs = [run_key(length, name, s) for s in range(seeds)]
        return float(np.mean([np.atleast_2d(history[f"{k}|{key}"])[-1][
            list(history[f"{k}|{lengths_key}"]).index(length)] for k in runs]))

    pairs = {m: (at(m, "string_accuracy_by_length", "eval_lengths"),
                 at(m, "generalisation_string_accuracy", "generalisation_lengths")) for m in models}
    name = max(pairs, key=lambda m: abs(pairs[m][0] - pairs[m][1]))
    table, here = pairs[name]
    return (f"This figure scores its own fixed set of strings, {per_length} per length (the same strings for every "
            f"model and seed), drawn with another seed than the set of §5.2's curves and tables, which also has "
            f"{per_length} per length. At length {length} the two sets give different numbers by sampling alone; "
            f"the largest gap: {name}, {table:.3f} in §5.2's table and {here:.3f} here (means over {seeds} seeds).")


def _examples_to(metrics: Mapping[str, Mapping], name: str, length: int, threshold: str = "0.9") -> str:
    value = metrics[run_key(length, name)][f"examples_to_{threshold}"]
    return "not reached" if value is None else f"{value:,.0f}"


def _final_accuracies(metrics: Mapping[str, Mapping], name: str, length: int) -> str:
    m = metrics[run_key(length, name)]
    return f"{m['string_accuracy_mean']:.2f} / {m['string_accuracy_at_max_mean']:.2f}"


def _final_loss(metrics: Mapping[str, Mapping], name: str, length: int) -> str:
    return f"{metrics[run_key(length, name)]['train_loss_final_mean']:.3g}"


def claims_rows(config: VWaveConfig, lengths: Sequence[int], metrics: Mapping[str, Mapping],
                history: Mapping[str, np.ndarray], ablation_metrics: Mapping[str, Mapping] | None,
                missing: str) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, abstract, measured) per row: learning speed in training loss and in
    string accuracy, final error and the transformer comparison per maximum length on the page (``lengths``; a
    length of ``config`` not on it says ``missing``), the v = 1 construction check, and each ablation
    (``ablation_metrics`` None: not computed). ``metrics``/``history``: the copy-curve artifacts, merged."""
    def each(measure: Any, names: Sequence[str], length: int) -> str:
        return "; ".join(f"{m} {measure(metrics, m, length)}" for m in names)

    rows = []
    waves = [m for m in config.models if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v]  # fixed v
    for length in config.lengths:
        if length not in lengths:
            rows.append((f"strings ≤ {length}: v-Wave Mamba learns copy faster than Mamba, on par with transformers "
                         f"(experiment `{'copy_curves' if length == config.lengths[0] else 'copy_curves_long'}`)",
                         "Fig. 2", missing))
            continue
        if "mamba" in config.models and waves:
            rows.append((f"v-Wave Mamba learns copy (length ≤ {length}) exponentially faster than Mamba",
                         "Fig. 2 (training loss) and text",
                         speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every,
                                          measure="train_loss")
                         + f". Final training loss (nats; the Fig. 2 curves are in §5.2): "
                         f"{each(_final_loss, ['mamba', *waves], length)}"))
            rows.append((f"the same claim in string accuracy, the measure of Jelassi et al. (length ≤ {length})",
                         "not in the abstract, which shows the loss",
                         speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every)))
            rows.append((f"v-Wave Mamba reaches a lower error than Mamba (length ≤ {length})",
                         "text only (\"significantly lower error rates\")",
                         f"final string accuracy, all lengths / at {length}: "
                         f"{each(_final_accuracies, ['mamba', *waves], length)}"
                         + worse_than_text(metrics, "mamba", waves, length)))
        best = max(waves, key=lambda m: metrics[run_key(length, m)]["string_accuracy_mean"]) if waves else None
        for t in ("alibi", "rope"):
            if t in config.models and best:
                rows.append((f"v-Wave Mamba on par with the {t} transformer (length ≤ {length})",
                             "Fig. 2 and text: on par",
                             f"{best}, the best fixed v on this page by final string accuracy (chosen after the fact; "
                             f"every v in the rows above) vs {t}: final string accuracy, all lengths / at {length}, "
                             f"{_final_accuracies(metrics, best, length)} vs {_final_accuracies(metrics, t, length)}; "
                             f"examples to 90%: {_examples_to(metrics, best, length)} vs "
                             f"{_examples_to(metrics, t, length)}"))
    rows.append(("Mamba's short conv is a v = 1 traveling wave",
                 "Fig. 1a: waves visible in the short-mixer state of a trained Mamba",
                 "construction check of this code, not Fig. 1a: the v = 1 mixer equals conv1d with the same weights "
                 "(§5.1)" + ("; the trained models' states are in §5.3" if config.lengths[0] in lengths else "")))
    if ablation_metrics is None:
        rows.append(("experiment `ablations` (not in the abstract)", "—", missing))
        return rows
    length = config.lengths[0]
    for m in config.ablation_models:
        rows.append((f"ablation {m} (not in the abstract)", "—",
                     f"final string accuracy, all lengths / at {length}: "
                     f"{_final_accuracies(ablation_metrics, m, length)}; examples to 90%: "
                     f"{_examples_to(ablation_metrics, m, length)}"))
    return rows

