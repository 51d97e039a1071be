"""Where one training step's time goes: a breakdown to read beside the benchmark table's ratios.

:func:`profile_call` times a callable (median wall time, without the profiler), then runs it a few more times
under ``torch.profiler`` and keeps, per call: on CUDA, the kernels launched and their summed device time, so
``busy_share`` = device time / wall time says whether the step waits on the GPU (near 1: faster kernels help) or
on Python and kernel launches (well below 1: fewer launches, concurrent runs or CUDA graphs help); the ATen ops
dispatched; and the entries that take the most time (kernels by device time on CUDA, ATen ops by self CPU time on
a CPU). :func:`profile_report` renders them as Markdown (``benchmarks/profile_steps.py`` writes
``benchmarks/results/<device kind>-profile.md``; the Performance page shows CUDA's).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from .benchmarking import Output, synchronize, time_callable, write_atomically
from .devices import device_description
from .provenance import git_commit, versions


@dataclasses.dataclass(frozen=True)
class StepProfile:
    """One callable's profile, every count and time per call (times in ms)."""

    name: str
    device: str
    wall_ms: float  #: median wall time per call, timed without the profiler
    device_ms: float | None  #: summed device time of its kernels and copies (CUDA); None on a CPU
    launches: float | None  #: kernels and copies launched (CUDA); None on a CPU
    aten_ops: float  #: ATen operators dispatched, nested ones included
    top: tuple[tuple[str, float, float], ...]  #: (name, calls, ms): the largest by device time (CUDA) or self CPU

    @property
    def busy_share(self) -> float | None:
        """Device time over wall time: near 1 the GPU is the limit, well below 1 the host is."""
        return None if self.device_ms is None else self.device_ms / self.wall_ms


def profile_call(name: str, fn: Callable[[], Output], device: torch.device, calls: int = 3, warmup: int = 2,
                 top: int = 12) -> StepProfile:
    """Profile ``fn()``: ``warmup`` untimed calls, ``calls`` timed ones, then ``calls`` under the profiler."""
    if int(calls) != calls or calls < 1 or int(top) != top or top < 1:
        raise ValueError(f"calls and top must be positive integers, got {calls}, {top}")
    device = torch.device(device)
    wall = statistics.median(time_callable(fn, device, repeats=calls, warmup=warmup))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(calls):
            fn()
        synchronize(device)
    events = prof.key_averages()
    aten = sum(e.count for e in events if e.key.startswith("aten::")) / calls
    if device.type == "cuda":
        kernels = [e for e in events if e.device_type == DeviceType.CUDA]
        ranked = sorted(((e.key, e.count, _device_us(e)) for e in kernels), key=lambda k: -k[2])
        device_ms = sum(us for _, _, us in ranked) / calls / 1e3
        launches = sum(count for _, count, _ in ranked) / calls
    else:
        ranked = sorted(((e.key, e.count, e.self_cpu_time_total) for e in events if e.key.startswith("aten::")),
                        key=lambda k: -k[2])
        device_ms = launches = None
    return StepProfile(name=name, device=device_description(device), wall_ms=wall, device_ms=device_ms,
                       launches=launches, aten_ops=aten,
                       top=tuple((key, count / calls, us / calls / 1e3) for key, count, us in ranked[:top]))


def _device_us(event) -> float:
    return event.self_device_time_total or event.device_time_total


def _short(name: str, width: int = 90) -> str:
    name = name.replace("|", "\\|")
    return name if len(name) <= width else name[: width - 1] + "…"


def profile_report(profiles: Sequence[StepProfile], path: Path | None = None) -> str:
    """The profiles as Markdown under a line giving versions, git commit and date (UTC); written atomically to
    ``path`` if given."""
    vers = ", ".join(f"{k} {v}" for k, v in versions().items())
    lines = [f"{vers} | commit {git_commit()} | {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}", ""]
    for p in profiles:
        lines.append(f"### {p.name}")
        lines.append("")
        if p.device_ms is None:
            lines.append(f"{p.device}: {p.wall_ms:.2f} ms per call (wall), {p.aten_ops:.0f} ATen ops dispatched.")
            header, unit = "ATen op", "self CPU ms"
        else:
            lines.append(f"{p.device}: {p.wall_ms:.2f} ms per call (wall); kernels and copies {p.device_ms:.2f} ms "
                         f"of device time (**busy {100 * p.busy_share:.0f}%**), {p.launches:.0f} launches, "
                         f"{p.aten_ops:.0f} ATen ops dispatched.")
            header, unit = "kernel", "device ms"
        lines += ["", f"| {header} | calls | {unit} | share of the call |", "|---|---:|---:|---:|"]
        lines += [f"| {_short(key)} | {count:.0f} | {ms:.3f} | {100 * ms / p.wall_ms:.1f}% |"
                  for key, count, ms in p.top]
        lines.append("")
    lines.append("Per call, averaged over the profiled calls; wall time is the median of as many calls timed "
                 "without the profiler. Shares are of the wall time.")
    text = "\n".join(lines) + "\n"
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    return text
