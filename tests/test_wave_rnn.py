from __future__ import annotations

import os

import pytest
import torch

from wavelib.models.wave_rnn import (IRNN, WaveRNN, _reference, circular_conv, circular_conv_norm, parameter_count,
                                     wave_rnn_recurrence, wave_rnn_states)

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(n_in=10, n=100, c=6, n_out=10), 12_724),                        # copy
    (dict(n_in=2, n=100, c=27, n_out=1), 13_015),                         # adding
    (dict(n_in=1, n=256, c=16, n_out=10), 49_946),                        # (p)sMNIST, linear head
    (dict(n_in=1, n=256, c=16, n_out=10, readout="mlp", mlp_hidden=100), 419_686),
])
def test_wave_rnn_parameter_counts_match_notes(kwargs, expected):
    assert parameter_count(WaveRNN(**kwargs)) == expected


@pytest.mark.parametrize("n_in, n, n_out, expected", [
    (10, 100, 10, 12_210), (10, 625, 10, 404_385),                        # copy
    (2, 100, 1, 10_501),                                                  # adding
    (1, 256, 10, 68_874),                                                 # (p)sMNIST
])
def test_irnn_parameter_counts_match_notes(n_in, n, n_out, expected):
    assert parameter_count(IRNN(n_in, n, n_out)) == expected


def test_shift_init_moves_a_pulse_to_lower_indices_and_wraps():
    c, n, steps = 3, 5, 12
    model = WaveRNN(2, n, c, 4).double()
    with torch.no_grad():
        model.conv.bias.zero_()
    x = torch.zeros(1, steps, 2, dtype=F64)
    x[0, 0] = torch.tensor([0.5, 1.0])
    _, states = model(x, return_states=True)
    states = states.view(steps, c, n)
    for t in range(steps):
        expected = torch.zeros(c, n, dtype=F64)
        expected[:, (-t) % n] = 1.5
        assert torch.equal(states[t], expected)


def test_sparse_identity_v_feeds_unit_zero_of_every_channel():
    c, n = 4, 6
    model = WaveRNN(3, n, c, 2).double()
    x = torch.randn(2, 5, 3, generator=_gen(), dtype=F64)
    drive = model.V(x).view(2, 5, c, n)
    assert torch.equal(drive[..., 0], x.sum(-1, keepdim=True).expand(2, 5, c))
    assert torch.all(drive[..., 1:] == 0)


def test_inits_of_the_conv():
    c = 3
    shift, dirac, rand = (WaveRNN(1, 7, c, 1, init_u=u).conv.weight for u in ("shift", "dirac", "random"))
    eye = torch.eye(c)
    assert torch.equal(shift[:, :, 2], eye) and torch.all(shift[:, :, :2] == 0)
    assert torch.equal(dirac[:, :, 1], eye) and torch.all(dirac[:, :, [0, 2]] == 0)
    assert (rand != 0).all()
    assert (WaveRNN(2, 7, c, 1, init_v="random").V.weight != 0).all()


def test_the_ablation_grids_u_inits():
    """Table 4's "- u-shift-init" alternatives: U(-1/sqrt(n), 1/sqrt(n)) with n the units per ring, and
    N(0, 0.001) read as std 0.001; the conv bias stays at PyTorch's default, U(+-1/sqrt(3c)), as with the shift."""
    torch.manual_seed(0)
    n, c = 100, 64  # 12,288 weights
    uniform, normal = (WaveRNN(1, n, c, 1, init_u=u).conv for u in ("uniform_sqrt_n", "normal"))
    assert uniform.weight.abs().max() <= n ** -0.5 and uniform.weight.abs().max() > 0.95 * n ** -0.5
    assert uniform.weight.std().item() == pytest.approx(n ** -0.5 / 3 ** 0.5, rel=0.03)
    assert normal.weight.std().item() == pytest.approx(1e-3, rel=0.03) and abs(normal.weight.mean()) < 3e-5
    for conv in (uniform, normal):
        assert (conv.bias != 0).all() and conv.bias.abs().max() <= (3 * c) ** -0.5


def test_parameter_counts_without_input_and_recurrent_biases_are_the_papers():
    """The paper's stated counts (10.29k, 10.3k, 403k, 435k, 336k) fit the models without V's and the recurrent
    layer's biases; the readout keeps its bias."""
    assert parameter_count(WaveRNN(2, 100, 27, 1), recurrent_biases=False) == 10_288
    assert parameter_count(IRNN(2, 100, 1), recurrent_biases=False) == 10_301
    assert parameter_count(IRNN(10, 625, 10), recurrent_biases=False) == 403_135
    assert parameter_count(WaveRNN(96, 256, 16, 10), recurrent_biases=False) == 434_954
    assert parameter_count(IRNN(96, 529, 10), recurrent_biases=False) == 335_925


@pytest.mark.parametrize("layer", [
    lambda: WaveRNN(40, 256, 4, 1, init_v="normal").V, lambda: IRNN(100, 400, 1, init_v="normal").rnn,
])
def test_normal_v_init_has_std_one_thousandth_and_the_bias_of_nn_linear(layer):
    """Table 4's alternative V init, N(0, 0.001) read as std 0.001 (40,960 weights: the sample std is within
    about 0.4 % of the true one; the variance reading would give 0.032); the bias as the public code leaves it:
    nn.Linear(n_in, n)'s U(±1/sqrt(n_in)), for the iRNN too (nn.RNN's own would be U(±1/sqrt(n)))."""
    torch.manual_seed(0)
    module = layer()
    weight, bias = (module.weight, module.bias) if isinstance(module, torch.nn.Linear) else \
        (module.weight_ih_l0, module.bias_ih_l0)
    assert weight.numel() >= 40_000
    assert weight.std().item() == pytest.approx(1e-3, rel=0.03)
    assert abs(weight.mean().item()) < 3e-5
    bound = 1 / weight.shape[1] ** 0.5
    assert (bias != 0).all() and bias.abs().max() <= bound  # U(-bound, bound)
    assert bias.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.1)


def test_fan_in_v_init_is_what_nn_linear_gives_the_code_s_mnist_irnn():
    """sMNIST feeds one pixel per step: nn.Linear(1, 256) draws V's weight and bias from U(-1, 1), where nn.RNN's
    default would give U(±1/16)."""
    torch.manual_seed(0)
    rnn = IRNN(1, 4096, 10, init_v="fan_in").rnn
    for values in (rnn.weight_ih_l0, rnn.bias_ih_l0):
        assert values.abs().max() <= 1 and values.abs().max() > 0.99
        assert values.std().item() == pytest.approx(3 ** -0.5, rel=0.05)


def test_explicit_wrap_equals_circular_conv1d():
    c, n = 3, 7
    conv = torch.nn.Conv1d(c, c, 3, padding=1, padding_mode="circular").double()
    h = torch.randn(4, c, n, generator=_gen(1), dtype=F64)
    torch.testing.assert_close(circular_conv(h, conv.weight, conv.bias), conv(h), rtol=0, atol=1e-14)


def _unrolled(x_proj, weight, bias, c, n):
    """Independent oracle: the conv as a dense (c*n, c*n) block-circulant matrix, one matmul per step."""
    m = x_proj.new_zeros(c, n, c, n)  # m[o, i, k_in, j]: weight of old h[k_in, j] in new h[o, i]
    for i in range(n):
        for k in range(3):
            m[:, i, :, (i + k - 1) % n] += weight[:, :, k]
    m = m.reshape(c * n, c * n)
    b = bias.repeat_interleave(n)
    h = x_proj.new_zeros(x_proj.shape[0], c * n)
    out = []
    for t in range(x_proj.shape[1]):
        h = torch.relu(x_proj[:, t] + h @ m.T + b)
        out.append(h)
    return torch.stack(out, dim=1)


def test_reference_loop_equals_unrolled_matrix_form_and_passes_gradcheck():
    c, n, g = 2, 3, _gen(2)
    x_proj = torch.randn(2, 4, c * n, generator=g, dtype=F64, requires_grad=True)
    weight = (0.5 * torch.randn(c, c, 3, generator=g, dtype=F64)).requires_grad_()
    bias = (0.1 * torch.randn(c, generator=g, dtype=F64)).requires_grad_()
    states = wave_rnn_recurrence(x_proj, weight, bias, c, n)
    assert states.shape == (2, 4, c * n)
    torch.testing.assert_close(states, _unrolled(x_proj, weight, bias, c, n), rtol=0, atol=1e-13)
    assert torch.autograd.gradcheck(lambda *a: _reference(*a, c, n), (x_proj, weight, bias))


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="the fused path runs on the CPU here")
def test_recurrence_backends_on_the_cpu():
    c, n, g = 2, 3, _gen(7)
    x_proj, weight = torch.randn(2, 4, c * n, generator=g), torch.randn(c, c, 3, generator=g)
    assert torch.equal(wave_rnn_recurrence(x_proj, weight, None, c, n),
                       wave_rnn_recurrence(x_proj, weight, None, c, n, backend="reference"))
    with pytest.raises(ValueError, match="fused Wave-RNN recurrence unavailable"):
        wave_rnn_recurrence(x_proj, weight, None, c, n, backend="fused")
    model, x = WaveRNN(2, n, c, 4), torch.randn(2, 4, 2, generator=g)
    auto = model(x)
    model.recurrence_backend = "reference"
    assert torch.equal(model(x), auto)
    model.recurrence_backend = "fused"  # the module's recurrence follows its backend
    with pytest.raises(ValueError, match="fused Wave-RNN recurrence unavailable"):
        model(x)


def test_fused_options_are_checked_everywhere_and_leave_the_reference_as_it_is():
    """``fused_options`` are the fused kernels' (their functions' keyword options): the reference loop ignores them,
    and a bad name or value fails on the reference path too, before anything runs."""
    c, n, g = 2, 3, _gen(10)
    x, v_weight, v_bias = torch.randn(2, 4, 1, generator=g), torch.randn(c * n, 1, generator=g), torch.randn(c * n)
    weight = torch.randn(c, c, 3, generator=g)
    want = wave_rnn_states(x, v_weight, v_bias, weight, None, c, n)
    # "columns" without a precision: theirs, "ieee", whatever the "tiles" kernels' default
    for options in ({"precision": "ieee", "wgrad": "bmm", "shift": "memory", "warps": 2}, {"kernel": "columns"},
                    {"precision": "tf32x3"}):
        assert torch.equal(wave_rnn_states(x, v_weight, v_bias, weight, None, c, n, fused_options=options), want)
    for bad, message in (({"precision": "tf32"}, "unknown precision 'tf32'; choose one of"),
                         ({"warps": 3}, "warps must be one of"),
                         ({"kernel": "columns", "precision": "tf32x3"}, 'is the "tiles" kernels'),
                         ({"stages": 2}, "unknown fused-kernel option.s. stages; valid: shift, warps, kernel")):
        with pytest.raises(ValueError, match=message):
            wave_rnn_states(x, v_weight, v_bias, weight, None, c, n, fused_options=bad)
        with pytest.raises(ValueError, match=message):
            wave_rnn_recurrence(want, weight, None, c, n, fused_options=bad)
    model = WaveRNN(1, n, c, 4)
    model.fused_options = {"precision": "half"}
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        model(x)


def test_wave_rnn_forward_shapes_and_readouts():
    x = torch.randn(3, 5, 2, generator=_gen(3))
    mlp = WaveRNN(2, 4, 3, 7, readout="mlp", mlp_hidden=8)
    out, states = mlp(x, return_states=True)
    assert out.shape == (3, 5, 7) and states.shape == (3, 5, 12)
    layers = [m for m in mlp.readout.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in layers] == [(8, 12), (7, 8)]  # hidden 12 -> 8 -> 7 outputs
    torch.testing.assert_close(out, layers[1](torch.relu(layers[0](states))))
    model = WaveRNN(2, 4, 3, 7)
    torch.testing.assert_close(model(x), model.readout(model(x, return_states=True)[1]))


@pytest.mark.parametrize("model", [WaveRNN(2, 4, 3, 7, readout="mlp", mlp_hidden=8), IRNN(2, 5, 7)])
def test_last_step_only_is_the_last_of_every_step(model):
    """``last=True``: the last step's outputs and state, the same numbers and parameter gradients as slicing every
    step's (the loop stops keeping states it would only discard)."""
    x = torch.randn(3, 6, 2, generator=_gen(8))
    out, states = model(x, return_states=True)
    out_last, state_last = model(x, return_states=True, last=True)
    assert out_last.shape == (3, 7) and state_last.shape == states[:, -1].shape
    torch.testing.assert_close(out_last, out[:, -1], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(state_last, states[:, -1], rtol=1e-6, atol=1e-7)
    params = list(model.parameters())
    for got, want in zip(torch.autograd.grad(out_last.sum(), params), torch.autograd.grad(out[:, -1].sum(), params)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_wave_rnn_states_projects_then_recurs():
    c, n, g = 2, 3, _gen(9)
    x, v_weight, v_bias = torch.randn(2, 4, 1, generator=g), torch.randn(c * n, 1, generator=g), torch.randn(c * n)
    weight, bias = torch.randn(c, c, 3, generator=g), torch.randn(c, generator=g)
    want = wave_rnn_recurrence(torch.nn.functional.linear(x, v_weight, v_bias), weight, bias, c, n)
    assert torch.equal(wave_rnn_states(x, v_weight, v_bias, weight, bias, c, n), want)
    assert torch.equal(wave_rnn_states(x, v_weight, v_bias, weight, bias, c, n, last=True), want[:, -1])
    with pytest.raises(ValueError, match=r"in_weight \(c\*n, n_in\)"):
        wave_rnn_states(x, v_weight[:-1], v_bias, weight, bias, c, n)


def _randomise(model: torch.nn.Module) -> None:
    with torch.no_grad():
        g = _gen(4)
        for p in model.parameters():
            p.copy_(0.4 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def test_irnn_equals_hand_written_relu_loop():
    model = IRNN(3, 5, 2).double()
    _randomise(model)
    x = torch.randn(2, 6, 3, generator=_gen(5), dtype=F64)
    out, states = model(x, return_states=True)
    r = model.rnn
    h = torch.zeros(2, 5, dtype=F64)
    for t in range(6):
        h = torch.relu(x[:, t] @ r.weight_ih_l0.T + r.bias_ih_l0 + h @ r.weight_hh_l0.T + r.bias_hh_l0)
        torch.testing.assert_close(states[:, t], h, rtol=0, atol=1e-13)
    torch.testing.assert_close(out, states @ model.readout.weight.T + model.readout.bias, rtol=0, atol=1e-13)


def test_irnn_inits():
    n = 6
    r = IRNN(2, n, 1).rnn
    assert torch.equal(r.weight_hh_l0, torch.eye(n))
    assert torch.all(r.bias_hh_l0 == 0) and (r.bias_ih_l0 != 0).all() and (r.weight_ih_l0 != 0).all()
    r = IRNN(2, n, 1, init="sigma", init_v="sparse_identity").rnn
    shift = torch.zeros(n, n)
    shift[torch.arange(n), (torch.arange(n) + 1) % n] = 1
    assert torch.equal(r.weight_hh_l0, shift)
    assert torch.all(r.weight_ih_l0[0] == 1) and torch.all(r.weight_ih_l0[1:] == 0)
    assert torch.all(r.bias_ih_l0 == 0) and torch.all(r.bias_hh_l0 == 0)
    r = IRNN(2, n, 1, init="random").rnn
    assert not torch.equal(r.weight_hh_l0, torch.eye(n)) and (r.bias_hh_l0 != 0).all()


def test_sigma_irnn_equals_one_channel_shift_wave_rnn():
    n = 5
    irnn = IRNN(2, n, 1, init="sigma", init_v="sparse_identity").double()
    wrnn = WaveRNN(2, n, 1, 1).double()
    with torch.no_grad():
        wrnn.conv.bias.zero_()
    x = torch.rand(2, 8, 2, generator=_gen(6), dtype=F64)
    torch.testing.assert_close(irnn(x, return_states=True)[1], wrnn(x, return_states=True)[1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("build, match", [
    (lambda: WaveRNN(0, 4, 2, 1), "^n_in must be"), (lambda: WaveRNN(1, 4.0, 2, 1), "^n must be"),
    (lambda: WaveRNN(1, 4, True, 1), "^c must be"), (lambda: WaveRNN(1, 4, 2, 1, readout="conv"), "readout 'conv'"),
    (lambda: WaveRNN(1, 4, 2, 1, init_u="identity"), "init_u 'identity'"),
    (lambda: WaveRNN(1, 4, 2, 1, init_v="gaussian"), "init_v 'gaussian'"),
    (lambda: WaveRNN(1, 4, 2, 1, readout="mlp", mlp_hidden=0), "^mlp_hidden must be"),
    (lambda: IRNN(1, -3, 1), "^n must be"), (lambda: IRNN(1, 4, 1, init="shift"), "init 'shift'"),
    (lambda: IRNN(1, 4, 1, init_v="dirac"), "init_v 'dirac'"), (lambda: IRNN(1, 4, 1, readout="rnn"), "readout 'rnn'"),
    (lambda: wave_rnn_recurrence(torch.zeros(1, 2, 5), torch.zeros(2, 2, 3), None, 2, 3), "x_proj must be"),
    (lambda: wave_rnn_recurrence(torch.zeros(1, 2, 6), torch.zeros(2, 2, 3), None, 2, 3, backend="triton"),
     "backend 'triton'"),
])
def test_bad_arguments_raise_value_error(build, match):
    """Each is refused by the package's own check (torch refuses some too, e.g. a negative hidden size, later)."""
    with pytest.raises(ValueError, match=match):
        build()


def test_value_error_lists_valid_values():
    with pytest.raises(ValueError, match="shift, dirac, uniform_sqrt_n, normal, random"):
        WaveRNN(1, 4, 2, 1, init_u="identity")
    with pytest.raises(ValueError, match="sparse_identity, normal, fan_in, random"):
        IRNN(1, 4, 1, init_v="gaussian")


def test_circular_conv_norm_is_the_operator_norm():
    c, n = 3, 7
    w = torch.randn(c, c, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # this w has its largest gain at the constant mode; with the middle tap negated, at mode 4 of 7
    for weight in (w, w * torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)):
        dense = torch.stack([circular_conv(e.view(1, c, n), weight, None).flatten()
                             for e in torch.eye(c * n, dtype=torch.float64)])  # image of each basis state
        expected = torch.linalg.matrix_norm(dense, ord=2).item()
        assert circular_conv_norm(weight, n) == pytest.approx(expected, rel=1e-10)
    shift = torch.zeros(c, c, 3, dtype=torch.float64)
    shift[range(c), range(c), 2] = 1.0
    assert circular_conv_norm(shift, n) == pytest.approx(1.0)  # the u-shift init is a rotation: gain 1


def test_fused_backwards_weight_gradient_equals_autograd_on_the_reference_loop():
    """The fused backward sums dL/dw in PyTorch from dL/dx_proj and the states (``_conv_weight_grad``): on the
    CPU, in float64, it must equal autograd through the reference loop."""
    from wavelib.models.wave_rnn_fused import _conv_weight_grad

    gen = torch.Generator().manual_seed(5)
    batch, steps, c, n = 3, 6, 4, 9
    x = torch.randn(batch, steps, c * n, generator=gen, dtype=torch.float64, requires_grad=True)
    w = (0.3 * torch.randn(c, c, 3, generator=gen, dtype=torch.float64)).requires_grad_()
    states = _reference(x, w, None, c, n)
    grad = torch.randn(states.shape, generator=gen, dtype=torch.float64)
    dx, dw = torch.autograd.grad(states, (x, w), grad)
    torch.testing.assert_close(_conv_weight_grad(dx, states.detach(), c, n), dw, rtol=1e-12, atol=1e-12)


def test_auto_takes_the_fused_kernels_for_cuda_tensors_where_they_can_run(monkeypatch):
    """The module's default backend, "auto": the fused kernels for a CUDA tensor they accept, the loop for one they
    refuse and for a CPU tensor; "fused" and "reference" as named (a stand-in CUDA tensor: this runs anywhere)."""
    pytest.importorskip("triton")
    from types import SimpleNamespace

    from wavelib.models import wave_rnn, wave_rnn_fused

    on_gpu, on_cpu = SimpleNamespace(device=torch.device("cuda", 0)), torch.zeros(1, 1, 6)
    monkeypatch.setattr(wave_rnn_fused, "fused_problem", lambda x, c, n: None)
    assert wave_rnn._fused_runs(on_gpu, 2, 3, "auto") and not wave_rnn._fused_runs(on_cpu, 2, 3, "auto")
    assert wave_rnn._fused_runs(on_cpu, 2, 3, "fused") and not wave_rnn._fused_runs(on_gpu, 2, 3, "reference")
    monkeypatch.setattr(wave_rnn_fused, "fused_problem", lambda x, c, n: "too large for the tiles")
    assert not wave_rnn._fused_runs(on_gpu, 2, 3, "auto")
