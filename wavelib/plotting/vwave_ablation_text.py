"""Chapter 5's texts on the ablations, from the stored copy curves: a learned velocity against its fixed start,
a longer short mixer against the velocities of the same reach, and against the same velocity with Mamba's 4 cells."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..experiments.vwave import THRESHOLDS, VWaveConfig, run_key
from ..models.language_models import LEARNED_V_START
from ..models.short_mixers import reach as mixer_reach
from .vwave_numbers import (OVERLAP_WORDS, accuracy_text, crossings, join_names, level_in_words, run_scale, side_of,
                            span_text)


def _speed_against(history: Mapping[str, np.ndarray], name: str, others: Sequence[str], length: int,
                   seeds: int) -> tuple[str, int | None]:
    """Learning speed of ``name`` against each of ``others``: the median examples to first reach each string-accuracy
    level of :data:`THRESHOLDS` (a seed that never got there counting as beyond the run), the seeds that got there,
    and per other model whether ``name`` got there sooner (1), at the same evaluation (0) or later (-1). Returns the
    text and the sign over every model and level (0 all tied, None where sooner at some, later at others)."""
    grid = run_scale(history, (name, *others), length, seeds)[1]
    runs = {m: {t: crossings(history, m, length, seeds, t) for t in THRESHOLDS} for m in (name, *others)}

    def when(m: str, t: float) -> str:
        got = sum(not math.isinf(c) for c in runs[m][t])
        median = float(np.median(runs[m][t]))
        return f"{'beyond the run' if math.isinf(median) else f'{median:,.0f}'} ({got} of {seeds})"

    def gap(gaps: list[float]) -> str:
        return f" (by {span_text(gaps, lambda g: f'{g:.0f}')[1:]} evaluation{'s' if max(gaps) >= 1.5 else ''})"

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
            levels[sign].append(level_in_words("string_accuracy", t))
            signs.add(sign)
        said.append("; ".join(f"{words[k]} {m} to {join_names(levels[k])}" + (gap(gaps[k]) if k and gaps[k] else "")
                              for k in (1, 0, -1) if levels[k]))
    nonzero = signs - {0}
    sign = 0 if not nonzero else nonzero.pop() if len(nonzero) == 1 else None
    levels = " / ".join(level_in_words("string_accuracy", t) for t in THRESHOLDS)
    text = (f"Examples to first reach {levels} string accuracy (median over seeds; seeds that got there): "
            + "; ".join(f"{m} " + " / ".join(when(m, t) for t in THRESHOLDS) for m in (name, *others))
            + f"; one evaluation every about {grid:,.0f} examples. {name} got there " + "; ".join(said))
    return text, sign


def _compare_ablation(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                      name: str, others: Sequence[str], length: int, seeds: int) -> tuple[str, int | None, int | None]:
    """``name`` against ``others`` in final string accuracy (ranges over seeds, :func:`side_of`) and in learning
    speed (:func:`_speed_against`): the text, and the sign of each (0 alike, 1 ``name`` ahead of every one of
    ``others``, -1 behind, None ahead of some and behind others)."""
    sides = {m: side_of(metrics, name, m, length) for m in others}
    accuracy = "; ".join(f"{OVERLAP_WORDS[k]} {join_names([m for m in others if sides[m] == k])}" for k in (1, 0, -1)
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
            f"{accuracy_text(metrics, larger, length)}, {base} {accuracy_text(metrics, base, length)}, {same} (reach "
            f"{reaches[same]:g}) {accuracy_text(metrics, same, length)}"
            + (f", {best} (the best fixed v) {accuracy_text(metrics, best, length)}" if best != same else
               " (also the best fixed v)") + ". ")
    compared, side, pace = _compare_ablation(metrics, history, larger, against, length, seeds)
    versus_base = {1: f"every seed of {larger} ends above every seed of {base}",
                   0: f"{larger}'s range over seeds overlaps {base}'s",
                   -1: f"every seed of {larger} ends below every seed of {base}"}[
        side_of(metrics, larger, base, length)]
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
            f"final string accuracy {accuracy_text(metrics, learned, length)}, that of {start} (fixed v = {start_v:g}) "
            f"{accuracy_text(metrics, start, length)}. " + compared + ". "
            + _ablation_verdict(side, pace, "learning the velocity", f"its fixed start {start}") + ".")


def state_size_text(metrics: Mapping[str, Mapping[str, float | None]], history: Mapping[str, np.ndarray],
                    reaches: Mapping[str, float], larger: str, smaller: str, length: int, seeds: int) -> str:
    """Compare ``larger`` with ``smaller``, the same velocity with fewer cells, by reach (K/v tokens) and by final
    string accuracy and learning speed (:func:`_compare_ablation`)."""
    compared, side, pace = _compare_ablation(metrics, history, larger, [smaller], length, seeds)
    return (f"{larger} (reach {reaches[larger]:g} tokens) ends at string accuracy "
            f"{accuracy_text(metrics, larger, length)}, {smaller} (the same velocity, reach {reaches[smaller]:g}) at "
            f"{accuracy_text(metrics, smaller, length)}. "
            + compared + ". " + _ablation_verdict(side, pace, "the longer slow wave", smaller) + ".")


def devices_text(ablation_devices: Sequence[str], curve_devices: Sequence[str]) -> str:
    """Where the ablations and the runs they are set beside (``copy_curves``) trained on different devices (each
    list: attempt by attempt), that they agree only to rounding and are to be compared by their ranges over seeds
    ("" where the devices are the same)."""
    if list(ablation_devices) == list(curve_devices):
        return ""
    return (f"The ablations trained on {join_names(list(ablation_devices))}, the runs set beside them (`copy_curves`) "
            f"on {join_names(list(curve_devices))}: the same computation, which devices carry out equal only to "
            "rounding, so a seed's run is not bit for bit what another device would give. The notes below compare "
            "models by their ranges over seeds and their medians, not seed by seed.")


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
