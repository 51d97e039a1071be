"""The copy and adding tasks of the Wave-RNN paper (Keller, Muller, Sejnowski & Welling, ICLR 2024).

All tensors are batch-first (``(B, L, ...)``); the paper's appendix code is time-first. All randomness
comes from a ``torch.Generator``: the draw is made on the generator's device and then moved to
``device``, so the same generator state gives the same batch whatever ``device`` is.

Copy task
---------
Ten tokens i.i.d. uniform in ``1..8``; class 0 is the blank and class 9 the delimiter; inputs are
one-hot over the 10 classes, targets are class ids. Two layouts:

``format="paper"`` (the text, the default), ``T`` = number of blank steps, ``T >= 0``::

    length     L = T + 20
    input      tokens at 0..9, blanks at 10..T+9, delimiter at T+10, blanks at T+11..T+19
    target     blank everywhere except the last 10 steps T+10..T+19, which hold the tokens

  The delimiter arrives at the first recall step: the first token must be produced at the same step
  as the delimiter is read.

``format="code"`` (the appendix listing ``get_copy_task_batch`` and the repository), ``T`` = the code's
``T``, ``T >= 10``::

    length     L = T + 10
    input      tokens at 0..9, blanks at 10..T-2 (T-11 of them), delimiter at T-1 (``X[:, -(10+1)] = 9``),
               blanks at T..T+9
    target     blank everywhere except the last 10 steps T..T+9 (``Y[:, -10:] = X[:, :10]``), which hold the
               first 10 inputs

  The recall window is the 10 steps after the delimiter. At ``T = 10`` (in the code's sweep) there are no
  blanks: the delimiter overwrites the 10th token, and since the target copies the input after that, the
  last recall step's target is the delimiter (class 9); this is reproduced. ``T < 10`` would put the
  delimiter earlier still, so it is refused.

Mapping of the reported lengths. Both of the code's copy sweeps (``copy_sweep_wrnn.yml``,
``copy_sweep_rnn.yml``) run ``T`` in {10, 20, 50, 100, 500}; the paper reports ``T`` in {0, 10, 30, 80, 480}
(Table 5's five columns; Fig. 3 shows 0, 30, 80, Table 4 0, 10, 30, 80). Paired in order
(:data:`REPORTED_T_OF_CODE_T`, our inference: nothing in the paper or the code states it), the offsets are 10,
10, 20, 20, 20, not a constant. Measured from a token to its recall step, the text's layout has a delay of
``T + 10`` and the code's of ``T``: the first two pairs have equal delays (code 10 = text 0 + 10, 20 = 10 + 10),
in the last three the code's delay is 10 steps longer than the text's at the reported T (reported T = 480 ran 510
steps). A code ``T`` outside the sweep has no reported ``T``. Use :func:`code_T_from_reported` /
:func:`reported_T_from_code` to convert.

In both layouts the recall window is the last 10 steps.

Loss. The model is trained with the cross-entropy over all positions (mean over ``B * L``). The paper's
"test MSE" is not a mean squared error: the code reports that cross-entropy divided again by the batch
size (a fresh batch of 50). :func:`copy_metrics` returns it as ``paper_comparable_loss`` beside a
true per-token cross-entropy and the recall accuracy.

Adding task
-----------
Inputs ``(B, T, 2)``: column 0 holds values i.i.d. ``U(0, 1)``, column 1 holds markers. The paper says
only "two non-zero elements (set to 1) in the first and second halves of the sequence respectively";
here the first marker is uniform over the first half, indices ``0 .. T//2 - 1``, and the second is
uniform over the second half, ``T//2 .. T-1`` (for odd ``T`` the second half is one step longer).
The target ``(B, 1)`` is the sum of the two marked values; the loss is the MSE of the final output.
The task counts as solved when the MSE is <= 0.05 (Table 1). Predicting the constant 1 (the mean of
the target) gives MSE = Var(U1 + U2) = 1/6 ~ 0.167: the iRNN's "0.16" at T = 700 and 1000 is that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

COPY_CLASSES = 10
"""One-hot width and number of output classes of the copy task."""
DELIMITER = 9
N_TOKENS = 10
"""Number of tokens to memorise and recall."""
TOKEN_LOW, TOKEN_HIGH = 1, 8
"""Tokens are uniform in ``TOKEN_LOW..TOKEN_HIGH`` (inclusive)."""
COPY_FORMATS = ("paper", "code")
REPORTED_T_OF_CODE_T = {10: 0, 20: 10, 50: 30, 100: 80, 500: 480}
"""The code's copy sweep (``T`` in both ``copy_sweep_*.yml``) paired in order with the paper's reported ``T``
(Table 5's columns): an inference, see the module docstring."""
PAPER_EVAL_BATCH = 50
"""The code evaluates copy on a fresh batch of 50 (``copy_task.py --batch_test``); its "test MSE" divides by it."""

ADDING_SOLVED_MSE = 0.05
"""The adding task counts as solved at MSE <= 0.05 (the paper's Table 1)."""
ADDING_CONSTANT_BASELINE = 1.0 / 6.0
"""MSE of always predicting 1 (the target's mean): Var(U1 + U2) = 2/12."""


class CopyLayout(NamedTuple):
    """Where things are in a copy sequence (0-based step indices)."""

    length: int
    delimiter: int
    recall_start: int
    """First step of the recall window; the window is ``recall_start .. length - 1`` (10 steps)."""


def _check_int(name: str, value, minimum: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int {what}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def _check_format(format: str) -> str:
    if format not in COPY_FORMATS:
        raise ValueError(f"format must be 'paper' or 'code', got {format!r}")
    return format


def _check_copy_T(T, format: str) -> int:
    if _check_format(format) == "paper":
        return _check_int("T", T, 0, ">= 0 (the number of blank steps)")
    return _check_int("T", T, 10, ">= 10 for format='code' (its delimiter sits at T-1, at the 10th token or later)")


def copy_layout(T: int, format: str = "paper") -> CopyLayout:
    """The layout of a copy sequence for ``T`` in the given format (see the module docstring)."""
    T = _check_copy_T(T, format)
    if format == "paper":
        return CopyLayout(length=T + 20, delimiter=T + 10, recall_start=T + 10)
    return CopyLayout(length=T + 10, delimiter=T - 1, recall_start=T)


def code_T_from_reported(T: int) -> int:
    """The code's ``T`` that :data:`REPORTED_T_OF_CODE_T` pairs with a reported ``T`` (one of 0, 10, 30, 80, 480;
    ValueError for any other: the paper reports no other)."""
    code = {r: c for c, r in REPORTED_T_OF_CODE_T.items()}
    if T not in code:
        raise ValueError(f"the paper reports copy T in {sorted(code)}, got {T!r}")
    return code[T]


def reported_T_from_code(T: int) -> int | None:
    """The reported ``T`` that :data:`REPORTED_T_OF_CODE_T` pairs with the code's ``T``, or None for a code ``T``
    outside the code's sweep (10, 20, 50, 100, 500)."""
    return REPORTED_T_OF_CODE_T.get(_check_copy_T(T, "code"))


def copy_batch(batch: int, T: int, generator: torch.Generator, format: str = "paper",
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy-task batch: ``x`` float one-hot ``(B, L, 10)`` and ``y`` long class ids ``(B, L)``.

    ``format="paper"``: ``L = T + 20`` with ``T`` blank steps; ``format="code"``: ``L = T + 10`` with the
    code's ``T`` (see the module docstring for both layouts and the T mapping).
    """
    batch = _check_int("batch", batch, 1, ">= 1")
    layout = copy_layout(T, format)
    gen_device = generator.device
    tokens = torch.randint(TOKEN_LOW, TOKEN_HIGH + 1, (batch, N_TOKENS), generator=generator, device=gen_device)
    ids = torch.zeros(batch, layout.length, dtype=torch.long, device=gen_device)
    ids[:, :N_TOKENS] = tokens
    ids[:, layout.delimiter] = DELIMITER
    y = torch.zeros_like(ids)
    y[:, layout.recall_start:] = ids[:, :N_TOKENS]  # the inputs as written: code T = 10 recalls the delimiter
    x = F.one_hot(ids, COPY_CLASSES).float()
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def copy_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of the code: the cross-entropy over all positions (mean over ``B * L``), divided again by
    the batch size ``B`` (``copy_task.py``: ``loss = loss / float(args.batch)``). Adam hardly sees the factor, but
    gradient clipping does: Table 5's clipping magnitudes were tuned on this scale."""
    _check_copy_shapes(logits, y)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)) / y.shape[0]


def _check_copy_shapes(logits: torch.Tensor, y: torch.Tensor) -> None:
    if logits.dim() != 3 or y.dim() != 2 or logits.shape[:2] != y.shape or logits.shape[-1] != COPY_CLASSES:
        raise ValueError(f"expected logits (B, L, {COPY_CLASSES}) and y (B, L); "
                         f"got {tuple(logits.shape)} and {tuple(y.shape)}")
    if y.shape[1] < N_TOKENS:
        raise ValueError(f"sequences must have at least {N_TOKENS} steps, got {y.shape[1]}")


@torch.no_grad()
def copy_metrics(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Metrics of copy-task outputs ``logits (B, L, 10)`` against targets ``y (B, L)``.

    The recall window is the last 10 steps (both formats). The cross-entropies are computed in float64: the
    paper's wRNNs reach 9e-12..1e-10 on its scale (Table 4; cross-entropy / 50), about 5e-10..5e-9 nats per token,
    where a float32 log-softmax rounds the loss to exactly 0 (below about 6e-8; a logit margin of 30 costs
    ``log(1 + 9 e^-30)`` ~ 8e-13). Returns:

    - ``cross_entropy``: true per-token cross-entropy (nats), mean over all ``B * L`` positions
      (the training loss times ``B``);
    - ``recall_cross_entropy``: per-token cross-entropy over the recall window only;
    - ``recall_accuracy``: fraction of the ``B * 10`` recalled tokens whose argmax is right;
    - ``sequence_accuracy``: fraction of sequences with all 10 recalled tokens right;
    - ``paper_comparable_loss``: the number the paper reports as "test MSE": the cross-entropy over
      all positions divided again by the batch size ``B`` (the code evaluates on ``B = 50``). It is
      not a mean squared error; compare it with the paper only for ``B = 50``;
    - ``paper_comparable_loss_float32``: the same as the paper's code computes it, ``nn.CrossEntropyLoss`` on the
      model's float32 outputs, then / ``B``. Float32 rounds a token's loss to about 1e-7 nats (float32's spacing
      near 1, where the softmax's sum sits: a token far below that counts 0), so the paper's 9e-12..1e-10 count the
      few tokens that cost more: the number to set beside the paper's Fig. 3 and Table 4 (the float64 one is the
      loss itself; the two differ by that rounding).
    """
    _check_copy_shapes(logits, y)
    batch = y.shape[0]
    as_code = F.cross_entropy(logits.float().reshape(-1, COPY_CLASSES), y.reshape(-1)).item() / batch
    logits = logits.double()
    ce = F.cross_entropy(logits.reshape(-1, COPY_CLASSES), y.reshape(-1))
    rec_logits, rec_y = logits[:, -N_TOKENS:], y[:, -N_TOKENS:]
    rec_ce = F.cross_entropy(rec_logits.reshape(-1, COPY_CLASSES), rec_y.reshape(-1))
    right = rec_logits.argmax(-1) == rec_y
    return {
        "cross_entropy": ce.item(),
        "recall_cross_entropy": rec_ce.item(),
        "recall_accuracy": right.float().mean().item(),
        "sequence_accuracy": right.all(dim=1).float().mean().item(),
        "paper_comparable_loss": ce.item() / batch,
        "paper_comparable_loss_float32": as_code,
    }


def memoryless_cross_entropy(T: int, format: str = "paper") -> float:
    """Per-token cross-entropy of the best memoryless predictor: ``10 ln 8 / L``.

    Such a predictor outputs the blank with certainty outside the recall window (loss 0) and a uniform
    guess over the 8 tokens inside it (``ln 8`` per step, 10 steps), so a sequence costs ``10 ln 8`` in
    total, spread over ``L`` positions: ``L = T + 20`` (paper format) or ``T + 10`` (code format). At code
    ``T = 10`` the last recall target is always the delimiter, so only 9 steps cost ``ln 8``.
    """
    layout = copy_layout(T, format)
    return min(N_TOKENS, layout.delimiter) * math.log(TOKEN_HIGH - TOKEN_LOW + 1) / layout.length


def memoryless_baseline(T: int, batch: int = PAPER_EVAL_BATCH, format: str = "paper") -> float:
    """The memoryless baseline on the paper-comparable scale: ``10 ln 8 / L / batch``.

    With the default paper format this is NOTES' ``10 ln 8 / (T + 20) / 50``. For the code format
    ``L = T + 10`` with the code's ``T`` (and 9 unknown tokens at ``T = 10``, see
    :func:`memoryless_cross_entropy`).
    """
    batch = _check_int("batch", batch, 1, ">= 1")
    return memoryless_cross_entropy(T, format) / batch


def adding_batch(batch: int, T: int, generator: torch.Generator,
                 device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """An adding-task batch: ``x (B, T, 2)`` float and target ``y (B, 1)`` float.

    ``x[..., 0]`` ~ U(0, 1); ``x[..., 1]`` is 1 at one step uniform in ``0 .. T//2 - 1`` and at one step
    uniform in ``T//2 .. T-1``, 0 elsewhere; ``y`` is the sum of the two marked values.
    """
    batch = _check_int("batch", batch, 1, ">= 1")
    T = _check_int("T", T, 2, ">= 2 (one marker in each half)")
    gen_device = generator.device
    half = T // 2
    values = torch.rand(batch, T, generator=generator, device=gen_device)
    first = torch.randint(0, half, (batch,), generator=generator, device=gen_device)
    second = torch.randint(half, T, (batch,), generator=generator, device=gen_device)
    markers = torch.zeros(batch, T, device=gen_device)
    rows = torch.arange(batch, device=gen_device)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def adding_loss(prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE of the final output ``prediction (B, 1)`` (or ``(B,)``) against ``y (B, 1)``."""
    return F.mse_loss(prediction.reshape(y.shape), y)


def solved_at(steps: Sequence[int], losses: Sequence[float], threshold: float = ADDING_SOLVED_MSE) -> int | None:
    """The first step whose loss is ``<= threshold`` (NaN never counts), or ``None`` if none is."""
    steps, losses = list(steps), list(losses)
    if len(steps) != len(losses):
        raise ValueError(f"steps and losses must have the same length, got {len(steps)} and {len(losses)}")
    for step, loss in zip(steps, losses):
        if float(loss) <= threshold:
            return step
    return None
