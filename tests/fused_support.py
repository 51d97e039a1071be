"""Shared by the fused-kernel tests (``tests/test_*_fused.py``): importing this skips the importing test module
unless triton imports and either a CUDA device is present or ``TRITON_INTERPRET=1`` is set (Triton's CPU
interpreter: tiny shapes only); ``DEVICE`` is where the tests put their tensors."""

import os

import pytest
import torch

from wavelib.models.triton_support import triton_modules

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
if triton_modules() is None:
    pytest.skip("triton does not import", allow_module_level=True)
if not (torch.cuda.is_available() or INTERPRET):
    pytest.skip("no CUDA device and TRITON_INTERPRET=1 is not set", allow_module_level=True)

DEVICE = "cuda" if torch.cuda.is_available() and not INTERPRET else "cpu"
