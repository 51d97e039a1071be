"""Chapter 5's untrained figures and its velocity explorer (wavelib.plotting.vwave); both chapters' explorers in an
unattended run."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from wavelib.models.short_mixers import vwave_states
from wavelib.plotting import theory as theory_figs
from wavelib.plotting import vwave as figs

matplotlib.use("Agg")


@pytest.mark.parametrize("v, cells", [(1.0, 4), (0.5, 4), (0.25, 4), (0.1, 16), (0.05, 32), (1.0, 1)])
def test_the_oldest_cell_peaks_near_k_minus_1_over_v(v, cells):
    """Cell 0 is reached after K-1 moves; at v = 1 exactly then, at v < 1 at the mode of the waiting time, within a
    step of (K-1)/v (the mode of C(t, j) v^j (1-v)^(t-j) over t is floor((j - v)/v) or next to it)."""
    peak = figs.oldest_cell_peak(v, cells, 2000)
    assert abs(peak - (cells - 1) / v) <= 1 + 1e-9 and (v < 1 or peak == cells - 1)


def test_the_explorer_draws_both_figures_for_its_sliders(monkeypatch, capsys):
    """The widget's sliders are v and K; each setting draws the pulse state and the impulse responses of one v,
    over enough steps to show the oldest cell's peak."""
    monkeypatch.setenv("WAVELIB_WIDGETS", "1")  # a live kernel's
    drawn = []
    monkeypatch.setattr(figs, "pulse_waves_figure",
                        lambda vs, cells, length: drawn.append(("pulses", vs, cells, length)))
    monkeypatch.setattr(figs, "impulse_responses_figure",
                        lambda vs, cells, length: drawn.append(("responses", vs, cells, length)))
    widget = figs.velocity_explorer()
    assert [(c.description, c.min, c.max) for c in widget.children[:2]] == [("velocity v", 0.05, 1.0),
                                                                         ("cells K", 1, 32)]
    drawn.clear()
    widget.children[0].value, widget.children[1].value = 0.05, 32
    pulses, responses = drawn[-2:]
    assert (pulses[0], responses[0]) == ("pulses", "responses") and pulses[1:] == responses[1:]
    _, velocities, cells, length = pulses
    assert (velocities, cells) == ([0.05], 32) and length > figs.oldest_cell_peak(0.05, 32, 2000) > 600
    said = capsys.readouterr().out.strip().splitlines()[-1]
    assert "(K-1)/v = 620.0 steps on average" in said and "K/v = 640.0 steps in the cells (the reach)" in said
    assert "each cell's response sums to 20. At v = 1: 32 steps, the last 32 inputs." in said


@pytest.mark.parametrize("cells, legend", [(4, True), (16, False)])
def test_impulse_responses_draw_a_curve_per_cell_and_a_legend_only_when_readable(cells, legend):
    fig = figs.impulse_responses_figure([1.0, 0.25], cells=cells, length=40)
    for ax in fig.axes:
        assert len(ax.lines) == cells
    assert (fig.axes[-1].get_legend() is not None) is legend
    assert math.isclose(max(line.get_ydata().max() for line in fig.axes[0].lines), 1.0)  # v = 1: a pure delay
    assert [ax.get_title() for ax in fig.axes] == ["v = 1\neach cell sums to 1", "v = 0.25\neach cell sums to 4"]
    shown = [max(8, math.ceil(2 * (cells - 1) / v)) for v in (1.0, 0.25)]  # 2(K-1)/v steps, at least 8
    assert [ax.get_xlim() for ax in fig.axes] == [(-0.5, min(39, n) + 0.5) for n in shown]
    assert [line.get_alpha() for line in fig.axes[0].lines][::cells - 1] == [0.45, 1.0]  # cell K-1 faintest
    plt.close(fig)


def test_pulse_waves_share_one_colour_scale_with_a_bar():
    """Every panel is scaled to the largest state of all (the slowest wave's newest cell, where pulses pile up)."""
    fig = figs.pulse_waves_figure([1.0, 0.1], cells=8, length=30)
    *panels, bar = fig.axes
    clims = {ax.images[0].get_clim() for ax in panels}
    assert len(clims) == 1 and clims.pop() == (0.0, pytest.approx(1 + 0.9 ** 12 + 0.9 ** 24))
    assert bar.get_ylabel() == "state h (pulses of 1)"
    plt.close(fig)


def test_the_trained_states_panels_give_their_own_colour_scale():
    """Each panel is scaled to its own largest |h|: its title says it, beside the largest input |x|."""
    x = np.zeros((2, 12))
    x[:, 0] = [1.0, -3.0]
    states = {name: vwave_states(torch.tensor(x)[None], v, 4)[0].numpy() for name, v in (("mamba", 1.0),
                                                                                         ("vwave-0.1", 0.1))}
    fig = figs.mixer_states_figure(states, {"mamba": np.ones(2), "vwave-0.1": np.full(2, 0.1)},
                                   {"mamba": x, "vwave-0.1": x * 2}, split=5)
    assert [ax.get_title() for ax in fig.axes] == ["mamba (v = 1)\n|h| ≤ 3, input |x| ≤ 3",
                                                   "vwave-0.1 (v = 0.1)\n|h| ≤ 3, input |x| ≤ 6"]
    assert fig.axes[1].images[0].get_clim() == (-3.0, 3.0)
    plt.close(fig)


@pytest.mark.parametrize("explorer", [figs.velocity_explorer, theory_figs.explorer_widget])
def test_an_unattended_run_builds_no_explorer_and_says_so(explorer, monkeypatch, capsys):
    """No sliders where $WAVELIB_WIDGETS is 0 (the book build, `run`, the tests): nbclient can stall on a widget's
    first drawing, and nothing there could move a slider."""
    monkeypatch.setenv("WAVELIB_WIDGETS", "0")
    assert explorer() is None
    assert "No sliders: $WAVELIB_WIDGETS=0" in capsys.readouterr().out
    monkeypatch.setenv("WAVELIB_WIDGETS", "1")
    assert explorer() is not None
