"""Chapter 5's measures on the stored copy curves, shared by its texts: per model and maximum length, the
examples seen when a measure first reached a level, final accuracies and how two models' ranges over seeds stand,
and how the texts print them (names and lengths in words, factors, spans)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..experiments.vwave import LOSS_THRESHOLDS, THRESHOLDS, first_crossing, run_key


#: how a model's final string accuracy stands against another's, by the sign of :func:`side_of`
OVERLAP_WORDS = {1: "ends above every seed of", 0: "overlaps the range over seeds of", -1: "ends below every seed of"}
RISE = 0.1  #: a seed "climbs" once its string accuracy is this much above its first evaluation's


def join_lengths(lengths: Sequence[int]) -> str:
    """String lengths in words: ``8``, ``8 and 9``, ..."""
    return join_names([str(n) for n in lengths])


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def level_in_words(measure: str, level: float) -> str:
    """A level of a speed measure in words: 1 nat, 0.3 nats; 50%."""
    if measure == "train_loss":
        return f"{level:g} nat" + ("" if level == 1 else "s")
    return f"{level:.0%}"


#: the learning-speed measures: history key -> (levels, whether it falls to them, its name)
SPEED_MEASURES = {
    "train_loss": (LOSS_THRESHOLDS, True, "training loss"),
    "string_accuracy": (THRESHOLDS, False, "string accuracy"),
}


def crossings(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int, threshold: float,
               measure: str = "string_accuracy") -> list[float]:
    """Per seed, the examples seen when ``measure`` (:data:`SPEED_MEASURES`) first reached ``threshold``
    (inf if never)."""
    below = SPEED_MEASURES[measure][1]
    found = [first_crossing(history[f"{run_key(length, name, s)}|examples"],
                            history[f"{run_key(length, name, s)}|{measure}"], threshold, below=below)
             for s in range(seeds)]
    return [math.inf if c is None else c for c in found]


def median_crossing(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int, threshold: float,
                     measure: str) -> float:
    """The median over seeds of :func:`crossings` (inf where the median seed never got there)."""
    return float(np.median(crossings(history, name, length, seeds, threshold, measure)))


def factor_text(ratio: float) -> str:
    """``ratio`` to 2 decimals, or 3 where 2 would print a ratio that is not 1 as 1.00 (a slower model as
    "×1.00")."""
    text = f"{ratio:.2f}"
    return f"{ratio:.3f}" if text == "1.00" and ratio != 1.0 else text


def ratio_text(ratio: float) -> str:
    """A large ratio to whole numbers, a small one to 2 significant digits: 64, 9.2, 0.85."""
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"


def short_number(x: float) -> str:
    """A knob's value as the texts print it: ``1e-5`` below 0.01, else as ``:g`` does (``0.001``, ``32``)."""
    return f"{x:.0e}".replace("e-0", "e-") if x < 0.01 else f"{x:g}"


def span_text(values: Sequence[float], form: Any = factor_text) -> str:
    """``×lo–hi`` of ``values`` (``×x`` where both print the same), each printed by ``form``."""
    lo, hi = form(min(values)), form(max(values))
    return f"×{lo}" if lo == hi else f"×{lo}–{hi}"


def run_scale(history: Mapping[str, np.ndarray], names: Sequence[str], length: int,
               seeds: int) -> tuple[float, float]:
    """The fewest examples any run of ``names`` saw in all, and the mean examples between evaluations."""
    runs = [run_key(length, m, s) for m in names for s in range(seeds)]
    total = min(float(history[f"{k}|examples"][-1]) for k in runs)
    grid = float(np.mean([np.diff(history[f"{k}|examples"]).mean() for k in runs]))
    return total, grid


def final_loss_median(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int) -> float:
    """``name``'s last training-loss record at ``length``, the median over ``seeds`` seeds."""
    return float(np.median([history[f"{run_key(length, name, s)}|train_loss"][-1] for s in range(seeds)]))


def accuracy_text(metrics: Mapping[str, Mapping[str, float | None]], name: str, length: int) -> str:
    m = metrics[run_key(length, name)]
    return f"{m['string_accuracy_mean']:.3f} (seeds {m['string_accuracy_min']:.2f}–{m['string_accuracy_max']:.2f})"


def side_of(metrics: Mapping[str, Mapping[str, float | None]], a: str, b: str, length: int) -> int:
    """-1, 0 or 1: every seed of ``a`` ends below every seed of ``b``, the ranges over seeds overlap, or above."""
    ma, mb = metrics[run_key(length, a)], metrics[run_key(length, b)]
    if ma["string_accuracy_max"] < mb["string_accuracy_min"]:
        return -1
    return 1 if ma["string_accuracy_min"] > mb["string_accuracy_max"] else 0


def final_seeds(history: Mapping[str, np.ndarray], name: str, length: int, seeds: int,
                measure: str = "string_accuracy") -> np.ndarray:
    """Each seed's final ``measure`` (an accuracy: the mean over lengths)."""
    return np.array([history[f"{run_key(length, name, s)}|{measure}"][-1] for s in range(seeds)])


def any_seed_copies(metrics: Mapping[str, Mapping[str, float | None]], names: Sequence[str], length: int) -> bool:
    """Whether a seed of one of ``names`` ends at the first level of :data:`THRESHOLDS` or above in string accuracy
    (mean over lengths) at ``length``."""
    return any(metrics[run_key(length, m)]["string_accuracy_max"] >= THRESHOLDS[0] for m in names)


def final_accuracies_text(metrics: Mapping[str, Mapping], name: str, length: int) -> str:
    m = metrics[run_key(length, name)]
    return f"{m['string_accuracy_mean']:.2f} / {m['string_accuracy_at_max_mean']:.2f}"


def examples_to_text(metrics: Mapping[str, Mapping], name: str, length: int, threshold: str = "0.9") -> str:
    value = metrics[run_key(length, name)][f"examples_to_{threshold}"]
    return "not reached" if value is None else f"{value:,.0f}"
