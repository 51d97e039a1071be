import numpy as np
import pytest
import torch

from wavelib.models.elman import BatchedElman, clip_grad_norm_per_model_, elman_recurrence, resolve_recurrence

SEEDS = [0, 7, 123]


def reference(seed, d_in, hidden, d_out, bias):
    """What the paper's code builds: torch.nn.RNN + Linear under the global seed."""
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(d_in, hidden, nonlinearity="tanh", bias=bias, batch_first=True)
    readout = torch.nn.Linear(hidden, d_out, bias=False)
    return rnn, readout


@pytest.mark.parametrize("bias", [False, True])
def test_pytorch_init_equals_nn_rnn_under_manual_seed(bias):
    state = torch.get_rng_state()
    model = BatchedElman(3, 3, 5, 2, SEEDS, bias=bias)
    assert torch.equal(torch.get_rng_state(), state)  # no global RNG use
    for m, seed in enumerate(SEEDS):
        rnn, readout = reference(seed, 3, 5, 2, bias)
        assert torch.equal(model.W_ih[m], rnn.weight_ih_l0)
        assert torch.equal(model.W_hh[m], rnn.weight_hh_l0)
        assert torch.equal(model.W_r[m], readout.weight)
        if bias:
            assert torch.equal(model.b[m], rnn.bias_ih_l0 + rnn.bias_hh_l0)
    assert not torch.equal(model.W_hh[0], model.W_hh[1])


@pytest.mark.parametrize("bias", [False, True])
def test_forward_equals_nn_rnn_per_model(bias):
    model = BatchedElman(3, 3, 6, 2, SEEDS, bias=bias, dtype=torch.float64)
    u = torch.randn(3, 4, 9, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y, h = model(u)
    assert y.shape == (3, 4, 9, 2) and h.shape == (3, 4, 9, 6) and y.dtype == torch.float64
    for m, seed in enumerate(SEEDS):
        rnn, readout = reference(seed, 3, 6, 2, bias)
        rnn, readout = rnn.double(), readout.double()
        h_ref, _ = rnn(u[m])
        torch.testing.assert_close(h[m], h_ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(y[m], readout(h_ref), rtol=0, atol=1e-12)


def test_gaussian_init_variance_and_seeds():
    H = 200
    model = BatchedElman(2, 4, H, 4, [5, 6], init="gaussian", bias=True)
    again = BatchedElman(2, 4, H, 4, [5, 6], init="gaussian", bias=True)
    assert torch.equal(model.W_hh, again.W_hh)
    assert abs(model.W_hh[0].var().item() * H - 1) < 0.02  # 40,000 draws of N(0, 1/H)
    assert abs(model.W_hh[0].mean().item()) < 3 / H
    assert not torch.equal(model.W_hh[0], model.W_hh[1])
    assert torch.equal(model.b, torch.zeros(2, H))


def test_model_weights_and_state_dict():
    model = BatchedElman(2, 3, 5, 4, [1, 2], bias=True)
    weights = model.model_weights(1)
    assert set(weights) == {"W_ih", "W_hh", "W_r", "b"}
    assert weights["W_ih"].shape == (5, 3) and weights["W_hh"].shape == (5, 5) and weights["W_r"].shape == (4, 5)
    assert all(w.dtype == np.float64 for w in weights.values())
    np.testing.assert_array_equal(weights["W_hh"], model.W_hh[1].detach().double().numpy())
    copy = BatchedElman(2, 3, 5, 4, [8, 9], bias=True)
    copy.load_state_dict(model.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(copy.parameters(), model.parameters()))
    assert set(BatchedElman(1, 3, 5, 4, [0]).model_weights(0)) == {"W_ih", "W_hh", "W_r"}


def test_clipping_equals_clip_grad_norm_per_model():
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 5, 4), (3, 5, 5), (3, 2, 5)]
    params = [torch.zeros(shape, dtype=torch.float64, requires_grad=True) for shape in shapes]
    for p, scale in zip(params, (1.0, 0.5, 2.0)):
        p.grad = scale * torch.randn(p.shape, generator=gen, dtype=torch.float64)
    for p in params:
        p.grad[1] *= 0.1  # model 1 below the threshold: left alone
    singles = [[p.grad[m].clone().requires_grad_() for p in params] for m in range(3)]
    for m in range(3):
        for q, p in zip(singles[m], params):
            q.grad = p.grad[m].clone()
    norms = clip_grad_norm_per_model_(params, 3.0)
    for m in range(3):
        expected = torch.nn.utils.clip_grad_norm_(singles[m], 3.0)
        torch.testing.assert_close(norms[m], expected, rtol=0, atol=1e-14)
        for q, p in zip(singles[m], params):
            torch.testing.assert_close(p.grad[m], q.grad, rtol=0, atol=1e-15)
    assert (norms > 3.0).sum() >= 1 and (norms < 3.0).sum() >= 1  # both branches exercised


def test_bad_arguments():
    with pytest.raises(ValueError, match="one seed per model"):
        BatchedElman(2, 3, 4, 3, [0])
    with pytest.raises(ValueError, match="init"):
        BatchedElman(1, 3, 4, 3, [0], init="xavier")
    with pytest.raises(ValueError, match="hidden"):
        BatchedElman(1, 3, 0, 3, [0])
    with pytest.raises(ValueError, match="shape"):
        BatchedElman(2, 3, 4, 3, [0, 1])(torch.zeros(2, 1, 5, 4))
    with pytest.raises(ValueError, match="model index"):
        BatchedElman(2, 3, 4, 3, [0, 1]).model_weights(2)
    with pytest.raises(ValueError, match="backward"):
        clip_grad_norm_per_model_(BatchedElman(1, 3, 4, 3, [0]).parameters(), 1.0)


def test_select_copies_a_range_of_models():
    model = BatchedElman(3, 3, 5, 2, SEEDS, bias=True, dtype=torch.float64)
    part = model.select(1, 3)
    assert (part.n_models, part.d_in, part.hidden, part.d_out, part.has_bias) == (2, 3, 5, 2, True)
    for name, p in model.named_parameters():
        assert torch.equal(getattr(part, name), p[1:3]) and getattr(part, name).requires_grad
    u = torch.randn(3, 2, 4, 3, dtype=torch.float64)
    assert torch.equal(part(u[1:])[0], model(u)[0][1:])
    with torch.no_grad():
        part.W_hh.zero_()
    assert model.W_hh.abs().min() > 0  # a copy, not a view
    for start, stop in ((0, 0), (2, 4), (-1, 2)):
        with pytest.raises(ValueError, match="start"):
            model.select(start, stop)


def test_elman_recurrence_dispatch_on_the_cpu(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    drive, W = torch.randn(2, 3, 4, 5), torch.randn(2, 5, 5) / 5
    assert resolve_recurrence("auto", "cpu", torch.float32, 5) == "reference"
    h, states = torch.zeros(2, 3, 5), []
    for t in range(4):  # h(t) = tanh(drive(t) + W_hh h(t-1)), per model, in the test's own loop
        h = torch.tanh(drive[:, :, t] + h @ W.mT)
        states.append(h)
    torch.testing.assert_close(elman_recurrence(drive, W), torch.stack(states, dim=2))
    with pytest.raises(ValueError, match="unknown backend"):
        elman_recurrence(drive, W, "nope")
    with pytest.raises(ValueError, match="fused Elman recurrence unavailable"):
        elman_recurrence(drive, W, "fused")
    with pytest.raises(ValueError, match="need drive"):
        elman_recurrence(drive, W[:, :4])
