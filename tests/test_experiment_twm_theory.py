"""Chapter 1's stored experiment: reproducible and resumable."""

import numpy as np
import pytest
import torch

from wavelib.chapters import get_chapter
from wavelib.experiments import twm_theory
from wavelib.store import run_experiment

CHAPTER = get_chapter("twm_theory")
SMOKE = CHAPTER.config("smoke")


def sweep(root, **kwargs):
    return run_experiment(CHAPTER, CHAPTER.experiment("gradient_sweep"), SMOKE, preset="smoke", seed=1,
                          device=torch.device("cpu"), root=root, **kwargs)


def test_same_seed_gives_identical_histories(tmp_path):
    a, b = sweep(tmp_path / "a").history(), sweep(tmp_path / "b").history()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_interrupted_sweep_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    reference = sweep(tmp_path / "ref").history()
    calls = {"n": 0}
    real = twm_theory.input_sensitivity

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:  # in the middle of the sweep, after a few checkpoints
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(twm_theory, "input_sensitivity", failing)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path / "run")
    monkeypatch.setattr(twm_theory, "input_sensitivity", real)
    resumed = sweep(tmp_path / "run")
    assert resumed.meta["resumed"] is True
    for key in reference:
        np.testing.assert_array_equal(resumed.history()[key], reference[key])


def test_sweep_shows_decay_without_waves_and_none_with_them(tmp_path):
    metrics = sweep(tmp_path).metrics
    assert metrics["random_decay_rate_mean"] < 0.8
    assert metrics["random_x1_at_s_max"] < 0.05
    assert 0.9 < metrics["wave_x1_min"] <= metrics["wave_x1_max"] <= 1.0 + 1e-9


def test_cpu_only_experiment_records_the_cpu_whatever_was_asked(tmp_path):
    meta = run_experiment(CHAPTER, CHAPTER.experiment("gradient_sweep"), SMOKE, preset="smoke", seed=1,
                          device=torch.device("meta"), root=tmp_path).meta
    assert meta["device"] == "cpu"
