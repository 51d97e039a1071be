"""Chapter 5's computed prose and claims on hand-made histories: every verdict branch can fail."""

import dataclasses
import json

import matplotlib.pyplot as plt
import numpy as np
import scipy.special
import pytest

from wavelib.experiments import vwave
from wavelib.experiments.vwave import run_key
from wavelib.plotting import vwave as figs
from wavelib.plotting.vwave_claims import claims_rows
from wavelib.plotting.vwave_generalisation_text import generalisation_text, generalisation_verdict
from wavelib.plotting.vwave_mixer_text import gain_rows, gain_text, packing_text
from wavelib.plotting.vwave_numbers import crossings, median_crossing
from wavelib.plotting.vwave_scale_text import (longer_run_text, only_transformers_copy, paper_scale_rows,
                                               paper_scale_text, scale_text, small_models_text)
from wavelib.plotting.vwave_setup_text import decay_shrink, setup_rows
from wavelib.plotting.vwave_speed_text import (char_error_text, curves_reading_text, lower_error_text,
                                               speed_claim_text, summary_rows, velocity_text)
from wavelib.plotting.vwave_transformer_text import rope_text, transformer_text, transformers_together_text
from wavelib.store import Artifact
from wavelib.tasks.copy_strings import trained_lengths

PAPER = vwave.PRESETS["paper"]
L = 5  #: the maximum string length of the hand-made runs
STEPS = 10  #: records after step 0, 100 examples apart
GENERAL = np.array([1, 2, 3, 4, 5, 8, 10])  #: lengths scored for generalisation (6, 7 and 9 skipped)
MODELS = ["mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1", "alibi", "rope"]


def _ramp(start: float, end: float, at: int) -> list[float]:
    """A string-accuracy curve at ``start`` until record ``at``, then rising linearly to ``end``."""
    return [0.0] + [start if i < at else start + (end - start) * (i - at + 1) / (STEPS - at + 1)
                    for i in range(1, STEPS + 1)]


def _run(accuracy: list[float], loss: list[float] | None = None, general: list[float] | None = None,
         per_eval: int = 100) -> dict[str, np.ndarray]:
    """One seed's history: accuracy (and by default a loss falling as it rises) per record."""
    accuracy = np.array(accuracy, dtype=float)
    loss = np.array(loss if loss is not None else [np.nan, *(3.0 * (1.0 - accuracy[1:]) + 0.001)])
    general = np.array(general if general is not None else [1.0] * 5 + [0.0, 0.0])
    return {"examples": per_eval * np.arange(STEPS + 1), "step": 10 * np.arange(STEPS + 1),
            "string_accuracy": accuracy, "char_accuracy": accuracy, "train_loss": loss,
            "string_accuracy_by_length": np.repeat(accuracy[:, None], L, axis=1), "eval_lengths": np.arange(1, L + 1),
            "generalisation_lengths": GENERAL, "generalisation_string_accuracy": general}


def _grid(runs: dict[str, list[dict[str, np.ndarray]]], config=PAPER):
    """History and metrics (as the experiment summarises them) of ``runs``: model -> one history per seed."""
    history = {f"{run_key(L, m, s)}|{k}": v for m, seeds in runs.items() for s, run in enumerate(seeds)
               for k, v in run.items()}
    metrics = vwave._summarise(config, history, [(L, m) for m in runs])
    return history, metrics


def _config(models, **knobs):
    return vwave.VWaveConfig(models=tuple(models), lengths=(L,), contexts=(32,), min_len=1, **knobs)


def _paper_like():
    """Mamba slow, three v-Wave models (0.1 the weakest), ALiBi fast and exact, RoPE late; at lengths beyond L only
    ALiBi keeps its accuracy."""
    keep = [1.0] * 7
    runs = {"mamba": [_run(_ramp(0.02, a, 3)) for a in (0.3, 0.5, 0.6)],
            "vwave-0.5": [_run(_ramp(0.05, a, 1)) for a in (0.97, 0.99, 1.0)],
            "vwave-0.25": [_run(_ramp(0.05, a, 1)) for a in (0.98, 1.0, 1.0)],
            "vwave-0.1": [_run(_ramp(0.05, a, 2)) for a in (0.9, 0.91, 0.92)],
            "alibi": [_run([0.0, 0.95] + [1.0] * (STEPS - 1), general=keep) for _ in range(3)],
            "rope": [_run(_ramp(0.05, a, 5)) for a in (0.8, 0.65, 0.99)]}
    return _grid(runs, _config(runs, n_seeds=3))


def test_summary_of_three_seeds_by_hand():
    """Final accuracies (mean, min, max over seeds), the longest length's alone, losses, and the median of the
    examples to each threshold (None where a seed never got there)."""
    seeds = [_run(_ramp(0.0, 1.0, at)) for at in (2, 4, 9)]
    for run, at_max in zip(seeds, (0.3, 0.6, 0.9)):
        run["string_accuracy"][-1] = 0.5 + at_max / 2
        run["string_accuracy_by_length"][-1, -1] = at_max
        run["string_accuracy_by_length"][-1, 0] = 0.0
    _, metrics = _grid({"mamba": seeds})
    entry = metrics[run_key(L, "mamba")]
    assert entry["string_accuracy_mean"] == pytest.approx(0.8)
    assert (entry["string_accuracy_min"], entry["string_accuracy_max"]) == pytest.approx((0.65, 0.95))
    assert entry["string_accuracy_at_max_mean"] == pytest.approx(0.6)
    assert entry["train_loss_final_mean"] == pytest.approx(np.mean([r["train_loss"][-1] for r in seeds]))
    assert entry["examples_total"] == 100 * STEPS
    reach = [[vwave.first_crossing(r["examples"], r["string_accuracy"], t) for r in seeds] for t in (0.5, 0.9)]
    assert None not in reach[0] and reach[0][0] < reach[0][1] < reach[0][2]
    assert entry["examples_to_0.5"] == reach[0][1] != np.mean(reach[0])  # the median seed's
    assert entry["seeds_reaching_0.5"] == 3
    assert entry["seeds_reaching_0.9"] == sum(c is not None for c in reach[1]) == 1  # only the 0.95 seed
    assert entry["examples_to_0.9"] is None


def test_the_speed_texts_take_the_median_seeds_crossing():
    """Seeds reaching 0.9 at records 2, 3 and 9 (100 examples apart): the median seed's 300, where a mean would
    give 467; still 300 with the third never there (a mean: infinity); infinity once two never are."""
    def reaching_at(record):
        return _run([0.0] * record + [0.95] * (STEPS + 1 - record) if record else [0.0] * (STEPS + 1))
    runs = {"mamba": [reaching_at(r) for r in (2, 3, 9)]}
    assert crossings(_grid(runs)[0], "mamba", L, 3, 0.9) == [200.0, 300.0, 900.0]
    assert median_crossing(_grid(runs)[0], "mamba", L, 3, 0.9, "string_accuracy") == 300.0
    runs["mamba"][2] = reaching_at(None)
    assert median_crossing(_grid(runs)[0], "mamba", L, 3, 0.9, "string_accuracy") == 300.0
    runs["mamba"][1] = reaching_at(None)
    assert median_crossing(_grid(runs)[0], "mamba", L, 3, 0.9, "string_accuracy") == np.inf


def test_rope_paragraph_says_broken_only_where_rope_never_leaves_its_start():
    config = _config(["alibi", "rope"], n_seeds=2)
    alibi = [_run([0.0, 0.95] + [1.0] * (STEPS - 1)) for _ in range(2)]
    flat, metrics = _grid({"alibi": alibi, "rope": [_run([0.0] + [0.05] * STEPS)] * 2}, config)
    text = rope_text(config, "paper", flat, metrics, [L])
    assert text.startswith("**Is RoPE broken?**") and "does not learn copy" in text
    assert "no seed gets 0.1 above its first evaluation's" in text and "learns later" not in text
    assert "a longer run would show: this page shows none (the check below trains one)" in text
    late, metrics = _grid({"alibi": alibi, "rope": [_run(_ramp(0.05, 0.8, 5)), _run(_ramp(0.05, 0.7, 6))]}, config)
    text = rope_text(config, "paper", late, metrics, [L])
    assert text.startswith("**RoPE learns later than ALiBi.**") and "not broken here" in text
    assert "2 of 2 seeds stay within 0.1" in text and "until 500–600 examples, then climb" in text
    assert "still rising at the end" in text and "all 2 of 2 seeds pass 50% by" in text
    assert "--preset paper --device cuda --cuda-graph" in text and f"steps={2 * config.steps}" in text
    assert "--preset cpu" not in text and "a longer run would show: this page shows none (the check below" in text
    reduced = rope_text(config, "cpu", late, metrics, [L])  # as long a training as the `paper` preset's
    assert "--preset cpu" in reduced and "none" not in reduced
    assert "a longer run would show: the note on paper scale below gives the `paper` preset's run" in reduced
    shorter = dataclasses.replace(config, batch=16, steps=500, d_model=64)
    assert ("a longer run would show: the `paper` preset's run, of larger models on 8× this page's training rows, "
            "is one (the note on paper scale below)") in rope_text(shorter, "cpu", late, metrics, [L])
    mixed, metrics = _grid({"alibi": alibi, "rope": [_run(_ramp(0.05, 0.8, 5)), _run([0.0] + [0.05] * STEPS)]},
                           config)
    text = rope_text(config, "paper", mixed, metrics, [L])
    assert text.startswith("**Does RoPE learn?**") and "1 of 2 seeds stays within 0.1 of its first" in text
    assert "Only some seeds leave their start" in text and "not broken" not in text
    level, metrics = _grid({"alibi": alibi, "rope": alibi}, config)
    assert rope_text(config, "paper", level, metrics, [L]) == ""  # RoPE not behind ALiBi: no paragraph


def test_transformer_verdicts_and_where_v_wave_falls_between_them():
    history, metrics = _paper_like()
    alibi, position = transformer_text(history, metrics, "vwave-0.25", "alibi", L, 3)
    assert position == "behind" and alibi.startswith("Same final accuracy; not the same speed")
    assert "alibi reached 50%, 90%" in alibi and "fewer examples" in alibi
    assert "limits those factors" in alibi  # ALiBi got there at its first evaluations
    rope, position = transformer_text(history, metrics, "vwave-0.25", "rope", L, 3)
    assert position == "ahead" and rope.startswith("v-Wave beats this rope: v-Wave ends higher")
    assert "3 vs 1 of 3 seeds ending at ≥ 90%" in rope and "the ranges over seeds overlap" in rope
    swapped, position = transformer_text(history, metrics, "rope", "vwave-0.25", L, 3)  # the other way round
    assert position == "behind" and "vwave-0.25 ends higher (mean " in swapped
    assert "3 vs 1 of 3 seeds ending at ≥ 90%" in swapped  # the subject's numbers first
    together = transformers_together_text({"alibi": "behind", "rope": "ahead"})
    assert "falls between the two" in together and "behind alibi and ahead of rope" in together
    assert "ahead of both" in transformers_together_text({"alibi": "ahead", "rope": "ahead"})
    same, position = transformer_text(history, metrics, "alibi", "alibi", L, 3)
    assert position == "par" and same.startswith("On par here") and "tied at 50%" in same
    never, metrics = _grid({m: [_run([0.0] * (STEPS + 1), loss=[np.nan] + [3.0] * STEPS)] * 3
                            for m in ("vwave-0.25", "rope")}, _config(["vwave-0.25", "rope"], n_seeds=3))
    text, position = transformer_text(never, metrics, "vwave-0.25", "rope", L, 3)
    assert position == "par" and text.startswith("Neither reached any level here")


def test_speed_verdict_says_when_the_run_could_not_show_a_tenfold_factor():
    history, _ = _paper_like()
    text = speed_claim_text(history, "mamba", ["vwave-0.5", "vwave-0.25", "vwave-0.1"], L, 3, 10)
    assert "Not shown at this preset" in text and "could not have shown ×10 at any of these levels" in text
    assert "its own reading" in text and "runs of at least 1,000 examples per seed" in text
    loss = speed_claim_text(history, "mamba", ["vwave-0.25"], L, 3, 10, measure="train_loss")
    assert "at equal examples (the end of the run) mamba's median final training loss is ×" in loss
    assert "to 0.3 nats" in loss and "to 1 nat " in loss


def test_lower_error_verdict_goes_seed_by_seed():
    history, metrics = _paper_like()
    waves = ["vwave-0.5", "vwave-0.25", "vwave-0.1"]
    assert lower_error_text(metrics, "mamba", waves, L).startswith(
        "Yes at this length: every seed of every fixed v ends above every mamba seed")
    assert lower_error_text(metrics, "rope", waves, L).startswith(
        "Not shown in string accuracy: no fixed v ends above every rope seed: vwave-0.5, vwave-0.25 and vwave-0.1 "
        "overlap the range of")
    ranges = {run_key(L, m): {"string_accuracy_min": low, "string_accuracy_max": high}
              for m, low, high in (("mamba", 0.3, 0.6), ("vwave-0.5", 0.7, 0.9), ("vwave-0.1", 0.5, 0.8))}
    assert lower_error_text(ranges, "mamba", ["vwave-0.5", "vwave-0.1"], L) == (
        "Not for every v: vwave-0.5 ends above every seed of mamba; vwave-0.1 overlaps the range of mamba "
        "(mamba seeds 0.30–0.60, v-Wave seeds 0.50–0.90)")
    assert lower_error_text(metrics, "alibi", ["vwave-0.1"], L).startswith("No: every seed")
    rows = claims_rows(_config(MODELS, n_seeds=3), [L], metrics, history, None, "MISSING")
    error = next(measured for claim, _, measured in rows if "lower error" in claim)
    assert "this preset has no longer strings, the `paper` preset's go to 300" in error


def test_best_velocity_is_named_and_the_slowest_judged():
    history, metrics = _paper_like()
    config = _config(["mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1"], n_seeds=3)
    text = velocity_text(config, metrics, history, L)
    assert "The best v here is 0.25–0.5" in text and "not the slowest: vwave-0.1 (v = 0.1) is the weakest" in text
    assert "among the best" not in text
    close = {**metrics, run_key(L, "vwave-0.1"): metrics[run_key(L, "vwave-0.25")]}
    assert "the slowest on this page, v = 0.1, is among the best" in velocity_text(config, close, history, L)
    assert velocity_text(_config(["mamba", "vwave-0.25"]), metrics, history, L) == ""


def _long_strings():
    """No Mamba-type seed copies strings (string accuracy at most 0.02); the v-Wave models' character accuracy
    rises (vwave-0.1 most, vwave-0.5 least), Mamba's stays and its loss stays flat; ALiBi and RoPE copy."""
    runs = {m: [] for m in MODELS}
    for m, end in (("mamba", 0.04), ("vwave-0.5", 0.15), ("vwave-0.25", 0.25), ("vwave-0.1", 0.3)):
        for s in range(3):
            run = _run(_ramp(0.0, 0.02, 3))
            run["char_accuracy"] = np.array([0.035, *_ramp(0.035, end + 0.01 * s, 1)[1:]])
            if m == "mamba":
                run["train_loss"] = np.array([np.nan] + [3.25] * STEPS)
            runs[m].append(run)
    for t in ("alibi", "rope"):
        runs[t] = [_run([0.0, 0.95] + [1.0] * (STEPS - 1)) for _ in range(3)]
    return _grid(runs, _config(runs, n_seeds=3))


def test_no_velocity_copies_then_character_accuracy_ranks_them():
    history, metrics = _long_strings()
    config = _config(MODELS, n_seeds=3)
    text = velocity_text(config, metrics, history, L)
    assert text.startswith("**Which velocity?** None copies these strings: no seed of any fixed v ends at 50% string "
                           "accuracy (mean over lengths; the best seed ends at 0.020)")
    assert "vwave-0.1 0.310 (0.30–0.32), vwave-0.25 0.260 (0.25–0.27), vwave-0.5 0.160 (0.15–0.17)" in text
    assert text.endswith("The slower the wave, the higher its character accuracy.") and "best v here" not in text
    mixed = {**history, **{f"{run_key(L, 'vwave-0.25', s)}|char_accuracy": np.full(STEPS + 1, 0.05)
                           for s in range(3)}}
    assert not velocity_text(config, metrics, mixed, L).endswith("character accuracy.")
    error = char_error_text(history, "mamba", ["vwave-0.5", "vwave-0.1"], L, 3)
    assert error == ("In final character accuracy (each seed's, mean over lengths; ranges over seeds): mamba "
                     "0.040–0.060, vwave-0.5 0.150–0.170, vwave-0.1 0.300–0.320: every seed of every fixed v ends "
                     "above every mamba seed")
    assert char_error_text(history, "vwave-0.25", ["vwave-0.5", "vwave-0.1"], L, 3).endswith(
        "not every fixed v ends above every vwave-0.25 seed (vwave-0.1 does)")
    assert char_error_text(history, "vwave-0.1", ["mamba"], L, 3).endswith("ends below every vwave-0.1 seed")
    rows = claims_rows(config, [L], metrics, history, None, "MISSING")
    lower = next(measured for claim, _, measured in rows if "lower error" in claim)
    assert lower.startswith("Not shown in string accuracy")
    assert "every seed of every fixed v ends above every mamba seed" in lower
    alibi = next(measured for claim, _, measured in rows if "on par with the alibi" in claim)
    assert "vwave-0.1, the best fixed v on this page by final character accuracy, as no seed of any v reaches 50% " \
           "string accuracy (chosen" in alibi  # not vwave-0.5, whose seeds' string accuracies tie every other's at 0.02
    flat = {**history, **{f"{run_key(L, m, s)}|string_accuracy": np.full(STEPS + 1, 0.01 * (m == "vwave-0.1"))
                          for m in ("mamba", "vwave-0.1") for s in range(3)}}
    fig = figs.learning_curves_figure(flat, MODELS, L, 3)
    notes = [text.get_text() for text in fig.axes[0].texts]
    plt.close(fig)
    assert notes == ["at most 0.01 throughout\n(lines on top of each other):\nmamba, vwave-0.1"]  # not the 0.02s


def test_longer_run_note_says_who_started_and_gives_the_command():
    history, metrics = _long_strings()
    config = _config(MODELS, n_seeds=3)
    text = longer_run_text(config, "paper", history, metrics, L)
    assert text.startswith("**Strings ≤ 5: no Mamba-type model copies them in this run.** No seed of mamba, "
                           "vwave-0.5, vwave-0.25 and vwave-0.1 reaches 50% string accuracy (mean over lengths), "
                           "where alibi and rope did")
    assert "mamba 0.035 → 0.050, 0.000 nats (to 3.25)" in text and "vwave-0.1 0.035 → 0.310" in text
    assert "Started to learn (character accuracy up by at least 0.05): vwave-0.5, vwave-0.25 and vwave-0.1; not: " \
           "mamba." in text
    assert ("`python -m wavelib train vwave --preset paper --device cuda --cuda-graph --set \"models=('mamba',"
            f"'vwave-0.1')\" --set steps={4 * config.steps} --experiment copy_curves`") in text
    assert "Fig. 2 (right)" not in text  # only at the abstract's 300
    cpu = longer_run_text(config, "cpu", history, metrics, L)
    assert "--preset cpu --set" in cpu and "--device" not in cpu
    _, learned = _paper_like()
    assert only_transformers_copy(config, metrics, L) and not only_transformers_copy(config, learned, L)
    assert longer_run_text(config, "paper", history, learned, L) == ""  # Mamba-type seeds copy there
    slow = {**metrics, **{run_key(L, t): {**metrics[run_key(L, t)], "seeds_reaching_0.5": 0}
                          for t in ("alibi", "rope")}}
    assert longer_run_text(config, "paper", history, slow, L) == ""  # no transformer copies either


def test_length_generalisation_text_verdict_and_a_figure_with_no_line_across_the_gap():
    history, metrics = _paper_like()
    models = MODELS
    text = generalisation_text(history, models, L, 3)
    assert "alibi keeps it at every longer length (1.00 at 10)" in text
    assert "mamba, vwave-0.5, vwave-0.25, vwave-0.1 and rope score 0.00 at every longer length" in text
    assert "Lengths 6–7 were not scored" in text
    rows = claims_rows(_config(models, n_seeds=3), [L], metrics, history, None, "MISSING")
    general = next(measured for claim, _, measured in rows if claim.startswith("length generalisation"))
    assert general.startswith("v-Wave does not match alibi here: alibi keeps ≥ 0.9 up to 10")
    assert "v-Wave matches rope here, in failing" in general
    partial = {**history, **{f"{run_key(L, 'alibi', s)}|generalisation_string_accuracy":
                             np.array([1.0] * 5 + [0.6, 0.3]) for s in range(3)}}
    general = generalisation_verdict(partial, ["vwave-0.5", "vwave-0.25"], ["alibi", "rope"], L, 3)
    assert general.startswith("v-Wave does not match alibi here: neither keeps ≥ 0.9 at any longer length, but at "
                              "the longer lengths alibi scores up to 0.60, the best v-Wave (vwave-0.5) up to 0.00")
    assert "v-Wave matches rope here, in failing" in general
    one_gap = {k.replace("generalisation_lengths", "x"): v for k, v in history.items()}
    one_gap |= {f"{run_key(L, m, s)}|generalisation_lengths": np.array([1, 2, 3, 4, 5, 7, 9])
                for m in models for s in range(3)}
    assert "Length 6 was not scored" in generalisation_text(one_gap, models, L, 3)
    regained = dict(history)
    for m in models:
        for s in range(3):
            regained[f"{run_key(L, m, s)}|generalisation_lengths"] = np.arange(1, 10)
            regained[f"{run_key(L, m, s)}|generalisation_string_accuracy"] = (
                np.array([1.0] * 5 + [0.95, 0.8, 0.92, 0.5]) if m == "alibi" else np.zeros(9))
    assert ("alibi keeps it up to 6, then drops (0.80 at 7, 0.92 at 8, 0.50 at 9), at least 0.9 again at 8"
            in generalisation_text(regained, models, L, 3))
    general = generalisation_verdict(regained, ["vwave-0.5"], ["alibi"], L, 3)
    assert general.startswith("v-Wave does not match alibi here: alibi keeps ≥ 0.9 up to 6 (and again at 8); ")

    def scored(**accuracy):  # each model's string accuracy at lengths 1..9 (L = 5), the same for every seed
        out = dict(regained)
        for m in models:
            out[f"{run_key(L, m, 0)}|generalisation_lengths"] = np.arange(1, 10)
            for s in range(3):
                out[f"{run_key(L, m, s)}|generalisation_string_accuracy"] = np.array(
                    [1.0] * 5 + accuracy.get(m.replace("-", "_").replace(".", ""), [0.0] * 4))
        return out

    later = scored(vwave_05=[0.95, 0.5, 0.3, 0.3], rope=[0.5, 0.6, 0.95, 0.3])  # rope regains beyond v-Wave's reach
    assert generalisation_verdict(later, ["vwave-0.5"], ["rope"], L, 3).startswith(
        "v-Wave goes further than rope without a break, but not beyond: the best v-Wave, vwave-0.5, keeps ≥ 0.9 up "
        "to 6; rope is below 0.9 at 6 but ≥ 0.9 at 8")
    assert "rope is below 0.9 already at 6 (0.50; at most 0.95 at the longer lengths, at least 0.9 at 8)" in (
        generalisation_text(later, models, L, 3))
    both_late = scored(vwave_05=[0.5, 0.92, 0.3, 0.3], alibi=[0.5, 0.6, 0.95, 0.3])
    assert generalisation_verdict(both_late, ["vwave-0.5"], ["alibi"], L, 3).startswith(
        "v-Wave does not match alibi here: neither keeps ≥ 0.9 from 6 on; vwave-0.5 is below 0.9 at 6 but ≥ 0.9 at "
        "7; alibi is below 0.9 at 6 but ≥ 0.9 at 8")
    wave_later = scored(vwave_05=[0.5, 0.92, 0.3, 0.3], rope=[0.95, 0.5, 0.3, 0.3])
    assert generalisation_verdict(wave_later, ["vwave-0.5"], ["rope"], L, 3).startswith(
        "v-Wave does not match rope without a break, but not beyond: the best v-Wave, vwave-0.5, is below 0.9 at 6 "
        "but ≥ 0.9 at 7; rope keeps ≥ 0.9 up to 6")
    assert generalisation_verdict(scored(vwave_05=[0.5, 0.92, 0.3, 0.3]), ["vwave-0.5"], ["rope"], L,
                                           3).startswith("v-Wave goes further than rope here: neither keeps ≥ 0.9 "
                                                         "from 6 on; vwave-0.5 is below 0.9 at 6 but ≥ 0.9 at 7; "
                                                         "rope is below 0.9 at every longer length")
    fig = figs.generalisation_figure(history, models, L, 3)
    segments = [line.get_xdata() for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 1]
    notes = [text.get_text() for text in fig.axes[0].texts]
    plt.close(fig)
    assert segments and all(not (min(x) <= L < 8 <= max(x)) for x in segments)  # nothing joins 5 to 8
    assert notes == ["exactly 0 at every length > 5\n(lines on top of each other):\nmamba, vwave-0.5, vwave-0.25,\n"
                     "vwave-0.1, rope"]  # the lines that hide each other there are named
    fig = figs.generalisation_figure(history, ["alibi", "rope"], L, 3)
    assert not fig.axes[0].texts  # one model at 0 hides nothing
    plt.close(fig)


def test_tables_and_thick_lines_use_medians_and_ticks_are_short():
    history, metrics = _paper_like()
    header, rows = summary_rows(metrics, history, ["mamba"], L, 3)
    assert "median over seeds" in header[5] and header[1].endswith("mean over seeds (min–max)")
    assert rows[0][5] == f"{np.median([history[f'L5|mamba|seed{s}|train_loss'][-1] for s in range(3)]):.3g}"
    assert rows[0][5] != f"{metrics[run_key(L, 'mamba')]['train_loss_final_mean']:.3g}"
    assert header[2] == f"string accuracy, all lengths ≤ {L}: median over seeds (end of the thick curve)"
    assert (rows[0][1], rows[0][2]) == ("0.467 (0.30–0.60)", "0.500")  # the mean and the median of 0.3, 0.5, 0.6
    fig = figs.learning_curves_figure(history, ["mamba"], L, 3)
    thick = fig.axes[0].get_lines()[-1]
    expected = np.median([history[f"L5|mamba|seed{s}|string_accuracy"] for s in range(3)], 0)[1:]
    np.testing.assert_allclose(thick.get_ydata(), expected)
    assert f"{thick.get_ydata()[-1]:.3f}" == rows[0][2]  # the table's median is where the thick curve ends
    assert "thick: median" in fig.axes[0].get_title() and "(3 seeds" in fig.axes[0].get_title()
    plt.close(fig)
    fig = figs.loss_curves_figure(history, ["mamba"], [L], 3)
    assert "(3 seeds; thick: median)" in fig.axes[0].get_title()
    plt.close(fig)
    assert [figs.examples_label(x) for x in (500, 30_000, 100_000, 1_500_000)] == ["500", "30k", "100k", "1.5M"]


def test_scale_reading_comes_from_the_config():
    text = scale_text(PAPER, PAPER)
    assert f"{PAPER.parameters('mamba'):,} parameters (Mamba)" in text and "×340–399 fewer" in text
    assert "d_state 16 against 32" in text and "peak learning rate 1e-3 against 1e-5" in text
    assert "smaller still" not in text and "smaller still" in scale_text(PAPER, vwave.PRESETS["cpu"])
    history, _ = _paper_like()
    reading = curves_reading_text(_config(["mamba", "vwave-0.25", "alibi"], n_seeds=3), history, L)
    assert "about 10 examples here" in reading and "exactly Mamba's parameter count" in reading


def test_small_model_note_names_only_what_shows():
    history, metrics = _paper_like()
    config = _config(["mamba", "alibi", "rope"], n_seeds=3)
    metrics[run_key(L, "mamba")]["string_accuracy_at_max_mean"] = 0.0
    text = small_models_text(config, metrics, L)
    assert text.startswith("The failure of mamba at the longest strings (string accuracy at 5: mamba 0.00) and RoPE "
                           "trailing ALiBi may be effects of these small models")
    waves = _config(["mamba", "vwave-0.5", "alibi", "rope"], n_seeds=3)
    metrics[run_key(L, "vwave-0.5")]["string_accuracy_at_max_mean"] = 0.4
    assert "The failure of mamba and vwave-0.5 at the longest strings (string accuracy at 5: mamba 0.00, vwave-0.5 " \
           "0.40)" in small_models_text(waves, metrics, L)
    metrics[run_key(L, "mamba")]["string_accuracy_at_max_mean"] = 0.9
    metrics[run_key(L, "rope")] = metrics[run_key(L, "alibi")]
    assert small_models_text(config, metrics, L) == ""


@pytest.mark.parametrize("preset", ["smoke", "cpu"])
def test_claims_rows_hold_at_the_reduced_presets_models(preset):
    """The reduced presets' model sets (smoke: no ALiBi, one v) give claims without a transformer comparison that
    needs both, and no generalisation row without a transformer."""
    config = vwave.PRESETS[preset]
    runs = {m: [_run(_ramp(0.05, 0.5 + 0.1 * i, 2)) for _ in range(config.n_seeds)]
            for i, m in enumerate(config.models)}
    history = {f"{run_key(L, m, s)}|{k}": v for m, seeds in runs.items() for s, run in enumerate(seeds)
               for k, v in run.items()}
    config = dataclasses.replace(config, lengths=(L,), contexts=(32,))
    metrics = vwave._summarise(config, history, [(L, m) for m in runs])
    rows = claims_rows(config, [L], metrics, history, None, "MISSING")
    claims = [claim for claim, _, _ in rows]
    assert any("on par with the rope transformer" in c for c in claims)
    assert any(c.startswith("length generalisation") for c in claims)
    together = [measured for claim, _, measured in rows if "on par with the rope" in claim][0]
    assert ("Against the transformers together" in together) == ("alibi" in config.models)


def test_velocity_comes_with_gain_and_the_numbers_are_computed():
    """Each cell's response sums to 1/v; the newest cell's L2 norm is 1/sqrt(v(2-v)); the reach is K/v."""
    header, rows = gain_rows([1.0, 0.1], 4)
    assert header[2] == "L2 norm, newest cell (3)"
    t = np.arange(3, 3000)  # the oldest cell's response, binom(t, 3) v^3 (1 - v)^(t - 3), summed in the test
    oldest = np.sqrt(((scipy.special.comb(t, 3) * 0.1 ** 3 * 0.9 ** (t - 3)) ** 2).sum())
    assert rows == [["1", "1", "1", "1", "4", "3"], ["0.1", "10", f"{1 / np.sqrt(0.1 * 1.9):.3g}", f"{oldest:.3g}",
                                                     "40", "29"]]
    text = gain_text([1.0, 0.5, 0.1], 4)
    assert "sums to 1/v: 1, 2, 10 at v = 1, 0.5, 0.1" in text and "10× larger at v = 0.1 than at v = 1" in text
    assert "2.29 at v = 0.1 against 1 at v = 1" in text
    assert "4× larger at v = 0.25 than at v = 1" in gain_text([1.0, 0.25], 4)


def _summary(low: float, high: float) -> dict[str, float]:
    return {"string_accuracy_mean": (low + high) / 2, "string_accuracy_min": low, "string_accuracy_max": high}


def _paper_artifact(tmp_path, metrics):
    """A stored artifact holding ``metrics`` with just the record its provenance line needs."""
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "meta.json").write_text(json.dumps({"device": "cuda:0 (H100)", "wall_time_s": 300,
                                                    "finished_utc": "2026-01-02T00:00:00Z", "git_commit": "abc"}))
    return Artifact(tmp_path)


def test_a_reduced_page_says_what_the_paper_scale_run_shows_or_that_its_store_lacks_it(tmp_path):
    """Where the `paper` preset's copy curves are stored, a reduced page names where they disagree with its own (a
    fixed v against Mamba, the seeds that reached 50%); where they are not, it says so of its own store only."""
    config = _config(["mamba", "vwave-0.25", "vwave-0.1", "rope"], n_seeds=3)
    here = {run_key(L, m): {**_summary(low, high), "seeds_reaching_0.5": k}
            for m, low, high, k in (("mamba", 0.4, 0.7, 2), ("vwave-0.25", 0.9, 0.95, 3), ("vwave-0.1", 0.5, 0.6, 2),
                                    ("rope", 0.1, 0.2, 0))}
    big = PAPER.lengths[0]
    there = {run_key(big, m): {**_summary(low, high), "seeds_reaching_0.5": k}
             for m, low, high, k in (("mamba", 0.3, 0.8, 2), ("vwave-0.25", 0.98, 1.0, 3), ("vwave-0.1", 0.93, 0.97, 3),
                                     ("rope", 0.65, 0.99, 3), ("alibi", 1.0, 1.0, 3))}
    text = paper_scale_text(config, here, L, _paper_artifact(tmp_path, there), 0)
    assert "trained on cuda:0 (H100) in 5.0 min" in text and f"on strings ≤ {big}" in text
    assert ("vwave-0.1 overlaps the range over seeds of mamba here (means 0.550 against 0.550) and ends above every "
            "seed of mamba at paper scale (0.950 against 0.550)") in text
    assert "0 of 3 rope seeds reached 50% here, 3 of 3 at paper scale (final 0.820)" in text
    assert "vwave-0.25 " not in text.split("Where they disagree")[1]  # above Mamba on both pages
    header, rows = paper_scale_rows(config, here, L, there)
    assert header == ["model", f"this page: strings ≤ {L}", f"`paper` preset: strings ≤ {big}"]
    assert [r[0] for r in rows] == ["mamba", "vwave-0.25", "vwave-0.1", "rope"]  # models on both pages only
    assert rows[-1][1:] == ["0.150 (0.10–0.20); 0 of 3 reached 50%", "0.820 (0.65–0.99); 3 of 3 reached 50%"]
    alike = {run_key(big, m): here[run_key(L, m)] for m in config.models}
    assert "they agree" in paper_scale_text(config, here, L, _paper_artifact(tmp_path, alike), 0)
    missing = paper_scale_text(config, here, L, None, 0)
    assert "The results store this page was built from holds no `copy_curves` of the `paper` preset" in missing
    assert "none is stored" not in missing


def test_the_wave_claim_is_the_abstracts_and_the_conv_reading_the_books():
    history, metrics = _paper_like()
    rows = claims_rows(_config(MODELS, n_seeds=3), [L], metrics, history, None, "MISSING")
    claim, abstract, measured = next(row for row in rows if "traveling wave" in row[0])
    assert "shift SSM of the H3 block" in claim and "conv" not in claim
    assert "Shift-SSM of Mamba" in abstract and "nor whether the models were trained" in abstract
    assert "conv" not in abstract and "trained Mamba" not in abstract
    assert "2025 blog post, not the abstract" in measured and "not Fig. 1a" in measured


def test_packing_note_gives_the_trained_lengths_it_computes():
    config = dataclasses.replace(vwave.PRESETS["smoke"], lengths=(8, 40), contexts=(40, 83))
    text = packing_text(config, rows=512)
    for length, context in zip(config.lengths, config.contexts):
        trained = trained_lengths(context, config.min_len, length, 512).numpy()
        quarter = length // 4
        assert (f"$L_{{\\max}} = {length}$ (rows of {context} tokens) lengths {length - quarter + 1}–{length}, the "
                f"longest quarter, make {np.mean(trained > length - quarter):.0%} of them (25% for equal counts), "
                f"and the mean length is {trained.mean():.1f} ({(1 + length) / 2:g})") in text
    assert "up to 38% at $L_{\\max} = 8$, 8% at $L_{\\max} = 40$ of the mean over lengths" in text  # 3 of 8, 3 of 40


def test_the_weight_decay_shrink_is_the_product_over_the_schedule():
    assert decay_shrink(1e-3, 0.1, 0, 1) == pytest.approx(1 - 1e-4)
    # warm-up of 1 step (factor 1), then 1 and 1/2 of the peak: (1 - a)² (1 - a/2)
    a = 2e-3 * 0.5
    assert decay_shrink(2e-3, 0.5, 1, 3) == pytest.approx((1 - a) ** 2 * (1 - a / 2), rel=1e-12)
    assert decay_shrink(1e-3, 0.0, 100, 2_000) == 1.0
    # about exp(-lr wd sum of the factors): the warm-up's (1 + 100) / 2, then the linear decay's 1,900 / 2
    assert decay_shrink(1e-3, 0.1, 100, 2_000) == pytest.approx(np.exp(-1e-4 * (50.5 + 950)), rel=1e-3)


def test_the_setup_table_computes_the_numbers_that_depend_on_the_preset():
    header, rows = setup_rows(PAPER)
    cells = {row[0]: row[1:] for row in rows}
    assert header == ["", "Jelassi et al.'s code", "this page"] and all(len(row) == 3 for row in rows)
    assert cells["RoPE"] == ["25% of each 64-dim head: 16 dims at 8 frequencies",
                             "25% of each 32-dim head: 8 dims at 4 frequencies"]
    assert "2× theirs at 4 layers" in cells["Mamba's out_proj init"][1]
    theirs, ours = cells["weight decay over a run"]
    assert "×0.9990 over 2,000 steps" in theirs and "lr 1e-5" in theirs
    shrink = decay_shrink(PAPER.lr, PAPER.weight_decay, PAPER.warmup, PAPER.steps)
    assert f"×{shrink:.3f} over 2,000 steps" in ours and "×0.905 over" in ours and "lr 1e-3" in ours
    low = np.logaddexp(0, shrink * (1e-3 + np.log(-np.expm1(-1e-3))))  # softplus of the shrunk inverse softplus
    assert f"0.001–0.1 to {low:.2g}–" in ours and low > 1e-3
    wider = setup_rows(dataclasses.replace(PAPER, n_heads=2, rope_fraction=0.5, weight_decay=0.0))[1]
    cells = {row[0]: row[1:] for row in wider}
    assert cells["RoPE"][1] == "50% of each 64-dim head: 32 dims at 16 frequencies"
    assert cells["weight decay over a run"][1].endswith("to ×1.000 over 2,000 steps")  # no pull on dt to tell
    tiny = setup_rows(dataclasses.replace(PAPER, d_model=8, n_heads=1, rope_fraction=0.25))[1]
    assert {row[0]: row[2] for row in tiny}["RoPE"] == "25% of each 8-dim head: 2 dims at 1 frequency"


def test_the_rope_check_rotates_as_many_frequencies_as_jelassis_heads_have():
    config = _config(["alibi", "rope"], n_seeds=2)
    alibi = [_run([0.0, 0.95] + [1.0] * (STEPS - 1)) for _ in range(2)]
    late, metrics = _grid({"alibi": alibi, "rope": [_run(_ramp(0.05, 0.8, 5)), _run(_ramp(0.05, 0.7, 6))]}, config)
    text = rope_text(config, "paper", late, metrics, [L])  # 32-dim heads: 4 frequencies at 25%
    assert "`--set rope_fraction=0.5` gives this page's 32-dim heads the 8 frequencies of theirs" in text
    assert "and 25% of each head's dims rotated. On this page" in text and "rotate 16, at 8" in text
    assert "fewer frequencies" in text
    matched = dataclasses.replace(config, rope_fraction=0.5)
    text = rope_text(matched, "paper", late, metrics, [L])
    assert "50% of each head's dims rotated (GPT-NeoX's default and theirs: 25%)" in text
    assert "16 are rotated, at 8 frequencies" in text
    assert "--set rope_fraction" not in text and "fewer frequencies" not in text
    small = dataclasses.replace(config, d_model=64)  # 16-dim heads: all their dims give 8 frequencies
    assert "`--set rope_fraction=1` gives this page's 16-dim heads" in rope_text(small, "paper", late, metrics, [L])
    odd = dataclasses.replace(config, d_model=192)  # 48-dim heads: 0.333333 would rotate 14 dims, 7 frequencies
    assert "`--set rope_fraction=0.3334` gives this page's 48-dim heads the 8" in rope_text(odd, "paper", late,
                                                                                         metrics, [L])
