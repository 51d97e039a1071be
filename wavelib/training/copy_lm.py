"""Training a language model on the copy task of Jelassi et al. (2024), with learning curves against examples seen.

The protocol of their code (NOTES.md §3): AdamW (weight decay 0.1), linear warm-up then linear decay to 0,
total-norm clipping at 1, rows of ``context_len`` tokens packed with examples, cross-entropy on the answer
tokens only. One departure: parameters marked ``_no_weight_decay`` (Mamba's ``A_log`` and ``D``, as Mamba's
reference code marks them, and the learnable velocity's ``theta``) get no weight decay
(:func:`parameter_groups`); their ``train_utils.py`` decays every parameter.

Every ``eval_every`` steps the model is scored under teacher forcing on one fixed, seeded set of strings at
every training length (string and character accuracy); at the end also at longer lengths (length
generalisation). A run is resumable bit for bit from its checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..models.language_models import LMSpec
from ..models.selective_scan import resolve_backend
from ..presets import require_positive_int
from ..seeding import isolated_rng
from ..tasks.copy_strings import VOCAB_SIZE, CopyEvalSet, copy_accuracy, make_eval_set, sample_training_batch
from .graphs import GraphedStep, learning_rates_on_device, set_learning_rate
from .optim import optimizer_step

EVAL_SEED = 20_240_201  #: the fixed evaluation strings (the same for every model, seed and preset)
EVAL_BATCH = 64  #: rows per forward pass when scoring


@dataclasses.dataclass(frozen=True)
class CopyTraining:
    """One training protocol (lengths in characters, ``lr`` per step, ``steps`` optimizer steps)."""

    min_len: int
    max_len: int
    context_len: int  #: tokens per training row (packed with examples)
    batch: int
    steps: int
    lr: float
    weight_decay: float = 0.1
    warmup: int = 100  #: linear warm-up steps, then linear decay to 0 at ``steps``
    clip: float = 1.0
    eval_every: int = 100
    eval_per_length: int = 10  #: evaluation strings per length
    generalisation_lengths: tuple[int, ...] = ()  #: extra lengths scored at the end

    def __post_init__(self) -> None:
        require_positive_int(**{name: getattr(self, name) for name in ("min_len", "max_len", "context_len", "batch",
                                                                      "steps", "eval_every", "eval_per_length")})
        if self.min_len > self.max_len:
            raise ValueError(f"min_len ({self.min_len}) must not exceed max_len ({self.max_len})")
        if self.context_len < 2 * self.max_len + 3:
            raise ValueError(f"context_len {self.context_len} cannot hold one example of length {self.max_len}: "
                             f"use at least 2 * max_len + 3 = {2 * self.max_len + 3}")
        if not (self.lr > 0 and self.clip > 0 and self.weight_decay >= 0 and self.warmup >= 0):
            raise ValueError("lr and clip must be positive, weight_decay and warmup non-negative")
        if any(n < 1 for n in self.generalisation_lengths):
            raise ValueError(f"generalisation lengths must be positive, got {self.generalisation_lengths}")

    @property
    def train_lengths(self) -> tuple[int, ...]:
        """Every training length, both ends included."""
        return tuple(range(self.min_len, self.max_len + 1))


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: the parameters marked ``_no_weight_decay`` with weight decay 0, all others with
    ``weight_decay`` (empty groups left out)."""
    params = list(model.parameters())
    exempt = [p for p in params if getattr(p, "_no_weight_decay", False)]
    decayed = [p for p in params if not getattr(p, "_no_weight_decay", False)]
    return [group for group in ({"params": decayed, "weight_decay": weight_decay},
                                {"params": exempt, "weight_decay": 0.0}) if group["params"]]


def learning_rate_factor(step: int, warmup: int, steps: int) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based): linear warm-up over
    ``warmup`` steps, then linear decay reaching 0 at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (steps - step) / max(1, steps - warmup))


def copy_loss(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per answer token) of ``model(inputs)`` over the tokens where ``mask`` holds.

    Weighted by the mask rather than indexed with it: no shape that depends on the data, so no host sync, and the
    step can be captured in a CUDA graph (:class:`~wavelib.training.graphs.GraphedStep`)."""
    nll = F.cross_entropy(model(inputs).transpose(1, 2), targets, reduction="none")  # (B, L)
    return (nll * mask).sum() / mask.sum()


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: CopyEvalSet, device: torch.device) -> dict[str, np.ndarray]:
    """Per-row string accuracy (0/1) and character accuracy on the copied letters, and the cross-entropy (nats per
    token) on the tokens the training loss counts (copied letters and EOS), each (N,).

    Rows go ``EVAL_BATCH`` at a time, each batch cut after its last scored token: the padding after it cannot
    change a causal model's earlier outputs, so the scores are those of the whole rows (to rounding: the kernels
    see a shorter sequence), at about half the cost where lengths range widely (strings up to 300: rows of 603
    tokens, about 300 on average)."""
    was_training = model.training
    model.eval()
    strings, chars, losses = [], [], []
    for start in range(0, data.inputs.shape[0], EVAL_BATCH):
        rows = slice(start, start + EVAL_BATCH)
        width = int(data.loss_mask[rows].any(dim=0).nonzero().max()) + 1
        inputs, targets, answer, scored = (t[rows, :width].to(device) for t in
                                           (data.inputs, data.targets, data.answer_mask, data.loss_mask))
        logits = model(inputs).float()
        string, char = copy_accuracy(logits, targets, answer)
        nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        strings.append(string.cpu())
        chars.append(char.cpu())
        losses.append(((nll * scored).sum(1) / scored.sum(1)).cpu())
    model.train(was_training)
    return {k: torch.cat(v).double().numpy() for k, v in
            (("string_accuracy", strings), ("char_accuracy", chars), ("loss", losses))}


def _by_length(scores: dict[str, np.ndarray], lengths: np.ndarray, wanted: Sequence[int]) -> dict[str, np.ndarray]:
    """Mean of each per-row score for every length in ``wanted`` -> (len(wanted),)."""
    return {k: np.array([v[lengths == n].mean() for n in wanted]) for k, v in scores.items()}


def train_copy(spec: LMSpec, cfg: CopyTraining, seed: int, device: torch.device, checkpoint: Any = None,
               progress: Callable[..., Iterable[int]] | None = None, *, checkpoint_every: int = 100,
               cuda_graph: bool = False) -> tuple[torch.nn.Module, dict[str, np.ndarray]]:
    """Train ``spec`` on copy from seed ``seed`` (weights from ``torch.manual_seed(seed)``, data from a generator
    seeded ``seed``: on the CPU the same Mersenne Twister stream, so the first data draws reuse the 32-bit words of
    the first weight draws through other transforms; kept so that stored runs stay reproducible, and every model
    of one seed sees the same data) and return the model and its history:

    - ``step``, ``examples`` (examples whose answers were in the loss so far), ``train_loss`` (nats per answer
      token, mean over the steps since the last record; NaN at step 0), ``string_accuracy``, ``char_accuracy``,
      ``eval_loss`` (means over the evaluation set, ``eval_per_length`` strings of every training length: an
      unweighted mean over the lengths), each (R,); ``string_accuracy_by_length`` (R, n_lengths) with
      ``eval_lengths``;
    - ``generalisation_lengths`` and ``generalisation_string_accuracy`` / ``..._char_accuracy`` at the end;
    - ``velocity`` (D,) per layer stacked (layers, D) for Mamba models (the learned or fixed v).

    ``checkpoint`` (``load()``/``save(state)``) receives the whole state every ``checkpoint_every`` steps; a run
    whose checkpoint holds a state resumes from it exactly. The default, 100 steps, is about 12 s of a paper-size
    Mamba on an H200 (500 steps overran a ``--stop-after`` budget by more than the 30 s kept for it, and the call
    was killed).

    The learning rate of step ``n`` (1-based) is ``lr * learning_rate_factor(n - 1, ...)``, set before the step.
    With ``cuda_graph`` the step (forward, loss, backward, clipping, AdamW) is captured once in a CUDA graph
    and replayed (:class:`~wavelib.training.graphs.GraphedStep`); AdamW is then ``capturable`` (its bias
    corrections computed on the device: the same run to rounding, not bit for bit, as without the graph). The
    choice is part of the checkpoint's identity: a run resumes only the way it started.
    """
    if cuda_graph and device.type != "cuda":
        raise ValueError(f"cuda_graph=True captures each training step in a CUDA graph: it needs a CUDA device, "
                         f"not {device}")
    with isolated_rng(seed, device):
        model = spec.build(VOCAB_SIZE).to(device)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.weight_decay), lr=cfg.lr, capturable=cuda_graph)
    data = torch.Generator().manual_seed(seed)
    eval_set = make_eval_set(cfg.train_lengths, cfg.eval_per_length, EVAL_SEED)
    # the scan backend in use is pinned: the backends agree to rounding, not bit for bit
    scan = resolve_backend(spec.scan, device, torch.float32) if spec.family == "mamba" else None
    exempt = sorted(name for name, p in model.named_parameters() if getattr(p, "_no_weight_decay", False))
    identity = {"spec": dataclasses.asdict(spec), "training": dataclasses.asdict(cfg), "seed": seed, "scan": scan,
                "no_weight_decay": exempt, "cuda_graph": cuda_graph}

    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        start, examples, loss_sum, loss_count = 0, 0, 0.0, 0
        history: dict[str, list[Any]] = {k: [] for k in ("step", "examples", "train_loss", "string_accuracy",
                                                         "char_accuracy", "eval_loss", "string_accuracy_by_length")}
    else:
        if saved["identity"] != identity:
            raise ValueError("the checkpoint belongs to a different run (model, protocol or seed); "
                             "delete it or pass the matching configuration")
        start, examples, loss_sum, loss_count = saved["step"], saved["examples"], saved["loss_sum"], saved["loss_count"]
        history = saved["history"]
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        data.set_state(saved["generator"])
    if cuda_graph:
        learning_rates_on_device(optimizer, device)

    def step(inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        loss = copy_loss(model, inputs, targets, mask)
        optimizer_step(model, optimizer, loss, cfg.clip)
        return loss.detach()
    train_step = GraphedStep(step) if cuda_graph else step

    def record(step: int) -> None:
        scores = evaluate(model, eval_set, device)
        history["step"].append(step)
        history["examples"].append(examples)
        history["train_loss"].append(float(loss_sum) / loss_count if loss_count else np.nan)
        history["string_accuracy"].append(scores["string_accuracy"].mean())
        history["char_accuracy"].append(scores["char_accuracy"].mean())
        history["eval_loss"].append(scores["loss"].mean())
        history["string_accuracy_by_length"].append(
            _by_length(scores, eval_set.lengths.numpy(), cfg.train_lengths)["string_accuracy"])

    if start == 0:
        record(0)
    model.train()
    steps = range(start + 1, cfg.steps + 1)
    for n in (progress(steps, total=cfg.steps, initial=start) if progress is not None else steps):
        batch = sample_training_batch(cfg.batch, cfg.context_len, cfg.min_len, cfg.max_len, data, device)
        set_learning_rate(optimizer, cfg.lr * learning_rate_factor(n - 1, cfg.warmup, cfg.steps))
        loss = train_step(batch.inputs, batch.targets, batch.loss_mask)
        examples += batch.n_examples
        loss_sum, loss_count = loss_sum + loss, loss_count + 1  # no host sync per step
        if n % cfg.eval_every == 0 or n == cfg.steps:
            record(n)
            loss_sum, loss_count = 0.0, 0
        if checkpoint is not None and (n % checkpoint_every == 0 or n == cfg.steps):
            checkpoint.save({"identity": identity, "step": n, "examples": examples, "loss_sum": loss_sum,
                             "loss_count": loss_count, "history": history, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "generator": data.get_state()})

    out = {k: np.asarray(v) for k, v in history.items()}
    out["eval_lengths"] = np.asarray(cfg.train_lengths)
    lengths = sorted(set(cfg.train_lengths) | set(cfg.generalisation_lengths))
    general = make_eval_set(lengths, cfg.eval_per_length, EVAL_SEED + 1)
    scores = _by_length(evaluate(model, general, device), general.lengths.numpy(), lengths)
    out["generalisation_lengths"] = np.asarray(lengths)
    out["generalisation_string_accuracy"] = scores["string_accuracy"]
    out["generalisation_char_accuracy"] = scores["char_accuracy"]
    if spec.family == "mamba":
        out["velocity"] = np.stack([block.mixer.velocity.detach().cpu().numpy() for block in model.blocks])
    return model, out
