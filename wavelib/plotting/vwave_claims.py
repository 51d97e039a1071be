"""The texts and the claims table of Chapter 5 (v-Wave Mamba): the mixer's gain and reach, computed from its
recurrence; learning speed, final error, the transformers, RoPE, velocity, scale, length generalisation, ablations
and the ``paper`` preset's results beside a reduced preset's, computed from the stored copy curves (the figures:
:mod:`.vwave`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..experiments.vwave import LOSS_THRESHOLDS, PRESETS, THRESHOLDS, VWaveConfig, first_crossing, run_key
from ..models.language_models import LEARNED_V_START
from ..models.short_mixers import cell_gains
from ..models.short_mixers import reach as mixer_reach
from ..models.transformer import rope_frequencies
from ..store import Artifact
from ..tasks.copy_strings import trained_lengths
from .vwave import GAIN_REACHES, TRANSFORMERS, generalisation_scores, oldest_cell_peak

SPEEDUP = 10.0  #: "exponentially faster" read as at least this factor fewer training examples (our reading)
KEEP = 0.9  #: a model "keeps" its accuracy at a longer string length if its string accuracy there is at least this
RISE = 0.1  #: a seed "climbs" once its string accuracy is this much above its first evaluation's
#: Jelassi et al. (2024)'s setting, for the scale disclosure: parameters of their models (about), Mamba's d_state,
#: peak learning rate, batch and (their README's example) shortest training string
JELASSI = {"parameters": 160e6, "d_state": 32, "lr": 1e-5, "batch": 8, "min_len": 5}
#: how a model's final string accuracy stands against another's, by the sign of :func:`_overlap`
OVERLAP_WORDS = {1: "ends above every seed of", 0: "overlaps the range over seeds of", -1: "ends below every seed of"}


def _gains(v: float, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's whole impulse response at velocity ``v``: its sum and its L2 norm (:func:`cell_gains`)."""
    sums, norms = cell_gains(v, cells, math.ceil(GAIN_REACHES * mixer_reach(v, cells)))
    return sums.numpy(), norms.numpy()


def gain_rows(velocities: Sequence[float], cells: int) -> tuple[list[str], list[list[str]]]:
    """One row per velocity: what each cell's response sums to (its gain at DC), the L2 norms of the newest and the
    oldest cell's responses, the reach K/v and where the oldest cell peaks."""
    header = ["v", "each cell's response sums to (gain at DC)", f"L2 norm, newest cell ({cells - 1})",
              "L2 norm, oldest cell (0)", "reach K/v (steps)", "oldest cell peaks at (steps)"]
    rows = []
    for v in velocities:
        sums, norms = _gains(v, cells)
        reach = mixer_reach(v, cells)
        rows.append([f"{v:g}", f"{sums.mean():.3g}", f"{norms[-1]:.3g}", f"{norms[0]:.3g}", f"{reach:g}",
                     str(oldest_cell_peak(v, cells, math.ceil(GAIN_REACHES * reach)))])
    return header, rows


def gain_text(velocities: Sequence[float], cells: int) -> str:
    """Velocity comes with gain: with the same conv weights, a slower wave is a filter of larger gain, by how much
    at each of ``velocities`` (:func:`gain_rows`), and what that does to this page's comparisons of velocities."""
    gains = {v: _gains(v, cells) for v in velocities}
    slow, fast = min(velocities), max(velocities)
    sums = ", ".join(f"{gains[v][0].mean():.3g}" for v in velocities)
    return (f"**Velocity comes with gain.** An input stays 1/v steps in each cell on average, so each cell's whole "
            f"response sums to 1/v: {sums} at v = {', '.join(f'{v:g}' for v in velocities)}. With the same conv "
            f"weights $w$, the filter's response to a constant input, $\\sum_t k_t = \\sum_i w_i / v$, is therefore "
            f"{gains[slow][0].mean() / gains[fast][0].mean():.3g}× larger at v = {slow:g} than at v = {fast:g}, and "
            f"the newest cell's response has L2 norm $1/\\sqrt{{v(2-v)}}$: {gains[slow][1][-1]:.3g} at v = {slow:g} "
            f"against {gains[fast][1][-1]:.3g} at v = {fast:g} (table below). A slower wave is thus also a louder "
            "filter: the velocities on this page change the reach and the gain together, and the comparisons between "
            "them cannot tell which of the two makes a difference (training may rescale the weights to make up for "
            "it; this page does not measure whether it does). The abstract gives the shift SSM only at v = 1 "
            "($B = e_0$) and does not say how the input enters at another velocity.")


def _kept_up_to(lengths: np.ndarray, accuracy: np.ndarray, length: int, keep: float = KEEP) -> int | None:
    """The longest scored length beyond ``length`` up to which (at every scored length from the first longer one)
    ``accuracy`` stays at least ``keep``; None if it is below already at the first longer length."""
    kept = None
    for n, a in zip(lengths[lengths > length], accuracy[lengths > length]):
        if a < keep:
            break
        kept = int(n)
    return kept


def _kept_again(lengths: np.ndarray, accuracy: np.ndarray, length: int, keep: float = KEEP) -> list[int]:
    """The scored lengths beyond the first drop below ``keep`` (past ``length``) where ``accuracy`` is at least
    ``keep`` again: seeds that copy some longer strings and not others."""
    beyond = accuracy[lengths > length]
    dropped = np.flatnonzero(beyond < keep)
    if not dropped.size:
        return []
    later = lengths[lengths > length][dropped[0]:]
    return [int(n) for n, a in zip(later, beyond[dropped[0]:]) if a >= keep]


def _lengths(lengths: Sequence[int]) -> str:
    """String lengths in words: ``8``, ``8 and 9``, ..."""
    return _names([str(n) for n in lengths])


def _names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def generalisation_text(history: Mapping[str, np.ndarray], models: Sequence[str], length: int,
                        seeds: int) -> str:
    """What the length-generalisation figure shows: which models keep their string accuracy (at least
    :data:`KEEP`, mean over seeds) at the scored lengths beyond the training length, up to where; which score
    (about) nothing there; which already fail at the longest training length; and the unscored gap."""
    lengths = generalisation_scores(history, models[0], length, seeds)[0]
    longer = [int(n) for n in lengths if n > length]
    if not longer:
        return ""
    parts, nothing = [], []
    for name in models:
        n, accuracy = generalisation_scores(history, name, length, seeds)
        beyond = accuracy[n > length]
        kept = _kept_up_to(n, accuracy, length)
        if kept == longer[-1]:
            parts.append(f"{name} keeps it at every longer length ({beyond[-1]:.2f} at {longer[-1]})")
        elif kept is not None:
            after = longer.index(kept) + 1
            again = _kept_again(n, accuracy, length)
            parts.append(f"{name} keeps it up to {kept}, then drops ("
                         + ", ".join(f"{a:.2f} at {m}" for m, a in zip(longer[after:], beyond[after:])) + ")"
                         + (f", at least {KEEP:g} again at {_lengths(again)}" if again else ""))
        elif beyond.max() < 0.05:
            nothing.append(name)
        else:
            again = _kept_again(n, accuracy, length)
            parts.append(f"{name} is below {KEEP:g} already at {longer[0]} ({beyond[0]:.2f}; at most "
                         f"{beyond.max():.2f} at the longer lengths"
                         + (f", at least {KEEP:g} at {_lengths(again)}" if again else "") + ")")
    if nothing:
        top = max(generalisation_scores(history, m, length, seeds)[1][lengths > length].max() for m in nothing)
        parts.append(f"{_names(nothing)} score{'s' if len(nothing) == 1 else ''} {'at most ' if top else ''}"
                     f"{top:.2f} at every longer length")
    scored = ", ".join(map(str, longer))
    text = (f"Beyond the training length (scored at {scored}; a model keeps its accuracy where its string accuracy, "
            f"the mean over {seeds} seeds, is at least {KEEP:g}): " + "; ".join(parts) + ".")
    failing = [m for m in models if generalisation_scores(history, m, length, seeds)[1][lengths == length].mean() < 0.5]
    if failing:
        text += (" Already inside the training range, at length " + str(length) + ": " + ", ".join(
            f"{m} {generalisation_scores(history, m, length, seeds)[1][lengths == length].mean():.2f}" for m in failing)
            + ".")
    if longer[0] > length + 1:
        skipped = (f"Length {length + 1} was" if longer[0] == length + 2 else
                   f"Lengths {length + 1}–{longer[0] - 1} were")
        text += (f" {skipped} not scored (grey band; no line drawn across it), nor the lengths between the marked "
                 "longer ones (thin lines join them).")
    return text


def _generalisation_verdict(history: Mapping[str, np.ndarray], waves: Sequence[str], transformers: Sequence[str],
                            length: int, seeds: int) -> str:
    """Claims cell: whether the best v-Wave model keeps its accuracy as far beyond the training length as each
    transformer (:func:`_kept_up_to`, without a break), and where a model scores at least :data:`KEEP` again further
    out (:func:`_kept_again`), said where it changes the comparison."""
    lengths = generalisation_scores(history, waves[0], length, seeds)[0]
    first = int(lengths[lengths > length][0])
    scores = {m: generalisation_scores(history, m, length, seeds) for m in (*waves, *transformers)}
    kept = {m: _kept_up_to(*scores[m], length) for m in scores}
    again = {m: _kept_again(*scores[m], length) for m in scores}
    top = {m: float(scores[m][1][lengths > length].max()) for m in scores}
    reach = {m: length if k is None else k for m, k in kept.items()}
    furthest = {m: max([reach[m], *again[m]]) for m in scores}  #: the longest length at >= KEEP (or ``length``)
    best = max(waves, key=lambda m: (reach[m], furthest[m], top[m]))

    def said(m: str) -> str:
        regained = _lengths(again[m]) if again[m] else ""
        if kept[m] is not None:
            return f"keeps ≥ {KEEP:g} up to {kept[m]}" + (f" (and again at {regained})" if again[m] else "")
        return (f"is below {KEEP:g} at {first} but ≥ {KEEP:g} at {regained}" if again[m] else
                f"is below {KEEP:g} at every longer length")

    wave_said = (f"the best v-Wave, {best}, {said(best)}" if furthest[best] > length else
                 f"no v-Wave model keeps ≥ {KEEP:g} at any longer length")
    verdicts = []
    for t in transformers:
        if reach[best] != reach[t]:
            ahead, behind = (best, t) if reach[best] > reach[t] else (t, best)
            verb = "goes further than" if ahead == best else "does not match"
            if furthest[behind] > reach[ahead]:  # the other scores >= KEEP again beyond where the first stops
                verdicts.append(f"v-Wave {verb} {t} without a break, but not beyond: {wave_said}; {t} {said(t)}")
            elif ahead == best:
                verdicts.append(f"v-Wave goes further than {t} here: {wave_said}; {t} {said(t)}")
            else:
                verdicts.append(f"v-Wave does not match {t} here: {t} {said(t)}; {wave_said}")
        elif kept[t] is not None:
            verdicts.append(f"v-Wave matches {t} here: {best} and {t} both keep ≥ {KEEP:g} up to {kept[t]}"
                            + "".join(f"; {m} ≥ {KEEP:g} again at {_lengths(again[m])}"
                                      for m in (best, t) if again[m]))
        elif furthest[best] > length or furthest[t] > length:
            verb = ("matches" if furthest[best] == furthest[t] else
                    "goes further than" if furthest[best] > furthest[t] else "does not match")
            verdicts.append(f"v-Wave {verb} {t} here: neither keeps ≥ {KEEP:g} from {first} on; {best} {said(best)}; "
                            f"{t} {said(t)}")
        elif abs(top[t] - top[best]) <= RISE:
            verdicts.append(f"v-Wave matches {t} here, in failing: neither keeps ≥ {KEEP:g} at any longer length, "
                            f"{best} scoring up to {top[best]:.2f} there, {t} up to {top[t]:.2f}")
        else:
            verdicts.append(f"v-Wave {'does not match' if top[t] > top[best] else 'goes further than'} {t} here: "
                            f"neither keeps ≥ {KEEP:g} at any longer length, but at the longer lengths {t} scores "
                            f"up to {top[t]:.2f}, the best v-Wave ({best}) up to {top[best]:.2f}")
    scored = ", ".join(str(int(n)) for n in lengths if n > length)
    return "; ".join(verdicts) + f" (string accuracy, mean over {seeds} seeds, at the scored lengths {scored}; §5.4)"


def final_loss_median(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int) -> float:
    """``name``'s last training-loss record at ``length``, the median over ``seeds`` seeds."""
    return float(np.median([history[f"{run_key(length, name, s)}|train_loss"][-1] for s in range(seeds)]))


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
        median = np.median(_final_seeds(history, name, length, seeds))
        rows.append([name, f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–"
                     f"{m['string_accuracy_max']:.2f})", f"{median:.3f}",
                     f"{m['string_accuracy_at_max_mean']:.3f}",
                     f"{m['char_accuracy_mean']:.3f}", f"{final_loss_median(history, name, length, seeds):.3g}",
                     *reach])
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


def _level_in_words(measure: str, level: float) -> str:
    """A level of a speed measure in words: 1 nat, 0.3 nats; 50%."""
    if measure == "train_loss":
        return f"{level:g} nat" + ("" if level == 1 else "s")
    return f"{level:.0%}"


#: the learning-speed measures: history key -> (levels, whether it falls to them, its name)
SPEED_MEASURES = {
    "train_loss": (LOSS_THRESHOLDS, True, "training loss"),
    "string_accuracy": (THRESHOLDS, False, "string accuracy"),
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


def _median_crossing(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int, threshold: float,
                     measure: str) -> float:
    """The median over seeds of :func:`_crossings` (inf where the median seed never got there)."""
    return float(np.median(_crossings(history, name, length, seeds, threshold, measure)))


def _factor(ratio: float) -> str:
    """``ratio`` to 2 decimals, or 3 where 2 would print a ratio that is not 1 as 1.00 (a slower model as
    "×1.00")."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if text == "1.00" and ratio != 1.0 else text


def _ratio(ratio: float) -> str:
    """A large ratio to whole numbers, a small one to 2 significant digits: 64, 9.2, 0.85."""
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"


def _span(values: Sequence[float], form: Any = _factor) -> str:
    """``×lo–hi`` of ``values`` (``×x`` where both print the same), each printed by ``form``."""
    lo, hi = form(min(values)), form(max(values))
    return f"×{lo}" if lo == hi else f"×{lo}–{hi}"


def _run_scale(history: Mapping[str, np.ndarray], names: Sequence[str], length: int,
               seeds: int) -> tuple[float, float]:
    """The fewest examples any run of ``names`` saw in all, and the mean examples between evaluations."""
    runs = [run_key(length, m, s) for m in names for s in range(seeds)]
    total = min(float(history[f"{k}|examples"][-1]) for k in runs)
    grid = float(np.mean([np.diff(history[f"{k}|examples"]).mean() for k in runs]))
    return total, grid


def final_loss_text(history: Mapping[str, np.ndarray], base: str, waves: Sequence[str], length: int,
                    seeds: int) -> str:
    """At equal examples (the end of the run): how many times ``base``'s median final training loss is that of
    each model of ``waves``."""
    b = final_loss_median(history, base, length, seeds)
    finals = {w: final_loss_median(history, w, length, seeds) for w in waves}
    ratios = [b / max(f, 1e-12) for f in finals.values()]
    return (f"at equal examples (the end of the run) {base}'s median final training loss is {_span(ratios, _ratio)} "
            f"that of v-Wave ({'below ×1: that v-Wave model ends higher; ' if min(ratios) < 1 else ''}{base} {b:.3g}; "
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
    total, grid = _run_scale(history, (base, *waves), length, seeds)
    exact, bounds, slower, parts, limits = [], [], [], [], {}
    for threshold in levels:
        level = _level_in_words(measure, threshold)
        base_runs = _crossings(history, base, length, seeds, threshold, measure)
        b = float(np.median(base_runs))
        cells, fastest = [], math.inf
        for w in waves:
            x = _median_crossing(history, w, length, seeds, threshold, measure)
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
                cells.append(f"{w} ×{_factor(b / x)}")
                slower += [f"{w} (to {level})"] if b < x else []
        if not math.isinf(fastest):
            limits[level] = total / fastest
        got = sum(not math.isinf(c) for c in base_runs)
        where = "beyond the run" if math.isinf(b) else f"at {b:,.0f} examples"
        parts.append(f"to {level} ({base} {where}; {got} of {seeds} seeds got there): " + ", ".join(cells))
    short = ([f"where both {base} and v-Wave reached a {label} level, v-Wave needed {_span(exact)} fewer examples"
              + (" (below ×1: slower)" if min(exact) < 1 else "")] if exact else []) \
        + ([f"where only v-Wave did, more than {_span(bounds, lambda r: f'{r:.1f}')} fewer (lower bounds set by the "
            "run's length)"] if bounds else []) \
        + ([final_loss_text(history, base, waves, length, seeds)] if measure == "train_loss" else [])
    top = max(exact + bounds) if exact or bounds else None
    if top is not None and top >= SPEEDUP:
        verdict = f"Yes, at this reading: a factor of at least ×{top:.1f}"
    elif top is not None:
        verdict = ("Not shown at this preset: " if bounds else "No, not at this preset: ") + "; ".join(
            ([f"where {base} got there too, the factors are at most ×{_factor(max(exact))}"] if exact else [])
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
    sides = {w: _overlap(metrics, w, base, length) for w in waves}
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
    said = "; ".join(f"{_names(names)} {words[value][len(names) > 1]} {base}" for value, names in groups if names)
    head = "Not for every v" if 1 in sides.values() else f"Not shown: no fixed v ends above every {base} seed"
    return f"{head}: {said} ({ranges})"


def worse_than_text(metrics: Mapping[str, Mapping[str, float | None]], base: str, waves: Sequence[str],
                    length: int) -> str:
    """The models of ``waves`` whose final string accuracy (mean over lengths) is below ``base``'s ("" if none)."""
    reference = metrics[run_key(length, base)]["string_accuracy_mean"]
    below = [w for w in waves if metrics[run_key(length, w)]["string_accuracy_mean"] < reference]
    return (f"; below {base} ({reference:.2f}) in final string accuracy: "
            + ", ".join(f"{w} {metrics[run_key(length, w)]['string_accuracy_mean']:.2f}" for w in below)
            if below else "")


def _speed_against(history: Mapping[str, np.ndarray], name: str, others: Sequence[str], length: int,
                   seeds: int) -> tuple[str, int | None]:
    """Learning speed of ``name`` against each of ``others``: the median examples to first reach each string-accuracy
    level of :data:`THRESHOLDS` (a seed that never got there counting as beyond the run), the seeds that got there,
    and per other model whether ``name`` got there sooner (1), at the same evaluation (0) or later (-1). Returns the
    text and the sign over every model and level (0 all tied, None where sooner at some, later at others)."""
    grid = _run_scale(history, (name, *others), length, seeds)[1]
    runs = {m: {t: _crossings(history, m, length, seeds, t) for t in THRESHOLDS} for m in (name, *others)}

    def when(m: str, t: float) -> str:
        got = sum(not math.isinf(c) for c in runs[m][t])
        median = float(np.median(runs[m][t]))
        return f"{'beyond the run' if math.isinf(median) else f'{median:,.0f}'} ({got} of {seeds})"

    def gap(gaps: list[float]) -> str:
        return f" (by {_span(gaps, lambda g: f'{g:.0f}')[1:]} evaluation{'s' if max(gaps) >= 1.5 else ''})"

    words = {1: "sooner than", 0: "at the same evaluation as", -1: "later than"}
    signs, said = set(), []
    for m in others:
        levels: dict[int, list[str]] = {1: [], 0: [], -1: []}
        gaps: dict[int, list[float]] = {1: [], 0: [], -1: []}  # in evaluations, where both got there
        for t in THRESHOLDS:
            x, y = (float(np.median(runs[k][t])) for k in (name, m))
            if math.isinf(x) or math.isinf(y):
                sign = 0 if math.isinf(x) and math.isinf(y) else -1 if math.isinf(x) else 1
            else:
                sign = 0 if abs(x - y) < grid / 2 else 1 if x < y else -1
                gaps[sign].append(abs(x - y) / grid)
            levels[sign].append(_level_in_words("string_accuracy", t))
            signs.add(sign)
        said.append("; ".join(f"{words[k]} {m} to {_names(levels[k])}" + (gap(gaps[k]) if k and gaps[k] else "")
                              for k in (1, 0, -1) if levels[k]))
    nonzero = signs - {0}
    sign = 0 if not nonzero else nonzero.pop() if len(nonzero) == 1 else None
    levels = " / ".join(_level_in_words("string_accuracy", t) for t in THRESHOLDS)
    text = (f"Examples to first reach {levels} string accuracy (median over seeds; seeds that got there): "
            + "; ".join(f"{m} " + " / ".join(when(m, t) for t in THRESHOLDS) for m in (name, *others))
            + f"; one evaluation every about {grid:,.0f} examples. {name} got there " + "; ".join(said))
    return text, sign


def _compare_ablation(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                      name: str, others: Sequence[str], length: int, seeds: int) -> tuple[str, int | None, int | None]:
    """``name`` against ``others`` in final string accuracy (ranges over seeds, :func:`_overlap`) and in learning
    speed (:func:`_speed_against`): the text, and the sign of each (0 alike, 1 ``name`` ahead of every one of
    ``others``, -1 behind, None ahead of some and behind others)."""
    sides = {m: _overlap(metrics, name, m, length) for m in others}
    accuracy = "; ".join(f"{OVERLAP_WORDS[k]} {_names([m for m in others if sides[m] == k])}" for k in (1, 0, -1)
                         if k in sides.values())
    nonzero = set(sides.values()) - {0}
    side = 0 if not nonzero else nonzero.pop() if len(nonzero) == 1 else None
    speed, pace = _speed_against(history, name, others, length, seeds)
    return f"In final string accuracy {name} {accuracy}. {speed}", side, pace


def _ablation_verdict(side: int | None, pace: int | None, what: str, than: str, plural: bool = False) -> str:
    """The verdict on ``what`` (a change of the short mixer) against ``than`` (``plural``: several models) from the
    signs of :func:`_compare_ablation`, final accuracy and learning speed (the abstract's measure) each said."""
    ends = {1: "ends higher", 0: "ends as high (ranges over seeds overlapping)", -1: "ends lower",
            None: "ends higher than one and lower than another"}
    learns = {1: "learns sooner", 0: "learns as fast (the same evaluations)", -1: "learns later",
              None: "learns sooner in some comparisons and later in others"}
    head = f"So, against {than}, {what} {ends[side]} and {learns[pace]}"
    if side == pace == 0:
        return head + f": it does as well as {than}, in final accuracy and in learning speed"
    if side is None or pace is None or side * pace < 0:
        return head + ": no single verdict"
    if side >= 0 and pace >= 0:
        return head + f": it does at least as well as {than}"
    on = ("final accuracy and learning speed" if side and pace else "learning speed, the abstract's measure" if pace
          else "final accuracy")
    return head + f": on {on}, {than} {'do' if plural else 'does'} better"


def reach_text(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
               reaches: Mapping[str, float], larger: str, base: str, fixed: Sequence[str], length: int,
               seeds: int) -> str:
    """Compare ``larger`` (a short mixer with more cells at v = 1) with ``base`` and, by final string accuracy and
    learning speed (:func:`_compare_ablation`), with the fixed velocity of the nearest reach (K/v tokens,
    ``reaches``) and the best fixed velocity of ``fixed``: does the longer reach explain the gain as well as the
    velocity does?"""
    same = min(fixed, key=lambda m: abs(reaches[m] - reaches[larger]))
    best = max(fixed, key=lambda m: metrics[run_key(length, m)]["string_accuracy_mean"])
    against = [same] + ([best] if best != same else [])
    listed = ", ".join(f"{m} {reaches[m]:g}" for m in (base, *fixed, larger))
    text = (f"The short mixer's reach, K/v tokens (§5.1): {listed}. Final string accuracy: {larger} "
            f"{_accuracy(metrics, larger, length)}, {base} {_accuracy(metrics, base, length)}, {same} (reach "
            f"{reaches[same]:g}) {_accuracy(metrics, same, length)}"
            + (f", {best} (the best fixed v) {_accuracy(metrics, best, length)}" if best != same else
               " (also the best fixed v)") + ". ")
    compared, side, pace = _compare_ablation(metrics, history, larger, against, length, seeds)
    versus_base = {1: f"every seed of {larger} ends above every seed of {base}",
                   0: f"{larger}'s range over seeds overlaps {base}'s",
                   -1: f"every seed of {larger} ends below every seed of {base}"}[
        _overlap(metrics, larger, base, length)]
    return (text + compared + ". " + _ablation_verdict(side, pace, "the longer reach at v = 1",
                                                        "the velocity" if best == same else "these velocities",
                                                        plural=best != same) + f". Against {base}: {versus_base}.")


def learned_velocity_text(history: Mapping[str, np.ndarray], metrics: Mapping[str, Mapping[str, float | None]],
                          learned: str, start: str, start_v: float, length: int, seeds: int) -> str:
    """Where the learned velocities ended (every layer, channel and seed), and ``learned`` against its fixed-velocity
    start ``start`` by final string accuracy and learning speed (:func:`_compare_ablation`)."""
    v = np.concatenate([history[f"{run_key(length, learned, s)}|velocity"].ravel() for s in range(seeds)])
    compared, side, pace = _compare_ablation(metrics, history, learned, [start], length, seeds)
    return (f"{learned}'s velocities at the end, every layer, channel and seed: median {np.median(v):.3f}, range "
            f"{v.min():.3f}–{v.max():.3f}, at most {np.abs(v - start_v).max():.3f} from their start {start_v:g}. Its "
            f"final string accuracy {_accuracy(metrics, learned, length)}, that of {start} (fixed v = {start_v:g}) "
            f"{_accuracy(metrics, start, length)}. " + compared + ". "
            + _ablation_verdict(side, pace, "learning the velocity", f"its fixed start {start}") + ".")


def state_size_text(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                    reaches: Mapping[str, float], larger: str, smaller: str, length: int, seeds: int) -> str:
    """Compare ``larger`` with ``smaller``, the same velocity with fewer cells, by reach (K/v tokens) and by final
    string accuracy and learning speed (:func:`_compare_ablation`)."""
    compared, side, pace = _compare_ablation(metrics, history, larger, [smaller], length, seeds)
    return (f"{larger} (reach {reaches[larger]:g} tokens) ends at string accuracy "
            f"{_accuracy(metrics, larger, length)}, {smaller} (the same velocity, reach {reaches[smaller]:g}) at "
            f"{_accuracy(metrics, smaller, length)}. "
            + compared + ". " + _ablation_verdict(side, pace, "the longer slow wave", smaller) + ".")


def ablation_texts(config: VWaveConfig, metrics: Mapping[str, Mapping[str, float | None]],
                   history: Mapping[str, np.ndarray], length: int) -> list[str]:
    """A note per ablation of ``config`` whose comparison models are in ``metrics``: a learned velocity against
    its fixed start (:func:`learned_velocity_text`); a larger short mixer at v = 1 against Mamba and the fixed
    velocities of the same reach (:func:`reach_text`); a larger mixer at another velocity against the same
    velocity with Mamba's 4 cells (:func:`state_size_text`)."""
    spec = {m: config.spec(m) for m in (*config.models, *config.ablation_models)}
    have = [m for m in config.models if run_key(length, m) in metrics]
    fixed = [m for m in have if spec[m].mixer == "vwave" and not spec[m].learn_v]
    reaches = {m: mixer_reach(s.v, s.cells) for m, s in spec.items() if s.family == "mamba"}
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
                texts.append(reach_text(metrics, history, reaches, m, "mamba", fixed, length, config.n_seeds))
        else:
            same = [x for x in have if spec[x].family == "mamba" and not spec[x].learn_v and spec[x].v == s.v
                    and spec[x].cells == mamba_cells]
            if same:
                texts.append(state_size_text(metrics, history, reaches, m, same[0], length, config.n_seeds))
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


def _final_accuracies(metrics: Mapping[str, Mapping], name: str, length: int) -> str:
    m = metrics[run_key(length, name)]
    return f"{m['string_accuracy_mean']:.2f} / {m['string_accuracy_at_max_mean']:.2f}"


def _examples_to(metrics: Mapping[str, Mapping], name: str, length: int, threshold: str = "0.9") -> str:
    value = metrics[run_key(length, name)][f"examples_to_{threshold}"]
    return "not reached" if value is None else f"{value:,.0f}"


def _final_seeds(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int) -> np.ndarray:
    """Each seed's final string accuracy (mean over lengths)."""
    return np.array([history[f"{run_key(length, name, s)}|string_accuracy"][-1] for s in range(seeds)])


def transformer_text(history: Mapping[str, np.ndarray], metrics: Mapping[str, Mapping], wave: str,
                     transformer: str, length: int, seeds: int) -> tuple[str, str]:
    """Claims cell "v-Wave Mamba (``wave``) on par with ``transformer``?", and where v-Wave stands against it:
    "ahead", "behind", "par" or "mixed". Final accuracy: ahead/behind where every seed ends above/below every
    seed of the other, or (ranges overlapping) where both the mean and the number of seeds ending at >= 90% are
    higher/lower; else the same. Speed: the median examples to first reach each string-accuracy and training-loss
    level, faster where it got there in fewer (or the other never did); the evaluation grid limits a factor whose
    faster model got there within its first 3 evaluations."""
    total, grid = _run_scale(history, (wave, transformer), length, seeds)
    ends = {m: _final_seeds(history, m, length, seeds) for m in (wave, transformer)}
    nines = {m: int((ends[m] >= 0.9).sum()) for m in ends}
    means = {m: float(ends[m].mean()) for m in ends}
    side = _overlap(metrics, wave, transformer, length)
    if side == 0:
        side = (1 if means[wave] > means[transformer] and nines[wave] > nines[transformer] else
                -1 if means[wave] < means[transformer] and nines[wave] < nines[transformer] else 0)
    each = [f"{means[m]:.3f} ({ends[m].min():.2f}–{ends[m].max():.2f}; {nines[m]} of {seeds})"
            for m in (wave, transformer)]
    accuracy = f"final string accuracy (mean over seeds, range; seeds ending at ≥ 90%) {wave} {each[0]} vs {each[1]}"
    faster, slower, ties, only_w, only_t, cells, limited = [], [], [], [], [], [], []
    for measure in ("string_accuracy", "train_loss"):
        for threshold in SPEED_MEASURES[measure][0]:
            level = _level_in_words(measure, threshold)
            x, y = (_median_crossing(history, m, length, seeds, threshold, measure) for m in (wave, transformer))
            if math.isinf(x) and math.isinf(y):
                continue
            cells.append(f"{level} " + " vs ".join("not reached" if math.isinf(v) else f"{v:,.0f}" for v in (x, y)))
            if math.isinf(x):
                only_t.append(level)
            elif math.isinf(y):
                only_w.append(level)
            elif abs(x - y) < grid / 2:  # the same evaluation (the seeds' example counts differ a little)
                ties.append(level)
            else:
                (faster if x < y else slower).append((level, max(x, y) / max(min(x, y), 1.0)))
                if min(x, y) <= 3.5 * grid:
                    limited.append(level)
    ahead, behind = bool(faster or only_w), bool(slower or only_t)
    speed = None if ahead and behind else 1 if ahead else -1 if behind else 0  # None: faster at some, slower at others
    if speed is None or side * speed < 0:
        position = "mixed"
    else:
        position = "par" if side == speed == 0 else "ahead" if side + speed > 0 else "behind"

    def clause(who: str, other: str, levels: list[tuple[str, float]], only: list[str]) -> str:
        said = [f"{who} reached {_names([lv for lv, _ in levels])} in {_span([f for _, f in levels])} fewer "
                "examples"] if levels else []
        said += [f"{'it' if said else who} reached {_names(only)} (median seed), {other} did not"] if only else []
        return ", and ".join(said)

    speeds = [c for c in (clause(transformer, wave, slower, only_t), clause(f"v-Wave ({wave})", transformer, faster,
                                                                            only_w)) if c]
    speeds += [f"tied at {_names(ties)} (the same evaluation)"] if ties else []
    first, second = (wave, transformer) if side >= 0 else (transformer, wave)  # the subject's numbers first
    why = (f"mean {means[first]:.3f} vs {means[second]:.3f}, {nines[first]} vs {nines[second]} of {seeds} "
           "seeds ending at ≥ 90%; ")
    same = {1: f"v-Wave ends higher ({why}", 0: f"final string accuracy alike (mean {means[wave]:.3f} vs "
            f"{means[transformer]:.3f}; ", -1: f"{transformer} ends higher ({why}"}[side]
    head = {("par", 0): "On par here" if cells else "Neither reached any level here",
            ("ahead", 1): f"v-Wave beats this {transformer}",
            ("ahead", 0): "Same final accuracy, and v-Wave learns faster",
            ("behind", 0): "Same final accuracy; not the same speed",
            ("behind", -1): f"{transformer} beats v-Wave here"}.get((position, side), "Mixed")
    overlap = "overlap" if _overlap(metrics, wave, transformer, length) == 0 else "do not overlap"
    text = (f"{head}: {same}the ranges over seeds {overlap}); "
            + ("; ".join(speeds) if speeds else "neither got to any level first")
            + (f". At {_names(limited)} the faster model got there within its first 3 evaluations, so the evaluation "
               f"grid (one per about {grid:,.0f} examples) limits those factors: they are rough" if limited else "")
            + f". {wave}, the best fixed v on this page by final string accuracy (chosen after the fact; every v in "
            f"the rows above) vs {transformer}: {accuracy}; examples to first reach each level (medians over seeds): "
            + ("; ".join(cells) if cells else "neither reached any") + f" (runs of at least {total:,.0f} examples)")
    return text, position


def transformers_together_text(positions: Mapping[str, str]) -> str:
    """Where v-Wave stands against the transformers together (``positions``: :func:`transformer_text`'s)."""
    ahead = [t for t, p in positions.items() if p == "ahead"]
    behind = [t for t, p in positions.items() if p == "behind"]
    if ahead and behind:
        return (f"Against the transformers together: \"on par with transformers\" falls between the two on this "
                f"page: v-Wave is behind {_names(behind)} and ahead of {_names(ahead)}")
    if len(ahead) == len(positions):
        return "Against the transformers together: v-Wave is ahead of both on this page"
    if len(behind) == len(positions):
        return "Against the transformers together: v-Wave is behind both on this page"
    if all(p == "par" for p in positions.values()):
        return "Against the transformers together: on par with both on this page"
    return ("Against the transformers together: no single answer on this page ("
            + "; ".join(f"{t}: {p}" for t, p in positions.items()) + ")")


def velocity_text(config: VWaveConfig, metrics: Mapping[str, Mapping], history: Mapping[str, np.ndarray],
                  length: int) -> str:
    """Which fixed velocity of ``config.models`` did best (final string accuracy, mean over seeds; the models
    whose ranges over seeds overlap the best one's count as tied), and whether the slowest is the best ("" with
    fewer than two)."""
    waves = [m for m in config.models if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v]
    if len(waves) < 2:
        return ""
    v = {w: config.spec(w).v for w in waves}
    order = sorted(waves, key=lambda w: -metrics[run_key(length, w)]["string_accuracy_mean"])
    best = order[0]
    tied = [w for w in order if _overlap(metrics, w, best, length) == 0]
    slowest, weakest = min(waves, key=v.get), order[-1]
    listed = ", ".join(f"{w} {_accuracy(metrics, w, length)}" for w in order)
    speeds = sorted(v[w] for w in tied)
    text = (f"**Which velocity?** Final string accuracy (mean over lengths and seeds): {listed}; median final "
            "training loss: " + ", ".join(f"{w} {final_loss_median(history, w, length, config.n_seeds):.3g}"
                                          for w in order) + ". The best v here is "
            + (f"{speeds[0]:g}–{speeds[-1]:g} ({_names(tied)}: their ranges over seeds overlap)" if len(tied) > 1
               else f"{v[best]:g} ({best})"))
    if slowest in tied:
        return text + f"; the slowest on this page, v = {v[slowest]:g}, is among the best."
    where = {-1: f"every seed of it ends below every seed of {best}", 0: f"its range overlaps {best}'s"}[
        _overlap(metrics, slowest, best, length)]
    return text + (f", not the slowest: {slowest} (v = {v[slowest]:g}) is "
                   + ("the weakest v-Wave" if slowest == weakest else f"behind {best}") + f" ({where}).")


def _climb(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int) -> list[float | None]:
    """Per seed, the examples seen when its string accuracy first stood :data:`RISE` above its first evaluation's
    (None if never)."""
    out = []
    for s in range(seeds):
        k = run_key(length, name, s)
        accuracy, examples = history[f"{k}|string_accuracy"], history[f"{k}|examples"]
        out.append(first_crossing(examples[1:], accuracy[1:], float(accuracy[1]) + RISE) if len(accuracy) > 1
                   else None)
    return out


def rope_text(config: VWaveConfig, preset: str, history: Mapping[str, np.ndarray],
              metrics: Mapping[str, Mapping], lengths: Sequence[int]) -> str:
    """The paragraph on RoPE trailing ALiBi ("" unless both are on the page and RoPE ends below ALiBi at some
    length): its heading and verdict from the data — "Is RoPE broken?" only where no seed climbs
    (:func:`_climb`) in the whole run, "RoPE learns later than ALiBi" where every seed does — with when it
    climbs, where its seeds end, whether it still rises over the last fifth of the run and when they pass 50%; its
    sizes and position encoding; and the run that would check it (on a GPU at the ``paper`` preset)."""
    seeds = config.n_seeds
    final = {(L, m): metrics[run_key(L, m)]["string_accuracy_mean"] for L in lengths for m in ("alibi", "rope")
             if m in config.models}
    both = [L for L in lengths
            if (L, "alibi") in final and (L, "rope") in final and final[L, "rope"] < final[L, "alibi"]]
    if not both:
        return ""
    climbs = {L: _climb(history, "rope", L, seeds) for L in both}
    climbed = [c for L in both for c in climbs[L] if c is not None]
    n_all = len(both) * seeds
    heading = ("Is RoPE broken?" if not climbed else "RoPE learns later than ALiBi" if len(climbed) == n_all
               else "Does RoPE learn?")
    parts = []
    for L in both:
        ends = {m: _final_seeds(history, m, L, seeds) for m in ("rope", "alibi")}
        started = [c for c in climbs[L] if c is not None]
        total = _run_scale(history, ("rope",), L, seeds)[0]
        part = f"strings ≤ {L}: "
        if started:
            span = (f"{min(started):,.0f}" if min(started) == max(started) else
                    f"{min(started):,.0f}–{max(started):,.0f}")
            one = len(started) == 1
            part += (f"{len(started)} of {seeds} seeds {'stays' if one else 'stay'} within {RISE:g} of "
                     f"{'its' if one else 'their'} first evaluation's string accuracy until {span} examples, then "
                     f"{'climbs' if one else 'climb'}" + ("" if len(started) == seeds else
                                                          f"; the other{'s' if seeds - len(started) > 1 else ''} "
                                                          "never get that far"))
        else:
            part += (f"no seed gets {RISE:g} above its first evaluation's string accuracy in the whole run "
                     f"({total:,.0f} examples)")
        part += (f"; its seeds end at {', '.join(f'{a:.3f}' for a in ends['rope'])} (ALiBi's at "
                 f"{', '.join(f'{a:.3f}' for a in ends['alibi'])}), median final training loss "
                 f"{final_loss_median(history, 'rope', L, seeds):.3g} against ALiBi's "
                 f"{final_loss_median(history, 'alibi', L, seeds):.3g}")
        curves = np.stack([history[f"{run_key(L, 'rope', s)}|string_accuracy"] for s in range(seeds)])
        back = int(round(0.8 * (curves.shape[1] - 1)))
        gain = float(curves[:, -1].mean() - curves[:, back].mean())
        if started and curves.shape[1] > 2:
            part += (f"; still rising at the end (+{gain:.3f} over the last fifth of the run, mean over seeds)"
                     if gain > 0 else f"; no longer rising over the last fifth of the run ({gain:+.3f}, mean over "
                                      "seeds)")
        half = [c for c in _crossings(history, "rope", L, seeds, 0.5) if not math.isinf(c)]
        if half:
            part += (f"; {'all ' if len(half) == seeds else ''}{len(half)} of {seeds} seeds pass 50% by "
                     f"{max(half):,.0f} examples (ALiBi's by "
                     f"{max(_crossings(history, 'alibi', L, seeds, 0.5)):,.0f})")
        parts.append(part)
    paper = PRESETS["paper"]
    rows = paper.batch * paper.steps / (config.batch * config.steps)
    larger = "larger " if paper.parameters("rope") > config.parameters("rope") else ""
    longer = ("this page shows none (the check below trains one)" if preset == "paper" else
              f"the `paper` preset's run, of {larger}models on {rows:.3g}× this page's training rows, is one (the "
              "note on paper scale below)" if rows > 1 else "the note on paper scale below gives the `paper` preset's "
              "run")
    if not climbed:
        verdict = ("On this page RoPE does not learn copy at this size within the run. Whether it would with longer "
                   f"training, a longer run would show: {longer}.")
    elif len(climbed) == n_all:
        verdict = ("So RoPE is not broken here: it learns, later than ALiBi. Whether it would catch up with ALiBi "
                   f"given more examples, a longer run would show: {longer}.")
    else:
        verdict = ("Only some seeds leave their start, and RoPE ends far below ALiBi: whether it learns copy at this "
                   f"size, and the other seeds later, a longer run would show: {longer}.")
    head_dim = config.d_model // config.n_heads
    frequencies = rope_frequencies(head_dim).tolist()
    if preset == "paper":
        check = (f"train both transformers for twice the steps on a GPU (`python -m wavelib train vwave --preset "
                 f"paper --device cuda --cuda-graph --set \"models=('alibi','rope')\" --set steps={2 * config.steps} "
                 "--experiment copy_curves`)")
    else:
        check = ("train both transformers longer on short strings (`python -m wavelib train vwave --preset cpu --set "
                 "\"models=('alibi','rope')\" --set \"lengths=(5,)\" --set n_seeds=1 --set steps=1000 --experiment "
                 "copy_curves`), or RoPE alone for 2,000 steps on strings ≤ 10")
    heading += "" if heading.endswith("?") else "."
    return (f"**{heading}** On this page, " + "; ".join(parts) + f". {verdict} Each transformer has "
            f"{config.parameters('rope'):,} parameters, Mamba {config.parameters('mamba'):,}: RoPE trailing ALiBi may "
            f"be an effect of these small models. To check it: {check}, and compare rotating all of each head's dims "
            "(`TransformerLM(..., rope_fraction=1.0)`). The RoPE follows GPT-NeoX, as the models of Jelassi et al. "
            "do: 25% of each head's dims rotated, positions counted along the packed row, a causal mask. On this page "
            f"a head has {head_dim} dims, so {2 * len(frequencies)} are rotated, at {len(frequencies)} frequencies "
            f"({', '.join(f'{f:.3g}' for f in frequencies)} radians per token), where the 64-dim heads of Jelassi et "
            "al. rotate 16." + (" A possible reading, untested here: heads this small leave RoPE little position "
                                "signal." if head_dim <= 16 else ""))


def paper_scale_rows(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int,
                     paper_metrics: Mapping[str, Mapping]) -> tuple[list[str], list[list[str]]]:
    """Final string accuracy (mean over lengths; mean and range over seeds) and the seeds that reached 50%, on this
    page (``metrics`` at ``length``) and in the ``paper`` preset's ``copy_curves`` (``paper_metrics``), one row per
    model on both."""
    paper = PRESETS["paper"]
    level = THRESHOLDS[0]

    def cell(m: Mapping[str, float | None], seeds: int) -> str:
        return (f"{m['string_accuracy_mean']:.3f} ({m['string_accuracy_min']:.2f}–{m['string_accuracy_max']:.2f}); "
                f"{m[f'seeds_reaching_{level:g}']} of {seeds} reached {level:.0%}")

    header = ["model", f"this page: strings ≤ {length}", f"`paper` preset: strings ≤ {paper.lengths[0]}"]
    rows = [[m, cell(metrics[run_key(length, m)], config.n_seeds), cell(paper_metrics[run_key(paper.lengths[0], m)],
                                                                        paper.n_seeds)]
            for m in config.models if run_key(paper.lengths[0], m) in paper_metrics]
    return header, rows


def paper_scale_text(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int, paper_curves: Artifact | None,
                     seed: int) -> str:
    """On a reduced preset's page: where the ``paper`` preset's stored ``copy_curves`` (``paper_curves``, seed
    ``seed``) disagree with this page (``metrics`` at ``length``) — each fixed v against Mamba (ranges over seeds,
    :func:`_overlap`) and the seeds that reached 50% — with how it was made; or that this page's results store holds
    no such artifact (``paper_curves`` None)."""
    paper = PRESETS["paper"]
    if paper_curves is None:
        return (f"**At paper scale.** The results store this page was built from holds no `copy_curves` of the "
                f"`paper` preset (seed {seed}), so this page cannot show whether its findings hold for that preset's "
                "larger models and longer training. Where that artifact is stored, this note compares the two, and "
                "`python -m wavelib run vwave --preset paper` renders the whole page from it.")
    big, level = paper.lengths[0], THRESHOLDS[0]
    theirs = paper_curves.metrics
    both = [m for m in config.models if run_key(big, m) in theirs]
    differ = []
    if "mamba" in both:
        for w in (m for m in both if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v):
            here, there = _overlap(metrics, w, "mamba", length), _overlap(theirs, w, "mamba", big)
            if here != there:
                means = [(f"{ms[run_key(n, w)]['string_accuracy_mean']:.3f} against "
                          f"{ms[run_key(n, 'mamba')]['string_accuracy_mean']:.3f}") for ms, n in ((metrics, length),
                                                                                                (theirs, big))]
                differ.append(f"{w} {OVERLAP_WORDS[here]} mamba here (means {means[0]}) and {OVERLAP_WORDS[there]} "
                              "mamba at paper "
                              f"scale ({means[1]})")
    key = f"seeds_reaching_{level:g}"
    for m in both:
        k, k_paper = metrics[run_key(length, m)][key], theirs[run_key(big, m)][key]
        if k != k_paper:
            differ.append(f"{k} of {config.n_seeds} {m} seeds reached {level:.0%} here, {k_paper} of {paper.n_seeds} "
                          f"at paper scale (final {theirs[run_key(big, m)]['string_accuracy_mean']:.3f})")
    found = ("Where they disagree: " + "; ".join(differ) + "." if differ else
             f"On each fixed v against Mamba and on the seeds that reached {level:.0%}, they agree.")
    return (f"**At paper scale.** The results store also holds the `paper` preset's `copy_curves` (seed {seed}): "
            f"models of {paper.parameters('mamba'):,} (Mamba) and {paper.parameters('rope'):,} (each transformer) "
            f"parameters on strings ≤ {big}, {paper.steps:,} steps of {paper.batch} rows; it was "
            f"{paper_curves.provenance()}. The table below compares its final string accuracy with this page's. "
            f"{found} The two "
            "differ in model size, string length and training at once, so the table does not say which of these "
            "makes a difference. `python -m wavelib run vwave --preset paper` renders the whole page from it.")


def scale_text(paper: VWaveConfig, config: VWaveConfig) -> str:
    """How the ``paper`` preset's models and protocol differ in scale from Jelassi et al.'s (:data:`JELASSI`), and
    this page's preset from ``paper`` if it differs."""
    sizes = {m: paper.parameters(m) for m in ("mamba", "rope")}
    fewer = [JELASSI["parameters"] / n for n in sizes.values()]
    def number(x: float) -> str:
        return f"{x:.0e}".replace("e-0", "e-") if x < 0.01 else f"{x:g}"

    diffs = [f"{what} {number(ours)} against {number(theirs)}" for what, ours, theirs in (
        ("Mamba's d_state", paper.d_state, JELASSI["d_state"]), ("peak learning rate", paper.lr, JELASSI["lr"]),
        ("batch", paper.batch, JELASSI["batch"]), ("shortest training string", paper.min_len, JELASSI["min_len"]))
        if ours != theirs]
    text = (f"**Scale.** Even the `paper` preset's models are far smaller than those of Jelassi et al.: "
            f"{sizes['mamba']:,} parameters (Mamba) and {sizes['rope']:,} (each transformer) against about "
            f"{JELASSI['parameters'] / 1e6:.0f}M, {_span(fewer, _ratio)} fewer"
            + (f"; {', '.join(diffs)}" if diffs else "") + ". Their findings at that size need not hold at this one: "
            "where a result below may be a small-model effect, the page says so.")
    if config.parameters("mamba") != sizes["mamba"]:
        text += (f" This page's preset is smaller still: {config.parameters('mamba'):,} (Mamba) and "
                 f"{config.parameters('rope'):,} (transformer) parameters.")
    return text


def packing_text(config: VWaveConfig, rows: int = 2048) -> str:
    """What packing trains at each maximum length of ``config``: among the strings in the loss of ``rows`` training
    rows (seed 0), the share of the longest quarter of lengths and the mean length, against a uniform draw's; and
    the lengths that Mamba's short conv reaches without the scan's state."""
    parts = []
    for length in config.lengths:
        training = config.training(length)
        trained = trained_lengths(training.context_len, config.min_len, length, rows).numpy()
        span = length - config.min_len + 1
        quarter = max(span // 4, 1)
        longest = f"length {length}, the longest, makes" if quarter == 1 else \
            f"lengths {length - quarter + 1}–{length}, the longest quarter, make"
        parts.append(f"at $L_{{\\max}} = {length}$ (rows of {training.context_len} tokens) {longest} "
                     f"{np.mean(trained > length - quarter):.0%} of them ({quarter / span:.0%} for equal counts), and "
                     f"the mean length is {trained.mean():.1f} ({(config.min_len + length) / 2:g})")
    taps = config.spec("mamba").cells
    reach = ", ".join(f"{min(taps - 1, length - config.min_len + 1) / (length - config.min_len + 1):.0%} at "
                      f"$L_{{\\max}} = {length}$" for length in config.lengths)
    return (f"**What packing trains.** A training row holds whole examples and then a cut one, which the loss leaves "
            f"out (as in Jelassi et al.'s code), and a long example is cut more often than a short one. Among the "
            f"strings in the loss of {rows:,} training rows: " + "; ".join(parts) + ". **What the short conv "
            f"copies.** A letter is written exactly $\\ell$ tokens after it was read, so strings of up to {taps - 1} "
            f"letters lie within reach of Mamba's {taps}-tap short conv and can be copied without the selective "
            f"scan's state: up to {reach} of the mean over lengths (the tables give the accuracy at $L_{{\\max}}$ "
            "alone too). A slower v-wave mixer reaches further (about $K/v$ tokens: §5.1's table), the longer context "
            "the abstract credits.")


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


def small_models_text(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int) -> str:
    """Beside the results: which of them may be small-model effects (Mamba failing at the longest training
    strings, RoPE trailing ALiBi), with the parameter counts against Jelassi et al.'s ("" if neither shows)."""
    said = []
    if "mamba" in config.models and metrics[run_key(length, "mamba")]["string_accuracy_at_max_mean"] < 0.5:
        said.append(f"Mamba's failure at the longest strings (string accuracy "
                    f"{metrics[run_key(length, 'mamba')]['string_accuracy_at_max_mean']:.2f} at {length})")
    if "rope" in config.models and "alibi" in config.models and (
            metrics[run_key(length, "rope")]["string_accuracy_mean"]
            < metrics[run_key(length, "alibi")]["string_accuracy_mean"]):
        said.append("RoPE trailing ALiBi")
    if not said:
        return ""
    effect = "an effect" if len(said) == 1 else "effects"
    return (f"{_names(said)} may be {effect} of these small models ({config.parameters('mamba'):,} and "
            f"{config.parameters('rope'):,} parameters, against about {JELASSI['parameters'] / 1e6:.0f}M in Jelassi "
            "et al.), not properties of the architectures at their size.")


def claims_rows(config: VWaveConfig, lengths: Sequence[int], metrics: Mapping[str, Mapping],
                history: Mapping[str, np.ndarray], ablation_metrics: Mapping[str, Mapping] | None,
                missing: str) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, abstract, measured) per row: learning speed in training loss and in
    string accuracy, final error, the transformer comparison and length generalisation per maximum length on the
    page (``lengths``; a length of ``config`` not on it says ``missing``), the v = 1 construction check, and each
    ablation (``ablation_metrics`` None: not computed). ``metrics``/``history``: the copy-curve artifacts, merged."""
    def each(measure: Any, names: Sequence[str], length: int) -> str:
        return "; ".join(f"{m} {measure(metrics, m, length)}" for m in names)

    rows = []
    waves = [m for m in config.models if config.spec(m).mixer == "vwave" and not config.spec(m).learn_v]  # fixed v
    transformers = [t for t in TRANSFORMERS if t in config.models]
    paper_longest = max(PRESETS["paper"].lengths)
    for length in config.lengths:
        if length not in lengths:
            rows.append((f"strings ≤ {length}: v-Wave Mamba learns copy faster than Mamba, on par with transformers "
                         f"(experiment `{'copy_curves' if length == config.lengths[0] else 'copy_curves_long'}`)",
                         "Fig. 2", missing))
            continue
        if "mamba" in config.models and waves:
            rows.append((f"v-Wave Mamba learns copy (length ≤ {length}) exponentially faster than Mamba",
                         "Fig. 2 (training loss) and text",
                         "Training loss, as in Fig. 2 (this page's curves: §5.2). "
                         + speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every,
                                            measure="train_loss")))
            rows.append((f"the same claim in string accuracy, the measure of Jelassi et al. (length ≤ {length})",
                         "not in the abstract, which shows the loss",
                         speed_claim_text(history, "mamba", waves, length, config.n_seeds, config.eval_every)))
            if length >= paper_longest:
                scope = f"strings ≤ {length} are the abstract's large-scale setting"
            else:
                longer = [n for n in config.lengths if n > length]
                scope = (f"the abstract ties \"significantly lower error rates\" to large-scale tasks; this row "
                         f"tests it at strings ≤ {length} only; " + (
                             f"strings ≤ {', '.join(map(str, longer))}: "
                             + ("the rows below" if all(n in lengths for n in longer) else missing) if longer
                             else f"this preset has no longer strings, the `paper` preset's go to {paper_longest}"))
            rows.append((f"v-Wave Mamba reaches a lower error than Mamba (length ≤ {length})",
                         "text only (\"significantly lower error rates\", on large-scale tasks)",
                         lower_error_text(metrics, "mamba", waves, length) + f"; {scope}. Final string accuracy, all "
                         f"lengths / at {length} (means over seeds): "
                         f"{each(_final_accuracies, ['mamba', *waves], length)}"
                         + worse_than_text(metrics, "mamba", waves, length)))
        best = max(waves, key=lambda m: metrics[run_key(length, m)]["string_accuracy_mean"]) if waves else None
        positions = {}
        for t in transformers:
            if best:
                text, positions[t] = transformer_text(history, metrics, best, t, length, config.n_seeds)
                if len(positions) == len(transformers) > 1:
                    text += ". " + transformers_together_text(positions)
                rows.append((f"v-Wave Mamba on par with the {t} transformer (length ≤ {length})",
                             "Fig. 2 and text: on par", text))
        if waves and transformers:
            rows.append((f"length generalisation beyond the training length (length ≤ {length}): v-Wave Mamba as "
                         "far as the transformers",
                         "not in the abstract (Jelassi et al.: transformers with suitable position encodings "
                         "generalise, SSMs do not)",
                         _generalisation_verdict(history, waves, transformers, length, config.n_seeds)))
    rows.append(("SSMs contain a v = 1 traveling wave: the shift SSM of the H3 block, which most SSMs can be seen "
                 "to build on",
                 "text; Fig. 1a: waves in \"the hidden state of the Shift-SSM of Mamba\" (left) and of v-Wave Mamba "
                 "(right); it says neither which part of Mamba that is nor whether the models were trained",
                 "this book reads Mamba's short conv as that shift SSM (the author's 2025 blog post, not the abstract)"
                 " and checks its own construction, not Fig. 1a: the v = 1 mixer equals conv1d with the same weights "
                 "(§5.1)" + ("; the states of this page's trained models are in §5.3" if config.lengths[0] in lengths
                             else "")))
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
