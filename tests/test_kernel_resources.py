"""scripts/kernel_resources.py: the fused kernels compile for sm_90 here (no GPU) and their machine code is read.

Skipped where triton is not installed (CI) and in Triton's interpreter (which compiles nothing).
"""

import importlib.util
import os

import pytest

from wavelib.provenance import REPO_ROOT

pytest.importorskip("triton")
if os.environ.get("TRITON_INTERPRET") == "1":
    pytest.skip("TRITON_INTERPRET=1: kernels are interpreted, not compiled", allow_module_level=True)


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("kernel_resources", REPO_ROOT / "scripts" / "kernel_resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_fused_kernel_has_a_case(report):
    names = [case.name for case in report.cases()]
    assert len(names) == len(set(names)) == 28  # elman 4, wRNN 22 (2 shifts and tf32x3 of "tiles", sMNIST pixels in
    # both precisions, "columns", wgrad), scan 2
    assert {name.split()[0] for name in names} == {"elman", "wRNN", "scan"}


def test_the_elman_kernel_runs_on_tensor_cores_without_spilling(report):
    """Table 1's H = 128 forward: the 3xTF32 form (tensor-core products, HMMA or HGMMA), not the FMA form that
    spilled ~10 KB per thread; a few bytes of stack are tolerated (Triton versions differ: 0 with 3.6, 8 with 3.9)."""
    case = next(c for c in report.cases() if c.name == "elman fwd H=128")
    used = report.resources(case, 90)
    assert used["HMMA"] + used["HGMMA"] > 0 and used["FFMA"] == 0
    assert used["stack_bytes"] <= 64 and used["LDL"] + used["STL"] <= 16
    assert 0 < used["registers"] <= 255


def test_the_columns_kernels_hold_few_barriers_per_step(report):
    """The point of the Gluon "columns" wRNN kernels (wavelib/models/wave_rnn_columns.py): at the sMNIST shapes
    their step loop holds at most 4 CTA barriers (the "tiles" kernels: 22 or more), with no spills; and the loop
    holds the step's c * c * 3 * 16 multiply-adds (c = 16 channels, one unit per thread)."""
    cases = {c.name: c for c in report.cases()}
    for direction in ("fwd", "bwd"):
        columns = report.resources(cases[f"wRNN {direction} sMNIST columns"], 90)
        tiles = report.resources(cases[f"wRNN {direction} sMNIST gather"], 90)
        assert columns["loop_bar"] <= 4 < tiles["loop_bar"], direction
        assert columns["stack_bytes"] == 0 and columns["LDL"] + columns["STL"] == 0
        assert columns["FFMA"] == 16 * 16 * 3, direction


def test_the_tf32x3_tiles_kernels_use_tensor_cores_and_shorten_the_smnist_step(report):
    """The default precision (wavelib/models/wave_rnn_fused.py's PRECISIONS): tensor-core products and no FFMA
    (but the pixel projection's 16), no spills, and at the sMNIST shapes a step loop at least 10% shorter than
    "ieee"'s (768 of whose instructions per thread are FFMA): the reason it became the default."""
    cases = {c.name: c for c in report.cases()}
    for name in ("fwd copy gather", "bwd copy gather", "fwd sMNIST gather", "bwd sMNIST gather", "fwd sMNIST pixels",
                 "bwd sMNIST pixels"):
        used = report.resources(cases[f"wRNN {name} tf32x3"], 90)
        assert used["HMMA"] + used["HGMMA"] > 0 and used["FFMA"] <= 16, name
        assert used["stack_bytes"] == 0 and used["LDL"] + used["STL"] == 0, name
        if "sMNIST" in name:
            assert used["loop"] < 0.9 * report.resources(cases[f"wRNN {name}"], 90)["loop"], name


def test_the_wgrad_kernel_does_not_spill(report):
    """The conv weight gradient kernel (wavelib/models/wave_rnn_wgrad.py) at the copy and sMNIST shapes: no stack
    (with whole 256-column rows per ``tl.dot`` it spilled), and the loop holds its (row, chunk) products, c * c * 3 *
    64 multiply-adds (16 padded channels, 64 columns) spread over the program's threads."""
    for case in report.cases():
        if case.name.startswith("wRNN wgrad"):
            used = report.resources(case, 90)
            assert used["stack_bytes"] == 0 and used["LDL"] + used["STL"] == 0, case.name
            assert used["FFMA"] * 32 * case.num_warps == 16 * 16 * 3 * 64, case.name
