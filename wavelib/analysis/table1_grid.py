"""Table 1 over its whole grid, seed by seed (ICML 2024 §4): which networks learned their task, which share Φ's
unit-circle spectrum, and where the learned eigenvalues sit when their number differs from Φ's.

Table 1's caption claims that models with test accuracy above 0.94 have a "very low" spectral error, and names one
exception (repeat copy, H = 64, L2 = 0: a compressed, lower-rank wave). A cell's mean hides which seeds learned
and which are indeterminate, so this module keeps them apart. A seed whose count of eigenvalues with |λ| > 0.9
differs from Φ's is still a wave where those eigenvalues sit at Φ's angles (fewer of them: a compressed code); it
is another solution where they sit no closer to Φ's angles than angles drawn at random would
(:func:`chance_deviation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..tasks.linear_hds import task_operator
from ..theory.lbc import exact_spectrum, wave_operator

LEARNED_ACCURACY = 0.94  #: Table 1's caption: "models that have high test accuracy (> 0.94)"
SIGNIFICANT = 0.9  #: the public code's cut on |λ| (the chapter's Table 1 metric)
#: eigenvalues "sit at Φ's angles" where their mean distance to the nearest is below this fraction of chance's
AT_ANGLES = 0.25


def phi_spectrum(task: str, s: int, d: int) -> np.ndarray:
    """The nonzero eigenvalues of the task's wave operator Φ (complex, all on the unit circle)."""
    return exact_spectrum(wave_operator(task_operator(task, s, d), s, d))["nonzero"]


def _angle_gaps(angles: np.ndarray, theory: np.ndarray) -> np.ndarray:
    """For each angle (n,) (rad), the distance to the nearest argument of ``theory`` (complex), in [0, π]."""
    return np.abs(np.angle(np.exp(1j * angles)[:, None] * np.conj(theory / np.abs(theory))[None, :])).min(axis=1)


def nearest_angle_deviation(eigs: np.ndarray, theory: np.ndarray, threshold: float = SIGNIFICANT) -> float:
    """Mean distance (rad) from each eigenvalue of ``eigs`` (complex, (H,)) with |λ| > ``threshold`` to the nearest
    argument of ``theory`` (complex, nonzero); nan where no eigenvalue passes the cut."""
    kept = eigs[np.abs(eigs) > threshold]
    return float(_angle_gaps(np.angle(kept), theory).mean()) if kept.size else float("nan")


def chance_deviation(theory: np.ndarray, samples: int = 4096) -> float:
    """:func:`nearest_angle_deviation` expected for angles spread uniformly on the circle (rad): the level at which
    learned eigenvalues are no closer to Φ's angles than chance."""
    grid = (np.arange(samples) + 0.5) * (2 * np.pi / samples)
    return float(_angle_gaps(grid, theory).mean())


@dataclass(frozen=True)
class CellSeeds:
    """One Table 1 cell, seed by seed (M seeds): test accuracy, spectral error (rad; nan = indeterminate) with
    optimal and with greedy matching, eigenvalue counts at |λ| > 0.9 and at |λ| >= 1 (the threshold of the paper's
    Fig. 8B/10B captions), each seed's :func:`nearest_angle_deviation`, and Φ's count of unit-circle eigenvalues and
    :func:`chance_deviation`."""

    task: str
    hidden: int
    l2: float
    accuracy: np.ndarray
    error: np.ndarray
    error_greedy: np.ndarray
    n_significant: np.ndarray
    n_at_least_one: np.ndarray
    deviation: np.ndarray
    phi_count: int
    chance: float

    @property
    def learned(self) -> np.ndarray:
        """(M,) bool: test accuracy above :data:`LEARNED_ACCURACY`."""
        return self.accuracy > LEARNED_ACCURACY

    @property
    def determinate(self) -> np.ndarray:
        """(M,) bool: as many eigenvalues with |λ| > 0.9 as Φ (an error exists)."""
        return ~np.isnan(self.error)


#: Table 1's caption: "A notable exception of this behavior is T_1 with hidden size= 64 and L2 = 0"
NAMED_EXCEPTION = ("repeat_copy", 64, 0.0)


def named_exception(cells: Sequence[CellSeeds]) -> CellSeeds | None:
    """The cell of ``cells`` that Table 1's caption names as its exception (:data:`NAMED_EXCEPTION`), or None."""
    return next((c for c in cells if (c.task, c.hidden, c.l2) == NAMED_EXCEPTION), None)


def at_phi_angles(deviation: float, chance: float) -> bool:
    """Whether eigenvalues at mean distance ``deviation`` from Φ's nearest angles sit at those angles (rad)."""
    return bool(deviation < AT_ANGLES * chance)


def cell_key(task: str, hidden: int, l2: float) -> str:
    """The key of a Table 1 cell in the stored metrics and history."""
    return f"{task}|H{hidden}|l2={l2:g}"


def grid_cells(history: Mapping[str, np.ndarray], tasks: Sequence[str], hiddens: Sequence[int],
               l2s: Sequence[float], theory: Mapping[str, np.ndarray]) -> list[CellSeeds]:
    """Every cell of the stored Table 1 ``history``, in the table's order (H, then L2, then task); ``theory[task]``:
    Φ's nonzero eigenvalues (complex)."""
    cells = []
    for hidden in hiddens:
        for l2 in l2s:
            for task in tasks:
                key = cell_key(task, hidden, l2)
                eigs = history[f"{key}|eigs"]
                cells.append(CellSeeds(
                    task=task, hidden=hidden, l2=l2, accuracy=history[f"{key}|test_accuracy"],
                    error=history[f"{key}|error"], error_greedy=history[f"{key}|error_greedy"],
                    n_significant=history[f"{key}|n_learned"],
                    n_at_least_one=history[f"{key}|n_at_least_one"],
                    deviation=np.array([nearest_angle_deviation(e, theory[task]) for e in eigs]),
                    phi_count=len(theory[task]), chance=chance_deviation(theory[task])))
    return cells


def first_step_beyond(step: np.ndarray, horizon: np.ndarray) -> float | None:
    """The median over seeds of the first recorded step at which the curriculum's horizon exceeds its starting
    value (``step`` (R,), ``horizon`` (R, M)): when the networks start to master the task; None where the median
    seed never does."""
    firsts = [step[np.argmax(h > h[0])] if (h > h[0]).any() else np.inf for h in horizon.T]
    median = float(np.median(firsts))
    return None if np.isinf(median) else median
