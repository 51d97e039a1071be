"""The paper-scale artifacts committed to git: current, made by committed code, and the only ones stored."""

import json

from wavelib.chapters import open_chapter
from wavelib.provenance import REPO_ROOT
from wavelib.store import stored_artifacts

COMMITTED = {"twm_theory": ("gradient_sweep",), "spectrum": ("table1", "bottleneck", "gaussian_init"),
             "vwave": ("copy_curves",)}  #: paper artifacts in git


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
            assert "+dirty" not in meta["git_commit"]
