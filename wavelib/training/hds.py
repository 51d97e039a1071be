"""Training tanh Elman RNNs on binary linear HDS (ICML 2024 §4, Appendix B), all seeds in one batched model.

Model ``m`` of a :class:`~wavelib.models.elman.BatchedElman` sees its own slice of every data batch, its own
curriculum horizon, its own loss (the total loss is the sum, so gradients stay separate), its own gradient
clipping, and Adam acts elementwise: training the stack is training each seed alone. :func:`train_hds_group`
goes one step further and trains several configurations ("cells": same sizes and schedule, own task and own
L2) as one batched model, each cell with its own data stream, as if trained alone (:func:`train_hds` is its
one-cell case: one training loop).

Curricula (per model; the batch runs to the largest current horizon and each loss is masked to its own):

- ``"paper"`` (Appendix B.2). The text: the horizon starts at ``H_0``, grows by ``gamma = 1.2`` when the loss by
  timestep ``L(t)`` "for t <= H_min" is below ``3e-2`` and shrinks by ``gamma`` when above, within
  ``[H_0, H_max] = [10, 100]``. Our reading: ``L(t)`` is an exponential moving average (factor 0.9) of the
  batch MSE at closed-loop step ``t``, updated for the steps inside the model's horizon (first value = first
  observation); after every step the mean of ``L(t)`` over the current horizon decides: below the threshold
  ``H <- ceil(1.2 H)``, above it ``H <- floor(H / 1.2)``, clipped to ``[10, 100]``.
- ``"code"`` (the public code, reference NOTES §1): levels 10, 20, 40, 60, 100; up one level when one training
  batch's bitwise accuracy (predicted bit = target, over the model's horizon) exceeds ``code_threshold``;
  never down.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import torch

from ..models.elman import INITS, BatchedElman, clip_grad_norm_per_model_, resolve_recurrence
from ..presets import ConfigError, require_positive_int
from ..tasks.linear_hds import closed_loop_map, task_operator

CURRICULA = ("paper", "code")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
PAPER_H0, PAPER_H_MAX = 10, 100  #: horizon bounds of the paper curriculum (closed-loop steps)
PAPER_THRESHOLD = 3e-2  #: loss threshold of the paper curriculum
PAPER_EMA = 0.9  #: moving-average factor of the loss by timestep
CODE_LEVELS = (10, 20, 40, 60, 100)  #: horizons of the code curriculum
TEST_BATCH = 256  #: sequences in the final test
PROBE_BATCH = 256  #: sequences in the fixed probe batch of the input-gradient norms
JACOBIAN_BATCH = 32  #: of them, the sequences of the input-Jacobian norms (forward mode: (M, B, H, s·d) tangents)
GRAD_RECORDS = ("grad_step", "grad_norms", "jacobian_norms", "grad_max_abs_eig")  #: Fig. 5's records
_TEST_STREAM, _PROBE_STREAM = 1, 2  #: generator streams derived from the run's seed (0 is the data)


@dataclasses.dataclass(frozen=True)
class HDSTraining:
    """One training configuration (all seeds share it). Paper preset: H = 128, 45,000 steps, curriculum "paper"."""

    task: str  #: a name accepted by :func:`wavelib.tasks.linear_hds.task_operator`
    s: int  #: input-phase length (steps)
    d: int  #: bits per step
    hidden: int  #: hidden units H
    l2: float  #: Adam weight decay (the code's L2)
    bias: bool = False
    init: str = "pytorch"  #: "pytorch" (uniform ±1/sqrt(H)) or "gaussian" (N(0, 1/H), Appendix B.3)
    curriculum: str = "paper"  #: "paper" or "code"
    steps: int = 45_000  #: optimizer steps (paper 45,000; code 20,000)
    batch: int = 64
    lr: float = 1e-3
    clip: float = 1.0  #: total-norm gradient clipping threshold, per model
    code_threshold: float = 0.98  #: batch accuracy that moves the code curriculum up (the code also used 0.9)
    test_horizon: int = 200  #: closed-loop steps of the final test
    log_every: int = 100  #: steps between history records
    grad_every: int = 0  #: steps between input-gradient records (0 = never)
    dtype: str = "float32"  #: "float32" or "float64"

    def __post_init__(self) -> None:
        task_operator(self.task, self.s, self.d)  # raises ValueError for an unknown task or bad sizes
        require_positive_int(hidden=self.hidden, steps=self.steps, batch=self.batch, test_horizon=self.test_horizon,
                             log_every=self.log_every)
        if isinstance(self.grad_every, bool) or int(self.grad_every) != self.grad_every or self.grad_every < 0:
            raise ValueError(f"grad_every must be a non-negative integer (0 = never), got {self.grad_every!r}")
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not (self.lr > 0 and self.clip > 0):
            raise ValueError(f"lr and clip must be positive, got lr={self.lr}, clip={self.clip}")
        if not 0 < self.code_threshold < 1:
            raise ValueError(f"code_threshold must be in (0, 1), got {self.code_threshold}")
        for name, value, valid in (("init", self.init, INITS), ("curriculum", self.curriculum, CURRICULA),
                                   ("dtype", self.dtype, tuple(DTYPES))):
            if value not in valid:
                raise ValueError(f"unknown {name} {value!r}; choose one of {valid}")


def paper_curriculum_update(horizon: torch.Tensor, ema: torch.Tensor,
                            step_mse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the paper curriculum: horizon (M,) int64, ema (M, 100) loss by timestep (NaN = never seen),
    step_mse (M, T) this batch's MSE per closed-loop step, T >= max(horizon) -> (new horizon, new ema)."""
    T = step_mse.shape[1]
    inside = torch.arange(T, device=horizon.device) < horizon[:, None]  # (M, T)
    old = ema[:, :T]
    averaged = torch.where(torch.isnan(old), step_mse, PAPER_EMA * old + (1 - PAPER_EMA) * step_mse)
    ema = torch.cat([torch.where(inside, averaged, old), ema[:, T:]], dim=1)
    mean = torch.where(inside, ema[:, :T], 0).sum(dim=1) / horizon
    grown, shrunk = (6 * horizon + 4) // 5, (5 * horizon) // 6  # ceil(1.2 H), floor(H / 1.2), exactly
    horizon = torch.where(mean < PAPER_THRESHOLD, grown, torch.where(mean > PAPER_THRESHOLD, shrunk, horizon))
    return horizon.clamp(PAPER_H0, PAPER_H_MAX), ema


def code_curriculum_update(level: torch.Tensor, accuracy: torch.Tensor, threshold: float) -> torch.Tensor:
    """One step of the code curriculum: level (M,) int64 index into CODE_LEVELS, accuracy (M,) of this batch."""
    return torch.where(accuracy > threshold, (level + 1).clamp(max=len(CODE_LEVELS) - 1), level)


def predicted_bits(outputs: torch.Tensor) -> torch.Tensor:
    """The bit an output stands for: +1 where y > 0, else -1 (a silent network, y = 0, scores chance, 0.5,
    as the reference notes expect of the failed L2 = 0.1 cells of Table 1; ``sign`` would score it 0)."""
    return torch.where(outputs > 0, 1.0, -1.0).to(outputs.dtype)


def masked_accuracy(outputs: torch.Tensor, targets: torch.Tensor, horizon: torch.Tensor) -> torch.Tensor:
    """Bitwise accuracy (M,) of outputs vs targets (M, B, T, d) over each model's first ``horizon[m]`` steps."""
    per_step = (predicted_bits(outputs) == targets).to(outputs.dtype).mean(dim=(1, 3))  # (M, T)
    inside = torch.arange(per_step.shape[1], device=horizon.device) < horizon[:, None]
    return torch.where(inside, per_step, 0).sum(dim=1) / horizon


class Step(NamedTuple):
    """What one training step returns (all detached, on the model's device)."""

    loss: torch.Tensor  #: (M,) each model's MSE over its own horizon
    step_mse: torch.Tensor  #: (M, T) MSE per closed-loop step (over batch and d)
    outputs: torch.Tensor  #: (M, B, T, d) closed-loop outputs
    grad_norm: torch.Tensor  #: (M,) gradient norm before clipping


def train_step(model: BatchedElman, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor,
               horizon: torch.Tensor, clip: float,
               weight_decay: Sequence[tuple[float, Sequence[tuple[int, int]]]] = ()) -> Step:
    """One Adam step of every model: inputs (M, B, s+T, d), targets (M, B, T, d), horizon (M,) int64 <= T.

    Model ``m``'s loss is the MSE over its first ``horizon[m]`` closed-loop steps; the sum over models is
    backpropagated, then each model's gradient is clipped to total norm ``clip``. No host sync.

    ``weight_decay``: per-model L2 as ``(value, [(start, stop), ...])`` pairs: after clipping, ``value * p`` is
    added to the gradient of models ``start .. stop-1``, which is exactly what ``torch.optim.Adam``'s own
    ``weight_decay`` does inside ``step()`` (so use it with an optimizer whose weight_decay is 0).
    """
    T = targets.shape[2]
    y, _ = model(inputs)
    outputs = y[:, :, inputs.shape[2] - T:]
    step_mse = (outputs - targets).square().mean(dim=(1, 3))  # (M, T)
    inside = torch.arange(T, device=horizon.device) < horizon[:, None]
    loss = torch.where(inside, step_mse, 0).sum(dim=1) / horizon
    optimizer.zero_grad(set_to_none=True)
    loss.sum().backward()
    grad_norm = clip_grad_norm_per_model_(model.parameters(), clip)
    if weight_decay:
        with torch.no_grad():
            params = [p for p in model.parameters() if p.grad is not None]
            for value, ranges in weight_decay:  # Adam: grad <- grad + weight_decay * param, before the moments
                torch._foreach_add_([p.grad[a:b] for p in params for a, b in ranges],
                                    [p[a:b] for p in params for a, b in ranges], alpha=value)
    optimizer.step()
    return Step(loss.detach(), step_mse.detach(), outputs.detach(), grad_norm)


def input_gradient_norms(model: BatchedElman, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """NOTES §1's reading of Fig. 5, Eq. 10's left side: ``||dC(s+1)/du(i)||`` for i = 1..s, mean over the
    batch -> (M, s).

    inputs (M, B, s+1, d) (the last step zero), targets (M, B, 1, d); ``C(s+1)`` is each sequence's MSE (over d)
    at the first closed-loop step. It carries the factor dC/dy, so it shrinks with the error as training
    succeeds. Parameter gradients are left untouched.
    """
    u = inputs.detach().requires_grad_(True)
    y, _ = model(u)
    cost = (y[:, :, -1] - targets[:, :, 0]).square().mean(dim=2)  # (M, B): sequences are independent
    (grad,) = torch.autograd.grad(cost.sum(), u)
    return grad[:, :, :-1].norm(dim=3).mean(dim=1)


def input_jacobian_norms(model: BatchedElman, inputs: torch.Tensor) -> torch.Tensor:
    """The factor Eqs. 13–16 bound, free of the error: ``||dh(s+1)/du(i)||_F / sqrt(d)`` for i = 1..s, mean
    over the batch -> (M, s); 1 = input ``i`` reaches the first closed-loop state as strongly as the identity.

    inputs (M, B, s+1, d) (the last step zero). Forward mode: the tangents of all s·d input components travel
    together, (M, H, B·s·d), one batched matmul per step: ``T(t) = (1 - h(t)^2) * (W_hh T(t-1) + W_ih E_t)``.
    """
    with torch.no_grad():
        M, B, steps, d = inputs.shape
        s, H = steps - 1, model.hidden
        drive = torch.matmul(inputs, model.W_ih.transpose(1, 2)[:, None])  # (M, B, s+1, H)
        if model.has_bias:
            drive = drive + model.b[:, None, None, :]
        h = drive.new_zeros(M, B, H)
        tangent = drive.new_zeros(M, H, B, s * d)
        for t in range(steps):
            h = torch.tanh(drive[:, :, t] + torch.bmm(h, model.W_hh.transpose(1, 2)))
            tangent = torch.bmm(model.W_hh, tangent.view(M, H, B * s * d)).view(M, H, B, s * d)
            if t < s:
                tangent[..., t * d:(t + 1) * d] += model.W_ih[:, :, None, :]
            tangent *= (1 - h.square()).transpose(1, 2)[..., None]
        norms = tangent.view(M, H, B, s, d).square().sum(dim=(1, 4)).sqrt() / d ** 0.5  # (M, B, s)
        return norms.mean(dim=1)


def gradient_record_steps(steps: int, every: int) -> set[int]:
    """The steps after which Fig. 5's measures are taken: 0, the 1-2-5 sequence below ``every`` (the largest
    |eig(W_hh)| crosses 1 within the first tens of steps), then every ``every`` steps up to ``steps``."""
    if every < 1:
        return set()
    early = {m * 10 ** k for k in range(len(str(every))) for m in (1, 2, 5)}
    return {0} | {n for n in early if n < every and n <= steps} | set(range(every, steps + 1, every))


def _score(model: BatchedElman, inputs: torch.Tensor, targets: torch.Tensor, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Bitwise accuracy (M,) and MSE (M,) of the closed-loop outputs (after the ``s`` input steps) vs targets."""
    with torch.no_grad():
        outputs = model(inputs)[0][:, :, s:]
    accuracy = (predicted_bits(outputs) == targets).double().mean(dim=(1, 2, 3))
    mse = (outputs - targets).double().square().mean(dim=(1, 2, 3))
    return accuracy.cpu().numpy(), mse.cpu().numpy()


def _stream_seed(seed: int, stream: int) -> int:
    """An independent generator seed for ``stream`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def _initial_curriculum(cfg: HDSTraining, M: int, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    if cfg.curriculum == "paper":
        return {"horizon": torch.full((M,), PAPER_H0, dtype=torch.long, device=device),
                "ema": torch.full((M, PAPER_H_MAX), float("nan"), dtype=dtype, device=device)}
    return {"horizon": torch.full((M,), CODE_LEVELS[0], dtype=torch.long, device=device),
            "level": torch.zeros(M, dtype=torch.long, device=device)}


def _advance(cfg: HDSTraining, state: dict[str, Any], step: Step, targets: torch.Tensor,
             levels: torch.Tensor) -> dict[str, Any]:
    if cfg.curriculum == "paper":
        horizon, ema = paper_curriculum_update(state["horizon"], state["ema"], step.step_mse)
        return {"horizon": horizon, "ema": ema}
    accuracy = masked_accuracy(step.outputs, targets, state["horizon"])
    level = code_curriculum_update(state["level"], accuracy, cfg.code_threshold)
    return {"horizon": levels[level], "level": level}


def _max_abs_eig(W: np.ndarray) -> np.ndarray:
    """Largest |eigenvalue| of each matrix: W (M, H, H) -> (M,)."""
    return np.abs(np.linalg.eigvals(W)).max(axis=1)


def _eig_workers(device: torch.device) -> int:
    """CPU threads for the ``max_abs_eig`` records: all cores but one beside an accelerator, else none extra."""
    return max(1, (os.cpu_count() or 1) - 1) if device.type != "cpu" else 1


class _SpectralRadii:
    """The ``max_abs_eig`` records (M,) of W_hh over training. On the CPU each is computed at once; when the
    models train on an accelerator, on the otherwise idle CPU cores while training goes on (LAPACK releases the
    GIL): 240 eigendecompositions of 128 x 128 every 100 steps would otherwise take as long as the training.
    Either way each record is the same :func:`_max_abs_eig` of the same float64 copy of W_hh."""

    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(workers) if workers > 1 else None
        self.workers = workers

    def record(self, model: BatchedElman) -> np.ndarray | list[Future]:
        W = model.W_hh.detach().to("cpu", torch.float64).numpy()
        if self.pool is None:
            return _max_abs_eig(W)
        return [self.pool.submit(_max_abs_eig, chunk) for chunk in np.array_split(W, self.workers)]

    @staticmethod
    def resolve(records: list) -> None:
        """Replace every pending record of ``records`` by its (M,) array, in place."""
        for i, record in enumerate(records):
            if isinstance(record, list):
                records[i] = np.concatenate([future.result() for future in record])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


_PER_CELL = ("task", "l2")  #: the HDSTraining fields that may differ between the cells of a group


def _check_group(cells: Sequence[HDSTraining]) -> None:
    if not cells:
        raise ValueError("give at least one cell")
    if any(not isinstance(cell, HDSTraining) for cell in cells):
        raise ValueError("every cell must be an HDSTraining")
    shared = [f.name for f in dataclasses.fields(HDSTraining) if f.name not in _PER_CELL]
    for k, cell in enumerate(cells[1:], start=1):
        differ = [name for name in shared if getattr(cell, name) != getattr(cells[0], name)]
        if differ:
            raise ValueError(f"cells of a group may differ only in {_PER_CELL}; cell {k} differs from cell 0 in "
                             f"{differ}")


def group_optimizer(model: BatchedElman, cells: Sequence[HDSTraining], n_seeds: int
                    ) -> tuple[torch.optim.Adam, list[tuple[float, list[tuple[int, int]]]]]:
    """Adam for a group's model (``n_seeds`` models per cell, cell after cell) and the per-model L2 that
    :func:`train_step` adds (``weight_decay``): with one L2 for all cells, Adam's own ``weight_decay`` does it
    (the single-cell arithmetic) and the list is empty."""
    l2s = sorted(set(cell.l2 for cell in cells))
    uniform = len(l2s) == 1
    ranges = [(c * n_seeds, (c + 1) * n_seeds) for c in range(len(cells))]
    weight_decay = [] if uniform else [(l2, [r for r, cell in zip(ranges, cells) if cell.l2 == l2])
                                       for l2 in l2s if l2 != 0]
    optimizer = torch.optim.Adam(model.parameters(), lr=cells[0].lr, weight_decay=l2s[0] if uniform else 0.0,
                                 fused=True if model.W_hh.device.type == "cuda" else None)
    return optimizer, weight_decay


TRAIN_LENGTH = max(PAPER_H_MAX, max(CODE_LEVELS))  #: the longest training horizon


class _GroupData:
    """Batches of a group (training, probe and test): cell ``c`` draws its ``n_models`` bits from its own
    generator exactly as ``linear_hds.sample_hds_batch`` would (same shape, same order), so each cell's data stream is
    the one it gets trained alone; the targets of all models come from one batched matmul with each model's
    closed-loop map, computed once for up to ``length`` steps (exact: ±1 bits times integer maps)."""

    def __init__(self, operators: Sequence[np.ndarray], counts: Sequence[int], batch: int, length: int,
                 device: torch.device, dtype: torch.dtype):
        self.counts, self.batch, self.length, self.device, self.dtype = list(counts), batch, length, device, dtype
        self.d = operators[0].shape[1]
        self.s = operators[0].shape[0] // self.d
        maps = [torch.as_tensor(closed_loop_map(F, length), dtype=dtype, device=device) for F in operators]
        self.maps = torch.cat([m.expand(c, -1, -1) for m, c in zip(maps, counts)])  # (M, s*d, length*d)

    def __call__(self, horizon: int, generators: Sequence[torch.Generator]) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs (M, B, s+horizon, d), targets (M, B, horizon, d)), as ``linear_hds.sample_hds_batch``."""
        if not 1 <= horizon <= self.length:
            raise ValueError(f"horizon must lie in 1..{self.length}, got {horizon}")
        M, B, s, d = self.maps.shape[0], self.batch, self.s, self.d
        bits = [torch.randint(0, 2, (c, B, s, d), generator=g, device=g.device)
                for c, g in zip(self.counts, generators)]
        u = (2 * (torch.cat(bits) if len(bits) > 1 else bits[0]) - 1).to(device=self.device, dtype=self.dtype)
        targets = torch.bmm(u.reshape(M, B, s * d), self.maps[:, :, :horizon * d])
        inputs = torch.cat([u, u.new_zeros(M, B, horizon, d)], dim=2)
        return inputs, targets.reshape(M, B, horizon, d)


def train_hds(cfg: HDSTraining, seeds: Sequence[int], device: torch.device, generator_seed: int,
              checkpoint: Any = None, progress: Callable[..., Iterable[int]] | None = None,
              grad_inputs_at: Sequence[int] = (), *, checkpoint_every: int = 1000
              ) -> tuple[BatchedElman, dict[str, np.ndarray]]:
    """Train one model per seed (init seed ``seeds[m]``) with data from a generator seeded ``generator_seed``.

    ``checkpoint`` (``load() -> state | None``, ``save(state)``, e.g. :class:`wavelib.store.Checkpoint`)
    receives the whole training state every ``checkpoint_every`` steps and at the end; a run given a
    checkpoint that holds a state resumes from it exactly. ``progress`` wraps the step iterator (like
    ``tqdm``). Fig. 5's measures are recorded after the steps of :func:`gradient_record_steps` (``grad_every``)
    and after the steps in ``grad_inputs_at``.

    History (NumPy): ``step`` (L,), ``loss`` (L, M) mean training loss since the previous record,
    ``horizon`` (L, M) after the step, ``max_abs_eig`` (L, M) of W_hh; with gradient records ``grad_step``
    (G,), ``grad_norms`` (G, M, s) (:func:`input_gradient_norms`), ``jacobian_norms`` (G, M, s)
    (:func:`input_jacobian_norms`) and ``grad_max_abs_eig`` (G, M); ``test_accuracy`` (M,) and ``test_loss`` (M,)
    over ``cfg.test_horizon`` closed-loop steps of a fresh batch of 256. The recurrence
    (:func:`~wavelib.models.elman.elman_recurrence`: fused for float32 on CUDA where triton runs, else the reference
    loop) is pinned for the run and part of its checkpoint's identity: the two agree to rounding, not bit for bit, so a
    resumed run keeps the one it started on (an error where that is the fused one and it cannot run).

    This is the one-cell case of :func:`train_hds_group`.
    """
    [(model, history)] = train_hds_group([cfg], seeds, device, [generator_seed], checkpoint, progress,
                                         grad_inputs_at=grad_inputs_at, checkpoint_every=checkpoint_every)
    return model, history


def _resumed_recurrence(saved: dict | None, device: torch.device, dtype: torch.dtype, hidden: int) -> str | None:
    """The recurrence a checkpointed run was trained on, or None for a fresh run. :class:`ConfigError` (the CLI
    prints it as one line) where that path cannot run here (the fused kernels, off CUDA or turned off)."""
    if saved is None or "recurrence" not in saved["identity"]:
        return None
    recurrence = saved["identity"]["recurrence"]
    if recurrence == "fused":
        from ..models.elman_fused import fused_problem
        problem = fused_problem(torch.empty(0, device=device, dtype=dtype), hidden)
        if problem is not None:
            raise ConfigError(f"the checkpoint was trained on the fused recurrence, which cannot run here "
                              f"({problem}): resume it where it can (CUDA, triton), or delete it")
    return recurrence


def train_hds_group(cells: Sequence[HDSTraining], seeds: Sequence[int], device: torch.device,
                    generator_seeds: Sequence[int], checkpoint: Any = None,
                    progress: Callable[..., Iterable[int]] | None = None, *, grad_inputs_at: Sequence[int] = (),
                    checkpoint_every: int = 1000) -> list[tuple[BatchedElman, dict[str, np.ndarray]]]:
    """Train several cells, each ``train_hds(cells[c], seeds, device, generator_seeds[c])``, as ONE batched model.

    The cells must agree in every setting but ``task`` and ``l2`` (ValueError otherwise). Model
    ``c * len(seeds) + m`` is seed ``m`` of cell ``c``: it sees cell ``c``'s operator and data (drawn from cell
    ``c``'s own generator, seeded as the cell alone would seed it), its own curriculum, and its own L2, added
    to its clipped gradient before Adam's moments as Adam's ``weight_decay`` does. So each cell trains exactly
    as it would alone (same arithmetic on the CPU; on a GPU up to floating-point rounding of batched kernels),
    while one step costs about the kernel launches of one cell. ``checkpoint`` holds the whole group.

    Returns, per cell, what :func:`train_hds` returns: its models (a :class:`BatchedElman` of ``len(seeds)``
    models; copies of the group's weights when there is more than one cell) and its history.
    """
    device = torch.device(device)
    cells = list(cells)
    _check_group(cells)
    cfg = cells[0]
    n_seeds, n_cells = len(seeds), len(cells)
    if n_seeds < 1:
        raise ValueError("give at least one seed")
    generator_seeds = list(generator_seeds)
    if len(generator_seeds) != n_cells:
        raise ValueError(f"give one generator seed per cell: {n_cells} cells, got {len(generator_seeds)}")
    for generator_seed in generator_seeds:
        if isinstance(generator_seed, bool) or int(generator_seed) != generator_seed or generator_seed < 0:
            raise ValueError(f"generator_seed must be a non-negative integer, got {generator_seed!r}")
    require_positive_int(checkpoint_every=checkpoint_every)
    grad_steps = set(int(n) for n in grad_inputs_at)
    if any(not 0 <= n <= cfg.steps for n in grad_steps):
        raise ValueError(f"grad_inputs_at steps must lie in 0..{cfg.steps}, got {sorted(grad_steps)}")
    grad_steps |= gradient_record_steps(cfg.steps, cfg.grad_every)
    M = n_cells * n_seeds
    counts = [n_seeds] * n_cells
    ranges = [(c * n_seeds, (c + 1) * n_seeds) for c in range(n_cells)]
    dtype = DTYPES[cfg.dtype]
    operators = [task_operator(cell.task, cell.s, cell.d) for cell in cells]
    model = BatchedElman(M, cfg.d, cfg.hidden, cfg.d, [int(x) for x in seeds] * n_cells, bias=cfg.bias,
                         init=cfg.init, dtype=dtype).to(device)
    optimizer, weight_decay = group_optimizer(model, cells, n_seeds)
    data = [torch.Generator(device=device).manual_seed(g) for g in generator_seeds]
    probe = None
    if grad_steps:
        probe_gens = [torch.Generator(device=device).manual_seed(_stream_seed(g, _PROBE_STREAM))
                      for g in generator_seeds]
        probe = _GroupData(operators, counts, PROBE_BATCH, 1, device, dtype)(1, probe_gens)
    sample = _GroupData(operators, counts, cfg.batch, TRAIN_LENGTH, device, dtype)
    levels = torch.tensor(CODE_LEVELS, device=device)
    saved = checkpoint.load() if checkpoint is not None else None
    # Pinned for the whole run: a resumed run keeps the path it started on (the two agree to rounding only).
    recurrence = _resumed_recurrence(saved, device, dtype, cfg.hidden) or \
        resolve_recurrence(model.recurrence_backend, device, dtype, cfg.hidden)
    model.recurrence_backend = recurrence
    identity = {"configs": [dataclasses.asdict(cell) for cell in cells], "seeds": [int(x) for x in seeds],
                "generator_seeds": [int(g) for g in generator_seeds], "recurrence": recurrence}

    if saved is None:
        start, curriculum = 0, _initial_curriculum(cfg, M, device, dtype)
        loss_sum, loss_count = torch.zeros(M, dtype=dtype, device=device), 0
        history: dict[str, list[np.ndarray]] = {k: [] for k in ("step", "loss", "horizon", "max_abs_eig",
                                                                *GRAD_RECORDS)}
    else:
        if saved["identity"] != identity:
            raise ValueError("the checkpoint belongs to a different run (config, seeds or generator seed); "
                             "delete it or pass the matching configuration")
        start, history, loss_count = saved["step"], saved["history"], saved["loss_count"]
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        for gen, state in zip(data, saved["generators"] if "generators" in saved else [saved["generator"]]):
            gen.set_state(state)
        curriculum = {k: v.to(device) for k, v in saved["curriculum"].items()}
        loss_sum = saved["loss_sum"].to(device)

    radii = _SpectralRadii(_eig_workers(device))

    def record_gradients(n: int) -> None:
        history["grad_step"].append(np.int64(n))
        history["grad_norms"].append(input_gradient_norms(model, *probe).cpu().numpy())
        history["jacobian_norms"].append(input_jacobian_norms(model, probe[0][:, :JACOBIAN_BATCH]).cpu().numpy())
        history["grad_max_abs_eig"].append(radii.record(model))

    if saved is None and 0 in grad_steps:
        record_gradients(0)

    def save(step: int) -> None:
        radii.resolve(history["max_abs_eig"])
        radii.resolve(history["grad_max_abs_eig"])
        generators = {"generator": data[0].get_state()} if n_cells == 1 else \
            {"generators": [gen.get_state() for gen in data]}
        checkpoint.save({"identity": identity, "step": step, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), **generators,
                         "curriculum": curriculum, "loss_sum": loss_sum, "loss_count": loss_count,
                         "history": history})

    try:
        steps = range(start + 1, cfg.steps + 1)
        for n in (progress(steps, total=cfg.steps, initial=start) if progress is not None else steps):
            horizon = curriculum["horizon"]
            T = int(horizon.max())  # the one host sync per step: the batch length is the largest horizon
            inputs, targets = sample(T, data)
            step = train_step(model, optimizer, inputs, targets, horizon, cfg.clip, weight_decay)
            curriculum = _advance(cfg, curriculum, step, targets, levels)
            loss_sum += step.loss
            loss_count += 1
            if n in grad_steps:
                record_gradients(n)
            if n % cfg.log_every == 0 or n == cfg.steps:
                history["step"].append(np.int64(n))
                history["loss"].append((loss_sum / loss_count).cpu().numpy())
                history["horizon"].append(curriculum["horizon"].cpu().numpy())
                history["max_abs_eig"].append(radii.record(model))
                loss_sum, loss_count = torch.zeros_like(loss_sum), 0
            if checkpoint is not None and (n % checkpoint_every == 0 or n == cfg.steps):
                save(n)
        radii.resolve(history["max_abs_eig"])
        radii.resolve(history["grad_max_abs_eig"])
    finally:
        radii.close()
    test_gens = [torch.Generator(device=device).manual_seed(_stream_seed(g, _TEST_STREAM)) for g in generator_seeds]
    test_batch = _GroupData(operators, counts, TEST_BATCH, cfg.test_horizon, device, dtype)
    accuracy, mse = _score(model, *test_batch(cfg.test_horizon, test_gens), cfg.s)
    model.recurrence_backend = "auto"  # pinned while training; the models handed back pick by device again
    out = {k: np.stack(v) for k, v in history.items() if v}
    if n_cells == 1:
        return [(model, {**out, "test_accuracy": accuracy, "test_loss": mse})]
    per_model = {"loss", "horizon", "max_abs_eig", *GRAD_RECORDS} - {"grad_step"}  # (records, M, ...)
    results = []
    for a, b in ranges:
        cell_history = {k: (v[:, a:b].copy() if k in per_model else v.copy()) for k, v in out.items()}
        results.append((model.select(a, b),
                        {**cell_history, "test_accuracy": accuracy[a:b].copy(), "test_loss": mse[a:b].copy()}))
    return results
