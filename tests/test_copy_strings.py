import pytest
import torch

from wavelib.tasks.copy_strings import (
    BOS,
    COPY,
    EOS,
    LETTERS,
    PAD,
    VOCAB_SIZE,
    copy_accuracy,
    copy_example,
    decode,
    encode,
    make_eval_set,
    sample_training_batch,
    trained_lengths,
)


def test_encode_decode_round_trip():
    text = "$abz|abz.**"
    ids = encode(text)
    assert ids == [26, 0, 1, 25, 27, 0, 1, 25, 28, 29, 29]
    assert decode(ids) == text
    assert decode(torch.tensor(ids)) == text
    with pytest.raises(ValueError):
        encode("aB")
    with pytest.raises(ValueError):
        decode([VOCAB_SIZE])
    # the documented vocabulary: 26 letters, then $ | . * (the models' embedding and output sizes)
    assert (LETTERS, VOCAB_SIZE) == (26, 30)
    assert decode(range(VOCAB_SIZE)) == "abcdefghijklmnopqrstuvwxyz$|.*"


def test_copy_example_layout():
    assert copy_example([2, 0, 19]) == [BOS, 2, 0, 19, COPY, 2, 0, 19, EOS]
    assert decode(copy_example(encode("cat"))) == "$cat|cat."
    for bad in ([LETTERS], [-1]):  # letters only
        with pytest.raises(ValueError):
            copy_example(bad)


def expected_mask(row_text):
    """Loss mask on the targets of a decoded stream, by hand: the copied letters and '.' of whole examples."""
    mask = []
    for piece in row_text.split("$")[1:]:
        mask.append(False)  # the '$' of this piece
        if piece.endswith("."):  # a whole example: s|s.
            s = piece[: piece.index("|")]
            mask += [False] * (len(s) + 1) + [True] * (len(s) + 1)
        else:  # the cut example at the end of the row
            mask += [False] * len(piece)
    return mask[1:]  # targets start at the second token


def test_training_batch_is_well_formed():
    g = torch.Generator().manual_seed(0)
    b = sample_training_batch(4, context_len=30, min_len=2, max_len=5, generator=g)
    assert b.inputs.shape == b.targets.shape == b.loss_mask.shape == (4, 30)
    assert b.inputs.dtype == b.targets.dtype == torch.long and b.loss_mask.dtype == torch.bool
    assert torch.equal(b.inputs[:, 1:], b.targets[:, :-1])
    whole = []
    for x, y, m in zip(b.inputs, b.targets, b.loss_mask):
        text = decode(x) + decode(y[-1:])
        assert text.startswith("$") and "*" not in text
        pieces = text.split("$")[1:]
        for piece in pieces[:-1]:
            s, t = piece.split("|")
            assert 2 <= len(s) <= 5 and t == s + "."
        last = pieces[-1]
        if last.endswith("."):
            s, t = last.split("|")
            assert t == s + "."
        whole += [len(p.split("|")[0]) for p in pieces if p.endswith(".")]
        assert m.tolist() == expected_mask(text)
    assert b.lengths.tolist() == whole and b.n_examples == len(whole)


def example_by_example(batch, context_len, min_len, max_len, generator):
    """The plain sampler: each row packs examples drawn one at a time (length, then letters) until it is full."""
    rows = []
    for _ in range(batch):
        tokens, mask, whole_lengths = [], [], []
        while len(tokens) < context_len + 1:
            length = int(torch.randint(min_len, max_len + 1, (1,), generator=generator))
            example = copy_example(torch.randint(0, LETTERS, (length,), generator=generator).tolist())
            room = context_len + 1 - len(tokens)
            whole = len(example) <= room
            tokens += example[:room]
            mask += [whole and k >= length + 2 for k in range(len(example))][:room]
            whole_lengths += [length] if whole else []
        rows.append((tokens, mask, whole_lengths))
    ids, mask = torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])
    return ids[:, :-1], ids[:, 1:], mask[:, 1:], [n for r in rows for n in r[2]]


@pytest.mark.parametrize("batch, context_len, min_len, max_len", [
    (32, 220, 1, 20),  # the paper preset's first length
    (4, 620, 1, 300),  # its second: rows of one or two examples
    (6, 26, 3, 3),  # 9-token examples that fill a 27-token stream exactly: no cut example
    (5, 30, 2, 5),  # a span of 4, whose residues need lcm(26, 4) = 52
    (3, 9, 1, 3),
])
def test_training_batches_are_those_of_sampling_example_by_example(batch, context_len, min_len, max_len):
    """The vectorised sampler gives the same batches, and leaves the generator where the plain one does, step
    after step: the data of runs trained before it (the committed Ch. 5 artifacts) stay what they were."""
    fast, plain = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    for _ in range(3):
        b = sample_training_batch(batch, context_len, min_len, max_len, fast)
        inputs, targets, loss_mask, lengths = example_by_example(batch, context_len, min_len, max_len, plain)
        assert torch.equal(b.inputs, inputs) and torch.equal(b.targets, targets)
        assert torch.equal(b.loss_mask, loss_mask) and b.lengths.tolist() == lengths
        assert torch.equal(fast.get_state(), plain.get_state())


def test_training_batch_hand_checked_row():
    g = torch.Generator().manual_seed(3)
    b = sample_training_batch(1, context_len=9, min_len=1, max_len=3, generator=g)
    text = decode(b.inputs[0]) + decode(b.targets[0, -1:])
    # each row holds at least one whole example; check the first one position by position
    s = text[1: text.index("|")]
    marks = "".join("^" if on else " " for on in b.loss_mask[0].tolist())
    assert marks[: 2 * len(s) + 2] == " " * (len(s) + 1) + "^" * (len(s) + 1)
    assert b.n_examples >= 1


def test_training_batch_reproducible_and_validated():
    def draw(seed):
        return sample_training_batch(2, 23, 1, 10, torch.Generator().manual_seed(seed)).inputs

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))
    with pytest.raises(ValueError, match="23"):
        sample_training_batch(2, 22, 1, 10, torch.Generator())
    with pytest.raises(ValueError, match="min_len"):
        sample_training_batch(2, 50, 6, 5, torch.Generator())
    with pytest.raises(ValueError, match="batch"):
        sample_training_batch(0, 50, 1, 5, torch.Generator())


def test_eval_set_lengths_and_layout():
    e = make_eval_set([3, 5], n_per_length=4, seed=7)
    assert e.inputs.shape == (8, 13)  # 2 * 5 + 3
    assert e.lengths.tolist() == [3] * 4 + [5] * 4
    for x, y, loss, ans, n in zip(e.inputs, e.targets, e.loss_mask, e.answer_mask, e.lengths.tolist()):
        text = decode(x) + decode(y[-1:])
        s = text[1: 1 + n]
        assert text == f"${s}|{s}." + "*" * (11 - 2 * n)  # a stream of 14 tokens
        assert ans.nonzero().flatten().tolist() == list(range(n + 1, 2 * n + 1))
        assert loss.nonzero().flatten().tolist() == list(range(n + 1, 2 * n + 2))
        assert decode(y[ans]) == s and decode(y[loss]) == s + "."
    assert torch.equal(e.inputs[:, 1:], e.targets[:, :-1])
    wide = make_eval_set([5], n_per_length=2, seed=7, context_len=20)
    assert wide.inputs.shape == (2, 20) and bool((wide.targets[:, 12:] == PAD).all())
    with pytest.raises(ValueError, match="13"):
        make_eval_set([5], n_per_length=2, seed=7, context_len=12)
    letters = make_eval_set([20], n_per_length=20, seed=7)
    assert set(letters.inputs[:, 1:21].flatten().tolist()) == set(range(LETTERS))  # every letter is drawn


def test_eval_set_deterministic_and_seeded():
    torch.manual_seed(0)
    a = make_eval_set([4, 6], 3, seed=1)
    torch.manual_seed(123)
    b = make_eval_set([4, 6], 3, seed=1)
    assert torch.equal(a.inputs, b.inputs)
    assert not torch.equal(a.inputs, make_eval_set([4, 6], 3, seed=2).inputs)
    only6 = make_eval_set([6], 3, seed=1)  # a length's strings do not depend on the other lengths
    assert torch.equal(only6.targets[0, :14], a.targets[3, :14])
    for seed in (-1, 1.5):
        with pytest.raises(ValueError, match="seed"):
            make_eval_set([4, 6], 3, seed=seed)
    for lengths in ([4, 0], [2.5]):
        with pytest.raises(ValueError, match="positive integers"):
            make_eval_set(lengths, 3, seed=1)


def one_hot_logits(tokens):
    return torch.nn.functional.one_hot(tokens, VOCAB_SIZE).float()


def test_copy_accuracy():
    e = make_eval_set([4], n_per_length=2, seed=0)
    logits = one_hot_logits(e.targets)
    s, c = copy_accuracy(logits, e.targets, e.answer_mask)
    assert s.tolist() == [1.0, 1.0] and c.tolist() == [1.0, 1.0]

    wrong = e.targets.clone()
    pos = e.answer_mask[0].nonzero()[2, 0]
    wrong[0, pos] = (wrong[0, pos] + 1) % 26
    s, c = copy_accuracy(one_hot_logits(wrong), e.targets, e.answer_mask)
    assert s.tolist() == [0.0, 1.0] and c.tolist() == [0.75, 1.0]

    outside = e.targets.clone()
    outside[:, 0] = EOS  # a prompt token
    outside[:, 9] = 0  # the EOS target is not scored
    outside[:, -1] = 0  # padding
    s, c = copy_accuracy(one_hot_logits(outside), e.targets, e.answer_mask)
    assert s.tolist() == [1.0, 1.0] and c.tolist() == [1.0, 1.0]

    with pytest.raises(ValueError):
        copy_accuracy(logits, e.targets, torch.zeros_like(e.answer_mask))


def test_training_strings_reach_max_len():
    """If max_len were never drawn, a model trained on lengths up to max_len would never see its longest strings."""
    batch = sample_training_batch(2, context_len=30, min_len=3, max_len=3, generator=torch.Generator().manual_seed(0))
    assert batch.n_examples == 2 * (31 // 9)  # every example has 3 letters: 9 tokens, 3 whole ones per 31-token row
    batch = sample_training_batch(64, context_len=30, min_len=1, max_len=3, generator=torch.Generator().manual_seed(0))
    answers = batch.loss_mask & (batch.targets == EOS)
    letters_per_answer = (batch.loss_mask & (batch.targets != EOS)).sum() / answers.sum()
    assert 1.8 < letters_per_answer < 2.2  # uniform on 1..3 has mean 2 (1..2 would give 1.5)


def test_packing_trains_long_strings_less_often_where_a_row_holds_few_examples():
    """A row's last example is cut and left out of the loss, a long one more often: in rows that hold about one
    example (the `paper` preset's 300) the trained lengths fall short of uniform; in long rows they are uniform."""
    tight = trained_lengths(2 * 30 + 3, 1, 30, rows=4096).float()
    roomy = trained_lengths(20_000, 1, 30, rows=64).float()
    assert tight.mean() < 15.5 - 2 and abs(roomy.mean() - 15.5) < 0.3
    assert tight.min() >= 1 and tight.max() <= 30
