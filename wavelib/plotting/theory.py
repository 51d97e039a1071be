"""Figures of Chapter 1 (TWM theory), each returned as a matplotlib Figure, and the chapter's closing claims table
(:func:`claim_rows`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.colors import BoundaryNorm, PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..reporting import live_widgets, widgets_left_out
from ..tasks.linear_hds import TABLE1_LABELS, task_operator
from ..theory.velocity import velocity_rollout, wave_operator_at_velocity
from ..theory.waves import centroid_velocity, propagate, velocity_operator
from .style import COLORS, figure, legend_below, signed_matrix, spacetime, unit_circle

if TYPE_CHECKING:
    from ipywidgets import interactive

EXPLORER_TASKS = ("repeat_copy", "diagonal_copy", "fibonacci")
#: Eq. 15–16 "holds" at an input amplitude where the wave's smallest ‖∂y/∂x(1)‖_F/√d over s is at least this
WAVE_KEEPS = 0.9


def pulse_figure(velocities: tuple[float, ...] = (1.0, 0.5, 0.25), K: int = 40, T: int = 60) -> Figure:
    """A unit pulse entering cell K-1 at t = 0 and travelling through an open-ended substrate, drawn on one
    square-root colour scale for every panel, so that the spread pulse (peak ~0.1 by t = 60) stays visible."""
    fig, axes = figure(len(velocities), width=2.4 * len(velocities) + 0.8, height=2.8)
    drive = np.zeros(T)
    drive[0] = 1.0
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    for ax, v in zip(axes[0], velocities):
        states = propagate(velocity_operator(K, v), drive)
        spacetime(ax, states, title=f"v = {v:g} (measured {centroid_velocity(states):.3f})", symmetric=False)
        ax.images[0].set_norm(norm)
    fig.colorbar(axes[0, 0].images[0], ax=axes[0], ticks=[0, 0.1, 0.25, 0.5, 1],
                 label="activity (square-root scale)")
    return fig


def wave_vs_bump_figure(drive: np.ndarray, wave: np.ndarray, bump: np.ndarray, K: int) -> Figure:
    """ICLR 2024 Fig. 1: binary inputs (T, c), the wave state (T, c*K) and the static bump state (T, c*K), of
    which the bump panel draws each channel's input cell ``K-1``, one column per channel (its other cells stay 0;
    drawn at full width, a one-cell bar would be hard to see)."""
    T, c = drive.shape
    if bump.shape != (T, c * K) or wave.shape != (T, c * K):
        raise ValueError(f"wave and bump must have shape (T, c*K) = {(T, c * K)}, got {wave.shape}, {bump.shape}")
    if np.abs(np.delete(bump.reshape(T, c, K), K - 1, axis=2)).max(initial=0) > 0:
        raise ValueError("a static bump lives in each channel's input cell K-1 only; this one does not")
    fig, axes = figure(3, width=8.0, height=3.0)
    spacetime(axes[0, 0], drive, title="inputs", xlabel="channel", symmetric=False)
    spacetime(axes[0, 1], wave, title="wave (v = 1)", xlabel=f"channel ({K} cells each)", symmetric=False)
    counts = bump.reshape(T, c, K)[:, :, K - 1]
    spacetime(axes[0, 2], counts, title="static bump",
              xlabel="channel (its input cell; the rest stay 0)", symmetric=False)
    for ax in (axes[0, 0], axes[0, 2]):
        ax.set_xticks(range(c))
    axes[0, 1].set_xticks(np.arange(c) * K + (K - 1) / 2, [str(channel) for channel in range(c)])
    for channel in range(1, c):
        axes[0, 1].axvline(channel * K - 0.5, color="white", lw=0.8)
    top = max(int(counts.max()), 1)  # whole counts: one colour per count, ticks on the integers
    bump_image = axes[0, 2].images[0]
    bump_image.set_cmap(mpl.colormaps["magma"].resampled(top + 1))
    bump_image.set_norm(BoundaryNorm(np.arange(top + 2) - 0.5, top + 1))
    fig.colorbar(bump_image, ax=axes[0, 2], shrink=0.8, ticks=range(top + 1), label="inputs summed")
    return fig


def fibonacci_figure(history: np.ndarray) -> Figure:
    """The substrate of the traveling-wave model of a 1-D Generalized Fibonacci, (steps+1, s, 1),
    with each value written in its cell: every new sum enters at the boundary and moves one slot per step."""
    values = np.asarray(history[:, :, 0], dtype=float)
    steps, s = values.shape
    fig, axes = figure(1, width=1.2 + 0.9 * s, height=0.3 * steps + 0.8)
    ax = axes[0, 0]
    spacetime(ax, np.log10(np.abs(values) + 1), title="substrate (colour: log value)",
              xlabel="slot (0 = oldest … boundary)", symmetric=False)
    for t in range(steps):
        for i in range(s):
            ax.text(i, t, f"{int(history[t, i, 0])}", ha="center", va="center", fontsize=7,
                    color="white" if values[t, i] < values.max() / 4 else "black")
    ax.set_xticks(range(s))
    return fig


def operators_figure(operators: Mapping[str, np.ndarray], phis: Mapping[str, np.ndarray]) -> Figure:
    """Top: the composition functions F^T of Table 1 (output × flat input); bottom: Φ (Eq. 6)."""
    fig, axes = figure(len(operators), nrows=2, width=2.3 * len(operators), height=4.6,
                       gridspec_kw={"height_ratios": [1, 2.6]})
    for j, name in enumerate(operators):
        signed_matrix(axes[0, j], operators[name].T, title=TABLE1_LABELS.get(name, name),
                      xlabel="input (slot·d + comp)", ylabel="output" if j == 0 else "")
        axes[0, j].set_aspect("auto")
        signed_matrix(axes[1, j], phis[name], title="Φ", xlabel="from", ylabel="to" if j == 0 else "")
    return fig


def spectra_figure(spectra: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Eigenvalues (numerical, in a random basis) of Φ against the exact cycle spectrum, per task."""
    fig, axes = figure(len(spectra), width=2.5 * len(spectra), height=3.2)
    for ax, (name, (numerical, exact)) in zip(axes[0], spectra.items()):
        _, counts = np.unique(np.round(exact, 8), return_counts=True)
        repeats = f"up to {counts.max()}-fold" if counts.max() > 1 else "none repeated"
        unit_circle(ax, numerical, exact, title=f"{TABLE1_LABELS.get(name, name)}\n{len(numerical)} on |λ| = 1\n"
                                                f"{len(counts)} distinct, {repeats}")
    legend_below(fig, axes[0, 0], ncols=2)
    return fig


#: network -> (label, colour, line width); the bump is drawn wide under the wave, which it often matches
GRADIENT_NETWORKS = {"random": ("random tanh RNN", COLORS["static"], 1.4),
                     "bump": ("bump: W_hh projects onto inputs", COLORS["accent"], 2.6),
                     "wave": ("wave: W_hh = Φ (repeat copy)", COLORS["wave"], 1.2)}
AMPLITUDE_STYLES = ("-", "--", "-.", (0, (5, 1)))


def gradient_figure(history: Mapping[str, np.ndarray]) -> Figure:
    """The stored ``gradient_sweep``. Left: ||∂y(s+1)/∂x(1)||_F / sqrt(d) against s (mean over networks, range
    shaded) per network and amplitude, the random net's fitted per-step decay and the Eq. 14 bound with
    μ = ||W_hh||_2. Right: ||∂y(s+1)/∂x(i)||_F / sqrt(d) against the input index i at s = s_max."""
    s, amplitudes = history["s"], history["amplitudes"]
    fig, axes = figure(2, width=8.4, height=3.6)
    left, right = axes[0]
    for name, (label, colour, width) in GRADIENT_NETWORKS.items():
        for a, style in zip(range(len(amplitudes)), AMPLITUDE_STYLES):
            values = history[f"{name}_x1"][a]  # (S, N)
            left.semilogy(s, values.mean(axis=1), color=colour, ls=style, lw=width)
            left.fill_between(s, values.min(axis=1), values.max(axis=1), color=colour, alpha=0.15, lw=0)
            right.semilogy(np.arange(1, len(s) + 1), history[f"{name}_profile"][a], color=colour, ls=style,
                           lw=width, marker=".", ms=3)
    rate = history["random_decay_rate"][0].mean()
    start = history["random_x1"][0, 0].mean()
    left.semilogy(s, start * rate ** (s - 1.0), color=COLORS["theory"], lw=0.7)
    norm = np.exp(np.log(history["random_norm"]).mean())
    left.semilogy(s, np.exp(np.log(history["random_bound"]).mean(axis=1)), color=COLORS["theory"], ls=":")
    handles = [Line2D([], [], color=colour, lw=width, label=label)
               for label, colour, width in GRADIENT_NETWORKS.values()]
    handles += [Line2D([], [], color=COLORS["muted"], ls=style, label=f"inputs ±{a:g}")
                for a, style in zip(amplitudes, AMPLITUDE_STYLES)]
    fitted = f"random, fitted decay r^s (±{amplitudes[0]:g}): r = {rate:.2f}"
    handles += [Line2D([], [], color=COLORS["theory"], lw=0.7, label=fitted),
                Line2D([], [], color=COLORS["theory"], ls=":",
                       label=f"Eq. 14 bound of the random nets, μ = ‖W_hh‖₂ = {norm:.2f}")]
    legend_below(fig, left, ncols=3, handles=handles)
    ylabel = r"$\|\partial y(s+1) / \partial x(1)\|_F \,/\, \sqrt{d}$"
    left.set(xlabel="history length s (steps)", ylabel=ylabel, title="sensitivity to the first input")
    right.set(xlabel=f"input index i (s = {len(s)})", ylabel=ylabel.replace("x(1)", "x(i)"),
              title="every input at s = s_max")
    return fig


def explorer_operator(task: str, s: int, d: int) -> np.ndarray:
    """F (s*d, d) of an explorer task: a Table 1 task, or the Generalized Fibonacci sum (Eq. 5)."""
    if task not in EXPLORER_TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(EXPLORER_TASKS)}")
    if task == "fibonacci":
        return np.tile(np.eye(d), (s, 1))  # y = sum of the s stored vectors (Eq. 5)
    return task_operator(task, s, d)


def explorer_figure(v: float = 1.0, s: int = 6, d: int = 3, task: str = "repeat_copy", steps: int = 30,
                    seed: int = 1) -> Figure:
    """The TWM of ``task`` with velocity ``v`` in its shift, driven by one random ±1 input phase:
    the substrate over time, the readout against the true HDS, and the spectrum of Φ_v = (1 - v) I + v Φ
    (this book's extension of the paper's v = 1 model)."""
    F = explorer_operator(task, s, d)
    u = np.random.default_rng(seed).choice([-1.0, 1.0], size=(s, d))
    outputs, substrates, target = velocity_rollout(F, u, steps, v)
    if task == "fibonacci":
        agreement = f"max |y − x| = {np.abs(outputs - target).max():.2g}"
    else:
        agreement = f"bit accuracy {np.mean(np.sign(outputs) == np.sign(target)):.2f}"
    fig, axes = figure(3, width=9.0, height=3.0)
    shown = np.sign(substrates) * np.log1p(np.abs(substrates)) if task == "fibonacci" else substrates
    spacetime(axes[0, 0], shown, title=f"substrate, v = {v:g}", xlabel="slot·d + comp")
    spacetime(axes[0, 1], np.concatenate([target, outputs], axis=1) if task != "fibonacci"
              else np.sign(np.concatenate([target, outputs], axis=1)),
              title=f"target | readout ({agreement})", xlabel="HDS | TWM")
    axes[0, 1].axvline(d - 0.5, color="white", lw=2)
    eigs = np.linalg.eigvals(wave_operator_at_velocity(F, s, d, v))
    unit_circle(axes[0, 2], eigs, title=f"spectrum of Φ_v\n({task}, s={s}, d={d})")
    reach = 1.1 * max(1.0, float(np.abs(eigs).max()))  # every eigenvalue and the whole unit circle
    axes[0, 2].set(xlim=(-reach, reach), ylim=(-reach, reach))
    return fig


def explorer_widget() -> interactive | None:
    """An ipywidgets explorer over (v, s, d, task) drawing :func:`explorer_figure` (needs a live kernel). None, with
    a line saying so, in an unattended run (:func:`~wavelib.reporting.live_widgets`)."""
    if not live_widgets():
        widgets_left_out()
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def draw(v: float, s: int, d: int, task: str) -> None:
        try:
            explorer_figure(v, s, d, task)
        except ValueError as exc:  # e.g. the diagonal task needs d <= s: say so instead of a traceback
            print(exc)
            return
        plt.show()

    return widgets.interactive(
        draw,
        v=widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="velocity v"),
        s=widgets.IntSlider(value=6, min=2, max=12, description="history s"),
        d=widgets.IntSlider(value=3, min=1, max=8, description="dimension d"),
        task=widgets.Dropdown(options=EXPLORER_TASKS, value="repeat_copy", description="task"),
    )


def claim_rows(*, fibonacci: Sequence[tuple[int, int, bool, int]], fibonacci_steps: int,
               velocities: Mapping[float, float], decoded: Sequence[Sequence[int]], onsets: Sequence[Sequence[int]],
               distinct: Mapping[int, tuple[int, int]], lbc_errors: Mapping[str, float], lbc_steps: int,
               variables_placed: bool, placement_steps: int, spectra: Mapping[str, tuple[np.ndarray, np.ndarray]],
               spectrum_match: Mapping[str, bool], sbc_diffs: Mapping[tuple[int, int], float],
               gradients: Mapping[float, Mapping[str, float]], spectral_radius: float, norm: float,
               s_max: int) -> list[tuple[str, str, str]]:
    """The chapter's closing table, (claim, paper, measured) per row, from the numbers its sections measure:

    - ``fibonacci``: (s, d, wave model equals the recursion, digits of the last values) per case checked over
      ``fibonacci_steps`` steps (§1.1);
    - ``velocities``: set velocity v -> measured centroid speed of a pulse (§1.2);
    - ``decoded``, ``onsets``: the onsets decoded from the last wave snapshot and the true ones, per channel;
      ``distinct``: input length T -> distinct final states (wave, bump) over all binary inputs (§1.2);
    - ``lbc_errors``: task -> max |y − x| of the LBC rollout in a random basis over ``lbc_steps`` steps (§1.3);
    - ``variables_placed``: whether A.4's subspace held every variable at closed-loop steps 0..``placement_steps``-1;
    - ``spectra``: task -> (numerical, exact nonzero) eigenvalues of Φ; ``spectrum_match``: task -> whether they
      agree with each other and the exact cycles with the public code's (§1.3);
    - ``sbc_diffs``: (s, d) -> max |wave − attention loop| (§1.4);
    - ``gradients``: input amplitude -> the gradient sweep's metrics at that amplitude; ``spectral_radius`` and
      ``norm``: mean ρ and ‖W_hh‖₂ of the random networks; ``s_max``: the sweep's largest s (§1.5).

    The verdicts come from these numbers: Fibonacci's and the onsets' exactness, each spectrum's match, whether
    Eq. 14's bound grows, and whether Eq. 15–16 hold (the wave's smallest sensitivity at least :data:`WAVE_KEEPS`).
    """
    speeds = ", ".join(f"{v:g}→{speed:.3f}" for v, speed in velocities.items())
    exact = all(equal for _, _, equal, _ in fibonacci)
    onsets_exact = [list(c) for c in decoded] == [list(c) for c in onsets]
    T = max(distinct)
    spectra_text = "; ".join(f"{TABLE1_LABELS[name].split()[0]} {len(exact_eigs)} "
                             f"({'as the public code' if spectrum_match[name] else 'MISMATCH'})"
                             for name, (_, exact_eigs) in spectra.items())
    amps = list(gradients)
    waves = "; ".join(f"stored ±{a:g} (inputs ±{a:g} written at unit norm): "
                      f"{'holds' if gradients[a]['wave_x1_min'] >= WAVE_KEEPS else 'does not hold'} "
                      f"(smallest {gradients[a]['wave_x1_min']:.2f}; criterion ≥ {WAVE_KEEPS:g})" for a in amps)
    waves += (f". ‖∂y/∂x(1)‖_F/√d for s ≤ {s_max}, wave: "
              + "; ".join(f"{gradients[a]['wave_x1_min']:.2f} – {gradients[a]['wave_x1_max']:.2f} (±{a:g}; rate "
                          f"{gradients[a]['wave_decay_rate_mean']:.2f} per step)" for a in amps)
              + "; bump control: "
              + "; ".join(f"{gradients[a]['bump_x1_min']:.2f} – {gradients[a]['bump_x1_max']:.2f} (±{a:g})"
                          for a in amps)
              + ". The rates are fitted across s, where the distance and how full the network's units are grow "
                "together")
    return [
        ("Theorem 3.1: the wave model represents any HDS (Generalized Fibonacci)", "proof by construction (§3)",
         f"integer-exact for {fibonacci_steps} steps, (s, d) ∈ {[(s, d) for s, d, _, _ in fibonacci]}, three "
         f"implementations of the recursion compared (a check of the code: the theorem holds by construction): "
         f"{exact}"),
        ("Discretised wave equation: a pulse moves v cells per step",
         "this book's extension of Eq. 21 (the paper takes v = 1, Eq. 22–23: the shift)",
         f"centroid speed, v→measured: {speeds} (the centroid of Binomial(t, v) moves vt: a check of the code)"),
        ("Waves keep onset time, bumps do not", "ICLR 2024 Fig. 1 (illustration)",
         f"onsets decoded exactly: {onsets_exact}; distinct states at T = {T}: wave {distinct[T][0]}, "
         f"bump {distinct[T][1]}"),
        ("LBC: h(t) = Φ h(t−1) with the readout of Eq. 7 reproduces the HDS in any basis (inputs loaded by the "
         "shift, the boundary driven by the input)", "Eq. 6–7",
         f"max error over {len(lbc_errors)} tasks, random basis, {lbc_steps} steps: {max(lbc_errors.values()):.1e}"),
        ("Repeat copy: variable μ sits in subspace ((μ − t − 1) mod s) + 1 at closed-loop step t",
         "Appendix A.4 (the sentence; Eq. 38's flat index is one subspace off)",
         f"exact for every μ and t = 0..{placement_steps - 1}: {variables_placed}"),
        ("Spectra of Φ for the Table 1 tasks",
         "Table 1's caption: the theoretical Φ of each task (Fig. 6's \"exactly predicted from the theory\" is about "
         "trained networks: Chapter 2; the counts: the public code's)",
         spectra_text),
        ("SBC: the wave with an attention boundary is one causal attention head's autoregressive loop", "Eq. 8",
         f"max difference to scaled_dot_product_attention: {max(sbc_diffs.values()):.1e} (an identity for a head "
         "that attends to a window of exactly s tokens, with no positional encoding, residual stream or unembedding, "
         "its output appended as the next token)"),
        ("Without waves ‖∂C/∂x(1)‖ ≤ ‖∂C/∂h(s+1)‖ ‖W_xh‖ μ^s, with μ ≥ ‖J(σ) W_hh‖",
         "Eq. 13–14 (which write ∂C/∂h(s): §1.5)",
         "‖∂y/∂x(1)‖_F/√d of a random tanh RNN: fitted per-step decay "
         + ", ".join(f"{gradients[a]['random_decay_rate_mean']:.3f} (inputs ±{a:g})" for a in amps)
         + f"; spectral radius {spectral_radius:.3f}; ‖W_hh‖₂ = {norm:.3f}, so the bound "
         f"{'grows' if norm > 1 else 'decays'} with s"),
        ("With waves the sensitivity to an old input does not decay",
         "after Eq. 16 (an upper bound): \"how far back the input is, does not effect gradient computation\"",
         waves),
    ]
