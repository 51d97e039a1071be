"""Every chapter's experiments survive the harshest time budget: stopped right after EVERY checkpoint save
(``train --stop-after`` on a GPU machine whose calls are limited to minutes), then run again until they
finish, they store exactly the metrics of an uninterrupted run (smoke preset, CPU), and a stopped run's folder keeps
only the checkpoint of the run in progress (finished runs live in the parent's state)."""

import time

import pytest

from wavelib.chapters import CHAPTERS, open_chapter
from wavelib.store import TimeBudgetReached

MAX_RESTARTS = 100  #: far more than any smoke experiment saves


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_stopping_at_every_checkpoint_then_resuming_gives_the_uninterrupted_result(chapter, tmp_path,
                                                                                   assert_same_artifact):
    reference = open_chapter(chapter, preset="smoke", root=tmp_path / "reference", check=False)
    budgeted = open_chapter(chapter, preset="smoke", root=tmp_path / "budgeted", check=False)
    for experiment in budgeted.experiments:
        stops = 0
        for _ in range(MAX_RESTARTS):
            try:
                artifact = budgeted.experiment(experiment.name, deadline=time.monotonic())
                break
            except TimeBudgetReached:
                stops += 1
                for partial in (tmp_path / "budgeted").glob(f"smoke/{chapter}/*.partial"):
                    children = [d.name for d in partial.iterdir() if d.is_dir()]
                    assert len(children) <= 1, f"finished runs' checkpoints kept: {children}"
        else:
            pytest.fail(f"{chapter}/{experiment.name} did not finish in {MAX_RESTARTS} restarts")
        # metrics, every history array and the weights, bit for bit
        assert_same_artifact(artifact, reference.experiment(experiment.name))
        assert not list(artifact.path.parent.glob("*.partial"))
        assert stops > 0 or artifact.nothing_trained, f"{experiment.name}: the budget interrupted nothing"
