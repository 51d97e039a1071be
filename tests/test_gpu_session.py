"""scripts/gpu_session.py: a budgeted training call packs its results into parts that unpack into a store."""

import gzip
import hashlib
import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import torch

from wavelib.provenance import COMMIT_ENV, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gpu_session.py"
WRNN_TESTS = "fused-kernel tests tests/test_wave_rnn_fused.py tests/test_wave_rnn_wgrad.py"  #: the wRNN's check


@pytest.fixture(scope="module")
def gpu_session():
    spec = importlib.util.spec_from_file_location("gpu_session", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def choices_file(gpu_session, tmp_path, monkeypatch):
    """The checks' choices go to a file of the test's, not of the repository."""
    monkeypatch.setattr(gpu_session, "CHOICES", tmp_path / "choices.json")
    return tmp_path / "choices.json"


def test_pack_cuts_parts_and_unpack_restores_and_replaces(gpu_session, tmp_path, monkeypatch):
    source = tmp_path / "gpu"
    (source / "paper" / "spectrum" / "table1-abc.partial").mkdir(parents=True)
    blob = os.urandom(3000)  # incompressible: several parts
    (source / "paper" / "spectrum" / "table1-abc.partial" / "checkpoint.pt").write_bytes(blob)
    (source / "paper" / "vwave").mkdir(parents=True)  # not asked for: not packed
    out = tmp_path / "out"
    out.mkdir()
    (out / "cuda-latest.md").write_text("table")
    monkeypatch.setattr(gpu_session, "PART_BYTES", 1000)
    parts = gpu_session.pack(["spectrum", "missing"], "paper", out, source)
    assert [p.name for p in parts] == [f"results.tar.gz.part{i:02d}" for i in range(len(parts))]
    assert len(parts) >= 3 and all(p.stat().st_size <= 1000 for p in parts)
    assert json.loads((out / gpu_session.MANIFEST).read_text())["parts"] == len(parts)

    store, bench = tmp_path / "store", tmp_path / "bench"
    stale = store / "paper" / "spectrum" / "table1-old.partial"
    stale.mkdir(parents=True)
    lines = gpu_session.unpack(out, store, bench)
    assert (store / "paper" / "spectrum" / "table1-abc.partial" / "checkpoint.pt").read_bytes() == blob
    assert not stale.exists()  # the chapter's folder is replaced by the GPU's, not merged
    assert not (store / "paper" / "vwave").exists()
    assert (bench / "cuda-latest.md").read_text() == "table"
    assert lines == [f"cuda-latest.md -> {bench / 'cuda-latest.md'}",
                     "paper/spectrum: finished none; partial ['table1-abc.partial'] (commit it: git add results/paper)"]
    smoke = tmp_path / "smoke-gpu"
    (smoke / "smoke" / "vwave" / "copy_curves-abc.partial").mkdir(parents=True)  # git ignores reduced presets
    (smoke / "smoke" / "vwave" / "copy_curves-abc.partial" / "checkpoint.pt").write_bytes(blob)
    (out / "smoke").mkdir()
    gpu_session.pack(["vwave"], "smoke", out / "smoke", smoke)
    assert gpu_session.unpack(out / "smoke", store, bench) == [
        "smoke/vwave: finished none; partial ['copy_curves-abc.partial']"]


def test_another_chips_table_is_unpacked_beside_the_goal_chips_and_said_to_be_no_h100s(gpu_session, tmp_path,
                                                                                        monkeypatch, capsys):
    """An H200's table and profile come back as cuda-h200-* (benchmarks/run.py's names): the H100 table the speed
    goals read stays, and unpack says what the H200's decides and that it is not an H100's."""
    source, out = tmp_path / "gpu", tmp_path / "out"
    (source / "paper" / "vwave" / "copy_curves-abc").mkdir(parents=True)
    out.mkdir()
    gpu_session.pack(["vwave"], "paper", out, source)
    bench = tmp_path / "benchmarks" / "results"
    bench.mkdir(parents=True)
    (bench / "cuda-latest.json").write_text("the H100's")
    rows = [{"name": "wRNN train step", "shapes": "[sMNIST] ...", "reference_ms": 300.0, "fast_ms": 5.0,
             "ratio": 60.0, "ok": True, "device": "cuda:0 (NVIDIA H200)"}]
    (out / "cuda-h200-latest.json").write_text(json.dumps({"device": "cpu, cuda:0 (NVIDIA H200)",
                                                           "git_commit": "0123456789ab", "rows": rows}))
    (out / "cuda-h200-latest.md").write_text("h200 table")
    (out / "cuda-h200-profile.md").write_text("h200 profile")
    monkeypatch.setattr(gpu_session, "REPO", tmp_path)
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "store"))
    assert gpu_session.main(["unpack", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (bench / "cuda-latest.json").read_text() == "the H100's"
    assert (bench / "cuda-h200-latest.md").read_text() == "h200 table"
    assert (bench / "cuda-h200-profile.md").read_text() == "h200 profile"
    assert json.loads((bench / "cuda-h200-latest.json").read_text())["rows"] == rows
    assert "not an H100: its goal verdicts are not final" in printed
    assert "goal: fused wRNN step ≥ 50× the loop, sMNIST: 60.0×, yes" in printed
    assert "on cuda:0 (NVIDIA H200), not an H100" in printed


@pytest.mark.parametrize("damage", ["middle part lost", "last part lost", "part damaged", "no manifest"])
def test_unpack_refuses_an_incomplete_or_damaged_set_and_leaves_the_store_alone(gpu_session, tmp_path, monkeypatch,
                                                                                damage):
    """A part the transfer left out (too large, or lost) or changed must not replace a chapter's stored runs with
    a truncated archive: the manifest's count, size and SHA-256 are checked before anything is removed."""
    source = tmp_path / "gpu"
    (source / "paper" / "spectrum" / "table1-abc.partial").mkdir(parents=True)
    (source / "paper" / "spectrum" / "table1-abc.partial" / "checkpoint.pt").write_bytes(os.urandom(5000))
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(gpu_session, "PART_BYTES", 1000)
    parts = gpu_session.pack(["spectrum"], "paper", out, source)
    if damage == "middle part lost":
        parts[2].unlink()
    elif damage == "last part lost":
        parts[-1].unlink()
    elif damage == "part damaged":
        blob = bytearray(parts[1].read_bytes())
        blob[10] ^= 0xFF
        parts[1].write_bytes(bytes(blob))
    else:
        (out / gpu_session.MANIFEST).unlink()
    store = tmp_path / "store"
    kept = store / "paper" / "spectrum" / "table1-old" / "meta.json"
    kept.parent.mkdir(parents=True)
    kept.write_text("stored")
    with pytest.raises(SystemExit, match="error: "):
        gpu_session.unpack(out, store, tmp_path / "bench")
    assert kept.read_text() == "stored" and not (store / "paper" / "spectrum" / "table1-abc.partial").exists()
    assert not list(store.glob(".*joining"))


def test_the_working_store_takes_what_the_checkout_adds_and_keeps_what_earlier_calls_left(gpu_session, tmp_path):
    """The device tool keeps ignored files between calls and sends the checkout's others: the calls' own store is
    ignored, so a later call resumes a stopped run from the newest state, its runs in progress included."""
    checkout = tmp_path / "results"
    for name, text in (("copy_curves-a/meta.json", "finished"), ("long-b.partial/checkpoint.pt", "committed")):
        (checkout / "paper" / "vwave" / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / "paper" / "vwave" / name).write_text(text)
    store = gpu_session.working_store(checkout)
    assert store == tmp_path / ".gpu-results"
    assert (store / "paper" / "vwave" / "copy_curves-a" / "meta.json").read_text() == "finished"
    partial = store / "paper" / "vwave" / "long-b.partial"
    (partial / "checkpoint.pt").write_text("newer")  # what the first call left
    (partial / "L300_mamba_seed0").mkdir()
    (checkout / "paper" / "vwave" / "ablations-c").mkdir()  # committed since
    assert gpu_session.working_store(checkout) == store
    assert (partial / "checkpoint.pt").read_text() == "newer" and (partial / "L300_mamba_seed0").is_dir()
    assert (store / "paper" / "vwave" / "ablations-c").is_dir()
    assert gpu_session.working_store(store) == store  # a call in a process whose store is already the working one


def test_unpack_says_what_a_returned_table_decides(gpu_session, tmp_path, monkeypatch, capsys):
    """The goals and the kernels' options as the call's benchmark table decides them (wavelib.performance)."""
    source, out = tmp_path / "gpu", tmp_path / "out"
    (source / "paper" / "vwave" / "copy_curves-abc").mkdir(parents=True)
    (source / "paper" / "vwave" / "copy_curves-abc" / "meta.json").write_text("{}")
    out.mkdir()
    gpu_session.pack(["vwave"], "paper", out, source)
    rows = [{"name": "wRNN train step", "shapes": "[copy T=480] ...", "reference_ms": 300.0, "fast_ms": 5.0,
             "ratio": 60.0, "ok": True}]
    (out / "cuda-latest.json").write_text(json.dumps({"device": "cuda:0 (H100)", "git_commit": "0123456789ab",
                                                      "rows": rows}))
    monkeypatch.setattr(gpu_session, "REPO", tmp_path)  # the table is copied to REPO/benchmarks/results
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "store"))
    assert gpu_session.main(["unpack", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "benchmarks" / "results" / "cuda-latest.json").exists()
    assert "paper/vwave: finished ['copy_curves-abc']" in printed
    assert "not an H100" not in printed
    assert "The benchmark table of this call (cuda:0 (H100), commit 0123456789ab):" in printed
    assert "goal: fused wRNN step ≥ 50× the loop, copy T = 480: 60.0×, yes" in printed
    assert 'options: conv weight gradient: one Triton pass ("kernel")' in printed


def test_unpack_refuses_members_outside_the_store(gpu_session, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (out / "results.tar.gz.part00").write_bytes(data.getvalue())
    manifest = {"parts": 1, "bytes": len(data.getvalue()), "sha256": hashlib.sha256(data.getvalue()).hexdigest()}
    (out / gpu_session.MANIFEST).write_text(json.dumps(manifest))  # a whole archive, with a bad member
    with pytest.raises(SystemExit, match="refusing archive member"):
        gpu_session.unpack(out, tmp_path / "store", tmp_path / "bench")
    assert not (tmp_path / "escape.txt").exists()


def test_run_imports_mnist_trains_under_a_budget_and_its_parts_unpack_to_a_finished_artifact(gpu_session, tmp_path):
    out, gpu_store, data = tmp_path / "out", tmp_path / "gpu-store", tmp_path / "data"
    images = [(np.full((n, 784), 3 / 256, dtype=np.float32), np.zeros(n, dtype=np.int64)) for n in (4, 2, 3)]
    mnist = tmp_path / "mnist.pkl.gz"
    mnist.write_bytes(gzip.compress(pickle.dumps(tuple(images))))
    env = {**os.environ, "WAVELIB_RESULTS": str(gpu_store), "WAVELIB_DATA": str(data)}
    result = subprocess.run([sys.executable, str(SCRIPT), "run", "--out", str(out), "--device", "cpu",
                             "--preset", "smoke", "--skip-checks", "--budget-min", "3", "--chapters", "twm_theory",
                             "--mnist", str(mnist), "--commit", "0123456789ab"],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log = (out / "session.log").read_text()
    assert "## MNIST" in log and "## train twm_theory" in log and "packed 1 part(s)" in log
    assert log.count("-> exit 0") == 3  # machine, MNIST, training
    assert list(data.rglob("source.json"))
    assert list((tmp_path / ".gpu-results").glob("smoke/twm_theory/gradient_sweep-*/meta.json"))  # trained there
    assert not gpu_store.exists()  # the checkout's store is only read
    store = tmp_path / "store"
    (line,) = gpu_session.unpack(out, store, tmp_path / "bench")
    assert line.startswith("smoke/twm_theory: finished ['gradient_sweep-") and line.endswith("partial none")
    (meta,) = store.glob("smoke/twm_theory/*/meta.json")
    assert json.loads(meta.read_text())["preset"] == "smoke"
    assert json.loads(meta.read_text())["git_commit"] == "0123456789ab"  # --commit, not the tree's .git


def _row(name, shapes, reference_ms, fast_ms, ok=True):
    """A benchmark row as ``cuda-latest.json`` holds it (only the fields gpu_session reads)."""
    return {"name": name, "shapes": shapes, "reference_ms": reference_ms, "fast_ms": fast_ms, "ok": ok,
            "check": 0.0 if ok else 1.0}


VWAVE_STEP = _row("copy LM train step", "L 620", 20.0, 5.0)  #: Ch. 5's fused-scan row: its rows were measured


def test_a_chapter_trains_on_its_reference_paths_where_its_kernel_failed_or_measured_slower(gpu_session, tmp_path,
                                                                                              monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "store"))
    out = tmp_path / "out"
    calls = []

    def call(title, env):
        calls.append((title, env))
        if title == "benchmarks":  # the fused scan's training step slower than the recurrent one's at one shape
            rows = [_row("copy LM train step", "L 220", 100.0, 9.0),
                    _row("copy LM train step", "L 620", 30.0, 40.0),
                    _row("spectrum.train_step [paper, grouped, recurrence]", "12 cells", 16.0, 4.0)]
            (out / "cuda-latest.json").write_text(json.dumps({"rows": rows}))
        # the candidate kernels' tests fail too: that must turn off nothing
        return 1 if title in (WRNN_TESTS, *candidates) else 0
    candidates = [f"candidate-kernel tests {tests} (failures turn nothing off)"
                  for tests in gpu_session.CANDIDATE_TESTS]
    assert candidates[0] == "candidate-kernel tests tests/test_wave_rnn_columns.py (failures turn nothing off)"
    together = []
    monkeypatch.setattr(gpu_session.Session, "call_many", lambda self, jobs, timeout_s: together.append(
        [title for title, _, _ in jobs]) or [call(title, env) for title, _, env in jobs])
    args = gpu_session.argparse.Namespace(out=out, budget_min=5.0, chapters=["wave_rnn_tasks", "spectrum", "vwave"],
                                          preset="paper", device="cuda", repeats=1, skip_checks=False,
                                          benchmarks="always", mnist=None, parallel=False, commit=None, workers=1,
                                          cuda_graph=False)
    assert gpu_session.run(args) == 0
    assert [title for title, _ in calls] == [
        "machine", "fused-kernel tests tests/test_elman_fused.py", WRNN_TESTS,
        "fused-kernel tests tests/test_selective_scan_fused.py", *candidates,
        f"runs at once {gpu_session.WORKERS_TEST}",
        "CUDA graphs tests/test_graphs.py", "benchmarks", "step profiles", "train wave_rnn_tasks",
        "train spectrum", "train vwave"]
    titles = [title for title, _ in calls]
    assert together[1] == titles[1:titles.index("benchmarks")]  # the tests ran at once, nothing else did
    assert all(len(titles) == 1 for titles in together[:1] + together[2:])
    envs = dict(calls)
    assert envs["train wave_rnn_tasks"] == {"WAVELIB_FUSED": "0"} == envs["train vwave"]
    assert envs["train spectrum"] == {}
    log = (out / "session.log").read_text()
    assert "wave_rnn_tasks trains on its reference paths (WAVELIB_FUSED=0): tests/test_wave_rnn_fused.py " \
           "tests/test_wave_rnn_wgrad.py did not pass" in log
    assert "vwave trains on its reference paths (WAVELIB_FUSED=0): copy LM train step L 620: fused 40.00 ms " \
           "> 30.00 ms" in log
    assert not any("reference paths" in line and "columns" in line for line in log.splitlines())


def fake_session_run(gpu_session, monkeypatch, tmp_path, rows, failing_test):
    """``run(**args)`` for a session whose calls only record their commands: its benchmark table holds ``rows``
    and the check whose title starts with ``failing_test`` (if given) fails. Returns run and the commands."""
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "store"))
    monkeypatch.setenv(COMMIT_ENV, "unset")  # run(commit=...) sets it in os.environ: put back after the test
    monkeypatch.delenv("WAVELIB_OFFLINE")  # run() sets it (the GPU machine reaches no network): put back after
    out = tmp_path / "out"
    commands, failing = {}, {"title": failing_test}

    def call(title, command, env):
        commands[title], commands[f"{title} env"] = command, env
        if title == "benchmarks":
            (out / "cuda-latest.json").write_text(json.dumps({"rows": rows}))
        return 1 if failing["title"] and title.startswith(failing["title"]) else 0
    monkeypatch.setattr(gpu_session.Session, "call_many",
                        lambda self, jobs, timeout_s: [call(*job) for job in jobs])

    def run(failing_test=None, **changes):
        failing["title"] = failing_test
        args = dict(out=out, budget_min=5.0, chapters=["vwave"], preset="paper", device="cuda", repeats=1,
                    skip_checks=False, benchmarks="always", mnist=None, parallel=False, commit=None, workers=1,
                    cuda_graph=False)
        assert gpu_session.run(gpu_session.argparse.Namespace(**{**args, **changes})) == 0
        return (out / "session.log").read_text()
    return run, commands


def test_runs_train_at_once_only_where_the_test_passed_and_the_row_gains_somewhere_and_loses_nowhere(
        gpu_session, tmp_path, monkeypatch):
    name, runs = gpu_session.CONCURRENCY_ROWS["vwave"]
    gains = [_row(name, "L 220", 30.0, 12.0), _row(name, "L 620", 60.0, 40.0)]
    assert gpu_session.concurrency(gains, "vwave") == (runs, f"{name} L 220: 2.50x, L 620: 1.50x")
    assert gpu_session.concurrency([gains[0], _row(name, "L 620", 60.0, 55.0)], "vwave")[0] == runs  # 1.09x
    assert gpu_session.concurrency([gains[0], _row(name, "L 620", 60.0, 65.0)], "vwave")[0] == 1  # slower there
    assert gpu_session.concurrency([_row(name, shape, 33.0, 30.0) for shape in ("L 220", "L 620")], "vwave")[0] == 1
    assert gpu_session.concurrency([], "vwave") == (1, None)
    assert gpu_session.concurrency(gains, "spectrum") == (1, None)

    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, [*gains, VWAVE_STEP], None)
    for failing, expected in ((None, runs), ("runs at once", 1)):
        log = run(failing)
        train = commands["train vwave"]
        assert train[train.index("--workers") + 1] == str(expected)
    assert f"vwave trains 1 run(s) at a time (--workers 1): {gpu_session.WORKERS_TEST} did not pass" in log
    assert os.environ["WAVELIB_OFFLINE"] == "1"  # the commands it starts inherit it: no dataset download is tried


def test_runs_trained_with_graphs_go_at_once_by_the_graphed_row(gpu_session, tmp_path, monkeypatch):
    """With --cuda-graph chosen, the concurrency row of graph replays decides, whatever the eager one says."""
    name, runs = gpu_session.CONCURRENCY_ROWS["vwave"]
    graph_gains = [_row(gpu_session.GRAPH_ROWS["vwave"], shape, 20.0, 10.0) for shape in ("L 220", "L 620")]
    eager_loses = [_row(name, shape, 30.0, 40.0) for shape in ("L 220", "L 620")]
    graphed = name + gpu_session.GRAPHED
    assert graphed == f"copy LM train steps, {runs} runs at once [CUDA graph]"  # the bench row's name
    for graphed_ms, expected in ((12.0, runs), (19.0, 1)):
        rows = [*graph_gains, *eager_loses, *(_row(graphed, shape, 20.0, graphed_ms) for shape in ("L 220", "L 620")),
                VWAVE_STEP]
        assert gpu_session.concurrency(rows, "vwave", graphed=True)[0] == expected
        assert gpu_session.concurrency(rows, "vwave")[0] == 1
        run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, rows, None)
        log = run()
        train = commands["train vwave"]
        assert "--cuda-graph" in train and train[train.index("--workers") + 1] == str(expected)
        assert f"vwave trains {expected} run(s) at a time (--workers {expected}): {graphed} L 220" in log
    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, [*graph_gains, *eager_loses, VWAVE_STEP],
                                     None)
    run(workers=2)  # no graphed row measured: the --workers asked for stays
    assert commands["train vwave"][commands["train vwave"].index("--workers") + 1] == "2"


def test_cuda_graphs_are_used_only_where_their_test_passed_and_the_row_gains_somewhere_and_loses_nowhere(
        gpu_session, tmp_path, monkeypatch):
    name = gpu_session.GRAPH_ROWS["vwave"]
    gains = [_row(name, "L 220", 12.0, 6.0), _row(name, "L 620", 20.0, 15.0)]
    assert gpu_session.graph_choice(gains, "vwave") == (True, f"{name} L 220: 2.00x, L 620: 1.33x")
    assert gpu_session.graph_choice([gains[0], _row(name, "L 620", 20.0, 19.0)], "vwave")[0] is True  # 1.05x
    assert gpu_session.graph_choice([gains[0], _row(name, "L 620", 20.0, 21.0)], "vwave")[0] is False
    small = [_row(name, shape, 11.0, 10.0) for shape in ("L 220", "L 620")]
    assert gpu_session.graph_choice(small, "vwave")[0] is False
    assert gpu_session.graph_choice([], "vwave") == (False, None)
    assert gpu_session.graph_choice(gains, "spectrum") == (False, None)

    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, [*gains, VWAVE_STEP], None)
    for failing, skip, flag, expected in ((None, False, False, True), ("CUDA graphs", False, False, False),
                                          (None, True, True, True), (None, True, False, False)):
        log = run(failing, chapters=["vwave", "spectrum"], skip_checks=skip, cuda_graph=flag)
        assert ("--cuda-graph" in commands["train vwave"]) is expected
        assert "--cuda-graph" not in commands["train spectrum"]  # a chapter that cannot capture never gets it
    assert "vwave trains without --cuda-graph: tests/test_graphs.py did not pass" in log


def test_a_call_without_checks_takes_what_the_checks_of_an_earlier_call_at_its_commit_decided(
        gpu_session, tmp_path, monkeypatch, choices_file):
    name, runs = gpu_session.CONCURRENCY_ROWS["vwave"]
    rows = [*(_row(gpu_session.GRAPH_ROWS["vwave"], shape, 20.0, 10.0) for shape in ("L 220", "L 620")),
            *(_row(name + gpu_session.GRAPHED, shape, 20.0, 10.0) for shape in ("L 220", "L 620")),
            _row(gpu_session.SPEED_ROWS["vwave"], "L 220", 20.0, 5.0),
            _row(gpu_session.SPEED_ROWS["spectrum"], "12 cells", 10.0, 16.0)]  # the fused Elman slower
    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, rows, None)
    chapters = ["vwave", "spectrum"]
    run(chapters=["spectrum"], commit="abc")  # the checks decide for vwave too, though it is not trained here
    saved = json.loads(choices_file.read_text())
    assert saved["commit"] == "abc" and saved["chapters"]["vwave"] == {"reference": None, "workers": runs,
                                                                     "cuda_graph": True}
    assert saved["chapters"]["spectrum"]["reference"].startswith(gpu_session.SPEED_ROWS["spectrum"])

    def trained(**changes):
        commands.clear()
        log = run(chapters=chapters, skip_checks=True, **{"workers": None, "cuda_graph": None, **changes})
        assert "benchmarks" not in commands  # no checks ran
        vwave = commands["train vwave"]
        return vwave[vwave.index("--workers") + 1], "--cuda-graph" in vwave, commands["train spectrum env"], log

    workers, graphs, spectrum_env, log = trained(commit="abc")
    assert (workers, graphs, spectrum_env) == (str(runs), True, {"WAVELIB_FUSED": "0"})
    assert "as the checks of" in log and f"vwave: --workers {runs} --cuda-graph" in log
    assert trained(commit="abc", workers=2, cuda_graph=False)[:2] == ("2", False)  # what you say wins
    workers, graphs, _, log = trained(commit="abc", cuda_graph=False)  # the saved number was measured with graphs
    assert (workers, graphs) == ("1", False) and f"the saved --workers {runs} was chosen with CUDA graphs" in log
    assert "cannot be matched to this code: this call has no --commit" in trained(commit=None)[3]
    workers, graphs, spectrum_env, log = trained(commit="def")
    assert (workers, graphs, spectrum_env) == ("1", False, {})
    assert "were made at commit abc, not def" in log
    choices_file.unlink()
    assert trained(commit="abc")[:3] == ("1", False, {}) and "no earlier checks on this machine" in trained()[3]


def test_slower_fused_compares_a_rows_fast_side_with_its_reference(gpu_session):
    rows = [_row("wRNN train step", "copy", 140.0, 5.0), _row("wRNN train step", "sMNIST", 1285.0, 30.0)]
    assert gpu_session.slower_fused(rows, "wave_rnn_images") is None
    rows[1]["fast_ms"] = 1300.0
    assert gpu_session.slower_fused(rows, "wave_rnn_images").startswith("wRNN train step sMNIST: fused 1300.00 ms")
    assert gpu_session.slower_fused(rows, "twm_theory") is None  # no fused kernel
    assert gpu_session.slower_fused([_row("copy LM train step", "L 220", 100.0, 50.0)], "vwave") is None
    assert gpu_session.slower_fused([_row("scan: sequential vs fused", "L 220", 10.0, 50.0)], "vwave") is None


def test_a_training_job_gets_its_extra_environment(gpu_session, tmp_path):
    session = gpu_session.Session(tmp_path, 60)
    code = session.call("env", [sys.executable, "-c", "import os; print('fused=' + os.environ['WAVELIB_FUSED'])"],
                        30, {"WAVELIB_FUSED": "0"})
    log = (tmp_path / "session.log").read_text()
    assert code == 0 and "## env (30 s at most): WAVELIB_FUSED=0 " in log and "fused=0" in log


def test_parallel_trains_every_chapter_at_once_and_packs_them_all(gpu_session, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "WAVELIB_RESULTS": str(tmp_path / "gpu-store")}
    result = subprocess.run([sys.executable, str(SCRIPT), "run", "--out", str(out), "--device", "cpu", "--preset",
                             "smoke", "--skip-checks", "--budget-min", "3", "--parallel", "--chapters", "twm_theory",
                             "spectrum"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    log = (out / "session.log").read_text()
    assert "### train twm_theory" in log and "### train spectrum" in log and log.count("-> exit 0") == 3
    lines = gpu_session.unpack(out, tmp_path / "store", tmp_path / "bench")
    assert [line.split(":")[0] for line in lines] == ["smoke/spectrum", "smoke/twm_theory"]
    assert all("partial none" in line for line in lines)


def test_a_chapter_whose_rows_are_missing_trains_as_told_and_the_calls_after_it_resume_the_same_way(
        gpu_session, tmp_path, monkeypatch, choices_file):
    """A benchmark that crashed or ran out of time measured nothing: the flags stay, the log says so, and a later
    call without checks takes them (a copy run started with graphs refuses to resume without them)."""
    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, [], None)
    log = run(chapters=["vwave"], commit="abc", cuda_graph=True, workers=None)
    assert "vwave: its benchmark rows are missing" in log
    assert "--cuda-graph" in commands["train vwave"] and commands["train vwave"][-3:-1] == ["--workers", "1"]
    saved = json.loads(choices_file.read_text())["chapters"]
    assert saved["vwave"] == {"reference": None, "workers": 1, "cuda_graph": True}
    assert saved["spectrum"] == {"reference": None, "workers": None, "cuda_graph": None}  # not trained: nothing
    run(chapters=["vwave"], commit="abc", skip_checks=True, cuda_graph=None, workers=None)
    assert "--cuda-graph" in commands["train vwave"]


@pytest.mark.parametrize("benchmarks, chip, benchmarked", [("goal-chip", "H100", True), ("goal-chip", "H200", False),
                                                          ("never", "H100", False), ("always", "H200", True)])
def test_benchmarks_run_as_asked_and_their_time_trains_where_they_do_not(gpu_session, tmp_path, monkeypatch,
                                                                         choices_file, benchmarks, chip, benchmarked):
    """``--benchmarks goal-chip``: only an H100's numbers can meet the speed goals, so elsewhere the call trains
    in their time, with the tests still run and the flags as given where their tests passed."""
    device = f"cuda:0 (NVIDIA {chip} 80GB HBM3)"
    monkeypatch.setattr(gpu_session, "on_goal_chip", lambda name: ("H100" in device, device))
    run, commands = fake_session_run(gpu_session, monkeypatch, tmp_path, [VWAVE_STEP], None)
    log = run(chapters=["vwave"], commit="abc", benchmarks=benchmarks, cuda_graph=True, workers=None)
    assert ("benchmarks" in commands and "step profiles" in commands) == benchmarked
    assert f"CUDA graphs {gpu_session.GRAPH_TEST}" in commands  # the tests run either way
    assert "--cuda-graph" in commands["train vwave"]
    if not benchmarked:
        assert f"vwave: not benchmarked (--benchmarks {benchmarks}, on {device}): --workers 1 --cuda-graph" in log
        assert json.loads(choices_file.read_text())["chapters"]["vwave"] == {"reference": None, "workers": 1,
                                                                            "cuda_graph": True}
        commands.clear()
        log = run(f"CUDA graphs {gpu_session.GRAPH_TEST}", chapters=["vwave"], commit="abc", benchmarks=benchmarks,
                  cuda_graph=True, workers=3)
        assert "--cuda-graph" not in commands["train vwave"]  # its test failed
        assert commands["train vwave"][-2:] == ["--workers", "3"]  # the workers test passed


def test_the_goal_chip_is_read_from_the_device(gpu_session, monkeypatch):
    assert gpu_session.on_goal_chip("cpu") == (False, "cpu")
    if not torch.cuda.is_available():
        assert gpu_session.on_goal_chip("cuda") == (False, "cuda (no CUDA here)")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the speed goals' chip, and another, faked
    for name, goal in (("NVIDIA H100 80GB HBM3", True), ("NVIDIA H200", False)):
        monkeypatch.setattr(gpu_session, "device_description", lambda device, name=name: f"cuda:0 ({name})")
        assert gpu_session.on_goal_chip("cuda") == (goal, f"cuda:0 ({name})")


def test_a_row_whose_check_failed_turns_nothing_on_and_sends_its_chapter_to_the_reference_paths(gpu_session):
    name = gpu_session.GRAPH_ROWS["vwave"]
    failed = [_row(name, "L 220", 20.0, 5.0), _row(name, "L 620", 20.0, 5.0, ok=False)]
    assert gpu_session.graph_choice(failed, "vwave") == (False, f"{name} L 220: 4.00x, L 620: 4.00x (check FAILED)")
    speed = [_row(gpu_session.SPEED_ROWS["vwave"], "L 620", 30.0, 5.0, ok=False)]
    assert "the fused path disagrees with its reference (check 1.0e+00)" in gpu_session.slower_fused(speed, "vwave")


def test_the_workers_check_names_a_test_that_exists(gpu_session):
    """Run on the GPU by node id: a renamed test would make every session train one run at a time."""
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                gpu_session.WORKERS_TEST], capture_output=True, text=True, cwd=REPO_ROOT)
    assert collected.returncode == 0 and "1 test collected" in collected.stdout, collected.stdout
