import numpy as np
import pytest

from wavelib.theory.hds import (
    TravelingWaveMemory,
    fibonacci_boundary,
    fibonacci_direct,
    hds_rollout,
)


def test_fibonacci_direct_textbook_values():
    seq = fibonacci_direct([[1], [1]], 10)
    assert [v[0] for v in seq] == [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]
    trib = fibonacci_direct([[0, 1], [0, 1], [1, 2]], 4)
    assert trib[3:] == [[1, 4], [2, 7], [4, 13], [7, 24]]


def test_hds_rollout_exact_big_integers():
    rng = np.random.default_rng(0)
    init = rng.integers(-5, 6, size=(3, 4)).tolist()
    arr = np.array(init, dtype=object)
    got = hds_rollout(fibonacci_boundary, arr, 300)
    want = fibonacci_direct(init, 300)
    assert got.shape == (303, 4)
    assert got.tolist() == want
    assert max(abs(v) for v in want[-1]) > 2**100  # beyond any float or int64
    assert all(type(v) is int for v in got[-1])


def test_traveling_wave_memory_reproduces_any_hds():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3 * 2, 2))

    def f(window):
        return np.tanh(window.reshape(-1) @ W)

    init = rng.standard_normal((3, 2))
    twm = TravelingWaveMemory(f, init)
    np.testing.assert_array_equal(twm.run(20), hds_rollout(f, init, 20)[3:])


def test_traveling_wave_memory_fibonacci_exact():
    init = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=object)
    twm = TravelingWaveMemory(fibonacci_boundary, init)
    assert twm.run(200).tolist() == fibonacci_direct(init.tolist(), 200)[4:]


def test_content_travels_from_newest_to_oldest_slot():
    init = np.arange(12.0).reshape(4, 3)
    twm = TravelingWaveMemory(lambda w: np.zeros(3), init, record=True)
    twm.run(5)
    hist = twm.history
    assert hist.shape == (6, 4, 3)
    for t in range(5):
        np.testing.assert_array_equal(hist[t + 1, :-1], hist[t, 1:])
    np.testing.assert_array_equal(hist[1, 0], init[1])
    np.testing.assert_array_equal(hist[4], 0)  # everything has left through the open end


def test_substrate_is_a_copy():
    twm = TravelingWaveMemory(fibonacci_boundary, np.ones((2, 2)))
    twm.substrate[:] = 99
    np.testing.assert_array_equal(twm.substrate, 1)
    assert twm.step().tolist() == [2.0, 2.0]


def test_errors():
    with pytest.raises(ValueError, match="record=True"):
        TravelingWaveMemory(fibonacci_boundary, np.ones((2, 2))).history
    with pytest.raises(ValueError):
        TravelingWaveMemory(fibonacci_boundary, np.ones(3))
    with pytest.raises(ValueError):
        hds_rollout(lambda w: np.zeros(5), np.ones((2, 2)), 1)
    with pytest.raises(ValueError):
        hds_rollout(fibonacci_boundary, np.ones((2, 2)), -1)
    with pytest.raises(ValueError):
        fibonacci_direct([[1], [1, 2]], 3)
