"""Chapter 1 (TWM theory): the gradient argument of Eqs. 10–17 as a stored sweep.

For each history length s and each of ``n_networks`` seeds, two tanh RNNs of ``hidden`` units:
a random one (PyTorch's default init) and one whose W_hh is the repeat-copy wave operator Φ in a
random orthogonal basis. We record ||∂y(s+1)/∂x(1)||_F / sqrt(d), the sensitivity of the first
closed-loop output to the first input (1 = passed on unchanged, as by the identity map), which Eq. 14
says decays like μ^s without waves and Eq. 16 says does not decay with them. Every (s, network)
unit draws from its own stream ``[seed, ...]``, so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..presets import Config, ConfigError, require_positive
from ..registry import Chapter, Experiment
from ..store import Result, RunContext
from ..tasks.linear_hds import task_operator
from ..theory.gradients import decay_rate, input_sensitivity, random_tanh_rnn, spectral_radius, wave_tanh_rnn


@dataclasses.dataclass(frozen=True)
class TWMTheoryConfig(Config):
    """Knobs of Chapter 1."""

    s_max: int = 32  #: largest history length s of the gradient sweep (steps)
    d: int = 2  #: state dimension of the HDS in the gradient sweep
    hidden: int = 64  #: RNN hidden units H (>= s_max * d, so the wave fits)
    n_networks: int = 5  #: random networks (seeds) per s
    n_samples: int = 32  #: random input sequences per network
    amplitude: float = 0.05  #: input amplitude (keeps tanh near its linear regime)
    lbc_steps: int = 100  #: closed-loop steps when checking the LBC rollouts

    def validate(self) -> None:
        require_positive(s_max=self.s_max, d=self.d, hidden=self.hidden, n_networks=self.n_networks,
                         n_samples=self.n_samples, amplitude=self.amplitude, lbc_steps=self.lbc_steps)
        if self.hidden < self.s_max * self.d:
            raise ConfigError(f"hidden ({self.hidden}) must be >= s_max * d ({self.s_max * self.d}) "
                              "so the wave substrate fits in the RNN")


PROFILE_STREAM = 1_000_003  # stream id of the per-input profile at s_max

PRESETS = {
    "smoke": TWMTheoryConfig(s_max=8, d=2, hidden=16, n_networks=2, n_samples=8, lbc_steps=40),
    "cpu": TWMTheoryConfig(s_max=32, d=2, hidden=64, n_networks=5, n_samples=32, lbc_steps=100),
    # Table 1 sizes (d = 8, H = 128) and its 20 seeds; s up to H / d = 16.
    "paper": TWMTheoryConfig(s_max=16, d=8, hidden=128, n_networks=20, n_samples=64, lbc_steps=200),
}


def gradient_sweep(config: TWMTheoryConfig, ctx: RunContext) -> Result:
    """||∂y(s+1)/∂x(i)|| for random vs wave tanh RNNs, s = 1..s_max (see module docstring)."""
    s_values = np.arange(1, config.s_max + 1)
    unit = np.sqrt(config.d)  # Frobenius norm of the d x d identity
    shape = (len(s_values), config.n_networks)
    state = ctx.checkpoint.load() or {"next": 0, "random_x1": np.zeros(shape), "wave_x1": np.zeros(shape)}
    random_nets = [random_tanh_rnn(config.hidden, config.d, np.random.default_rng([ctx.seed, k]))
                   for k in range(config.n_networks)]
    for i in ctx.progress(range(state["next"], len(s_values)), total=len(s_values), initial=state["next"]):
        s = int(s_values[i])
        operator = task_operator("repeat_copy", s, config.d)
        for k, random_net in enumerate(random_nets):
            wave_net = wave_tanh_rnn(operator, s, config.d, config.hidden, np.random.default_rng([ctx.seed, s, k]))
            for name, net in (("random_x1", random_net), ("wave_x1", wave_net)):
                rng = np.random.default_rng([ctx.seed, s, k, int(name == "wave_x1")])
                state[name][i, k] = input_sensitivity(net, s, config.amplitude, config.n_samples, rng)[0] / unit
        state["next"] = i + 1
        ctx.checkpoint.save(state)

    s_max = config.s_max
    wave_last = wave_tanh_rnn(task_operator("repeat_copy", s_max, config.d), s_max, config.d, config.hidden,
                              np.random.default_rng([ctx.seed, s_max, 0]))
    profiles = {
        "random_profile": input_sensitivity(random_nets[0], s_max, config.amplitude, config.n_samples,
                                            np.random.default_rng([ctx.seed, PROFILE_STREAM])) / unit,
        "wave_profile": input_sensitivity(wave_last, s_max, config.amplitude, config.n_samples,
                                          np.random.default_rng([ctx.seed, PROFILE_STREAM])) / unit,
    }
    radii = np.array([spectral_radius(net["W_hh"]) for net in random_nets])
    # random_x1[s-1] is the sensitivity at distance s; reversed, it is ordered by input index as decay_rate expects.
    mu = np.array([decay_rate(state["random_x1"][::-1, k]) for k in range(config.n_networks)])
    wave_mean = state["wave_x1"].mean(axis=1)
    metrics = {
        "random_decay_rate_mean": float(mu.mean()),
        "random_decay_rate_std": float(mu.std()),
        "random_spectral_radius_mean": float(radii.mean()),
        "random_x1_at_s_max": float(state["random_x1"][-1].mean()),
        "wave_x1_min": float(wave_mean.min()),
        "wave_x1_max": float(wave_mean.max()),
    }
    history = {"s": s_values, "random_x1": state["random_x1"], "wave_x1": state["wave_x1"],
               "random_decay_rate": mu, "random_spectral_radius": radii, **profiles}
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
                   "input sensitivity vs history length, random vs wave tanh RNNs", gpu_presets=(),
                   cpu_only=True),
    ),
)
