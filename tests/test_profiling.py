"""wavelib.profiling: a step's breakdown counts what really ran (CPU here; the CUDA fields are None)."""

import pytest
import torch

from wavelib.profiling import StepProfile, profile_call, profile_report


def test_a_cpu_profile_counts_the_ops_of_one_call_and_ranks_the_costliest():
    a = torch.randn(800, 800)  # the matmuls ~1000x the rest: a preemption during the sum cannot outrank them

    def step():
        for _ in range(4):
            torch.mm(a, a)
        return torch.relu(a).sum()

    p = profile_call("four matmuls", step, torch.device("cpu"), calls=2, warmup=1, top=3)
    assert p.device == "cpu" and p.device_ms is None and p.launches is None and p.busy_share is None
    assert p.wall_ms > 0 and len(p.top) <= 3
    name, calls, ms = p.top[0]
    assert name == "aten::mm" and calls == pytest.approx(4) and ms > 0  # no timing bound: CPU load varies
    assert p.aten_ops >= 6  # 4 mm, relu, sum (and what they dispatch to)


def test_the_report_gives_each_profile_its_section_and_busy_share(tmp_path):
    cpu = StepProfile("cpu step", "cpu", 10.0, None, None, 120, (("aten::mm", 4.0, 6.0),))
    gpu = StepProfile("gpu step", "cuda:0 (H100)", 10.0, 2.5, 300, 900, (("triton_kernel|x", 2.0, 1.5),))
    text = profile_report([cpu, gpu], tmp_path / "cpu-profile.md")
    assert (tmp_path / "cpu-profile.md").read_text() == text
    assert "### cpu step" in text and "| aten::mm | 4 | 6.000 | 60.0% |" in text
    assert "**busy 25%**" in text and "300 launches" in text and "triton_kernel\\|x" in text  # | escaped


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="positive integers"):
        profile_call("x", lambda: None, torch.device("cpu"), calls=0)


def test_the_script_profiles_what_a_suite_offers_and_refuses_an_unknown_one(tmp_path):
    import subprocess
    import sys

    from wavelib.provenance import REPO_ROOT

    script = REPO_ROOT / "benchmarks" / "profile_steps.py"
    unknown = subprocess.run([sys.executable, str(script), "--only", "nope", "--out", str(tmp_path)],
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown benchmark 'nope'" in unknown.stderr
    # bench_twm_theory.py offers no profiles: an empty report, written all the same
    none = subprocess.run([sys.executable, str(script), "--only", "twm_theory", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert none.returncode == 0, none.stderr
    assert "###" not in (tmp_path / "cpu-profile.md").read_text()
