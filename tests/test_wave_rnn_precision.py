"""The "tiles" Wave-RNN kernels at each precision by name (:data:`wavelib.models.wave_rnn_fused.PRECISIONS`:
"tf32x3", the default, tensor-core products of two TF32 parts each; "ieee", float32 FMAs) against the float64
reference loop.

``tests/test_wave_rnn_fused.py`` tests the kernels at the default precision; this file names each, so that the one
no chapter uses is tested too: ``scripts/gpu_session.py`` runs it among the candidates (a failure turns nothing off),
and benchmark rows time the two against each other. Triton's CPU interpreter forms float32 products whatever the
precision, so there these tests check the wiring only; on a GPU they check the tensor-core products.
Skipped unless triton can run (``tests/fused_support.py``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

# fused_support skips this module where triton cannot run
from fused_support import DEVICE, assert_wave_matches_float64, grads_match_float64, pixel_inputs, wave_inputs

from wavelib.models.wave_rnn import _reference
from wavelib.models.wave_rnn_fused import PRECISIONS, fused_wave_rnn_pixels, fused_wave_rnn_recurrence

# (B, T, c, n, bias): masks (c, n not powers of two; n = 100), T = 1; on CUDA the copy and sMNIST widths
SHAPES = [(2, 5, 3, 7, True), (2, 3, 6, 100, False), (1, 1, 3, 7, True)]
if DEVICE == "cuda":
    SHAPES += [(128, 16, 6, 100, True), (128, 16, 16, 256, True)]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("batch, steps, c, n, bias", SHAPES)
def test_each_precision_matches_float64(batch, steps, c, n, bias, precision):
    """The tolerances of ``tests/test_wave_rnn_fused.py`` (states 1e-5, gradients 1e-4 relative)."""
    leaves, grad = wave_inputs(batch, steps, c, n, bias, seed=11)
    x, w, *b = leaves
    states = fused_wave_rnn_recurrence(x, w, b[0] if b else None, c, n, precision=precision)
    assert_wave_matches_float64(states, leaves, grad, c, n)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("batch, steps, c, n", [(2, 5, 3, 7), (3, 4, 16, 20)] +
                         ([(128, 16, 16, 256)] if DEVICE == "cuda" else []))
def test_each_precision_pixels_last_state_matches_float64(batch, steps, c, n, precision):
    """What the image trainer runs: pixels projected in the kernels, the last state's gradient."""
    leaves = pixel_inputs(batch, steps, c, n, True, seed=batch + steps)
    x, v_weight, v_bias, w, b = leaves
    final = fused_wave_rnn_pixels(x, v_weight, v_bias, w, b, c, n, last=True, precision=precision)
    leaves64 = [t.detach().double().requires_grad_() for t in leaves]
    x64, v64, vb64, w64, b64 = leaves64
    want = _reference(F.linear(x64, v64, vb64), w64, b64, c, n, last=True)
    grad = torch.randn(want.shape, generator=torch.Generator().manual_seed(12)).to(DEVICE)
    grads_match_float64(final, want, leaves, leaves64, grad)


def test_the_module_passes_its_precision_to_the_kernels(monkeypatch):
    """``WaveRNN.fused_options["precision"]`` reaches the pixels kernels (n_in = 1) and the projected ones
    (n_in = 3); the pixels kernels project the input themselves (they get V)."""
    from wavelib.models import wave_rnn_fused
    from wavelib.models.wave_rnn import WaveRNN

    seen = []  # per call of the kernels' autograd function: (whether it got V, its precision: the last argument)
    monkeypatch.setattr(wave_rnn_fused.FusedWaveRecurrence, "apply", lambda *args: seen.append(
        (args[1] is not None, args[-1])) or torch.zeros(2, 3, 3 * 7, device=DEVICE))
    for n_in, pixels in ((1, True), (3, False)):
        model = WaveRNN(n_in, 7, 3, 4).to(DEVICE)
        model.recurrence_backend = "fused"
        for precision, want in ((None, wave_rnn_fused.DEFAULT_PRECISION), ("tf32x3", "tf32x3"), ("ieee", "ieee")):
            model.fused_options = {} if precision is None else {"precision": precision}
            assert model(torch.zeros(2, 3, n_in, device=DEVICE)).shape == (2, 3, 4)
            assert seen.pop() == (pixels, want), n_in


@pytest.mark.skipif(DEVICE != "cuda", reason="Triton's interpreter forms float32 products at every precision")
def test_tf32x3_reaches_the_kernels():
    """On a GPU the two precisions round differently: equal states would mean the option never reached ``tl.dot``."""
    leaves, _ = wave_inputs(128, 16, 16, 256, True, seed=13)
    ieee, tf32x3 = (fused_wave_rnn_recurrence(*leaves, 16, 256, precision=p) for p in ("ieee", "tf32x3"))
    assert not torch.equal(ieee, tf32x3)
    torch.testing.assert_close(tf32x3, ieee, rtol=1e-5, atol=1e-5)


def test_unknown_precision_and_columns_are_refused():
    c, n = 3, 7
    leaves, _ = wave_inputs(2, 3, c, n, True)
    with pytest.raises(ValueError, match="unknown precision 'tf32'; choose one of"):
        fused_wave_rnn_recurrence(*leaves, c, n, precision="tf32")
    with pytest.raises(ValueError, match='precision .tf32x3. is the "tiles" kernels'):
        fused_wave_rnn_recurrence(*leaves, c, n, kernel="columns", precision="tf32x3")
    x, v_weight, v_bias, w, b = pixel_inputs(2, 3, c, n, True, seed=0)
    with pytest.raises(ValueError, match="unknown precision"):
        fused_wave_rnn_pixels(x, v_weight, v_bias, w, b, c, n, precision="fp16")
