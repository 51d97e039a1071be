"""The helpers the fused kernels share (CPU; no kernel runs here)."""

import torch

from wavelib.models import triton_support as ts


def test_pow2():
    assert [ts.pow2(v) for v in (0, 1, 2, 3, 16, 17, 100)] == [1, 1, 2, 4, 16, 32, 128]


def test_dot_tile_pads_to_powers_of_two_of_at_least_16():
    assert [ts.dot_tile(c, n) for c, n in ((3, 7), (6, 100), (16, 256), (27, 100))] == \
        [(16, 16), (16, 128), (16, 256), (32, 128)]


def test_placement_problem_says_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    if ts.triton_modules() is not None:
        assert "not CUDA" in ts.placement_problem(torch.zeros(2))
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        assert ts.placement_problem(torch.zeros(2)) is None  # the interpreter runs CPU tensors
    monkeypatch.setattr(ts, "triton_modules", lambda: None)
    assert ts.placement_problem(torch.zeros(2)) == "triton is not installed (or does not import)"


def test_lazy_kernels_build_once_and_not_without_triton(monkeypatch):
    built = []

    def build(triton, tl):
        """doc"""
        built.append((triton, tl))
        return "kernels"

    monkeypatch.setattr(ts, "triton_modules", lambda: ("triton", "tl"))
    kernels = ts.lazy_kernels(build)
    assert built == [] and kernels.__doc__ == "doc"  # nothing is built at decoration (import) time
    assert kernels() == kernels() == "kernels" and built == [("triton", "tl")]
    monkeypatch.setattr(ts, "triton_modules", lambda: None)
    assert ts.lazy_kernels(build)() is None


def test_each_kernel_says_why_it_cannot_run_on_cpu_tensors(monkeypatch):
    from wavelib.models import elman_fused, selective_scan_fused, wave_rnn_fused

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x = torch.zeros(2, 3, 4)
    for problem in (wave_rnn_fused.fused_problem(x, 2, 2), elman_fused.fused_problem(x[None], 4),
                    selective_scan_fused.fused_problem(x)):
        assert problem in ("triton is not installed (or does not import)",
                           "the tensors are on cpu, not CUDA (and TRITON_INTERPRET=1 is not set)")


def test_wavelib_fused_0_turns_every_kernel_off(monkeypatch):
    """Every "auto" dispatch asks its module's fused_problem, so each then takes its reference path."""
    from wavelib.models import elman_fused, selective_scan_fused, wave_rnn_fused

    monkeypatch.setenv("TRITON_INTERPRET", "1")  # where a kernel could otherwise run: the interpreter
    monkeypatch.setattr(ts, "triton_modules", lambda: ("triton", "tl"))
    x = torch.zeros(2, 3, 4)
    assert ts.fused_setting() == "auto" and ts.placement_problem(x) is None
    monkeypatch.setenv("WAVELIB_FUSED", "0")
    assert ts.fused_setting() == "off"
    for problem in (wave_rnn_fused.fused_problem(x, 2, 2), elman_fused.fused_problem(x[None], 4),
                    selective_scan_fused.fused_problem(x)):
        assert problem == "fused kernels are turned off (WAVELIB_FUSED=0)"
