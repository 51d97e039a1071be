import numpy as np
import pytest

from wavelib.tasks.linear_hds import (
    TABLE1_LABELS,
    TABLE1_RULES,
    diagonal_copy_rule,
    operator_from_rule,
    repeat_copy_rule,
    rollout,
    task_operator,
)


def rule_oracle(rule, u, steps):
    """Closed loop straight from the terms: x[t][k] = sign * x[t - j][i] on a list of states."""
    x = [list(row) for row in u]
    for _ in range(steps):
        new = [0] * len(x[0])
        for k, j, i, sign in rule:
            new[k] = sign * x[-j][i]
        x.append(new)
    return np.array(x[len(u):])


def test_operator_places_each_term():
    F = operator_from_rule([(0, 3, 1, -1), (1, 1, 0, 1)], s=3, d=2)
    expected = np.zeros((6, 2))
    expected[0 * 2 + 1, 0] = -1  # lag 3 = slot 0 (oldest), component 1
    expected[2 * 2 + 0, 1] = 1  # lag 1 = slot 2 (newest), component 0
    np.testing.assert_array_equal(F, expected)


@pytest.mark.parametrize(
    "rule,match",
    [
        ([(0, 1, 0, 1)], "outputs \\[1\\] have no term"),  # output 1 missing
        ([(0, 1, 0, 1), (0, 2, 1, 1), (1, 1, 1, 1)], "appears twice"),  # output 0 twice (output 1 present)
        ([(0, 0, 0, 1), (1, 1, 1, 1)], "lag"),  # lag 0
        ([(0, 4, 0, 1), (1, 1, 1, 1)], "lag"),  # lag beyond s
        ([(0, 1, 2, 1), (1, 1, 1, 1)], "input component"),  # component out of range
        ([(0, 1, 0, 2), (1, 1, 1, 1)], "sign"),  # sign not ±1
        ([(2, 1, 0, 1), (1, 1, 1, 1)], "output index"),  # output out of range
    ],
)
def test_operator_rejects_bad_rules(rule, match):
    with pytest.raises(ValueError, match=match):
        operator_from_rule(rule, s=3, d=2)


@pytest.mark.parametrize("s,d", [(0, 2), (2, 0), (-1, 3)])
def test_bad_sizes(s, d):
    with pytest.raises(ValueError):
        repeat_copy_rule(s, d)


@pytest.mark.parametrize("name", sorted(TABLE1_RULES))
def test_table1_operator_structure(name):
    F = task_operator(name)
    assert F.shape == (64, 8)
    assert (np.count_nonzero(F, axis=0) == 1).all()
    assert set(np.unique(F[F != 0])) <= {-1.0, 1.0}
    assert (np.count_nonzero(F, axis=1) <= 1).all()  # each stored bit is used at most once
    assert name in TABLE1_LABELS


@pytest.mark.parametrize("name", sorted(TABLE1_RULES))
def test_rollout_matches_term_oracle(name):
    rng = np.random.default_rng(0)
    u = rng.choice([-1, 1], size=(8, 8))
    got = rollout(task_operator(name), u, 40)
    np.testing.assert_array_equal(got, rule_oracle(TABLE1_RULES[name], u, 40))


def test_table1_rules_decoded_from_notes():
    t3 = dict((k, (j, i, sg)) for k, j, i, sg in TABLE1_RULES["compose_t3"])
    t4 = dict((k, (j, i, sg)) for k, j, i, sg in TABLE1_RULES["compose_t4"])
    assert t3[0] == (4, 4, -1) and t3[6] == (1, 7, 1) and t3[3] == (8, 0, -1)
    assert t4[0] == (3, 5, -1) and t4[7] == (1, 7, -1) and t4[2] == (8, 0, 1)


def test_repeat_copy_replays_the_input():
    rng = np.random.default_rng(1)
    u = rng.choice([-1.0, 1.0], size=(5, 3))
    np.testing.assert_array_equal(rollout(task_operator("repeat_copy", 5, 3), u, 15), np.tile(u, (3, 1)))


def test_diagonal_copy_general_size():
    rng = np.random.default_rng(2)
    u = rng.choice([-1, 1], size=(6, 4))
    got = rollout(task_operator("diagonal_copy", 6, 4), u, 25)
    np.testing.assert_array_equal(got, rule_oracle(diagonal_copy_rule(6, 4), u, 25))
    assert diagonal_copy_rule(6, 4)[3] == (3, 3, 3, 1)


def test_diagonal_copy_needs_d_le_s():
    with pytest.raises(ValueError, match="d <= s"):
        diagonal_copy_rule(3, 4)


def test_batched_and_integer_rollout():
    rng = np.random.default_rng(3)
    F = task_operator("compose_t4")
    u = rng.choice([-1, 1], size=(5, 8, 8))
    batched = rollout(F.astype(int), u, 30)
    assert batched.shape == (5, 30, 8) and batched.dtype.kind == "i"
    for b in range(5):
        np.testing.assert_array_equal(batched[b], rollout(F, u[b].astype(float), 30))


def test_task_operator_errors():
    with pytest.raises(ValueError, match="s = d = 8"):
        task_operator("compose_t3", s=4, d=4)
    with pytest.raises(ValueError, match="repeat_copy"):
        task_operator("nope")


def test_rollout_rejects_bad_shapes():
    F = task_operator("repeat_copy", 4, 2)
    with pytest.raises(ValueError):
        rollout(F, np.ones((3, 2)), 5)
    with pytest.raises(ValueError):
        rollout(F, np.ones(8), 5)
    with pytest.raises(ValueError):
        rollout(F, np.ones((4, 2)), -1)
    assert rollout(F, np.ones((4, 2)), 0).shape == (0, 2)  # no steps is allowed


def test_closed_loop_map_covers_a_horizon_past_one_window():
    """A loop stopping one step short would return too few columns for horizon = s + 1 and break sample_hds_batch."""
    from wavelib.tasks.linear_hds import closed_loop_map
    s, d = 4, 3
    F = task_operator("diagonal_copy", s, d)
    M = closed_loop_map(F, s + 1)
    assert M.shape == (s * d, (s + 1) * d)
    u = np.random.default_rng(0).choice([-1.0, 1.0], (s, d))
    np.testing.assert_allclose(u.reshape(-1) @ M, rollout(F, u, s + 1).reshape(-1))


def test_only_repeat_copy_is_within_reach_of_a_linear_rnn():
    """A linear RNN with zero input in the closed loop maps each input by its lag alone: it is run here in the
    standard basis with a cyclic shift, which holds repeat copy exactly, and the lag test agrees with it."""
    from wavelib.tasks.linear_hds import conflicting_lags
    s, d, steps = 4, 2, 9
    W = np.roll(np.eye(s * d), -d, axis=0)  # slot j -> slot j - 1 (mod s): the oldest comes back as the newest
    newest = np.eye(s * d)[:, (s - 1) * d:]
    u = np.random.default_rng(1).choice([-1.0, 1.0], (s, d))
    h = np.zeros(s * d)
    for t in range(s):
        h = W @ h + newest @ u[t]  # W_uh writes the newest slot
    outputs = []
    for _ in range(steps):
        h = W @ h
        outputs.append(newest.T @ h)  # W_r reads the newest slot
    np.testing.assert_array_equal(np.array(outputs), rollout(task_operator("repeat_copy", s, d), u, steps))
    assert conflicting_lags(task_operator("repeat_copy", s, d), steps) == (0, s + steps - 3)
    conflicts, lags = conflicting_lags(task_operator("diagonal_copy", s, d), steps)
    assert 0 < conflicts <= lags == s + steps - 3
    for task in TABLE1_RULES:  # the book's four tasks at s = d = 8: only repeat copy is free of conflicts
        assert (conflicting_lags(task_operator(task), 20)[0] == 0) == (task == "repeat_copy")
    with pytest.raises(ValueError, match="positive"):
        conflicting_lags(task_operator("repeat_copy", s, d), 0)
