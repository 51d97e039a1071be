"""Keeping freed CPU memory (:mod:`wavelib.cpu_memory`): a training step stops faulting its pages in again."""

import platform
import subprocess
import sys

import pytest

# A Mamba LM of Chapter 5's `cpu` preset (d_model 64, 2 layers, state 8, batch 16, context 110), forward and
# backward: its selective scan allocates and frees blocks of several MB every step. Prints the minor page faults of
# 8 steps after 4 of warm-up (the heap grows to its peak in those).
STEPS = """
import resource, sys, torch
from wavelib.cpu_memory import keep_freed_memory
from wavelib.models.mamba import MambaLM
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.manual_seed(0)
model, ids = MambaLM(32, 64, 2, d_state=8), torch.randint(0, 32, (16, 110))
for _ in range(4):
    model(ids).square().mean().backward()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):
    model(ids).square().mean().backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True, timeout=120)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's; elsewhere nothing is set")
def test_steps_that_keep_freed_memory_fault_far_fewer_pages_in():
    plain, kept = _faults("plain"), _faults("keep")
    assert plain > 8_000, f"the workload no longer frees large blocks each step ({plain} faults in 8): make it bigger"
    assert kept < plain / 4, (plain, kept)
