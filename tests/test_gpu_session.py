"""scripts/gpu_session.py: a budgeted training call packs its results into parts that unpack into a store."""

import gzip
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

from wavelib.provenance import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gpu_session.py"


@pytest.fixture(scope="module")
def gpu_session():
    spec = importlib.util.spec_from_file_location("gpu_session", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

    store, bench = tmp_path / "store", tmp_path / "bench"
    stale = store / "paper" / "spectrum" / "table1-old.partial"
    stale.mkdir(parents=True)
    lines = gpu_session.unpack(out, store, bench)
    assert (store / "paper" / "spectrum" / "table1-abc.partial" / "checkpoint.pt").read_bytes() == blob
    assert not stale.exists()  # the chapter's folder is replaced by the GPU's, not merged
    assert not (store / "paper" / "vwave").exists()
    assert (bench / "cuda-latest.md").read_text() == "table"
    assert lines == ["paper/spectrum: finished none; partial ['table1-abc.partial']"]


def test_unpack_refuses_members_outside_the_store(gpu_session, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (out / "results.tar.gz.part00").write_bytes(data.getvalue())
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
    store = tmp_path / "store"
    (line,) = gpu_session.unpack(out, store, tmp_path / "bench")
    assert line.startswith("smoke/twm_theory: finished ['gradient_sweep-") and line.endswith("partial none")
    (meta,) = store.glob("smoke/twm_theory/*/meta.json")
    assert json.loads(meta.read_text())["preset"] == "smoke"
    assert json.loads(meta.read_text())["git_commit"] == "0123456789ab"  # --commit, not the tree's .git


def test_wave_rnn_chapters_are_not_trained_when_the_fused_kernel_tests_fail(gpu_session, tmp_path, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "store"))
    calls = []

    def call(self, title, command, timeout_s):
        calls.append(title)
        return 1 if title == "fused-kernel tests tests/test_wave_rnn_fused.py" else 0
    monkeypatch.setattr(gpu_session.Session, "call", call)
    args = gpu_session.argparse.Namespace(out=tmp_path / "out", budget_min=5.0,
                                          chapters=["wave_rnn_tasks", "spectrum", "vwave"],
                                          preset="paper", device="cuda", repeats=1, skip_checks=False, mnist=None,
                                          parallel=False, commit=None)
    assert gpu_session.run(args) == 0
    assert calls == ["machine", "fused-kernel tests tests/test_elman_fused.py",
                     "fused-kernel tests tests/test_wave_rnn_fused.py",
                     "fused-kernel tests tests/test_selective_scan_fused.py", "benchmarks", "train spectrum",
                     "train vwave"]
    assert "## train wave_rnn_tasks: NOT RUN, its fused-kernel tests did not pass" in (
        tmp_path / "out" / "session.log").read_text()


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
