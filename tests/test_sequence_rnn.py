"""Training a wRNN / iRNN on copy and adding: bit-exact resume, the test numbers, and the wRNN's lead on copy."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from wavelib.tasks.sequence_tasks import PAPER_EVAL_BATCH
from wavelib.training.sequence_rnn import (SequenceModelSpec, SequenceTaskSpec, evaluate, fixed_test_batch,
                                           train_sequence_model)

CPU = torch.device("cpu")
WRNN = SequenceModelSpec("wrnn", 8, 2)
IRNN = SequenceModelSpec("irnn", 8, init_u="identity", init_v="random")


@pytest.mark.parametrize("model, task", [(WRNN, SequenceTaskSpec("copy", 3, 4, 6, 1e-2, 1.0, 3)),
                                         (IRNN, SequenceTaskSpec("adding", 6, 4, 6, 1e-2, 0.0, 3))])
def test_training_resumes_bit_for_bit(model, task, memory_checkpoint, step_recorder, assert_same_training):
    whole = memory_checkpoint()
    trained, history = train_sequence_model(model, task, 3, CPU, checkpoint=whole, checkpoint_every=2)
    assert [s["step"] for s in whole.saved] == [2, 4, 6]
    ran = step_recorder()
    resumed_model, resumed = train_sequence_model(model, task, 3, CPU, checkpoint=memory_checkpoint(whole.saved[0]),
                                                  checkpoint_every=2, progress=ran)
    assert ran.steps == [3, 4, 5, 6]  # only the steps after the checkpoint
    assert_same_training((trained, history), (resumed_model, resumed))
    with pytest.raises(ValueError, match="different run"):
        train_sequence_model(model, dataclasses.replace(task, lr=2e-2), 3, CPU,
                             checkpoint=memory_checkpoint(whole.saved[0]))


def test_history_labels_and_the_global_random_state_is_untouched():
    task = SequenceTaskSpec("copy", 2, 4, 4, 1e-3, 1.0, 2)
    before = torch.random.get_rng_state()
    _, history = train_sequence_model(WRNN, task, 0, CPU)
    assert torch.equal(before, torch.random.get_rng_state())
    assert history["step"].tolist() == [0, 2, 4] and np.isnan(history["train_loss"][0])
    assert set(history) == {"step", "train_loss", "test_cross_entropy", "test_recall_cross_entropy",
                            "test_recall_accuracy", "test_sequence_accuracy", "test_paper_comparable_loss",
                            "test_paper_comparable_loss_float32"}
    np.testing.assert_allclose(history["test_paper_comparable_loss"], history["test_cross_entropy"] / PAPER_EVAL_BATCH)
    np.testing.assert_allclose(history["test_paper_comparable_loss_float32"], history["test_paper_comparable_loss"],
                               rtol=1e-5)  # far above float32's rounding after 4 steps
    each = train_sequence_model(WRNN, SequenceTaskSpec("copy", 2, 4, 4, 1e-3, 1.0, 1), 0, CPU)[1]["train_loss"]
    assert history["train_loss"][1:].tolist() == pytest.approx([each[1:3].mean(), each[3:5].mean()], rel=1e-6)


class _Oracle(torch.nn.Module):
    """Outputs fixed logits: the right class with logit ``a`` (others 0) everywhere, but at the last step of row 0,
    where a wrong class gets ``a`` (the right one 0)."""

    def __init__(self, y, a):
        super().__init__()
        self.y, self.a = y, a

    def forward(self, x):
        logits = self.a * torch.nn.functional.one_hot(self.y, 10).float()
        logits[0, -1] = self.a * torch.nn.functional.one_hot((self.y[0, -1] + 1) % 10, 10).float()
        return logits


def test_copy_test_numbers_on_a_known_output():
    """One wrong recalled token of 5 x 10 (row 0's last): recall and sequence accuracy tell it apart, and each
    cross-entropy averages over its own positions (all 5 x 20, or the 5 x 10 of the recall window)."""
    task = SequenceTaskSpec("copy", 0, 1, 1, 1e-3, 0.0, 1, eval_batch=5)
    x, y = fixed_test_batch(task, CPU)
    assert x.shape == (5, 20, 10)
    a = 3.0
    scores = evaluate(_Oracle(y, a), task, x, y)
    right = math.log(1 + 9 * math.exp(-a))  # -log softmax of the right class at logit a
    wrong = math.log(math.exp(a) + 9)  # -log softmax of the right class at logit 0, a wrong one at a
    assert scores["test_cross_entropy"] == pytest.approx((99 * right + wrong) / 100, rel=1e-6)
    assert scores["test_recall_cross_entropy"] == pytest.approx((49 * right + wrong) / 50, rel=1e-6)
    assert scores["test_recall_accuracy"] == pytest.approx(49 / 50)
    assert scores["test_sequence_accuracy"] == pytest.approx(4 / 5)
    assert scores["test_paper_comparable_loss"] == pytest.approx((99 * right + wrong) / 100 / 5, rel=1e-6)


def test_adding_test_mse_is_the_final_output_error():
    task = SequenceTaskSpec("adding", 6, 1, 1, 1e-3, 0.0, 1, eval_batch=7)
    x, y = fixed_test_batch(task, CPU)

    class Constant(torch.nn.Module):
        def forward(self, x, last=False):
            out = torch.zeros(x.shape[0], x.shape[1], 1)
            out[:, -1] = 1.0
            return out[:, -1] if last else out

    assert evaluate(Constant(), task, x, y)["test_mse"] == pytest.approx(((y - 1) ** 2).mean().item(), rel=1e-6)


def test_bad_specs_are_refused():
    """Each bad spec is refused by its own check (an iRNN case takes the iRNN's init, so that the init check cannot
    answer for the one under test)."""
    for bad, match in ((dict(kind="lstm", n=4), "unknown model kind"),
                       (dict(kind="irnn", n=4, c=2, init_u="identity"), "one channel"),
                       (dict(kind="wrnn", n=0), "n must be"),
                       (dict(kind="wrnn", n=4, init_u="identity"), "unknown init"),
                       (dict(kind="wrnn", n=4, mlp_hidden=-1), "mlp_hidden"),
                       (dict(kind="irnn", n=4, init_u="identity", mlp_hidden=2.5), "mlp_hidden")):
        with pytest.raises(ValueError, match=match):
            SequenceModelSpec(**bad)
    SequenceModelSpec(kind="irnn", n=4, init_u="identity", mlp_hidden=2)  # the iRNN cases' base is valid
    for bad, match in ((dict(task="copy", T=-1), "T"), (dict(task="adding", T=1), "T"),
                       (dict(task="sort", T=3), "unknown task"), (dict(task="copy", T=3, clip=-1.0), "clip")):
        with pytest.raises(ValueError, match=match):
            SequenceTaskSpec(**{**dict(batch=2, steps=2, lr=1e-3, clip=1.0, eval_every=1), **bad})


def test_a_small_wrnn_beats_an_irnn_of_equal_size_on_copy():
    """The issue's requirement: T = 10 (30 steps), 300 Adam steps at batch 32; wRNN 4 rings of 32 units (2,750
    parameters) against an iRNN of 43 units (2,805)."""
    task = SequenceTaskSpec("copy", 10, 32, 300, 1e-3, 1.0, 300, eval_batch=100)
    wave, iden = SequenceModelSpec("wrnn", 32, 4), SequenceModelSpec("irnn", 43, init_u="identity", init_v="random")
    assert abs(wave.parameters(10, 10) - iden.parameters(10, 10)) < 0.03 * wave.parameters(10, 10)
    _, w = train_sequence_model(wave, task, 0, CPU)
    _, i = train_sequence_model(iden, task, 0, CPU)
    assert w["test_recall_accuracy"][-1] > 0.8 > 0.5 > i["test_recall_accuracy"][-1]
    assert w["test_recall_cross_entropy"][-1] < 0.5 * i["test_recall_cross_entropy"][-1]
