"""Training a Wave-RNN or an iRNN to classify images fed as sequences (Keller et al., ICLR 2024, Appendix B).

The protocol: the class is read from the output at the LAST step; cross-entropy; Adam at ``lr``, divided by
``lr_drop_rate`` every ``lr_drop_epoch`` epochs (0 = never); total-norm gradient clipping at ``clip`` (0 = none);
epochs over a fixed training set, reshuffled every epoch. ``evals_per_epoch`` times per epoch (and before training)
the model is scored on the validation and the test images. A run is resumable bit for bit from its checkpoint
(saved at every evaluation: model, optimizer, data generator, epoch order and position, history).

Tasks: ``smnist`` / ``psmnist`` (pixels ``x / 255``, average-pooled ``pool × pool`` first: ``pool = 1`` is the
paper's 784-step task, ``pool = 2`` a 196-step reduced task; psMNIST applies a fixed permutation of the
``(28 / pool)^2`` pixels, see :func:`pixel_order`) and ``nscifar``
(:func:`~wavelib.tasks.image_sequences.nscifar_inputs`, 1000 steps of 96 inputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..presets import require_positive_int
from ..seeding import isolated_rng
from ..tasks.image_sequences import CIFAR_ROW_FEATURES, MNIST_SIDE, NOISE_MODES, as_uint8_images, nscifar_inputs
from .optim import optimizer_step
from .sequence_rnn import SequenceModelSpec

IMAGE_TASKS = ("smnist", "psmnist", "nscifar")
POOLS = tuple(p for p in range(1, MNIST_SIDE + 1) if MNIST_SIDE % p == 0)
"""Valid ``pool`` sizes: divisors of 28 (1: 784 steps, 2: 196, 4: 49, 7: 16, ...)."""
N_CLASSES = 10


def pixel_order(pool: int, seed: int) -> torch.Tensor:
    """psMNIST's permutation (int64) of the ``(28 / pool)^2`` pooled pixels: ``torch.randperm`` from
    ``torch.Generator().manual_seed(seed)``."""
    return torch.randperm((MNIST_SIDE // pool) ** 2, generator=torch.Generator().manual_seed(seed))


def mnist_sequence(images: np.ndarray | torch.Tensor, pool: int = 1, permutation: torch.Tensor | None = None,
                   device: torch.device | None = None) -> torch.Tensor:
    """uint8 digits (B, 28, 28), numpy or torch -> float32 (B, (28/pool)^2, 1): ``x / 255`` average-pooled over
    ``pool × pool`` blocks, row-major, then reordered by ``permutation`` (step t holds pooled pixel
    ``permutation[t]``); ValueError for other dtypes or shapes."""
    t = as_uint8_images(images, (MNIST_SIDE, MNIST_SIDE), "mnist_sequence")
    x = t.to(device).float().div(255.0).unsqueeze(1)
    if pool > 1:
        x = F.avg_pool2d(x, pool)
    x = x.reshape(x.shape[0], -1, 1)
    return x if permutation is None else x[:, permutation.to(x.device)]


@dataclasses.dataclass(frozen=True)
class ImageTaskSpec:
    """One training protocol (see the module docstring); ``batch`` images per step, ``epochs`` passes."""

    task: str
    batch: int
    epochs: int
    lr: float
    clip: float = 0.0
    lr_drop_epoch: int = 0  #: 0 = constant learning rate
    lr_drop_rate: float = 10.0
    evals_per_epoch: int = 1
    eval_batch: int = 500  #: images per forward pass when scoring (memory only; numbers do not depend on it)
    pool: int = 1  #: MNIST only
    noise: str = "fresh"  #: nsCIFAR10 only

    def __post_init__(self) -> None:
        if self.task not in IMAGE_TASKS:
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {', '.join(IMAGE_TASKS)}")
        require_positive_int(batch=self.batch, epochs=self.epochs, evals_per_epoch=self.evals_per_epoch,
                             eval_batch=self.eval_batch)
        if not (self.lr > 0 and self.clip >= 0 and self.lr_drop_epoch >= 0 and self.lr_drop_rate > 0):
            raise ValueError(f"need lr > 0, clip >= 0, lr_drop_epoch >= 0, lr_drop_rate > 0; got lr={self.lr}, "
                             f"clip={self.clip}, lr_drop_epoch={self.lr_drop_epoch}, "
                             f"lr_drop_rate={self.lr_drop_rate}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must divide 28 (one of {POOLS}), got {self.pool!r}")
        if self.noise not in NOISE_MODES:
            raise ValueError(f"unknown noise {self.noise!r}; valid values: {', '.join(NOISE_MODES)}")

    @property
    def n_in(self) -> int:
        return CIFAR_ROW_FEATURES if self.task == "nscifar" else 1

    @property
    def length(self) -> int:
        """Steps per sequence."""
        return 1000 if self.task == "nscifar" else (MNIST_SIDE // self.pool) ** 2

    def learning_rate(self, epoch: int) -> float:
        """The step-schedule learning rate of (0-based) ``epoch``."""
        drops = epoch // self.lr_drop_epoch if self.lr_drop_epoch else 0
        return self.lr / self.lr_drop_rate ** drops

    def inputs(self, images: torch.Tensor, permutation: torch.Tensor | None, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
        """Model inputs (B, length, n_in) of uint8 images; ``generator`` draws nsCIFAR10's fresh noise."""
        if self.task == "nscifar":
            return nscifar_inputs(images, self.noise, generator, device=device)
        return mnist_sequence(images, self.pool, permutation, device)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: ImageTaskSpec, images: torch.Tensor, labels: torch.Tensor,
             permutation: torch.Tensor | None, device: torch.device, noise_seed: int) -> tuple[float, float]:
    """(accuracy, mean cross-entropy in nats) of the last-step output on ``images``; nsCIFAR10's noise comes
    from a generator seeded ``noise_seed``, so every evaluation sees the same noise."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(noise_seed)
    correct, loss = 0, 0.0
    for start in range(0, len(labels), task.eval_batch):
        y = labels[start:start + task.eval_batch].to(device)
        logits = model(task.inputs(images[start:start + task.eval_batch], permutation, generator, device),
                       last=True)
        correct += (logits.argmax(-1) == y).sum().item()
        loss += F.cross_entropy(logits.float(), y, reduction="sum").item()
    model.train(was_training)
    return correct / len(labels), loss / len(labels)


def train_image_model(model_spec: SequenceModelSpec, task: ImageTaskSpec, data: dict[str, tuple[Any, Any]],
                      seed: int, device: torch.device, permutation: torch.Tensor | None = None,
                      checkpoint: Any = None,
                      progress: Callable[..., Iterable[int]] | None = None) -> tuple[torch.nn.Module,
                                                                                     dict[str, np.ndarray]]:
    """Train ``model_spec`` on ``task`` from seed ``seed`` and return the model and its history.

    ``data``: ``{"train": (images, labels), "valid": ..., "test": ...}`` (uint8 images, int labels; numpy or
    torch). Weights from ``torch.manual_seed(seed)``, the epoch orders (and nsCIFAR10's training noise) from a
    generator seeded ``seed``. ``permutation`` (psMNIST; :func:`pixel_order`) is stored in the history.

    History, one row per evaluation (R,): ``epoch`` (fractional, 0 before training), ``step``, ``lr``,
    ``train_loss`` and ``train_accuracy`` (running means since the previous evaluation; NaN at 0),
    ``valid_accuracy``, ``valid_loss``, ``test_accuracy``, ``test_loss``; plus ``permutation`` (L,) if given.
    ``checkpoint`` (``load()``/``save(state)``) gets the whole state at every evaluation; a run whose checkpoint
    holds a state resumes from it exactly.
    """
    if (permutation is not None) != (task.task == "psmnist"):
        raise ValueError("psmnist needs a permutation (pixel_order), the other tasks none")
    split = {k: (torch.as_tensor(np.asarray(v[0])), torch.as_tensor(np.asarray(v[1]), dtype=torch.long))
             for k, v in data.items()}
    train_images, train_labels = split["train"]
    n_train = len(train_labels)
    per_epoch = -(-n_train // task.batch)
    eval_at = {round(per_epoch * k / task.evals_per_epoch) for k in range(1, task.evals_per_epoch + 1)}
    with isolated_rng(seed, device):
        model = model_spec.build(task.n_in, N_CLASSES).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=task.lr)
    generator = torch.Generator().manual_seed(seed)
    identity = {"model": dataclasses.asdict(model_spec), "task": dataclasses.asdict(task), "seed": seed,
                "n": {k: len(v[1]) for k, v in split.items()},
                "permutation": None if permutation is None else permutation.tolist()}

    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        epoch, position, order, sums = 0, 0, None, [0.0, 0.0, 0]
        history: dict[str, list[float]] = {}
    else:
        if saved["identity"] != identity:
            raise ValueError("the checkpoint belongs to a different run (model, task, data or seed); "
                             "delete it or pass the matching configuration")
        epoch, position, order, sums, history = (saved["epoch"], saved["position"], saved["order"], saved["sums"],
                                                 saved["history"])
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])

    def record() -> None:
        valid = evaluate(model, task, *split["valid"], permutation, device, seed + 1)
        test = evaluate(model, task, *split["test"], permutation, device, seed + 2)
        loss_sum, correct, seen = sums
        row = {"epoch": epoch + position / per_epoch, "step": epoch * per_epoch + position,
               "lr": task.learning_rate(min(epoch, task.epochs - 1)),
               "train_loss": float(loss_sum) / seen if seen else np.nan,
               "train_accuracy": float(correct) / seen if seen else np.nan,
               "valid_accuracy": valid[0], "valid_loss": valid[1], "test_accuracy": test[0], "test_loss": test[1]}
        for key, value in row.items():
            history.setdefault(key, []).append(value)

    if saved is None:
        record()
    model.train()
    total = task.epochs * per_epoch
    steps = range(epoch * per_epoch + position, total)
    for _ in (progress(steps, total=total, initial=steps.start) if progress is not None else steps):
        if position == 0:
            order = torch.randperm(n_train, generator=generator)
            for group in optimizer.param_groups:
                group["lr"] = task.learning_rate(epoch)
        idx = order[position * task.batch:(position + 1) * task.batch]
        y = train_labels[idx].to(device)
        logits = model(task.inputs(train_images[idx], permutation, generator, device), last=True)
        loss = F.cross_entropy(logits, y)
        optimizer_step(model, optimizer, loss, task.clip)
        sums = [sums[0] + loss.detach() * len(idx), sums[1] + (logits.argmax(-1) == y).sum(), sums[2] + len(idx)]
        position += 1
        if position in eval_at:
            if position == per_epoch:
                epoch, position = epoch + 1, 0
            record()
            sums = [0.0, 0, 0]
            if checkpoint is not None:
                checkpoint.save({"identity": identity, "epoch": epoch, "position": position, "order": order,
                                 "sums": sums, "history": history, "model": model.state_dict(),
                                 "optimizer": optimizer.state_dict(), "generator": generator.get_state()})
    out = {k: np.asarray(v) for k, v in history.items()}
    if permutation is not None:
        out["permutation"] = permutation.numpy()
    return model, out
