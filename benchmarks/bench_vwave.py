"""Chapter 5's hot paths, one forward and one backward pass each: Mamba's selective scan and its short mixer.

Every timed call runs the forward pass and the backward pass of ``(out * w).sum()`` for a fixed random ``w``
and returns the forward output and the gradients w.r.t. every input; the check (outside the timed calls) divides
each by its largest magnitude in the reference's output (measured once, before timing). So ``check`` is the
largest error of any part relative to that part's scale (dimensionless; the weight gradients, summed over batch and
time, would otherwise swamp the output's errors), and the tolerance is :data:`RTOL` for every row. float32, all inputs
drawn once before timing. Rows per shape:

- ``scan``: ``selective_scan`` with backend ``"sequential"`` (per-step autograd loop over decays and inputs computed
  for all steps at once, as ``mamba_ssm``'s ``selective_scan_ref``: the reference) against
  ``"chunked"``, ``"recurrent"``, on CUDA where triton runs ``"fused"``, and where ``mamba_ssm`` runs ``"cuda"``;
  inputs as in Mamba at init (delta log-uniform in [1e-3, 1e-1], A[d] = -(1..N), u, B, C standard normal, D = 1).
- ``scan: fused [BD b, w warps]`` (CUDA, where the fused scan runs): the fused scan with ``b`` channels and ``w``
  warps per program (:data:`SCAN_LAYOUTS`) against its defaults (32 channels, 2 warps). One warp per program
  keeps the backward's sums over channels (dB, dC) inside a warp: no barrier per step. Compiled for sm_90
  (Triton 3.6), none of these spills (backward registers: BD 8, 1 warp 128; BD 16, 1 warp 241; BD 16, 2 warps
  128; the default 254),
  while BD 32 on 1 warp and BD 64 on 2 spill in the backward (56 and 64 bytes of stack), so they are not timed.
  Where a row's ratio is above 1, change the defaults in ``wavelib/models/selective_scan_fused.py``.
- ``mixer (v=1) vs conv1d``: ``VWaveMixer`` at v = 1 against ``CausalConv`` with the same weights. The two
  compute the same function, so the check is real. The v-wave path (closed-form kernel, then a direct or FFT
  causal convolution) does the same work at every velocity, so this row's fast time is the cost of the
  v-wave mixer at any v, and its ratio is the conv's advantage over it (< 1: the v-wave mixer is slower).
- ``mixer (v=0.25) vs recurrence``: ``VWaveMixer`` at v = 0.25 against the explicit recurrence
  ``vwave_states`` read out with the same weights (``y_t = sum_i w[i] h_t[i] + bias``), the slow oracle of
  the same function. Its ratio is what the closed form saves over stepping the state, not a cost relative to
  the conv; a v < 1 mixer cannot be checked against the conv, which computes something else.
- ``copy LM train step``: one whole training step of the chapter's v-Wave Mamba (:data:`STEP_MODEL`: sampled copy
  batch, forward, cross-entropy on the answer tokens, backward, clipping, AdamW) with the scan backend that
  ``"auto"`` picks there (on CUDA ``"fused"`` where triton runs) against the pure-PyTorch ``"recurrent"`` scan
  (on the CPU, where ``"auto"`` is ``"recurrent"``, against ``"sequential"``). Same weights and batch on both
  sides; the check compares the first step's loss and clipped gradients. The Performance page projects
  Chapter 5's run times from these rows (evaluation every ``eval_every`` steps not included).
- ``copy LM train step [CUDA graph]`` (CUDA): the same step, AdamW ``capturable`` on both sides, run eagerly
  against captured once in a CUDA graph and replayed (:class:`wavelib.training.graphs.GraphedStep`: what the
  ``cuda_graph`` knob of Chapter 5 does). Both sides first take the graph's warm-up steps, so the check compares
  the same step's loss and gradients. A ratio well above 1 says the step is bound by kernel launches.
- ``copy LM train steps, N runs at once``: one training step each of :data:`CONCURRENT_RUNS` such models
  (seeds 0, 1, ...: the paper preset's seeds per model; scan "auto"), one model after another, against the same
  steps in as many threads, each on a CUDA stream of its own (:func:`wavelib.grid.on_own_stream`, what
  ``train --workers N`` does with whole runs). Its ratio is the throughput ``--workers N`` gains over one run at a
  time; the check compares every model's first loss and gradients, which concurrency must not change.
- ``copy LM train steps, N runs at once [CUDA graph]`` (CUDA): the same with each model's step captured in a CUDA
  graph (as ``train --workers N --cuda-graph`` trains), and each step first sampling its own batch on the host as
  ``train_copy`` does (that Python work holds the GIL, which the threads share): graphs replayed one model after
  another against all at once. One replay is one launch, so the threads' host work is small and the question is
  whether the GPU runs the models' small kernels side by side. ``scripts/gpu_session.py`` trains Chapter 5 with
  ``--workers N`` where this row (with graphs) or the row above (without) gains enough.

Shapes (batch, d_inner = 2·d_model, N = d_state, L = the training context length): Chapter 5's ``paper``
preset at every length on CUDA; on the CPU the ``cpu`` preset, plus ``paper`` at its shortest length when
one reference scan call there takes under :data:`CPU_PAPER_LIMIT_S` (else skipped with a note on stderr).
cuDNN runs without TF32 on both sides, so CUDA rows compare true float32.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from wavelib.benchmarking import Comparison, RowCollector, compare, forward_backward, scales
from wavelib.devices import true_float32
from wavelib.experiments.vwave import PRESETS, VWaveConfig
from wavelib.grid import on_own_stream
from wavelib.models.selective_scan import available_backends, resolve_backend, selective_scan
from wavelib.models.selective_scan_fused import BLOCK_D, NUM_WARPS, fused_selective_scan
from wavelib.models.short_mixers import CausalConv, VWaveMixer, vwave_states
from wavelib.seeding import isolated_rng
from wavelib.tasks.copy_strings import VOCAB_SIZE, CopyBatch
from wavelib.training.copy_lm import CopyTraining, copy_loss, parameter_groups, sample_training_batch
from wavelib.training.graphs import GraphedStep, learning_rates_on_device
from wavelib.training.optim import optimizer_step

SEED = 0
RTOL = 1e-4  #: tolerance on the check, an error relative to each output part's scale (float32)
CPU_PAPER_LIMIT_S = 2.0  #: on the CPU, paper shapes run only if one reference scan call is faster (s)
SLOW_V = 0.25  #: velocity of the v < 1 mixer row
CELLS = 4  #: short-mixer state size K (Mamba's d_conv, the models' default)
SCAN_LAYOUTS = ((8, 1), (16, 1), (16, 2))  #: (channels, warps) per program timed against the fused default
CONCURRENT_RUNS = PRESETS["paper"].n_seeds  #: models stepped at once in the concurrency row (seeds per model)
STEP_MODEL = "vwave-0.25"  #: the model of the training-step rows (Mamba's conv mixer costs less: see the mixer rows)


def scan_inputs(batch: int, channels: int, n: int, length: int, device: torch.device,
                gen: torch.Generator) -> list[torch.Tensor]:
    """(u, delta, A, B, C, D) in ``selective_scan``'s layout, as at Mamba's init, all requiring grad."""
    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, device=device)
    log_dt = math.log(1e-3) + (math.log(1e-1) - math.log(1e-3)) * torch.rand(batch, channels, length,
                                                                               generator=gen, device=device)
    A = -torch.arange(1, n + 1, dtype=torch.float32, device=device).repeat(channels, 1)
    tensors = [randn(batch, channels, length), log_dt.exp(), A, randn(batch, n, length), randn(batch, n, length),
               torch.ones(channels, device=device)]
    return [x.requires_grad_() for x in tensors]


def _timed(fn: Callable[[], list[torch.Tensor]], device: torch.device) -> tuple[list[torch.Tensor], float]:
    """``fn()`` and its wall time (s), the device synchronised."""
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def _describe(preset: str, batch: int, channels: int, what: str, length: int) -> str:
    """The shapes column of a row, e.g. ``[cpu] batch 16, d_inner 128, N 8, L 110, float32, fwd+bwd``."""
    return f"[{preset}] batch {batch}, d_inner {channels}, {what}, L {length}, float32, fwd+bwd"


def scan_rows(preset: str, batch: int, channels: int, n: int, length: int, device: torch.device, repeats: int,
              limit_s: float | None = None) -> list[Comparison]:
    """``"sequential"`` against every other backend that runs on ``device``; none if one reference call
    takes longer than ``limit_s`` (s)."""
    gen = torch.Generator(device=device).manual_seed(SEED)
    inputs = scan_inputs(batch, channels, n, length, device, gen)
    weight = torch.randn(batch, channels, length, generator=gen, device=device)

    def run(backend: str) -> Callable[[], list[torch.Tensor]]:
        return forward_backward(lambda: selective_scan(*inputs, backend=backend), inputs, weight)

    expected, seconds = _timed(run("sequential"), device)
    if limit_s is not None and seconds > limit_s:
        print(f"bench_vwave: skipping the {preset} shapes (L {length}) on {device}: one sequential scan took "
              f"{seconds:.1f} s > {limit_s:.1f} s", file=sys.stderr)
        return []
    scale = scales(expected)
    shapes = _describe(preset, batch, channels, f"N {n}", length)
    rows = [compare(f"scan: sequential vs {backend}", shapes, run("sequential"),
                    run(backend), device, repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                    reference_label='selective_scan "sequential"', fast_label=f'selective_scan "{backend}"')
            for backend in available_backends(device) if backend != "sequential"]
    if "fused" in available_backends(device) and device.type == "cuda":
        def fused(block_d: int = BLOCK_D, warps: int = NUM_WARPS) -> Callable[[], list[torch.Tensor]]:
            return forward_backward(lambda: fused_selective_scan(*inputs[:5], block_d=block_d, warps=warps)
                                    + inputs[5][:, None] * inputs[0], inputs, weight)

        rows += [compare(f"scan: fused [BD {block_d}, {warps} warp{'s' if warps > 1 else ''}]", shapes,
                         fused(), fused(block_d, warps), device,
                         repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                         reference_label=f"fused, BD {BLOCK_D}, {NUM_WARPS} warps (the default)",
                         fast_label=f"fused, BD {block_d}, {warps} warp{'s' if warps > 1 else ''}")
                 for block_d, warps in SCAN_LAYOUTS]
    return rows


def mixer_rows(preset: str, batch: int, channels: int, length: int, device: torch.device,
               repeats: int) -> list[Comparison]:
    """The v-wave mixer at v = 1 against the conv, and at v = :data:`SLOW_V` against its explicit recurrence."""
    with isolated_rng(SEED, device):
        conv = CausalConv(channels, CELLS).to(device)
    gen = torch.Generator(device=device).manual_seed(SEED)
    x = torch.randn(batch, channels, length, generator=gen, device=device, requires_grad=True)
    weight = torch.randn(batch, channels, length, generator=gen, device=device)
    fast, slow = (VWaveMixer(channels, CELLS, v=v).to(device) for v in (1.0, SLOW_V))
    for mixer in (fast, slow):
        mixer.conv.load_state_dict(conv.conv.state_dict())

    def run(module: torch.nn.Module, fn: Callable[[], torch.Tensor]) -> Callable[[], list[torch.Tensor]]:
        return forward_backward(fn, (x, module.conv.weight, module.conv.bias), weight)

    def recurrence() -> torch.Tensor:  # (B, D, L): the oracle state read out by the conv weights
        states = vwave_states(x, slow.velocity, CELLS)                          # (B, D, K, L)
        return torch.einsum("bdkt,dk->bdt", states, slow.conv.weight[:, 0]) + slow.conv.bias[:, None]

    shapes = _describe(preset, batch, channels, f"K {CELLS}", length)
    cases = [("mixer (v=1) vs conv1d", "CausalConv (Mamba's conv1d)", run(conv, lambda: conv(x)),
              "VWaveMixer v=1", run(fast, lambda: fast(x))),
             (f"mixer (v={SLOW_V:g}) vs recurrence", "vwave_states recurrence + readout", run(slow, recurrence),
              f"VWaveMixer v={SLOW_V:g}", run(slow, lambda: slow(x)))]
    rows = []
    for name, ref_label, reference, fast_label, fast_fn in cases:
        scale = scales(reference())
        rows.append(compare(name, shapes, reference, fast_fn, device,
                            repeats=repeats, warmup=1, scale=scale, tolerance=RTOL, reference_label=ref_label,
                            fast_label=fast_label))
    return rows


def _copy_step(config: VWaveConfig, training: CopyTraining, scan: str, seed: int, batch: CopyBatch,
               device: torch.device) -> Callable[[], list[torch.Tensor]]:
    """One training step of :data:`STEP_MODEL` with scan ``scan``, weights of ``seed``, on ``batch``: returns the
    loss and the clipped gradients. Call it inside :func:`true_float32` (a global setting: not per thread)."""
    with isolated_rng(seed, device):
        model = config.replace(scan=scan).spec(STEP_MODEL).build(VOCAB_SIZE).to(device)
    optimizer = torch.optim.AdamW(parameter_groups(model, training.weight_decay), lr=training.lr)

    def run() -> list[torch.Tensor]:
        loss = copy_loss(model, batch.inputs, batch.targets, batch.loss_mask)
        optimizer_step(model, optimizer, loss, training.clip)
        return [loss.detach(), *(p.grad.detach() for p in model.parameters())]  # views: no copy kernels timed
    return run


def _describe_step(preset: str, training: CopyTraining, runs: int = 1) -> str:
    spec = PRESETS[preset].spec(STEP_MODEL)
    return (f"[{preset}] {STEP_MODEL}{f' x {runs}' if runs > 1 else ''}, d_model {spec.d_model}, {spec.n_layers} "
            f"layers, batch {training.batch}, L {training.context_len}, float32, AdamW")


def _batch(training: CopyTraining, device: torch.device) -> CopyBatch:
    return sample_training_batch(training.batch, training.context_len, training.min_len, training.max_len,
                                 torch.Generator().manual_seed(SEED), device)


def train_step_row(preset: str, length: int, device: torch.device, repeats: int) -> Comparison:
    """One training step of :data:`STEP_MODEL` at ``preset``'s copy ``length``: the scan ``"auto"`` resolves
    to against ``"recurrent"`` (``"sequential"`` where ``"auto"`` is ``"recurrent"``)."""
    config = PRESETS[preset]
    training = config.training(length)
    fast = resolve_backend("auto", device, torch.float32)
    reference = "sequential" if fast == "recurrent" else "recurrent"
    batch = _batch(training, device)

    def step(scan: str) -> Callable[[], list[torch.Tensor]]:
        return _copy_step(config, training, scan, SEED, batch, device)  # both sides start from the same weights

    with true_float32():
        scale = scales(step(reference)())
        return compare("copy LM train step", _describe_step(preset, training), step(reference),
                       step(fast), device, repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                       reference_label=f'scan "{reference}"', fast_label=f'scan "{fast}" ("auto")')


def _capturable_step(config: VWaveConfig, training: CopyTraining, seed: int,
                     device: torch.device) -> tuple[Callable[..., torch.Tensor], torch.nn.Module]:
    """:data:`STEP_MODEL`'s training step ``step(inputs, targets, mask) -> loss`` as ``train_copy`` builds it
    with ``cuda_graph`` (weights of ``seed``, AdamW ``capturable`` with its learning rate on the device), and the
    model."""
    with isolated_rng(seed, device):
        model = config.spec(STEP_MODEL).build(VOCAB_SIZE).to(device)
    optimizer = torch.optim.AdamW(parameter_groups(model, training.weight_decay), lr=training.lr, capturable=True)
    learning_rates_on_device(optimizer, device)

    def step(inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        loss = copy_loss(model, inputs, targets, mask)
        optimizer_step(model, optimizer, loss, training.clip)
        return loss.detach()
    return step, model


def _step_outputs(step: Callable[..., torch.Tensor], model: torch.nn.Module,
                  batch: Callable[[], CopyBatch]) -> Callable[[], list[torch.Tensor]]:
    """A callable taking one ``step`` on ``batch()`` and returning its loss and the model's clipped gradients:
    views, not copies (no extra kernels in the timed call), which a captured graph overwrites at its next replay,
    so a check reads them before the same model steps again (as :func:`~wavelib.benchmarking.compare` does)."""
    def run() -> list[torch.Tensor]:
        data = batch()
        loss = step(data.inputs, data.targets, data.loss_mask)
        return [loss.detach(), *(p.grad.detach() for p in model.parameters())]
    return run


def graph_step_row(preset: str, length: int, device: torch.device, repeats: int) -> Comparison:
    """The copy-LM training step eagerly against captured in a CUDA graph (both with a capturable AdamW)."""
    config = PRESETS[preset]
    training = config.training(length)
    batch = _batch(training, device)
    with true_float32():
        eager_step, eager_model = _capturable_step(config, training, SEED, device)
        graph_step, graph_model = _capturable_step(config, training, SEED, device)
        graphed = GraphedStep(graph_step)
        eager = _step_outputs(eager_step, eager_model, lambda: batch)
        replayed = _step_outputs(graphed, graph_model, lambda: batch)
        for _ in range(graphed.warmup):  # both sides at the same step, the graph side eager until its capture
            eager()
            replayed()
        scale = scales(_step_outputs(*_capturable_step(config, training, SEED, device), lambda: batch)())
        return compare("copy LM train step [CUDA graph]", _describe_step(preset, training), eager,
                       replayed, device, repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                       reference_label="eager, AdamW capturable", fast_label="captured in a CUDA graph, replayed")


def _at_once_row(name: str, preset: str, training: CopyTraining, models: Callable[[], list[Callable[[], list]]],
                 device: torch.device, repeats: int, reference_label: str) -> Comparison:
    """The steps of ``models()`` (one per model, each returning its parts) one after another against all at once
    in :data:`CONCURRENT_RUNS` threads, each on a CUDA stream of its own; the models of each side, and of the
    scale, built by their own call."""
    with ThreadPoolExecutor(CONCURRENT_RUNS, thread_name_prefix="bench-run") as pool, true_float32():
        scale = scales([part for step in models() for part in step()])  # first: those models are then freed
        in_turn, at_once = models(), models()

        def one_after_another() -> list[torch.Tensor]:
            return [part for step in in_turn for part in step()]

        def all_at_once() -> list[torch.Tensor]:
            return [part for parts in pool.map(lambda step: on_own_stream(device, step), at_once) for part in parts]

        return compare(name, _describe_step(preset, training, CONCURRENT_RUNS), one_after_another, all_at_once,
                       device, repeats=repeats, warmup=1, scale=scale, tolerance=RTOL,
                       reference_label=reference_label, fast_label=f"{CONCURRENT_RUNS} threads"
                       + (", a CUDA stream each" if device.type == "cuda" else ""))


def concurrent_graphed_steps_row(preset: str, length: int, device: torch.device, repeats: int) -> Comparison:
    """A training step of each of :data:`CONCURRENT_RUNS` models, each captured in a CUDA graph and each sampling
    its own batch first as ``train_copy`` does: one model after another against all at once in threads on their
    own CUDA streams."""
    config = PRESETS[preset]
    training = config.training(length)

    def models() -> list[Callable[[], list[torch.Tensor]]]:
        steps = []
        for seed in range(CONCURRENT_RUNS):
            step, model = _capturable_step(config, training, seed, device)
            data = torch.Generator().manual_seed(seed)
            graphed = GraphedStep(step)
            steps.append(_step_outputs(graphed, model, lambda data=data: sample_training_batch(
                training.batch, training.context_len, training.min_len, training.max_len, data, device)))
            for _ in range(graphed.warmup + 1):  # captured here, so that only replays are timed
                steps[-1]()
        return steps

    return _at_once_row(f"copy LM train steps, {CONCURRENT_RUNS} runs at once [CUDA graph]", preset, training,
                        models, device, repeats, "graphs replayed one after another")


def concurrent_steps_row(preset: str, length: int, device: torch.device, repeats: int) -> Comparison:
    """A training step of each of :data:`CONCURRENT_RUNS` models, one after another against all at once in
    threads on their own CUDA streams."""
    config = PRESETS[preset]
    training = config.training(length)
    batch = _batch(training, device)

    def models() -> list[Callable[[], list[torch.Tensor]]]:
        return [_copy_step(config, training, "auto", seed, batch, device) for seed in range(CONCURRENT_RUNS)]

    return _at_once_row(f"copy LM train steps, {CONCURRENT_RUNS} runs at once", preset, training, models, device,
                        repeats, "one after another")


def profiles(device: torch.device) -> dict[str, Callable[[], object]]:
    """The training steps ``benchmarks/profile_steps.py`` breaks down: :data:`STEP_MODEL`'s with the scan "auto" picks,
    at the ``paper`` preset's lengths on CUDA, the ``cpu`` preset's on the CPU."""
    preset = "paper" if device.type == "cuda" else "cpu"
    config = PRESETS[preset]
    scan = resolve_backend("auto", device, torch.float32)
    out = {}
    for length in config.lengths:
        training = config.training(length)
        out[f"copy LM train step {_describe_step(preset, training)}, scan {scan}"] = \
            _copy_step(config, training, "auto", SEED, _batch(training, device), device)
    return out


def _shapes(config: VWaveConfig, length: int) -> tuple[int, int, int, int]:
    """(batch, d_inner, N, L) of ``config``'s Mamba models at copy length ``length``."""
    return config.batch, 2 * config.d_model, config.d_state, config.training(length).context_len


def benchmarks(device: torch.device, repeats: int) -> list[Comparison]:
    """Scan and mixer rows at the ``paper`` preset's shapes (CUDA), or the ``cpu`` preset's and, when
    affordable, the ``paper`` preset's shortest length (CPU)."""
    if device.type == "cuda":
        cases = [("paper", length, None) for length in PRESETS["paper"].lengths]
    else:
        cases = [("cpu", length, None) for length in PRESETS["cpu"].lengths]
        cases.append(("paper", min(PRESETS["paper"].lengths), CPU_PAPER_LIMIT_S))
    rows = RowCollector()  # a row that raises costs only itself
    for preset, length, limit_s in cases:
        batch, channels, n, L = _shapes(PRESETS[preset], length)
        at = f"[{preset}] L {L}"
        scans = rows.add(f"scans {at}", lambda: scan_rows(preset, batch, channels, n, L, device, repeats, limit_s))
        if scans == []:  # the reference scan too slow here (CPU): the rest would be too
            continue
        rows.add(f"mixers {at}", lambda: mixer_rows(preset, batch, channels, L, device, repeats))
        steps = [train_step_row, concurrent_steps_row] + ([graph_step_row, concurrent_graphed_steps_row]
                                                          if device.type == "cuda" else [])
        for row in steps:
            rows.add(f"{row.__name__} {at}", lambda: row(preset, length, device, repeats))
    return rows.result()
