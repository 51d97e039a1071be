"""Chapter 5's texts on the transformers, from the stored copy curves: v-Wave Mamba against ALiBi and RoPE
("on par with transformers"), and why RoPE may trail ALiBi."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..experiments.vwave import PRESETS, VWaveConfig, first_crossing, run_key
from ..models.transformer import rope_frequencies
from .vwave_numbers import (RISE, SPEED_MEASURES, crossings, final_loss_median, final_seeds, join_names,
                            level_in_words, median_crossing, run_scale, side_of, span_text)
from .vwave_scale_text import JELASSI


def transformer_text(history: Mapping[str, np.ndarray], metrics: Mapping[str, Mapping], wave: str,
                     transformer: str, length: int, seeds: int,
                     chosen_by: str = "final string accuracy") -> tuple[str, str]:
    """Claims cell "v-Wave Mamba (``wave``, the best fixed v by ``chosen_by``) on par with ``transformer``?", and
    where v-Wave stands against it: "ahead", "behind", "par" or "mixed". Final accuracy: ahead/behind where every
    seed ends above/below every seed of the other, or (ranges overlapping) where both the mean and the number of
    seeds ending at >= 90% are higher/lower; else the same. Speed: the median examples to first reach each
    string-accuracy and training-loss level, faster where it got there in fewer (or the other never did); the
    evaluation grid limits a factor whose faster model got there within its first 3 evaluations."""
    total, grid = run_scale(history, (wave, transformer), length, seeds)
    ends = {m: final_seeds(history, m, length, seeds) for m in (wave, transformer)}
    nines = {m: int((ends[m] >= 0.9).sum()) for m in ends}
    means = {m: float(ends[m].mean()) for m in ends}
    side = side_of(metrics, wave, transformer, length)
    if side == 0:
        side = (1 if means[wave] > means[transformer] and nines[wave] > nines[transformer] else
                -1 if means[wave] < means[transformer] and nines[wave] < nines[transformer] else 0)
    each = [f"{means[m]:.3f} ({ends[m].min():.2f}–{ends[m].max():.2f}; {nines[m]} of {seeds})"
            for m in (wave, transformer)]
    accuracy = f"final string accuracy (mean over seeds, range; seeds ending at ≥ 90%) {wave} {each[0]} vs {each[1]}"
    faster, slower, ties, only_w, only_t, cells, limited = [], [], [], [], [], [], []
    for measure in ("string_accuracy", "train_loss"):
        for threshold in SPEED_MEASURES[measure][0]:
            level = level_in_words(measure, threshold)
            x, y = (median_crossing(history, m, length, seeds, threshold, measure) for m in (wave, transformer))
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
        said = [f"{who} reached {join_names([lv for lv, _ in levels])} in {span_text([f for _, f in levels])} fewer "
                "examples"] if levels else []
        said += [f"{'it' if said else who} reached {join_names(only)} (median seed), {other} did not"] if only else []
        return ", and ".join(said)

    speeds = [c for c in (clause(transformer, wave, slower, only_t), clause(f"v-Wave ({wave})", transformer, faster,
                                                                            only_w)) if c]
    speeds += [f"tied at {join_names(ties)} (the same evaluation)"] if ties else []
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
    overlap = "overlap" if side_of(metrics, wave, transformer, length) == 0 else "do not overlap"
    text = (f"{head}: {same}the ranges over seeds {overlap}); "
            + ("; ".join(speeds) if speeds else "neither got to any level first")
            + (f". At {join_names(limited)} the faster model got there within its first 3 evaluations, so the "
               f"evaluation grid (one per about {grid:,.0f} examples) limits those factors: they are rough"
               if limited else "")
            + f". {wave}, the best fixed v on this page by {chosen_by} (chosen after the fact; every v in "
            f"the rows above) vs {transformer}: {accuracy}; examples to first reach each level (medians over seeds): "
            + ("; ".join(cells) if cells else "neither reached any") + f" (runs of at least {total:,.0f} examples)")
    return text, position


def transformers_together_text(positions: Mapping[str, str]) -> str:
    """Where v-Wave stands against the transformers together (``positions``: :func:`transformer_text`'s)."""
    ahead = [t for t, p in positions.items() if p == "ahead"]
    behind = [t for t, p in positions.items() if p == "behind"]
    if ahead and behind:
        return (f"Against the transformers together: \"on par with transformers\" falls between the two on this "
                f"page: v-Wave is behind {join_names(behind)} and ahead of {join_names(ahead)}")
    if len(ahead) == len(positions):
        return "Against the transformers together: v-Wave is ahead of both on this page"
    if len(behind) == len(positions):
        return "Against the transformers together: v-Wave is behind both on this page"
    if all(p == "par" for p in positions.values()):
        return "Against the transformers together: on par with both on this page"
    return ("Against the transformers together: no single answer on this page ("
            + "; ".join(f"{t}: {p}" for t, p in positions.items()) + ")")


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


def matching_rope_fraction(head_dim: int, frequencies: int) -> float | None:
    """The smallest fraction, to 4 decimals, that rotates ``frequencies`` pairs of a ``head_dim``-dim head (None where
    the head has too few dims)."""
    fraction = math.ceil(2 * frequencies / head_dim * 1e4) / 1e4
    while fraction <= 1 and len(rope_frequencies(head_dim, fraction)) < frequencies:  # int() of the product rounds
        fraction = round(fraction + 1e-4, 4)                                          # down: one step more
    return fraction if fraction <= 1 else None


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
        ends = {m: final_seeds(history, m, L, seeds) for m in ("rope", "alibi")}
        started = [c for c in climbs[L] if c is not None]
        total = run_scale(history, ("rope",), L, seeds)[0]
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
        half = [c for c in crossings(history, "rope", L, seeds, 0.5) if not math.isinf(c)]
        if half:
            part += (f"; {'all ' if len(half) == seeds else ''}{len(half)} of {seeds} seeds pass 50% by "
                     f"{max(half):,.0f} examples (ALiBi's by "
                     f"{max(crossings(history, 'alibi', L, seeds, 0.5)):,.0f})")
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
    frequencies = rope_frequencies(head_dim, config.rope_fraction).tolist()
    theirs = len(rope_frequencies(JELASSI["head_dim"]))  # GPT-NeoX's 25% of their heads
    if preset == "paper":
        check = (f"train both transformers for twice the steps on a GPU (`python -m wavelib train vwave --preset "
                 f"paper --device cuda --cuda-graph --set \"models=('alibi','rope')\" --set steps={2 * config.steps} "
                 "--experiment copy_curves`)")
    else:
        check = ("train both transformers longer on short strings (`python -m wavelib train vwave --preset cpu --set "
                 "\"models=('alibi','rope')\" --set \"lengths=(5,)\" --set n_seeds=1 --set steps=1000 --experiment "
                 "copy_curves`), or RoPE alone for 2,000 steps on strings ≤ 10")
    matching = matching_rope_fraction(head_dim, theirs)
    if len(frequencies) < theirs and matching is not None:
        check += (f", and rotate more of each head's dims (either command with `--set rope_fraction={matching:g}` "
                  f"gives this page's {head_dim}-dim heads the {theirs} frequencies of theirs)")
    heading += "" if heading.endswith("?") else "."
    return (f"**{heading}** On this page, " + "; ".join(parts) + f". {verdict} Each transformer has "
            f"{config.parameters('rope'):,} parameters, Mamba {config.parameters('mamba'):,}: RoPE trailing ALiBi may "
            f"be an effect of these small models. To check it: {check}. The RoPE is GPT-NeoX's, as in the models of "
            f"Jelassi et al.: rotate_half pairs, positions counted along the packed row, a causal mask, and "
            f"{config.rope_fraction:.0%} of each head's dims rotated"
            + ("" if config.rope_fraction == 0.25 else " (GPT-NeoX's default and theirs: 25%)")
            + f". On this page a head has {head_dim} dims, so {2 * len(frequencies)} are rotated, at "
            f"{len(frequencies)} frequencies ({', '.join(f'{f:.3g}' for f in frequencies)} radians per token), where "
            f"the {JELASSI['head_dim']}-dim heads of Jelassi et al. rotate {2 * theirs}, at {theirs}."
            + (" A possible reading, untested here: with fewer frequencies, RoPE gives a head less position signal "
               "to tell one distance from another." if len(frequencies) < theirs else ""))
