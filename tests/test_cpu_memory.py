"""Keeping freed CPU memory (:mod:`wavelib.cpu_memory`): a training step stops faulting its pages in again."""

import platform
import subprocess
import sys

import pytest

# Chapter 5's selective scan at the `cpu` preset's sizes, forward and backward: its (time, batch, channels, state)
# blocks are 7 MB each, allocated and freed every step. Prints the minor page faults of the steps after the first.
STEPS = """
import resource, sys, torch
from wavelib.cpu_memory import keep_freed_memory
from wavelib.models.selective_scan import selective_scan
if sys.argv[1] == "keep":
    assert keep_freed_memory()
g = torch.Generator().manual_seed(0)
u, delta = torch.randn(16, 128, 110, generator=g), torch.rand(16, 128, 110, generator=g) * 0.1
B, C = torch.randn(16, 8, 110, generator=g), torch.randn(16, 8, 110, generator=g)
A = -torch.rand(128, 8, generator=g).requires_grad_()
def step():
    selective_scan(u, delta, A, B, C, backend="recurrent", chunk=128).square().sum().backward()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 4)
"""


def _faults_per_step(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True, timeout=120)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's; elsewhere nothing is set")
def test_a_step_that_keeps_freed_memory_faults_far_fewer_pages_in():
    plain, kept = _faults_per_step("plain"), _faults_per_step("keep")
    assert plain > 1_000, f"the workload no longer frees large blocks each step ({plain} faults): make it bigger"
    assert kept < plain / 4, (plain, kept)
