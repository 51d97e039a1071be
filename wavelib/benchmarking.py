"""Speed as a ratio: a fast implementation against a plain reference, timed in the same run on one device.

Every row of a benchmark table is a :class:`Comparison` made by :func:`compare`: the median wall time per
call of each implementation (ms), their ratio (reference / fast, > 1 means the fast path is faster), the peak
memory each allocates (MB, CUDA only), and ``check``, the max abs difference of their outputs, so a row
also shows that the fast path computes the same thing. :func:`report` renders the rows as Markdown with the
device, versions, git commit and date, and writes Markdown and JSON side by side. Tests never assert on time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from .devices import device_description, true_float32
from .provenance import git_commit, versions

Output = Any  #: what a benchmarked callable returns: a tensor, an array or a number


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on a CUDA ``device``; nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_callable(fn: Callable[[], Output], device: torch.device, repeats: int = 10,
                  warmup: int = 2) -> list[float]:
    """Wall time of each of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls (ms per call).

    On CUDA the device is synchronised before and after every call, so queued kernels are counted.
    """
    if int(repeats) != repeats or repeats < 1 or int(warmup) != warmup or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (integers), got {repeats}, {warmup}")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = perf_counter()
        fn()
        synchronize(device)
        times.append((perf_counter() - start) * 1e3)
    return times


def peak_memory_mb(fn: Callable[[], Output], device: torch.device) -> float | None:
    """Peak memory allocated by one call of ``fn()`` above what was allocated before it (MB = 2**20 bytes).

    CUDA: from ``torch.cuda.max_memory_allocated``. CPU: ``None`` (shown as ``n/a``): PyTorch's CPU
    allocations bypass ``tracemalloc`` and ``ru_maxrss`` is process-wide and never decreases, so neither
    would be an honest per-call number.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    out = fn()
    synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    del out
    return peak / 2**20


def _as_array(value: Output) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu")
        if value.is_complex() or value.is_floating_point():
            value = value.to(torch.complex128 if value.is_complex() else torch.float64)
        return value.numpy()
    return np.asarray(value)


def max_abs_difference(a: Output, b: Output) -> float:
    """``max |a - b|`` over all entries (in the outputs' units); raises ``ValueError`` on a shape mismatch."""
    x, y = _as_array(a), _as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"outputs differ in shape: reference {x.shape}, fast {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x.astype(np.result_type(x, y, np.float64)) - y)))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One benchmark row: a fast implementation against its plain reference on one device."""

    name: str
    shapes: str  #: the problem size, in words (e.g. ``"H=64, d=2, s=32, 32 samples"``)
    reference: str  #: label of the reference implementation
    fast: str  #: label of the fast implementation
    device: str  #: where both ran, as :func:`wavelib.devices.device_description` says
    reference_ms: float  #: median wall time per call of the reference (ms)
    fast_ms: float  #: median wall time per call of the fast path (ms)
    ratio: float  #: ``reference_ms / fast_ms``; > 1: the fast path is faster
    reference_peak_mb: float | None  #: peak memory of one reference call (MB); None where not measurable
    fast_peak_mb: float | None  #: peak memory of one fast call (MB); None where not measurable
    check: float  #: max abs difference between the two outputs
    tolerance: float  #: largest ``check`` accepted as "computes the same thing"
    repeats: int  #: timed calls per implementation
    reference_times_ms: tuple[float, ...] = ()  #: every timed reference call (ms)
    fast_times_ms: tuple[float, ...] = ()  #: every timed fast call (ms)

    @property
    def ok(self) -> bool:
        """Whether the fast path agrees with the reference within ``tolerance``."""
        return self.check <= self.tolerance


def compare(name: str, shapes: str, reference: Callable[[], Output], fast: Callable[[], Output],
            device: torch.device, repeats: int = 10, warmup: int = 2, *, tolerance: float = 1e-10,
            reference_label: str = "reference", fast_label: str = "fast",
            scale: Sequence[float] | None = None) -> Comparison:
    """Check that ``fast()`` matches ``reference()``, then time both and measure their peak memory.

    ``reference`` and ``fast`` take no arguments and return the output that is compared (same shape), or, with
    ``scale``, lists of parts that the check divides by ``scale`` part by part (:func:`normalised`), outside the
    timed calls. Each is timed over ``repeats`` calls after ``warmup`` untimed ones, in the same process on
    ``device``; the timed calls alternate (reference, fast, reference, ...) so background load affects both alike.
    """
    if int(repeats) != repeats or repeats < 1 or int(warmup) != warmup or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (integers), got {repeats}, {warmup}")
    device = torch.device(device)
    checked = (lambda out: out) if scale is None else (lambda parts: normalised(parts, scale))
    check = max_abs_difference(checked(reference()), checked(fast()))
    for _ in range(warmup):
        reference(), fast()
    ref_times: list[float] = []
    fast_times: list[float] = []
    for _ in range(repeats):  # interleaved, so drifting machine load hits both sides alike
        ref_times += time_callable(reference, device, 1, 0)
        fast_times += time_callable(fast, device, 1, 0)
    ref_ms, fast_ms = statistics.median(ref_times), statistics.median(fast_times)
    return Comparison(
        name=name, shapes=shapes, reference=reference_label, fast=fast_label,
        device=device_description(device),
        reference_ms=ref_ms, fast_ms=fast_ms, ratio=ref_ms / fast_ms if fast_ms > 0 else math.inf,
        reference_peak_mb=peak_memory_mb(reference, device), fast_peak_mb=peak_memory_mb(fast, device),
        check=check, tolerance=tolerance, repeats=int(repeats),
        reference_times_ms=tuple(ref_times), fast_times_ms=tuple(fast_times),
    )


class SuiteIncomplete(Exception):
    """Raised by a suite some of whose rows raised: ``rows`` holds the rows it did make, ``failed`` names the
    others (``benchmarks/run.py`` keeps the rows and reports the suite as failed)."""

    def __init__(self, rows: list[Comparison], failed: list[str]):
        super().__init__(f"these rows raised: {', '.join(failed)}")
        self.rows, self.failed = rows, failed


class RowCollector:
    """A suite's rows made one call at a time, so that one that raises (a kernel that fails to compile, say) costs
    only its own rows: its traceback goes to stderr and the others are still made."""

    def __init__(self) -> None:
        self.rows: list[Comparison] = []
        self.failed: list[str] = []

    def add(self, label: str, make: Callable[[], Comparison | list[Comparison]]) -> list[Comparison] | None:
        """The row(s) ``make()`` returns, kept; None (and ``label`` noted as failed) if it raised."""
        try:
            made = make()
        except Exception:
            traceback.print_exc()
            self.failed.append(label)
            return None
        made = made if isinstance(made, list) else [made]
        self.rows += made
        return made

    def result(self) -> list[Comparison]:
        """Every row made; :class:`SuiteIncomplete` (carrying them) if any call raised."""
        if self.failed:
            raise SuiteIncomplete(self.rows, self.failed)
        return self.rows


def forward_backward(fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor],
                     weight: torch.Tensor) -> Callable[[], list[torch.Tensor]]:
    """A callable running ``out = fn()`` and the backward pass of ``(out * weight).sum()`` w.r.t. ``inputs``
    (a fixed random ``weight`` makes every output element matter); it returns ``[out, *gradients]``, detached.
    cuDNN runs without TF32, so CUDA rows compare true float32."""
    def run() -> list[torch.Tensor]:
        with true_float32():
            out = fn()
            grads = torch.autograd.grad((out * weight).sum(), inputs)
        return [out.detach(), *grads]
    return run


def scales(parts: Sequence[torch.Tensor]) -> list[float]:
    """The largest magnitude of each part (1 for an all-zero part)."""
    return [part.abs().max().item() or 1.0 for part in parts]


def normalised(parts: Sequence[torch.Tensor], scale: Sequence[float]) -> torch.Tensor:
    """Each part divided by its ``scale``, flattened and concatenated (1-D): a check on it is an error relative to
    each part's scale (a gradient summed over batch and time would otherwise swamp the output's errors)."""
    return torch.cat([(part / s).flatten() for part, s in zip(parts, scale)])


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _header(comparisons: Sequence[Comparison]) -> dict[str, Any]:
    devices = sorted({c.device for c in comparisons}) or ["none"]
    return {
        "device": ", ".join(devices),
        "cpu_threads": torch.get_num_threads(),
        "versions": versions(),
        "git_commit": git_commit(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _markdown(comparisons: Sequence[Comparison], header: dict[str, Any]) -> str:
    vers = ", ".join(f"{k} {v}" for k, v in header["versions"].items())
    lines = [
        f"Device: {header['device']} ({header['cpu_threads']} CPU threads) | {vers} | "
        f"commit {header['git_commit']} | {header['date_utc']}",
        "",
        "| benchmark | shapes | device | reference | fast | reference ms | fast ms | ratio | "
        "reference peak MB | fast peak MB | check (max abs diff) | ok |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.name} | {c.shapes} | {c.device} | {c.reference} | {c.fast} | {c.reference_ms:.3f} | "
            f"{c.fast_ms:.3f} | {c.ratio:.2f}x | {_mb(c.reference_peak_mb)} | {_mb(c.fast_peak_mb)} | "
            f"{c.check:.2e} | {'yes' if c.ok else f'NO (tolerance {c.tolerance:.0e})'} |"
        )
    lines += ["", f"Median of {', '.join(sorted({str(c.repeats) for c in comparisons})) or '0'} timed calls "
              "per implementation; ratio = reference ms / fast ms, measured in the same run."]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def report(comparisons: Sequence[Comparison], path: Path | None = None) -> str:
    """The rows as a Markdown table under a line giving device, versions, git commit and date (UTC).

    With ``path``, also writes ``path.md`` and ``path.json`` (suffix replaced), each atomically.
    """
    header = _header(comparisons)
    text = _markdown(comparisons, header)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [{**{k: _finite(v) for k, v in dataclasses.asdict(c).items()}, "ok": c.ok} for c in comparisons]
        blob = json.dumps({**header, "rows": rows}, indent=2, allow_nan=False) + "\n"
        write_atomically(path.with_suffix(".json"), blob)
        write_atomically(path.with_suffix(".md"), text)
    return text
