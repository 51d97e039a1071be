"""Chapter 3's stored experiments: validated knobs, reproducible and complete grids, the paper's protocol."""

import pytest
import torch

from wavelib.chapters import get_chapter
from wavelib.experiments.wave_rnn_tasks import PAPER_HPARAMS, PRESETS
from wavelib.presets import ConfigError
from wavelib.store import run_experiment

CHAPTER = get_chapter("wave_rnn_tasks")
SMOKE = CHAPTER.config("smoke")


def run(name, root, seed=1):
    return run_experiment(CHAPTER, CHAPTER.experiment(name), SMOKE, preset="smoke", seed=seed,
                          device=torch.device("cpu"), root=root)


@pytest.mark.parametrize("bad, match", [
    ({"copy_T": (-1,), "figure_T": -1}, "T must be >= 0"), ({"adding_T": (1,)}, "T must be >= 2"),
    ({"copy_models": ("lstm",)}, "valid values: wrnn, irnn, irnn-large"),
    ({"ablation_models": ("wrnn-noW",)}, "valid values"), ({"figure_T": 7}, "figure_T"),
    ({"lr": None}, "both lr and clip"), ({"n": 0}, "positive"), ({"copy_format": "text"}, "copy_format"),
    ({"ablation_v_init": "xavier"}, "ablation_v_init 'xavier'; valid values: normal, random"),
    ({"irnn_v_init": "sparse_identity"}, "irnn_v_init 'sparse_identity'; valid values: normal, random"),
])
def test_bad_knobs_are_refused_before_work(bad, match):
    with pytest.raises(ConfigError, match=match):
        SMOKE.replace(**bad)


def test_paper_preset_is_the_papers_protocol():
    paper = PRESETS["paper"]
    assert (paper.copy_T, paper.adding_T, paper.ablation_T) == ((0, 30, 80, 480), (100, 200, 400, 700, 1000),
                                                                 (0, 10, 30, 80))
    assert (paper.batch, paper.copy_steps, paper.adding_steps, paper.n_seeds) == (128, 60_000, 60_000, 3)
    assert paper.model_spec("copy", "wrnn", 30).parameters(10, 10) == 12_724
    assert paper.model_spec("copy", "irnn-large", 30).parameters(10, 10) == 404_385
    assert paper.model_spec("adding", "wrnn", 100).parameters(2, 1) == 13_015
    assert paper.task_spec("copy", "wrnn", 480).lr == 1e-4 and paper.task_spec("adding", "irnn", 1000).clip == 1
    assert paper.model_spec("copy", "irnn", 0).init_u == "random"  # Table 5: Kaiming uniform at T = 0
    assert paper.model_spec("ablation", "irnn-sigma", 0).init_u == "sigma"
    assert paper.task_spec("ablation", "wrnn-noU", 10) == paper.task_spec("copy", "wrnn", 10)
    # Table 4's "- V-init": the grid's N(0, 0.001) by default, PyTorch's default as the named alternative
    assert [paper.model_spec("ablation", m, 10).init_v for m in ("wrnn-noV", "wrnn-noV-noU", "wrnn-noU")] == \
        ["normal", "normal", "sparse_identity"]
    pytorch = paper.replace(ablation_v_init="random")
    assert [pytorch.model_spec("ablation", m, 10).init_v for m in ("wrnn-noV", "wrnn-noV-noU")] == ["random"] * 2
    assert pytorch.model_spec("ablation", "irnn-sigma-V", 10) == paper.model_spec("ablation", "irnn-sigma-V", 10)
    # the iRNNs' V: the paper's iRNN grid value N(0, 0.001) (also the public code's), PyTorch's default as option
    iRNNs = [("copy", "irnn"), ("copy", "irnn-large"), ("adding", "irnn"), ("ablation", "irnn-sigma")]
    assert [paper.model_spec(task, m, 30 if task != "adding" else 100).init_v for task, m in iRNNs] == ["normal"] * 4
    uniform = paper.replace(irnn_v_init="random")
    assert uniform.model_spec("copy", "irnn", 30).init_v == "random"
    assert uniform.model_spec("ablation", "irnn-sigma-V", 10).init_v == "sparse_identity"
    assert len(PAPER_HPARAMS) == 25


def test_same_seed_gives_identical_copy_results(tmp_path, assert_same_artifact):
    assert_same_artifact(run("copy", tmp_path / "a"), run("copy", tmp_path / "b"))


def test_grids_store_every_run_and_the_figure_data(tmp_path):
    copy_run, adding_run, ablation_run = (run(n, tmp_path) for n in ("copy", "adding", "ablations"))
    T = SMOKE.copy_T[0]
    history, metrics = copy_run.history(), copy_run.metrics
    assert set(metrics) == {f"copy|T{T}|{m}" for m in SMOKE.copy_models}
    key = f"copy|T{T}|wrnn|seed0"
    assert history[f"{key}|step"].tolist() == [0, 10, 20]
    assert history[f"{key}|example_probs"].shape == (T + 20, 10)
    assert history[f"{key}|example_states"].shape == (T + 20, SMOKE.n * SMOKE.copy_channels)
    assert history[f"{key}|example_input"][T + 10] == 9  # the delimiter
    assert set(copy_run.weights()) >= {f"{key}|conv.weight", f"copy|T{T}|irnn|seed0|rnn.weight_hh_l0"}
    assert not any("irnn-large" in k for k in copy_run.weights())
    m = metrics[f"copy|T{T}|wrnn"]
    assert m["paper_comparable_loss_mean"] == pytest.approx(m["cross_entropy_mean"] / SMOKE.eval_batch)
    adding = adding_run.metrics[f"adding|T{SMOKE.adding_T[0]}|irnn"]
    assert len(adding["solved_steps"]) == SMOKE.n_seeds and "mse_mean" in adding
    assert set(ablation_run.metrics) == {f"ablation|T{SMOKE.ablation_T[0]}|{m}" for m in SMOKE.ablation_models}
