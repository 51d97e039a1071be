"""Chapter 2's hot path: one training step of all seeds of a Table 1 cell in one ``BatchedElman``
(``wavelib.training.hds.train_step``) against the obvious way, one ``torch.nn.RNN`` + ``Linear`` per seed
stepped one after another (each with its own Adam and ``clip_grad_norm_``).

Both sides start from the same weights (the reference builds each model under ``torch.manual_seed(seed)``,
which ``BatchedElman`` replicates) and train on the same fixed batch at the full horizon (100 closed-loop
steps after the ``s`` input steps), float32. The check is the max abs difference of the seeds' losses at the
first call. The reference runs with cuDNN's TF32 off so that both sides compute in true float32.
Rows: the ``paper`` preset's largest cell (s = d = 8, H = 128, 20 seeds); on the CPU also the ``cpu`` preset.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from wavelib.benchmarking import Comparison, compare
from wavelib.experiments.spectrum import PRESETS
from wavelib.models.elman import BatchedElman
from wavelib.tasks.linear_hds import sample_hds_batch, task_operator
from wavelib.training.hds import PAPER_H_MAX, HDSTraining, train_step

SEED = 0


def reference_step(cfg: HDSTraining, seeds: list[int], inputs: torch.Tensor,
                   targets: torch.Tensor) -> Callable[[], torch.Tensor]:
    """One ``nn.RNN(bias=False)`` + ``Linear`` per seed with its own Adam; the callable steps each in turn."""
    device = inputs.device
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        rnn = torch.nn.RNN(cfg.d, cfg.hidden, nonlinearity="tanh", bias=False, batch_first=True).to(device)
        readout = torch.nn.Linear(cfg.hidden, cfg.d, bias=False).to(device)
        params = list(rnn.parameters()) + list(readout.parameters())
        models.append((rnn, readout, params, torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.l2)))

    def step() -> torch.Tensor:
        losses = []
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
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


def benchmarks(device: torch.device, repeats: int) -> list[Comparison]:
    """One training step at the full horizon: the ``paper`` preset's H = 128 cell (and on the CPU the ``cpu`` preset)."""
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
    return rows
