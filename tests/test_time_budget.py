"""Every chapter's experiments survive the harshest time budget: stopped right after EVERY checkpoint save
(``train --stop-after`` on a GPU machine whose calls are limited to minutes), then run again until they
finish, they store exactly the metrics of an uninterrupted run (smoke preset, CPU), and a stopped run's folder keeps
only the checkpoint of the run in progress (finished runs live in the parent's state)."""

import pytest

from wavelib.chapters import CHAPTERS, open_chapter


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_stopping_at_every_checkpoint_then_resuming_gives_the_uninterrupted_result(chapter, tmp_path,
                                                                                   assert_same_artifact,
                                                                                   finish_with_restarts):
    reference = open_chapter(chapter, preset="smoke", root=tmp_path / "reference", check=False)
    budgeted = open_chapter(chapter, preset="smoke", root=tmp_path / "budgeted", check=False)

    def keeps_only_the_run_in_progress():
        for partial in (tmp_path / "budgeted").glob(f"smoke/{chapter}/*.partial"):
            children = [d.name for d in partial.iterdir() if d.is_dir()]
            assert len(children) <= 1, f"finished runs' checkpoints kept: {children}"

    for experiment in budgeted.experiments:
        artifact, stops = finish_with_restarts(budgeted, experiment.name, on_stop=keeps_only_the_run_in_progress)
        # metrics, every history array and the weights, bit for bit
        assert_same_artifact(artifact, reference.experiment(experiment.name))
        assert not list(artifact.path.parent.glob("*.partial"))
        assert stops > 0 or artifact.nothing_trained, f"{experiment.name}: the budget interrupted nothing"
