import math

import pytest
import torch

from wavelib.models.short_mixers import (
    FFT_MIN_LENGTH, CausalConv, VWaveMixer, cell_gains, cell_responses, make_short_mixer, reach, vwave_states,
)


def _read_out(mixer: CausalConv, states: torch.Tensor) -> torch.Tensor:
    """``y_t = w · h_t + b`` from the recurrence's states (B, D, K, L)."""
    return torch.einsum("dk,bdkt->bdt", mixer.conv.weight[:, 0], states) + mixer.conv.bias[:, None]


@pytest.mark.parametrize("length", [7, FFT_MIN_LENGTH + 37])  # direct conv and FFT paths
@pytest.mark.parametrize("v", [1.0, 0.9, 0.5, 0.25, 0.1, 0.01])
@pytest.mark.parametrize("cells", [4, 16])
def test_closed_form_kernel_equals_the_recurrence(length, v, cells):
    torch.manual_seed(0)
    mixer = VWaveMixer(3, cells, v=v).double()
    x = torch.randn(2, 3, length, dtype=torch.float64)
    oracle = _read_out(mixer, vwave_states(x, mixer.velocity, cells))
    assert torch.allclose(mixer(x), oracle, rtol=0, atol=1e-12)


def test_velocity_one_is_mambas_conv_with_the_same_weights():
    torch.manual_seed(1)
    conv = make_short_mixer("conv", 5, 4).double()
    wave = make_short_mixer("vwave", 5, 4, v=1.0).double()
    wave.load_state_dict(conv.state_dict(), strict=False)
    assert set(conv.state_dict()) <= set(wave.state_dict())
    for length in (3, 100):
        x = torch.randn(2, 5, length, dtype=torch.float64)
        # Mamba: Conv1d(D, D, K, groups=D, padding=K-1) then the first L outputs
        reference = torch.nn.functional.conv1d(x, conv.conv.weight, conv.conv.bias, padding=3, groups=5)[..., :length]
        assert torch.allclose(conv(x), reference, rtol=0, atol=1e-14)
        assert torch.allclose(wave(x), reference, rtol=0, atol=1e-12)


def test_conv_state_is_the_last_k_inputs():
    x = torch.arange(1.0, 7.0).reshape(1, 1, 6)
    h = CausalConv(1, 3).states(x)[0, 0]  # (K, L), cell K-1 newest
    assert h[:, 5].tolist() == [4.0, 5.0, 6.0]
    assert h[:, 1].tolist() == [0.0, 1.0, 2.0]


def test_cell_responses_are_binomial_and_travel_at_speed_v():
    cells, length = 6, 400
    for v in (1.0, 0.5, 0.2):
        log_v = torch.tensor(math.log(v), dtype=torch.float64)
        log_1mv = torch.tensor(math.log1p(-v) if v < 1 else -math.inf, dtype=torch.float64)
        p = cell_responses(log_v, log_1mv, cells, length)  # (K, L)
        assert p.min() >= 0 and (p.sum(0) <= 1 + 1e-12).all()
        for j in range(cells):  # cell K-1-j: first reached after j steps, peak near delay j / v
            row = p[cells - 1 - j]
            assert (row[:j] == 0).all() and row[j] > 0
            if j > 0:
                assert abs(int(row.argmax()) - j / v) <= 1 / v
        if v == 1.0:
            assert torch.equal(p, torch.eye(cells, length, dtype=torch.float64).flip(0))


def test_mixer_is_causal():
    torch.manual_seed(2)
    mixer = VWaveMixer(4, 4, v=0.3).double()
    x = torch.randn(1, 4, 90, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 50] += 1.0
    y, y2 = mixer(x), mixer(x2)
    assert torch.allclose(y[..., :50], y2[..., :50], atol=1e-13, rtol=0)  # FFT: equal up to rounding
    assert not torch.allclose(y[..., 50:], y2[..., 50:])


def test_learnable_velocity_gradient_matches_finite_differences():
    torch.manual_seed(3)
    mixer = VWaveMixer(2, 4, v=0.4, learn_v=True).double()
    x = torch.randn(2, 2, 70, dtype=torch.float64)
    mixer(x).pow(2).sum().backward()
    grad = mixer.theta.grad.clone()
    eps = 1e-6
    for c in range(2):
        with torch.no_grad():
            mixer.theta[c] += eps
            up = mixer(x).pow(2).sum()
            mixer.theta[c] -= 2 * eps
            down = mixer(x).pow(2).sum()
            mixer.theta[c] += eps
        assert abs((up - down) / (2 * eps) - grad[c]) < 1e-5 * max(1.0, abs(grad[c]))
    assert torch.allclose(mixer.velocity, torch.full((2,), 0.4, dtype=torch.float64))


@pytest.mark.parametrize("v", [1e-4, 0.999999, 1.0])
def test_float32_kernel_is_finite_for_extreme_velocities(v):
    mixer = VWaveMixer(8, 16, v=v)
    kernel = mixer.kernel(2_000)
    assert torch.isfinite(kernel).all()
    assert mixer(torch.randn(1, 8, 300)).isfinite().all()


def test_bad_mixer_arguments_are_refused():
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        VWaveMixer(2, 4, v=1.5)
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        VWaveMixer(2, 4, v=0.0)
    with pytest.raises(ValueError, match="learnable"):
        VWaveMixer(2, 4, v=1.0, learn_v=True)
    with pytest.raises(ValueError, match="valid kinds: conv, vwave"):
        make_short_mixer("lstm", 2)
    with pytest.raises(ValueError, match="kind='vwave'"):
        make_short_mixer("conv", 2, v=0.5)
    with pytest.raises(ValueError, match="positive integer"):
        CausalConv(2, 0)


def test_learnable_velocity_starts_with_the_kernel_of_the_fixed_velocity():
    """Swapping log v and log(1 - v) for a learnable v would make learn_v=True start at velocity 1 - v, not v."""
    torch.manual_seed(0)
    learned = VWaveMixer(3, 4, v=0.3, learn_v=True).double()
    fixed = VWaveMixer(3, 4, v=0.3).double()
    fixed.conv.load_state_dict(learned.conv.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(learned.kernel(20), fixed.kernel(20))


@pytest.mark.parametrize("v", [1.0, 0.5, 0.25, 0.1])
def test_each_cell_holds_an_input_1_over_v_steps_and_the_state_k_over_v(v):
    """Velocity comes with gain: every cell's response sums to 1/v (the mean steps an input stays in it), the newest
    cell's L2 norm is 1/sqrt(v(2-v)), and the reach K/v is the mean time the input stays in the whole state: the
    sum over cells, which the recurrence gives too (a pulse's total content summed over time)."""
    cells = 4
    sums, norms = cell_gains(v, cells, math.ceil(40 * cells / v))
    torch.testing.assert_close(sums, torch.full((cells,), 1 / v, dtype=torch.float64), rtol=1e-12, atol=0)
    assert math.isclose(norms[-1], 1 / math.sqrt(v * (2 - v)), rel_tol=1e-12)
    assert reach(v, cells) == pytest.approx(float(sums.sum()), rel=1e-12)
    pulse = torch.zeros(1, 1, math.ceil(40 * cells / v), dtype=torch.float64)
    pulse[..., 0] = 1.0
    assert reach(v, cells) == pytest.approx(float(vwave_states(pulse, v, cells).sum()), rel=1e-12)
