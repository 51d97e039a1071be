"""The paper-scale results committed to git: current, made by committed code, the only ones stored, and small."""

import json
import subprocess
import zlib
from pathlib import Path

import pytest

from wavelib.chapters import open_chapter
from wavelib.provenance import REPO_ROOT
from wavelib.store import RUN_FILE, Checkpoint, stored_artifacts

PAPER = REPO_ROOT / "results" / "paper"
needs_git = pytest.mark.skipif(not (REPO_ROOT / ".git").exists(), reason="what is committed needs the git checkout")

COMMITTED = {"twm_theory": ("gradient_sweep",), "spectrum": ("table1", "bottleneck", "gaussian_init"),
             "vwave": ("copy_curves", "ablations", "copy_curves_long")}  #: paper artifacts in git


def test_committed_paper_artifacts_match_the_paper_preset():
    """`python -m wavelib book --preset paper` renders these parts from committed artifacts: each is the current
    paper preset's, made by committed code (no uncommitted changes), and nothing else is stored there."""
    stored = {(a.meta["chapter"], a.meta["experiment"]) for a in stored_artifacts(REPO_ROOT / "results")
              if a.meta["preset"] == "paper"}
    assert stored == {(chapter, name) for chapter, names in COMMITTED.items() for name in names}
    for chapter, names in COMMITTED.items():
        session = open_chapter(chapter, preset="paper", root=REPO_ROOT / "results", check=False)
        for name in names:
            path = session.artifact_path(name)
            assert path.is_dir(), f"{path} is not the current paper preset's: run python -m wavelib train {chapter} " \
                                  f"--preset paper --experiment {name}"
            meta = session.experiment(name).meta
            assert meta["config"] == json.loads(json.dumps(session.config.to_dict()))  # as meta.json holds it
            for migration in meta.get("config_migrations", ()):  # moved to a new hash by hand: say why, and
                assert migration["why"] and migration["added_knobs"]  # with the values the config now holds
                assert {k: meta["config"][k] for k in migration["added_knobs"]} == migration["added_knobs"]
            commits = session.experiment(name).commits
            assert commits and all(c != "unknown" and "+dirty" not in c for c in commits), commits  # every attempt's


@needs_git
def test_the_commits_that_made_committed_artifacts_are_in_the_history():
    """Each attempt's commit is one git knows: code that can be checked out and read (not a rewritten history's)."""
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO_ROOT, capture_output=True,
                             text=True).stdout.strip() == "true"
    if shallow:
        pytest.skip("a shallow clone holds only the newest commits")
    commits = {c for a in stored_artifacts(REPO_ROOT / "results") if a.meta["preset"] == "paper" for c in a.commits}
    assert commits
    for commit in sorted(commits):
        known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO_ROOT).returncode == 0
        assert known, f"commit {commit} is not in this repository's history"


def tracked(folder: Path) -> list[Path]:
    """The files under ``folder`` that git tracks and the working tree still has (a finished run deletes its
    ``.partial`` folder before the deletion is committed)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", str(folder.relative_to(REPO_ROOT))], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode()
    return [REPO_ROOT / name for name in listed.split("\0") if name and (REPO_ROOT / name).exists()]


def ignored(path: str) -> bool:
    """Whether git's ignore rules leave ``path`` (relative to the repository, present or not) out."""
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO_ROOT).returncode == 0


@needs_git
def test_git_keeps_a_stopped_paper_runs_own_files_and_not_the_runs_in_progress_in_it():
    """A new checkout must resume a paper run stopped by a GPU session's end from what was committed."""
    partial, uuid = "results/paper/vwave/copy_curves_long-0123456789.partial", "0" * 32
    for name in ("checkpoint.pt", Checkpoint.LEDGER, RUN_FILE):
        assert not ignored(f"{partial}/{name}"), name
    for name in ("L300_mamba_seed0/checkpoint.pt", f"checkpoint.tmp-{uuid}", f"{RUN_FILE}.tmp-{uuid}"):
        assert ignored(f"{partial}/{name}"), name
    assert not ignored("results/paper/vwave/copy_curves-0123456789/meta.json")
    assert ignored(f"results/paper/vwave/copy_curves-0123456789.tmp-{uuid}/meta.json")
    assert ignored("results/cpu/vwave/copy_curves-0123456789/meta.json")
    assert ignored(f".gpu-results/paper/vwave/copy_curves_long-0123456789.partial/{RUN_FILE}")  # a GPU machine's


@needs_git
def test_committed_stopped_runs_are_the_current_paper_presets_unfinished_ones():
    """A committed ``.partial`` folder holds only the run's own files, resumes with the current paper preset (its
    name is the current artifact's), and goes once its artifact is committed."""
    files = [f for f in tracked(PAPER) if f.parent.name.endswith(".partial")]
    assert all(len(f.relative_to(PAPER).parts) == 3 for f in tracked(PAPER)
               if ".partial" in f.relative_to(PAPER).as_posix()), "a run in progress inside a .partial is committed"
    for folder in sorted({f.parent for f in files}):
        assert {f.name for f in files if f.parent == folder} <= {"checkpoint.pt", Checkpoint.LEDGER, RUN_FILE}
        chapter, experiment = folder.parent.name, folder.name.removesuffix(".partial").rsplit("-", 1)[0]
        artifact = open_chapter(chapter, preset="paper", root=REPO_ROOT / "results", check=False).artifact_path(
            experiment)
        assert folder == artifact.with_name(artifact.name + ".partial"), f"{folder} is not the current preset's"
        assert not artifact.exists(), f"{artifact} is finished: delete {folder}"
        assert "--preset paper" in json.loads((folder / RUN_FILE).read_text())["resume"]


@needs_git
def test_each_chapters_committed_results_are_under_20_mb_compressed():
    for chapter in sorted(p for p in PAPER.iterdir() if p.is_dir()):
        size = sum(len(zlib.compress(f.read_bytes(), 6)) for f in tracked(chapter))
        assert size < 20e6, f"{chapter}: {size / 1e6:.1f} MB compressed"
