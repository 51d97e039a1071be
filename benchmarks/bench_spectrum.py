"""Chapter 2's hot path: one training step of all seeds of a Table 1 cell in one ``BatchedElman``
(``wavelib.training.hds.train_step``) against the obvious way, one ``torch.nn.RNN`` + ``Linear`` per seed
stepped one after another (each with its own Adam and ``clip_grad_norm_``).

Both sides start from the same weights (the reference builds each model in ``isolated_rng(seed)``, i.e. right
after ``torch.manual_seed(seed)``, which ``BatchedElman`` replicates) and train on the same fixed batch at the
full horizon (100 closed-loop steps after the ``s`` input steps), float32. The check is the max abs difference of the
seeds' losses at the first call. The reference runs with cuDNN's TF32 off so that both sides compute in true float32.
Rows: the ``paper`` preset's largest cell (s = d = 8, H = 128, 20 seeds); on the CPU also the ``cpu`` preset; on
CUDA also the grouped step of all cells of H = 128 against those cells stepped one after another, and that grouped
step on the reference recurrence against the fused one (where triton runs). ``BatchedElman`` picks the fused
recurrence on CUDA by itself, so the other CUDA rows' fast sides use it too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

from wavelib.benchmarking import Comparison, compare
from wavelib.devices import true_float32
from wavelib.experiments.spectrum import PRESETS, SpectrumConfig
from wavelib.models.elman import BatchedElman
from wavelib.models.elman_fused import fused_problem
from wavelib.seeding import isolated_rng
from wavelib.tasks.linear_hds import sample_hds_batch, task_operator
from wavelib.training.hds import PAPER_H_MAX, HDSTraining, group_optimizer, train_step

SEED = 0


def reference_step(cfg: HDSTraining, seeds: list[int], inputs: torch.Tensor,
                   targets: torch.Tensor) -> Callable[[], torch.Tensor]:
    """One ``nn.RNN(bias=False)`` + ``Linear`` per seed with its own Adam; the callable steps each in turn."""
    device = inputs.device
    models = []
    for seed in seeds:
        with isolated_rng(seed, device):
            rnn = torch.nn.RNN(cfg.d, cfg.hidden, nonlinearity="tanh", bias=False, batch_first=True).to(device)
            readout = torch.nn.Linear(cfg.hidden, cfg.d, bias=False).to(device)
        params = list(rnn.parameters()) + list(readout.parameters())
        models.append((rnn, readout, params, torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.l2)))

    def step() -> torch.Tensor:
        losses = []
        with true_float32():
            for m, (rnn, readout, params, optimizer) in enumerate(models):
                y = readout(rnn(inputs[m])[0])[:, cfg.s:]
                loss = torch.nn.functional.mse_loss(y, targets[m])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.clip)
                optimizer.step()
                losses.append(loss.detach())
        return torch.stack(losses)

    return step


def fast_step(cfg: HDSTraining, seeds: list[int], inputs: torch.Tensor,
              targets: torch.Tensor) -> Callable[[], torch.Tensor]:
    """All seeds in one ``BatchedElman``, optimised as ``train_hds`` does; the callable is one ``train_step``."""
    device = inputs.device
    model = BatchedElman(len(seeds), cfg.d, cfg.hidden, cfg.d, seeds).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.l2,
                                 fused=True if device.type == "cuda" else None)
    horizon = torch.full((len(seeds),), targets.shape[2], device=device)
    return lambda: train_step(model, optimizer, inputs, targets, horizon, cfg.clip).loss


def group_rows(device: torch.device, repeats: int, spec: SpectrumConfig = PRESETS["paper"]) -> list[Comparison]:
    """The ``paper`` preset's cells of the largest H (every task and L2) stepped one cell after another (each a
    batched model of its seeds) against one grouped model of all of them, as ``train_hds_group`` trains them.
    The check: every model's loss."""
    seeds = list(range(spec.n_seeds))
    cells = [HDSTraining(task=task, s=spec.s, d=spec.d, hidden=max(spec.hiddens), l2=l2)
             for task in spec.tasks for l2 in spec.l2s]
    gen = torch.Generator(device=device).manual_seed(SEED)
    data = [sample_hds_batch(task_operator(cell.task, cell.s, cell.d), len(seeds), cell.batch, PAPER_H_MAX, gen,
                             device, torch.float32) for cell in cells]
    horizon = torch.full((len(seeds) * len(cells),), PAPER_H_MAX, device=device)

    def one_by_one() -> Callable[[], torch.Tensor]:
        steps = [fast_step(cell, seeds, inputs, targets) for cell, (inputs, targets) in zip(cells, data)]
        return lambda: torch.cat([step() for step in steps])

    def grouped(backend: str = "auto") -> Callable[[], torch.Tensor]:
        model = BatchedElman(len(seeds) * len(cells), spec.d, max(spec.hiddens), spec.d, seeds * len(cells))
        model = model.to(device)
        model.recurrence_backend = backend
        optimizer, weight_decay = group_optimizer(model, cells, len(seeds))
        inputs, targets = (torch.cat(parts) for parts in zip(*data))
        return lambda: train_step(model, optimizer, inputs, targets, horizon, cells[0].clip, weight_decay).loss

    shapes = (f"{len(cells)} cells x {len(seeds)} seeds, s=d={spec.s}, H={max(spec.hiddens)}, "
              f"batch {cells[0].batch}, {spec.s}+{PAPER_H_MAX} steps, float32")
    rows = [compare("spectrum.train_step [paper, grouped]", shapes, one_by_one(), grouped(), device,
                    repeats=repeats, warmup=1, tolerance=1e-5,
                    reference_label="BatchedElman per cell (its seeds at once), cell after cell",
                    fast_label="one BatchedElman of every cell (train_hds_group)")]
    problem = fused_problem(torch.empty(0, device=device), max(spec.hiddens))
    if problem is not None:
        print(f"bench_spectrum: skipping the fused Elman row on {device}: {problem}", file=sys.stderr)
        return rows
    return rows + [compare("spectrum.train_step [paper, grouped, recurrence]", shapes, grouped("reference"),
                           grouped("fused"), device, repeats=repeats, warmup=1, tolerance=1e-5,
                           reference_label="grouped step, per-step baddbmm + tanh loop (elman_recurrence reference)",
                           fast_label="grouped step, Triton fused recurrence (elman_recurrence fused)")]


def benchmarks(device: torch.device, repeats: int) -> list[Comparison]:
    """One training step at the full horizon: the ``paper`` preset's H = 128 cell (and on the CPU the ``cpu``
    preset)."""
    rows = []
    for preset in ("paper", "cpu") if device.type == "cpu" else ("paper",):
        spec = PRESETS[preset]
        cfg = HDSTraining(task="repeat_copy", s=spec.s, d=spec.d, hidden=max(spec.hiddens), l2=0.0)
        seeds = list(range(spec.n_seeds))
        gen = torch.Generator(device=device).manual_seed(SEED)
        inputs, targets = sample_hds_batch(task_operator(cfg.task, cfg.s, cfg.d), len(seeds), cfg.batch,
                                           PAPER_H_MAX, gen, device, torch.float32)
        rows.append(compare(
            f"spectrum.train_step [{preset}]",
            f"{len(seeds)} seeds, s=d={cfg.s}, H={cfg.hidden}, batch {cfg.batch}, "
            f"{cfg.s}+{PAPER_H_MAX} steps, float32",
            reference_step(cfg, seeds, inputs, targets), fast_step(cfg, seeds, inputs, targets),
            device, repeats=repeats, warmup=1, tolerance=1e-5,
            reference_label="one nn.RNN + Linear per seed, stepped in turn",
            fast_label="BatchedElman + train_step (all seeds at once)",
        ))
    return rows + (group_rows(device, repeats) if device.type == "cuda" else [])  # 240 models: seconds on a CPU
