"""The string copy task of Jelassi, Brandfonbrener, Kakade & Malach (2024), "Repeat after me".

Tokens: letters a-z are ids 0-25, then BOS ``$`` (26), copy ``|`` (27), EOS ``.`` (28), pad ``*`` (29).
One example is ``$ s | s .`` with ``s`` i.i.d. uniform letters of length uniform in ``[min_len, max_len]``.

Training rows are packed like the reference code (``synthetic_exps/data_utils.py``, ``CopyDataset``):
whole examples back to back, then the prefix of one more example cut at the end of the row (no PAD);
the loss counts the copied letters and the EOS of the whole examples only. Evaluation rows hold one
example each, padded with PAD; string/character accuracy count the copied letters only, EOS excluded
(``synthetic_exps/test_utils.py``, ``get_score``), under teacher forcing with the argmax prediction.

Departures from the reference code:

- The model reads ``context_len`` tokens (a packed stream of ``context_len + 1``): theirs reads
  ``context_len - 1`` in training and ``context_len`` at evaluation; here both read ``context_len``.
- ``context_len >= 2 * max_len + 3`` (one whole example fits); theirs only asks ``> 2 * max_len``,
  which lets a training row hold no whole example (an empty loss mask, a 0/0 loss).
- All randomness comes from a ``torch.Generator`` (theirs: unseeded global ``np.random``), and the
  evaluation set is fixed by a seed (theirs draws fresh strings at every evaluation).
- Evaluation lengths are whatever is asked, max included (their loop uses
  ``np.arange(min_eval_len, max_eval_len)``, which skips ``max_eval_len``).

Letters: 26 always, the default of their ``--vocab_size`` in ``synthetic_exps/main.py`` at commit ``73141d4``, the
version whose defaults NOTES.md §3 quotes (batch 8, 2,000 steps, ``state_dim`` 32); another
version of that file (commit ``1f32ac6``, with batch 64 and 100 steps) defaults to 10.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..presets import require_positive_int

LETTERS = 26
BOS = 26
COPY = 27
EOS = 28
PAD = 29
VOCAB_SIZE = 30

_CHARS = "abcdefghijklmnopqrstuvwxyz$|.*"
_IDS = {c: i for i, c in enumerate(_CHARS)}


def encode(text: str) -> list[int]:
    """Token ids of ``text`` (characters a-z and ``$|.*``)."""
    bad = sorted(set(text) - set(_IDS))
    if bad:
        raise ValueError(f"cannot encode {bad}; valid characters are a-z and '$|.*'")
    return [_IDS[c] for c in text]


def decode(ids: Sequence[int] | torch.Tensor) -> str:
    """Text of token ids in ``0..29`` (a 1-D sequence or tensor)."""
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    bad = sorted({i for i in ids if not 0 <= i < VOCAB_SIZE})
    if bad:
        raise ValueError(f"cannot decode ids {bad}; valid ids are 0..{VOCAB_SIZE - 1}")
    return "".join(_CHARS[i] for i in ids)


def copy_example(letters: Sequence[int]) -> list[int]:
    """``[BOS, *s, COPY, *s, EOS]`` for letter ids ``s`` in ``0..25``; ``2 * len(s) + 3`` tokens."""
    s = list(letters)
    if any(not 0 <= i < LETTERS for i in s):
        raise ValueError(f"letters must be ids in 0..{LETTERS - 1}, got {s}")
    return [BOS, *s, COPY, *s, EOS]


def _example_masks(length: int) -> tuple[list[bool], list[bool]]:
    """Per-token (loss, answer) masks of one example of ``length`` letters, aligned with its tokens."""
    prompt = [False] * (length + 2)
    return prompt + [True] * length + [True], prompt + [True] * length + [False]


def _check_context(context_len: int, max_len: int) -> None:
    require_positive_int(context_len=context_len)
    if context_len < 2 * max_len + 3:
        raise ValueError(
            f"context_len must be >= 2 * max_len + 3 = {2 * max_len + 3} to hold a whole example, "
            f"got {context_len}"
        )


@dataclass(frozen=True, eq=False)
class CopyBatch:
    """A packed training batch; ``targets`` is ``inputs`` shifted left by one token.

    ``inputs``, ``targets``: (B, context_len) long. ``loss_mask``: (B, context_len) bool, True where the
    target is a copied letter or the EOS of a whole example (``loss_mask & (targets != EOS)`` gives the
    letters alone). ``lengths``: (n_examples,) long, on the CPU: the string length of each whole example (those in
    the loss), row after row.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_mask: torch.Tensor
    lengths: torch.Tensor

    @property
    def n_examples(self) -> int:
        """Number of whole examples in the batch (those in the loss)."""
        return len(self.lengths)


def _packed_rows(batch: int, stream_len: int, min_len: int, max_len: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(batch, stream_len) long tokens, whole examples then a cut one per row; their (batch, stream_len) bool
    loss mask; the string length of each whole example, row after row.

    The draws are those of sampling one example at a time, row after row: its length, then its letters.
    On a CPU generator, ``torch.randint(low, high)`` gives ``low + r % (high - low)`` of one 32-bit draw
    ``r`` per element (where ``high - low < 2**32``), so one call of residues modulo ``lcm(26, span)`` (below
    ``2**32`` for any span under 165 million) holds every length and letter exactly. The generator is then set
    back and advanced by the draws used: it ends where example-by-example sampling leaves it
    (``tests/test_copy_strings.py`` keeps that sampler as the oracle).
    """
    span = max_len - min_len + 1
    # A whole example takes 1 + l < (2 l + 3) / 2 draws for its 2 l + 3 tokens, the cut one at most 1 + max_len.
    most = batch * (stream_len // 2 + 2 + max_len)
    state = generator.get_state()
    residues = torch.randint(0, math.lcm(LETTERS, span), (most,), generator=generator)
    lengths = residues % span + min_len
    as_list = lengths.tolist()

    starts, row_starts = [], []  # the draw of each example's length; the first token of each row
    draw = token = 0
    for _ in range(batch):
        row_starts.append(token)
        row_end = token + stream_len
        while token < row_end:
            starts.append(draw)
            token += 2 * as_list[draw] + 3
            draw += 1 + as_list[draw]
    generator.set_state(state)
    torch.randint(0, 2, (draw,), generator=generator)

    # Token j of an example of l letters whose length is draw p: BOS, draws p+1..p+l, COPY, the same, EOS.
    first_draw = torch.tensor(starts)
    size = lengths[first_draw]
    n_tokens = 2 * size + 3
    row_start = torch.tensor(row_starts)
    ends = n_tokens.cumsum(0)
    begins = ends - n_tokens
    whole = ends <= row_start[torch.searchsorted(row_start, begins, right=True) - 1] + stream_len
    l = torch.repeat_interleave(size, n_tokens)
    j = torch.arange(token) - torch.repeat_interleave(begins, n_tokens)
    copied = j >= l + 2  # the copied letters and the EOS: the loss mask of a whole example
    letter = torch.minimum(torch.where(copied, j - l - 1, j), l).clamp(min=1)  # 1..l; clamped off the letters
    letter_draw = torch.repeat_interleave(first_draw, n_tokens) + letter
    flat = torch.where(j == 0, BOS, torch.where(j == l + 1, COPY, torch.where(j == 2 * l + 2, EOS,
                                                                               residues[letter_draw] % LETTERS)))
    mask = copied & torch.repeat_interleave(whole, n_tokens)
    rows = row_start[:, None] + torch.arange(stream_len)
    return flat[rows], mask[rows], size[whole]


def sample_training_batch(batch: int, context_len: int, min_len: int, max_len: int,
                          generator: torch.Generator, device: torch.device | str | None = None) -> CopyBatch:
    """Training rows of examples with string lengths uniform in ``[min_len, max_len]``, packed as in the
    reference code; ``generator`` (CPU) drives all randomness, tensors are moved to ``device`` at the end.
    """
    require_positive_int(batch=batch, min_len=min_len, max_len=max_len)
    if min_len > max_len:
        raise ValueError(f"min_len must be <= max_len, got min_len={min_len}, max_len={max_len}")
    _check_context(context_len, max_len)
    ids, mask, lengths = _packed_rows(batch, context_len + 1, min_len, max_len, generator)
    return CopyBatch(
        inputs=ids[:, :-1].contiguous().to(device),
        targets=ids[:, 1:].contiguous().to(device),
        loss_mask=mask[:, 1:].contiguous().to(device),
        lengths=lengths,
    )


def trained_lengths(context_len: int, min_len: int, max_len: int, rows: int, seed: int = 0) -> torch.Tensor:
    """The string lengths (long, on the CPU) of the whole examples, those in the loss, of ``rows`` training rows of
    ``context_len`` tokens drawn from ``seed``. Packing cuts the last example of a row, a long one more often than
    a short one, so these are not uniform in ``[min_len, max_len]`` where a row holds few examples."""
    return sample_training_batch(rows, context_len, min_len, max_len, torch.Generator().manual_seed(seed)).lengths


@dataclass(frozen=True, eq=False)
class CopyEvalSet:
    """Fixed evaluation examples, one per row, padded on the right with PAD.

    ``inputs``, ``targets``: (N, context_len) long, ``targets`` = ``inputs`` shifted left by one.
    ``loss_mask``: (N, context_len) bool on the copied letters and the EOS (as in training).
    ``answer_mask``: (N, context_len) bool on the copied letters only (what the accuracies score).
    ``lengths``: (N,) long, the string length of each row. Rows are grouped by length, in the order asked.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_mask: torch.Tensor
    answer_mask: torch.Tensor
    lengths: torch.Tensor

    def to(self, device: torch.device | str) -> CopyEvalSet:
        """The same set with every tensor on ``device``."""
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).to(device)
                                            for f in dataclasses.fields(self)})


def make_eval_set(lengths: Sequence[int], n_per_length: int, seed: int,
                  context_len: int | None = None) -> CopyEvalSet:
    """``n_per_length`` examples at each exact string length (so the largest is included).

    The strings of one length depend only on ``(seed, length, n_per_length)``, not on the other lengths
    nor on torch's global RNG. ``context_len`` defaults to ``2 * max(lengths) + 3``.
    """
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lengths must be a non-empty sequence of positive integers")
    if any(int(n) != n or n < 1 for n in lengths):
        raise ValueError(f"lengths must be positive integers, got {lengths}")
    require_positive_int(n_per_length=n_per_length)
    if len(set(lengths)) != len(lengths):
        raise ValueError(f"lengths must be distinct, got {lengths}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    width = 2 * max(lengths) + 3 if context_len is None else context_len
    _check_context(width, max(lengths))

    ids = torch.full((len(lengths) * n_per_length, width + 1), PAD, dtype=torch.long)
    loss = torch.zeros(ids.shape, dtype=torch.bool)
    answer = torch.zeros(ids.shape, dtype=torch.bool)
    for k, length in enumerate(lengths):
        generator = torch.Generator().manual_seed(seed * 1_000_003 + length)
        strings = torch.randint(0, LETTERS, (n_per_length, length), generator=generator)
        rows, span = slice(k * n_per_length, (k + 1) * n_per_length), slice(0, 2 * length + 3)
        bos, copy, eos = (torch.full((n_per_length, 1), t, dtype=torch.long) for t in (BOS, COPY, EOS))
        ids[rows, span] = torch.cat([bos, strings, copy, strings, eos], dim=1)
        loss_row, answer_row = _example_masks(length)
        loss[rows, span] = torch.tensor(loss_row)
        answer[rows, span] = torch.tensor(answer_row)
    return CopyEvalSet(
        inputs=ids[:, :-1].contiguous(),
        targets=ids[:, 1:].contiguous(),
        loss_mask=loss[:, 1:].contiguous(),
        answer_mask=answer[:, 1:].contiguous(),
        lengths=torch.tensor(lengths, dtype=torch.long).repeat_interleave(n_per_length),
    )


def copy_accuracy(logits: torch.Tensor, targets: torch.Tensor,
                  answer_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row (string accuracy, character accuracy), each (B,) float, of teacher-forced argmax predictions.

    ``logits``: (B, L, V); ``targets``: (B, L); ``answer_mask``: (B, L) bool, the scored tokens (the
    copied letters, EOS excluded, as in the reference ``get_score``). String accuracy is 1 where every
    scored token is right, which is also exactly when greedy decoding copies the string right; character
    accuracy is the fraction of scored tokens right (under teacher forcing, not greedy decoding).
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2] or answer_mask.shape != targets.shape:
        raise ValueError(f"need logits (B, L, V) and targets, answer_mask (B, L); got {tuple(logits.shape)}, "
                         f"{tuple(targets.shape)}, {tuple(answer_mask.shape)}")
    if answer_mask.dtype != torch.bool:
        raise ValueError(f"answer_mask must be a bool tensor, got {answer_mask.dtype}")
    n_answer = answer_mask.sum(dim=1)
    if bool((n_answer == 0).any()):
        raise ValueError("every row needs at least one answer token in answer_mask")
    n_right = ((logits.argmax(dim=-1) == targets) & answer_mask).sum(dim=1)
    return (n_right == n_answer).float(), n_right.float() / n_answer
