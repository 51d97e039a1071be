"""A training step captured once in a CUDA graph and replayed: the host's cost of launching a step's few hundred
small kernels (Chapter 5's language models at batch 32) paid once instead of at every step.

:class:`GraphedStep` wraps ``step(*inputs) -> loss`` (forward, loss, backward, clipping, optimizer step, all on
the GPU). Its first ``warmup`` calls run eagerly on a side stream, as CUDA graphs require before a capture; the
next call captures the step and replays it; every later call copies its inputs into the captured (static) input
tensors and replays. Each call is one real training step, so a run takes the same steps either way.

What a step must do to be captured (and what the book's copy-LM step does): fixed shapes; no host sync (no
``.item()``; :func:`~wavelib.training.copy_lm.copy_loss` weights by its mask instead of indexing with it); an
optimizer built with ``capturable=True`` and tensor learning rates on the device, changed in place
(:func:`set_learning_rate`); no tensor the graph reads freed after the capture (the ALiBi attention keeps every
bias it built). The replayed kernels are those of the eager step, so a graphed run computes what the same run
with a capturable optimizer computes eagerly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import torch
from torch import Tensor

_ONE_CAPTURE_AT_A_TIME = threading.Lock()


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate to ``lr``: in place where it is a tensor (read by a graph)."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def learning_rates_on_device(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Make every parameter group's learning rate a tensor on ``device`` (same value): a graph reads it from there,
    and :func:`set_learning_rate` changes it in place."""
    for group in optimizer.param_groups:
        group["lr"] = torch.tensor(float(group["lr"]), device=device)


class GraphedStep:
    """``step(*inputs) -> loss`` eagerly for the first ``warmup`` calls, then captured once and replayed.

    The loss returned after the capture is the graph's output tensor, overwritten by the next call: use it (e.g.
    add it to a running sum) before calling again. Inputs must keep their shapes and dtypes from call to call.
    """

    def __init__(self, step: Callable[..., Tensor], warmup: int = 3):
        if isinstance(warmup, bool) or int(warmup) != warmup or warmup < 1:
            raise ValueError(f"warmup must be a positive integer (eager calls before the capture), got {warmup!r}")
        self.step, self.warmup = step, int(warmup)
        self.eager_calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_inputs: list[Tensor] = []
        self.static_loss: Tensor | None = None

    def __call__(self, *inputs: Tensor) -> Tensor:
        if any(x.device.type != "cuda" for x in inputs):
            raise ValueError("a CUDA graph replays on the GPU: every input must be a CUDA tensor")
        if self.graph is not None:
            for static, x in zip(self.static_inputs, inputs):
                static.copy_(x)
            self.graph.replay()
            return self.static_loss
        if self.eager_calls < self.warmup:
            self.eager_calls += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                loss = self.step(*inputs)
            torch.cuda.current_stream().wait_stream(side)
            return loss
        self.static_inputs = [x.clone() for x in inputs]
        graph = torch.cuda.CUDAGraph()
        # For runs trained at the same time in threads (``train --workers``): one capture at a time (entering one
        # synchronises the whole device, which would break another thread's capture in progress), on a capture
        # stream of its own (torch's default one is shared by the process), in thread_local mode (the other
        # threads may go on with calls a global capture forbids, a host sync while scoring, say).
        capture = torch.cuda.Stream()
        capture.wait_stream(torch.cuda.current_stream())
        with _ONE_CAPTURE_AT_A_TIME, torch.cuda.graph(graph, stream=capture, capture_error_mode="thread_local"):
            self.static_loss = self.step(*self.static_inputs)
        torch.cuda.current_stream().wait_stream(capture)
        self.graph = graph
        graph.replay()  # the capture ran nothing: this is the step
        return self.static_loss
