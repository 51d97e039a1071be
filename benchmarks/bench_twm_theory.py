"""Chapter 1's hot path: ``wavelib.theory.gradients.input_sensitivity`` against a per-sample Jacobian loop.

``input_sensitivity`` gets every sample's d x (s*d) Jacobian from d batched backward passes. The reference is
the obvious version: for each input sequence, run the tanh RNN forward and take the full Jacobian with
``torch.autograd.functional.jacobian``, then Frobenius norms per input index and the mean over samples.
Both draw the same inputs: a fresh ``default_rng(seed)`` each, and the reference makes the same
``rng.choice`` call that ``input_sensitivity`` makes (see its source).

``input_sensitivity`` takes NumPy weights and always computes on the CPU in float64, so these rows run on the
CPU whatever ``--device`` says; the table's ``device`` column shows it.
"""

from __future__ import annotations

import numpy as np
import torch

from wavelib.benchmarking import Comparison, compare
from wavelib.experiments.twm_theory import PRESETS
from wavelib.theory.gradients import input_sensitivity, random_tanh_rnn

SEED = 0


def reference_input_sensitivity(weights: dict[str, np.ndarray], s: int, amplitude: float, n_samples: int,
                                rng: np.random.Generator) -> np.ndarray:
    """Plain version of ``input_sensitivity``: one sample at a time, full Jacobian by ``autograd.functional``."""
    W_hh, W_uh, W_r = (torch.as_tensor(weights[k], dtype=torch.float64) for k in ("W_hh", "W_uh", "W_r"))
    H, d = W_uh.shape
    signs = rng.choice((-1.0, 1.0), size=(n_samples, s, d))  # the draw input_sensitivity makes
    inputs = torch.tensor(amplitude * signs, dtype=torch.float64)

    def first_output(x: torch.Tensor) -> torch.Tensor:  # x (s, d) -> y(s+1) (d,)
        h = torch.zeros(H, dtype=torch.float64)
        for x_t in x.unbind(0):  # not x[t]: each select's backward would fill a full-size zero tensor
            h = torch.tanh(W_hh @ h + W_uh @ x_t)
        return W_r @ torch.tanh(W_hh @ h)

    norms = torch.zeros(s, dtype=torch.float64)
    for x in inputs:
        jac = torch.autograd.functional.jacobian(first_output, x)  # (d_out, s, d_in)
        norms += jac.pow(2).sum(dim=(0, 2)).sqrt()
    return (norms / n_samples).numpy()


def benchmarks(device: torch.device, repeats: int) -> list[Comparison]:
    """The ``cpu`` and ``paper`` presets of Chapter 1 at s = s_max (always on the CPU, see module docstring)."""
    del device  # input_sensitivity has no device argument
    rows = []
    for preset in ("cpu", "paper"):
        cfg = PRESETS[preset]
        weights = random_tanh_rnn(cfg.hidden, cfg.d, np.random.default_rng(SEED))
        args = (weights, cfg.s_max, cfg.amplitudes[0], cfg.n_samples)  # the amplitude does not change the work
        rows.append(compare(
            f"twm_theory.input_sensitivity [{preset}]",
            f"H={cfg.hidden}, d={cfg.d}, s={cfg.s_max}, {cfg.n_samples} samples, float64",
            lambda args=args: reference_input_sensitivity(*args, np.random.default_rng(SEED)),
            lambda args=args: input_sensitivity(*args, np.random.default_rng(SEED)),
            torch.device("cpu"), repeats=repeats, warmup=1, tolerance=1e-12,
            reference_label="per-sample autograd.functional.jacobian",
            fast_label="input_sensitivity (batched, d backward passes)",
        ))
    return rows
