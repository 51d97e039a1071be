"""The fused kernels' own tests (``tests/test_*_fused.py``, ``tests/test_wave_rnn_columns.py``,
``tests/test_wave_rnn_precision.py``, ``tests/test_wave_rnn_wgrad.py``) and the wRNN benchmark rows' (tiny shapes,
``tests/test_bench_wave_rnn.py``), run in Triton's CPU interpreter on a machine without CUDA: a subprocess with
``TRITON_INTERPRET=1`` (the switch must be set before the kernels are built, and this session compiles them for
real in ``tests/test_kernel_resources.py``).

Skipped where triton is not installed (``.ci/run`` installs it; ``requirements.txt`` does not pin it, as a GPU
machine's torch brings its own), on a CUDA machine (the test files run there directly, on the GPU), and where this
session already interprets (the files then run in it).
"""

import os
import subprocess
import sys

import pytest
import torch

from wavelib.provenance import REPO_ROOT

pytest.importorskip("triton")
if torch.cuda.is_available():
    pytest.skip("a CUDA device is present: the fused-kernel test files run on it directly", allow_module_level=True)
if os.environ.get("TRITON_INTERPRET") == "1":
    pytest.skip("TRITON_INTERPRET=1 already: the fused-kernel test files run in this session",
                allow_module_level=True)

FILES = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "tests").glob("test_*_fused.py")) + \
    ["tests/test_wave_rnn_columns.py", "tests/test_wave_rnn_precision.py", "tests/test_wave_rnn_wgrad.py",
     "tests/test_bench_wave_rnn.py"]


def test_the_fused_kernels_pass_their_tests_in_tritons_interpreter():
    assert len(FILES) == 7, FILES  # Elman, selective scan, wRNN "tiles" (and each precision), wRNN "columns",
    # wRNN conv weight gradient, wRNN benchmark rows
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                             *FILES], cwd=REPO_ROOT, env={**os.environ, "TRITON_INTERPRET": "1"},
                            capture_output=True, text=True, timeout=1200)
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "error" not in summary, tail
