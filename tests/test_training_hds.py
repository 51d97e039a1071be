import dataclasses
import shutil

import numpy as np
import pytest
import torch

from wavelib.models.elman import BatchedElman
from wavelib.presets import ConfigError
from wavelib.store import Checkpoint
from wavelib.tasks.linear_hds import rollout, sample_hds_batch, task_operator
from wavelib.training.hds import (
    CODE_LEVELS,
    CURRICULA,
    PAPER_H_MAX,
    HDSTraining,
    code_curriculum_update,
    gradient_record_steps,
    input_gradient_norms,
    input_jacobian_norms,
    masked_accuracy,
    paper_curriculum_update,
    train_hds,
    train_hds_group,
    train_step,
)

CPU = torch.device("cpu")


# --- data ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task,s,d", [("compose_t3", 8, 8), ("diagonal_copy", 5, 3)])
def test_sample_hds_batch_matches_rollout(task, s, d):
    F = task_operator(task, s, d)
    gen = torch.Generator().manual_seed(0)
    inputs, targets = sample_hds_batch(F, 2, 3, 30, gen, CPU, torch.float32)
    assert inputs.shape == (2, 3, s + 30, d) and targets.shape == (2, 3, 30, d)
    assert set(inputs[:, :, :s].unique().tolist()) == {-1.0, 1.0}
    assert not inputs[:, :, s:].any()
    u = inputs[:, :, :s].reshape(6, s, d).numpy().astype(int)
    np.testing.assert_array_equal(targets.reshape(6, 30, d).numpy(), rollout(F.astype(int), u, 30))
    again = sample_hds_batch(F, 2, 3, 30, torch.Generator().manual_seed(0), CPU, torch.float64)
    assert torch.equal(again[0].float(), inputs) and torch.equal(again[1].float(), targets)


def test_sample_hds_batch_rejects_bad_arguments():
    F = task_operator("repeat_copy", 4, 2)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="horizon"):
        sample_hds_batch(F, 1, 2, 0, gen, CPU, torch.float32)
    with pytest.raises(ValueError, match=r"\(s\*d, d\)"):
        sample_hds_batch(np.ones((7, 2)), 1, 2, 3, gen, CPU, torch.float32)


# --- batched training equals training each seed alone -------------------------------------------------------

def test_batched_training_equals_one_by_one():
    s = d = 3
    hidden, seeds, lr, l2, clip = 12, [0, 1, 2], 1e-2, 0.01, 0.5
    F = task_operator("repeat_copy", s, d)
    schedule = [[5, 8, 3], [8, 8, 8], [2, 6, 4]]  # horizon of each model, cycled over the steps
    model = BatchedElman(3, d, hidden, d, seeds, dtype=torch.float64)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=l2)
    refs = []
    for seed in seeds:
        torch.manual_seed(seed)
        rnn = torch.nn.RNN(d, hidden, nonlinearity="tanh", bias=False, batch_first=True).double()
        readout = torch.nn.Linear(hidden, d, bias=False).double()
        params = list(rnn.parameters()) + list(readout.parameters())
        refs.append((rnn, readout, params, torch.optim.Adam(params, lr=lr, weight_decay=l2)))
    gen = torch.Generator().manual_seed(0)
    clipped = 0
    for k in range(30):
        horizon = torch.tensor(schedule[k % 3])
        inputs, targets = sample_hds_batch(F, 3, 8, int(horizon.max()), gen, CPU, torch.float64)
        step = train_step(model, optimizer, inputs, targets, horizon, clip)
        clipped += int((step.grad_norm > clip).sum())
        for m, (rnn, readout, params, opt) in enumerate(refs):
            h_m = int(horizon[m])
            y = readout(rnn(inputs[m])[0])[:, s:s + h_m]
            loss = torch.nn.functional.mse_loss(y, targets[m, :, :h_m])
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            assert abs(step.loss[m].item() - loss.item()) < 1e-12
            assert abs(step.grad_norm[m].item() - norm.item()) < 1e-10
    assert 0 < clipped < 90  # clipping was active on some steps, not all
    for m, (rnn, readout, _, _) in enumerate(refs):
        torch.testing.assert_close(model.W_ih[m], rnn.weight_ih_l0, rtol=0, atol=1e-10)
        torch.testing.assert_close(model.W_hh[m], rnn.weight_hh_l0, rtol=0, atol=1e-10)
        torch.testing.assert_close(model.W_r[m], readout.weight, rtol=0, atol=1e-10)
    assert (model.W_hh[0] - BatchedElman(3, d, hidden, d, seeds, dtype=torch.float64).W_hh[0]).abs().max() > 1e-2


# --- curricula ---------------------------------------------------------------------------------------------------

def test_paper_curriculum_grows_when_low_and_shrinks_when_high():
    horizon = torch.tensor([10, 10])
    ema = torch.full((2, PAPER_H_MAX), float("nan"), dtype=torch.float64)
    seen = [horizon.tolist()]
    for _ in range(14):  # model 0 always below 3e-2, model 1 always above
        step_mse = torch.stack([torch.full((int(horizon.max()),), 1e-3), torch.full((int(horizon.max()),), 0.5)])
        horizon, ema = paper_curriculum_update(horizon, ema, step_mse.double())
        seen.append(horizon.tolist())
    grown = [h[0] for h in seen]
    assert grown[:8] == [10, 12, 15, 18, 22, 27, 33, 40]  # ceil(1.2 H), exact integers
    assert grown[-1] == 100 and max(grown) == 100
    assert all(h[1] == 10 for h in seen)  # never below H0
    horizon = torch.tensor([100])
    ema = torch.full((1, PAPER_H_MAX), float("nan"), dtype=torch.float64)
    shrinking = []
    for _ in range(3):
        horizon, ema = paper_curriculum_update(horizon, ema, torch.full((1, 100), 0.2, dtype=torch.float64))
        shrinking.append(int(horizon))
    assert shrinking == [83, 69, 57]  # floor(H / 1.2)


def test_paper_curriculum_moving_average():
    first = torch.linspace(0.1, 1.0, 10, dtype=torch.float64)[None]
    ema = torch.full((1, PAPER_H_MAX), float("nan"), dtype=torch.float64)
    horizon, ema = paper_curriculum_update(torch.tensor([10]), ema, torch.cat([first, torch.tensor([[9.0]])], 1))
    torch.testing.assert_close(ema[:, :10], first)  # first observation; step 11 lies outside the horizon
    assert torch.isnan(ema[0, 10:]).all() and int(horizon) == 10  # mean 0.55 > 3e-2, but never below 10
    horizon, ema = paper_curriculum_update(horizon, ema, torch.zeros(1, 10, dtype=torch.float64))
    torch.testing.assert_close(ema[:, :10], 0.9 * first)
    mean, expected = 0.9 * 0.55, 0  # oracle: steps of low loss until the average falls below the threshold
    while mean >= 3e-2:
        mean, expected = 0.9 * mean + 0.1 * 1e-3, expected + 1
    taken = 0
    while int(horizon) == 10:
        horizon, ema = paper_curriculum_update(horizon, ema, torch.full((1, 10), 1e-3, dtype=torch.float64))
        taken += 1
    assert taken == expected and int(horizon) == 12


def test_code_curriculum_moves_up_one_level_and_never_down():
    level = torch.tensor([0, 0, 3, 4])
    level = code_curriculum_update(level, torch.tensor([0.99, 0.98, 0.99, 0.99]), 0.98)
    assert level.tolist() == [1, 0, 4, 4]  # strictly above the threshold; capped at the last level
    level = code_curriculum_update(level, torch.tensor([0.1, 0.1, 0.1, 0.1]), 0.98)
    assert level.tolist() == [1, 0, 4, 4]
    assert CODE_LEVELS == (10, 20, 40, 60, 100)


def test_masked_accuracy_counts_own_horizon():
    targets = torch.ones(2, 1, 4, 1)
    outputs = torch.tensor([[1.0, 1.0, -1.0, -1.0], [1.0, 0.0, 1.0, 1.0]]).reshape(2, 1, 4, 1)
    np.testing.assert_allclose(masked_accuracy(outputs, targets, torch.tensor([2, 4])).numpy(), [1.0, 0.75])


def test_code_curriculum_in_training():
    cfg = HDSTraining(task="repeat_copy", s=2, d=2, hidden=16, l2=0.0, curriculum="code", steps=400, log_every=50,
                      code_threshold=0.9, test_horizon=20)
    _, history = train_hds(cfg, [0, 1], CPU, generator_seed=0)
    horizon = history["horizon"]
    assert set(np.unique(horizon)) <= set(CODE_LEVELS)
    assert (np.diff(horizon, axis=0) >= 0).all() and horizon[-1].max() > 10


# --- gradients, checkpoints, learning ----------------------------------------------------------------------------

def test_input_gradient_norms_per_sample():
    s = d = 3
    model = BatchedElman(2, d, 8, d, [3, 4], dtype=torch.float64)
    F = task_operator("repeat_copy", s, d)
    inputs, targets = sample_hds_batch(F, 2, 5, 1, torch.Generator().manual_seed(0), CPU, torch.float64)
    got = input_gradient_norms(model, inputs, targets)
    assert got.shape == (2, s)
    for m in range(2):
        norms = []
        for b in range(5):
            u = inputs[m, b].clone().requires_grad_(True)
            W = model.model_weights(m)
            h = torch.zeros(8, dtype=torch.float64)
            for t in range(s + 1):
                h = torch.tanh(torch.as_tensor(W["W_hh"]) @ h + torch.as_tensor(W["W_ih"]) @ u[t])
            cost = ((torch.as_tensor(W["W_r"]) @ h - targets[m, b, 0]) ** 2).mean()
            (grad,) = torch.autograd.grad(cost, u)
            norms.append(grad[:s].norm(dim=1))
        torch.testing.assert_close(got[m], torch.stack(norms).mean(0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bias", [False, True])
def test_input_jacobian_norms_per_sample(bias):
    s, d, H = 3, 2, 6
    model = BatchedElman(2, d, H, d, [3, 4], bias=bias, dtype=torch.float64)
    if bias:
        with torch.no_grad():
            model.b.normal_(0, 0.3)
    inputs, _ = sample_hds_batch(task_operator("repeat_copy", s, d), 2, 4, 1, torch.Generator().manual_seed(0),
                                 CPU, torch.float64)
    got = input_jacobian_norms(model, inputs)
    assert got.shape == (2, s)
    for m in range(2):
        W = {k: torch.as_tensor(v) for k, v in model.model_weights(m).items()}

        def last_state(u):
            h = torch.zeros(H, dtype=torch.float64)
            for t in range(s + 1):
                h = torch.tanh(W["W_hh"] @ h + W["W_ih"] @ u[t] + (W["b"] if bias else 0))
            return h

        jacobians = [torch.autograd.functional.jacobian(last_state, inputs[m, b]) for b in range(4)]  # (H, s+1, d)
        want = torch.stack([j[:, :s].square().sum(dim=(0, 2)).sqrt() / d ** 0.5 for j in jacobians]).mean(0)
        torch.testing.assert_close(got[m], want, rtol=0, atol=1e-12)


def test_input_jacobian_norms_of_a_wave_network_are_one_for_every_input():
    """W_hh = Φ (repeat copy), W_ih writing the newest slot, inputs small enough for tanh to be linear: every
    input reaches h(s+1) unchanged (the ideal of Fig. 5), while the cost gradient would depend on the error."""
    from wavelib.theory.lbc import wave_operator

    s, d = 4, 2
    model = BatchedElman(1, d, s * d, d, [0], dtype=torch.float64)
    with torch.no_grad():
        model.W_hh[0] = torch.as_tensor(wave_operator(task_operator("repeat_copy", s, d), s, d))
        model.W_ih[0] = 0
        model.W_ih[0, (s - 1) * d:] = torch.eye(d)
    inputs, _ = sample_hds_batch(task_operator("repeat_copy", s, d), 1, 8, 1, torch.Generator().manual_seed(1),
                                 CPU, torch.float64)
    norms = input_jacobian_norms(model, 1e-4 * inputs)
    torch.testing.assert_close(norms, torch.ones(1, s, dtype=torch.float64), rtol=0, atol=1e-6)


def test_gradient_record_steps_resolve_the_first_steps():
    assert sorted(gradient_record_steps(1000, 100)) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 600,
                                                        700, 800, 900, 1000]
    assert sorted(gradient_record_steps(30, 1000)) == [0, 1, 2, 5, 10, 20]
    assert gradient_record_steps(1000, 0) == set()


def crashing_progress(at):
    def progress(iterable, **kwargs):
        for n in iterable:
            if n == at:
                raise RuntimeError("simulated crash")
            yield n
    return progress


@pytest.mark.parametrize("curriculum", ["paper", "code"])
def test_resume_is_bit_for_bit(tmp_path, monkeypatch, step_recorder, curriculum):
    import wavelib.training.hds as hds

    cfg = HDSTraining(task="diagonal_copy", s=3, d=2, hidden=8, l2=0.001, curriculum=curriculum, steps=300,
                      log_every=40, grad_every=100, test_horizon=30, code_threshold=0.9)
    straight, h_straight = train_hds(cfg, [0, 1], CPU, generator_seed=5)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_hds(cfg, [0, 1], CPU, generator_seed=5, checkpoint=Checkpoint(tmp_path),
                  progress=crashing_progress(160), checkpoint_every=50)
    assert Checkpoint(tmp_path).load()["step"] == 150
    with pytest.raises(ValueError, match="different run"):
        train_hds(cfg, [0, 1], CPU, generator_seed=6, checkpoint=Checkpoint(tmp_path))
    if curriculum == "paper":  # a run resumes on the recurrence it started on (they agree to rounding only) ...
        copy = tmp_path.parent / f"{tmp_path.name}-copy"
        shutil.copytree(tmp_path, copy)
        monkeypatch.setattr(hds, "resolve_recurrence", lambda *args: "fused")  # where "auto" would now be fused
        train_hds(cfg, [0, 1], CPU, generator_seed=5, checkpoint=Checkpoint(copy), checkpoint_every=50)
        monkeypatch.undo()
        assert Checkpoint(copy).load()["identity"]["recurrence"] == "reference"
        # ... and refuses one trained on the fused kernels where they cannot run
        shutil.rmtree(copy)
        shutil.copytree(tmp_path, copy)
        state = Checkpoint(copy).load()
        state["identity"]["recurrence"] = "fused"
        Checkpoint(copy).save(state)
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        with pytest.raises(ConfigError, match="trained on the fused recurrence, which cannot run here"):
            train_hds(cfg, [0, 1], CPU, generator_seed=5, checkpoint=Checkpoint(copy))
    ran = step_recorder()
    resumed, h_resumed = train_hds(cfg, [0, 1], CPU, generator_seed=5, checkpoint=Checkpoint(tmp_path),
                                   checkpoint_every=50, progress=ran)
    assert ran.steps == list(range(151, 301))  # only the steps after the checkpoint
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert set(h_straight) == set(h_resumed)
    for key in h_straight:
        np.testing.assert_array_equal(h_straight[key], h_resumed[key], err_msg=key)
    assert h_straight["loss"].shape == (8, 2) and h_straight["step"][-1] == 300  # 40, 80, ..., 280, 300
    assert list(h_straight["grad_step"]) == [0, 1, 2, 5, 10, 20, 50, 100, 200, 300]
    for key in ("grad_norms", "jacobian_norms"):
        assert h_straight[key].shape == (10, 2, 3), key
    assert h_straight["grad_max_abs_eig"].shape == (10, 2)
    assert Checkpoint(tmp_path).load()["step"] == 300


def test_spectral_radii_on_cpu_threads_are_the_same_records_and_checkpoint_resolved(tmp_path, monkeypatch):
    import wavelib.training.hds as hds

    cfg = HDSTraining(task="repeat_copy", s=3, d=2, hidden=8, l2=0.0, steps=120, log_every=20, test_horizon=10)
    _, inline = train_hds(cfg, [0, 1, 2], CPU, generator_seed=1)
    monkeypatch.setattr(hds, "_eig_workers", lambda device: 3)  # as beside a GPU: a pool of 3 threads
    _, threaded = train_hds(cfg, [0, 1, 2], CPU, generator_seed=1, checkpoint=Checkpoint(tmp_path),
                            checkpoint_every=50)
    np.testing.assert_array_equal(inline["max_abs_eig"], threaded["max_abs_eig"])
    assert inline["max_abs_eig"].shape == (6, 3) and (inline["max_abs_eig"] > 0).all()
    saved = Checkpoint(tmp_path).load()["history"]["max_abs_eig"]
    assert all(isinstance(record, np.ndarray) for record in saved) and len(saved) == 6


def test_learns_repeat_copy():
    cfg = HDSTraining(task="repeat_copy", s=4, d=4, hidden=32, l2=0.0, curriculum="paper", steps=1500,
                      log_every=100, test_horizon=50)
    _, history = train_hds(cfg, [0, 1, 2], CPU, generator_seed=0)
    assert (history["test_accuracy"] > 0.95).all(), history["test_accuracy"]
    assert (history["horizon"][-1] > 20).all()  # the curriculum moved on
    assert history["loss"][-1].max() < 0.1 < history["loss"][0].min()


def test_config_validation():
    base = dict(task="repeat_copy", s=4, d=4, hidden=8, l2=0.0)
    HDSTraining(**base)
    for bad, match in [({"task": "copy"}, "repeat_copy"), ({"curriculum": "fast"}, "paper"),
                       ({"init": "xavier"}, "gaussian"), ({"dtype": "float16"}, "float32"),
                       ({"hidden": 0}, "hidden"), ({"l2": -1.0}, "l2"), ({"grad_every": -1}, "grad_every"),
                       ({"code_threshold": 1.0}, "code_threshold"),
                       ({"s": 3, "d": 4, "task": "diagonal_copy"}, "d <= s")]:
        with pytest.raises(ValueError, match=match):
            HDSTraining(**{**base, **bad})
    with pytest.raises(ValueError, match="grad_inputs_at"):
        train_hds(HDSTraining(**base, steps=5), [0], CPU, 0, grad_inputs_at=[6])


def test_a_silent_network_scores_chance_not_zero():
    """y = 0 is read as the bit -1, so balanced ±1 targets give 0.5 (the paper's failed cells), not 0."""
    from wavelib.training.hds import masked_accuracy, predicted_bits

    targets = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 4, 1)
    assert predicted_bits(torch.zeros(4)).tolist() == [-1.0] * 4
    assert masked_accuracy(torch.zeros_like(targets), targets, torch.tensor([4])).item() == 0.5
    assert masked_accuracy(targets * 0.3, targets, torch.tensor([4])).item() == 1.0


def test_test_scores_are_those_of_the_closed_loop_steps():
    """The test accuracy and loss (the stored ``test_accuracy``, ``test_loss``) are taken over the closed-loop steps
    after the s inputs only. With W_hh = 0 a network answers only while inputs arrive (y = W_r tanh(W_ih u)) and is
    silent after them (y = 0): its scores are the fraction of -1 targets and exactly 1.0 (targets ±1)."""
    from wavelib.training.hds import _score
    s, d = 3, 2
    model = BatchedElman(2, d, 8, d, [0, 1], dtype=torch.float64)
    with torch.no_grad():
        model.W_hh.zero_()
    inputs, targets = sample_hds_batch(task_operator("repeat_copy", s, d), 2, 5, 6, torch.Generator().manual_seed(0),
                                       CPU, torch.float64)
    accuracy, mse = _score(model, inputs, targets, s)
    np.testing.assert_array_equal(mse, [1.0, 1.0])
    np.testing.assert_allclose(accuracy, (targets == -1).double().mean(dim=(1, 2, 3)).numpy())
    assert model(inputs)[0][:, :, :s].abs().min() > 0  # the input steps' outputs, which the scores leave out


# --- grouped training: several cells in one batched model equal each cell alone --------------------------------

GROUP_BASE = HDSTraining(task="repeat_copy", s=4, d=4, hidden=16, l2=0.0, curriculum="code", code_threshold=0.6,
                         steps=40, batch=16, lr=1e-2, log_every=5, grad_every=20, test_horizon=30, dtype="float64")
GROUP_CELLS = [GROUP_BASE, dataclasses.replace(GROUP_BASE, task="diagonal_copy", l2=0.1),
               dataclasses.replace(GROUP_BASE, l2=0.1)]
GROUP_SEEDS, GROUP_GENERATORS = [0, 1], [5, 6, 7]


#: the paper's curriculum (loss below 3e-2 to grow) moves in a few hundred steps only on a smaller task
PAPER_GROUP_SETTINGS = dict(curriculum="paper", s=2, d=2, hidden=8, lr=3e-2, steps=200, log_every=20, grad_every=100)


@pytest.mark.parametrize("curriculum", CURRICULA)
def test_group_training_equals_each_cell_alone(curriculum):
    settings = PAPER_GROUP_SETTINGS if curriculum == "paper" else {"curriculum": curriculum}
    cells = [dataclasses.replace(cell, **settings) for cell in GROUP_CELLS]
    group = train_hds_group(cells, GROUP_SEEDS, CPU, GROUP_GENERATORS)
    assert len(group) == len(GROUP_CELLS)
    final_horizons = []
    for cell, generator_seed, (g_model, g_history) in zip(cells, GROUP_GENERATORS, group):
        model, history = train_hds(cell, GROUP_SEEDS, CPU, generator_seed)
        assert g_model.n_models == len(GROUP_SEEDS)
        for (name, a), (g_name, b) in zip(model.state_dict().items(), g_model.state_dict().items()):
            assert name == g_name and a.shape == b.shape
            torch.testing.assert_close(b, a, rtol=0, atol=1e-10, msg=name)
        assert set(history) == set(g_history)
        for key in history:
            assert g_history[key].shape == history[key].shape, key
            np.testing.assert_allclose(g_history[key], history[key], rtol=0, atol=1e-10, err_msg=key)
            if key in ("step", "horizon", "grad_step"):
                np.testing.assert_array_equal(g_history[key], history[key], err_msg=key)
        final_horizons.append(history["horizon"].max(axis=0))
    # the test means something: the cells' horizons differ (padded batches), and L2 = 0.1 changed the weights
    assert len({tuple(h) for h in final_horizons}) > 1, final_horizons
    assert (group[0][0].W_hh - group[2][0].W_hh).abs().max() > 1e-3


def test_group_resume_is_bit_for_bit(tmp_path, step_recorder):
    straight = train_hds_group(GROUP_CELLS, GROUP_SEEDS, CPU, GROUP_GENERATORS)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_hds_group(GROUP_CELLS, GROUP_SEEDS, CPU, GROUP_GENERATORS, checkpoint=Checkpoint(tmp_path),
                        progress=crashing_progress(25), checkpoint_every=10)
    assert Checkpoint(tmp_path).load()["step"] == 20
    with pytest.raises(ValueError, match="different run"):
        train_hds_group(GROUP_CELLS, GROUP_SEEDS, CPU, [5, 6, 8], checkpoint=Checkpoint(tmp_path))
    with pytest.raises(ValueError, match="different run"):
        train_hds(GROUP_CELLS[0], GROUP_SEEDS, CPU, 5, checkpoint=Checkpoint(tmp_path))
    ran = step_recorder()
    resumed = train_hds_group(GROUP_CELLS, GROUP_SEEDS, CPU, GROUP_GENERATORS, checkpoint=Checkpoint(tmp_path),
                              checkpoint_every=10, progress=ran)
    assert ran.steps == list(range(21, 41))  # only the steps after the checkpoint
    for (model, history), (r_model, r_history) in zip(straight, resumed):
        for (name, a), b in zip(model.state_dict().items(), r_model.state_dict().values()):
            assert torch.equal(a, b), name
        assert set(history) == set(r_history)
        for key in history:
            np.testing.assert_array_equal(history[key], r_history[key], err_msg=key)
    assert Checkpoint(tmp_path).load()["step"] == 40


def test_group_rejects_mismatched_cells():
    for change in ({"hidden": 8}, {"steps": 41}, {"lr": 2e-2}, {"curriculum": "paper"}, {"dtype": "float32"},
                   {"init": "gaussian"}, {"grad_every": 10}, {"test_horizon": 20}, {"s": 3, "d": 3}):
        cells = [GROUP_BASE, dataclasses.replace(GROUP_BASE, **change)]
        with pytest.raises(ValueError, match=f"differs from cell 0 in .*{next(iter(change))}"):
            train_hds_group(cells, [0], CPU, [0, 1])
    with pytest.raises(ValueError, match="one generator seed per cell"):
        train_hds_group(GROUP_CELLS, [0], CPU, [0, 1])
    with pytest.raises(ValueError, match="at least one cell"):
        train_hds_group([], [0], CPU, [])


def test_gradient_decay_rate_is_positive_for_norms_that_vanish_with_distance():
    """Fig. 5 plots decades per step with vanishing gradients positive: norms 10^-(s+1-i) must give a rate of +1."""
    from wavelib.plotting.spectrum import gradient_decay_rates
    s = 5
    distance = s + 1 - np.arange(1, s + 1)
    rates = gradient_decay_rates(10.0 ** -distance[None, None, :].astype(float))
    np.testing.assert_allclose(rates, [[1.0]], rtol=1e-12)
