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
    calls = {"n": 0}
    real = twm_theory.input_sensitivity

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls.get("fail_at"):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(twm_theory, "input_sensitivity", counting)
    reference = sweep(tmp_path / "ref").history()
    # fail in the middle of s = 4 (3 networks x 2 amplitudes x 2 seeds per s), after 3 checkpoints (36 calls)
    total, calls["n"], calls["fail_at"] = calls["n"], 0, 41
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path / "run")
    calls["n"], calls["fail_at"] = 0, None
    resumed = sweep(tmp_path / "run")
    assert resumed.meta["resumed"] is True
    assert calls["n"] == total - 36  # the checkpointed values of s are not computed again
    for key in reference:
        np.testing.assert_array_equal(resumed.history()[key], reference[key])


def test_sweep_history_shapes(tmp_path):
    history = sweep(tmp_path).history()
    A, S, N = len(SMOKE.amplitudes), SMOKE.s_max, SMOKE.n_networks
    np.testing.assert_array_equal(history["s"], np.arange(1, S + 1))
    np.testing.assert_array_equal(history["amplitudes"], SMOKE.amplitudes)
    for key in ("random_x1", "wave_x1", "bump_x1"):
        assert history[key].shape == (A, S, N)
    for key in ("random_profile", "wave_profile", "bump_profile"):
        assert history[key].shape == (A, S)
    assert history["random_decay_rate"].shape == history["wave_decay_rate"].shape == (A, N)
    assert history["random_spectral_radius"].shape == history["random_norm"].shape == (N,)
    assert history["random_bound"].shape == (S, N)


def test_sweep_random_decays_wave_and_bump_keep_small_inputs(tmp_path):
    artifact = sweep(tmp_path)
    metrics, history = artifact.metrics, artifact.history()
    small, large = (metrics[f"amplitude={a:g}"] for a in SMOKE.amplitudes)
    assert SMOKE.amplitudes[0] < 0.1 and SMOKE.amplitudes[-1] == 1.0
    for m in (small, large):
        assert m["random_decay_rate_mean"] < 0.8
        assert m["random_x1_at_s_max"] < 0.05
    assert 0.9 < small["wave_x1_min"] <= small["wave_x1_max"] <= 1.0 + 1e-9
    assert small["wave_decay_rate_mean"] > 0.99
    assert 0.9 < small["bump_x1_min"] <= small["bump_x1_max"] <= 1.0 + 1e-9  # the bump control keeps it too
    # with ±1 inputs the s tanh Jacobians along the substrate make the wave's sensitivity decay as well
    assert large["wave_decay_rate_mean"] < 0.9 and large["wave_x1_min"] < 0.5 * small["wave_x1_min"]
    assert large["random_decay_rate_mean"] < large["wave_decay_rate_mean"]
    # Eq. 14's bound with mu = ||W_hh||_2 >= spectral radius holds, and grows with s exactly where ||W_hh||_2 > 1
    assert (history["random_norm"] >= history["random_spectral_radius"]).all()
    np.testing.assert_array_equal((np.diff(history["random_bound"], axis=0) > 0).all(axis=0),
                                  history["random_norm"] > 1)
    assert (history["random_bound"][None] >= history["random_x1"]).all()


def test_cpu_only_experiment_records_the_cpu_whatever_was_asked(tmp_path):
    meta = run_experiment(CHAPTER, CHAPTER.experiment("gradient_sweep"), SMOKE, preset="smoke", seed=1,
                          device=torch.device("meta"), root=tmp_path).meta
    assert meta["device"] == "cpu"


def test_gradient_figure_fits_the_rate_of_the_amplitude_its_legend_names():
    """The legend names the first amplitude, so the drawn r^s fit must use that amplitude's rate, not the last one's."""
    import matplotlib.pyplot as plt

    from wavelib.plotting.theory import gradient_figure
    S, N = 5, 2
    s = np.arange(1, S + 1)
    history = {"s": s, "amplitudes": np.array([0.05, 1.0]),
               "random_decay_rate": np.array([[0.5, 0.5], [0.9, 0.9]]),
               "random_norm": np.full(N, 1.5), "random_bound": np.ones((S, N))}
    for name in ("random", "bump", "wave"):
        history[f"{name}_x1"] = np.ones((2, S, N))
        history[f"{name}_profile"] = np.ones((2, S))
    fig = gradient_figure(history)
    left = fig.axes[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    fitted = [line for line in left.get_lines() if np.allclose(line.get_ydata(), 0.5 ** (s - 1.0))]
    plt.close(fig)
    assert "random, fitted decay r^s (±0.05): r = 0.50" in labels
    assert len(fitted) == 1
