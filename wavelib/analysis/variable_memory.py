"""The variable-memory basis of a trained Elman RNN (ICML 2024 Algorithm 1) and the projections behind
Figs. 3 and 4.

Substrate coordinates are flat, ``slot * d + comp``, slot 0 the oldest and slot ``s-1`` the newest.
Weights follow :func:`wavelib.analysis.fixed_points.unpack_weights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from wavelib.analysis.fixed_points import unpack_weights
from wavelib.tasks.linear_hds import check_sizes, task_operator
from wavelib.theory.lbc import embedded_wave, random_basis, wave_operator


@dataclass(frozen=True)
class VariableMemoryBasis:
    """``Psi`` (H, k): memory columns first (``n_memory`` of them, in ``coords`` order), then PCA
    columns; ``Psi_pinv`` (k, H) its pseudo-inverse.

    ``info``: ``"coords"`` (n_memory,) the flat coordinate of each memory column, ``"column_norms"``
    (n_memory,) their norms before normalisation, ``"pca_variance"`` (n_pca,) the fraction of the
    residual's variance along each PCA column (empty without a trajectory).
    """

    Psi: np.ndarray
    Psi_pinv: np.ndarray
    n_memory: int
    info: dict[str, np.ndarray]


TRANSIENTS = ("remove", "keep")  #: Algorithm 1's transient step: the paper's, or the public code's (skipped)
#: Algorithm 1's slot k (1 = oldest, s = newest): W_hh^(s-k) W_r^+ (carried forward, the book's and the public
#: code's), or the paper's printed (W_hh^T)^k W_r^+
SLOT_POWERS = ("forward", "printed")


def transient_projector(W_hh: np.ndarray, below: float = 0.9) -> np.ndarray:
    """The orthogonal projector (H, H) onto the invariant subspace of ``W_hh`` that belongs to its eigenvalues with
    ``|λ| < below``: the span of their eigenvectors, and of their generalised eigenvectors where ``W_hh`` is defective
    (an exact T2–T4 wave network, whose zero eigenvalue has Jordan blocks; there the eigenvectors that ``eig``
    returns are nearly parallel and do not span what decays). Its orthonormal basis is the leading columns of the
    real Schur form ordered by that test; zero where no eigenvalue passes it."""
    bound = float(below) ** 2
    _, Z, kept = scipy.linalg.schur(np.asarray(W_hh, dtype=float), output="real",
                                    sort=lambda re, im: re * re + im * im < bound)
    Q = Z[:, :kept]
    return Q @ Q.T


def used_coordinates(Phi: np.ndarray) -> np.ndarray:
    """Sorted flat coordinates (m,) on the cycles of the functional graph of ``Phi`` (n, n).

    Row ``i`` of ``Phi`` reads the single column ``sigma(i)`` where it is nonzero; the coordinates on
    cycles of ``sigma`` are the ones the wave keeps alive (the nonzero spectrum has one eigenvalue per
    such coordinate): all 64 for repeat copy, 36 for the other Table 1 tasks.
    """
    Phi = np.asarray(Phi, dtype=float)
    if Phi.ndim != 2 or Phi.shape[0] != Phi.shape[1]:
        raise ValueError(f"Phi must be a square matrix, got shape {Phi.shape}")
    nz = Phi != 0
    if not (nz.sum(axis=1) == 1).all():
        raise ValueError("Phi must have exactly one nonzero entry per row (use lbc.wave_operator)")
    sigma = nz.argmax(axis=1)
    image = np.arange(Phi.shape[0])
    for _ in range(Phi.shape[0]):  # after n steps every walk is on its cycle, and every cycle is covered
        image = sigma[image]
    return np.unique(image)


def variable_memory_basis(
    weights: Mapping[str, np.ndarray],
    s: int,
    d: int,
    coords: np.ndarray | None = None,
    trajectory: np.ndarray | None = None,
    n_pca: int = 10,
    transients: str = "remove",
    transient_below: float = 0.9,
    powers: str = "forward",
) -> VariableMemoryBasis:
    """Algorithm 1: a basis of the hidden space in which the stored variables sit slot by slot.

    ``U = pinv(W_r)`` (H, d); with ``powers="forward"`` slot ``i`` (0..s-1) gets the block ``W_hh^(s-1-i) U``
    (so slot ``s-1`` is ``U``): with column vectors (``h(t+1) = W_hh h(t)``, as everywhere here and in the
    public code) the variable stored ``k`` steps ago has been carried by ``W_hh^k``. ``powers="printed"``: the
    paper's Algorithm 1 as printed, with its own index, slot ``k`` (1..s-1, oldest first) ``(W_hh^T)^k U`` and
    slot ``s`` ``U``.
    ``transients="remove"`` (the paper): every block loses its components along the eigenvectors ``E`` of
    ``W_hh`` with ``|λ| < transient_below`` (``Ψ ← Ψ − E E^+ Ψ``; the paper writes λ(E) < 1, which would also
    remove the learned wave, whose eigenvalues sit just inside or outside the circle); ``"keep"``: the public
    code, which computes that step but does not use it. Every column is then scaled to unit L2 norm (zero
    columns stay zero); blocks are stacked in slot order into (H, s*d). ``coords`` (e.g.
    :func:`used_coordinates` of Phi) keeps only those flat coordinates. With ``trajectory`` (T, H), the
    ``n_pca`` principal directions of the centred residual ``h - Psi pinv(Psi) h`` are appended.
    """
    if transients not in TRANSIENTS:
        raise ValueError(f"unknown transients {transients!r}; choose one of {TRANSIENTS}")
    if powers not in SLOT_POWERS:
        raise ValueError(f"unknown powers {powers!r}; choose one of {SLOT_POWERS}")
    check_sizes(s, d)
    _, W_hh, W_r, _ = unpack_weights(weights)
    H = W_hh.shape[0]
    if W_r.shape[0] != d:
        raise ValueError(f"W_r must have d = {d} rows, got {W_r.shape}")
    U = np.linalg.pinv(W_r)
    if powers == "forward":
        blocks = [U]
        for _ in range(s - 1):
            blocks.append(W_hh @ blocks[-1])
        blocks = blocks[::-1]
    else:
        blocks = [np.linalg.matrix_power(W_hh.T, k) @ U for k in range(1, s)] + [U]
    Psi = np.concatenate(blocks, axis=1)
    if transients == "remove":
        Psi = Psi - transient_projector(W_hh, transient_below) @ Psi
    coords = np.arange(s * d) if coords is None else np.asarray(coords)
    if coords.ndim != 1 or coords.size == 0 or coords.dtype.kind not in "iu":
        raise ValueError(f"coords must be a non-empty 1-D integer array, got {coords!r}")
    if coords.min() < 0 or coords.max() >= s * d or np.unique(coords).size != coords.size:
        raise ValueError(f"coords must be distinct flat coordinates in 0..{s * d - 1}")
    Psi = Psi[:, coords]
    norms = np.linalg.norm(Psi, axis=0)
    Psi = Psi / np.where(norms > 0, norms, 1.0)
    variance = np.zeros(0)
    if trajectory is not None:
        X = np.asarray(trajectory, dtype=float)
        if X.ndim != 2 or X.shape[1] != H:
            raise ValueError(f"trajectory must have shape (T, H) with H = {H}, got {X.shape}")
        if int(n_pca) != n_pca or not 0 <= n_pca <= min(X.shape):
            raise ValueError(f"n_pca must be an integer in 0..min(T, H) = {min(X.shape)}, got {n_pca}")
        R = X - X @ np.linalg.pinv(Psi).T @ Psi.T
        R = R - R.mean(axis=0)
        _, sv, Vt = np.linalg.svd(R, full_matrices=False)
        total = float(sv @ sv)
        variance = sv[:n_pca] ** 2 / total if total > 0 else np.zeros(int(n_pca))
        Psi = np.concatenate([Psi, Vt[: int(n_pca)].T], axis=1)
    info = {"coords": coords, "column_norms": norms, "pca_variance": variance}
    return VariableMemoryBasis(Psi, np.linalg.pinv(Psi), coords.size, info)


def wave_network(task: str, s: int = 8, d: int = 8, basis: str = "orthogonal", extra: int = 0,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """An exact wave network of a Table 1 ``task`` (:func:`wavelib.theory.lbc.embedded_wave`, ``W_in`` as ``W_ih``)
    in a random basis ``P`` (:func:`wavelib.theory.lbc.random_basis` of kind ``basis``) of H = s*d + ``extra``
    units, with ``P_inv = inv(P)``: the input writes and the readout reads the newest slot."""
    P = random_basis(s * d + extra, np.random.default_rng(seed), kind=basis)
    wave = embedded_wave(wave_operator(task_operator(task, s, d), s, d), s, d, P, np.linalg.inv(P))
    return {"W_ih": wave["W_in"], "W_hh": wave["W_hh"], "W_r": wave["W_r"]}


def slot_reading_check(task: str, basis: str, s: int = 8, d: int = 8, seed: int = 0,
                       transients: str = "keep") -> dict[str, tuple[float, int, int]]:
    """Algorithm 1's two readings of the slot powers (:data:`SLOT_POWERS`) on an exact wave network of ``task``
    (:func:`wave_network`, H = s*d, in a ``basis`` of that kind; by default without the transient step, which on
    repeat copy has nothing to remove and on the compose tasks removes the coordinates off Φ's cycles):
    per reading, the largest |entry| of ``Ψ⁺ W_hh Ψ`` off Φ's support (0 where the basis recovers Φ's pattern),
    the rank of the memory columns and the number of coordinates Φ uses (full rank)."""
    weights = wave_network(task, s, d, basis=basis, seed=seed)
    Phi = wave_operator(task_operator(task, s, d), s, d)
    coords = used_coordinates(Phi)
    off = Phi[np.ix_(coords, coords)] == 0
    out = {}
    for powers in SLOT_POWERS:
        b = variable_memory_basis(weights, s, d, coords=coords, transients=transients, powers=powers)
        M = weights_in_basis(b, weights["W_hh"])
        out[powers] = (float(np.abs(M[off]).max()), int(np.linalg.matrix_rank(b.Psi)), coords.size)
    return out


def project_states(basis: VariableMemoryBasis, states: np.ndarray) -> np.ndarray:
    """Coordinates ``pinv(Psi) h_t`` (T, k) of hidden states (T, H)."""
    states = np.asarray(states, dtype=float)
    if states.ndim != 2 or states.shape[1] != basis.Psi.shape[0]:
        raise ValueError(f"states must have shape (T, H) with H = {basis.Psi.shape[0]}, got {states.shape}")
    return states @ basis.Psi_pinv.T


def memory_frames(basis: VariableMemoryBasis, states: np.ndarray, s: int, d: int) -> np.ndarray:
    """Fig. 3 frames (T, s, d): the memory coordinates of each state laid out as (slot, comp), z-scored per frame.

    Coordinates not in the basis (see ``coords``) are NaN and ignored by the z-score; a constant frame
    becomes all zeros.
    """
    check_sizes(s, d)
    coords = basis.info["coords"]
    if coords.max() >= s * d:
        raise ValueError(f"the basis has coordinates up to {coords.max()}, beyond s*d = {s * d}; pass its s and d")
    z = project_states(basis, states)[:, : basis.n_memory]
    frames = np.full((z.shape[0], s * d), np.nan)
    frames[:, coords] = z
    frames -= np.nanmean(frames, axis=1, keepdims=True)
    std = np.nanstd(frames, axis=1, keepdims=True)
    frames /= np.where(std > 0, std, 1.0)
    return frames.reshape(-1, s, d)


def weights_in_basis(basis: VariableMemoryBasis, W_hh: np.ndarray) -> np.ndarray:
    """Fig. 4: ``pinv(Psi) W_hh Psi`` (k, k), real since ``Psi`` is (the public code's Re(.), NOTES.md §1, is a
    no-op here)."""
    W_hh = np.asarray(W_hh, dtype=float)
    H = basis.Psi.shape[0]
    if W_hh.shape != (H, H):
        raise ValueError(f"W_hh must have shape (H, H) = {(H, H)}, got {W_hh.shape}")
    return basis.Psi_pinv @ W_hh @ basis.Psi


@dataclass(frozen=True)
class MemoryGains:
    """Fig. 4 read off: the memory block of ``Ψ⁺ W_hh Ψ`` on Φ's pattern. ``band``: the entries that carry a slot
    to the next older one; ``boundary``: the entries of the newest slot's rows on Φ's support, times Φ's sign
    (so +1 is Φ's own value); ``off``: |entries| off Φ's support; ``ratio_gap``: the largest difference between
    a band entry and the ratio of its two columns' norms before normalisation (row's over column's)."""

    band: np.ndarray
    boundary: np.ndarray
    off: np.ndarray
    ratio_gap: float


def memory_gains(basis: VariableMemoryBasis, W_hh: np.ndarray, Phi: np.ndarray, s: int, d: int) -> MemoryGains:
    """The :class:`MemoryGains` of ``W_hh`` (H, H) in ``basis`` against the task's ``Phi`` (s*d, s*d)."""
    check_sizes(s, d)
    coords = basis.info["coords"]
    M = weights_in_basis(basis, W_hh)[: basis.n_memory, : basis.n_memory]
    P = np.asarray(Phi, dtype=float)[np.ix_(coords, coords)]
    band = (coords[None, :] == coords[:, None] + d) & (coords[:, None] < (s - 1) * d)
    boundary = (P != 0) & ~band
    norms = basis.info["column_norms"]
    ratio = norms[:, None] / np.where(norms > 0, norms, 1.0)[None, :]
    return MemoryGains(band=M[band], boundary=(M * np.sign(P))[boundary], off=np.abs(M[P == 0]),
                       ratio_gap=float(np.abs(M[band] - ratio[band]).max()) if band.any() else 0.0)


_GLYPHS = {
    "0": ("..####..", ".##..##.", ".##.###.", ".###.##.", ".##..##.", ".##..##.", "..####..", "........"),
    "1": ("...##...", "..###...", "...##...", "...##...", "...##...", "...##...", ".######.", "........"),
    "2": ("..####..", ".##..##.", ".....##.", "....##..", "...##...", "..##....", ".######.", "........"),
    "3": ("..####..", ".##..##.", ".....##.", "...###..", ".....##.", ".##..##.", "..####..", "........"),
    "4": ("....##..", "...###..", "..####..", ".##.##..", ".######.", "....##..", "....##..", "........"),
    "5": (".######.", ".##.....", ".#####..", ".....##.", ".....##.", ".##..##.", "..####..", "........"),
    "6": ("...###..", "..##....", ".##.....", ".#####..", ".##..##.", ".##..##.", "..####..", "........"),
    "7": (".######.", ".....##.", "....##..", "...##...", "..##....", "..##....", "..##....", "........"),
    "8": ("..####..", ".##..##.", ".##..##.", "..####..", ".##..##.", ".##..##.", "..####..", "........"),
    "9": ("..####..", ".##..##.", ".##..##.", "..#####.", ".....##.", "....##..", "..###...", "........"),
}


def digit_frames(text: str, d: int = 8) -> np.ndarray:
    """The Fig. 3 input: digits of ``text`` as 8x8 glyphs, one glyph row per step, (8*len(text), 8) in {-1, +1}.

    A lit pixel is +1, background -1; each digit is 8 input steps of dimension ``d = 8``.
    """
    if d != 8:
        raise ValueError(f"the digit glyphs are 8 pixels wide; use d = 8, got d={d}")
    if not isinstance(text, str) or not text or not all(c in _GLYPHS for c in text):
        raise ValueError(f"text must be a non-empty string of digits 0-9, got {text!r}")
    rows = [row for c in text for row in _GLYPHS[c]]
    return np.array([[1.0 if p == "#" else -1.0 for p in row] for row in rows])


def simulate(weights: Mapping[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """States (T, H), float64, of ``h(t) = tanh(W_hh h(t-1) + W_ih u(t) + b)`` from ``h(0) = 0`` for inputs (T, d).

    Append zero rows to ``inputs`` for the closed-loop phase.
    """
    W_ih, W_hh, _, b = unpack_weights(weights)
    u = np.asarray(inputs, dtype=float)
    if u.ndim != 2 or u.shape[1] != W_ih.shape[1]:
        raise ValueError(f"inputs must have shape (T, d) with d = {W_ih.shape[1]}, got {u.shape}")
    drive = u @ W_ih.T + (0.0 if b is None else b)
    h = np.zeros(W_hh.shape[0])
    out = np.empty((u.shape[0], h.size))
    for t in range(u.shape[0]):
        h = np.tanh(W_hh @ h + drive[t])
        out[t] = h
    return out
