"""The book's figure style and the plot primitives every chapter shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: Named colours of the book: waves, static/random baselines, theory, accents.
COLORS = {"wave": "#1f6fb4", "static": "#d1495b", "theory": "#222222", "accent": "#edae49", "muted": "#8a8a8a"}

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.figsize": (7.0, 3.2),
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "image.cmap": "RdBu_r",
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once per notebook)."""
    mpl.rcParams.update(STYLE)


def spacetime(ax: Axes, states: np.ndarray, title: str = "", xlabel: str = "cell",
              ylabel: str = "time step", symmetric: bool = True) -> None:
    """Activity as an image: states (T, N), time runs down, cells run right."""
    states = np.asarray(states, dtype=float)
    if symmetric:
        limit = float(np.abs(states).max()) or 1.0
        ax.imshow(states, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        ax.imshow(states, aspect="auto", interpolation="nearest", cmap="magma")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)


def signed_matrix(ax: Axes, M: np.ndarray, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    """A matrix with +1 red, -1 blue and 0 white (the colour code of the ICML paper's Table 1)."""
    M = np.asarray(M, dtype=float)
    limit = float(np.abs(M).max()) or 1.0
    ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)


def unit_circle(ax: Axes, eigs: np.ndarray, reference: np.ndarray | None = None, title: str = "",
                label: str = "numerical", reference_label: str = "exact") -> None:
    """Eigenvalues in the complex plane with the unit circle; ``reference`` drawn as open rings."""
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color=COLORS["muted"], lw=0.8)
    if reference is not None:
        ax.scatter(reference.real, reference.imag, s=70, facecolors="none", edgecolors=COLORS["theory"],
                   lw=0.8, label=reference_label)
    ax.scatter(np.real(eigs), np.imag(eigs), s=10, color=COLORS["wave"], label=label, zorder=3)
    ax.set(title=title, xlabel="Re λ", ylabel="Im λ", aspect="equal", xlim=(-1.25, 1.25), ylim=(-1.25, 1.25))


def legend_below(fig: Figure, ax: Axes, extra: Axes | None = None, ncols: int = 3,
                 handles: Sequence[Artist] | None = None) -> None:
    """One legend for the whole figure, under the panels (out of the data's way), from the handles of ``ax``
    (and of ``extra``, e.g. a twin axis), or from ``handles`` (labelled proxy artists) where given."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
        if extra is not None:
            more = extra.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
    else:
        labels = [handle.get_label() for handle in handles]
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, fontsize=8)


def fit_unit_circle(ax: Axes, *eigs: np.ndarray) -> None:
    """Square limits that show the unit circle and every eigenvalue of ``eigs`` (complex arrays)."""
    radius = max([1.0] + [float(np.abs(e).max()) for e in eigs if np.size(e)])
    limit = 1.12 * radius
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit))


def figure(ncols: int = 1, nrows: int = 1, width: float = 7.0, height: float = 3.0,
           **kwargs: Any) -> tuple[Figure, np.ndarray]:
    """``plt.subplots`` with the book's default size: the figure and its axes (nrows, ncols)."""
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)
