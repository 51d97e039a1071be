"""What the fused Triton kernels share: importing triton, the interpreter switch, where they can run, tile sizes.

The kernels (:mod:`.wave_rnn_fused`, :mod:`.elman_fused`, :mod:`.selective_scan_fused`) run on CUDA tensors, or
on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``, set before triton is imported; slow, for tests).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from torch import Tensor


@functools.lru_cache(maxsize=1)
def triton_modules() -> tuple[ModuleType, ModuleType] | None:
    """``(triton, triton.language)``, or None where triton does not import."""
    try:
        import triton
        import triton.language as tl
    except Exception:  # ImportError, or a broken install
        return None
    return triton, tl


def lazy_kernels(build: Callable[[ModuleType, ModuleType], Any]) -> Callable[[], Any]:
    """Decorator: ``build(triton, triton.language)`` defines and returns a module's kernels; the decorated
    name becomes a function that builds them once, on first use, or returns None where triton does not import
    (so importing a kernel module never needs triton)."""
    @functools.lru_cache(maxsize=1)
    def kernels() -> Any:
        modules = triton_modules()
        return None if modules is None else build(*modules)
    kernels.__doc__ = build.__doc__
    return kernels


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def placement_problem(tensor: Tensor) -> str | None:
    """Why no Triton kernel can run on ``tensor`` (triton missing, or not on CUDA outside the interpreter)."""
    if triton_modules() is None:
        return "triton is not installed (or does not import)"
    if tensor.device.type != "cuda" and not interpreting():
        return f"the tensors are on {tensor.device.type}, not CUDA (and TRITON_INTERPRET=1 is not set)"
    return None


def pow2(value: int) -> int:
    """The smallest power of two >= ``value`` (1 for 0 or 1)."""
    return 1 << max(value - 1, 0).bit_length()
