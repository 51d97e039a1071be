"""Fixtures shared by the tests (the settings of every test run are in the repository's ``conftest.py``)."""

import copy
import time

import numpy as np
import pytest
import torch


class MemoryCheckpoint:
    """A checkpoint kept in memory (``load``/``save`` like :class:`wavelib.store.Checkpoint`) that records a deep
    copy of every saved state, as writing it to a file would."""

    def __init__(self, state=None):
        self.state, self.saved = state, []

    def load(self):
        return self.state

    def save(self, state):
        self.saved.append(copy.deepcopy(state))


@pytest.fixture
def memory_checkpoint():
    """``MemoryCheckpoint``, the class: call it (optionally with a saved state to resume from)."""
    return MemoryCheckpoint


def _assert_same_training(run: tuple, other: tuple) -> None:
    """Two ``(model, history)`` results are identical: every history array and every weight, bit for bit."""
    (model, history), (other_model, other_history) = run, other
    assert history.keys() == other_history.keys()
    for key in history:
        np.testing.assert_array_equal(history[key], other_history[key])
    for a, b in zip(model.state_dict().values(), other_model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.fixture
def assert_same_training():
    """Check that two training results ``(model, history)`` are identical bit for bit."""
    return _assert_same_training


def _assert_same_artifact(a, b) -> None:
    """Two stored artifacts hold the same metrics and, bit for bit, the same history arrays and weights (both
    none, or the same tensors)."""
    ha, hb = a.history(), b.history()
    assert ha.keys() == hb.keys()
    for key in ha:
        np.testing.assert_array_equal(ha[key], hb[key], err_msg=key)
    assert a.metrics == b.metrics
    stored = [(x.path / "weights.pt").exists() for x in (a, b)]
    assert stored[0] == stored[1], f"weights stored: {stored}"
    if stored[0]:
        wa, wb = a.weights(), b.weights()
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), key


@pytest.fixture
def assert_same_artifact():
    """Check that two :class:`wavelib.store.Artifact` results are identical (metrics and histories)."""
    return _assert_same_artifact


def _finish_with_restarts(chapter, experiment: str, workers: int = 1, on_stop=None, restarts: int = 100):
    """Train ``experiment`` of an open chapter with a deadline already past, so that it stops right after every
    checkpoint save, and run it again until it finishes; ``on_stop()`` is called after each stop. Returns the
    artifact and the number of stops."""
    from wavelib.store import TimeBudgetReached

    for stops in range(restarts):
        try:
            return chapter.experiment(experiment, deadline=time.monotonic(), workers=workers), stops
        except TimeBudgetReached:
            if on_stop is not None:
                on_stop()
    pytest.fail(f"{experiment} did not finish in {restarts} restarts")


@pytest.fixture
def finish_with_restarts():
    """Train an experiment to the end under the harshest time budget: see ``_finish_with_restarts``."""
    return _finish_with_restarts


class StepRecorder:
    """A ``progress`` wrapper for the trainers that records the steps they actually run (a resumed run must not
    start again from the beginning)."""

    def __init__(self):
        self.steps = []

    def __call__(self, steps, total=None, initial=0):
        for step in steps:
            self.steps.append(step)
            yield step


@pytest.fixture
def step_recorder():
    """``StepRecorder``, the class: pass an instance as a trainer's ``progress``."""
    return StepRecorder


@pytest.fixture
def tf32_seen(monkeypatch):
    """``tf32_seen(module, name)``: wraps ``module.name`` (a training function) so that every call records whether
    cuDNN may use TF32 (``torch.backends.cudnn.allow_tf32``) while it runs; returns the list of those flags."""
    def wrap(module, name: str) -> list[bool]:
        real, seen = getattr(module, name), []

        def recording(*args, **kwargs):
            seen.append(torch.backends.cudnn.allow_tf32)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, recording)
        return seen
    return wrap
