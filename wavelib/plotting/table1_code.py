"""The public code's own Table 1, as its notebook printed it, beside this page's grid (Chapter 2).

The repository of the spectrum paper (``arjunkaruvally/emt_variable_binding``, commit ``1176ec7a933425b2``) keeps,
in ``experiments_public/2_all_linearVB/experiment_notebooks/1_0_binary_linearVB.ipynb``, the printed output of its
"Latex formatting" cell: the Table 1 rows of H in {64, 128} and L2 in {0, 0.001, 0.1}, "error (accuracy)" per cell,
"---" where it gives no error. Its task ids decode to this book's rules: (255, 0, 0) repeat copy,
(9241421688590303745, 0, 0) the diagonal copy, (…, 262676, 189) T3 and (…, 38637, 145) T4. Per seed (1–20) it
takes the lowest error and, apart, the highest accuracy of its two runs (curriculum thresholds 0.9 and 0.98), then
means over seeds; its notebook computes errors only for models above 0.9 test accuracy. Our text of the paper lost
the table's cells, so whether these are the published numbers cannot be checked here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..analysis.table1_grid import CellSeeds
from .spectrum import cell_label, order_of_magnitude

CODE_GATE = 0.9  #: the public notebook scores the spectrum of models above this test accuracy only
#: (task, H, L2) -> (error in rad, or None for its "---"; mean test accuracy), as the public notebook printed them
CODE_TABLE1: dict[tuple[str, int, float], tuple[float | None, float]] = {
    ("repeat_copy", 64, 0.0): (None, 0.97), ("repeat_copy", 64, 0.001): (None, 0.88),
    ("repeat_copy", 64, 0.1): (None, 0.50), ("repeat_copy", 128, 0.0): (0.0005, 1.00),
    ("repeat_copy", 128, 0.001): (None, 0.93), ("repeat_copy", 128, 0.1): (None, 0.50),
    ("diagonal_copy", 64, 0.0): (0.0075, 1.00), ("diagonal_copy", 64, 0.001): (None, 0.85),
    ("diagonal_copy", 64, 0.1): (None, 0.50), ("diagonal_copy", 128, 0.0): (0.0055, 0.98),
    ("diagonal_copy", 128, 0.001): (0.0031, 0.98), ("diagonal_copy", 128, 0.1): (None, 0.50),
    ("compose_t3", 64, 0.0): (0.0026, 1.00), ("compose_t3", 64, 0.001): (0.0010, 0.97),
    ("compose_t3", 64, 0.1): (None, 0.50), ("compose_t3", 128, 0.0): (0.0031, 0.98),
    ("compose_t3", 128, 0.001): (0.0005, 1.00), ("compose_t3", 128, 0.1): (None, 0.50),
    ("compose_t4", 64, 0.0): (0.0112, 0.94), ("compose_t4", 64, 0.001): (0.0011, 1.00),
    ("compose_t4", 64, 0.1): (None, 0.50), ("compose_t4", 128, 0.0): (0.0022, 1.00),
    ("compose_t4", 128, 0.001): (0.0006, 1.00), ("compose_t4", 128, 0.1): (None, 0.50),
}


def gated_error(cell: CellSeeds, gate: float = CODE_GATE) -> tuple[float | None, int]:
    """The cell's mean error (rad) over its determinate seeds above ``gate`` test accuracy, as the public code
    scores them (None where there are none), and how many seeds that is."""
    kept = cell.determinate & (cell.accuracy > gate)
    return (float(cell.error[kept].mean()) if kept.any() else None), int(kept.sum())


def _entry(error: float | None, accuracy: float) -> str:
    return f"{'—' if error is None else f'{error:.4f}'} ({accuracy:.2f})"


def code_rows(cells: Sequence[CellSeeds]) -> tuple[list[str], list[list[str]]]:
    """One row per cell of ``cells`` that the public code printed: this page's error over its determinate seeds
    above :data:`CODE_GATE` (how many of the seeds, in brackets) with its mean test accuracy, beside the code's."""
    header = ["cell", f"this page: error over determinate seeds above {CODE_GATE:g} accuracy [how many] (accuracy)",
              "public code's printed Table 1: error (accuracy)"]
    rows = []
    for cell in cells:
        theirs = CODE_TABLE1.get((cell.task, cell.hidden, cell.l2))
        if theirs is None:
            continue
        error, n = gated_error(cell)
        ours = _entry(error, float(cell.accuracy.mean()))
        rows.append([cell_label(cell), ours.replace(" (", f" [{n}/{cell.accuracy.size}] (", 1) if error is not None
                     else ours, _entry(*theirs)])
    return header, rows


def code_claim_row(cells: Sequence[CellSeeds]) -> tuple[str, str, str]:
    """The closing table's row for the comparison with the public code's printed Table 1 (:func:`code_text`)."""
    return ("Table 1's cells, beside the public code's own printed table",
            "the paper's table (its cells lost in our text); the public notebook printed one",
            _comparison(cells) or "no cell of this page's grid was printed")


def code_text(cells: Sequence[CellSeeds]) -> str:
    """How this page's grid compares with the public code's printed Table 1 (:func:`code_rows`), as a paragraph
    ("" where no cell of ``cells`` was printed)."""
    comparison = _comparison(cells)
    return f"**Beside the public code's printed Table 1.** {comparison}" if comparison else ""


def _comparison(cells: Sequence[CellSeeds]) -> str:
    """In how many cells both give an error or both give none, the spread of the ratio where both give one, the
    cells where only one does, the largest difference in mean test accuracy, and the code's own scale of errors."""
    shared = [(c, gated_error(c)[0], CODE_TABLE1[(c.task, c.hidden, c.l2)]) for c in cells
              if (c.task, c.hidden, c.l2) in CODE_TABLE1]
    if not shared:
        return ""
    both = [(c, ours / theirs[0]) for c, ours, theirs in shared if ours is not None and theirs[0] is not None]
    neither = [c for c, ours, theirs in shared if ours is None and theirs[0] is None]
    only = [(c, ours, theirs[0]) for c, ours, theirs in shared if (ours is None) != (theirs[0] is None)]
    gaps = [(c, float(c.accuracy.mean()) - theirs[1]) for c, _, theirs in shared]
    widest = max(gaps, key=lambda item: abs(item[1]))
    ratios = np.array([r for _, r in both])
    text = f"Of its {len(shared)} cells, both give an error in {len(both)}, neither does in {len(neither)}"
    if both:
        within = int(np.sum((ratios >= 0.5) & (ratios <= 2)))
        text += (f"; where both do, this page's is ×{ratios.min():.2f}–{ratios.max():.2f} the code's, within a factor "
                 f"of 2 in {within} of {len(both)}")
    if only:
        text += ("; only one of them gives an error in " + ", ".join(
            f"{cell_label(c)} (this page {'—' if ours is None else f'{ours:.4f}'}, the code "
            f"{'—' if theirs is None else f'{theirs:.4f}'})" for c, ours, theirs in only))
    errors = [error for error, _ in CODE_TABLE1.values() if error is not None]
    of_order = sum(order_of_magnitude(e) == -3 for e in errors)
    return text + (f". Mean test accuracies differ by at most {abs(widest[1]):.2f} ({cell_label(widest[0])}: this page "
                   f"{widest[0].accuracy.mean():.2f}, the code {widest[0].accuracy.mean() - widest[1]:.2f}). The "
                   f"code's own errors run from {min(errors):.1e} to {max(errors):.1e} rad, {of_order} of "
                   f"{len(errors)} of order 1e-3: the reference notes' \"order 1e-3\" describes its table loosely.")
