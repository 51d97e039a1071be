"""Keeping freed CPU memory in the process, so that training on the CPU does not fault its pages in again each step.

glibc's ``malloc`` serves a large request (a tensor of a few MB) with its own ``mmap`` and returns it to the kernel
when it is freed, and it trims the top of its heap once more than a threshold is free there. A training step
allocates and frees the same large tensors every step (Chapter 5's selective scan: (time, batch, channels, state)
blocks of about 7 MB at the ``cpu`` preset), so each step faulted in again some 10,000 pages (40 MB): the chapter's
``cpu`` training spent 50 s in the kernel doing so, 5 s with this. Raising both thresholds keeps the freed memory for
the next step: the process holds on to its peak, which it reaches every step anyway. Which memory a tensor gets never
changes its values.
"""

from __future__ import annotations

import ctypes
import functools

M_TRIM_THRESHOLD = -1  #: glibc's ``mallopt`` parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  #: bytes; requests up to this come from the heap (glibc's ceiling on 64-bit systems)
TRIM_THRESHOLD = 1 << 30  #: bytes of free memory at the top of the heap kept rather than trimmed


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`) for this process, once; True where
    they took effect, False where the C library is not glibc (macOS, Windows, musl), which is left as it is."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):  # no mallopt; TypeError: Windows cannot open the process itself
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
