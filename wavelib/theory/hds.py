"""History-dependent systems (Eq. 1), the traveling-wave memory (Eq. 3/24, Theorem 3.1),
and the Generalized Fibonacci example (Eq. 4-5).

States are arrays of shape ``(s, d)``: ``s`` stored states of dimension ``d``, oldest first.
Every function here works with ``dtype=object`` arrays of Python ints (exact big integers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Boundary = Callable[[np.ndarray], np.ndarray]
"""``f``: window (s, d), oldest first -> next state (d,)."""


def _check_init(init: np.ndarray) -> np.ndarray:
    init = np.asarray(init)
    if init.ndim != 2 or init.shape[0] < 1 or init.shape[1] < 1:
        raise ValueError(f"init must have shape (s, d) with s, d >= 1, got {init.shape}")
    return init


def _check_steps(steps: int) -> None:
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")


def _next_state(f: Boundary, window: np.ndarray) -> np.ndarray:
    new = np.asarray(f(window.copy()))
    if new.shape != window.shape[1:]:
        raise ValueError(f"f must map a window {window.shape} to a state {window.shape[1:]}, got {new.shape}")
    return new


def hds_rollout(f: Boundary, init: np.ndarray, steps: int) -> np.ndarray:
    """Eq. 1: ``x_i = init`` for ``i <= s``, then ``x_i = f(x_{i-s}, ..., x_{i-1})``.

    Returns every state, shape ``(s + steps, d)``, with the dtype of ``init``.
    """
    init = _check_init(init)
    _check_steps(steps)
    s = init.shape[0]
    x = np.empty((s + steps, init.shape[1]), dtype=init.dtype)
    x[:s] = init
    for t in range(s, s + steps):
        x[t] = _next_state(f, x[t - s:t])
    return x


def fibonacci_direct(init: Sequence[Sequence[int]], steps: int) -> list[list[int]]:
    """Eq. 4 on plain lists: ``F_n = sum of the previous s vectors``; returns all ``s + steps`` vectors."""
    _check_steps(steps)
    seq = [list(v) for v in init]
    if not seq or not seq[0] or any(len(v) != len(seq[0]) for v in seq):
        raise ValueError("init must be s >= 1 vectors of the same length d >= 1")
    s, d = len(seq), len(seq[0])
    for _ in range(steps):
        seq.append([sum(v[c] for v in seq[-s:]) for c in range(d)])
    return seq


def fibonacci_boundary(window: np.ndarray) -> np.ndarray:
    """Eq. 5: the start boundary ``f(h)_j = sum_i h_{i,j}``; window (s, d) -> (d,)."""
    return np.asarray(window).sum(axis=0)


class TravelingWaveMemory:
    """Traveling-wave model of any HDS (Theorem 3.1, proof by construction).

    The substrate ``h`` has shape ``(s, d)``: slot ``s-1`` is the start boundary (the newest state)
    and slot 0 the open end (the oldest). One step follows Appendix Eq. 24,
    ``h_i(t+1) = h_{i+1}(t)`` for ``i < s-1`` and ``h_{s-1}(t+1) = f(h(t))``: content moves from newer
    slots to older ones and leaves through slot 0. (Eq. 3 in the main text writes ``h_{i-1}``; Eq. 24
    and the authors' code use ``h_{i+1}``, which is the direction that reproduces Eq. 1.)
    """

    def __init__(self, f: Boundary, init: np.ndarray, record: bool = False) -> None:
        self._f = f
        self._h = _check_init(init).copy()
        self._history = [self._h.copy()] if record else None

    @property
    def substrate(self) -> np.ndarray:
        """A copy of the current substrate, shape ``(s, d)``."""
        return self._h.copy()

    @property
    def history(self) -> np.ndarray:
        """Every substrate since construction, shape ``(steps + 1, s, d)``; needs ``record=True``."""
        if self._history is None:
            raise ValueError("history is kept only when the memory is built with record=True")
        return np.stack(self._history)

    def step(self) -> np.ndarray:
        """Advance one time step; returns the new boundary value, shape ``(d,)``."""
        new = _next_state(self._f, self._h)
        h = np.empty_like(self._h)
        h[:-1] = self._h[1:]
        h[-1] = new
        self._h = h
        if self._history is not None:
            self._history.append(h.copy())
        return h[-1].copy()

    def run(self, steps: int) -> np.ndarray:
        """Advance ``steps`` time steps; returns the boundary values, shape ``(steps, d)``."""
        _check_steps(steps)
        out = np.empty((steps, self._h.shape[1]), dtype=self._h.dtype)
        for t in range(steps):
            out[t] = self.step()
        return out
