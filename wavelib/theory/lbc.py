"""Traveling-wave memory with a linear boundary condition (LBC, Eq. 6-7) and its spectrum.

The flattened substrate has ``n = s*d`` coordinates, ``flat = slot * d + comp``, slot 0 the oldest and
slot ``s-1`` the newest (the start boundary). ``F`` (s*d, d) is the linear HDS of
:mod:`wavelib.tasks.linear_hds`. A basis ``Psi`` (n, n) holds the basis vectors as columns; the
covectors are the rows of ``inv(Psi)``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _check_F(F: np.ndarray, s: int, d: int) -> np.ndarray:
    if int(s) != s or int(d) != d or s < 1 or d < 1:
        raise ValueError(f"s and d must be positive integers, got s={s}, d={d}")
    F = np.asarray(F, dtype=float)
    if F.shape != (s * d, d):
        raise ValueError(f"F must have shape (s*d, d) = {(s * d, d)}, got {F.shape}")
    return F


def shift_part(s: int, d: int) -> np.ndarray:
    """The wave part of Phi, (s*d, s*d): ``[i, i+d] = 1`` for ``i < (s-1)d``, boundary rows zero."""
    _check_F(np.zeros((s * d, d)), s, d)
    return np.eye(s * d, k=d)


def wave_operator(F: np.ndarray, s: int, d: int) -> np.ndarray:
    """Phi of Eq. 6 in the standard basis, (s*d, s*d): the shift plus the boundary rows ``F.T``."""
    F = _check_F(F, s, d)
    Phi = shift_part(s, d)
    Phi[(s - 1) * d:] = F.T
    return Phi


def random_basis(n: int, rng: np.random.Generator, kind: str = "gaussian") -> np.ndarray:
    """An invertible basis (n, n), columns = basis vectors.

    ``"gaussian"``: entries N(0, 1/n); ``"orthogonal"``: Q of the QR of a gaussian matrix, with the
    signs fixed so that ``diag(R) > 0`` (Haar distributed).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    G = rng.standard_normal((n, n)) / np.sqrt(n)
    if kind == "gaussian":
        return G
    if kind == "orthogonal":
        Q, R = np.linalg.qr(G)
        return Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    raise ValueError(f"kind must be 'gaussian' or 'orthogonal', got {kind!r}")


def embedded_wave(Phi: np.ndarray, s: int, d: int, P: np.ndarray, P_inv: np.ndarray) -> dict[str, np.ndarray]:
    """The wave ``Phi`` (s*d, s*d) held in the first s*d coordinates of the basis ``P`` (H, H), H >= s*d, with
    ``P_inv`` its inverse (``P.T`` for an orthogonal one): ``W_hh = P blockdiag(Phi, 0) P_inv`` (H, H), ``W_in``
    the columns of ``P`` of the newest slot (H, d), where inputs are written, and ``W_r`` the matching rows of
    ``P_inv`` (d, H), which read it (Eq. 7)."""
    n = s * d
    H = P.shape[0]
    if Phi.shape != (n, n) or P.shape != (H, H) or P_inv.shape != (H, H) or H < n:
        raise ValueError(f"need Phi ({n}, {n}) and P, P_inv (H, H) with H >= {n}, got {Phi.shape}, {P.shape}, "
                         f"{P_inv.shape}")
    block = np.zeros((H, H))
    block[:n, :n] = Phi
    newest = slice((s - 1) * d, n)
    return {"W_hh": P @ block @ P_inv, "W_in": P[:, newest].copy(), "W_r": P_inv[newest].copy()}


def in_basis(M: np.ndarray, Psi: np.ndarray) -> np.ndarray:
    """``Psi @ M @ inv(Psi)``: the operator ``M`` (n, n) written in the basis ``Psi`` (n, n)."""
    M = np.asarray(M, dtype=float)
    Psi = np.asarray(Psi, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or Psi.shape != M.shape:
        raise ValueError(f"M and Psi must be square matrices of the same shape, got {M.shape} and {Psi.shape}")
    return np.linalg.solve(Psi.T, (Psi @ M).T).T


def _lbc_parts(F: np.ndarray, u: np.ndarray, Psi: np.ndarray | None):
    u = np.asarray(u, dtype=float)
    if u.ndim not in (2, 3):
        raise ValueError(f"u must have shape (s, d) or (B, s, d), got {u.shape}")
    s, d = u.shape[-2:]
    n = s * d
    Phi = wave_operator(F, s, d)
    Psi = np.eye(n) if Psi is None else np.asarray(Psi, dtype=float)
    if Psi.shape != (n, n):
        raise ValueError(f"Psi must have shape (s*d, s*d) = {(n, n)}, got {Psi.shape}")
    newest = slice((s - 1) * d, n)
    readout = np.linalg.solve(Psi, np.eye(n))[newest]
    return u.reshape(-1, s, d), Phi, Psi, Psi[:, newest], readout


def _closed_loop(h: np.ndarray, Phi_Psi: np.ndarray, readout: np.ndarray, steps: int) -> np.ndarray:
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    out = np.empty((h.shape[0], steps, readout.shape[0]))
    for t in range(steps):
        h = h @ Phi_Psi.T
        out[:, t] = h @ readout.T
    return out


def lbc_rollout(F: np.ndarray, u: np.ndarray, steps: int, Psi: np.ndarray | None = None) -> np.ndarray:
    """TWM with LBC in basis ``Psi`` (identity if None): u (s, d) or (B, s, d) -> y (steps, d) or (B, steps, d).

    Input phase (t = 1..s): ``h(t) = S_Psi h(t-1) + Psi_s u(t)`` from ``h(0) = 0`` (the boundary is driven by
    the input, Eq. 1); closed loop: ``h(t) = Phi_Psi h(t-1)``, ``y(t) = Psi_s^* h(t)`` (Eq. 7), where
    ``Psi_s`` are the basis vectors and ``Psi_s^*`` the covectors of the newest slot.
    """
    u3, Phi, Psi, write, readout = _lbc_parts(F, u, Psi)
    s, d = u3.shape[1:]
    S_Psi = in_basis(shift_part(s, d), Psi)
    h = np.zeros((u3.shape[0], s * d))
    for t in range(s):
        h = h @ S_Psi.T + u3[:, t] @ write.T
    y = _closed_loop(h, in_basis(Phi, Psi), readout, steps)
    return y if np.ndim(u) == 3 else y[0]


def polluted_rollout(F: np.ndarray, u: np.ndarray, steps: int, Psi: np.ndarray | None = None) -> np.ndarray:
    """As :func:`lbc_rollout`, but with one recurrent matrix ``W_hh = Phi_Psi`` in the input phase too
    (an Elman RNN): ``h(t) = Phi_Psi h(t-1) + Psi_s u(t)``. The boundary then writes ``f`` of a half-filled
    substrate into the newest slot while inputs arrive (Appendix A.6)."""
    u3, Phi, Psi, write, readout = _lbc_parts(F, u, Psi)
    s, d = u3.shape[1:]
    Phi_Psi = in_basis(Phi, Psi)
    h = np.zeros((u3.shape[0], s * d))
    for t in range(s):
        h = h @ Phi_Psi.T + u3[:, t] @ write.T
    y = _closed_loop(h, Phi_Psi, readout, steps)
    return y if np.ndim(u) == 3 else y[0]


def exact_spectrum(Phi: np.ndarray) -> dict:
    """Exact eigenvalues of a signed functional-graph matrix (exactly one ±1 per row, zeros elsewhere).

    Row ``i`` reads column ``sigma(i)``. Each cycle of ``i -> sigma(i)`` of length ``L`` and sign product
    ``p`` contributes the ``L`` roots of ``lambda**L = p``; every other eigenvalue is exactly 0 (the
    tree parts are nilpotent). Returns ``{"cycles": [(L, p), ...], "nonzero": complex (m,), "n_zero": int}``.
    """
    Phi = np.asarray(Phi, dtype=float)
    if Phi.ndim != 2 or Phi.shape[0] != Phi.shape[1]:
        raise ValueError(f"Phi must be a square matrix, got {Phi.shape}")
    nz = Phi != 0
    if not (nz.sum(axis=1) == 1).all() or not np.isin(Phi[nz], (-1.0, 1.0)).all():
        raise ValueError("Phi must have exactly one entry +1 or -1 in every row and zeros elsewhere")
    n = Phi.shape[0]
    sigma = nz.argmax(axis=1)
    sign = Phi[np.arange(n), sigma]
    state = np.zeros(n, dtype=int)  # 0 unvisited, 1 on the current path, 2 done
    cycles: list[tuple[int, int]] = []
    for start in range(n):
        path = []
        i = start
        while state[i] == 0:
            state[i] = 1
            path.append(i)
            i = sigma[i]
        if state[i] == 1:
            cyc = path[path.index(i):]
            cycles.append((len(cyc), int(np.prod(sign[cyc]))))
        state[path] = 2
    roots = [np.exp(1j * np.pi * (2 * np.arange(L) + (p < 0)) / L) for L, p in cycles]
    nonzero = np.concatenate(roots) if roots else np.zeros(0, dtype=complex)
    return {"cycles": cycles, "nonzero": nonzero, "n_zero": n - nonzero.size}


def unit_circle_eigs(M: np.ndarray, tol: float = 0.5) -> np.ndarray:
    """Numerical eigenvalues of ``M`` with ``|lambda| > tol``.

    Zero eigenvalues in Jordan blocks of size ``k`` come out of ``eigvals`` with ``|lambda| ~ eps**(1/k)``
    (about 1e-2 for the Table 1 operators), hence a threshold well above them.
    """
    eigs = np.linalg.eigvals(np.asarray(M, dtype=float))
    return eigs[np.abs(eigs) > tol]


def angle_counts(eigs: np.ndarray, decimals: int = 6) -> dict[float, int]:
    """Multiplicity of each complex argument (radians in (-pi, pi], rounded to ``decimals``)."""
    ang = np.round(np.angle(np.asarray(eigs, dtype=complex)), decimals)
    ang[ang <= np.round(-np.pi, decimals)] = np.round(np.pi, decimals)
    values, counts = np.unique(ang + 0.0, return_counts=True)
    return {float(a): int(c) for a, c in zip(values, counts)}


def match_eigenvalues(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """|a_i - b_pi(i)| under the optimal one-to-one matching pi (Hungarian algorithm) of two eigenvalue
    sets of the same size, in the order of ``a``; None when the sizes differ (no matching exists)."""
    a, b = np.asarray(a, dtype=complex), np.asarray(b, dtype=complex)
    if a.shape != b.shape or a.ndim != 1:
        return None
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols]
