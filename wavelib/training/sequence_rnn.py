"""Training a Wave-RNN or an iRNN on the copy or the adding task (Keller et al., ICLR 2024, Appendix B).

The paper's protocol: Adam at a fixed learning rate, batch 128, 60,000 batches, each a fresh draw of the task;
total-norm gradient clipping at the magnitude of Tables 5–6 (0 = not applied). Copy is trained, as the code does,
with the cross-entropy over all positions divided by the batch size (the scale Table 5's clipping magnitudes were
tuned on), adding with the MSE of the final output. Every ``eval_every`` steps the model is
scored on one fixed, seeded test batch (the same for every model and seed of a task and ``T``). A run is resumable
bit for bit from its checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ..models.wave_rnn import IRNN, IRNN_INITS, V_INITS, WAVE_U_INITS, WaveRNN, parameter_count
from ..presets import require_positive_int
from ..seeding import isolated_rng
from ..tasks.sequence_tasks import (COPY_CLASSES, COPY_FORMATS, adding_batch, adding_loss, copy_batch, copy_loss,
                                    copy_metrics)
from .optim import optimizer_step

EVAL_SEED = 20_240_502  #: the fixed test batch of every task and T
TASKS = ("copy", "adding")
KINDS = ("wrnn", "irnn")
COPY_METRICS = ("cross_entropy", "recall_cross_entropy", "recall_accuracy", "sequence_accuracy",
                "paper_comparable_loss", "paper_comparable_loss_float32")
"""Test numbers recorded for copy (see :func:`~wavelib.tasks.sequence_tasks.copy_metrics`), as ``test_<name>``."""


@dataclasses.dataclass(frozen=True)
class SequenceModelSpec:
    """A wRNN (``kind="wrnn"``: ``c`` rings of ``n`` units) or an iRNN (``kind="irnn"``: ``n`` units, ``c`` = 1).

    ``init_u``: wRNN one of ``shift`` (paper), ``dirac``, ``uniform_sqrt_n``, ``normal`` (Table 4's grid),
    ``random`` (PyTorch's default); iRNN one of ``identity`` (paper), ``sigma``, ``random``. ``init_v``:
    ``sparse_identity`` (the wRNN's), ``normal`` (N(0, std 0.001): the paper's iRNN grid value and Table 4's
    alternative, the chapters' iRNN default) or ``random`` (PyTorch's default). ``mlp_hidden``: 0 = linear readout
    on the whole hidden state; else the readout is a 2-layer MLP with this many ReLU hidden units (Table 2's
    "wRNN + MLP").
    """

    kind: str
    n: int
    c: int = 1
    init_u: str = "shift"
    init_v: str = "sparse_identity"
    mlp_hidden: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; valid kinds: {', '.join(KINDS)}")
        if self.kind == "irnn" and self.c != 1:
            raise ValueError(f"an iRNN has one channel, got c={self.c}")
        require_positive_int(n=self.n, c=self.c)
        if isinstance(self.mlp_hidden, bool) or not isinstance(self.mlp_hidden, int) or self.mlp_hidden < 0:
            raise ValueError(f"mlp_hidden must be an integer >= 0 (0 = linear readout), got {self.mlp_hidden!r}")
        u_inits = WAVE_U_INITS if self.kind == "wrnn" else IRNN_INITS
        if self.init_u not in u_inits or self.init_v not in V_INITS:
            raise ValueError(f"unknown init ({self.init_u!r}, {self.init_v!r}) for {self.kind}; valid: "
                             f"init_u in {', '.join(u_inits)}, init_v in {', '.join(V_INITS)}")

    def build(self, n_in: int, n_out: int) -> torch.nn.Module:
        """The model for ``n_in`` input features and ``n_out`` outputs (default PyTorch init where unset)."""
        readout = {"readout": "mlp", "mlp_hidden": self.mlp_hidden} if self.mlp_hidden else {"readout": "linear"}
        if self.kind == "wrnn":
            return WaveRNN(n_in, self.n, self.c, n_out, init_u=self.init_u, init_v=self.init_v, **readout)
        return IRNN(n_in, self.n, n_out, init=self.init_u, init_v=self.init_v, **readout)

    def parameters(self, n_in: int, n_out: int, recurrent_biases: bool = True) -> int:
        """Number of parameters of :meth:`build` (the global random state is left untouched); without the input
        and recurrent biases for ``recurrent_biases=False`` (as the paper counts, see
        :func:`~wavelib.models.wave_rnn.parameter_count`)."""
        with isolated_rng(None):
            return parameter_count(self.build(n_in, n_out), recurrent_biases)


@dataclasses.dataclass(frozen=True)
class SequenceTaskSpec:
    """One training protocol: ``task`` copy (``T`` blank steps in ``copy_format``) or adding (length ``T``);
    Adam at ``lr``, total-norm clipping at ``clip`` (0 = none), ``steps`` batches of ``batch``; a test on a fixed
    batch of ``eval_batch`` every ``eval_every`` steps."""

    task: str
    T: int
    batch: int
    steps: int
    lr: float
    clip: float
    eval_every: int
    #: test batch size; the code's: 50 for copy (the paper-comparable copy number divides by it), 1,000 for adding
    eval_batch: int = 50
    copy_format: str = "paper"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; valid tasks: {', '.join(TASKS)}")
        if self.copy_format not in COPY_FORMATS:
            raise ValueError(f"unknown copy format {self.copy_format!r}; valid formats: {', '.join(COPY_FORMATS)}")
        require_positive_int(batch=self.batch, steps=self.steps, eval_every=self.eval_every,
                             eval_batch=self.eval_batch)
        if not (self.lr > 0 and self.clip >= 0):
            raise ValueError(f"lr must be positive and clip non-negative, got lr={self.lr}, clip={self.clip}")
        self.sample(1, torch.Generator())  # checks T for the task and format

    @property
    def n_in(self) -> int:
        return COPY_CLASSES if self.task == "copy" else 2

    @property
    def n_out(self) -> int:
        return COPY_CLASSES if self.task == "copy" else 1

    def sample(self, batch: int, generator: torch.Generator,
               device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of the task: copy x (B, L, 10), y (B, L) class ids; adding x (B, T, 2), y (B, 1)."""
        if self.task == "copy":
            return copy_batch(batch, self.T, generator, self.copy_format, device)
        return adding_batch(batch, self.T, generator, device)

    def outputs(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What :meth:`loss` reads of ``model`` (a :class:`WaveRNN` or :class:`IRNN`) on x: copy every step's
        outputs (B, L, n_out); adding the last step's only (B, n_out)."""
        return model(x) if self.task == "copy" else model(x, last=True)

    def loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of :meth:`outputs`: copy cross-entropy over all positions (nats per token) divided by
        B, as the code trains; adding MSE of the final output."""
        return copy_loss(outputs, y) if self.task == "copy" else adding_loss(outputs, y)


def fixed_test_batch(task: SequenceTaskSpec, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test batch of ``task`` (``eval_batch`` rows from :data:`EVAL_SEED`)."""
    return task.sample(task.eval_batch, torch.Generator().manual_seed(EVAL_SEED), device)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: SequenceTaskSpec, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test numbers of ``model`` on (x, y): copy ``test_<m>`` for every ``m`` of :data:`COPY_METRICS`; adding
    ``test_mse``."""
    was_training = model.training
    model.eval()
    outputs = task.outputs(model, x)
    model.train(was_training)
    if task.task == "copy":
        return {f"test_{k}": v for k, v in copy_metrics(outputs, y).items()}
    return {"test_mse": task.loss(outputs, y).item()}


def train_sequence_model(model_spec: SequenceModelSpec, task_spec: SequenceTaskSpec, seed: int,
                         device: torch.device, checkpoint: Any = None,
                         progress: Callable[..., Iterable[int]] | None = None, *,
                         checkpoint_every: int = 1_000) -> tuple[torch.nn.Module, dict[str, np.ndarray]]:
    """Train ``model_spec`` on ``task_spec`` from seed ``seed`` (weights from ``torch.manual_seed(seed)``,
    training batches from a generator seeded ``seed``) and return the model and its history, each (R,):

    - ``step``; ``train_loss`` (mean training loss since the previous record; NaN at step 0);
    - copy: ``test_cross_entropy`` (nats per token, all positions), ``test_recall_cross_entropy`` (the last 10
      steps), ``test_recall_accuracy``, ``test_sequence_accuracy``, ``test_paper_comparable_loss`` (the paper's
      "test MSE": the cross-entropy divided by the test batch size) and ``test_paper_comparable_loss_float32`` (the
      same computed in float32, as the paper's code does);
    - adding: ``test_mse``.

    ``checkpoint`` (``load()``/``save(state)``) receives the whole state every ``checkpoint_every`` steps and at the
    end; a run whose checkpoint holds a state resumes from it exactly.
    """
    with isolated_rng(seed, device):
        model = model_spec.build(task_spec.n_in, task_spec.n_out).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=task_spec.lr)
    data = torch.Generator().manual_seed(seed)
    x_test, y_test = fixed_test_batch(task_spec, device)
    identity = {"model": dataclasses.asdict(model_spec), "task": dataclasses.asdict(task_spec), "seed": seed}

    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        start, loss_sum, loss_count = 0, 0.0, 0
        history: dict[str, list[float]] = {}
    else:
        if saved["identity"] != identity:
            raise ValueError("the checkpoint belongs to a different run (model, task or seed); "
                             "delete it or pass the matching configuration")
        start, loss_sum, loss_count, history = saved["step"], saved["loss_sum"], saved["loss_count"], saved["history"]
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        data.set_state(saved["generator"])

    def record(step: int) -> None:
        row = {"step": step, "train_loss": float(loss_sum) / loss_count if loss_count else np.nan,
               **evaluate(model, task_spec, x_test, y_test)}
        for key, value in row.items():
            history.setdefault(key, []).append(value)

    if start == 0:
        record(0)
    model.train()
    steps = range(start + 1, task_spec.steps + 1)
    for n in (progress(steps, total=task_spec.steps, initial=start) if progress is not None else steps):
        x, y = task_spec.sample(task_spec.batch, data, device)
        loss = task_spec.loss(task_spec.outputs(model, x), y)
        optimizer_step(model, optimizer, loss, task_spec.clip)
        loss_sum, loss_count = loss_sum + loss.detach(), loss_count + 1  # no host sync per step
        if n % task_spec.eval_every == 0 or n == task_spec.steps:
            record(n)
            loss_sum, loss_count = 0.0, 0
        if checkpoint is not None and (n % checkpoint_every == 0 or n == task_spec.steps):
            checkpoint.save({"identity": identity, "step": n, "loss_sum": loss_sum, "loss_count": loss_count,
                             "history": history, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "generator": data.get_state()})
    return model, {k: np.asarray(v) for k, v in history.items()}
