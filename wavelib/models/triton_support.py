"""What the fused Triton kernels share: importing triton, the interpreter switch, where they can run, tile sizes.

The kernels (:mod:`.wave_rnn_fused`, :mod:`.elman_fused`, :mod:`.selective_scan_fused`) run on CUDA tensors, or
on CPU tensors in Triton's interpreter (``TRITON_INTERPRET=1``, set before triton is imported; slow, for tests).
``WAVELIB_FUSED=0`` turns them all off: every ``"auto"`` backend then takes its reference path (a run records
the setting; ``scripts/gpu_session.py`` sets it for a chapter whose kernels failed their tests or measured slower).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from torch import Tensor

FUSED_ENV = "WAVELIB_FUSED"  #: "0": no fused kernel runs ("auto" backends take their reference paths)


@functools.lru_cache(maxsize=1)
def triton_modules() -> tuple[ModuleType, ModuleType] | None:
    """``(triton, triton.language)``, or None where triton does not import."""
    try:
        import triton
        import triton.language as tl
    except Exception:  # ImportError, or a broken install
        return None
    return triton, tl


@functools.lru_cache(maxsize=1)
def gluon_modules() -> tuple[ModuleType, ModuleType] | None:
    """``(gluon, gluon.language)``, or None where Triton has no Gluon (before 3.5) or does not import."""
    try:
        from triton.experimental import gluon
        from triton.experimental.gluon import language as gl
    except Exception:  # ImportError, or a broken install
        return None
    return gluon, gl


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


def fused_setting() -> str:
    """``"off"`` where ``$WAVELIB_FUSED`` is ``0``, else ``"auto"`` (each kernel runs where it can)."""
    return "off" if os.environ.get(FUSED_ENV, "").strip() == "0" else "auto"


def placement_problem(tensor: Tensor) -> str | None:
    """Why no Triton kernel can run on ``tensor`` (turned off, triton missing, or not on CUDA outside the
    interpreter)."""
    if fused_setting() == "off":
        return f"fused kernels are turned off ({FUSED_ENV}=0)"
    if triton_modules() is None:
        return "triton is not installed (or does not import)"
    if tensor.device.type != "cuda" and not interpreting():
        return f"the tensors are on {tensor.device.type}, not CUDA (and TRITON_INTERPRET=1 is not set)"
    return None


def pow2(value: int) -> int:
    """The smallest power of two >= ``value`` (1 for 0 or 1)."""
    return 1 << max(value - 1, 0).bit_length()


def dot_tile(rows: int, cols: int) -> tuple[int, int]:
    """A (rows, cols) operand of ``tl.dot`` padded to powers of two of at least 16 (``tl.dot``'s smallest side)."""
    return max(16, pow2(rows)), max(16, pow2(cols))
