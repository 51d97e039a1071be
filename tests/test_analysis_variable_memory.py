import numpy as np
import pytest
import torch

from wavelib.analysis.variable_memory import (
    SLOT_POWERS,
    digit_frames,
    memory_frames,
    memory_gains,
    project_states,
    simulate,
    slot_reading_check,
    transient_projector,
    used_coordinates,
    variable_memory_basis,
    wave_network,
    weights_in_basis,
)
from wavelib.tasks.linear_hds import TABLE1_RULES, task_operator
from wavelib.theory.lbc import exact_spectrum, random_basis, wave_operator

S = D = 8
EXTRA = 8
TASKS = sorted(TABLE1_RULES)


def table1_phi(task: str) -> np.ndarray:
    return wave_operator(task_operator(task), S, D)


def test_used_coordinates():
    counts = {task: used_coordinates(table1_phi(task)).size for task in TASKS}
    assert counts == {"repeat_copy": 64, "diagonal_copy": 36, "compose_t3": 36, "compose_t4": 36}
    for task in TASKS:
        assert used_coordinates(table1_phi(task)).size == exact_spectrum(table1_phi(task))["nonzero"].size
    # Diagonal copy keeps component k alive in slots k..s-1 (lag s-k).
    expected = sorted(slot * D + k for k in range(D) for slot in range(k, S))
    np.testing.assert_array_equal(used_coordinates(table1_phi("diagonal_copy")), expected)


@pytest.mark.parametrize("task", TASKS)
def test_algorithm1_recovers_the_wave_structure(task):
    Phi = table1_phi(task)
    coords = used_coordinates(Phi)
    weights = wave_network(task, extra=EXTRA)
    basis = variable_memory_basis(weights, S, D, coords=coords)
    assert basis.Psi.shape == (S * D + EXTRA, coords.size) and basis.n_memory == coords.size
    assert basis.Psi_pinv.shape == (coords.size, S * D + EXTRA)
    np.testing.assert_allclose(np.linalg.norm(basis.Psi, axis=0), 1.0)
    M = weights_in_basis(basis, weights["W_hh"])
    np.testing.assert_array_equal(np.abs(M) > 0.5, Phi[np.ix_(coords, coords)] != 0)


def test_all_coordinates_suffice_only_for_repeat_copy():
    basis = variable_memory_basis(wave_network("repeat_copy", extra=EXTRA), S, D)
    np.testing.assert_allclose(weights_in_basis(basis, wave_network("repeat_copy", extra=EXTRA)["W_hh"]),
                               table1_phi("repeat_copy"), atol=1e-9)
    weights = wave_network("diagonal_copy", extra=EXTRA)
    M = weights_in_basis(variable_memory_basis(weights, S, D), weights["W_hh"])
    assert not np.array_equal(np.abs(M) > 0.5, table1_phi("diagonal_copy") != 0)


def test_memory_frames_travel_from_newest_to_oldest():
    weights = wave_network("repeat_copy", extra=EXTRA, seed=1)
    basis = variable_memory_basis(weights, S, D)
    u = np.random.default_rng(2).choice([-1.0, 1.0], D)
    inputs = np.zeros((2 * S + 1, D))
    inputs[0] = 1e-3 * u  # tiny: the tanh network stays linear
    frames = memory_frames(basis, simulate(weights, inputs), S, D)
    assert frames.shape == (2 * S + 1, S, D)
    for t, frame in enumerate(frames):
        slot = (S - 1 - t) % S  # newest slot at the first step, wrapping round through the boundary
        assert np.argmax(np.abs(frame).sum(axis=1)) == slot
        np.testing.assert_array_equal(np.sign(frame[slot] - frame.mean()), u)
        np.testing.assert_allclose([frame.mean(), frame.std()], [0.0, 1.0], atol=1e-12)


def test_memory_frames_show_the_digit_glyph():
    weights = wave_network("repeat_copy", extra=EXTRA, seed=3)
    basis = variable_memory_basis(weights, S, D)
    glyphs = digit_frames("315")
    frames = memory_frames(basis, simulate(weights, 1e-3 * glyphs), S, D)
    # After each digit's 8 rows, slot i (oldest first) holds row i of the glyph, added (the network is
    # linear at this scale) to what the repeat-copy boundary recirculates: the earlier digits.
    expected = np.cumsum(glyphs.reshape(3, S, D), axis=0)
    for k in range(3):
        r = np.corrcoef(frames[8 * k + 7].ravel(), expected[k].ravel())[0, 1]
        assert r > 0.999


def test_memory_frames_with_restricted_coordinates():
    Phi = table1_phi("compose_t3")
    weights = wave_network("compose_t3", extra=EXTRA)
    basis = variable_memory_basis(weights, S, D, coords=used_coordinates(Phi))
    inputs = np.zeros((3, D))
    inputs[0] = 1e-3
    frames = memory_frames(basis, simulate(weights, inputs), S, D)
    unused = np.setdiff1d(np.arange(S * D), used_coordinates(Phi))
    assert np.isnan(frames.reshape(3, -1)[:, unused]).all()
    np.testing.assert_allclose(np.nanstd(frames.reshape(3, -1), axis=1), 1.0)


def test_pca_columns_complete_the_basis():
    rng = np.random.default_rng(4)
    H, s, d = 20, 2, 3
    weights = {"W_ih": rng.standard_normal((H, d)), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
               "W_r": rng.standard_normal((d, H)), "b": 0.1 * rng.standard_normal(H)}
    states = simulate(weights, rng.choice([-1.0, 1.0], (200, d)))
    basis = variable_memory_basis(weights, s, d, trajectory=states, n_pca=5)
    assert basis.Psi.shape == (H, s * d + 5) and basis.n_memory == s * d
    memory, pcs = basis.Psi[:, :s * d], basis.Psi[:, s * d:]
    np.testing.assert_allclose(pcs.T @ pcs, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(memory.T @ pcs, 0.0, atol=1e-10)
    variance = basis.info["pca_variance"]
    assert np.all(np.diff(variance) <= 0) and 0 < variance.sum() <= 1
    assert project_states(basis, states).shape == (200, s * d + 5)


def test_simulate_matches_torch_rnn():
    rng = np.random.default_rng(5)
    H, d = 12, 4
    weights = {"W_ih": rng.standard_normal((H, d)), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
               "W_r": rng.standard_normal((d, H)), "b": rng.standard_normal(H)}
    inputs = rng.choice([-1.0, 1.0], (15, d))
    rnn = torch.nn.RNN(d, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(weights["W_ih"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(weights["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(weights["b"]))
        rnn.bias_hh_l0.zero_()
        expected = rnn(torch.from_numpy(inputs))[0].numpy()
    np.testing.assert_allclose(simulate(weights, inputs), expected, atol=1e-12)


def test_digit_frames():
    x = digit_frames("315")
    assert x.shape == (24, 8) and set(np.unique(x)) == {-1.0, 1.0}
    glyphs = digit_frames("0123456789").reshape(10, 64)
    assert len({g.tobytes() for g in glyphs}) == 10
    np.testing.assert_array_equal(x[8:16], digit_frames("1"))


def test_bad_arguments():
    weights = wave_network("repeat_copy", extra=EXTRA)
    with pytest.raises(ValueError, match="digits"):
        digit_frames("3a")
    with pytest.raises(ValueError, match="d = 8"):
        digit_frames("3", d=5)
    with pytest.raises(ValueError, match="coords"):
        variable_memory_basis(weights, S, D, coords=np.array([0, 64]))
    with pytest.raises(ValueError, match="W_r"):
        variable_memory_basis(weights, S, 4)
    with pytest.raises(ValueError, match="n_pca"):
        variable_memory_basis(weights, S, D, trajectory=np.zeros((5, S * D + EXTRA)), n_pca=6)
    with pytest.raises(ValueError, match="one nonzero"):
        used_coordinates(np.ones((3, 3)))
    with pytest.raises(ValueError, match="inputs"):
        simulate(weights, np.zeros((3, D + 1)))
    basis = variable_memory_basis(weights, S, D)
    with pytest.raises(ValueError, match="s\\*d"):
        memory_frames(basis, np.zeros((2, S * D + EXTRA)), 4, D)
    with pytest.raises(ValueError, match="W_hh"):
        weights_in_basis(basis, np.eye(3))


def test_the_transient_step_removes_decaying_directions():
    """A wave network whose readout also reads a decaying direction (|λ| = 0.5): the paper's step removes it
    and recovers the clean network's basis; the public code's (keep) does not."""
    task = "repeat_copy"
    clean = wave_network(task, extra=EXTRA)
    H = S * D + EXTRA
    P = random_basis(H, np.random.default_rng(0), kind="orthogonal")  # the basis of wave_network(task)
    A = np.zeros((H, H))
    A[:S * D, :S * D] = table1_phi(task)
    A[S * D:, S * D:] = 0.5 * np.eye(EXTRA)
    extra = P.T[S * D:S * D + D]
    noisy = {"W_ih": clean["W_ih"], "W_hh": P @ A @ P.T, "W_r": clean["W_r"] + 0.3 * extra}
    want = variable_memory_basis(clean, S, D, transients="keep").Psi
    np.testing.assert_allclose(variable_memory_basis(noisy, S, D).Psi, want, atol=1e-9)
    assert np.abs(variable_memory_basis(noisy, S, D, transients="keep").Psi - want).max() > 0.1
    with pytest.raises(ValueError, match="transients"):
        variable_memory_basis(clean, S, D, transients="drop")


def test_the_printed_formula_read_with_its_own_index():
    """Algorithm 1 prints Ψ_k ← (W_hh^T)^k W_r^+ (slot k, 1 = oldest) and Ψ_s ← W_r^+. On an orthogonal repeat-copy
    wave network W^T = W^-1 and W^s = I on the memory, so (W^T)^k = W^(s-k): the same basis as the forward reading,
    and both recover Φ. The printed reading fails on a compose task (Φ not orthogonal) and in a non-orthogonal basis,
    where the forward one recovers Φ's pattern."""
    weights = wave_network("repeat_copy", extra=EXTRA)
    W, U = weights["W_hh"], np.linalg.pinv(weights["W_r"])
    blocks = [np.linalg.matrix_power(W.T, k) @ U for k in range(1, S)] + [U]  # slot k = 1..s, the paper's index
    literal = np.concatenate(blocks, axis=1)
    np.testing.assert_allclose(np.linalg.pinv(literal) @ W @ literal, table1_phi("repeat_copy"), atol=1e-9)
    printed = variable_memory_basis(weights, S, D, transients="keep", powers="printed")
    np.testing.assert_allclose(printed.Psi, literal, atol=1e-12)
    np.testing.assert_allclose(printed.Psi, variable_memory_basis(weights, S, D, transients="keep").Psi, atol=1e-9)
    for task, basis in (("repeat_copy", "orthogonal"), ("diagonal_copy", "orthogonal"), ("repeat_copy", "gaussian")):
        check = slot_reading_check(task, basis)
        assert check["forward"][0] < 1e-9 and check["forward"][1] == check["forward"][2]
        if (task, basis) != ("repeat_copy", "orthogonal"):
            assert check["printed"][0] > 0.5
    # rank lost: in an orthogonal basis the printed blocks are that basis times (Φ^T)^k e_newest, so their rank is
    # that of the standard basis's blocks (normalising columns changes no rank)
    Phi, newest = table1_phi("diagonal_copy"), np.eye(S * D)[:, (S - 1) * D:]
    standard = np.hstack([np.linalg.matrix_power(Phi.T, k) @ newest for k in range(1, S)] + [newest])
    rank = np.linalg.matrix_rank(standard[:, used_coordinates(Phi)])
    assert rank < 36 and slot_reading_check("diagonal_copy", "orthogonal")["printed"][1:] == (rank, 36)
    for task in TABLE1_RULES:  # the transient step (28 directions off Φ's cycles on T2-T4) changes no verdict
        for basis in ("orthogonal", "gaussian"):
            kept, removed = (slot_reading_check(task, basis, transients=t) for t in ("keep", "remove"))
            for powers in SLOT_POWERS:
                assert (kept[powers][0] < 1e-9) == (removed[powers][0] < 1e-9)
                assert kept[powers][1:] == removed[powers][1:]
    with pytest.raises(ValueError, match="powers"):
        variable_memory_basis(weights, S, D, powers="transpose")


def test_memory_gains_are_ratios_of_column_norms_on_the_band():
    """A wave network whose slots are stretched by 2 per step: Ψ⁺ W Ψ keeps Φ's pattern, the band entries are 2
    (the ratio of the older column's norm to the newer one's) and the boundary 2^-(s-1) (times Φ's sign; here
    the boundary negates, y(t) = -u(t-s))."""
    H = S * D
    P = random_basis(H, np.random.default_rng(6), kind="orthogonal")
    scale = np.repeat(2.0 ** (S - 1 - np.arange(S)), D)  # slot i (0 = oldest) has norm 2^(s-1-i)
    Phi = table1_phi("repeat_copy")
    Phi[(S - 1) * D:] *= -1
    A = np.diag(scale) @ Phi @ np.diag(1 / scale)
    newest = slice((S - 1) * D, S * D)
    weights = {"W_ih": P[:, newest], "W_hh": P @ A @ P.T, "W_r": P.T[newest]}
    gains = memory_gains(variable_memory_basis(weights, S, D, transients="keep"), weights["W_hh"], Phi, S, D)
    assert gains.band.size == (S - 1) * D and gains.boundary.size == D
    np.testing.assert_allclose(gains.band, 2.0)
    np.testing.assert_allclose(gains.boundary, 2.0 ** -(S - 1))
    assert gains.off.max() < 1e-9 and gains.ratio_gap < 1e-9


def test_pca_variance_is_the_fraction_of_residual_variance():
    """Singular values instead of their squares would misreport how much of the residual each PCA column explains."""
    rng = np.random.default_rng(4)
    H, s, d = 20, 2, 3
    w = {"W_ih": rng.standard_normal((H, d)), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
         "W_r": rng.standard_normal((d, H)), "b": 0.1 * rng.standard_normal(H)}
    X = simulate(w, rng.choice([-1.0, 1.0], (200, d)))
    basis = variable_memory_basis(w, s, d, trajectory=X, n_pca=3)
    Psi = basis.Psi[:, :s * d]
    R = X - X @ np.linalg.pinv(Psi).T @ Psi.T
    R = R - R.mean(0)
    pcs = basis.Psi[:, s * d:]
    np.testing.assert_allclose(basis.info["pca_variance"], ((R @ pcs) ** 2).sum(0) / (R ** 2).sum())


def test_transient_threshold_is_strict():
    """An eigenvalue exactly at transient_below (0.9) is kept as memory; only |λ| strictly below it is removed."""
    np.testing.assert_array_equal(transient_projector(np.diag([0.9, 1.0]), 0.9), np.zeros((2, 2)))
    np.testing.assert_allclose(transient_projector(np.diag([0.89, 1.0]), 0.9), np.diag([1.0, 0.0]), atol=1e-15)


def test_the_transient_step_removes_generalised_eigenvectors_of_a_defective_matrix():
    """A nilpotent Jordan block (what an exact compose-task wave does off Φ's cycles) has one eigenvector but decays
    along all of its directions: the projector spans them all, not the one eigenvector ``eig`` finds, and on the exact
    T2–T4 networks its rank is the number of coordinates off Φ's cycles (28 of 64), on repeat copy 0."""
    Q = random_basis(4, np.random.default_rng(1), kind="orthogonal")
    jordan = np.diag([1.0, 1.0, 0.0], k=1)
    jordan[3, 3] = -1.0  # a kept direction beside the block
    P = transient_projector(Q @ jordan @ Q.T)
    np.testing.assert_allclose(P, Q[:, :3] @ Q[:, :3].T, atol=1e-12)
    for task in TABLE1_RULES:
        weights = wave_network(task)
        used = used_coordinates(table1_phi(task))
        assert np.linalg.matrix_rank(transient_projector(weights["W_hh"])) == S * D - used.size
        assert (used.size == S * D) == (task == "repeat_copy")
