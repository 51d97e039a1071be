"""Chapter 1 (TWM theory): the gradient argument of Eqs. 10–17 as a stored sweep.

For each input amplitude, each history length s and each of ``n_networks`` seeds, three tanh RNNs of
``hidden`` units: a random one (PyTorch's default init), one whose W_hh is the repeat-copy wave operator Φ
in a random orthogonal basis, and a static "bump" control whose W_hh projects onto the input subspace (it
adds every input in place). We record ||∂y(s+1)/∂x(1)||_F / sqrt(d), the sensitivity of the first
closed-loop output to the first input (1 = passed on unchanged, as by the identity map), which Eq. 14
bounds by a power of μ without waves and Eq. 16 with no power of μ on its μd term with them. Every (s, network)
unit draws from its own streams ``[seed, ...]`` (the same input signs at every amplitude), so a resumed run equals an
uninterrupted one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..presets import Config, ConfigError, require_positive
from ..registry import Chapter, Experiment
from ..store import Result, RunContext
from ..tasks.linear_hds import task_operator
from ..theory.gradients import (
    bump_tanh_rnn,
    decay_rate,
    input_sensitivity,
    random_tanh_rnn,
    sensitivity_bound,
    spectral_norm,
    spectral_radius,
    wave_tanh_rnn,
)


@dataclasses.dataclass(frozen=True)
class TWMTheoryConfig(Config):
    """Knobs of Chapter 1."""

    s_max: int = 32  #: largest history length s of the gradient sweep (steps, >= 2 to fit a rate)
    d: int = 2  #: state dimension of the HDS in the gradient sweep
    hidden: int = 64  #: RNN hidden units H (>= s_max * d, so the wave fits)
    n_networks: int = 5  #: random networks (seeds) per s
    n_samples: int = 32  #: random input sequences per network
    #: input amplitudes: 0.05 keeps tanh near its linear regime (where Eq. 15's J(σ) is about 1), 1 is the ±1 bits
    #: of Table 1
    amplitudes: tuple[float, ...] = (0.05, 1.0)
    lbc_steps: int = 100  #: closed-loop steps when checking the LBC rollouts

    def validate(self) -> None:
        require_positive(s_max=self.s_max, d=self.d, hidden=self.hidden, n_networks=self.n_networks,
                         n_samples=self.n_samples, lbc_steps=self.lbc_steps)
        if self.s_max < 2:
            raise ConfigError(f"s_max must be >= 2 to fit a decay rate, got {self.s_max}")
        if not self.amplitudes:
            raise ConfigError("amplitudes must list at least one input amplitude")
        require_positive(**{f"amplitudes[{i}]": a for i, a in enumerate(self.amplitudes)})
        if self.hidden < self.s_max * self.d:
            raise ConfigError(f"hidden ({self.hidden}) must be >= s_max * d ({self.s_max * self.d}) "
                              "so the wave substrate fits in the RNN")


PROFILE_STREAM = 1_000_003  # stream id of the per-input profile at s_max
BUMP_STREAM = 1_000_033  # stream id of the bump networks' bases
NETWORKS = ("random", "wave", "bump")

PRESETS = {
    "smoke": TWMTheoryConfig(s_max=8, d=2, hidden=16, n_networks=2, n_samples=8, lbc_steps=40),
    "cpu": TWMTheoryConfig(s_max=32, d=2, hidden=64, n_networks=5, n_samples=32, lbc_steps=100),
    # Table 1 sizes (d = 8, H = 128) and its 20 seeds; s up to H / d = 16.
    "paper": TWMTheoryConfig(s_max=16, d=8, hidden=128, n_networks=20, n_samples=64, lbc_steps=200),
}


def _sensitivity(net: dict[str, np.ndarray], s: int, config: TWMTheoryConfig, stream: list[int]) -> np.ndarray:
    """||∂y(s+1)/∂x(i)||_F / sqrt(d) for i = 1..s at every amplitude, (A, s); the same input signs at each."""
    return np.stack([input_sensitivity(net, s, a, config.n_samples, np.random.default_rng(stream))
                     for a in config.amplitudes]) / np.sqrt(config.d)


def gradient_sweep(config: TWMTheoryConfig, ctx: RunContext) -> Result:
    """||∂y(s+1)/∂x(i)|| for random, wave and bump tanh RNNs, s = 1..s_max (see module docstring)."""
    s_values = np.arange(1, config.s_max + 1)
    amplitudes = np.asarray(config.amplitudes, dtype=float)
    shape = (len(amplitudes), len(s_values), config.n_networks)
    state = ctx.checkpoint.load() or {"next": 0, **{f"{name}_x1": np.zeros(shape) for name in NETWORKS}}
    random_nets = [random_tanh_rnn(config.hidden, config.d, np.random.default_rng([ctx.seed, k]))
                   for k in range(config.n_networks)]
    bump_nets = [bump_tanh_rnn(config.d, config.hidden, np.random.default_rng([ctx.seed, BUMP_STREAM, k]))
                 for k in range(config.n_networks)]
    for i in ctx.progress(range(state["next"], len(s_values)), total=len(s_values), initial=state["next"]):
        s = int(s_values[i])
        operator = task_operator("repeat_copy", s, config.d)
        for k in range(config.n_networks):
            wave_net = wave_tanh_rnn(operator, s, config.d, config.hidden, np.random.default_rng([ctx.seed, s, k]))
            nets = {"random": random_nets[k], "wave": wave_net, "bump": bump_nets[k]}
            for j, name in enumerate(NETWORKS):
                state[f"{name}_x1"][:, i, k] = _sensitivity(nets[name], s, config, [ctx.seed, s, k, j])[:, 0]
        state["next"] = i + 1
        ctx.checkpoint.save(state)

    s_max = config.s_max
    last = {"random": random_nets[0], "bump": bump_nets[0],
            "wave": wave_tanh_rnn(task_operator("repeat_copy", s_max, config.d), s_max, config.d, config.hidden,
                                  np.random.default_rng([ctx.seed, s_max, 0]))}
    profiles = {f"{name}_profile": _sensitivity(last[name], s_max, config, [ctx.seed, PROFILE_STREAM])
                for name in NETWORKS}
    radii = np.array([spectral_radius(net["W_hh"]) for net in random_nets])
    norms = np.array([spectral_norm(net["W_hh"]) for net in random_nets])
    bound = np.stack([sensitivity_bound(net, s_values) for net in random_nets], axis=1)  # (S, N)
    # x1[a, s-1, k] is the sensitivity at distance s; reversed, it is ordered by input index as decay_rate expects.
    rates = {name: np.array([[decay_rate(state[f"{name}_x1"][a, ::-1, k]) for k in range(config.n_networks)]
                             for a in range(len(amplitudes))]) for name in ("random", "wave")}  # (A, N)
    metrics = {"random_spectral_radius_mean": float(radii.mean()), "random_norm_mean": float(norms.mean())}
    for a, amplitude in enumerate(amplitudes):
        wave_mean, bump_mean = state["wave_x1"][a].mean(axis=1), state["bump_x1"][a].mean(axis=1)
        metrics[f"amplitude={amplitude:g}"] = {
            "random_decay_rate_mean": float(rates["random"][a].mean()),
            "random_decay_rate_std": float(rates["random"][a].std()),
            "random_x1_at_s_max": float(state["random_x1"][a, -1].mean()),
            "wave_x1_min": float(wave_mean.min()),
            "wave_x1_max": float(wave_mean.max()),
            "wave_decay_rate_mean": float(rates["wave"][a].mean()),
            "bump_x1_min": float(bump_mean.min()),
            "bump_x1_max": float(bump_mean.max()),
        }
    history = {"s": s_values, "amplitudes": amplitudes,
               **{f"{name}_x1": state[f"{name}_x1"] for name in NETWORKS},
               "random_decay_rate": rates["random"], "wave_decay_rate": rates["wave"],
               "random_spectral_radius": radii, "random_norm": norms, "random_bound": bound, **profiles}
    return Result(metrics=metrics, history=history)


CHAPTER = Chapter(
    number=1,
    name="twm_theory",
    title="Traveling-wave working memory",
    notebook="book/01_twm_theory.ipynb",
    reproduces="ICML 2024 §2–3 and Appendix A (TWM theory); ICLR 2024 Fig. 1 (wave vs bump)",
    presets=PRESETS,
    experiments=(
        Experiment("gradient_sweep", gradient_sweep,
                   "input sensitivity vs history length: random, wave and bump tanh RNNs", gpu_presets=(),
                   cpu_only=True),
    ),
)
