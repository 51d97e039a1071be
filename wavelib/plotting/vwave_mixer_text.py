"""Chapter 5's texts on the short mixer and the copy protocol, computed from the mixer's recurrence and the
task's packing: the gain that comes with a velocity, what packed training rows hold, what the short conv reaches."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..experiments.vwave import VWaveConfig
from ..models.short_mixers import cell_gains
from ..models.short_mixers import reach as mixer_reach
from ..tasks.copy_strings import trained_lengths
from .vwave import GAIN_REACHES, oldest_cell_peak


def _gains(v: float, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's whole impulse response at velocity ``v``: its sum and its L2 norm (:func:`cell_gains`)."""
    sums, norms = cell_gains(v, cells, math.ceil(GAIN_REACHES * mixer_reach(v, cells)))
    return sums.numpy(), norms.numpy()


def gain_rows(velocities: Sequence[float], cells: int) -> tuple[list[str], list[list[str]]]:
    """One row per velocity: what each cell's response sums to (its gain at DC), the L2 norms of the newest and the
    oldest cell's responses, the reach K/v and where the oldest cell peaks."""
    header = ["v", "each cell's response sums to (gain at DC)", f"L2 norm, newest cell ({cells - 1})",
              "L2 norm, oldest cell (0)", "reach K/v (steps)", "oldest cell peaks at (steps)"]
    rows = []
    for v in velocities:
        sums, norms = _gains(v, cells)
        reach = mixer_reach(v, cells)
        rows.append([f"{v:g}", f"{sums.mean():.3g}", f"{norms[-1]:.3g}", f"{norms[0]:.3g}", f"{reach:g}",
                     str(oldest_cell_peak(v, cells, math.ceil(GAIN_REACHES * reach)))])
    return header, rows


def gain_text(velocities: Sequence[float], cells: int) -> str:
    """Velocity comes with gain: with the same conv weights, a slower wave is a filter of larger gain, by how much
    at each of ``velocities`` (:func:`gain_rows`), and what that does to this page's comparisons of velocities."""
    gains = {v: _gains(v, cells) for v in velocities}
    slow, fast = min(velocities), max(velocities)
    sums = ", ".join(f"{gains[v][0].mean():.3g}" for v in velocities)
    return (f"**Velocity comes with gain.** An input stays 1/v steps in each cell on average, so each cell's whole "
            f"response sums to 1/v: {sums} at v = {', '.join(f'{v:g}' for v in velocities)}. With the same conv "
            f"weights $w$, the filter's response to a constant input, $\\sum_t k_t = \\sum_i w_i / v$, is therefore "
            f"{gains[slow][0].mean() / gains[fast][0].mean():.3g}× larger at v = {slow:g} than at v = {fast:g}, and "
            f"the newest cell's response has L2 norm $1/\\sqrt{{v(2-v)}}$: {gains[slow][1][-1]:.3g} at v = {slow:g} "
            f"against {gains[fast][1][-1]:.3g} at v = {fast:g} (table below). A slower wave is thus also a louder "
            "filter: the velocities on this page change the reach and the gain together, and the comparisons between "
            "them cannot tell which of the two makes a difference (training may rescale the weights to make up for "
            "it; this page does not measure whether it does). The abstract gives the shift SSM only at v = 1 "
            "($B = e_0$) and does not say how the input enters at another velocity.")


def packing_text(config: VWaveConfig, rows: int = 2048) -> str:
    """What packing trains at each maximum length of ``config``: among the strings in the loss of ``rows`` training
    rows (seed 0), the share of the longest quarter of lengths and the mean length, against a uniform draw's; and
    the lengths that Mamba's short conv reaches without the scan's state."""
    parts = []
    for length in config.lengths:
        training = config.training(length)
        trained = trained_lengths(training.context_len, config.min_len, length, rows).numpy()
        span = length - config.min_len + 1
        quarter = max(span // 4, 1)
        longest = f"length {length}, the longest, makes" if quarter == 1 else \
            f"lengths {length - quarter + 1}–{length}, the longest quarter, make"
        parts.append(f"at $L_{{\\max}} = {length}$ (rows of {training.context_len} tokens) {longest} "
                     f"{np.mean(trained > length - quarter):.0%} of them ({quarter / span:.0%} for equal counts), and "
                     f"the mean length is {trained.mean():.1f} ({(config.min_len + length) / 2:g})")
    taps = config.spec("mamba").cells
    reach = ", ".join(f"{min(taps - 1, length - config.min_len + 1) / (length - config.min_len + 1):.0%} at "
                      f"$L_{{\\max}} = {length}$" for length in config.lengths)
    return (f"**What packing trains.** A training row holds whole examples and then a cut one, which the loss leaves "
            f"out (as in Jelassi et al.'s code), and a long example is cut more often than a short one. Among the "
            f"strings in the loss of {rows:,} training rows: " + "; ".join(parts) + ". **What the short conv "
            f"copies.** A letter is written exactly $\\ell$ tokens after it was read, so strings of up to {taps - 1} "
            f"letters lie within reach of Mamba's {taps}-tap short conv and can be copied without the selective "
            f"scan's state: up to {reach} of the mean over lengths (the tables give the accuracy at $L_{{\\max}}$ "
            "alone too). A slower v-wave mixer reaches further (about $K/v$ tokens: §5.1's table): this book's "
            "reading of the better \"context\" the abstract credits (it does not say longer).")
