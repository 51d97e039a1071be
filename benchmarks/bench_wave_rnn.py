"""Chapters 3–4's hot path (issue #6): Wave-RNN and iRNN recurrences, and whole wRNN training steps.

Rows, at the paper's copy shapes (text-format T = 480, i.e. 500 steps; batch 128; wRNN n 100, c 6; iRNN n 100)
and sMNIST shapes (784 steps; batch 128; wRNN n 256, c 16; iRNN n 256):

- ``wRNN recurrence``: :func:`~wavelib.models.wave_rnn.wave_rnn_recurrence` with ``backend="reference"`` (the
  per-step PyTorch loop) against ``backend="fused"`` (the Triton kernels). Only where the fused path runs (CUDA
  with triton); elsewhere the row is skipped with a note on stderr. The input projection and readout of a
  training step are single matmuls over all steps; the recurrence is the part that is timed.
- ``wRNN recurrence [gather]``: the fused kernels' two ways of rolling the state along the ring
  (:data:`~wavelib.models.wave_rnn_fused.SHIFTS`): "memory" against "gather" (the default since it measured
  1.3-1.5x faster on an H200); a ratio above 1 says "gather" is faster.
- ``wRNN recurrence [columns]``: the default ("tiles") Triton kernels against the Gluon "columns" kernels
  (:mod:`~wavelib.models.wave_rnn_columns`: each thread all channels of its own units, 4 CTA barriers per step
  instead of 22; float32 FMAs, "ieee"); a ratio above 1 says "columns" is faster (then make it the default). CUDA
  only.
- ``wRNN recurrence [wgrad kernel]``: the fused kernels with the conv weight and bias gradients summed by three
  batched matmuls in PyTorch (``wgrad="bmm"``) against one Triton pass over dL/dx_proj and the states
  (``wgrad="kernel"``, the default since before its first GPU measurement: :mod:`~wavelib.models.wave_rnn_wgrad`);
  a ratio below 1 says "bmm" is faster (then make it the default again). CUDA only.
- ``wRNN recurrence [tf32x3]``: the "tiles" kernels' products in IEEE float32 (``precision="ieee"``) against
  3xTF32 on the tensor cores ("tf32x3", the default since before its first speed measurement:
  :data:`~wavelib.models.wave_rnn_fused.PRECISIONS`); a ratio below 1 says "ieee" is faster (then, with
  ``tests/test_wave_rnn_precision.py`` passed, make it the default again).
- ``wRNN pixels [in kernel]`` (sMNIST shapes): V as one matmul outside the kernels, every state kept and the last
  selected (the wRNN before ``last=True``) against the projection inside them and the last state only
  (:func:`~wavelib.models.wave_rnn_fused.fused_wave_rnn_pixels`, what the image trainer now runs); a ratio above 1
  says the fused projection is faster.
- ``wRNN pixels [tf32x3]`` (sMNIST shapes): that path, the image trainer's, at the two precisions.
- ``wRNN recurrence [N warps]``: the fused kernels (default shift) with N warps per program against the default
  count (:func:`~wavelib.models.wave_rnn_fused.default_warps`, 8 at both shapes), for the counts in
  :data:`TUNING_WARPS`; a ratio above 1 says N warps is faster (then change the default).
- ``wRNN train step``: a whole training step of ``WaveRNN`` (forward, cross-entropy, backward, clipping at 1,
  Adam) with the reference recurrence against the fused one, on a copy batch (T = 480) and on random sMNIST-shaped
  pixels; where the fused path runs. The Performance page projects paper-scale run times from these rows.
- ``wRNN train step [CANDIDATE]``: the same reference against the fused recurrence with a candidate's options
  (:func:`train_candidates`, set as ``WaveRNN.fused_options``): what the row above would read with that candidate
  the default. Copy: "columns" (CUDA only); sMNIST: the precision that is not the default ("ieee").
- ``iRNN``: a plain per-step loop (``h = ReLU(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, autograd) against
  ``torch.nn.RNN(nonlinearity="relu")`` with the same weights (cuDNN on CUDA).

The reference loops read each step's input through one ``unbind`` (its backward is one ``stack``). Indexing
``x[:, t]`` at every step, as they did before, makes the backward scatter each step's gradient into a zero tensor
the size of the whole input: O(T²) memory traffic (on the CPU a copy-task training step took 20.9 s instead of
0.49 s), which inflated the reference times, and so every ratio, of the tables measured before.

Each timed call returns the output and the gradients w.r.t. every input; the check divides each by its scale in
the reference's output (:func:`wavelib.benchmarking.normalised`, outside the timed calls), so it is a relative
error; float32, with cuDNN's TF32 off (:func:`wavelib.devices.true_float32`). The recurrence rows keep the
check about the kernel, not about rounding: a positive drive, non-negative conv weights and bias keep every unit active
(with signed inputs, a pre-activation within rounding of 0 flips its ReLU mask, and over 500 steps the float32
reference itself parts from float64 by 0.1 of the largest gradient), and the weight is scaled to gain 1
(:func:`~wavelib.models.wave_rnn.circular_conv_norm`; with gain a little above 1 rounding grows along the
steps). Both ReLU branches are checked against float64 in ``tests/test_wave_rnn_fused.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from wavelib.benchmarking import Comparison, compare, forward_backward, scales
from wavelib.devices import true_float32
from wavelib.models.wave_rnn import WaveRNN, circular_conv_norm, wave_rnn_recurrence
from wavelib.seeding import isolated_rng
from wavelib.training.optim import optimizer_step
from wavelib.training.sequence_rnn import SequenceTaskSpec

SEED = 0
RTOL = 1e-4  #: tolerance on the check, an error relative to each output part's scale (float32)
BATCH = 128
SHAPES = {"copy T=480": (500, 100, 6), "sMNIST": (784, 256, 16)}  #: steps, units n, channels c (wRNN)
#: warps per program timed against the default, per shape: counts whose sm_90 build does not spill registers
#: (``scripts/kernel_resources.py``; sMNIST at 1 and 2 warps spills)
TUNING_WARPS = {"copy T=480": (1, 2, 4), "sMNIST": (4, 16)}


def train_candidates() -> dict[str, dict[str, dict[str, Any]]]:
    """Per shape, the candidate fused-kernel options (:data:`~wavelib.models.wave_rnn_fused.FUSED_OPTIONS`) whose
    whole training step is timed against the loop as well, by label: the "columns" kernels at copy (their
    recurrence 1.25x the "tiles" kernels on an H100 at commit 0c709b84a93d, 0.96x at sMNIST), and at sMNIST the
    precision that is not :data:`~wavelib.models.wave_rnn_fused.DEFAULT_PRECISION` (not at copy, where c = 6 pads
    to 16 and the precision rows time the recurrence: ``scripts/kernel_resources.py`` finds the two forward step
    loops about as long there)."""
    from wavelib.models.wave_rnn_fused import other_precision

    other = other_precision()
    return {"copy T=480": {"columns": {"kernel": "columns"}}, "sMNIST": {other: {"precision": other}}}


def _default_mark(precision: str) -> str:
    """``" (the default)"`` for :data:`~wavelib.models.wave_rnn_fused.DEFAULT_PRECISION`, else ``""``."""
    from wavelib.models.wave_rnn_fused import DEFAULT_PRECISION

    return " (the default)" if precision == DEFAULT_PRECISION else ""


def _describe(name: str, steps: int, what: str) -> str:
    return f"[{name}] batch {BATCH}, {steps} steps, {what}, float32, fwd+bwd"


def wave_rows(device: torch.device, repeats: int) -> list[Comparison]:
    """The reference loop against the fused kernels, where they run."""
    from wavelib.models.wave_rnn_columns import columns_problem
    from wavelib.models.wave_rnn_fused import default_warps, fused_problem, fused_wave_rnn_recurrence

    rows = []
    for name, (steps, n, c) in SHAPES.items():
        gen = torch.Generator(device=device).manual_seed(SEED)
        x = (0.1 * torch.rand(BATCH, steps, c * n, generator=gen, device=device)).requires_grad_()
        problem = fused_problem(x, c, n)
        if problem is not None:
            print(f"bench_wave_rnn: skipping the fused wRNN row [{name}] on {device}: {problem}", file=sys.stderr)
            continue
        shift = torch.zeros(c, c, 3, device=device)
        shift[range(c), range(c), 2] = 1.0  # the paper's u-shift init, plus a little (non-negative) noise
        weight = shift + 0.01 * torch.rand(c, c, 3, generator=gen, device=device)
        weight = (weight / circular_conv_norm(weight, n)).requires_grad_()  # gain 1: no growth along the steps
        bias = (0.01 * torch.rand(c, generator=gen, device=device)).requires_grad_()
        out_weight = torch.randn(BATCH, steps, c * n, generator=gen, device=device)

        def run(backend: str) -> Callable[[], list[torch.Tensor]]:
            return forward_backward(lambda: wave_rnn_recurrence(x, weight, bias, c, n, backend=backend),
                                    (x, weight, bias), out_weight)

        def fused(shift: str = "gather", warps: int | None = None, kernel: str = "tiles", wgrad: str = "kernel",
                  precision: str | None = None) -> Callable[[], list[torch.Tensor]]:
            return forward_backward(lambda: fused_wave_rnn_recurrence(x, weight, bias, c, n, shift, warps, kernel,
                                                                      wgrad, precision=precision),
                                    (x, weight, bias), out_weight)

        scale = scales(run("reference")())
        shapes = _describe(name, steps, f"n {n}, c {c}")

        def variant(label: str, reference: Callable, fast: Callable, reference_label: str, fast_label: str) -> None:
            rows.append(compare(label, shapes, reference, fast, device, repeats=repeats, warmup=1, scale=scale,
                                tolerance=RTOL, reference_label=reference_label, fast_label=fast_label))

        variant("wRNN recurrence", run("reference"), run("fused"), "per-step loop (wave_rnn_recurrence, reference)",
                "Triton fused (wave_rnn_recurrence, fused)")
        variant("wRNN recurrence [gather]", fused("memory"), fused("gather"), 'fused, shift "memory"',
                'fused, shift "gather" (the default)')
        problem = columns_problem(x, c, n)
        if problem is None:
            variant("wRNN recurrence [columns]", fused(), fused(kernel="columns"),
                    'fused, "tiles" kernels (the default)', 'fused, "columns" kernels (Gluon)')
        else:
            print(f"bench_wave_rnn: skipping the columns row [{name}] on {device}: {problem}", file=sys.stderr)
        if device.type == "cuda":
            variant("wRNN recurrence [wgrad kernel]", fused(wgrad="bmm"), fused(),
                    'fused, wgrad "bmm" (PyTorch)', 'fused, wgrad "kernel" (Triton, the default)')
        else:
            print(f"bench_wave_rnn: skipping the wgrad kernel row [{name}] on {device}: timed on CUDA only",
                  file=sys.stderr)
        variant("wRNN recurrence [tf32x3]", fused(precision="ieee"), fused(precision="tf32x3"),
                f'fused, precision "ieee"{_default_mark("ieee")}',
                f'fused, precision "tf32x3" (tensor cores){_default_mark("tf32x3")}')
        if name == "sMNIST":
            rows += _pixel_rows(device, repeats, steps, n, c, weight, bias)
        default = default_warps(c, n)
        for warps in TUNING_WARPS[name]:
            variant(f"wRNN recurrence [{warps} warps]", fused(), fused(warps=warps),
                    f"fused, {default} warps (the default)", f"fused, {warps} warps")
    return rows


def _pixel_rows(device: torch.device, repeats: int, steps: int, n: int, c: int, weight: torch.Tensor,
                bias: torch.Tensor) -> list[Comparison]:
    """sMNIST's input (one pixel a step) and loss (the last step): V as one matmul outside, every state, the last
    selected (what the wRNN did before) against the projection inside the kernels and the last state only
    (:func:`~wavelib.models.wave_rnn_fused.fused_wave_rnn_pixels`); then that path at the two precisions."""
    from wavelib.models.wave_rnn_fused import fused_wave_rnn_pixels, fused_wave_rnn_recurrence

    gen = torch.Generator(device=device).manual_seed(SEED + 1)
    x = torch.rand(BATCH, steps, 1, generator=gen, device=device)
    v_weight = torch.zeros(c * n, 1, device=device)
    v_weight.view(c, n)[:, 0] = 1.0  # the paper's sparse-identity V, plus a little (non-negative) noise
    v_weight = (v_weight + 0.01 * torch.rand(c * n, 1, generator=gen, device=device)).requires_grad_()
    v_bias = (0.01 * torch.rand(c * n, generator=gen, device=device)).requires_grad_()
    out_weight = torch.randn(BATCH, c * n, generator=gen, device=device)
    params = (v_weight, v_bias, weight, bias)
    outside = forward_backward(lambda: fused_wave_rnn_recurrence(F.linear(x, v_weight, v_bias), weight, bias, c,
                                                                 n)[:, -1], params, out_weight)

    def inside(precision: str | None) -> Callable[[], list[torch.Tensor]]:
        return forward_backward(lambda: fused_wave_rnn_pixels(x, v_weight, v_bias, weight, bias, c, n, last=True,
                                                               precision=precision), params, out_weight)

    shapes, scale = _describe("sMNIST", steps, f"n {n}, c {c}, last step"), scales(outside())
    return [compare("wRNN pixels [in kernel]", shapes, outside, inside(None), device, repeats=repeats, warmup=1,
                    scale=scale, tolerance=RTOL, reference_label="fused, V outside, every state, the last selected",
                    fast_label="fused, V inside the kernels, last state only"),
            compare("wRNN pixels [tf32x3]", shapes, inside("ieee"), inside("tf32x3"), device, repeats=repeats,
                    warmup=1, scale=scale, tolerance=RTOL,
                    reference_label=f'V inside, precision "ieee"{_default_mark("ieee")}',
                    fast_label=f'V inside, precision "tf32x3" (tensor cores){_default_mark("tf32x3")}')]


def _task_batch(name: str, device: torch.device) -> tuple[Callable[[torch.nn.Module], torch.Tensor], int, int]:
    """A training batch at the row's shapes: (its loss as a function of the model, n_in, n_out). Copy: the
    text-format task at T = 480, cross-entropy over every position; sMNIST: random pixels, cross-entropy of the
    last step (the model's ``last=True``, as the image trainer asks)."""
    gen = torch.Generator().manual_seed(SEED)
    if name.startswith("copy"):
        task = SequenceTaskSpec("copy", T=480, batch=BATCH, steps=1, lr=1e-3, clip=1.0, eval_every=1)
        x, y = task.sample(BATCH, gen, device)
        return lambda model: task.loss(task.outputs(model, x), y), task.n_in, task.n_out
    steps = SHAPES[name][0]
    x = torch.rand(BATCH, steps, 1, generator=gen).to(device)
    y = torch.randint(0, 10, (BATCH,), generator=gen).to(device)
    return lambda model: F.cross_entropy(model(x, last=True), y), 1, 10


def train_step(name: str, backend: str, device: torch.device,
               fused_options: dict[str, Any] | None = None) -> Callable[[], list[torch.Tensor]]:
    """One whole wRNN training step at shape ``name`` of :data:`SHAPES` with recurrence ``backend`` (the fused one
    with ``fused_options``: None, its defaults), weights of :data:`SEED`: returns the loss and the clipped gradients.
    Call it inside :func:`true_float32`."""
    steps, n, c = SHAPES[name]
    loss_fn, n_in, n_out = _task_batch(name, device)
    with isolated_rng(SEED, device):  # both sides start from the same weights
        model = WaveRNN(n_in, n, c, n_out).to(device)
    model.recurrence_backend, model.fused_options = backend, dict(fused_options or {})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run() -> list[torch.Tensor]:
        loss = loss_fn(model)
        optimizer_step(model, optimizer, loss, clip=1.0)
        return [loss.detach(), *(p.grad.detach().clone() for p in model.parameters())]
    return run


def _fused_problem(name: str, device: torch.device) -> str | None:
    from wavelib.models.wave_rnn_fused import fused_problem

    _, n, c = SHAPES[name]
    return fused_problem(torch.empty(0, device=device), c, n)  # it looks at device and dtype only


def train_step_rows(device: torch.device, repeats: int) -> list[Comparison]:
    """One whole wRNN training step (forward, loss, backward, clipping, Adam) with the reference recurrence
    against the fused one, where it runs, with its defaults and with each of the shape's :func:`train_candidates`
    (those that run here). The check compares the first step's loss and clipped gradients."""
    rows = []
    for name, (steps, n, c) in SHAPES.items():
        problem = _fused_problem(name, device)
        if problem is not None:
            print(f"bench_wave_rnn: skipping the wRNN training-step row [{name}] on {device}: {problem}",
                  file=sys.stderr)
            continue
        shapes = _describe(name, steps, f"n {n}, c {c}").replace("fwd+bwd", "Adam")
        with true_float32():
            scale = scales(train_step(name, "reference", device)())
            variants = [("wRNN train step", {}, "WaveRNN, Triton fused recurrence")] + [
                (f"wRNN train step [{candidate}]", options, f"WaveRNN, Triton fused recurrence, {_words(options)}")
                for candidate, options in _candidates(name, device).items()]
            for label, options, fast_label in variants:
                rows.append(compare(label, shapes, train_step(name, "reference", device),
                                    train_step(name, "fused", device, options), device, repeats=repeats, warmup=1,
                                    scale=scale, tolerance=RTOL, reference_label="WaveRNN, per-step loop recurrence",
                                    fast_label=fast_label))
    return rows


def _words(options: dict[str, Any]) -> str:
    """Fused-kernel options in words: ``precision "ieee"``."""
    return ", ".join(f'{key} "{value}"' for key, value in options.items())


def _candidates(name: str, device: torch.device) -> dict[str, dict[str, Any]]:
    """Shape ``name``'s :func:`train_candidates` that can run on ``device`` (the others skipped, with a note)."""
    from wavelib.models.wave_rnn_columns import columns_problem

    _, n, c = SHAPES[name]
    runnable = {}
    for candidate, options in train_candidates()[name].items():
        problem = columns_problem(torch.empty(0, device=device), c, n) if options.get("kernel") == "columns" else None
        if problem is None:
            runnable[candidate] = options
        else:
            print(f"bench_wave_rnn: skipping the candidate {candidate} [{name}] on {device}: {problem}",
                  file=sys.stderr)
    return runnable


def profiles(device: torch.device) -> dict[str, Callable[[], object]]:
    """The training steps ``benchmarks/profile_steps.py`` breaks down: the wRNN's with the recurrence it uses on
    ``device`` (fused where it runs; on the CPU the copy shapes only, with the reference loop), and where the fused
    one runs, with each candidate of :func:`train_candidates` (where the time would go were it the default)."""
    names = [name for name in SHAPES if _fused_problem(name, device) is None] or ["copy T=480"]
    out = {}
    for name in names:
        backend = "fused" if _fused_problem(name, device) is None else "reference"
        steps, n, c = SHAPES[name]
        label = f"wRNN train step [{name}] batch {BATCH}, {steps} steps, n {n}, c {c}, {backend} recurrence"
        out[label] = train_step(name, backend, device)
        if backend == "fused":
            for options in _candidates(name, device).values():
                out[f"{label}, {_words(options)}"] = train_step(name, backend, device, options)
    return out


def irnn_rows(device: torch.device, repeats: int) -> list[Comparison]:
    """A per-step ReLU RNN loop against ``torch.nn.RNN`` (cuDNN on CUDA) with the same weights."""
    rows = []
    for name, (steps, n, _) in SHAPES.items():
        with isolated_rng(SEED, device):
            rnn = torch.nn.RNN(1, n, nonlinearity="relu", batch_first=True).to(device)
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(torch.eye(n))  # the iRNN's identity init
        gen = torch.Generator(device=device).manual_seed(SEED)
        x = torch.rand(BATCH, steps, 1, generator=gen, device=device).requires_grad_()
        out_weight = torch.randn(BATCH, steps, n, generator=gen, device=device)
        params = (x, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)

        def loop() -> torch.Tensor:
            h, states = x.new_zeros(BATCH, n), []
            drive = x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0  # (B, T, n)
            for drive_t in drive.unbind(1):  # not drive[:, t]: each select's backward fills a full-size tensor
                h = torch.relu(torch.addmm(drive_t, h, rnn.weight_hh_l0.T))
                states.append(h)
            return torch.stack(states, dim=1)

        reference = forward_backward(loop, params, out_weight)
        fast = forward_backward(lambda: rnn(x)[0], params, out_weight)
        scale = scales(reference())
        rows.append(compare("iRNN", _describe(name, steps, f"n {n}"), reference,
                            fast, device, repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                            reference_label="per-step loop (autograd)",
                            fast_label="torch.nn.RNN (cuDNN on CUDA)"))
    return rows


def benchmarks(device: torch.device, repeats: int) -> list[Comparison]:
    """wRNN reference vs fused (recurrence, and whole training step) where the fused path runs, and iRNN loop vs
    ``torch.nn.RNN``, at copy and sMNIST shapes."""
    return wave_rows(device, repeats) + train_step_rows(device, repeats) + irnn_rows(device, repeats)
