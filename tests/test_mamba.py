import math

import pytest
import torch

from wavelib.models.mamba import MambaBlock, MambaLM, RMSNorm
from wavelib.models.selective_scan import SCAN_BACKENDS, available_backends, resolve_backend, selective_scan


def scan_inputs(batch=2, d=3, n=4, L=37, dtype=torch.float64, seed=0):
    """Random (u, delta, A, B, C, D) in the kernel's layout, all requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d, L, generator=gen, dtype=dtype)
    delta = 0.05 + torch.rand(batch, d, L, generator=gen, dtype=dtype)
    A = -(0.1 + 2 * torch.rand(d, n, generator=gen, dtype=dtype))
    B = torch.randn(batch, n, L, generator=gen, dtype=dtype)
    C = torch.randn(batch, n, L, generator=gen, dtype=dtype)
    D = torch.randn(d, generator=gen, dtype=dtype)
    return [x.requires_grad_() for x in (u, delta, A, B, C, D)]


def value_and_grads(inputs, **kwargs):
    y = selective_scan(*inputs, **kwargs)
    weight = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=y.dtype)
    return y.detach(), torch.autograd.grad((y * weight).sum(), inputs)


@pytest.mark.parametrize("L, chunk", [(37, 8), (37, 1), (5, 64), (32, 16), (1, 4)])
def test_chunked_scan_matches_sequential_with_gradients(L, chunk):
    inputs = scan_inputs(L=L)
    y_ref, g_ref = value_and_grads(inputs, backend="sequential")
    y, g = value_and_grads(inputs, backend="chunked", chunk=chunk)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-10)
    for name, a, b in zip("u delta A B C D".split(), g, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10, msg=f"gradient w.r.t. {name}")
    y_ck, g_ck = value_and_grads(inputs, backend="chunked", chunk=chunk, checkpoint=True)
    assert torch.equal(y_ck, y) and all(torch.equal(a, b) for a, b in zip(g_ck, g))


def test_auto_is_recurrent_on_cpu_and_d_is_optional():
    u, delta, A, B, C, _ = scan_inputs(L=9)
    assert torch.equal(selective_scan(u, delta, A, B, C), selective_scan(u, delta, A, B, C, backend="recurrent"))
    assert available_backends("cpu") == ["sequential", "chunked", "recurrent"]
    assert resolve_backend("auto", "cpu", torch.float32) == "recurrent"
    assert resolve_backend("chunked", "cpu", torch.float32) == "chunked"
    # each backend runs its own implementation (they agree, so only the graph tells them apart)
    graph = {name: type(selective_scan(u, delta, A, B, C, backend=name).grad_fn).__name__
             for name in ("sequential", "chunked", "recurrent")}
    assert graph == {"sequential": "StackBackward0", "chunked": "CatBackward0", "recurrent": "_RecurrentScanBackward"}


@pytest.mark.parametrize("L, chunk", [(37, 8), (37, 1), (5, 64), (32, 16), (1, 4), (40, 40)])
def test_recurrent_scan_matches_sequential_with_gradients(L, chunk):
    inputs = scan_inputs(L=L)
    y_ref, g_ref = value_and_grads(inputs, backend="sequential")
    y, g = value_and_grads(inputs, backend="recurrent", chunk=chunk)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=1e-10)
    for name, a, b in zip("u delta A B C D".split(), g, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10, msg=f"gradient w.r.t. {name}")


def test_recurrent_scan_passes_gradcheck():
    u, delta, A, B, C, _ = scan_inputs(batch=1, d=2, n=2, L=5)
    assert torch.autograd.gradcheck(lambda *args: selective_scan(*args, backend="recurrent", chunk=2),
                                    (u, delta, A, B, C))


@pytest.mark.parametrize("wanted", range(5))
def test_recurrent_scan_gradient_of_one_input_alone(wanted):
    # the backward skips what is not needed: each input's gradient must come out right on its own
    inputs = [x.detach().requires_grad_(i == wanted) for i, x in enumerate(scan_inputs(L=11)[:5])]
    ref, = torch.autograd.grad(selective_scan(*inputs, backend="sequential").sum(), inputs[wanted])
    fast, = torch.autograd.grad(selective_scan(*inputs, backend="recurrent", chunk=4).sum(), inputs[wanted])
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("backend", ["chunked", "recurrent"])
def test_scan_survives_strong_decay_in_float32(backend):
    # delta·A ≈ -50 per step: the decay over a 128-step chunk is e^-6400, so exp(-cumsum) overflows float32
    u, delta, A, B, C, D = (x.detach() for x in scan_inputs(L=256, n=4))
    delta = 1.0 + 0.1 * delta
    A = torch.full_like(A, -50.0)
    assert torch.isinf(torch.exp(-torch.cumsum(delta[..., :128, None].float() * A[:, None].float(), 2))).any()
    y_ref = selective_scan(u, delta, A, B, C, D, backend="sequential")
    args32 = [x.float().requires_grad_() for x in (u, delta, A, B, C, D)]
    y = selective_scan(*args32, backend=backend, chunk=128)
    y.square().sum().backward()
    assert torch.isfinite(y).all() and all(torch.isfinite(x.grad).all() for x in args32)
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", ["sequential", "chunked", "recurrent"])
def test_scan_is_causal(backend):
    u, delta, A, B, C, D = (x.detach() for x in scan_inputs(L=20))
    y = selective_scan(u, delta, A, B, C, D, backend=backend, chunk=8)
    u2 = u.clone()
    u2[:, :, 11] += 1.0
    y2 = selective_scan(u2, delta, A, B, C, D, backend=backend, chunk=8)
    assert torch.equal(y2[..., :11], y[..., :11]) and not torch.allclose(y2[..., 11:], y[..., 11:])


def test_scan_rejects_unavailable_and_unknown_backends():
    inputs = [x.detach() for x in scan_inputs(L=4)]
    with pytest.raises(ValueError, match="cuda"):
        selective_scan(*inputs, backend="cuda")
    with pytest.raises(ValueError, match="valid"):
        selective_scan(*inputs, backend="triton")
    with pytest.raises(ValueError, match="chunk"):
        selective_scan(*inputs, chunk=0)
    with pytest.raises(ValueError, match="B must be"):
        selective_scan(*inputs[:3], inputs[3][..., :2], *inputs[4:])
    assert SCAN_BACKENDS == ("auto", "sequential", "chunked", "recurrent", "fused", "cuda")
    with pytest.raises(ValueError, match="fused"):  # float64, and on the CPU without the interpreter
        selective_scan(*inputs, backend="fused")


def tiny_lm(mixer="conv", seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs = {"vocab_size": 11, "d_model": 8, "n_layers": 2, "d_state": 4, "chunk": 8, **kwargs}
    return MambaLM(mixer=mixer, **kwargs)


def test_lm_shapes_tied_weights_and_mixer_inputs():
    model = tiny_lm()
    ids = torch.randint(0, 11, (3, 13))
    assert model(ids).shape == (3, 13, 11)
    assert model.lm_head.weight is model.embedding.weight
    inputs = model.mixer_inputs(ids)
    assert [x.shape for x in inputs] == [(3, 16, 13)] * 2
    assert not any(x.requires_grad for x in inputs)
    assert model.blocks[1].mixer(inputs[1]).shape == (3, 16, 13)
    assert model.blocks[0].dt_rank == 1 and model.blocks[0].A_log.shape == (16, 4)
    assert torch.equal(-torch.exp(model.blocks[0].A_log[5]), -torch.arange(1.0, 5.0))
    delta0 = torch.nn.functional.softplus(model.blocks[0].dt_proj.bias)
    assert delta0.min() >= 1e-3 - 1e-7 and delta0.max() <= 1e-1 + 1e-7


@pytest.mark.parametrize("mixer, v", [("conv", 1.0), ("vwave", 0.5)])
def test_lm_is_causal(mixer, v):
    model = tiny_lm(mixer, v=v).double()
    ids = torch.randint(0, 11, (2, 17), generator=torch.Generator().manual_seed(0))
    ids2 = ids.clone()
    ids2[:, 9] = (ids2[:, 9] + 1) % 11
    with torch.no_grad():
        a, b = model(ids), model(ids2)
    torch.testing.assert_close(a[:, :9], b[:, :9], rtol=0, atol=1e-12)
    assert not torch.allclose(a[:, 9:], b[:, 9:])


def test_lm_logits_and_gradients_agree_across_pure_pytorch_backends():
    model = tiny_lm(scan="sequential").double()
    ids = torch.randint(0, 11, (2, 21), generator=torch.Generator().manual_seed(0))
    results = {}
    for backend in available_backends("cpu"):
        for block in model.blocks:
            block.scan = backend
        logits = model(ids)
        results[backend] = logits.detach(), torch.autograd.grad(logits.square().mean(), list(model.parameters()))
    ref_logits, ref_grads = results.pop("sequential")
    for backend, (logits, grads) in results.items():
        torch.testing.assert_close(logits, ref_logits, rtol=0, atol=1e-10, msg=backend)
        for a, b in zip(grads, ref_grads):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10, msg=backend)


def test_lm_learns_to_copy_the_previous_token():
    model = tiny_lm(vocab_size=6, d_model=16, n_layers=1, chunk=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(40):
        ids = torch.randint(0, 6, (16, 16), generator=gen)
        logits = model(ids)[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 6), ids[:, :-1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.9 * math.log(6) and losses[-1] < 0.25 * math.log(6)


def test_constructors_validate_arguments():
    with pytest.raises(ValueError, match="d_model"):
        MambaBlock(0)
    with pytest.raises(ValueError, match="dt_rank"):
        MambaBlock(8, dt_rank=0)
    with pytest.raises(ValueError, match="scan backend"):
        MambaBlock(8, scan="fast")
    with pytest.raises(ValueError, match="n_layers"):
        MambaLM(10, 8, 1.5)
    with pytest.raises(ValueError, match=r"^d must be a positive integer"):
        RMSNorm(-1)


def test_block_and_one_layer_lm_match_a_hand_written_mamba_reference():
    """A block that drops exp(A_log), the SiLU gate, the per-channel skip D or the LM's residual would still run but
    compute a different model."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    block = MambaBlock(8, d_state=4, scan="sequential").double()
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    with torch.no_grad():  # D and A_log off their initial values (D = 1, A = -(1..d_state)), per channel
        block.D.uniform_(-2.0, 2.0)
        block.A_log.add_(0.3 * torch.randn_like(block.A_log))
        xs, z = block.in_proj(x).chunk(2, dim=-1)
        xs = F.silu(block.mixer(xs.transpose(1, 2)))                            # (B, d_inner, L)
        dt, B, C = block.x_proj(xs.transpose(1, 2)).split([block.dt_rank, 4, 4], dim=-1)
        delta = F.softplus(block.dt_proj(dt)).transpose(1, 2)
        A = -torch.exp(block.A_log)                                            # (d_inner, d_state)
        h = torch.zeros(2, block.d_inner, 4, dtype=torch.float64)
        ys = []
        for t in range(7):  # h_t = exp(delta A) h_{t-1} + delta x B;  y_t = C·h_t + D x
            h = torch.exp(delta[..., t, None] * A) * h + (delta[..., t] * xs[..., t])[..., None] * B[:, t, None, :]
            ys.append((h * C[:, t, None, :]).sum(-1) + block.D * xs[..., t])
        reference = block.out_proj(torch.stack(ys, dim=-1).transpose(1, 2) * F.silu(z))
        torch.testing.assert_close(block(x), reference)
        lm = tiny_lm(n_layers=1, scan="sequential").double()
        ids = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(1))
        e = lm.embedding(ids)
        torch.testing.assert_close(lm(ids), lm.lm_head(lm.norm_f(e + lm.blocks[0](lm.norms[0](e)))))


def test_dt_rank_is_ceil_of_d_model_over_16_and_dt_starts_up_to_one_tenth():
    """A wrong dt_rank or dt_max would change parameter counts and the initial time steps the book describes."""
    assert [MambaBlock(d).dt_rank for d in (8, 16, 17, 32)] == [1, 1, 2, 2]
    torch.manual_seed(0)
    delta0 = torch.nn.functional.softplus(MambaBlock(64).dt_proj.bias)  # 128 draws, log-uniform [1e-3, 1e-1]
    assert delta0.max() > 0.05 and delta0.min() < 2e-3


def test_defaults_are_those_of_mamba_ssm():
    """d_state 16, d_conv 4, expand 2 (``mamba_ssm.Mamba``'s defaults) and the LM's embedding drawn with std 0.02
    (its ``_init_weights``)."""
    torch.manual_seed(0)
    for layer in (MambaBlock(32), MambaLM(1000, 32, 1).blocks[0]):
        assert (layer.d_state, layer.d_inner, layer.mixer.conv.weight.shape[-1]) == (16, 64, 4)
    assert MambaLM(1000, 64, 1).embedding.weight.std().item() == pytest.approx(0.02, rel=0.03)
