"""Chapter 5's stored experiments: reproducible, resumable between runs, and complete."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from wavelib.chapters import get_chapter
from wavelib.experiments import vwave
from wavelib.plotting.vwave_ablation_text import ablation_texts, devices_text, learned_velocity_text, reach_text
from wavelib.plotting.vwave_claims import claims_rows
from wavelib.plotting.vwave_generalisation_text import evaluation_sets_text
from wavelib.plotting.vwave_numbers import side_of
from wavelib.plotting.vwave_speed_text import speed_claim_text
from wavelib.plotting.vwave import loss_curves_figure, model_style
from wavelib.store import config_hash, run_experiment

CHAPTER = get_chapter("vwave")
SMOKE = CHAPTER.config("smoke")


def curves(root, **kwargs):
    return run_experiment(CHAPTER, CHAPTER.experiment("copy_curves"), SMOKE, preset="smoke", seed=2,
                          device=torch.device("cpu"), root=root, **kwargs)


def test_same_seed_gives_identical_curves(tmp_path):
    a, b = curves(tmp_path / "a").history(), curves(tmp_path / "b").history()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_interrupted_grid_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    real, calls = vwave.train_copy, {"n": 0}

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls.get("fail_at"):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(vwave, "train_copy", counting)
    reference = curves(tmp_path / "ref").history()
    runs, calls["n"], calls["fail_at"] = calls["n"], 0, 2  # fail after the grid's first run is checkpointed
    with pytest.raises(KeyboardInterrupt):
        curves(tmp_path / "run")
    calls["n"], calls["fail_at"] = 0, None
    resumed = curves(tmp_path / "run")
    assert resumed.meta["resumed"] is True
    assert calls["n"] == runs - 1  # the stored run is not trained again
    for key in reference:
        np.testing.assert_array_equal(resumed.history()[key], reference[key])


def test_curves_hold_every_run_and_the_wave_figure_data(tmp_path):
    artifact = curves(tmp_path)
    history, metrics = artifact.history(), artifact.metrics
    length = SMOKE.lengths[0]
    assert set(metrics) == {f"L{length}|{m}" for m in SMOKE.models}
    for model in SMOKE.models:
        key = f"L{length}|{model}|seed0"
        assert history[f"{key}|string_accuracy"].shape == history[f"{key}|examples"].shape
        assert history[f"{key}|generalisation_lengths"][-1] == int(SMOKE.generalisation_factor * length)
    states = history[f"L{length}|vwave-0.25|seed0|mixer_states"]
    assert states.shape[:2] == (vwave.FIGURE_CHANNELS, 4)
    copy_at = int(history[f"L{length}|mamba|seed0|mixer_copy_at"])
    assert copy_at == length + 1  # "$" then the letters, then "|"
    assert np.all(history[f"L{length}|vwave-0.25|seed0|velocity"] == np.float32(0.25))
    assert artifact.meta["settings"] == ["selective scan recurrent"]  # "auto" on the CPU; the runs pin it
    kernels = CHAPTER.experiment("copy_curves").kernels
    assert kernels(SMOKE.replace(models=("alibi", "rope")), torch.device("cpu")) == ""  # no Mamba run, no scan
    assert CHAPTER.experiment("ablations").kernels(SMOKE, torch.device("cpu")) == "selective scan recurrent"
    rope = metrics[f"L{length}|rope"]  # one seed: the summaries are that seed's last records
    assert rope["string_accuracy_at_max_mean"] == history[f"L{length}|rope|seed0|string_accuracy_by_length"][-1, -1]
    assert rope["train_loss_final_mean"] == history[f"L{length}|rope|seed0|train_loss"][-1] > 0
    rows = claims_rows(SMOKE, [length], metrics, history, None, "MISSING")
    claims = [claim for claim, _, _ in rows]
    assert any("exponentially faster than Mamba" in c for c in claims)
    assert any("on par with the rope transformer" in c for c in claims) == ("rope" in SMOKE.models)
    assert rows[-1] == ("experiment `ablations` (not in the abstract)", "—", "MISSING")
    mamba_loss = f"mamba {metrics[f'L{length}|mamba']['train_loss_final_mean']:.3g}"
    assert mamba_loss in next(measured for claim, _, measured in rows if "exponentially" in claim)


def test_figures_give_each_model_one_style_and_each_seed_its_own_examples():
    assert model_style("mamba")["color"] == model_style("mamba-K16")["color"]
    assert (model_style("mamba")["ls"], model_style("mamba-K16")["ls"]) == ("-", "--")
    assert len({model_style(m)["color"] for m in ("mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1", "vwave-learned",
                                                 "alibi", "rope", "vwave-0.75")}) == 8
    assert model_style("alibi")["ls"] == model_style("rope")["ls"] == "-." != model_style("vwave-0.5")["ls"]
    ones = np.ones(3)
    history = {"L5|mamba|seed0|examples": np.array([0, 10, 20]), "L5|mamba|seed0|train_loss": ones,
               "L5|mamba|seed1|examples": np.array([0, 30, 60]), "L5|mamba|seed1|train_loss": ones}
    fig = loss_curves_figure(history, ["mamba"], [5], seeds=2)
    lines = fig.axes[0].get_lines()
    plt.close(fig)
    assert [line.get_xdata().tolist() for line in lines] == [[10, 20], [30, 60], [20, 40]]


def _crossing_history(model: str, curves: list[list[float]], per_eval: int = 100,
                      measure: str = "string_accuracy") -> dict[str, np.ndarray]:
    """A copy history of ``model`` at length 5: one ``measure`` curve per seed, ``per_eval`` examples apart."""
    return {f"L5|{model}|seed{s}|{k}": v for s, curve in enumerate(curves)
            for k, v in (("examples", per_eval * np.arange(len(curve))), (measure, np.array(curve)))}


def test_speed_claim_says_whether_a_tenfold_speedup_is_measured():
    """Medians over seeds with a seed that never got there counting as beyond the run; a base that never got there
    gives only a lower bound; ×10 or more supports the claim; slower models are named."""
    never = [0.0] * 11
    fast = _crossing_history("vwave-0.5", [[0, 0.95] + [1.0] * 9] * 3)
    slow = _crossing_history("vwave-0.1", [never] * 3)
    base = _crossing_history("mamba", [never, never, [0] * 10 + [0.95]])
    text = speed_claim_text({**base, **fast, **slow}, "mamba", ["vwave-0.5", "vwave-0.1"], 5, 3, 10)
    assert "vwave-0.5 > ×10.0" in text and text.count("Yes, at this reading: a factor of at least ×10.0") == 1
    assert "its own reading" in text
    assert "1 of 3 seeds got there" in text and "about ×10" in text
    later = _crossing_history("mamba", [[0] * 4 + [0.95] * 7] * 3)  # at 400 examples: ×4 for vwave-0.5
    text = speed_claim_text({**later, **fast, **slow}, "mamba", ["vwave-0.5", "vwave-0.1"], 5, 3, 10)
    assert "No, not at this preset: where mamba got there too, the factors are at most ×4.00" in text
    assert "In short: where both mamba and v-Wave reached a string accuracy level, v-Wave needed ×4.00 fewer" in text
    assert text.endswith("Slower than mamba: vwave-0.1 (to 50%), vwave-0.1 (to 90%)")
    text = speed_claim_text({**later, **slow}, "mamba", ["vwave-0.1"], 5, 3, 10)
    assert "No: mamba got there and no v-Wave model did" in text
    text = speed_claim_text({**base, **slow}, "mamba", ["vwave-0.1"], 5, 3, 10)
    assert "They cannot tell: neither mamba nor any v-Wave model got there" in text


def test_speed_claim_never_prints_a_slower_model_as_one():
    """A factor that rounds to 1.00 but is not 1 gets a third decimal (a slower model read "×1.00" beside "slower")."""
    base = _crossing_history("mamba", [[0, 0.95, 0.95]] * 3, per_eval=1000)
    wave = _crossing_history("vwave-0.5", [[0, 0.95, 0.95]] * 3, per_eval=1003)
    text = speed_claim_text({**base, **wave}, "mamba", ["vwave-0.5"], 5, 3, 10)
    assert "vwave-0.5 ×0.997" in text and "×1.00" not in text
    assert text.endswith("Slower than mamba: vwave-0.5 (to 50%), vwave-0.5 (to 90%)")


def test_speed_claim_in_training_loss_counts_the_first_fall_to_each_level():
    """Fig. 2's measure: the examples until the training loss first falls to 1, 0.3 and 0.1 nats; at equal examples,
    the ratio of the median final losses."""
    nan = float("nan")
    base = _crossing_history("mamba", [[nan, 3.0, 3.0, 0.8, 0.25, 0.05]] * 3, measure="train_loss")
    wave = _crossing_history("vwave-0.5", [[nan, 0.9, 0.5, 0.5, 0.09, 0.005]] * 3, measure="train_loss")
    text = speed_claim_text({**base, **wave}, "mamba", ["vwave-0.5"], 5, 3, 10, measure="train_loss")
    assert "training loss level" in text
    assert "to 1 nat (mamba at 300 examples; 3 of 3 seeds got there): vwave-0.5 ×3.00" in text
    assert "to 0.3 nats (mamba at 400 examples; 3 of 3 seeds got there): vwave-0.5 ×1.00" in text
    assert "to 0.1 nats (mamba at 500 examples; 3 of 3 seeds got there): vwave-0.5 ×1.25" in text
    assert "No, not at this preset: where mamba got there too, the factors are at most ×3.00" in text
    assert "v-Wave needed ×1.00–3.00 fewer examples" in text
    assert "mamba's median final training loss is ×10 that of v-Wave (mamba 0.05; vwave-0.5 0.005)" in text


def _summary(low: float, high: float) -> dict[str, float]:
    return {"string_accuracy_mean": (low + high) / 2, "string_accuracy_min": low, "string_accuracy_max": high}


def _climbing(model: str, at: tuple[int, ...], seeds: int = 3) -> dict[str, np.ndarray]:
    """Histories of ``model`` at length 5 whose string accuracy reaches 50% at record ``at[0]`` and 90% at ``at[1]``
    (one seed per entry of ``at[1:]`` when given several: ``None`` never gets to 90%)."""
    nineties = list(at[1:]) * seeds if len(at) == 2 else list(at[1:])
    curves = [[0.0] * at[0] + [0.6] * ((n or 11) - at[0]) + [0.95] * (11 - (n or 11)) for n in nineties[:seeds]]
    return _crossing_history(model, curves)


def test_reach_verdict_compares_learning_speed_as_well_as_final_accuracy():
    """Overlapping final accuracies are not enough: the larger v = 1 mixer is judged on the examples to 50% and 90%
    too (the abstract's claim is speed), with the seeds that got there and the gap in evaluations."""
    metrics = {"L5|mamba": _summary(0.4, 0.6), "L5|vwave-0.5": _summary(0.9, 1.0), "L5|vwave-0.25": _summary(0.8, 0.9),
               "L5|mamba-K16": _summary(0.85, 0.95)}
    reaches = {"mamba": 4, "vwave-0.5": 8, "vwave-0.25": 16, "mamba-K16": 16}
    fixed = {**_climbing("mamba", (9, None)), **_climbing("vwave-0.5", (2, 4)), **_climbing("vwave-0.25", (2, 5))}

    def reach(k16: dict) -> str:
        return reach_text(metrics, {**fixed, **k16}, reaches, "mamba-K16", "mamba",
                                  ["vwave-0.5", "vwave-0.25"], 5, 3)

    later = reach(_climbing("mamba-K16", (3, 6, None, 7)))
    assert "vwave-0.25 (reach 16)" in later and "vwave-0.5 (the best fixed v)" in later
    assert "mamba-K16 300 (3 of 3) / 700 (2 of 3)" in later and "vwave-0.25 200 (3 of 3) / 500 (3 of 3)" in later
    assert "mamba-K16 got there later than vwave-0.25 to 50% and 90% (by 1–2 evaluations)" in later
    assert ("ends as high (ranges over seeds overlapping) and learns later: on learning speed, the abstract's measure, "
            "these velocities do better") in later
    assert later.endswith("Against mamba: every seed of mamba-K16 ends above every seed of mamba.")
    same = reach(_climbing("mamba-K16", (2, 4)))
    assert "at the same evaluation as vwave-0.5 to 50% and 90%" in same
    assert "sooner than vwave-0.25 to 90% (by 1 evaluation)" in same and "does at least as well" in same
    both = {**fixed, **_climbing("vwave-0.25", (2, 4)), **_climbing("mamba-K16", (2, 4))}
    assert "it does as well as these velocities, in final accuracy and in learning speed" in (
        reach_text(metrics, both, reaches, "mamba-K16", "mamba", ["vwave-0.5", "vwave-0.25"], 5, 3))
    assert "no single verdict" in reach(_climbing("mamba-K16", (1, 6)))  # sooner to 50%, later to 90%
    metrics["L5|mamba-K16"] = _summary(0.7, 0.75)
    assert "on final accuracy and learning speed, these velocities do better" in reach(_climbing("mamba-K16", (3, 6)))
    assert "ends lower and learns as fast (the same evaluations): on final accuracy, these velocities do better" in (
        reach_text(metrics, both, reaches, "mamba-K16", "mamba", ["vwave-0.5", "vwave-0.25"], 5, 3))


def test_learned_velocity_text_compares_final_accuracy_and_learning_speed():
    """Where the velocities went, then the learned velocity against its fixed start in both ways the other ablations
    are judged: ranges of final accuracy over seeds and the examples to 50% and 90%."""
    metrics = {"L5|vwave-0.5": _summary(0.9, 1.0), "L5|vwave-learned": _summary(0.5, 0.7)}
    history = {**_climbing("vwave-0.5", (2, 4), 2), **_climbing("vwave-learned", (3, 6), 2)}
    history |= {f"L5|vwave-learned|seed{s}|velocity": np.array([[0.5, 0.4 + 0.1 * s]]) for s in range(2)}
    text = learned_velocity_text(history, metrics, "vwave-learned", "vwave-0.5", 0.5, 5, 2)
    assert "range 0.400–0.500, at most 0.100 from their start 0.5" in text
    assert "vwave-learned got there later than vwave-0.5 to 50% and 90%" in text
    assert text.endswith("So, against its fixed start vwave-0.5, learning the velocity ends lower and learns later: "
                         "on final accuracy and learning speed, its fixed start vwave-0.5 does better.")


def test_ablations_on_other_devices_than_their_comparisons_are_said_to_agree_only_to_rounding():
    h100, h200 = "cuda:0 (NVIDIA H100 80GB HBM3)", "cuda:0 (NVIDIA H200)"
    assert devices_text([h100], [h100]) == ""
    text = devices_text(["cpu", h200], [h100])
    assert text.startswith(f"The ablations trained on cpu and {h200}, the runs set beside them (`copy_curves`) "
                           f"on {h100}")
    assert "equal only to rounding" in text and "not seed by seed" in text


def test_each_ablation_gets_the_comparison_that_fits_it():
    """A learned v against its start; a larger mixer at v = 1 by reach against the fixed velocities; a larger mixer
    at another velocity only against that velocity with 4 cells (its reach and velocity both changed)."""
    config = vwave.PRESETS["paper"]
    metrics = {f"L5|{m}": _summary(0.1 * i, 0.1 * i + 0.05)
               for i, m in enumerate((*config.models, *config.ablation_models))}
    history = {f"L5|vwave-learned|seed{s}|velocity": np.full((4, 8), 0.5) for s in range(config.n_seeds)}
    for m, at in {"mamba": 3, "vwave-0.5": 2, "vwave-0.25": 2, "vwave-0.1": 2, "mamba-K16": 3,
                  "vwave-0.25-K16": 1, "vwave-learned": 2}.items():
        history |= _climbing(m, (at, 7), config.n_seeds)
    learned, k16, slow_k16 = ablation_texts(config, metrics, history, 5)
    assert learned.startswith("vwave-learned's velocities") and "vwave-0.5 (fixed v = 0.5)" in learned
    assert k16.startswith("The short mixer's reach, K/v tokens (§5.1): mamba 4, vwave-0.5 8, vwave-0.25 16, "
                          "vwave-0.1 40, mamba-K16 16.") and "Final string accuracy: mamba-K16 " in k16
    assert slow_k16.startswith("vwave-0.25-K16 (reach 64 tokens)")
    assert "vwave-0.25 (the same velocity, reach 16)" in slow_k16
    assert "vwave-0.25-K16 ends above every seed of vwave-0.25" in slow_k16
    assert "vwave-0.25-K16 got there sooner than vwave-0.25 to 50% (by 1 evaluation)" in slow_k16
    assert "the velocit" not in slow_k16.split("So, against")[-1]  # no verdict on velocity against reach for it
    only_ablations = {k: v for k, v in metrics.items() if k.split("|")[1] in config.ablation_models}
    assert ablation_texts(config, only_ablations, history, 5) == []


def test_a_reduced_page_finds_the_paper_presets_artifact_only_where_it_is_stored(tmp_path):
    assert vwave.stored_paper_artifact("copy_curves", 0, tmp_path) is None
    paper = vwave.PRESETS["paper"]
    path = tmp_path / "paper" / "vwave" / f"copy_curves-{config_hash('copy_curves', paper.to_dict(), 0)}"
    path.mkdir(parents=True)
    assert vwave.stored_paper_artifact("copy_curves", 0, tmp_path).path == path
    assert vwave.stored_paper_artifact("copy_curves", 1, tmp_path) is None  # another seed's


def test_generalisation_text_names_the_largest_gap_between_the_two_sets():
    history = {}
    for model, (curve, general) in {"mamba": (0.5, 0.5), "rope": (0.25, 0.75)}.items():
        history |= {f"L2|{model}|seed0|string_accuracy_by_length": np.array([[0, 0], [1.0, curve]]),
                    f"L2|{model}|seed0|eval_lengths": np.array([1, 2]),
                    f"L2|{model}|seed0|generalisation_string_accuracy": np.array([1.0, general, 0.0]),
                    f"L2|{model}|seed0|generalisation_lengths": np.array([1, 2, 3])}
    text = evaluation_sets_text(history, ["mamba", "rope"], 2, 1, 8)
    assert "8 per length" in text and "rope, 0.250 in §5.2's table and 0.750 here" in text
    assert evaluation_sets_text(history, ["mamba"], 2, 1, 8).endswith(
        "At length 2 the two sets give the same final string accuracy for every model here (mamba; one seed), "
        "though by sampling alone they could differ.")


def test_each_further_length_is_its_own_experiment_present_only_where_the_preset_has_one(tmp_path):
    from wavelib.chapters import open_chapter
    from wavelib.presets import ConfigError

    one = open_chapter("vwave", preset="smoke", root=tmp_path, check=False)
    assert "copy_curves_long" not in [e.name for e in one.experiments]
    assert one.available("copy_curves_long") is None  # nothing to do: no note, no artifact
    with pytest.raises(ConfigError, match="nothing to do at these settings"):
        one.experiment("copy_curves_long")
    two = open_chapter("vwave", preset="smoke", root=tmp_path, check=False, models=("mamba",), lengths=(3, 4),
                       contexts=(32, 32), steps=4, eval_every=2)
    assert [e.name for e in two.experiments] == ["copy_curves", "ablations", "copy_curves_long"]  # the short first
    first, longer = two.experiment("copy_curves"), two.experiment("copy_curves_long")
    assert set(first.metrics) == {"L3|mamba"} and set(longer.metrics) == {"L4|mamba"}
    assert all(key.startswith("L4|") for key in longer.history())


def test_speed_claim_does_not_list_a_tie_as_slower():
    """A model that reached each level after exactly as many examples as the base must not be named "Slower than"."""
    base = _crossing_history("mamba", [[0, 0.95, 0.95]] * 3)
    wave = _crossing_history("vwave-0.5", [[0, 0.95, 0.95]] * 3)
    text = speed_claim_text({**base, **wave}, "mamba", ["vwave-0.5"], 5, 3, 10)
    assert "vwave-0.5 ×1.00" in text and "Slower than" not in text


def test_touching_accuracy_ranges_count_as_overlapping():
    """Two models whose seeds all end at the same accuracy must read as overlapping, not as one below the other."""
    metrics = {vwave.run_key(5, "a"): _summary(1.0, 1.0), vwave.run_key(5, "b"): _summary(1.0, 1.0),
               vwave.run_key(5, "c"): _summary(0.5, 0.9)}
    assert side_of(metrics, "a", "b", 5) == 0
    assert side_of(metrics, "c", "a", 5) == -1 and side_of(metrics, "a", "c", 5) == 1
