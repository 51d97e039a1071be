"""Copy and adding tasks of the Wave-RNN paper: layouts, metrics, baselines, markers, solved_at."""

import math

import pytest
import torch
import torch.nn.functional as F

from wavelib.tasks import sequence_tasks as st


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------ copy


def test_copy_paper_format_hand_checked():
    x, y = st.copy_batch(3, 2, gen(), format="paper")
    assert x.shape == (3, 22, 10) and x.dtype == torch.float32
    assert y.shape == (3, 22) and y.dtype == torch.long
    assert torch.equal(x.sum(-1), torch.ones(3, 22))  # one-hot
    ids = x.argmax(-1)
    tokens = ids[:, :10]
    assert ((tokens >= 1) & (tokens <= 8)).all()
    assert (ids[:, 10:12] == 0).all()  # T = 2 blanks
    assert (ids[:, 12] == 9).all()  # the delimiter at T + 10
    assert (ids[:, 13:] == 0).all()  # 9 blanks
    assert (ids == 9).sum() == 3
    assert (y[:, :12] == 0).all()
    assert torch.equal(y[:, 12:], tokens)  # the last 10 steps hold the tokens


def test_copy_paper_format_T0():
    x, y = st.copy_batch(2, 0, gen(1))
    ids = x.argmax(-1)
    assert x.shape == (2, 20, 10)
    assert (ids[:, 10] == 9).all() and (ids[:, 11:] == 0).all()
    assert torch.equal(y[:, 10:], ids[:, :10]) and (y[:, :10] == 0).all()


def test_copy_code_format_hand_checked():
    x, y = st.copy_batch(3, 12, gen(), format="code")
    assert x.shape == (3, 22, 10) and y.shape == (3, 22)
    ids = x.argmax(-1)
    tokens = ids[:, :10]
    assert ((tokens >= 1) & (tokens <= 8)).all()
    assert (ids[:, 10] == 0).all()  # T - 11 = 1 blank
    assert (ids[:, 11] == 9).all()  # the delimiter at T - 1
    assert (ids[:, 12:] == 0).all()  # the recall window gets blanks as input
    assert (y[:, :12] == 0).all()
    assert torch.equal(y[:, 12:], tokens)  # recall window: the 10 steps after the delimiter


def test_copy_layouts_and_T_mapping():
    assert st.copy_layout(30) == st.CopyLayout(50, 40, 40)
    assert st.copy_layout(50, "code") == st.CopyLayout(60, 49, 50)
    # both copy sweep files run T in (10, 20, 50, 100, 500): paired in order with Table 5's 0, 10, 30, 80, 480
    assert [st.reported_T_from_code(T) for T in (10, 20, 50, 100, 500)] == [0, 10, 30, 80, 480]
    assert [st.code_T_from_reported(T) for T in (0, 10, 30, 80, 480)] == [10, 20, 50, 100, 500]
    assert st.copy_layout(st.code_T_from_reported(480), "code").length == 510  # "T=480 ran 510 steps"
    assert st.reported_T_from_code(30) is None  # not in the code's sweep: no reported T
    with pytest.raises(ValueError, match="reports copy T in"):
        st.code_T_from_reported(20)
    with pytest.raises(ValueError, match=">= 10"):
        st.reported_T_from_code(9)


def test_code_T_10_lets_the_delimiter_overwrite_the_last_token_as_the_code_does():
    """``get_batch(bsz, 10)``: X[:, -(10+1)] = 9 lands on the 10th token, and Y copies X after that, so the last
    recall target is the delimiter; a memoryless model then guesses 9 tokens, not 10."""
    x, y = st.copy_batch(3, 10, gen(), format="code")
    ids = x.argmax(-1)
    assert x.shape == (3, 20, 10) and (ids[:, 9] == 9).all() and (ids[:, 10:] == 0).all()
    assert ((ids[:, :9] >= 1) & (ids[:, :9] <= 8)).all()
    assert (y[:, :10] == 0).all() and torch.equal(y[:, 10:], ids[:, :10]) and (y[:, -1] == 9).all()
    assert st.memoryless_cross_entropy(10, "code") == pytest.approx(9 * math.log(8) / 20)
    assert st.memoryless_cross_entropy(11, "code") == pytest.approx(10 * math.log(8) / 21)


def test_copy_tokens_uniform_and_deterministic():
    x1, y1 = st.copy_batch(400, 0, gen(5))
    x2, y2 = st.copy_batch(400, 0, gen(5))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert set(y1[:, -10:].unique().tolist()) == set(range(1, 9))


@pytest.mark.parametrize("kwargs", [dict(batch=0, T=3), dict(batch=2, T=-1), dict(batch=2, T=1.5),
                                    dict(batch=2, T=9, format="code"), dict(batch=2, T=3, format="text")])
def test_copy_validation(kwargs):
    with pytest.raises(ValueError):
        st.copy_batch(generator=gen(), **kwargs)


def _onehot_logits(y, scale=50.0):
    return scale * F.one_hot(y, 10).float()


def test_copy_metrics_perfect_and_uniform():
    _, y = st.copy_batch(4, 3, gen())
    m = st.copy_metrics(_onehot_logits(y), y)
    assert m["recall_accuracy"] == 1.0 and m["sequence_accuracy"] == 1.0
    assert m["cross_entropy"] < 1e-12
    assert m["paper_comparable_loss"] == m["cross_entropy"] / 4

    m = st.copy_metrics(torch.zeros(4, 23, 10), y)
    assert m["cross_entropy"] == pytest.approx(math.log(10))
    assert m["recall_cross_entropy"] == pytest.approx(math.log(10))
    assert m["paper_comparable_loss"] == pytest.approx(math.log(10) / 4)
    # the code's training loss divides the mean cross-entropy by the batch size again (copy_task.py)
    assert st.copy_loss(torch.zeros(4, 23, 10), y).item() == pytest.approx(math.log(10) / 4)


def test_copy_metrics_resolve_the_losses_a_trained_wrnn_reaches():
    """A logit margin of 30 costs log(1 + 9 e^-30) ~ 8.4e-13 nats per token: float32 rounds it to 0, the metric
    must not (the paper's wRNNs reach about 5e-10..5e-9 per token)."""
    _, y = st.copy_batch(4, 3, gen())
    logits = _onehot_logits(y, scale=30.0)
    assert st.copy_loss(logits, y).item() == 0.0  # the float32 training loss underflows
    m = st.copy_metrics(logits, y)
    expected = math.log1p(9 * math.exp(-30))
    for name in ("cross_entropy", "recall_cross_entropy"):
        assert m[name] == pytest.approx(expected, rel=1e-6)
    assert m["paper_comparable_loss"] == pytest.approx(expected / 4, rel=1e-6) and m["paper_comparable_loss"] > 0
    assert m["paper_comparable_loss_float32"] == 0.0  # what the paper's code would have reported for it


def test_the_codes_float32_loss_counts_only_the_tokens_above_its_rounding():
    """The paper's code takes nn.CrossEntropyLoss of float32 outputs: a token whose loss is far below float32's
    rounding at its logits counts 0, so the number counts the few tokens that cost more."""
    _, y = st.copy_batch(4, 3, gen())
    logits = _onehot_logits(y, scale=30.0)  # every token ~8e-13 nats: 0 in float32
    logits[0, 0] = 0.0  # one token guessed uniformly: ln 10 nats
    m = st.copy_metrics(logits, y)
    tokens = y.numel()
    assert m["paper_comparable_loss_float32"] == pytest.approx(math.log(10) / tokens / 4, rel=1e-6)
    tiny = (tokens - 1) * math.log1p(9 * math.exp(-30))
    assert m["paper_comparable_loss"] == pytest.approx((math.log(10) + tiny) / tokens / 4, rel=1e-12)


def test_copy_metrics_partial_recall():
    _, y = st.copy_batch(2, 1, gen(3))
    logits = _onehot_logits(y)
    wrong = [(0, -1), (0, -5), (1, -10)]
    for b, t in wrong:  # predict a wrong token with certainty
        logits[b, t] = _onehot_logits(y[b, t] % 8 + 1)
    m = st.copy_metrics(logits, y)
    assert m["recall_accuracy"] == pytest.approx(1 - 3 / 20)
    assert m["sequence_accuracy"] == 0.0
    assert m["recall_cross_entropy"] == pytest.approx(3 * 50 / 20, rel=1e-5)
    assert m["cross_entropy"] == pytest.approx(3 * 50 / (2 * 21), rel=1e-5)
    assert m["paper_comparable_loss"] == pytest.approx(m["cross_entropy"] / 2)


@pytest.mark.parametrize("fmt,T", [("paper", 0), ("paper", 30), ("code", 20), ("code", 50)])
def test_memoryless_baseline_matches_memoryless_predictor(fmt, T):
    _, y = st.copy_batch(50, T, gen(), format=fmt)
    logits = torch.full((50, y.shape[1], 10), -1e4)
    logits[:, :-10, 0] = 1e4  # blank with certainty outside the recall window
    logits[:, -10:, 1:9] = 0.0  # uniform over the 8 tokens inside it
    m = st.copy_metrics(logits, y)
    assert m["cross_entropy"] == pytest.approx(st.memoryless_cross_entropy(T, fmt), rel=1e-5)
    assert m["paper_comparable_loss"] == pytest.approx(st.memoryless_baseline(T, 50, fmt), rel=1e-5)


def test_memoryless_baseline_values():
    assert st.memoryless_baseline(0) == pytest.approx(10 * math.log(8) / 20 / 50)
    assert st.memoryless_baseline(480) == pytest.approx(10 * math.log(8) / 500 / 50)
    assert st.memoryless_baseline(500, format="code") == pytest.approx(10 * math.log(8) / 510 / 50)
    assert st.memoryless_baseline(30, batch=1) == pytest.approx(10 * math.log(8) / 50)
    with pytest.raises(ValueError):
        st.memoryless_baseline(30, batch=0)


def test_copy_metrics_shape_check():
    with pytest.raises(ValueError):
        st.copy_metrics(torch.zeros(2, 20, 9), torch.zeros(2, 20, dtype=torch.long))


# ---------------------------------------------------------------------------------------- adding


@pytest.mark.parametrize("T", [2, 7, 10])
def test_adding_markers_and_target(T):
    x, y = st.adding_batch(2000, T, gen(T))
    assert x.shape == (2000, T, 2) and y.shape == (2000, 1)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = T // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    assert torch.allclose(y[:, 0], (values * markers).sum(1))
    # every position of each half is used
    assert (markers.sum(0) > 0).all()


def test_adding_deterministic_and_validation():
    a = st.adding_batch(3, 6, gen(9))
    b = st.adding_batch(3, 6, gen(9))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    for kwargs in (dict(batch=3, T=1), dict(batch=0, T=6)):
        with pytest.raises(ValueError):
            st.adding_batch(generator=gen(), **kwargs)
    assert st.adding_loss(torch.ones(3), torch.ones(3, 1)).item() == 0.0


def test_solved_at():
    assert st.ADDING_SOLVED_MSE == 0.05
    assert st.solved_at([0, 100, 200, 300], [0.3, 0.06, 0.05, 0.01]) == 200
    assert st.solved_at([0, 100], [0.3, float("nan")]) is None
    assert st.solved_at([10, 20], [0.2, 0.15], threshold=0.16) == 20
    assert st.solved_at([], []) is None
    with pytest.raises(ValueError):
        st.solved_at([1, 2], [0.1])


def test_adding_constant_baseline_is_the_target_variance():
    """The 'predict 1' baseline drawn in the adding figures must be Var(U1 + U2) = 1/6, what sampled targets give."""
    assert st.ADDING_CONSTANT_BASELINE == pytest.approx(2 / 12)
    _, y = st.adding_batch(20000, 10, torch.Generator().manual_seed(0))
    assert st.adding_loss(torch.ones_like(y), y).item() == pytest.approx(st.ADDING_CONSTANT_BASELINE, rel=0.05)
