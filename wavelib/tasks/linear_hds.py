"""Binary linear history-dependent systems (HDS), the tasks of Table 1 (ICML 2024).

A window of the ``s`` past inputs ``u(t-s), ..., u(t-1)`` (each of dimension ``d``) is flattened as
``flat = slot * d + comp`` with slot 0 the oldest (``u(t-s)``) and slot ``s-1`` the newest (``u(t-1)``).
A lag ``j`` in ``1..s`` is slot ``s - j``. The target is ``y(t) = F.T @ flat(window)`` with ``F`` of shape
``(s*d, d)`` and one ``±1`` per output column, so each output bit is ± one stored bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..presets import require_positive_int

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
#: The nonzero spectrum of each task's Φ (s = d = 8) as recorded from the public code's tasks
#: (arjunkaruvally/emt_variable_binding): cycles (L, p), each the L roots of λ^L = p. Reference data for Chapter 1's
#: check of :func:`wavelib.theory.lbc.exact_spectrum` and for its test.
PUBLIC_CODE_CYCLES: dict[str, list[tuple[int, int]]] = {
    "repeat_copy": [(8, 1)] * 8,
    "diagonal_copy": [(m, 1) for m in range(1, 9)],
    "compose_t3": [(24, -1), (6, -1), (3, -1), (3, -1)],
    "compose_t4": [(35, 1), (1, -1)],
}


def check_sizes(s: int, d: int) -> None:
    """Raise ValueError unless the window ``s`` and the input dimension ``d`` are positive integers."""
    if int(s) != s or int(d) != d or s < 1 or d < 1:
        raise ValueError(f"s and d must be positive integers, got s={s}, d={d}")


def repeat_copy_rule(s: int, d: int) -> list[Term]:
    """Repeat copy: ``y_k(t) = u(t-s)[k]`` (the output replays the input with period ``s``)."""
    check_sizes(s, d)
    return [(k, s, k, 1) for k in range(d)]


def diagonal_copy_rule(s: int, d: int) -> list[Term]:
    """Diagonal compose copy: ``y_k(t) = u(t-s+k)[k]``; needs ``d <= s`` so every lag is in ``1..s``."""
    check_sizes(s, d)
    if d > s:
        raise ValueError(f"diagonal copy needs d <= s (lag s-k must be >= 1), got s={s}, d={d}")
    return [(k, s - k, k, 1) for k in range(d)]


def operator_from_rule(rule: Sequence[Term], s: int, d: int) -> np.ndarray:
    """Operator ``F`` of shape ``(s*d, d)``, float64, with ``y(t) = F.T @ flat(window)``.

    Every output ``k`` in ``0..d-1`` must appear in exactly one term.
    """
    check_sizes(s, d)
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


def closed_loop_map(F: np.ndarray, horizon: int) -> np.ndarray:
    """The linear map (s*d, horizon*d), float64, from a flat initial window to the next ``horizon`` states of
    the HDS of ``F`` (s*d, d); built exactly from :func:`rollout` of the basis windows, ``s`` steps at a time.
    The map for a shorter horizon is the leading columns of this one."""
    F = np.asarray(F, dtype=np.float64)
    sd, d = F.shape
    s = sd // d
    step = rollout(F, np.eye(sd).reshape(sd, s, d), s).reshape(sd, sd)  # flat window -> next flat window
    blocks = [step]
    while len(blocks) * s < horizon:
        blocks.append(blocks[-1] @ step)
    return np.concatenate(blocks, axis=1)[:, :horizon * d]  # (s*d, horizon*d)


def conflicting_lags(F: np.ndarray, steps: int) -> tuple[int, int]:
    """How far the HDS of ``F`` (s*d, d) is from what a linear RNN with zero input in the closed loop can produce.

    Such an RNN's output ``y(s+k) = sum_j W_r W^(s+k-j) W_uh u(j)`` depends on each input only through its lag
    ``s+k-j``. Returns ``(conflicts, lags)``: of the ``lags`` that occur more than once among the first ``steps``
    closed-loop outputs, the number at which the HDS maps two inputs of the same lag differently (0: a linear RNN
    can hold the task exactly)."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    M = closed_loop_map(F, steps)
    d = M.shape[1] // steps
    s = M.shape[0] // d
    blocks = M.reshape(s, d, steps, d)  # [input slot j (0 oldest), input component, output step t, output component]
    by_lag: dict[int, list[np.ndarray]] = {}
    for j in range(s):
        for t in range(steps):
            by_lag.setdefault(s + t - j, []).append(blocks[j, :, t, :])
    shared = [group for group in by_lag.values() if len(group) > 1]
    conflicts = sum(any(not np.array_equal(group[0], other) for other in group[1:]) for group in shared)
    return conflicts, len(shared)


def sample_hds_batch(F: np.ndarray, n_models: int, batch: int, horizon: int, generator: torch.Generator,
                     device: torch.device | str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Training data for ``n_models`` RNNs at once: ``(inputs (M, B, s+horizon, d), targets (M, B, horizon, d))``.

    Inputs are uniform ``±1`` for the first ``s`` steps, then zero (closed loop); targets are the HDS of
    ``F`` (s*d, d) continued for steps ``s+1 .. s+horizon``. The draw is made on ``generator``'s device, so
    the same generator state gives the same data whatever ``device`` is. The HDS is linear in the initial
    window, so all targets come from one matmul with the map ``window -> next horizon states``, built
    exactly in float64 from :func:`rollout` of the basis windows, ``s`` steps at a time.
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2 or F.shape[1] < 1 or F.shape[0] % F.shape[1] or F.shape[0] == 0:
        raise ValueError(f"F must have shape (s*d, d), got {F.shape}")
    require_positive_int(n_models=n_models, batch=batch, horizon=horizon)
    sd, d = F.shape
    s = sd // d
    closed_loop = closed_loop_map(F, horizon)
    bits = torch.randint(0, 2, (n_models, batch, s, d), generator=generator, device=generator.device)
    u = (2 * bits - 1).to(device=device, dtype=dtype)
    targets = u.reshape(n_models, batch, sd) @ torch.as_tensor(closed_loop, dtype=dtype, device=device)
    inputs = torch.cat([u, u.new_zeros(n_models, batch, horizon, d)], dim=2)
    return inputs, targets.reshape(n_models, batch, horizon, d)
