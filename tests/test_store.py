"""The results store: atomic artifacts, load instead of retrain, checkpoint and resume, metadata."""

import calendar
import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from wavelib.chapters import ChapterSession, MissingArtifactsError, get_chapter
from wavelib.presets import Config, ConfigError
from wavelib.registry import Chapter, Experiment
from wavelib.store import (RUN_FILE, Checkpoint, Result, TimeBudgetReached, artifact_dir, config_hash,
                           find_leftovers, remove_leftovers, run_experiment, stored_artifacts, stored_partials)


@dataclasses.dataclass(frozen=True)
class CountConfig(Config):
    units: int = 6


class Interrupt(Exception):
    pass


CALLS = {"n": 0, "fail_at": None, "units": []}  #: calls, where the next one fails, every unit computed


def count_units(config, ctx):
    """A resumable toy experiment: one random draw per unit, checkpointed after each."""
    CALLS["n"] += 1
    state = ctx.checkpoint.load() or {"next": 0, "values": []}
    for unit in range(state["next"], config.units):
        if CALLS["fail_at"] == unit:
            CALLS["fail_at"] = None
            raise Interrupt(unit)
        CALLS["units"].append(unit)
        state["values"].append(float(np.random.default_rng([ctx.seed, unit]).normal()))
        state["next"] = unit + 1
        ctx.checkpoint.save(state)
    values = np.array(state["values"])
    return Result(metrics={"sum": float(values.sum()), "units": config.units, "call": CALLS["n"]},
                  history={"values": values},
                  weights={"w": torch.tensor(values)})


EXPERIMENT = Experiment("count", count_units, "toy", gpu_presets=("paper",))
CHAPTER = Chapter(number=0, name="toy", title="Toy", notebook="none.ipynb", reproduces="nothing",
                  presets={p: CountConfig() for p in ("smoke", "cpu", "paper")}, experiments=(EXPERIMENT,))


@pytest.fixture(autouse=True)
def reset_calls():
    CALLS.update(n=0, fail_at=None, units=[])


def run(tmp_path, **kwargs):
    kwargs.setdefault("preset", "smoke")
    return run_experiment(CHAPTER, EXPERIMENT, CountConfig(), seed=kwargs.pop("seed", 3),
                          device=torch.device("cpu"), root=tmp_path, **kwargs)


def test_hash_is_stable_and_sensitive_to_config_and_seed():
    base = config_hash("count", {"units": 6}, 3)
    assert base == config_hash("count", {"units": 6}, 3)
    assert len({base, config_hash("count", {"units": 7}, 3), config_hash("count", {"units": 6}, 4),
                config_hash("other", {"units": 6}, 3)}) == 4


def test_a_run_on_the_cpu_keeps_the_memory_it_frees(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("wavelib.store.keep_freed_memory", lambda: calls.append(1))
    run(tmp_path)
    assert calls == [1]
    run(tmp_path)  # loaded, not trained: nothing to set
    assert calls == [1]


def test_artifact_layout_metadata_and_round_trip(tmp_path):
    artifact = run(tmp_path)
    assert artifact.path == artifact_dir("toy", "smoke", "count", {"units": 6}, 3, tmp_path)
    assert artifact.path.parent == tmp_path / "smoke" / "toy"
    assert sorted(p.name for p in artifact.path.iterdir()) == ["history.npz", "meta.json", "metrics.json",
                                                               "weights.pt"]
    meta = artifact.meta
    assert meta["config"] == {"units": 6} and meta["seed"] == 3 and meta["device"] == "cpu"
    assert {"python", "torch", "numpy", "wavelib", "triton"} <= set(meta["versions"])
    assert meta["fused_kernels"] == "auto"  # "off" under WAVELIB_FUSED=0
    assert meta["cuda_graph"] is False  # True where `train --cuda-graph` captured the training steps
    assert meta["wall_time_s"] >= 0 and meta["git_commit"] and meta["resumed"] is False
    assert meta["git_commits"] == [meta["git_commit"]]
    values = artifact.history()["values"]
    assert values.shape == (6,) and artifact.metrics["sum"] == pytest.approx(values.sum())
    assert torch.equal(artifact.weights()["w"], torch.tensor(values))
    assert not artifact.path.with_name(artifact.path.name + ".partial").exists()


def test_an_artifact_says_how_it_was_made(tmp_path):
    artifact = run(tmp_path)
    meta = artifact.meta
    assert meta["cpu_threads"] == torch.get_num_threads() and meta["platform"]
    assert artifact.provenance() == (f"trained on cpu ({meta['cpu_threads']} threads) in {meta['wall_time_s']:.0f} s "
                                     "by the code of commit "
                                     f"`{meta['git_commit']}` ({meta['finished_utc'][:10]})")
    assert meta["devices"] == ["cpu"] and meta["settings"] == [""]  # on the CPU no setting changes the numbers
    gpu = {**{k: v for k, v in meta.items() if k != "settings"},  # a record from before settings were kept
           "device": "cuda:0 (NVIDIA H200)", "wall_time_s": 750.0, "git_commits": ["aaa", "bbb"],
           "fused_kernels": "off", "cuda_graph": True, "devices": ["cuda:0 (NVIDIA H200)"]}
    (artifact.path / "meta.json").write_text(json.dumps(gpu))
    assert artifact.provenance() == (f"trained on cuda:0 (NVIDIA H200) in 12.5 min by the code of commits `aaa`, "
                                     f"`bbb` ({meta['finished_utc'][:10]}; fused kernels off; training steps in "
                                     "CUDA graphs)")
    (artifact.path / "meta.json").write_text(json.dumps({**gpu, "settings": ["fused kernels auto"]}))
    assert artifact.provenance().endswith(f"({meta['finished_utc'][:10]}; fused kernels auto)")  # what it recorded
    (artifact.path / "meta.json").write_text(json.dumps({**gpu, "devices": ["cuda:0 (NVIDIA H200)", "cuda:0 (H100)"]}))
    assert artifact.provenance().startswith("trained on cuda:0 (NVIDIA H200), then cuda:0 (H100) in 12.5 min")
    (artifact.path / "meta.json").write_text(json.dumps({**gpu, "note": "completed from the logs"}))
    assert artifact.provenance().endswith("CUDA graphs). Record completed from the logs")
    migrated = {**gpu, "config_migrations": [{"added_knobs": {"k1": 1, "k2": 2}, "why": "."},
                                             {"added_knobs": {"k3": 3}}]}
    (artifact.path / "meta.json").write_text(json.dumps(migrated))
    assert artifact.provenance().endswith("CUDA graphs). Knobs added to its config later, at the values it ran with: "
                                          "`k1`, `k2`, `k3`")
    (artifact.path / "metrics.json").write_text(json.dumps({"data": {"available": False, "reason": "offline"}}))
    assert artifact.provenance() == (f"nothing trained: recorded on cuda:0 (NVIDIA H200) ({meta['finished_utc'][:10]})"
                                     " by the code of commit `bbb` that its data was not available")


def test_existing_artifact_is_loaded_not_recomputed(tmp_path):
    first = run(tmp_path)
    stamp = (first.path / "meta.json").read_text()
    second = run(tmp_path)
    assert CALLS["n"] == 1 and second.path == first.path
    assert (second.path / "meta.json").read_text() == stamp


def test_retrain_recomputes_and_replaces_atomically(tmp_path, monkeypatch):
    import wavelib.store as store

    first = run(tmp_path)
    assert first.metrics["call"] == 1
    again = run(tmp_path, retrain=True)
    assert CALLS["n"] == 2 and again.path == first.path
    assert again.metrics["call"] == 2 and run(tmp_path).metrics["call"] == 2  # the new artifact replaced the old
    assert [p.name for p in again.path.parent.iterdir()] == [again.path.name]
    real = store.os.replace

    moves = []

    def failing(src, dst):  # the new artifact's folder (not a checkpoint's file) cannot be moved into place
        moves.append(Path(src).name)
        if Path(src).name.startswith(f"{first.path.name}.tmp-"):
            raise OSError("disk full")
        real(src, dst)

    monkeypatch.setattr(store.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        run(tmp_path, retrain=True)
    monkeypatch.undo()
    assert any(m.startswith(f"{first.path.name}.tmp-") for m in moves)  # it got as far as the publication
    # at once, before any later run could recover it: the old artifact is back in place, whole, and nothing aside
    assert json.loads((first.path / "metrics.json").read_text())["call"] == 2
    assert [p.name for p in first.path.parent.iterdir() if not p.name.endswith(".partial")] == [first.path.name]
    assert run(tmp_path).metrics["call"] == 2 and CALLS["n"] == 3


def test_retrain_discards_a_stale_checkpoint(tmp_path):
    CALLS["fail_at"] = 3
    with pytest.raises(Interrupt):
        run(tmp_path)
    fresh = run(tmp_path, retrain=True)
    assert fresh.meta["resumed"] is False


def test_interrupted_run_leaves_no_artifact_and_resumes_to_the_same_result(tmp_path):
    reference = run(tmp_path / "ref").history()["values"]
    CALLS["fail_at"] = 4
    with pytest.raises(Interrupt):
        run(tmp_path)
    final = artifact_dir("toy", "smoke", "count", {"units": 6}, 3, tmp_path)
    assert not final.exists()
    assert final.with_name(final.name + ".partial").is_dir()
    CALLS["units"] = []
    resumed = run(tmp_path)
    assert CALLS["units"] == [4, 5]  # only what the interrupted attempt had not computed
    np.testing.assert_array_equal(resumed.history()["values"], reference)
    assert resumed.meta["resumed"] is True
    assert not final.with_name(final.name + ".partial").exists()


def test_a_run_that_fails_before_its_first_save_leaves_no_stopped_run(tmp_path):
    """A first attempt that fails before it saves anything (data that would not download) leaves no ``.partial``
    folder, so nothing is listed as stopped; a later attempt that fails so keeps its stopped run."""
    final = artifact_dir("toy", "paper", "count", {"units": 6}, 0, tmp_path)
    partial = final.with_name(final.name + ".partial")
    resume = "python -m wavelib train toy --preset paper --device cpu --seed 0 --experiment count"

    def attempt(fail_at: int) -> None:
        CALLS["fail_at"] = fail_at
        with pytest.raises(Interrupt):
            run_experiment(CHAPTER, EXPERIMENT, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                           root=tmp_path, resume=resume)

    attempt(0)
    assert not partial.exists() and stored_partials(tmp_path) == []
    attempt(2)
    assert json.loads((partial / RUN_FILE).read_text()) == {"resume": resume}
    attempt(2)  # the next attempt fails at once: the run stopped before stays, as it was
    assert sorted(p.name for p in partial.iterdir()) == sorted([RUN_FILE, Checkpoint.LEDGER, "checkpoint.pt"])
    assert [p.path for p in stored_partials(tmp_path)] == [partial]


def test_the_commit_is_the_code_that_ran_attempt_by_attempt(tmp_path, monkeypatch):
    """Read when a run starts (the tree may move on while it trains); a resumed run lists every attempt's."""
    monkeypatch.setenv("WAVELIB_GIT_COMMIT", "aaaaaaaaaaaa")
    CALLS["fail_at"] = 2
    with pytest.raises(Interrupt):
        run(tmp_path)
    monkeypatch.setenv("WAVELIB_GIT_COMMIT", "bbbbbbbbbbbb")
    CALLS["fail_at"] = 4
    with pytest.raises(Interrupt):
        run(tmp_path)

    def commit_moves_on(config, ctx):
        monkeypatch.setenv("WAVELIB_GIT_COMMIT", "dddddddddddd")  # e.g. a commit made while it trains
        return count_units(config, ctx)

    monkeypatch.setenv("WAVELIB_GIT_COMMIT", "cccccccccccc")
    meta = run_experiment(CHAPTER, dataclasses.replace(EXPERIMENT, fn=commit_moves_on), CountConfig(), seed=3,
                          preset="smoke", device=torch.device("cpu"), root=tmp_path).meta
    assert meta["git_commit"] == "cccccccccccc"
    assert meta["git_commits"] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]


def test_a_resumed_run_lists_every_device_it_trained_on(tmp_path, monkeypatch):
    """A run resumed on another device is the same only to rounding: its record names each device, in order."""
    import wavelib.store as store

    for device, fail_at in (("cuda:0 (GPU A)", 2), ("cuda:0 (GPU B)", 4), ("cuda:0 (GPU A)", None)):
        monkeypatch.setattr(store, "device_description", lambda _, name=device: name)
        CALLS["fail_at"] = fail_at
        if fail_at is None:
            meta = run(tmp_path).meta
        else:
            with pytest.raises(Interrupt):
                run(tmp_path)
    assert meta["device"] == "cuda:0 (GPU A)"
    assert meta["devices"] == ["cuda:0 (GPU A)", "cuda:0 (GPU B)"]


def test_time_budget_stops_after_each_save_and_reruns_finish_the_same_result(tmp_path):
    reference = run(tmp_path / "ref").history()["values"]
    final = artifact_dir("toy", "smoke", "count", {"units": 6}, 3, tmp_path)
    for unit in range(6):  # a deadline already passed: every run stops right after its first save
        with pytest.raises(TimeBudgetReached, match="run the same command again"):
            run(tmp_path, deadline=time.monotonic())
        assert not final.exists() and final.with_name(final.name + ".partial").is_dir()
    assert CALLS["n"] == 1 + 6
    resumed = run(tmp_path, deadline=time.monotonic())  # nothing left to save: it finishes
    np.testing.assert_array_equal(resumed.history()["values"], reference)
    assert resumed.meta["resumed"] is True


def in_a_child(config, ctx):
    """A grid-like toy: all its work, one unit per save, in a child checkpoint; the run itself saves only at
    the end (as a grid does when its first run finishes), 20 ms per unit."""
    CALLS["n"] += 1
    child = ctx.checkpoint.child("cell")
    state = child.load() or {"next": 0}
    for unit in range(state["next"], config.units):
        if CALLS["fail_at"] == unit:
            CALLS["fail_at"] = None
            raise Interrupt(unit)
        time.sleep(0.02)
        child.save({"next": unit + 1})
    ctx.checkpoint.save({"done": True}, finished=[child])
    return Result(metrics={"units": config.units})


def test_a_run_interrupted_inside_a_child_reports_every_attempt(tmp_path, monkeypatch):
    """Time, commits and "resumed" reach the run's record from the ledger its children's saves keep: an attempt
    stopped in a child before the run ever saved is not lost (wall time up to that attempt's last save)."""
    experiment = dataclasses.replace(EXPERIMENT, fn=in_a_child)
    monkeypatch.setenv("WAVELIB_GIT_COMMIT", "aaaaaaaaaaaa")
    CALLS["fail_at"] = 4
    start = time.perf_counter()
    with pytest.raises(Interrupt):
        run_experiment(CHAPTER, experiment, CountConfig(), seed=3, preset="smoke", device=torch.device("cpu"),
                       root=tmp_path)
    first = time.perf_counter() - start
    monkeypatch.setenv("WAVELIB_GIT_COMMIT", "bbbbbbbbbbbb")
    meta = run_experiment(CHAPTER, experiment, CountConfig(), seed=3, preset="smoke", device=torch.device("cpu"),
                          root=tmp_path).meta
    assert meta["resumed"] is True and meta["git_commits"] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert meta["wall_time_s"] >= 6 * 0.02 and meta["wall_time_s"] >= 0.8 * first  # 4 units then, 2 now
    assert not any(tmp_path.rglob("attempts.json*"))  # the ledger goes with the finished run's checkpoints


def two_parts(config, ctx):
    """A toy of two parts in children ("a": 5 units, "b": ``units``, 20 ms each), each finished by a save of the
    run; ``fail_at`` interrupts part b at that unit."""
    CALLS["n"] += 1
    done = ctx.checkpoint.load() or []
    for name, units in (("a", 5), ("b", config.units)):
        if name in done:
            continue
        child = ctx.checkpoint.child(name)
        for unit in range(child.load() or 0, units):
            if name == "b" and CALLS["fail_at"] == unit:
                CALLS["fail_at"] = None
                raise Interrupt(unit)
            time.sleep(0.02)
            child.save(unit + 1)
        done.append(name)
        ctx.checkpoint.save(done, finished=[child])
    return Result(metrics={"parts": done})


def test_each_part_of_a_run_is_timed_over_its_attempts(tmp_path):
    """meta.json's ``part_wall_time_s``: each child's own time, the attempts of one stopped part added up (to its
    last save), a part finished in an earlier attempt counted once."""
    experiment = dataclasses.replace(EXPERIMENT, fn=two_parts)
    CALLS["fail_at"] = 4
    with pytest.raises(Interrupt):  # part a finished, part b saved 4 units
        run_experiment(CHAPTER, experiment, CountConfig(units=10), seed=3, preset="smoke",
                       device=torch.device("cpu"), root=tmp_path)
    ledger = json.loads(next(tmp_path.rglob("attempts.json")).read_text())
    assert list(ledger["parts"]) == ["a"] and list(ledger["parts_in_progress"]) == ["b"]
    assert 4 * 0.02 <= ledger["parts_in_progress"]["b"] < 5 * 0.02 + 0.5
    time.sleep(0.3)  # between the attempts: no part's time
    meta = run_experiment(CHAPTER, experiment, CountConfig(units=10), seed=3, preset="smoke",
                          device=torch.device("cpu"), root=tmp_path).meta
    parts = meta["part_wall_time_s"]
    assert sorted(parts) == ["a", "b"]
    assert parts["a"] == round(ledger["parts"]["a"], 3) and 5 * 0.02 <= parts["a"] < 5 * 0.02 + 0.5
    assert 10 * 0.02 <= parts["b"] < 10 * 0.02 + 0.5  # 4 units then, 6 now; not the 0.3 s between
    assert meta["wall_time_s"] >= parts["a"] + parts["b"]


def test_an_unreadable_ledger_is_refused_with_the_fix(tmp_path):
    CALLS["fail_at"] = 2
    with pytest.raises(Interrupt):
        run(tmp_path)
    (ledger,) = tmp_path.rglob("attempts.json")
    ledger.write_text("{")
    with pytest.raises(ConfigError, match="delete it"):
        run(tmp_path)


def test_a_kill_inside_publishing_is_recovered_from(tmp_path, monkeypatch):
    """Killed between moving the old artifact aside and renaming the new one in (a retrain): the old one comes back
    on the next run; a checkpoint left by a kill after the rename is removed."""
    first = run(tmp_path)
    final = first.path
    old = final.with_name(final.name + ".old-dead")
    final.rename(old)  # the state such a kill leaves (the new one still under .tmp-)
    assert run(tmp_path).path == final and final.is_dir() and not old.exists() and CALLS["n"] == 1
    partial = final.with_name(final.name + ".partial")
    partial.mkdir()
    (partial / "checkpoint.pt").write_bytes(b"stale")
    past = (final / "meta.json").stat().st_mtime - 10
    os.utime(partial, (past, past))
    run(tmp_path)
    assert not partial.exists() and CALLS["n"] == 1


def test_recovery_goes_by_the_recorded_times_not_the_files(tmp_path):
    """A checkout gives every file a new time: a checkpoint whose ledger was saved after its artifact finished (a
    stopped --retrain, committed) stays however old its files look; one saved before goes however new they look."""
    final = run(tmp_path).path
    finished = calendar.timegm(time.strptime(json.loads((final / "meta.json").read_text())["finished_utc"],
                                             "%Y-%m-%dT%H:%M:%SZ"))
    partial = final.with_name(final.name + ".partial")
    for saved, kept in ((finished + 5, True), (finished - 5, False)):
        partial.mkdir(exist_ok=True)
        (partial / "attempts.json").write_text(json.dumps({"elapsed_s": 1.0, "commits": [], "saved_unix_s": saved}))
        files = (final / "meta.json").stat().st_mtime + (-100 if kept else 100)
        os.utime(partial, (files, files))
        assert run(tmp_path).path == final and CALLS["n"] == 1
        assert partial.exists() == kept


def test_an_experiment_records_the_implementations_its_runs_take(tmp_path):
    """``Experiment.kernels``: which of the interchangeable implementations ran (they agree to rounding only), in
    the attempt's settings and so on the provenance line, even on the CPU."""
    seen = []

    def kernels(config, device):
        seen.append((config.units, device.type))
        return f"toy recurrence on {device.type}"

    experiment = dataclasses.replace(EXPERIMENT, kernels=kernels)
    artifact = run_experiment(CHAPTER, experiment, CountConfig(), seed=3, preset="smoke", device=torch.device("cpu"),
                              root=tmp_path)
    assert seen == [(CountConfig().units, "cpu")]
    assert artifact.meta["settings"] == ["toy recurrence on cpu"]
    assert artifact.provenance().endswith(f"({artifact.meta['finished_utc'][:10]}; toy recurrence on cpu)")


def test_a_run_resumed_with_other_execution_settings_says_so(tmp_path, monkeypatch):
    """CUDA graphs or fused kernels on in one attempt and off in another: the same only to rounding, so the
    artifact records the settings of each attempt and its provenance names them."""
    CALLS["fail_at"] = 2
    monkeypatch.setattr("wavelib.store.execution_setting", lambda *args: "fused kernels auto")
    with pytest.raises(Interrupt):
        run(tmp_path)
    monkeypatch.setattr("wavelib.store.execution_setting",
                        lambda *args: "fused kernels auto; training steps in CUDA graphs")
    artifact = run(tmp_path)
    assert artifact.meta["settings"] == ["fused kernels auto", "fused kernels auto; training steps in CUDA graphs"]
    assert artifact.provenance().endswith("; settings by attempt: fused kernels auto, then fused kernels auto; "
                                          "training steps in CUDA graphs)")


def test_recovery_takes_the_latest_finished_of_several_old_folders(tmp_path):
    """Two kills: an earlier retrain's deletion of its ``.old-`` (an older version, half deleted, its folder
    modified last), then a later retrain's between the renames: the version that finished last comes back."""
    final = run(tmp_path).path
    finished = json.loads((final / "meta.json").read_text())["finished_utc"]
    stale = final.with_name(final.name + ".old-stale")
    shutil.copytree(final, stale)
    meta = json.loads((stale / "meta.json").read_text())
    (stale / "meta.json").write_text(json.dumps({**meta, "finished_utc": "2000-01-01T00:00:00Z"}))
    (stale / "history.npz").unlink()  # half deleted
    future = time.time() + 60
    os.utime(stale, (future, future))
    final.rename(final.with_name(final.name + ".old-intact"))
    restored = run(tmp_path)
    assert CALLS["n"] == 1 and restored.path == final and (final / "history.npz").exists()
    assert json.loads((final / "meta.json").read_text())["finished_utc"] == finished and stale.exists()


def test_saving_with_finished_children_deletes_only_their_checkpoints(tmp_path):
    parent = Checkpoint(tmp_path / "run.partial")
    done, running = parent.child("a"), parent.child("b")
    done.save({"weights": 1})
    running.save({"weights": 2})
    parent.save({"results": ["a"]}, finished=[done])
    assert not done.path.parent.exists() and running.load() == {"weights": 2}
    assert parent.load() == {"results": ["a"]}
    with pytest.raises(ValueError, match="is not a child"):
        parent.save({}, finished=[Checkpoint(tmp_path / "elsewhere")])


def test_a_deadline_not_reached_changes_nothing(tmp_path):
    values = run(tmp_path, deadline=time.monotonic() + 3600).history()["values"]
    np.testing.assert_array_equal(values, run(tmp_path / "ref").history()["values"])
    assert CALLS["n"] == 2


def test_same_seed_same_result_and_seed_changes_it(tmp_path):
    a = run(tmp_path / "a").history()["values"]
    b = run(tmp_path / "b").history()["values"]
    c = run(tmp_path / "c", seed=4).history()["values"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stored_artifacts_lists_finished_runs_only(tmp_path):
    run(tmp_path)
    CALLS["fail_at"] = 2
    with pytest.raises(Interrupt):
        run(tmp_path, seed=9)
    listed = stored_artifacts(tmp_path)
    assert len(listed) == 1 and json.loads((listed[0].path / "meta.json").read_text())["seed"] == 3
    half_published = listed[0].path.with_name(f"{listed[0].path.name}.tmp-0123abcd")
    half_published.mkdir()
    (half_published / "meta.json").write_text("{}")
    assert [a.path for a in stored_artifacts(tmp_path)] == [listed[0].path]


def test_missing_gpu_artifacts_are_reported_before_any_work(tmp_path):
    session = ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {})
    with pytest.raises(MissingArtifactsError) as info:
        session.check_artifacts()
    message = str(info.value)
    assert "python -m wavelib train toy --preset paper --device cuda --seed 0" in message
    assert str(session.artifact_path("count")) in message
    assert CALLS["n"] == 0
    ChapterSession(CHAPTER, "cpu", "cpu", 0, tmp_path, {}).check_artifacts()  # cpu preset trains locally
    run_experiment(CHAPTER, EXPERIMENT, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                   root=tmp_path)
    session.check_artifacts()  # present now: nothing missing


def test_a_paper_page_renders_what_is_stored_and_notes_what_is_not(tmp_path, monkeypatch):
    second = Experiment("count_again", count_units, "toy twice", gpu_presets=("paper",))
    light = Experiment("light", count_units, "toy, light", gpu_presets=())
    chapter = dataclasses.replace(CHAPTER, experiments=(EXPERIMENT, second, light))
    session = ChapterSession(chapter, "paper", "cpu", 0, tmp_path, {})
    with pytest.raises(MissingArtifactsError):
        session.check_artifacts()  # nothing heavy stored: nothing to show
    run_experiment(chapter, EXPERIMENT, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                   root=tmp_path)
    session.check_artifacts()  # one of the two stored: the page renders
    notes = []
    monkeypatch.setattr("wavelib.chapters.display_markdown", notes.append)
    count = session.available("count")
    assert count.metrics["units"] == 6
    assert notes == [f"*`count`: {count.provenance()}.*"]  # how the shown artifact was made, not the page's machine
    notes.clear()
    CALLS["n"] = 0
    assert session.available("count_again") is None and CALLS["n"] == 0  # never trained on this CPU
    assert notes == ["**Not computed yet at the `paper` preset:** `count_again` (toy twice), so this part of the "
                     "page is left out. Make it on a GPU with `python -m wavelib train toy --preset paper "
                     "--device cuda --seed 0 --experiment count_again`."]
    CALLS["fail_at"] = 2  # a GPU run of it stopped after 2 units, its folder committed: the page says how far it got
    with pytest.raises(Interrupt):
        run_experiment(chapter, second, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                       root=tmp_path, resume="python -m wavelib train toy --preset paper --device cuda --seed 0 "
                                            "--experiment count_again --cuda-graph")
    notes.clear()
    assert session.available("count_again") is None and CALLS["n"] == 1
    (note,) = notes
    assert re.fullmatch(r"\*\*Not computed yet at the `paper` preset:\*\* `count_again` \(toy twice\), so this part of "
                        r"the page is left out\. A run of it stopped before it finished is in the results store after "
                        r"[0-9.]+ min on cpu: no part finished\. Its numbers are not shown until every part has "
                        r"finished; `python -m wavelib train toy --preset paper --device cuda --seed 0 --experiment "
                        r"count_again --cuda-graph` resumes it\.", note), note
    assert session.paper_scale_status().endswith("Runs of `count_again` stopped part-way: their notes say how far "
                                                 "they got.")
    shutil.rmtree(session.artifact_path("count_again").with_name(session.artifact_path("count_again").name
                                                                 + ".partial"))
    CALLS["n"] = 0
    assert session.available("light").metrics["units"] == 6 and CALLS["n"] == 1  # light: computed here
    cpu_page = ChapterSession(chapter, "cpu", "cpu", 0, tmp_path, {}).paper_scale_status()
    assert "not computed yet** (count_again): the numbers below come from the reduced `cpu` preset" in cpu_page
    assert cpu_page.endswith("Stored at paper scale already: count, light (`python -m wavelib book --preset paper` "
                             "renders those parts).")
    status = session.paper_scale_status()
    assert status.startswith("**Paper-scale results not computed yet** for `count_again`:")
    assert "--experiment count_again`" in status and "`count`" not in status
    run_experiment(chapter, second, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                   root=tmp_path)
    assert session.paper_scale_status() == "" and session.available("count_again") is not None


def test_a_stopped_grid_run_on_the_page_names_its_finished_parts_and_those_in_progress(tmp_path):
    session = ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {})
    path = session.artifact_path("count")
    stopped = Checkpoint(path.with_name(path.name + ".partial"), device="cuda:0 (H100)")
    stopped.child("L300_rope_seed0").save({"step": 5})
    stopped.save({"done": ["L300|mamba|seed0", "L300|mamba|seed1", "L300|mamba|seed2", "L300|alibi|seed0"]})
    text = session.how_to_make("count")
    assert (" on cuda:0 (H100): 4 part(s) finished (L300|mamba|seed0, L300|mamba|seed1, L300|mamba|seed2 and 1 "
            "more), L300_rope_seed0 in progress. ") in text
    assert text.endswith("`python -m wavelib train toy --preset paper --device cuda --seed 0 --experiment count` "
                         "resumes it.")  # no command recorded: the one that makes it


def test_a_gpu_experiment_stopped_on_the_cpu_names_its_command_and_the_gpu_one(tmp_path):
    """A paper run started on the CPU (`--allow-cpu`) resumes with the command it started with; the page also
    gives the GPU command, which trains the parts not finished. Started on a GPU, only its own command."""
    session = ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {})
    path = session.artifact_path("count").with_name(session.artifact_path("count").name + ".partial")
    cpu = "python -m wavelib train toy --preset paper --device cpu --seed 0 --experiment count --allow-cpu"
    Checkpoint(path, device="cpu").save({"done": ["a"]})
    (path / RUN_FILE).write_text(json.dumps({"resume": cpu}))
    assert session.how_to_make("count").endswith(
        f"`{cpu}` resumes it; on a GPU, `python -m wavelib train toy --preset paper --device cuda --seed 0 "
        "--experiment count` trains the parts not finished, with no checkpoint of a part in progress left in the "
        "store (git keeps none: a part resumes only on the device it started on).")
    Checkpoint(path, device="cuda:0 (H100)").save({"done": ["a", "b"]})  # a later attempt on a GPU
    assert session.how_to_make("count").endswith(f"`{cpu}` resumes it.")


def test_commands_for_missing_runs_capture_cuda_graphs_where_the_stored_ones_did(tmp_path):
    """A page's command for what is missing keeps the protocol of what is stored: with --cuda-graph where the
    chapter's stored artifacts were trained so, and only where every run it names can be."""
    first, graphed = (dataclasses.replace(EXPERIMENT, name=name, cuda_graph=True) for name in ("count", "again"))
    plain = dataclasses.replace(EXPERIMENT, name="plain")
    chapter = dataclasses.replace(CHAPTER, experiments=(first, graphed, plain))
    session = ChapterSession(chapter, "paper", "cpu", 0, tmp_path, {})
    assert "--cuda-graph" not in session.make_command(["again"])  # nothing stored
    stored = run_experiment(chapter, first, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                            root=tmp_path)
    assert "--cuda-graph" not in session.make_command(["again"])  # stored without graphs
    meta = json.loads((stored.path / "meta.json").read_text())
    (stored.path / "meta.json").write_text(json.dumps({**meta, "cuda_graph": True}))  # as a GPU run records it
    assert session.make_command(["again"]).endswith(" --experiment again --cuda-graph")
    assert session.paper_scale_status().endswith(" --experiment again --experiment plain`.")  # plain cannot
    cpu_page = ChapterSession(chapter, "cpu", "cpu", 0, tmp_path, {})
    assert "--cuda-graph" not in cpu_page.paper_scale_status()
    run_experiment(chapter, plain, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"), root=tmp_path)
    assert session.paper_scale_status().endswith(" --experiment again --cuda-graph`.")
    assert "--experiment again --cuda-graph`" in cpu_page.paper_scale_status()


def test_the_command_for_light_missing_runs_names_the_cpu(tmp_path):
    """An experiment that is not meant for a GPU at the paper preset (``gpu_presets=()``) is made on the CPU: a
    page must not send its reader to a GPU for it."""
    light = Experiment("light", count_units, "toy, light", gpu_presets=())
    chapter = dataclasses.replace(CHAPTER, experiments=(light,))
    status = ChapterSession(chapter, "cpu", "cpu", 0, tmp_path, {}).paper_scale_status()
    assert status.endswith("Make them with `python -m wavelib train toy --preset paper --device cpu --seed 0 "
                           "--experiment light`.")
    both = dataclasses.replace(CHAPTER, experiments=(EXPERIMENT, light))
    assert "--device cuda" in ChapterSession(both, "cpu", "cpu", 0, tmp_path, {}).paper_scale_status()


def test_the_train_command_carries_the_knob_overrides(tmp_path):
    from wavelib.cli import build_parser

    command = ChapterSession(CHAPTER, "paper", "cpu", 4, tmp_path, {"units": 3}).train_command()
    assert command == "python -m wavelib train toy --preset paper --device cuda --seed 4 --set units=3"
    spectrum = ChapterSession(get_chapter("spectrum"), "paper", "cpu", 0, tmp_path,
                              {"tasks": ("repeat_copy",), "curriculum": "code"})
    args = build_parser().parse_args(shlex.split(spectrum.train_command())[3:])
    assert dict(args.set) == {"tasks": ("repeat_copy",), "curriculum": "code"}


def test_banner_says_visibly_whether_paper_scale_results_exist(tmp_path):
    session = ChapterSession(CHAPTER, "cpu", "cpu", 0, tmp_path, {})
    assert "Paper-scale results not computed yet** (count)" in session.paper_scale_status()
    assert "python -m wavelib train toy --preset paper --device cuda --seed 0" in session.paper_scale_status()
    run_experiment(CHAPTER, EXPERIMENT, CountConfig(), preset="paper", seed=0, device=torch.device("cpu"),
                   root=tmp_path)
    assert session.paper_scale_status().startswith("Paper-scale results are in the results store")
    assert ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {}).paper_scale_status() == ""
    assert "Knobs changed" not in ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {}).banner().data
    changed = ChapterSession(CHAPTER, "paper", "cpu", 0, tmp_path, {"units": 2}).banner().data
    assert "**Knobs changed from the `paper` preset:** `units=2`: not the preset's protocol." in changed


def test_an_unwritable_results_store_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="the results store cannot be written at .*point \\$WAVELIB_RESULTS"):
        run(blocker)
    assert CALLS["n"] == 0  # the experiment never started


def test_an_unreadable_checkpoint_says_to_delete_it(tmp_path):
    CALLS["fail_at"] = 2
    with pytest.raises(Interrupt):
        run(tmp_path)
    [checkpoint] = tmp_path.rglob("checkpoint.pt")
    checkpoint.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot be read .*delete it to start that part of the run again"):
        run(tmp_path)


def backdate(path, seconds):
    """Set the modification time of ``path`` and of everything under it ``seconds`` in the past."""
    past = time.time() - seconds
    for entry in [path, *path.rglob("*")]:
        os.utime(entry, (past, past))


def tree(root):
    """Every path under ``root``, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def killed(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.fixture
def interrupted_store(tmp_path, monkeypatch):
    """A store holding a finished artifact, interrupted runs' checkpoints, and the leftovers the store's own writes
    leave when killed; returns its ``root``, the ``leftovers`` (paths relative to it), the ``artifact`` and the
    ``partial`` folder of a run to resume."""
    import wavelib.store as store

    artifact = run(tmp_path).path
    CALLS["fail_at"] = 2
    with pytest.raises(Interrupt):
        run(tmp_path, seed=9)  # its checkpoint and ledger, to resume from
    interrupted = artifact_dir("toy", "smoke", "count", {"units": 6}, 9, tmp_path)
    partial = interrupted.with_name(interrupted.name + ".partial")
    real_replace, real_rmtree = store.os.replace, store.shutil.rmtree
    with monkeypatch.context() as patch:
        patch.setattr(store.np, "savez_compressed", killed)  # seed 4: killed while publishing, before meta.json
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path, seed=4)
    with monkeypatch.context() as patch:
        patch.setattr(store.shutil, "rmtree",
                      lambda path, **kw: killed() if ".old-" in str(path) else real_rmtree(path, **kw))
        with pytest.raises(KeyboardInterrupt):  # the new artifact in place, killed removing the old one
            run(tmp_path, retrain=True)
    with monkeypatch.context() as patch:
        patch.setattr(store.os, "replace", killed)  # killed saving a child checkpoint
        with pytest.raises(KeyboardInterrupt):
            Checkpoint(partial).child("cell").save({"next": 1})
    with monkeypatch.context() as patch:
        patch.setattr(store.os, "replace",
                      lambda src, dst: killed() if "attempts" in str(src) else real_replace(src, dst))
        with pytest.raises(KeyboardInterrupt):  # killed writing the run's ledger
            Checkpoint(partial).child("other").save({"next": 1})
    real_unlink = store.Path.unlink
    with monkeypatch.context() as patch:
        patch.setattr(store.Path, "unlink", lambda path, *args, **kwargs: killed() if path.name.startswith(
            ".write-test-") else real_unlink(path, *args, **kwargs))
        with pytest.raises(KeyboardInterrupt):  # killed checking that the store can be written
            run(tmp_path, seed=5)
    leftovers = [p for p in tree(tmp_path) if re.search(r"\.(tmp|old|write-test)-[0-9a-f]{32}$", p)]
    kinds = sorted(re.sub(r".*/|-[0-9a-f]{32}|-[0-9a-f]{10}", "", p) for p in leftovers)
    assert kinds == [".write-test", "attempts.json.tmp", "checkpoint.tmp", "count.old", "count.tmp"], leftovers
    return {"root": tmp_path, "leftovers": leftovers, "artifact": artifact, "partial": partial}


def test_leftovers_are_found_and_removed_and_nothing_else(interrupted_store):
    """Old leftovers go; the finished artifact and the checkpoints of interrupted runs stay (however old), and the
    interrupted run still resumes."""
    root, leftovers = interrupted_store["root"], interrupted_store["leftovers"]
    backdate(root, 3600)
    before, meta = tree(root), (interrupted_store["artifact"] / "meta.json").read_text()
    found = find_leftovers(root)
    assert [str(x.path.relative_to(root)) for x in found] == leftovers
    assert all(x.keep is None and x.age_s >= 3600 - 60 for x in found)
    assert sum(x.size_bytes for x in found) > 0
    assert [x.path for x in remove_leftovers(root, dry_run=True)] == [x.path for x in found]
    assert tree(root) == before  # a dry run removes nothing
    assert [x.path for x in remove_leftovers(root)] == [x.path for x in found]
    assert tree(root) == [p for p in before if not any(p == x or p.startswith(x + "/") for x in leftovers)]
    assert find_leftovers(root) == []
    assert (interrupted_store["artifact"] / "meta.json").read_text() == meta
    assert {"checkpoint.pt", "attempts.json"} <= {p.name for p in interrupted_store["partial"].iterdir()}
    resumed = run(root, seed=9)
    assert resumed.meta["resumed"] is True and len(resumed.history()["values"]) == 6


def test_young_leftovers_are_kept(interrupted_store):
    """What was modified in the last ``min_age_s`` may be written by a running process right now; an ``.old-``
    folder counts its artifact's age too (a publication that has just renamed the artifact in removes it next)."""
    root = interrupted_store["root"]
    before = tree(root)
    assert remove_leftovers(root) == [] and tree(root) == before
    assert all(x.age_s < 60 for x in find_leftovers(root))
    backdate(root, 3600)
    os.utime(interrupted_store["artifact"] / "meta.json")  # just published
    removed = remove_leftovers(root, min_age_s=1800)
    assert sorted(str(x.path.relative_to(root)) for x in removed) == [
        p for p in interrupted_store["leftovers"] if ".old-" not in p]
    (old,) = find_leftovers(root)
    assert ".old-" in old.path.name and old.keep is None
    assert [x.path for x in remove_leftovers(root, min_age_s=0)] == [old.path]
    assert find_leftovers(root) == []


def test_an_old_artifact_whose_folder_is_missing_is_kept_with_the_way_back(tmp_path, monkeypatch):
    """Killed between the two renames of a retrain's publication: the ``.old-`` folder is the only copy of the
    artifact (and the ``.tmp-`` one, complete, of the new one); cleaning keeps both and says how to put one back."""
    import wavelib.store as store

    final = run(tmp_path).path
    real_replace = store.os.replace

    def moved_aside_then_killed(src, dst):  # a kill: no except clause runs, the old artifact is not moved back
        if f"{final.name}.tmp-" in str(src) or f"{final.name}.old-" in str(src):
            killed()
        real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(store.os, "replace", moved_aside_then_killed)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path, retrain=True)
    assert not final.exists()
    backdate(tmp_path, 3600)
    found = find_leftovers(tmp_path)
    assert sorted(x.path.name.split(".")[1][:3] for x in found) == ["old", "tmp"]
    assert all(x.keep and f"{final.name} is missing" in x.keep for x in found)
    assert remove_leftovers(tmp_path, min_age_s=0) == [] and all(x.path.exists() for x in found)
    (old,) = [x for x in found if ".old-" in x.path.name]
    subprocess.run(old.keep.split("`")[1], shell=True, check=True)  # the command it says
    assert final.is_dir() and run(tmp_path).metrics["call"] == 1  # the first artifact is back
    assert [x.keep for x in find_leftovers(tmp_path)] == [None]  # the new one's files may go now
    remove_leftovers(tmp_path)
    assert find_leftovers(tmp_path) == [] and stored_artifacts(tmp_path)[0].path == final
