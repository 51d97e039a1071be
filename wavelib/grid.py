"""The independent runs of an experiment's grid (model × seed × length ...), trained one after another or several
at once, each resumable from its own checkpoint.

With ``workers`` > 1 the runs train in that many threads of this process, each thread on its own CUDA stream,
so that one run's small, latency-bound kernels (Chapter 5's fused scan at the paper sizes: 256 programs of two
warps) overlap another's on one GPU, where separate processes would only take turns. A run's numbers do not
depend on ``workers``: each run is seeded by itself, the only draws from torch's global random state (model
initialisation) happen inside :func:`~wavelib.seeding.isolated_rng`, and the same kernels run on the same inputs.
On a CPU, one worker (the default) is as fast: the threads would share the same cores.

The parent's state (``{"done": [keys], "history": {...}, "weights": {...}}``) is changed and saved by the calling
thread only, after each run ends. If a run fails or reaches the time budget, the others stop at their next
checkpoint (so every run resumes where it stopped) and the first error is raised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np
import torch

from .store import Checkpoint, RunContext


@dataclasses.dataclass(frozen=True)
class RunOutput:
    """What one run of a grid keeps: its history entries, and the weights a figure analyses (or None)."""

    history: dict[str, Any]
    weights: dict[str, torch.Tensor] | None = None


T = TypeVar("T")
#: one run: trains from (and saves into) the checkpoint it is given, returns what the artifact keeps
RunJob = Callable[[Checkpoint], RunOutput]


def check_workers(workers: int) -> int:
    """``workers`` as a positive int; ValueError otherwise."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer (runs trained at the same time), got {workers!r}")
    return int(workers)


def train_runs(ctx: RunContext, state: dict[str, Any], runs: Sequence[tuple[str, RunJob]]) -> None:
    """Train every ``(key, job)`` of ``runs`` whose key is not in ``state["done"]``, ``ctx.workers`` at a time.

    ``job`` gets the child checkpoint ``key`` (``|`` written ``_``) of ``ctx.checkpoint``. When it returns, its
    history and weights go into ``state["history"]`` and ``state["weights"]`` under ``f"{key}|{name}"``, the key
    into ``state["done"]``, and ``state`` is saved (the child's files deleted; its wall time, over its attempts,
    kept in the run's ``part_s`` under the child's name). Finished keys come in the order the runs end; the entries
    are the same for any ``ctx.workers``.
    """
    workers = check_workers(ctx.workers)
    pending = [(key, job) for key, job in runs if key not in state["done"]]
    children = {key: ctx.checkpoint.child(key.replace("|", "_")) for key, _ in pending}
    bar = ctx.progress(total=len(pending))

    def finish(key: str, output: RunOutput) -> None:
        state["history"].update({f"{key}|{name}": value for name, value in output.history.items()})
        if output.weights:
            state.setdefault("weights", {}).update({f"{key}|{name}": value for name, value in output.weights.items()})
        state["done"].append(key)
        ctx.checkpoint.save(state, finished=[children[key]])
        bar.update()

    try:
        if workers == 1 or len(pending) <= 1:
            for key, job in pending:
                finish(key, begin(job, children[key]))
            return
        with ThreadPoolExecutor(min(workers, len(pending)), thread_name_prefix="wavelib-run") as pool:
            running: dict[Future, str] = {pool.submit(on_own_stream, ctx.device, begin, job, children[key]): key
                                          for key, job in pending}
            try:
                while running:
                    ended, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in ended:
                        finish(running.pop(future), future.result())
            except BaseException:
                for future in running:
                    future.cancel()
                for child in children.values():
                    child.stop_at_next_save()
                raise  # after the pool's exit has waited for the runs still going to save and stop
    finally:
        bar.close()


def begin(job: RunJob, checkpoint: Checkpoint) -> RunOutput:
    """``job(checkpoint)``, the run's time counted from now (its checkpoint was made with the others, before)."""
    checkpoint.start_clock()
    return job(checkpoint)


def in_run_order(entries: dict[str, Any], runs: Sequence[tuple[str, RunJob]]) -> dict[str, Any]:
    """``entries`` (named ``f"{key}|{name}"``) with the runs in the order of ``runs``, whatever order they ended
    in: an artifact's files are then the same for any number of workers."""
    order = {key: i for i, (key, _) in enumerate(runs)}
    return dict(sorted(entries.items(), key=lambda item: order[item[0].rsplit("|", 1)[0]]))


def on_own_stream(device: torch.device, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a CUDA stream of ``device`` of its own, started after the work queued on the default
    stream before it and finished on return; on a CPU device simply ``fn(*args)``. Called from several threads,
    the calls' kernels can run at the same time."""
    if device.type != "cuda":
        return fn(*args)
    with torch.cuda.device(device):
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.default_stream())
        with torch.cuda.stream(stream):
            output = fn(*args)
        stream.synchronize()
    return output
