"""Chapter 5's texts on scale: how the `paper` preset's models compare in size with Jelassi et al.'s, which
results may be small-model effects, and a reduced page's results beside the `paper` preset's stored ones."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..experiments.vwave import PRESETS, THRESHOLDS, VWaveConfig, run_key
from ..store import Artifact
from .vwave import TRANSFORMERS
from .vwave_numbers import (OVERLAP_WORDS, any_seed_copies, final_loss_median, final_seeds, join_names, ratio_text,
                            run_scale, short_number, side_of, span_text)


#: Jelassi et al. (2024)'s setting, for the disclosures of scale and setup: parameters of their models (about),
#: Mamba's d_state, peak learning rate, batch and (their README's example) shortest training string; their
#: transformers' head size; their code's weight decay, warm-up steps and steps
JELASSI = {"parameters": 160e6, "d_state": 32, "lr": 1e-5, "batch": 8, "min_len": 5, "head_dim": 64,
           "weight_decay": 0.1, "warmup": 100, "steps": 2_000}


def scale_text(paper: VWaveConfig, config: VWaveConfig) -> str:
    """How the ``paper`` preset's models and protocol differ in scale from Jelassi et al.'s (:data:`JELASSI`), and
    this page's preset from ``paper`` if it differs."""
    sizes = {m: paper.parameters(m) for m in ("mamba", "rope")}
    fewer = [JELASSI["parameters"] / n for n in sizes.values()]
    diffs = [f"{what} {short_number(ours)} against {short_number(theirs)}" for what, ours, theirs in (
        ("Mamba's d_state", paper.d_state, JELASSI["d_state"]), ("peak learning rate", paper.lr, JELASSI["lr"]),
        ("batch", paper.batch, JELASSI["batch"]), ("shortest training string", paper.min_len, JELASSI["min_len"]))
        if ours != theirs]
    text = (f"**Scale.** Even the `paper` preset's models are far smaller than those of Jelassi et al.: "
            f"{sizes['mamba']:,} parameters (Mamba) and {sizes['rope']:,} (each transformer) against about "
            f"{JELASSI['parameters'] / 1e6:.0f}M, {span_text(fewer, ratio_text)} fewer"
            + (f"; {', '.join(diffs)}" if diffs else "") + ". Their findings at that size need not hold at this one: "
            "where a result below may be a small-model effect, the page says so.")
    if config.parameters("mamba") != sizes["mamba"]:
        text += (f" This page's preset is smaller still: {config.parameters('mamba'):,} (Mamba) and "
                 f"{config.parameters('rope'):,} (transformer) parameters.")
    return text


def small_models_text(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int) -> str:
    """Beside the results: which of them may be small-model effects (Mamba-type models failing at the longest
    training strings, RoPE trailing ALiBi), with the parameter counts against Jelassi et al.'s ("" if neither
    shows)."""
    said = []
    at_max = {m: metrics[run_key(length, m)]["string_accuracy_at_max_mean"] for m in config.models
              if config.spec(m).family == "mamba"}
    failing = [m for m, accuracy in at_max.items() if accuracy < 0.5]
    if failing:
        said.append(f"The failure of {join_names(failing)} at the longest strings (string accuracy at {length}: "
                    + ", ".join(f"{m} {at_max[m]:.2f}" for m in failing) + ")")
    if "rope" in config.models and "alibi" in config.models and (
            metrics[run_key(length, "rope")]["string_accuracy_mean"]
            < metrics[run_key(length, "alibi")]["string_accuracy_mean"]):
        said.append("RoPE trailing ALiBi")
    if not said:
        return ""
    effect = "an effect" if len(said) == 1 else "effects"
    return (f"{join_names(said)} may be {effect} of these small models ({config.parameters('mamba'):,} and "
            f"{config.parameters('rope'):,} parameters, against about {JELASSI['parameters'] / 1e6:.0f}M in Jelassi "
            "et al.), not properties of the architectures at their size.")


def _copiers(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int) -> tuple[list[str], list[str]]:
    """The Mamba-type models of ``config`` and the transformers with a seed that reached the first level of
    :data:`THRESHOLDS` in string accuracy (mean over lengths) at ``length``."""
    level = THRESHOLDS[0]
    return ([m for m in config.models if config.spec(m).family == "mamba"],
            [t for t in TRANSFORMERS
             if t in config.models and metrics[run_key(length, t)][f"seeds_reaching_{level:g}"]])


def only_transformers_copy(config: VWaveConfig, metrics: Mapping[str, Mapping], length: int) -> bool:
    """Whether at ``length`` a transformer reached the first level of :data:`THRESHOLDS` in string accuracy and no
    seed of any Mamba-type model ends there (then character accuracy shows what string accuracy cannot)."""
    family, learned = _copiers(config, metrics, length)
    return bool(family and learned) and not any_seed_copies(metrics, family, length)


def longer_run_text(config: VWaveConfig, preset: str, history: Mapping[str, np.ndarray],
                    metrics: Mapping[str, Mapping], length: int) -> str:
    """Where :func:`only_transformers_copy`: which Mamba-type models had started to learn (final character
    accuracy at least 0.05 above the first evaluation's, means over seeds), how far their training loss still fell
    over the last fifth of the run, and the command of a run 4× as long for Mamba and the v-Wave model with the
    highest character accuracy ("" otherwise)."""
    if not only_transformers_copy(config, metrics, length):
        return ""
    family, learned = _copiers(config, metrics, length)
    level, seeds = THRESHOLDS[0], config.n_seeds
    first = {m: float(np.mean([history[f"{run_key(length, m, s)}|char_accuracy"][0] for s in range(seeds)]))
             for m in family}
    last = {m: float(final_seeds(history, m, length, seeds, "char_accuracy").mean()) for m in family}

    def fall(m: str) -> float:  # training loss over the last fifth of the run, the median over seeds
        losses = [history[f"{run_key(length, m, s)}|train_loss"] for s in range(seeds)]
        return float(np.median([loss[int(0.8 * (len(loss) - 1))] - loss[-1] for loss in losses]))

    started = [m for m in family if last[m] - first[m] >= 0.05]
    waves = [m for m in family if m != "mamba"]
    best = max(waves, key=last.get) if waves else None
    pick = [m for m in ("mamba", best) if m in family]
    experiment = "copy_curves" if length == config.lengths[0] else "copy_curves_long"
    device = " --device cuda --cuda-graph" if preset == "paper" else ""
    command = (f"python -m wavelib train vwave --preset {preset}{device} --set \"models=("
               + ",".join(f"'{m}'" for m in pick) + f")\" --set steps={4 * config.steps} --experiment {experiment}")
    abstract = (" The abstract's Fig. 2 (right) shows v-Wave Mamba on par with the transformers at this length; it "
                "gives neither its models' sizes nor how long they trained." if length == max(PRESETS["paper"].lengths)
                else "")
    return (f"**Strings ≤ {length}: no Mamba-type model copies them in this run.** No seed of {join_names(family)} "
            f"reaches {level:.0%} string accuracy (mean over lengths), where {join_names(learned)} did, in the same "
            f"{config.steps:,} steps (at least {run_scale(history, [*family, *learned], length, seeds)[0]:,.0f} "
            "examples). From the first evaluation to the last (means over seeds), character accuracy and the "
            "training loss's fall over the last fifth of the run (median over seeds; its last value): "
            + "; ".join(f"{m} {first[m]:.3f} → {last[m]:.3f}, {fall(m):.3f} nats (to "
                        f"{final_loss_median(history, m, length, seeds):.3g})" for m in family)
            + (f". Started to learn (character accuracy up by at least 0.05): {join_names(started)}" if started else
               ". None rose by 0.05 in character accuracy")
            + (f"; not: {join_names([m for m in family if m not in started])}" if started and len(started) < len(family)
               else "") + f".{abstract} Whether these models copy with more training, a longer run would show: "
            f"`{command}` ({join_names(pick)}, 4× the steps).")


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
    :func:`side_of`) and the seeds that reached 50% — with how it was made; or that this page's results store holds
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
            here, there = side_of(metrics, w, "mamba", length), side_of(theirs, w, "mamba", big)
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
