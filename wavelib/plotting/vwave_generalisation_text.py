"""Chapter 5's texts on length generalisation, from the stored copy curves: how far beyond the training length
each model keeps its string accuracy, and how the two evaluation sets relate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..experiments.vwave import run_key
from .vwave import generalisation_scores
from .vwave_numbers import RISE, join_lengths, join_names


KEEP = 0.9  #: a model "keeps" its accuracy at a longer string length if its string accuracy there is at least this


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
                         + (f", at least {KEEP:g} again at {join_lengths(again)}" if again else ""))
        elif beyond.max() < 0.05:
            nothing.append(name)
        else:
            again = _kept_again(n, accuracy, length)
            parts.append(f"{name} is below {KEEP:g} already at {longer[0]} ({beyond[0]:.2f}; at most "
                         f"{beyond.max():.2f} at the longer lengths"
                         + (f", at least {KEEP:g} at {join_lengths(again)}" if again else "") + ")")
    if nothing:
        top = max(generalisation_scores(history, m, length, seeds)[1][lengths > length].max() for m in nothing)
        parts.append(f"{join_names(nothing)} score{'s' if len(nothing) == 1 else ''} {'at most ' if top else ''}"
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


def generalisation_verdict(history: Mapping[str, np.ndarray], waves: Sequence[str], transformers: Sequence[str],
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
        regained = join_lengths(again[m]) if again[m] else ""
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
                            + "".join(f"; {m} ≥ {KEEP:g} again at {join_lengths(again[m])}"
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


def evaluation_sets_text(history: Mapping[str, np.ndarray], models: Sequence[str], length: int, seeds: int,
                         per_length: int) -> str:
    """How the generalisation set relates to the learning curves' set at the longest training length: the model
    whose two final accuracies there differ most (means over seeds), or that they agree for every model."""
    def at(name: str, key: str, lengths_key: str) -> float:
        """Final accuracy at ``length`` (mean over seeds) of the per-length record ``key``."""
        runs = [run_key(length, name, s) for s in range(seeds)]
        return float(np.mean([np.atleast_2d(history[f"{k}|{key}"])[-1][
            list(history[f"{k}|{lengths_key}"]).index(length)] for k in runs]))

    pairs = {m: (at(m, "string_accuracy_by_length", "eval_lengths"),
                 at(m, "generalisation_string_accuracy", "generalisation_lengths")) for m in models}
    name = max(pairs, key=lambda m: abs(pairs[m][0] - pairs[m][1]))
    table, here = pairs[name]
    head = (f"This figure scores its own fixed set of strings, {per_length} per length (the same strings for every "
            f"model and seed), drawn with another seed than the set of §5.2's curves and tables, which also has "
            f"{per_length} per length. At length {length} the two sets ")
    over = f"means over {seeds} seeds" if seeds > 1 else "one seed"
    if table == here:
        return head + (f"give the same final string accuracy for every model here ({', '.join(models)}; {over}), "
                       "though by sampling alone they could differ.")
    return head + (f"give different numbers by sampling alone; the largest gap: {name}, {table:.3f} in §5.2's table "
                   f"and {here:.3f} here ({over}).")
