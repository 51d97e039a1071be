"""The Performance page's numbers: projections of paper-scale run times from a stored benchmark table."""

import json
import math
import subprocess

import pytest
import torch

from wavelib import devices
from wavelib.experiments import spectrum, vwave, wave_rnn_tasks
from wavelib.performance import (CHOICE_HEADER, TABLE_HEADER, TIMED_CODE, choice_rows, choice_status, choices,
                                 device_kind, format_minutes, goal_rows, goal_status, gpu_name, load_benchmarks,
                                 met_text, other_chip_tables, paper_runs, run_times, table_is_current, table_kind,
                                 table_rows, timed_code_changes, verdict_lines)
from wavelib.provenance import changed_since


def _row(name, shapes, reference_ms, fast_ms):
    return {"name": name, "shapes": shapes, "reference_ms": reference_ms, "fast_ms": fast_ms,
            "ratio": reference_ms / fast_ms}


def test_load_benchmarks_reads_the_stored_json_or_gives_none(tmp_path):
    assert load_benchmarks("cuda", tmp_path) is None
    (tmp_path / "cuda-latest.json").write_text(json.dumps({"device": "cuda:0", "rows": []}))
    assert load_benchmarks("cuda", tmp_path) == {"device": "cuda:0", "rows": []}


@pytest.mark.parametrize("device, kind", [
    ("cpu, cuda:0 (NVIDIA H100 80GB HBM3)", "cuda"), ("cuda:0 (NVIDIA H100 PCIe)", "cuda"),
    ("cpu, cuda:0 (NVIDIA H200)", "cuda-h200"), ("cuda:1 (NVIDIA A100-SXM4-80GB)", "cuda-a100-sxm4-80gb"),
    ("cuda:0 (NVIDIA GeForce RTX 4090)", "cuda-geforce-rtx-4090")])
def test_a_gpu_tables_kind_is_cuda_on_the_goal_chip_and_names_any_other(device, kind):
    assert table_kind(device) == kind


def test_a_table_without_a_gpu_has_no_kind_and_other_chips_tables_are_found_by_name(tmp_path):
    with pytest.raises(ValueError, match="no CUDA device"):
        table_kind("cpu")
    assert gpu_name("cpu, cuda:0 (NVIDIA H200)") == "NVIDIA H200"
    for name in ("cuda", "cuda-h200", "cpu", "cuda-a100"):
        (tmp_path / f"{name}-latest.json").write_text(json.dumps({"device": name, "rows": []}))
    assert list(other_chip_tables(tmp_path)) == ["cuda-a100", "cuda-h200"]
    assert other_chip_tables(tmp_path)["cuda-h200"] == load_benchmarks("cuda-h200", tmp_path)


def test_goal_rows_give_each_goals_value_and_verdict():
    report = {"rows": [_row("wRNN train step", "[copy T=480] ...", 600.0, 6.0),
                       _row("wRNN train step", "[sMNIST] ...", 600.0, 40.0)]}
    rows = goal_rows(report)
    assert [row[1:] for row in rows[:2]] == [["100.0×", "yes (unverified: whether the code changed since is unknown "
                                              "here)"], ["15.0×", "**no** (unverified: whether the code changed "
                                                         "since is unknown here)"]]
    assert rows[2][1] == format_minutes(6.0 * wave_rnn_tasks.PRESETS["paper"].copy_steps / 60_000)
    assert rows[-1][1:] == ["not measured", "not measured"]


def test_a_device_kind_is_its_type_on_the_cpu_and_its_tables_kind_on_a_gpu(monkeypatch):
    assert device_kind(torch.device("cpu")) == "cpu"
    monkeypatch.setattr(devices, "device_description", lambda device: "cuda:0 (NVIDIA H200)")
    assert device_kind(torch.device("cuda")) == "cuda-h200"


def test_run_times_are_ms_per_step_times_the_presets_steps_and_runs():
    report = {"rows": [_row("wRNN train step", "[copy T=480] batch 128, 500 steps", 500.0, 5.0),
                       _row("spectrum.train_step [paper]", "20 seeds", 100.0, 10.0),
                       _row("copy LM train step", "[paper] vwave-0.25, batch 32, L 620, float32", 30.0, 6.0),
                       _row("copy LM train steps, 3 runs at once", "[paper] vwave-0.25 x 3, batch 32, L 220, float32",
                            18.0, 9.0),
                       _row("copy LM train steps, 3 runs at once [CUDA graph]",
                            "[paper] vwave-0.25 x 3, batch 32, L 620, float32", 15.0, 7.5)]}
    times = {t["what"]: t for t in run_times(report)}
    copy = next(t for w, t in times.items() if w.startswith("Ch. 3, copy T = 480, wRNN"))
    steps, seeds = wave_rnn_tasks.PRESETS["paper"].copy_steps, wave_rnn_tasks.PRESETS["paper"].n_seeds
    assert copy["fast_min_per_run"] == pytest.approx(5.0 * steps / 60_000)
    assert copy["reference_min_total"] == pytest.approx(500.0 * steps * seeds / 60_000)
    grid = next(t for w, t in times.items() if w.startswith("Ch. 2"))
    table1 = spectrum.PRESETS["paper"]
    cells = len(table1.tasks) * len(table1.hiddens) * len(table1.l2s)
    assert grid["fast_min_total"] == pytest.approx(10.0 * table1.steps * cells / 60_000)
    copy_lm = vwave.PRESETS["paper"]
    ch5 = [t for w, t in times.items() if w.startswith("Ch. 5")]
    # per copy length: one run at a time, the seeds of a model at once, steps in CUDA graphs, both; here L 220's
    # second and L 620's first and fourth are in the table
    assert [t["measured"] for t in ch5] == [False, True, False, False, True, False, False, True]
    mamba_type = [m for m in copy_lm.models if copy_lm.spec(m).family == "mamba"]
    assert ch5[4]["fast_min_total"] == pytest.approx(6.0 * copy_lm.steps * len(mamba_type) * copy_lm.n_seeds / 60_000)
    assert "--workers 3 --cuda-graph" in ch5[7]["what"]
    assert ch5[7]["fast_min_total"] == pytest.approx(7.5 * copy_lm.steps * len(mamba_type) / 60_000)
    assert "--cuda-graph" in ch5[2]["what"] and ch5[2]["benchmark"] == "copy LM train step [CUDA graph] L 220"
    with_ablations = mamba_type + [m for m in copy_lm.ablation_models if copy_lm.spec(m).family == "mamba"]
    assert copy_lm.n_seeds == 3 and "--workers 3" in ch5[1]["what"]
    assert ch5[1]["fast_min_total"] == pytest.approx(9.0 * copy_lm.steps * len(with_ablations) / 60_000)
    assert ch5[1]["reference_min_total"] == pytest.approx(18.0 * copy_lm.steps * len(with_ablations) / 60_000)
    unmeasured = [t for t in run_times(report) if not t["measured"]]
    assert unmeasured and all(t["fast_min_per_run"] is None and t["reference_min_total"] is None for t in unmeasured)
    assert len(run_times(report)) == len(paper_runs())


def test_goals_are_met_only_by_measured_rows_that_reach_them():
    fast = {"rows": [_row("wRNN train step", "[copy T=480] ...", 600.0, 6.0),  # 100x, 6 min per 60k steps
                     _row("wRNN train step", "[sMNIST] ...", 600.0, 40.0)]}  # 15x, 35.7 min per 120 epochs
    status = {g["goal"]: g for g in goal_status(fast)}
    ratio_copy, ratio_mnist, copy_time, mnist_time, grid_time = status.values()
    assert ratio_copy["measured"] == pytest.approx(100.0) and ratio_copy["met"] is True
    assert ratio_mnist["met"] is False
    assert copy_time["measured"] == pytest.approx(6.0) and copy_time["met"] is True and copy_time["unit"] == "min"
    # 120 epochs of the 60,000 MNIST training images less the paper's 3,000 held out, in batches of 128
    assert mnist_time["measured"] == pytest.approx(40.0 * 120 * math.ceil((60_000 - 3_000) / 128) / 60_000)
    assert mnist_time["met"] is False
    assert grid_time["met"] is None  # its row is not in this table
    assert all(g["met"] is None and g["measured"] is None for g in goal_status({"rows": []}))
    assert [met_text({**g, "current": True}) for g in status.values()] == [
        "yes", "**no**", "yes", "**no**", "not measured"]
    assert ratio_copy["current"] is None  # a table without a commit: git cannot tell whether it is out of date
    assert met_text(ratio_copy) == "yes (unverified: whether the code changed since is unknown here)"


def test_goals_met_on_an_out_of_date_table_say_so():
    """The H200 table's commit is before the fair references and the timed code changed since: its verdicts stand
    marked; a table of the current commit (nothing changed) is current."""
    from wavelib.provenance import git_commit

    old = {"git_commit": "f3fae846382c", "rows": [_row("wRNN train step", "[copy T=480] ...", 600.0, 6.0)]}
    status = goal_status(old)
    assert table_is_current(old) is False and status[0]["current"] is False
    assert met_text(status[0]) == "yes (out-of-date table)" and met_text(status[1]) == "not measured"
    now = {**old, "git_commit": git_commit()}
    assert table_is_current(now) is (changed_since(git_commit(), TIMED_CODE) == [])
    assert table_is_current({**old, "git_commit": "0123456789ab"}) is None


def test_goals_measured_on_another_chip_than_an_h100_say_so():
    """The goals are set on an H100: a row of an H200 still gives its value and verdict, marked with its device."""
    h200, h100 = "cuda:0 (NVIDIA H200)", "cuda:0 (NVIDIA H100 80GB HBM3)"
    report = {"rows": [{**_row("wRNN train step", "[copy T=480] ...", 600.0, 6.0), "device": h200},
                       {**_row("wRNN train step", "[sMNIST] ...", 600.0, 40.0), "device": h100}]}
    ratio_copy, ratio_mnist, copy_time, *_ = goal_status(report)
    assert ratio_copy["other_chip"] == h200 and ratio_mnist["other_chip"] is None
    ratio_copy, ratio_mnist, copy_time = ({**g, "current": True} for g in (ratio_copy, ratio_mnist, copy_time))
    assert met_text(ratio_copy) == "yes (on cuda:0 (NVIDIA H200), not an H100)"
    assert met_text(ratio_mnist) == "**no**" and met_text(copy_time).endswith("not an H100)")
    stale = {**ratio_copy, "current": False}
    assert met_text(stale) == "yes (out-of-date table; on cuda:0 (NVIDIA H200), not an H100)"
    assert met_text({**stale, "met": None}) == "not measured"


def _ok(name, shapes, reference_ms, fast_ms, ok=True):
    return {**_row(name, shapes, reference_ms, fast_ms), "ok": ok}


def test_each_option_pair_gets_a_verdict_from_its_rows(monkeypatch):
    """The default's speed is the other's time over the default's, whichever side of the row the default is on;
    within 3% neither is faster; a disagreement or a missing shape decides nothing. (With "ieee" the default
    precision: the rows' reference side.)"""
    from wavelib.models import wave_rnn_fused

    monkeypatch.setattr(wave_rnn_fused, "DEFAULT_PRECISION", "ieee")
    report = {"rows": [
        _ok("wRNN recurrence [wgrad kernel]", "[copy T=480] ...", 3.0, 2.0),  # the default (fast side) 1.5x
        _ok("wRNN recurrence [wgrad kernel]", "[sMNIST] ...", 20.0, 19.8),  # within 3%
        _ok("wRNN recurrence [tf32x3]", "[copy T=480] ...", 3.0, 3.0),
        _ok("wRNN recurrence [tf32x3]", "[sMNIST] ...", 20.0, 16.0),  # the other (fast side) 1.25x
        _ok("wRNN train step [tf32x3]", "[sMNIST] ...", 300.0, 5.0),
        _ok("wRNN recurrence [columns]", "[copy T=480] ...", 3.0, 2.0),
        _ok("wRNN recurrence [columns]", "[sMNIST] ...", 20.0, 25.0),
        _ok("wRNN recurrence [gather]", "[copy T=480] ...", 3.0, 2.0, ok=False)]}
    wgrad, tf32x3, columns, gather = choice_status(report)
    assert [s["choice"] for s in (wgrad, tf32x3, columns, gather)] == choices()
    assert wgrad["shapes"]["[copy T=480]"]["gain"] == pytest.approx(1.5)
    assert wgrad["verdict"] == "keep the default: the default faster at [copy T=480]; within 3% at [sMNIST]"
    assert tf32x3["shapes"]["[sMNIST]"]["gain"] == pytest.approx(0.8)
    assert tf32x3["verdict"].startswith("**make the other the default** (`DEFAULT_PRECISION` in ")
    assert tf32x3["verdict"].endswith(": the other faster at [sMNIST]; within 3% at [copy T=480]")
    assert columns["verdict"].startswith("**by shape**: the other faster at [copy T=480]; the default faster at "
                                         "[sMNIST]")
    assert gather["verdict"] == "**the two disagree** at [copy T=480]: keep the default and find out why"
    assert choice_status({"rows": []})[0]["verdict"] == "not measured at [copy T=480], [sMNIST]"
    rows = choice_rows(report)
    assert len(CHOICE_HEADER) == len(rows[0]) and len(rows) == 8
    assert rows[0][0] == choices()[0].what and rows[1][0] == ""  # each pair named once
    assert rows[3][1:] == ["[sMNIST]", "0.80×", "yes", "60.0× the loop"]
    assert rows[6][1:] == ["[copy T=480]", "1.50×", "**NO**", ""]
    lines = verdict_lines(report)
    assert lines[0] == "goal: fused wRNN step ≥ 50× the loop, copy T = 480: not measured"
    assert lines[6].endswith("; the training step with the other: 60.0× the loop at [sMNIST]")


def test_the_table_puts_ratio_and_check_first():
    row = {**_row("wRNN train step", "[sMNIST] ...", 600.0, 40.0), "ok": False, "reference": "loop",
           "fast": "fused", "reference_peak_mb": 10.0, "fast_peak_mb": None, "device": "cuda:0 (NVIDIA H100)"}
    report = {"rows": [row, {**row, "ok": True, "device": "cpu"}]}
    assert TABLE_HEADER[:5] == ("benchmark", "shapes", "ratio", "ok", "on")
    assert table_rows(report) == [["wRNN train step", "[sMNIST] ...", "15.00×", "**NO**", "GPU", "40.000", "600.000",
                                   "fused", "loop", "n/a / 10"],
                                  ["wRNN train step", "[sMNIST] ...", "15.00×", "yes", "CPU", "40.000", "600.000",
                                   "fused", "loop", "n/a / 10"]]


def test_format_minutes():
    assert [format_minutes(m) for m in (None, 0.5, 12.34, 200.0)] == ["not measured", "30 s", "12.3 min", "3.3 h"]


def _repo_with(root, files):
    """A git repository at ``root`` with one commit holding ``files`` (each "x = 1"); returns a ``git(*args)``
    runner there and the commit's short hash."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "one")
    return git, git("rev-parse", "--short=12", "HEAD").strip()


def test_changed_since_lists_the_files_that_differ_from_a_commit(tmp_path):
    git, commit = _repo_with(tmp_path, ("models/a.py", "models/b.py", "other.py"))
    assert changed_since(commit, ["models"], tmp_path) == []
    (tmp_path / "models" / "b.py").write_text("x = 2\n")  # uncommitted changes count
    (tmp_path / "other.py").write_text("x = 2\n")  # outside the paths
    assert changed_since(commit + "+dirty", ["models"], tmp_path) == ["models/b.py"]
    assert changed_since("0123456789ab", ["models"], tmp_path) is None  # not in this history (a shallow clone)


def test_timed_code_changes_says_unknown_where_the_commit_is_missing():
    text = timed_code_changes({"git_commit": "0123456789ab"})
    assert text.startswith("Whether the timed code changed since commit `0123456789ab` is unknown here")


def test_a_table_measured_before_the_fair_references_is_flagged():
    from wavelib.performance import FAIR_REFERENCES, reference_note
    from wavelib.provenance import git_commit, is_ancestor

    assert is_ancestor("f3fae846382c", FAIR_REFERENCES) is True  # the H200 table's commit, before the fix
    assert "overstate the speedups" in reference_note({"git_commit": "f3fae846382c"})
    assert reference_note({"git_commit": FAIR_REFERENCES}) is None
    assert reference_note({"git_commit": git_commit()}) is None  # measured now: after the fix
    assert reference_note({"git_commit": "0123456789ab"}) is None  # unknown commit: no claim either way


def test_git_commit_is_dirty_with_changed_files_or_new_package_files(tmp_path, monkeypatch):
    """A new module in wavelib/ that no commit holds ran too: the record must not claim the bare commit."""
    from wavelib.provenance import COMMIT_ENV, git_commit

    monkeypatch.delenv(COMMIT_ENV, raising=False)
    _, head = _repo_with(tmp_path, ("wavelib/a.py",))
    assert git_commit(tmp_path) == head
    (tmp_path / "notes.txt").write_text("scratch\n")  # untracked outside the package: still clean
    assert git_commit(tmp_path) == head
    (tmp_path / "wavelib" / "new.py").write_text("y = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"
    (tmp_path / "wavelib" / "new.py").unlink()
    (tmp_path / "wavelib" / "a.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"


def test_stored_run_rows_list_paper_artifacts_with_their_devices_and_time(tmp_path):
    from wavelib.performance import stored_run_rows

    def artifact(preset: str, name: str, meta: dict, metrics: dict) -> None:
        folder = tmp_path / preset / "spectrum" / f"{name}-0123456789"
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"preset": preset, "chapter": "spectrum", "experiment": name,
                                                      "finished_utc": "2026-11-26T10:00:00Z", **meta}))
        (folder / "metrics.json").write_text(json.dumps(metrics))

    artifact("paper", "table1", {"device": "cuda:0 (B)", "devices": ["cuda:0 (A)", "cuda:0 (B)"], "wall_time_s": 864,
                                 "resumed": True, "git_commit": "bbb", "git_commits": ["aaa", "bbb"],
                                 "part_wall_time_s": {"cells0-3": 100.0, "cells4-7": 400.0, "cells8-9": 300.0},
                                 "note": "completed by hand"}, {})
    artifact("paper", "fig9", {"device": "cpu", "wall_time_s": 5, "git_commit": "eee"}, {})  # before parts were timed
    artifact("paper", "cifar", {"device": "cpu", "wall_time_s": 0.1, "git_commit": "ccc"},
             {"data": {"available": False}})
    artifact("cpu", "bottleneck", {"device": "cpu", "wall_time_s": 30, "git_commit": "ddd"}, {})
    assert stored_run_rows(tmp_path) == [
        ["spectrum / fig9", "cpu", "5 s", "not recorded", "eee", "2026-11-26", ""],
        ["spectrum / table1", "cuda:0 (A), then cuda:0 (B)", "14.4 min (resumed)",
         "3 timed: median 5.0 min, longest 6.7 min (cells4-7)", "aaa, bbb", "2026-11-26", "completed by hand"]]


def test_the_option_pairs_follow_the_kernels_defaults(monkeypatch):
    """Which side of a row is the default comes from wavelib.models.wave_rnn_fused, so flipping a default there
    flips the verdicts' sides."""
    from wavelib.models import wave_rnn_fused

    monkeypatch.setattr(wave_rnn_fused, "DEFAULT_PRECISION", "ieee")
    assert [c.default_is_fast for c in choices()] == [True, False, False, True]
    assert choices()[1].train_step == "wRNN train step [tf32x3]"  # the other precision's training step
    monkeypatch.setattr(wave_rnn_fused, "DEFAULT_PRECISION", "tf32x3")
    tf32x3 = choices()[1]
    assert tf32x3.default_is_fast and tf32x3.what.endswith('the default "tf32x3"')
    assert tf32x3.train_step == "wRNN train step [ieee]"
