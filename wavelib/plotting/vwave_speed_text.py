"""Chapter 5's texts on learning speed and final error, from the stored copy curves: the summary table, the
"exponentially faster" and "lower error" claims, which velocity did best, and how to read the curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..experiments.vwave import THRESHOLDS, VWaveConfig, run_key
from .vwave_numbers import (SPEED_MEASURES, accuracy_text, any_seed_copies, crossings, factor_text, final_loss_median,
                            final_seeds, join_names, level_in_words, median_crossing, ratio_text, run_scale, side_of,
                            span_text)


SPEEDUP = 10.0  #: "exponentially faster" read as at least this factor fewer training examples (our reading)


def summary_rows(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                 models: Sequence[str], length: int, seeds: int) -> tuple[list[str], list[list[str]]]:
    """One row per model, at the end of training: string accuracy over all training lengths (mean over seeds, with
    its range over seeds, and the median, where the thick accuracy curve ends) and at the longest one (mean),
    character accuracy (mean), training loss (median over seeds, as the thick curves and the claims' factors), and
    the median examples seen to first reach 50% and 90% string accuracy ("not reached" unless every seed did)."""
    header = ["model", f"string accuracy, all lengths ≤ {length}: mean over seeds (min–max)",
              f"string accuracy, all lengths ≤ {length}: median over seeds (end of the thick curve)",
              f"string accuracy at {length} (mean)",
              "char accuracy (mean)", "training loss (nats; median over seeds)", "examples to 50% (median)",
              "examples to 90% (median)"]
    rows = []
    for name in models:
        m = metrics[run_key(length, name)]
        reach = [("not reached" if m[f"examples_to_{t}"] is None else f"{m[f'examples_to_{t}']:,.0f}")
                 for t in ("0.5", "0.9")]
        median = np.median(final_seeds(history, name, length, seeds))
        rows.append([name, f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–"
                     f"{m['string_accuracy_max']:.2f})", f"{median:.3f}",
                     f"{m['string_accuracy_at_max_mean']:.3f}",
                     f"{m['char_accuracy_mean']:.3f}", f"{final_loss_median(history, name, length, seeds):.3g}",
                     *reach])
    return header, rows


def final_loss_text(history: Mapping[str, np.ndarray], base: str, waves: Sequence[str], length: int,
                    seeds: int) -> str:
    """At equal examples (the end of the run): how many times ``base``'s median final training loss is that of
    each model of ``waves``."""
    b = final_loss_median(history, base, length, seeds)
    finals = {w: final_loss_median(history, w, length, seeds) for w in waves}
    ratios = [b / max(f, 1e-12) for f in finals.values()]
    return (f"at equal examples (the end of the run) {base}'s median final training loss is "
            f"{span_text(ratios, ratio_text)} that of v-Wave "
            f"({'below ×1: that v-Wave model ends higher; ' if min(ratios) < 1 else ''}{base} {b:.3g}; "
            + ", ".join(f"{w} {f:.3g}" for w, f in finals.items()) + ")")


def speed_claim_text(history: Mapping[str, np.ndarray], base: str, waves: Sequence[str], length: int,
                     seeds: int, eval_every: int, measure: str = "string_accuracy") -> str:
    """Whether the examples each model needed to first reach the levels of ``measure`` (:data:`SPEED_MEASURES`:
    the training loss of the abstract's Fig. 2 falling to 1, 0.3 and 0.1 nats, or the string accuracy rising to
    50% and 90%) support "exponentially faster than ``base``", read (our reading) as at least :data:`SPEEDUP`
    times fewer examples (medians over seeds, a seed that never got there counting as beyond its run). First in
    short: the range of the factors where both got there, the lower bounds where only v-Wave did, and for the loss
    the ratio of final losses at equal examples (:func:`final_loss_text`); then the verdict, every factor, the
    largest factor the run could show at each level (its length over the fastest v-Wave model's examples) and the
    models slower than ``base``."""
    levels, _, label = SPEED_MEASURES[measure]
    total, grid = run_scale(history, (base, *waves), length, seeds)
    exact, bounds, slower, parts, limits = [], [], [], [], {}
    for threshold in levels:
        level = level_in_words(measure, threshold)
        base_runs = crossings(history, base, length, seeds, threshold, measure)
        b = float(np.median(base_runs))
        cells, fastest = [], math.inf
        for w in waves:
            x = median_crossing(history, w, length, seeds, threshold, measure)
            if math.isinf(x):
                cells.append(f"{w} not reached")
                slower += [] if math.isinf(b) else [f"{w} (to {level})"]
                continue
            if x <= 0:
                cells.append(f"{w} there before training")
                continue
            fastest = min(fastest, x)
            if math.isinf(b):
                bounds.append(total / x)
                cells.append(f"{w} > ×{total / x:.1f}")
            else:
                exact.append(b / x)
                cells.append(f"{w} ×{factor_text(b / x)}")
                slower += [f"{w} (to {level})"] if b < x else []
        if not math.isinf(fastest):
            limits[level] = total / fastest
        got = sum(not math.isinf(c) for c in base_runs)
        where = "beyond the run" if math.isinf(b) else f"at {b:,.0f} examples"
        parts.append(f"to {level} ({base} {where}; {got} of {seeds} seeds got there): " + ", ".join(cells))
    short = ([f"where both {base} and v-Wave reached a {label} level, v-Wave needed {span_text(exact)} fewer examples"
              + (" (below ×1: slower)" if min(exact) < 1 else "")] if exact else []) \
        + ([f"where only v-Wave did, more than {span_text(bounds, lambda r: f'{r:.1f}')} fewer (lower bounds set by "
            "the run's length)"] if bounds else []) \
        + ([final_loss_text(history, base, waves, length, seeds)] if measure == "train_loss" else [])
    top = max(exact + bounds) if exact or bounds else None
    if top is not None and top >= SPEEDUP:
        verdict = f"Yes, at this reading: a factor of at least ×{top:.1f}"
    elif top is not None:
        verdict = ("Not shown at this preset: " if bounds else "No, not at this preset: ") + "; ".join(
            ([f"where {base} got there too, the factors are at most ×{factor_text(max(exact))}"] if exact else [])
            + ([f"where only v-Wave got there, the factor exceeds ×{max(bounds):.1f}, a lower bound set by the run's "
                f"length (×{SPEEDUP:g} is neither shown nor ruled out there)"] if bounds else []))
        if bounds and max(limits.values()) < SPEEDUP:
            verdict += (f"; this run could not have shown ×{SPEEDUP:g} at any of these levels (at most "
                        f"×{max(limits.values()):.1f}, see the resolution)")
    elif slower:
        verdict = f"No: {base} got there and no v-Wave model did"
    else:
        verdict = f"They cannot tell: neither {base} nor any v-Wave model got there"
    text = ("In short: " + "; ".join(short) + ". " if short else "") + (
        f"\"Exponentially faster\" comes with no number: this page reads it as ×{SPEEDUP:g} or more fewer examples "
        f"(its own reading). Do the numbers support it? {verdict}. Examples to first reach each {label} level, as a "
        f"factor fewer than {base} (medians over seeds, a seed that never got there counting as beyond the run) — "
        + "; ".join(parts)
        + f". Resolution: one evaluation every {eval_every} steps (about {grid:,.0f} examples) in runs of at least "
        f"{total:,.0f} examples per seed, so no factor above about ×{total / grid:.0f} can show at all")
    if limits:
        text += ("; at a level, at most the run's length over the examples the fastest v-Wave model needed: "
                 + ", ".join(f"×{limit:.1f} at {level}" for level, limit in limits.items()))
    if measure == "string_accuracy":
        text += "; the table of §5.2 gives a median only where every seed got there"
    return text + (f". Slower than {base}: {', '.join(slower)}" if slower else "")


def lower_error_text(metrics: Mapping[str, Mapping[str, float | None]], base: str, waves: Sequence[str],
                     length: int) -> str:
    """Verdict on "lower error than ``base``" by final string accuracy (mean over lengths), seed by seed: every
    seed of each model of ``waves`` above every seed of ``base``, the ranges overlapping, or below."""
    sides = {w: side_of(metrics, w, base, length) for w in waves}
    mb = metrics[run_key(length, base)]
    lows, highs = (min(metrics[run_key(length, w)]["string_accuracy_min"] for w in waves),
                   max(metrics[run_key(length, w)]["string_accuracy_max"] for w in waves))
    ranges = (f"{base} seeds {mb['string_accuracy_min']:.2f}–{mb['string_accuracy_max']:.2f}, v-Wave seeds "
              f"{lows:.2f}–{highs:.2f}")
    if all(side == 1 for side in sides.values()):
        return f"Yes at this length: every seed of every fixed v ends above every {base} seed ({ranges})"
    if all(side == -1 for side in sides.values()):
        return f"No: every seed of every fixed v ends below every {base} seed ({ranges})"
    words = {1: ("ends above every seed of", "end above every seed of"),
             0: ("overlaps the range of", "overlap the range of"),
             -1: ("ends below every seed of", "end below every seed of")}
    groups = [(value, [w for w, side in sides.items() if side == value]) for value in (1, 0, -1)]
    said = "; ".join(f"{join_names(names)} {words[value][len(names) > 1]} {base}" for value, names in groups if names)
    head = ("Not for every v" if 1 in sides.values() else
            f"Not shown in string accuracy: no fixed v ends above every {base} seed")
    return f"{head}: {said} ({ranges})"


def char_error_text(history: Mapping[str, np.ndarray], base: str, waves: Sequence[str], length: int,
                    seeds: int) -> str:
    """The "lower error" claim in final character accuracy (each seed's, the mean over lengths): the ranges over
    seeds of ``base`` and of each model of ``waves``, and whether every seed of every one ends above every seed of
    ``base`` (where string accuracy is 0 for all, this still tells partial copies apart)."""
    ends = {m: final_seeds(history, m, length, seeds, "char_accuracy") for m in (base, *waves)}
    above = [w for w in waves if ends[w].min() > ends[base].max()]
    below = [w for w in waves if ends[w].max() < ends[base].min()]
    if len(above) == len(waves):
        verdict = f"every seed of every fixed v ends above every {base} seed"
    elif len(below) == len(waves):
        verdict = f"every seed of every fixed v ends below every {base} seed"
    else:
        verdict = f"not every fixed v ends above every {base} seed" + (
            f" ({join_names(above)} {'does' if len(above) == 1 else 'do'})" if above else "")
    return ("In final character accuracy (each seed's, mean over lengths; ranges over seeds): "
            + ", ".join(f"{m} {ends[m].min():.3f}–{ends[m].max():.3f}" for m in (base, *waves)) + f": {verdict}")


def worse_than_text(metrics: Mapping[str, Mapping[str, float | None]], base: str, waves: Sequence[str],
                    length: int) -> str:
    """The models of ``waves`` whose final string accuracy (mean over lengths) is below ``base``'s ("" if none)."""
    reference = metrics[run_key(length, base)]["string_accuracy_mean"]
    below = [w for w in waves if metrics[run_key(length, w)]["string_accuracy_mean"] < reference]
    return (f"; below {base} ({reference:.2f}) in final string accuracy: "
            + ", ".join(f"{w} {metrics[run_key(length, w)]['string_accuracy_mean']:.2f}" for w in below)
            if below else "")


def velocity_text(config: VWaveConfig, metrics: Mapping[str, Mapping], history: Mapping[str, np.ndarray],
                  length: int) -> str:
    """Which fixed velocity of ``config.models`` did best (final string accuracy, mean over seeds; the models
    whose ranges over seeds overlap the best one's count as tied), and whether the slowest is the best ("" with
    fewer than two)."""
    waves = [m for m in config.models if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v]
    if len(waves) < 2:
        return ""
    v = {w: config.spec(w).v for w in waves}
    if not any_seed_copies(metrics, waves, length):
        return _no_velocity_copies_text(metrics, history, waves, v, length, config.n_seeds)
    order = sorted(waves, key=lambda w: -metrics[run_key(length, w)]["string_accuracy_mean"])
    best = order[0]
    tied = [w for w in order if side_of(metrics, w, best, length) == 0]
    slowest, weakest = min(waves, key=v.get), order[-1]
    listed = ", ".join(f"{w} {accuracy_text(metrics, w, length)}" for w in order)
    speeds = sorted(v[w] for w in tied)
    text = (f"**Which velocity?** Final string accuracy (mean over lengths and seeds): {listed}; median final "
            "training loss: " + ", ".join(f"{w} {final_loss_median(history, w, length, config.n_seeds):.3g}"
                                          for w in order) + ". The best v here is "
            + (f"{speeds[0]:g}–{speeds[-1]:g} ({join_names(tied)}: their ranges over seeds overlap)" if len(tied) > 1
               else f"{v[best]:g} ({best})"))
    if slowest in tied:
        return text + f"; the slowest on this page, v = {v[slowest]:g}, is among the best."
    where = {-1: f"every seed of it ends below every seed of {best}", 0: f"its range overlaps {best}'s"}[
        side_of(metrics, slowest, best, length)]
    return text + (f", not the slowest: {slowest} (v = {v[slowest]:g}) is "
                   + ("the weakest v-Wave" if slowest == weakest else f"behind {best}") + f" ({where}).")


def _no_velocity_copies_text(metrics: Mapping[str, Mapping], history: Mapping[str, np.ndarray], waves: Sequence[str],
                             v: Mapping[str, float], length: int, seeds: int) -> str:
    """"Which velocity?" where no seed of any of ``waves`` (velocities ``v``) ends at the first level of
    :data:`THRESHOLDS` in string accuracy: the velocities ranked by final character accuracy, with their training
    loss, and whether that order follows the velocity."""
    chars = {w: final_seeds(history, w, length, seeds, "char_accuracy") for w in waves}
    order = sorted(waves, key=lambda w: -chars[w].mean())
    best_seed = max(metrics[run_key(length, w)]["string_accuracy_max"] for w in waves)
    by_speed = [chars[w].mean() for w in sorted(waves, key=v.get)]  # slowest first
    trend = (" The slower the wave, the higher its character accuracy." if all(
        a > b for a, b in zip(by_speed, by_speed[1:])) else " The faster the wave, the higher its character "
             "accuracy." if all(a < b for a, b in zip(by_speed, by_speed[1:])) else "")
    return (f"**Which velocity?** None copies these strings: no seed of any fixed v ends at {THRESHOLDS[0]:.0%} "
            f"string accuracy (mean over lengths; the best seed ends at {best_seed:.3f}). By final character accuracy "
            "(mean over lengths; mean over seeds, range): "
            + ", ".join(f"{w} {chars[w].mean():.3f} ({chars[w].min():.2f}–{chars[w].max():.2f})" for w in order)
            + "; median final training loss: "
            + ", ".join(f"{w} {final_loss_median(history, w, length, seeds):.3g}" for w in order) + "." + trend)


def curves_reading_text(config: VWaveConfig, history: Mapping[str, np.ndarray], length: int) -> str:
    """How to read the curves: examples (not steps) on the x axis, with the examples per step of the runs at
    ``length``; this book's colours, not the abstract's; and v-Wave Mamba's parameter count against Mamba's."""
    runs = [run_key(length, m, s) for m in config.models for s in range(config.n_seeds)]
    per_step = float(np.median([history[f"{k}|examples"][-1] / max(history[f"{k}|step"][-1], 1) for k in runs]))
    counts = {m: config.parameters(m) for m in config.models if config.spec(m).family == "mamba"}
    waves = [m for m in counts if m != "mamba"]
    text = (f"The x axes count training examples seen (copy examples, packed into rows), not steps: one step of "
            f"{config.batch} rows is about {per_step:.0f} examples here. Colours and line styles are this book's, not "
            "the abstract's.")
    if "mamba" in counts and waves:
        same = [m for m in waves if counts[m] == counts["mamba"]]
        text += (f" v-Wave Mamba has exactly Mamba's parameter count ({counts['mamba']:,}; only the short mixer's "
                 "recurrence differs, with the same conv weights)" if len(same) == len(waves) else
                 " Parameters: " + ", ".join(f"{m} {n:,}" for m, n in counts.items())) + "."
    return text
