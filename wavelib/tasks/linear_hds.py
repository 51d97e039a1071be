"""Binary linear history-dependent systems (HDS), the tasks of Table 1 (ICML 2024).

A window of the ``s`` past inputs ``u(t-s), ..., u(t-1)`` (each of dimension ``d``) is flattened as
``flat = slot * d + comp`` with slot 0 the oldest (``u(t-s)``) and slot ``s-1`` the newest (``u(t-1)``).
A lag ``j`` in ``1..s`` is slot ``s - j``. The target is ``y(t) = F.T @ flat(window)`` with ``F`` of shape
``(s*d, d)`` and one ``±1`` per output column, so each output bit is ± one stored bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Term = tuple[int, int, int, int]
"""``(k, j, i, sign)``: output ``k`` is ``sign * u(t-j)[i]``."""

TABLE1_RULES: dict[str, list[Term]] = {
    "repeat_copy": [(k, 8, k, 1) for k in range(8)],
    "diagonal_copy": [(k, 8 - k, k, 1) for k in range(8)],
    "compose_t3": [
        (0, 4, 4, -1), (1, 5, 3, 1), (2, 6, 2, -1), (3, 8, 0, -1),
        (4, 7, 1, -1), (5, 3, 5, -1), (6, 1, 7, 1), (7, 2, 6, -1),
    ],
    "compose_t4": [
        (0, 3, 5, -1), (1, 2, 6, 1), (2, 8, 0, 1), (3, 7, 1, 1),
        (4, 6, 2, -1), (5, 5, 3, 1), (6, 4, 4, 1), (7, 1, 7, -1),
    ],
}

TABLE1_LABELS: dict[str, str] = {
    "repeat_copy": "T1 repeat copy",
    "diagonal_copy": "T2 diagonal compose copy",
    "compose_t3": "T3 compose copy",
    "compose_t4": "T4 compose copy",
}


def _check_sizes(s: int, d: int) -> None:
    if int(s) != s or int(d) != d or s < 1 or d < 1:
        raise ValueError(f"s and d must be positive integers, got s={s}, d={d}")


def repeat_copy_rule(s: int, d: int) -> list[Term]:
    """Repeat copy: ``y_k(t) = u(t-s)[k]`` (the output replays the input with period ``s``)."""
    _check_sizes(s, d)
    return [(k, s, k, 1) for k in range(d)]


def diagonal_copy_rule(s: int, d: int) -> list[Term]:
    """Diagonal compose copy: ``y_k(t) = u(t-s+k)[k]``; needs ``d <= s`` so every lag is in ``1..s``."""
    _check_sizes(s, d)
    if d > s:
        raise ValueError(f"diagonal copy needs d <= s (lag s-k must be >= 1), got s={s}, d={d}")
    return [(k, s - k, k, 1) for k in range(d)]


def operator_from_rule(rule: Sequence[Term], s: int, d: int) -> np.ndarray:
    """Operator ``F`` of shape ``(s*d, d)``, float64, with ``y(t) = F.T @ flat(window)``.

    Every output ``k`` in ``0..d-1`` must appear in exactly one term.
    """
    _check_sizes(s, d)
    F = np.zeros((s * d, d))
    seen: set[int] = set()
    for term in rule:
        if len(term) != 4:
            raise ValueError(f"a term is (k, lag, i, sign), got {term!r}")
        k, j, i, sign = term
        if not 0 <= k < d:
            raise ValueError(f"output index k={k} must be in 0..{d - 1}")
        if not 1 <= j <= s:
            raise ValueError(f"lag j={j} must be in 1..{s}")
        if not 0 <= i < d:
            raise ValueError(f"input component i={i} must be in 0..{d - 1}")
        if sign not in (1, -1):
            raise ValueError(f"sign must be +1 or -1, got {sign}")
        if k in seen:
            raise ValueError(f"output {k} appears twice; give one term per output")
        seen.add(k)
        F[(s - j) * d + i, k] = sign
    missing = sorted(set(range(d)) - seen)
    if missing:
        raise ValueError(f"outputs {missing} have no term; give one term per output")
    return F


def task_operator(name: str, s: int = 8, d: int = 8) -> np.ndarray:
    """``F`` (s*d, d) of a named task: repeat/diagonal copy at any size, T3/T4 only at ``s = d = 8``."""
    if name == "repeat_copy":
        return operator_from_rule(repeat_copy_rule(s, d), s, d)
    if name == "diagonal_copy":
        return operator_from_rule(diagonal_copy_rule(s, d), s, d)
    if name in TABLE1_RULES:
        if (s, d) != (8, 8):
            raise ValueError(f"{name} is defined only for s = d = 8, got s={s}, d={d}")
        return operator_from_rule(TABLE1_RULES[name], s, d)
    raise ValueError(f"unknown task {name!r}; choose one of {sorted(TABLE1_RULES)}")


def rollout(F: np.ndarray, u: np.ndarray, steps: int) -> np.ndarray:
    """Closed-loop targets: ``u`` (s, d) or (B, s, d), oldest first -> (steps, d) or (B, steps, d).

    Each new output joins the window as its newest slot (no teacher forcing). The dtype follows
    ``np.result_type(F, u)``, so integer ``F`` and ``u`` give exact integers.
    """
    F = np.asarray(F)
    u = np.asarray(u)
    if u.ndim not in (2, 3):
        raise ValueError(f"u must have shape (s, d) or (B, s, d), got {u.shape}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    s, d = u.shape[-2:]
    if F.shape != (s * d, d):
        raise ValueError(f"F must have shape (s*d, d) = {(s * d, d)} for u of shape {u.shape}, got {F.shape}")
    window = u.reshape(-1, s, d).astype(np.result_type(F, u))
    out = np.empty((window.shape[0], steps, d), dtype=window.dtype)
    for t in range(steps):
        y = window.reshape(-1, s * d) @ F
        out[:, t] = y
        window = np.concatenate([window[:, 1:], y[:, None, :]], axis=1)
    return out if u.ndim == 3 else out[0]
