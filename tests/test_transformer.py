import math

import pytest
import torch

from wavelib.models.transformer import (
    POSITIONS,
    CausalSelfAttention,
    TransformerLM,
    alibi_bias,
    alibi_slopes,
    apply_rope,
)

INF = float("inf")


# --- ALiBi -------------------------------------------------------------------------------------------

def test_alibi_slopes_power_of_two():
    assert torch.equal(alibi_slopes(8), torch.tensor([2.0 ** -h for h in range(1, 9)], dtype=torch.float64))
    assert torch.allclose(alibi_slopes(16), torch.tensor([2.0 ** (-0.5 * h) for h in range(1, 17)],
                                                         dtype=torch.float64), rtol=1e-15, atol=0)
    assert torch.equal(alibi_slopes(1), torch.tensor([2.0 ** -8], dtype=torch.float64))


def test_alibi_slopes_not_power_of_two():
    # 12 heads: the 8 slopes of 8 heads, then slopes 1, 3, 5, 7 of 16 heads (2^(-h/2)).
    expected = [2.0 ** -h for h in range(1, 9)] + [2.0 ** (-0.5 * h) for h in (1, 3, 5, 7)]
    assert torch.allclose(alibi_slopes(12), torch.tensor(expected, dtype=torch.float64), rtol=1e-15, atol=0)
    # 3 heads: 2^-4, 2^-8 (two heads), then 2^-2 (slope 1 of four heads).
    assert torch.equal(alibi_slopes(3), torch.tensor([2.0 ** -4, 2.0 ** -8, 2.0 ** -2], dtype=torch.float64))


def test_alibi_bias_hand_checked():
    bias = alibi_bias(2, 3, dtype=torch.float64)
    m0, m1 = 1 / 16, 1 / 256  # slopes of 2 heads: 2^(-8h/2)
    expected = torch.tensor([
        [[0, -INF, -INF], [-m0, 0, -INF], [-2 * m0, -m0, 0]],
        [[0, -INF, -INF], [-m1, 0, -INF], [-2 * m1, -m1, 0]],
    ], dtype=torch.float64)
    assert torch.equal(bias, expected)
    assert alibi_bias(4, 5).dtype == torch.get_default_dtype()
    assert alibi_bias(4, 5, dtype=torch.float16).shape == (4, 5, 5)


# --- RoPE --------------------------------------------------------------------------------------------

def _randn(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_rope_scores_depend_only_on_relative_position():
    q, k = _randn(2, 3, 1, 16).unbind(0)
    for fraction in (0.25, 0.5, 1.0):
        for i, j, t in [(5, 2, 7), (0, 0, 100), (3, 9, 1000)]:
            s = (apply_rope(q, fraction, offset=i) * apply_rope(k, fraction, offset=j)).sum(-1)
            s_shift = (apply_rope(q, fraction, offset=i + t) * apply_rope(k, fraction, offset=j + t)).sum(-1)
            assert torch.allclose(s, s_shift, rtol=1e-12, atol=1e-12)
    # Whole sequences: the score matrix is the same for every offset.
    q, k = _randn(2, 1, 2, 6, 8).unbind(0)
    scores = [apply_rope(q, 0.5, offset=o) @ apply_rope(k, 0.5, offset=o).transpose(-1, -2) for o in (0, 13)]
    assert torch.allclose(*scores, rtol=1e-12, atol=1e-12)


def test_rope_preserves_norms_passes_through_and_keeps_dtype():
    x = _randn(2, 3, 7, 16)
    y = apply_rope(x)  # rot_dim = 4
    assert y.shape == x.shape and y.dtype == torch.float64
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-12)
    assert torch.equal(y[..., 4:], x[..., 4:])
    assert torch.equal(y[:, :, 0], x[:, :, 0])  # position 0 is the identity
    assert not torch.allclose(y[:, :, 1:, :4], x[:, :, 1:, :4])
    # int(10 * 0.25) = 2 dims rotated; int(12 * 0.25) = 3 rounded down to 2.
    for head_dim in (10, 12):
        x = _randn(1, 1, 4, head_dim)
        assert torch.equal(apply_rope(x)[..., 2:], x[..., 2:])
    x32 = x.float()
    assert apply_rope(x32).dtype == torch.float32


def test_rope_full_fraction_hand_checked():
    # 2 dims at position p: (1, 0) -> (cos p, sin p).
    x = torch.tensor([1.0, 0.0], dtype=torch.float64).expand(1, 1, 4, 2)
    p = torch.arange(4, dtype=torch.float64)
    assert torch.allclose(apply_rope(x, fraction=1.0)[0, 0], torch.stack([p.cos(), p.sin()], -1), atol=1e-15)
    # 4 dims: pairs (0, 2) at frequency 1 and (1, 3) at frequency base^(-1/2) = 0.01; every dim moves.
    x = _randn(1, 1, 3, 4)
    y = apply_rope(x, fraction=1.0, offset=2)
    pos = torch.arange(2, 5, dtype=torch.float64)
    for a, b, freq in [(0, 2, 1.0), (1, 3, 0.01)]:
        c, s = (freq * pos).cos(), (freq * pos).sin()
        xa, xb = x[0, 0, :, a], x[0, 0, :, b]
        assert torch.allclose(y[0, 0, :, a], xa * c - xb * s, atol=1e-14)
        assert torch.allclose(y[0, 0, :, b], xb * c + xa * s, atol=1e-14)
    assert (y - x).abs().amin(dim=-2).gt(0).all()


# --- Attention ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("position", POSITIONS)
def test_attention_matches_explicit_reference(position):
    torch.manual_seed(0)
    B, L, d, H = 2, 6, 16, 4
    attn = CausalSelfAttention(d, H, position, rope_fraction=0.5).double()
    x = torch.randn(B, L, d, dtype=torch.float64)
    q, k, v = attn.qkv(x).view(B, L, 3, H, d // H).permute(2, 0, 3, 1, 4)
    if position == "rope":
        q, k = apply_rope(q, 0.5), apply_rope(k, 0.5)
        bias = torch.zeros(L, L, dtype=torch.float64).masked_fill(
            torch.ones(L, L, dtype=torch.bool).triu(1), -INF)
    else:
        bias = alibi_bias(H, L, dtype=torch.float64)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // H) + bias, dim=-1)
    expected = attn.out((weights @ v).transpose(1, 2).reshape(B, L, d))
    assert torch.allclose(attn(x), expected, rtol=1e-12, atol=1e-12)


# --- Language model ----------------------------------------------------------------------------------

@pytest.mark.parametrize("position", POSITIONS)
def test_lm_shape_and_causality(position):
    torch.manual_seed(0)
    model = TransformerLM(11, 16, 2, 4, position=position, rope_fraction=0.5).double()
    ids = torch.randint(0, 11, (3, 9))
    logits = model(ids)
    assert logits.shape == (3, 9, 11) and logits.dtype == torch.float64
    changed = ids.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    new = model(changed)
    assert torch.allclose(new[:, :5], logits[:, :5], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(new[:, 5:], logits[:, 5:])


@pytest.mark.parametrize("position", POSITIONS)
def test_one_layer_lm_matches_its_hand_written_composition(position):
    """Pre-LN wiring: x1 = e + attn(ln1(e)), x2 = x1 + mlp(ln2(x1)), logits = ln_f(x2) E^T (E the embedding). The
    layer norms get random affine parameters first, so that one standing in for another would show."""
    torch.manual_seed(0)
    model = TransformerLM(11, 16, 1, 4, position=position, rope_fraction=0.5).double()
    with torch.no_grad():
        for norm in (model.blocks[0].ln1, model.blocks[0].ln2, model.ln_f):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    ids = torch.randint(0, 11, (3, 9))
    block, e = model.blocks[0], model.embed.weight[ids]
    x1 = e + block.attn(block.ln1(e))
    mlp = block.mlp
    x2 = x1 + mlp[2](torch.nn.functional.gelu(mlp[0](block.ln2(x1))))
    expected = model.ln_f(x2) @ model.embed.weight.T
    torch.testing.assert_close(model(ids), expected, rtol=1e-12, atol=1e-12)


def test_lm_tied_weights():
    V, d = 10, 16
    model = TransformerLM(V, d, 1, 2)
    assert model.lm_head.weight is model.embed.weight
    assert model.lm_head.bias is None
    n = sum(p.numel() for p in model.parameters())  # the tied matrix counts once
    attn, mlp, layer_norms = (3 * d * d + 3 * d) + (d * d + d), (d * 4 * d + 4 * d) + (4 * d * d + d), 3 * 2 * d
    assert n == V * d + attn + mlp + layer_norms


@pytest.mark.parametrize("kwargs, match", [
    (dict(vocab_size=0), "vocab_size"),
    (dict(n_layers=1.5), "n_layers"),
    (dict(n_heads=3), "divisible"),
    (dict(position="sinusoidal"), "one of"),
    (dict(rope_fraction=0.0), r"\(0, 1\]"),
    (dict(d_model=8, n_heads=4, rope_fraction=0.25), "rounded down to even"),
])
def test_lm_rejects_bad_arguments(kwargs, match):
    args = dict(vocab_size=10, d_model=16, n_layers=1, n_heads=2, position="rope")
    with pytest.raises(ValueError, match=match):
        TransformerLM(**{**args, **kwargs})


@pytest.mark.parametrize("position", POSITIONS)
def test_lm_learns_previous_token(position):
    torch.manual_seed(0)
    # 8 heads: ALiBi's steepest slope is then 1/2, local enough to single out the previous token quickly.
    model = TransformerLM(8, 32, 1, 8, position=position, rope_fraction=1.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        ids = torch.randint(0, 8, (16, 10))
        logits = model(ids)[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 8), ids[:, :-1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.8  # about ln 8 at init
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]


def test_embedding_starts_at_std_0_02():
    """Without the N(0, 0.02²) init the tied embedding / LM head would start at std 1 and the first logits blow up."""
    torch.manual_seed(0)
    std = TransformerLM(200, 32, 1, 4).embed.weight.std().item()
    assert 0.018 < std < 0.022


def test_rope_rotates_int_of_head_dim_times_fraction_rounded_down_to_even():
    """Rounding head_dim * fraction up would rotate more dims than the documented int(...) rounded down to even."""
    from wavelib.models.transformer import rope_frequencies
    assert rope_frequencies(14, 0.25).numel() == 1   # int(3.5) = 3 -> 2 dims, one pair
    assert rope_frequencies(16, 0.25).numel() == 2


def test_rope_defaults_are_gpt_neox_s():
    """GPT-NeoX's rotary_pct 0.25 and rotary_emb_base 10000 (Jelassi et al.'s RoPE model): a 32-dim head rotates 8
    dims at 10000^(-i/4), i = 0..3, in every layer of a default model."""
    from wavelib.models.transformer import rope_frequencies
    expected = 10000.0 ** (-torch.arange(4, dtype=torch.float64) / 4)
    torch.testing.assert_close(rope_frequencies(32), expected, rtol=1e-15, atol=0)
    model = TransformerLM(30, 128, 2, 4)
    assert {block.attn.rope_fraction for block in model.blocks} == {0.25}
    assert {block.attn.position for block in model.blocks} == {"rope"}
