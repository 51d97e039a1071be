"""``benchmarks/bench_wave_rnn.py``'s fused wRNN rows (recurrence, pixels, training step) run end to end at tiny
shapes, so that a mistake in the benchmark's own code cannot cost a GPU session its wRNN rows (they are made in a
few calls: one raising row loses the rest of its call). No time is asserted: only that each row is made and that
its two sides agree.

Skipped unless triton can run (``tests/fused_support.py``): in Triton's CPU interpreter (through
``tests/test_fused_interpreter.py``), or on a GPU.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from fused_support import DEVICE  # skips where triton cannot run

from wavelib.provenance import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    """The benchmark module at tiny shapes: batch 2; (steps, n, c) (4, 7, 3) for "copy", (5, 20, 4) for sMNIST."""
    spec = importlib.util.spec_from_file_location("bench_wave_rnn_under_test",
                                                  REPO_ROOT / "benchmarks" / "bench_wave_rnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BATCH", 2)
    monkeypatch.setattr(module, "SHAPES", {"copy T=480": (4, 7, 3), "sMNIST": (5, 20, 4)})
    monkeypatch.setattr(module, "TUNING_WARPS", {"copy T=480": (1,), "sMNIST": (2,)})
    return module


def test_the_fused_wrnn_rows_are_made_and_agree(bench):
    rows = bench.wave_rows(torch.device(DEVICE), repeats=1)
    names = [row.name for row in rows]
    for name in ("wRNN recurrence", "wRNN recurrence [gather]", "wRNN recurrence [tf32x3]"):
        assert names.count(name) == 2, names  # at both shapes
    for name in ("wRNN pixels [in kernel]", "wRNN pixels [tf32x3]"):
        assert names.count(name) == 1, names  # sMNIST's
    assert names.count("wRNN recurrence [1 warps]") == names.count("wRNN recurrence [2 warps]") == 1
    assert all(row.ok for row in rows), [(row.name, row.check) for row in rows if not row.ok]


def test_the_training_step_rows_are_made_and_agree(bench, monkeypatch):
    """At sMNIST's layout (pixels, the last step's loss; the copy batch's T = 480 is fixed, too long for the
    interpreter): the default precision's row and the other precision's."""
    monkeypatch.setattr(bench, "SHAPES", {"sMNIST": bench.SHAPES["sMNIST"]})
    rows = bench.train_step_rows(torch.device(DEVICE), repeats=1)
    assert [row.name for row in rows] == ["wRNN train step", "wRNN train step [ieee]"]
    assert all(row.ok for row in rows), [(row.name, row.check) for row in rows]


def test_the_profiled_steps_include_the_candidates(bench, monkeypatch):
    """``profiles`` (what ``benchmarks/profile_steps.py`` breaks down): the fused step, then each candidate's."""
    monkeypatch.setattr(bench, "SHAPES", {"sMNIST": bench.SHAPES["sMNIST"]})
    steps = bench.profiles(torch.device(DEVICE))
    assert [label.rsplit(", ", 1)[-1] for label in steps] == ["fused recurrence", 'precision "ieee"']
    for step in steps.values():
        loss, *grads = step()
        assert torch.isfinite(loss) and len(grads) == 6  # V, conv and readout weights and biases


def test_the_candidates_follow_the_default_precision(bench, monkeypatch):
    """At sMNIST the candidate is the precision that is not the default; at copy, the "columns" kernels."""
    from wavelib.models import wave_rnn_fused

    for default, other in (("tf32x3", "ieee"), ("ieee", "tf32x3")):
        monkeypatch.setattr(wave_rnn_fused, "DEFAULT_PRECISION", default)
        assert bench.train_candidates() == {"copy T=480": {"columns": {"kernel": "columns"}},
                                            "sMNIST": {other: {"precision": other}}}
        assert bench._default_mark(default) == " (the default)" and bench._default_mark(other) == ""
