import dataclasses

import numpy as np
import pytest
import torch

from wavelib.experiments.vwave import PRESETS, first_crossing
from wavelib.models.language_models import model_spec
from wavelib.models.short_mixers import FFT_MIN_LENGTH
from wavelib.presets import ConfigError
from wavelib.tasks.copy_strings import VOCAB_SIZE, copy_accuracy, make_eval_set
from wavelib.training import copy_lm
from wavelib.training.copy_lm import CopyTraining, learning_rate_factor, parameter_groups, train_copy

SIZES = dict(d_model=16, mamba_layers=1, transformer_layers=2, n_heads=2, d_state=4)


def test_model_names_parse_into_specs():
    assert model_spec("mamba", **SIZES).mixer == "conv"
    wave = model_spec("vwave-0.25-K16", **SIZES)
    assert (wave.mixer, wave.v, wave.cells, wave.learn_v, wave.n_layers) == ("vwave", 0.25, 16, False, 1)
    learned = model_spec("vwave-learned", **SIZES)
    assert learned.learn_v and 0 < learned.v < 1
    rope = model_spec("rope", **SIZES)
    assert (rope.family, rope.position, rope.n_layers) == ("transformer", "rope", 2)
    for bad in ("lstm", "vwave-1.5", "vwave-0", "rope-K16", "mamba-K"):
        with pytest.raises(ValueError):
            model_spec(bad, **SIZES)


def test_config_refuses_bad_knobs_before_any_work():
    base = PRESETS["smoke"]
    with pytest.raises(ConfigError, match="valid names"):
        base.replace(models=("mamba", "gru"))
    with pytest.raises(ConfigError, match="one row length per string length"):
        base.replace(lengths=(5, 8))
    with pytest.raises(ConfigError, match="context_len"):
        base.replace(contexts=(10,))
    with pytest.raises(ConfigError, match="positive"):
        base.replace(steps=-1)
    with pytest.raises(ConfigError, match="scan"):
        base.replace(scan="magic")


def test_paper_preset_protocol():
    paper = PRESETS["paper"]
    assert paper.lengths == (20, 300) and paper.training(20).context_len == 220
    assert set(paper.models) >= {"mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1", "alibi", "rope"}
    assert paper.n_seeds >= 3 and paper.weight_decay == 0.1 and paper.warmup == 100
    assert paper.training(20).generalisation_lengths[-1] == 40


def test_learning_rate_warms_up_then_decays_to_zero():
    factors = [learning_rate_factor(n, 4, 12) for n in range(12)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and factors[-1] == pytest.approx(1 / 8)
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert learning_rate_factor(12, 4, 12) == 0.0


def test_first_crossing():
    examples = np.array([0, 10, 20, 30])
    assert first_crossing(examples, np.array([0.0, 0.4, 0.95, 0.9]), 0.9) == 20
    assert first_crossing(examples, np.array([0.0, 0.4, 0.5, 0.6]), 0.9) is None
    loss = np.array([np.nan, 2.0, 0.9, 1.1])  # a loss falls to its level; the NaN of step 0 never counts
    assert first_crossing(examples, loss, 1.0, below=True) == 20
    assert first_crossing(examples, loss, 0.1, below=True) is None
    # reaching the level exactly counts (10 strings per length make accuracies of exactly 0.9 common)
    assert first_crossing(examples, np.array([0.0, 0.9, 1.0, 1.0]), 0.9) == 10
    assert first_crossing(examples, np.array([np.nan, 1.0, 0.5, 0.1]), 1.0, below=True) == 10


def _tiny_training(**overrides) -> CopyTraining:
    base = dict(min_len=1, max_len=3, context_len=24, batch=4, steps=6, lr=1e-3, warmup=2, eval_every=3,
                eval_per_length=2, generalisation_lengths=(5,))
    return CopyTraining(**{**base, **overrides})


@pytest.mark.parametrize("name", ["vwave-learned", "alibi"])
def test_training_resumes_bit_for_bit(name, memory_checkpoint, step_recorder, assert_same_training, monkeypatch):
    import wavelib.training.copy_lm as copy_lm

    spec, cfg, cpu = model_spec(name, **SIZES), _tiny_training(), torch.device("cpu")
    whole = memory_checkpoint()
    model, history = train_copy(spec, cfg, 5, cpu, checkpoint=whole, checkpoint_every=3)
    assert [s["step"] for s in whole.saved] == [3, 6]
    ran = step_recorder()
    resumed_model, resumed = train_copy(spec, cfg, 5, cpu, checkpoint=memory_checkpoint(whole.saved[0]),
                                        checkpoint_every=3, progress=ran)
    assert ran.steps == [4, 5, 6]  # only the steps after the checkpoint
    assert_same_training((model, history), (resumed_model, resumed))  # every history key, every weight
    other = dataclasses.replace(cfg, lr=2e-3)
    with pytest.raises(ValueError, match="different run"):
        train_copy(spec, other, 5, cpu, checkpoint=memory_checkpoint(whole.saved[0]))
    if spec.family == "mamba":  # the scan "auto" resolved to is part of the run (e.g. mamba_ssm installed since)
        monkeypatch.setattr(copy_lm, "resolve_backend", lambda *args: "chunked")
        with pytest.raises(ValueError, match="different run"):
            train_copy(spec, cfg, 5, cpu, checkpoint=memory_checkpoint(whole.saved[0]))


def test_history_records_curves_and_generalisation():
    _, history = train_copy(model_spec("mamba", **SIZES), _tiny_training(), 0, torch.device("cpu"))
    assert history["step"].tolist() == [0, 3, 6]
    assert history["examples"][0] == 0 and np.all(np.diff(history["examples"]) > 0)
    assert history["string_accuracy_by_length"].shape == (3, 3)
    assert history["generalisation_lengths"].tolist() == [1, 2, 3, 5]
    assert history["velocity"].shape == (1, 32) and np.all(history["velocity"] == 1.0)


def test_each_step_gets_its_scheduled_rate_and_clip_and_the_curve_records_mean_losses(monkeypatch):
    """What train_copy does per step, seen from the calls it makes: step n's learning rate is
    lr * learning_rate_factor(n - 1, ...), each update clips at cfg.clip, a recorded train_loss is the mean of the
    losses since the previous record, ``examples`` counts the examples of every batch so far, and the
    mean-over-lengths accuracy is the mean of the per-length ones."""
    rates, clips, losses = [], [], []
    real_rate, real_step, real_loss = copy_lm.set_learning_rate, copy_lm.optimizer_step, copy_lm.copy_loss
    monkeypatch.setattr(copy_lm, "set_learning_rate", lambda opt, lr: (rates.append(lr), real_rate(opt, lr))[1])
    monkeypatch.setattr(copy_lm, "optimizer_step", lambda model, opt, loss, clip: (
        clips.append(clip), real_step(model, opt, loss, clip))[1])

    def loss(model, *args):
        value = real_loss(model, *args)
        if torch.is_grad_enabled():
            losses.append(value.item())
        return value

    monkeypatch.setattr(copy_lm, "copy_loss", loss)
    counts, real_batch = [], copy_lm.sample_training_batch

    def batch(*args, **kwargs):
        drawn = real_batch(*args, **kwargs)
        counts.append(drawn.n_examples)
        return drawn

    monkeypatch.setattr(copy_lm, "sample_training_batch", batch)
    cfg = _tiny_training(clip=0.5)
    _, history = train_copy(model_spec("mamba", **SIZES), cfg, 0, torch.device("cpu"))
    assert history["examples"].tolist() == [0, sum(counts[:3]), sum(counts)]  # the figures' x axis
    assert rates == pytest.approx([cfg.lr * learning_rate_factor(n, cfg.warmup, cfg.steps) for n in range(6)])
    assert len(set(rates)) > 2 and clips == [0.5] * 6
    assert np.isnan(history["train_loss"][0])
    np.testing.assert_allclose(history["train_loss"][1:], [np.mean(losses[:3]), np.mean(losses[3:])], rtol=1e-6)
    np.testing.assert_allclose(history["string_accuracy_by_length"].mean(axis=1), history["string_accuracy"])


def test_a_tiny_mamba_learns_to_copy_length_3():
    cfg = _tiny_training(max_len=3, context_len=48, batch=16, steps=250, lr=1e-2, warmup=10, eval_every=250,
                         eval_per_length=20, generalisation_lengths=())
    spec = model_spec("mamba", d_model=32, mamba_layers=2, transformer_layers=1, n_heads=2, d_state=8)
    _, history = train_copy(spec, cfg, 0, torch.device("cpu"))
    assert history["string_accuracy"][0] < 0.1
    assert history["string_accuracy"][-1] >= 0.9, history["string_accuracy"]


def test_weight_decay_spares_a_log_d_and_the_velocity(memory_checkpoint):
    spec = model_spec("vwave-learned", **SIZES)
    model = spec.build(30)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed, exempt = parameter_groups(model, 0.1)
    assert (decayed["weight_decay"], exempt["weight_decay"]) == (0.1, 0.0)
    assert sorted(names[id(p)].rsplit(".", 1)[-1] for p in exempt["params"]) == ["A_log", "D", "theta"]
    assert len(decayed["params"]) + len(exempt["params"]) == len(list(model.parameters()))
    assert [g["weight_decay"] for g in parameter_groups(model_spec("rope", **SIZES).build(30), 0.1)] == [0.1]
    checkpoint = memory_checkpoint()  # train_copy's optimizer holds the same two groups
    train_copy(spec, _tiny_training(steps=3, eval_every=3), 0, torch.device("cpu"), checkpoint=checkpoint)
    groups = checkpoint.saved[-1]["optimizer"]["param_groups"]
    assert [(g["weight_decay"], len(g["params"])) for g in groups] == [(0.1, len(decayed["params"])), (0.0, 3)]


@pytest.mark.parametrize("name", ["mamba", "vwave-0.25", "alibi", "rope"])
def test_scoring_cuts_each_batch_after_its_last_scored_token_and_keeps_the_whole_rows_scores(name, monkeypatch):
    """Against every row scored at full width: the same accuracies, the same losses to rounding; the models saw
    shorter rows (batches of 8 rows, lengths 1..40: widths 10 to 82 of 83, on both sides of the mixers' switch
    from a direct to an FFT convolution)."""
    monkeypatch.setattr(copy_lm, "EVAL_BATCH", 8)
    torch.manual_seed(0)
    model = model_spec(name, **SIZES).build(VOCAB_SIZE).eval()
    data = make_eval_set(range(1, 41), 2, seed=3)
    widths = []
    model.register_forward_hook(lambda module, args, out: widths.append(args[0].shape[1]))
    scores = copy_lm.evaluate(model, data, torch.device("cpu"))
    assert (widths[0], widths[-1], data.inputs.shape[1], len(widths)) == (2 * 4 + 2, 2 * 40 + 2, 83, 80 // 8)
    assert min(widths) < FFT_MIN_LENGTH <= max(widths)
    with torch.no_grad():
        logits = model(data.inputs)
    string, char = copy_accuracy(logits, data.targets, data.answer_mask)
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), data.targets, reduction="none")
    loss = (nll * data.loss_mask).sum(1) / data.loss_mask.sum(1)
    np.testing.assert_array_equal(scores["string_accuracy"], string.double().numpy())
    np.testing.assert_array_equal(scores["char_accuracy"], char.double().numpy())
    np.testing.assert_allclose(scores["loss"], loss.double().numpy(), rtol=1e-5)
