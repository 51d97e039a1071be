import pytest
import torch

from wavelib.theory.sbc import attention_boundary, attention_loop_rollout, sbc_wave_rollout


def weights(d, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5 for _ in range(3)]


def test_boundary_is_the_softmax_formula():
    g = torch.Generator().manual_seed(0)
    window = torch.randn(4, 3, generator=g, dtype=torch.float64)
    W_Q, W_K, W_V = weights(3, 1)
    scores = torch.tensor([float((W_K @ h) @ (W_Q @ window[-1])) for h in window], dtype=torch.float64)
    w = torch.softmax(scores, dim=0)
    want = sum(w[i] * (W_V @ window[i]) for i in range(4))
    torch.testing.assert_close(attention_boundary(window, W_Q, W_K, W_V), want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("s,d", [(1, 2), (3, 4), (5, 8), (8, 3)])
def test_wave_with_attention_boundary_is_the_attention_loop(s, d):
    g = torch.Generator().manual_seed(10 * s + d)
    init = torch.randn(s, d, generator=g, dtype=torch.float64)
    W_Q, W_K, W_V = weights(d, s + d)
    wave = sbc_wave_rollout(init, 30, W_Q, W_K, W_V)
    loop = attention_loop_rollout(init, 30, W_Q, W_K, W_V)
    assert wave.shape == loop.shape == (s + 30, d)
    assert (wave - loop).abs().max() < 1e-10
    assert wave[s:].std() > 1e-3  # the rollout does not collapse to a constant


def test_only_the_last_s_states_matter():
    s, d = 4, 3
    g = torch.Generator().manual_seed(5)
    long_init = torch.randn(s + 3, d, generator=g, dtype=torch.float64)
    W_Q, W_K, W_V = weights(d, 6)
    loop = attention_loop_rollout(long_init, 10, W_Q, W_K, W_V, s=s)
    changed = long_init.clone()
    changed[:3] += 5.0  # older than the window
    torch.testing.assert_close(attention_loop_rollout(changed, 10, W_Q, W_K, W_V, s=s)[3:], loop[3:])
    torch.testing.assert_close(loop[3:], sbc_wave_rollout(long_init[3:], 10, W_Q, W_K, W_V), rtol=0, atol=1e-10)
    inside = long_init.clone()
    inside[4] += 1.0  # inside the window: the next state must move
    assert (attention_loop_rollout(inside, 1, W_Q, W_K, W_V, s=s)[-1] - loop[s + 3]).abs().max() > 1e-3


def test_validation():
    W = weights(3, 0)
    with pytest.raises(ValueError):
        sbc_wave_rollout(torch.zeros(4, 2, dtype=torch.float64), 3, *W)
    with pytest.raises(ValueError):
        attention_loop_rollout(torch.zeros(4, 3, dtype=torch.float64), -1, *W)
    with pytest.raises(ValueError):
        attention_loop_rollout(torch.zeros(4, 3, dtype=torch.float64), 2, *W, s=0)
