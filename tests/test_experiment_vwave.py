"""Chapter 5's stored experiments: reproducible, resumable between runs, and complete."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from wavelib.chapters import get_chapter
from wavelib.experiments import vwave
from wavelib.plotting.vwave import loss_curves_figure, model_style
from wavelib.store import run_experiment

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
    reference = curves(tmp_path / "ref").history()
    real, calls = vwave.train_copy, {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # after the first model of the grid is stored in the checkpoint
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(vwave, "train_copy", failing)
    with pytest.raises(KeyboardInterrupt):
        curves(tmp_path / "run")
    monkeypatch.setattr(vwave, "train_copy", real)
    resumed = curves(tmp_path / "run")
    assert resumed.meta["resumed"] is True
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
    rope = metrics[f"L{length}|rope"]  # one seed: the summaries are that seed's last records
    assert rope["string_accuracy_at_max_mean"] == history[f"L{length}|rope|seed0|string_accuracy_by_length"][-1, -1]
    assert rope["train_loss_final_mean"] == history[f"L{length}|rope|seed0|train_loss"][-1] > 0


def test_figures_give_each_model_one_style_and_each_seed_its_own_examples():
    assert model_style("mamba")["color"] == model_style("mamba-K16")["color"]
    assert (model_style("mamba")["ls"], model_style("mamba-K16")["ls"]) == ("-", "--")
    assert len({model_style(m)["color"] for m in ("mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1", "vwave-learned",
                                                 "alibi", "rope", "vwave-0.75")}) == 8
    ones = np.ones(3)
    history = {"L5|mamba|seed0|examples": np.array([0, 10, 20]), "L5|mamba|seed0|train_loss": ones,
               "L5|mamba|seed1|examples": np.array([0, 30, 60]), "L5|mamba|seed1|train_loss": ones}
    fig = loss_curves_figure(history, ["mamba"], [5], seeds=2)
    lines = fig.axes[0].get_lines()
    plt.close(fig)
    assert [line.get_xdata().tolist() for line in lines] == [[10, 20], [30, 60], [20, 40]]
