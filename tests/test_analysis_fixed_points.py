import numpy as np
import pytest

from wavelib.analysis.fixed_points import find_fixed_points, jacobian_at, linearisation, unpack_weights

H = 24


def planted(scale: float, seed: int = 0):
    """A tanh net with the fixed point h* planted by b = artanh(h*) - W_hh h*, and h*."""
    rng = np.random.default_rng(seed)
    W_hh = rng.standard_normal((H, H)) * scale / np.sqrt(H)
    h_star = rng.uniform(-0.8, 0.8, H)
    weights = {
        "W_ih": rng.standard_normal((H, 3)),
        "W_hh": W_hh,
        "W_r": rng.standard_normal((3, H)),
        "b": np.arctanh(h_star) - W_hh @ h_star,
    }
    return weights, h_star


def test_unique_fixed_point_is_found():
    weights, h_star = planted(0.3)  # ||W_hh|| < 1: a contraction, one fixed point
    points = find_fixed_points(weights)
    assert len(points) == 1
    np.testing.assert_allclose(points[0].h, h_star, atol=1e-8)
    assert points[0].q < 1e-20
    analytic = (1.0 - h_star**2)[:, None] * weights["W_hh"]
    np.testing.assert_allclose(points[0].jacobian, analytic, atol=1e-8)
    np.testing.assert_allclose(linearisation(weights), analytic, atol=1e-8)


def test_planted_point_among_several():
    weights, h_star = planted(3.0, seed=1)
    points = find_fixed_points(weights, starts=h_star[None] + 0.3, n_random=6)
    assert [p.q for p in points] == sorted(p.q for p in points)
    assert min(np.abs(p.h - h_star).max() for p in points) < 1e-8
    for i, p in enumerate(points):  # deduplicated
        assert all(np.abs(p.h - o.h).max() >= 1e-6 for o in points[i + 1:])


def test_jacobian_formula():
    weights, _ = planted(1.0, seed=2)
    h = np.random.default_rng(3).uniform(-1, 1, H)
    eps = 1e-6
    f = lambda x: np.tanh(weights["W_hh"] @ x + weights["b"])  # noqa: E731
    numeric = np.stack([(f(h + eps * e) - f(h - eps * e)) / (2 * eps) for e in np.eye(H)], axis=1)
    np.testing.assert_allclose(jacobian_at(weights, h), numeric, atol=1e-8)


def test_no_bias_gives_w_hh_exactly():
    weights, _ = planted(2.0)
    del weights["b"]
    np.testing.assert_array_equal(linearisation(weights), weights["W_hh"])
    np.testing.assert_array_equal(linearisation({**weights, "b": np.zeros(H)}), weights["W_hh"])


def test_bad_arguments():
    weights, _ = planted(0.3)
    with pytest.raises(ValueError, match="W_r"):
        unpack_weights({"W_ih": weights["W_ih"], "W_hh": weights["W_hh"]})
    with pytest.raises(ValueError, match="b must"):
        unpack_weights({**weights, "b": np.zeros(H + 1)})
    with pytest.raises(ValueError, match="W_ih"):
        unpack_weights({**weights, "W_ih": np.zeros((H + 1, 3))})
    with pytest.raises(ValueError, match="starts"):
        find_fixed_points(weights, starts=np.zeros((2, H + 1)))
    with pytest.raises(ValueError, match="h_star"):
        jacobian_at(weights, np.zeros(H + 1))
    with pytest.raises(ValueError, match="tol"):
        linearisation(weights, tol=0.0)


def test_extra_starts_are_searched():
    """Ignoring ``starts`` would miss fixed points that only a simulated trajectory's states lead to."""
    weights = {"W_ih": np.ones((2, 1)), "W_hh": 3 * np.eye(2), "W_r": np.ones((1, 2)), "b": np.zeros(2)}
    points = find_fixed_points(weights, starts=np.array([[0.9, 0.9]]), n_random=0)
    assert len(points) == 2 and any(p.h.min() > 0.9 for p in points)  # the origin and tanh(3h) = h near 0.995


def test_linearisation_refuses_a_slow_point(monkeypatch):
    """Without the q < tol check a slow point's Jacobian would silently stand in for the fixed point's in Table 1."""
    from wavelib.analysis import fixed_points
    weights, h_star = planted(0.5)
    slow = fixed_points.FixedPoint(h_star, 1e-3, np.eye(H))
    monkeypatch.setattr(fixed_points, "find_fixed_points", lambda *args, **kwargs: [slow])
    with pytest.raises(ValueError, match="no fixed point"):
        linearisation(weights)


def test_linearisation_passes_starts_on_and_takes_the_lowest_q(monkeypatch):
    """With a bias, the Jacobian is that of the fixed point of lowest q among what the search returns (sorted by q),
    searched from the caller's starts too."""
    from wavelib.analysis import fixed_points
    weights, h_star = planted(0.5)
    starts = np.full((1, H), 0.5)
    best = fixed_points.FixedPoint(h_star, 1e-25, np.full((H, H), 2.0))
    runner_up = fixed_points.FixedPoint(-h_star, 1e-12, np.full((H, H), 3.0))
    seen = {}

    def search(w, starts=None, **kwargs):
        seen["starts"] = starts
        return [best, runner_up]

    monkeypatch.setattr(fixed_points, "find_fixed_points", search)
    np.testing.assert_array_equal(linearisation(weights, starts=starts), best.jacobian)
    assert seen["starts"] is starts
