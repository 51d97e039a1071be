"""Chapter 5's untrained figures and its velocity explorer (wavelib.plotting.vwave)."""

from __future__ import annotations

import math

import matplotlib
import pytest

from wavelib.plotting import vwave as figs

matplotlib.use("Agg")


@pytest.mark.parametrize("v, cells", [(1.0, 4), (0.5, 4), (0.25, 4), (0.1, 16), (0.05, 32), (1.0, 1)])
def test_the_oldest_cell_peaks_near_k_minus_1_over_v(v, cells):
    """Cell 0 is reached after K-1 moves; at v = 1 exactly then, at v < 1 at the mode of the waiting time, within a
    step of (K-1)/v (the mode of C(t, j) v^j (1-v)^(t-j) over t is floor((j - v)/v) or next to it)."""
    peak = figs.oldest_cell_peak(v, cells, 2000)
    assert abs(peak - (cells - 1) / v) <= 1 + 1e-9 and (v < 1 or peak == cells - 1)


def test_the_explorer_draws_both_figures_for_its_sliders(monkeypatch):
    """The widget's sliders are v and K; each setting draws the pulse state and the impulse responses of one v,
    over enough steps to show the oldest cell's peak."""
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


@pytest.mark.parametrize("cells, legend", [(4, True), (16, False)])
def test_impulse_responses_draw_a_curve_per_cell_and_a_legend_only_when_readable(cells, legend):
    fig = figs.impulse_responses_figure([1.0, 0.25], cells=cells, length=40)
    for ax in fig.axes:
        assert len(ax.lines) == cells
    assert (fig.axes[-1].get_legend() is not None) is legend
    assert math.isclose(max(line.get_ydata().max() for line in fig.axes[0].lines), 1.0)  # v = 1: a pure delay
