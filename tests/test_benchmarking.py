"""The benchmark harness (wavelib.benchmarking, benchmarks/run.py). No test asserts on wall time:
timing logic is checked with a fake clock, and real timings only for being well formed."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from wavelib import benchmarking
from wavelib.benchmarking import Comparison, compare, max_abs_difference, peak_memory_mb, report, time_callable
from wavelib.presets import ConfigError
from wavelib.theory.gradients import input_sensitivity, random_tanh_rnn

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CPU = torch.device("cpu")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeClock:
    """Stands in for perf_counter; the toy callables advance it by chosen amounts (s)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _python_loop_sums(data: np.ndarray) -> np.ndarray:
    out = []
    for row in data.tolist():
        total = 0.0
        for value in row:
            total += value
        out.append(total)
    return np.array(out)


def _row(name: str = "toy", check: float = 0.0, tolerance: float = 1e-9) -> Comparison:
    return Comparison(name=name, shapes="n=3", reference="loop", fast="vectorised", device="cpu",
                      reference_ms=4.0, fast_ms=2.0, ratio=2.0, reference_peak_mb=None, fast_peak_mb=None,
                      check=check, tolerance=tolerance, repeats=3, reference_times_ms=(4.0, 3.0, 5.0),
                      fast_times_ms=(2.0, 2.0, 1.0))


def test_a_scaled_check_is_relative_to_each_parts_scale():
    """With ``scale``, each part's error counts against that part's size: an error of 0.5 in a part of scale 10 is
    0.05, however small the other part is; an all-zero part has scale 1."""
    out, grad = torch.tensor([0.1, -0.2]), torch.tensor([10.0, -4.0, 2.0])
    assert benchmarking.scales([out, grad, torch.zeros(3)]) == pytest.approx([0.2, 10.0, 1.0])
    wrong = grad.clone()
    wrong[1] += 0.5
    row = compare("parts", "2 + 3", lambda: [out, grad], lambda: [out, wrong], CPU, repeats=1, warmup=0,
                  scale=benchmarking.scales([out, grad]), tolerance=0.06)
    assert row.check == pytest.approx(0.05) and row.ok
    plain = compare("parts", "2 + 3", lambda: torch.cat([out, grad]), lambda: torch.cat([out, wrong]), CPU,
                    repeats=1, warmup=0, tolerance=0.06)
    assert plain.check == pytest.approx(0.5) and not plain.ok  # unscaled: the absolute error


def test_compare_ratio_is_reference_median_over_fast_median(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(benchmarking, "perf_counter", clock)
    data = np.arange(12.0).reshape(3, 4)
    # the first call of each is the correctness check (untimed); then 3 timed calls, warmup=0
    ref_ms, fast_ms = iter([9.0, 3.0, 4.0, 100.0]), iter([9.0, 1.0, 50.0, 1.0])

    def reference():
        clock.now += next(ref_ms) / 1e3
        return _python_loop_sums(data)

    def fast():
        clock.now += next(fast_ms) / 1e3
        return data.sum(axis=1)

    row = compare("toy sum", "3 x 4", reference, fast, CPU, repeats=3, warmup=0)
    assert row.reference_times_ms == pytest.approx((3.0, 4.0, 100.0))
    assert row.fast_times_ms == pytest.approx((1.0, 50.0, 1.0))
    assert row.reference_ms == pytest.approx(4.0)  # the median, not the mean (35.7)
    assert row.fast_ms == pytest.approx(1.0)
    assert row.ratio == pytest.approx(4.0)
    assert row.check == 0.0 and row.ok
    assert row.reference_peak_mb is None and row.fast_peak_mb is None  # CPU: not measured


def test_compare_check_is_max_abs_difference_of_outputs():
    data = np.random.default_rng(0).normal(size=(50, 20))
    expected = np.abs(_python_loop_sums(data) - torch.as_tensor(data).sum(dim=1).numpy()).max()
    row = compare("sum", "50 x 20", lambda: _python_loop_sums(data), lambda: torch.as_tensor(data).sum(dim=1),
                  CPU, repeats=2, warmup=1)
    assert row.check == expected and row.ok
    assert len(row.reference_times_ms) == len(row.fast_times_ms) == 2
    assert all(t > 0 for t in row.reference_times_ms + row.fast_times_ms)
    assert row.ratio == pytest.approx(statistics.median(row.reference_times_ms) / statistics.median(row.fast_times_ms))

    def wrong():
        out = data.sum(axis=1)
        out[7] += 0.5
        return out

    bad = compare("sum", "50 x 20", lambda: _python_loop_sums(data), wrong, CPU, repeats=1, warmup=0)
    assert bad.check == pytest.approx(0.5) and not bad.ok


def test_outputs_of_different_shape_are_refused():
    with pytest.raises(ValueError, match="shape"):
        max_abs_difference(np.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="shape"):
        compare("x", "", lambda: np.zeros(3), lambda: np.zeros((3, 1)), CPU, repeats=1, warmup=0)


def test_time_callable_counts_warmup_and_repeats():
    calls = []
    times = time_callable(lambda: calls.append(1), CPU, repeats=4, warmup=3)
    assert len(calls) == 7 and len(times) == 4 and all(t >= 0 for t in times)
    for repeats, warmup in ((0, 1), (2, -1), (1.5, 0)):
        with pytest.raises(ValueError):
            time_callable(lambda: None, CPU, repeats=repeats, warmup=warmup)


def test_peak_memory_is_not_made_up_on_cpu():
    assert peak_memory_mb(lambda: torch.zeros(1000), CPU) is None


def test_report_has_names_device_line_and_writes_both_files(tmp_path):
    rows = [_row("alpha"), _row("beta", check=1.0)]
    text = report(rows, tmp_path / "out" / "cpu-latest")
    first = text.splitlines()[0]
    assert first.startswith("Device: cpu") and f"torch {torch.__version__}" in first and "commit " in first
    assert "alpha" in text and "beta" in text and "n/a" in text and "2.00x" in text and "NO" in text
    md, js = tmp_path / "out" / "cpu-latest.md", tmp_path / "out" / "cpu-latest.json"
    assert md.read_text() == text
    data = json.loads(js.read_text())
    assert data["device"] == "cpu" and data["versions"]["torch"] == torch.__version__
    assert [r["name"] for r in data["rows"]] == ["alpha", "beta"]
    assert [r["ok"] for r in data["rows"]] == [True, False]
    assert data["rows"][0]["reference_times_ms"] == [4.0, 3.0, 5.0]
    assert sorted(p.name for p in md.parent.iterdir()) == ["cpu-latest.json", "cpu-latest.md"]
    again = report(rows)  # no path: nothing written; the same table (the date line may tick)
    assert again.splitlines()[1:] == text.splitlines()[1:]
    assert sorted(p.name for p in md.parent.iterdir()) == ["cpu-latest.json", "cpu-latest.md"]


def test_report_writes_through_a_temporary_file_and_keeps_old_files_on_failure(tmp_path, monkeypatch):
    real_replace, moves = os.replace, []

    def recording_replace(src, dst):
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(benchmarking.os, "replace", recording_replace)
    report([_row()], tmp_path / "cpu-latest")
    assert {dst.name for _, dst in moves} == {"cpu-latest.md", "cpu-latest.json"}
    assert all(src.parent == dst.parent and src.name != dst.name for src, dst in moves)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(benchmarking.os, "replace", failing_replace)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    with pytest.raises(OSError):
        report([_row("new")], tmp_path / "cpu-latest")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before  # old files intact, no temp left


def test_twm_reference_draws_the_same_inputs_as_input_sensitivity():
    bench = _load(BENCHMARKS / "bench_twm_theory.py", "bench_twm_theory_under_test")
    weights = random_tanh_rnn(16, 2, np.random.default_rng(1))
    fast = input_sensitivity(weights, 8, 0.05, 4, np.random.default_rng(3))
    ref = bench.reference_input_sensitivity(weights, 8, 0.05, 4, np.random.default_rng(3))
    assert np.abs(fast - ref).max() <= 1e-12 * np.abs(fast).max()
    other = bench.reference_input_sensitivity(weights, 8, 0.05, 4, np.random.default_rng(4))
    assert np.abs(fast - other).max() > 1e-6 * np.abs(fast).max()  # the check would see different inputs


TOY_BENCH = '''
import numpy as np
from wavelib.benchmarking import compare

def benchmarks(device, repeats):
    data = np.arange(6.0)
    return [compare("{name}", "6", lambda: data.sum(), lambda: data.sum() + {offset}, device, repeats, 0)]
'''


def test_run_discovers_runs_and_writes_results(tmp_path, monkeypatch, capsys):
    run = _load(BENCHMARKS / "run.py", "benchmarks_run_under_test")
    bench_dir = tmp_path / "benchmarks"
    bench_dir.mkdir()
    (bench_dir / "bench_good.py").write_text(TOY_BENCH.format(name="good", offset=0.0))
    (bench_dir / "bench_wrong.py").write_text(TOY_BENCH.format(name="wrong", offset=1.0))
    (bench_dir / "helper.py").write_text("raise RuntimeError('not a benchmark, must not be imported')\n")
    assert list(run.discover(bench_dir)) == ["good", "wrong"]
    assert list(run.discover(bench_dir, only="good")) == ["good"]
    assert list(run.discover(bench_dir, first=("wrong", "absent"))) == ["wrong", "good"]  # a GPU call's cut keeps it
    assert all((BENCHMARKS / f"bench_{name}.py").exists() for name in run.FIRST)  # not silently lost to a rename
    with pytest.raises(ConfigError, match="good, wrong"):
        run.discover(bench_dir, only="nope")
    assert run.discover(bench_dir, attribute="profiles", required=False) == {}  # what profile_steps.py asks for
    with pytest.raises(ConfigError, match="bench_good.py has no profiles"):
        run.discover(bench_dir, attribute="profiles")

    monkeypatch.setattr(run, "HERE", bench_dir)
    out = tmp_path / "results"
    assert run.main(["--only", "good", "--repeats", "2", "--out", str(out)]) == 0
    assert "| good |" in capsys.readouterr().out
    assert json.loads((out / "cpu-latest.json").read_text())["rows"][0]["name"] == "good"
    assert run.main(["--repeats", "1", "--out", str(out)]) == 1  # a fast path that disagrees fails the run
    assert "wrong" in capsys.readouterr().err
    assert run.main(["--only", "nope"]) == 2

    (bench_dir / "bench_broken.py").write_text(
        "def benchmarks(device, repeats):\n    raise RuntimeError('no kernel')\n")
    assert run.main(["--repeats", "1", "--out", str(out)]) == 1  # a suite that raises fails the run ...
    assert "these suites raised and have no rows, or only some: broken" in capsys.readouterr().err
    names = [row["name"] for row in json.loads((out / "cpu-latest.json").read_text())["rows"]]
    assert names == ["good", "wrong"]  # ... but the other suites' rows are still written
    monkeypatch.setattr(run, "device_kind", lambda device: "cuda-h200")  # a GPU other than the goals' H100
    assert run.main(["--only", "good", "--repeats", "1", "--out", str(out)]) == 0
    assert (out / "cuda-h200-latest.json").exists() and (out / "cuda-h200-latest.md").exists()
    if not torch.cuda.is_available():
        assert run.main(["--device", "cuda"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err


class _EagerStep:
    """Stands in for GraphedStep on the CPU (a CUDA graph needs CUDA): the step, called eagerly every time."""

    def __init__(self, step, warmup: int = 3):
        self.step, self.warmup = step, warmup

    def __call__(self, *inputs):
        return self.step(*inputs)


def test_vwave_graph_rows_compare_the_same_step_on_both_sides(monkeypatch):
    """The graph rows' bookkeeping (warm-up, capture call, per-model batches from their own generators, threads)
    on the CPU, with the graph replaced by the eager step and AdamW not capturable (CUDA only): both sides must
    then take exactly the same steps, so the check is exactly 0."""
    bench = _load(BENCHMARKS / "bench_vwave.py", "bench_vwave_under_test")
    adamw = torch.optim.AdamW
    monkeypatch.setattr(bench, "GraphedStep", _EagerStep)
    monkeypatch.setattr(torch.optim, "AdamW", lambda *args, capturable=False, **kwargs: adamw(*args, **kwargs))
    rows = [bench.graph_step_row("smoke", 5, CPU, 1), bench.concurrent_graphed_steps_row("smoke", 5, CPU, 1)]
    assert [row.name for row in rows] == ["copy LM train step [CUDA graph]",
                                          f"copy LM train steps, {bench.CONCURRENT_RUNS} runs at once [CUDA graph]"]
    assert all(row.ok and row.check == 0 for row in rows)


PARTLY_BROKEN_BENCH = '''
import numpy as np
from wavelib.benchmarking import RowCollector, compare

def benchmarks(device, repeats):
    data = np.arange(6.0)
    rows = RowCollector()
    rows.add("first", lambda: compare("first", "6", lambda: data.sum(), lambda: data.sum(), device, repeats, 0))
    assert rows.add("broken", lambda: 1 / 0) is None
    rows.add("last", lambda: [compare("last", "6", lambda: data.sum(), lambda: data.sum(), device, repeats, 0)])
    return rows.result()
'''


def test_a_row_that_raises_costs_only_itself(tmp_path, monkeypatch, capsys):
    run = _load(BENCHMARKS / "run.py", "benchmarks_run_partly_broken")
    bench_dir = tmp_path / "benchmarks"
    bench_dir.mkdir()
    (bench_dir / "bench_partly.py").write_text(PARTLY_BROKEN_BENCH)
    monkeypatch.setattr(run, "HERE", bench_dir)
    assert run.main(["--repeats", "1", "--out", str(tmp_path / "results")]) == 1  # the run fails ...
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "partly (these rows raised: broken)" in err
    rows = json.loads((tmp_path / "results" / "cpu-latest.json").read_text())["rows"]
    assert [row["name"] for row in rows] == ["first", "last"]  # ... and keeps the rows made before and after
