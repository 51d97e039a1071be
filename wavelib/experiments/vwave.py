"""Chapter 5 (Keller, *v-Wave SSMs*): the shift SSM is a v = 1 wave; slower waves let Mamba learn to copy.

Three stored experiments, every model trained from ``n_seeds`` seeds on the copy task of Jelassi et al. (2024):

- ``copy_curves``: at the first maximum string length in ``lengths``, every model in ``models`` (Mamba, v-Wave
  Mamba at fixed velocities, transformers with ALiBi and RoPE): the training loss against examples seen (what
  the abstract's Fig. 2 plots), string and character accuracy on a fixed evaluation set against examples seen
  (the measure of Jelassi et al.), length generalisation at the end, and for the Mamba models the short mixer's
  hidden state on one fixed example (the wave figure, this book's counterpart of Fig. 1a) with every layer's
  velocity;
- ``ablations``: the models in ``ablation_models`` (learnable velocity, state size K = 16) at the first length;
- ``copy_curves_long``: the same as ``copy_curves`` at every further length (only at presets with more than one:
  ``paper``'s 300), a separate artifact so that the first length's results can land first.

No code or full text of v-Wave Mamba is public: the model sizes, the velocities and where ``v`` enters (Mamba's
short conv, read as a shift SSM after the author's 2025 blog post) are this book's assumptions, stated in the
chapter. A reduced preset's page compares its results with the ``paper`` preset's where those are stored
(:func:`stored_paper_artifact`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..grid import RunJob, RunOutput, in_run_order, train_runs
from ..models.language_models import LMSpec, model_spec
from ..models.selective_scan import SCAN_BACKENDS, resolve_backend
from ..models.short_mixers import vwave_states
from ..presets import Config, ConfigError, require_choice, require_positive
from ..registry import Chapter, Experiment
from ..seeding import isolated_rng
from ..store import Artifact, Checkpoint, Result, RunContext, artifact_dir
from ..tasks.copy_strings import COPY, VOCAB_SIZE, copy_example, encode
from ..training.copy_lm import CopyTraining, train_copy

FIGURE_TEXT = "wavesinmambarememberthepast"  #: the example whose short-mixer state the wave figure shows
FIGURE_CHANNELS = 16  #: channels of layer 0 kept for the wave figure
THRESHOLDS = (0.5, 0.9)  #: string accuracies (mean over lengths) whose first crossing measures learning speed
#: training losses (nats per answer token; a uniform guess over the 30 tokens costs ln 30 = 3.40) whose first
#: crossing from above measures learning speed as the abstract's Fig. 2 shows it (the levels are our choice)
LOSS_THRESHOLDS = (1.0, 0.3, 0.1)


@dataclasses.dataclass(frozen=True)
class VWaveConfig(Config):
    """Knobs of Chapter 5 (sizes in units, lengths in characters, ``lr`` the peak learning rate)."""

    models: tuple[str, ...] = ("mamba", "vwave-0.5", "vwave-0.25", "vwave-0.1", "alibi", "rope")
    ablation_models: tuple[str, ...] = ("vwave-learned", "mamba-K16", "vwave-0.25-K16")
    n_seeds: int = 3
    lengths: tuple[int, ...] = (20, 300)  #: maximum string length of each copy setting
    min_len: int = 1  #: shortest training string (our choice; the README of Jelassi et al.'s code uses 5)
    contexts: tuple[int, ...] = (220, 620)  #: tokens per training row, one per length (Jelassi: 220 for 20)
    d_model: int = 128
    mamba_layers: int = 4  #: two Mamba blocks hold about the parameters of one transformer layer
    transformer_layers: int = 2
    n_heads: int = 4
    #: RoPE's rotated fraction of each head's dims: GPT-NeoX's 0.25 (Jelassi et al.'s), which at this page's
    #: 32-dim heads rotates 8 dims at 4 frequencies where their 64-dim heads have 8
    rope_fraction: float = 0.25
    d_state: int = 16
    batch: int = 32
    steps: int = 2_000
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: int = 100
    eval_every: int = 100
    eval_per_length: int = 10
    generalisation_factor: float = 2.0  #: length generalisation scored up to this × the training length
    scan: str = "auto"  #: Mamba's selective-scan backend

    def validate(self) -> None:
        require_positive(n_seeds=self.n_seeds, min_len=self.min_len,
                         d_model=self.d_model, mamba_layers=self.mamba_layers,
                         transformer_layers=self.transformer_layers, n_heads=self.n_heads, d_state=self.d_state,
                         batch=self.batch, steps=self.steps, lr=self.lr, eval_every=self.eval_every,
                         eval_per_length=self.eval_per_length)
        if not self.models or not self.lengths:
            raise ConfigError("models and lengths need at least one value each")
        if len(self.contexts) != len(self.lengths):
            raise ConfigError(f"contexts {self.contexts} must give one row length per string length {self.lengths}")
        if min(self.lengths) < self.min_len:
            raise ConfigError(f"every length must be >= min_len ({self.min_len}), got {self.lengths}")
        if self.generalisation_factor < 1 or self.weight_decay < 0 or self.warmup < 0:
            raise ConfigError("generalisation_factor must be >= 1, weight_decay and warmup >= 0")
        require_choice("scan", self.scan, SCAN_BACKENDS)
        for name in self.models + self.ablation_models:
            try:
                self.spec(name)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        for length in self.lengths:
            self.training(length)  # raises for an impossible context

    def spec(self, name: str) -> LMSpec:
        """The :class:`~wavelib.models.language_models.LMSpec` of model ``name`` at this config's sizes."""
        return model_spec(name, self.d_model, self.mamba_layers, self.transformer_layers, self.n_heads,
                          self.d_state, self.scan, self.rope_fraction)

    def parameters(self, name: str) -> int:
        """Number of parameters of model ``name`` at this config (on the copy task's vocabulary); the global RNG
        is left as it was."""
        with isolated_rng(None):
            return sum(p.numel() for p in self.spec(name).build(VOCAB_SIZE).parameters())

    def training(self, length: int) -> CopyTraining:
        """The copy protocol for strings of ``min_len``..``length`` characters (``length`` one of ``lengths``)."""
        context = self.contexts[self.lengths.index(length)]
        longest = int(np.floor(self.generalisation_factor * length))
        general = tuple(sorted({int(n) for n in np.linspace(length, longest, 6).round() if n > length}))
        try:
            return CopyTraining(min_len=self.min_len, max_len=length, context_len=context, batch=self.batch,
                                steps=self.steps, lr=self.lr, weight_decay=self.weight_decay, warmup=self.warmup,
                                eval_every=self.eval_every, eval_per_length=self.eval_per_length,
                                generalisation_lengths=general)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


PRESETS = {
    "smoke": VWaveConfig(models=("mamba", "vwave-0.25", "rope"), ablation_models=("vwave-learned",), n_seeds=1,
                         lengths=(5,), contexts=(32,), d_model=16, mamba_layers=2, transformer_layers=1, n_heads=2,
                         d_state=4, batch=8, steps=20, warmup=5, eval_every=10, eval_per_length=4),
    # Strings up to 10 letters, 500 steps of 16 rows: 9 to 20 minutes on 2 cores. Not parameter-matched: Mamba
    # 61k parameters, each transformer 102k (two layers: copying by induction heads takes two, Olsson et al. 2022).
    "cpu": VWaveConfig(ablation_models=("vwave-learned", "mamba-K16"), lengths=(10,), contexts=(110,), d_model=64,
                       mamba_layers=2, transformer_layers=2, n_heads=4, d_state=8, batch=16, steps=500, lr=3e-3,
                       warmup=50, eval_every=50, eval_per_length=8),
    # The abstract states no sizes or steps. Our choice, sized for a few GPU sessions: d_model 128 (Mamba 4 layers,
    # transformer 2; 0.47M and 0.40M parameters), d_state 16 (Mamba's own default; Jelassi et al. use 32), batch 32,
    # 2,000 steps (the step count of Jelassi et al.'s code), lr 1e-3 (theirs, 1e-5, is for their ~160M-parameter
    # models).
    "paper": VWaveConfig(),
}


def run_key(length: int, model: str, seed: int | None = None) -> str:
    """The key of a model's results at max string length ``length`` in a copy artifact: its metrics summary
    (``seed`` None: ``"L20|mamba"``), or one seed's run (``"L20|mamba|seed0"``, the prefix of its history keys)."""
    return f"L{length}|{model}" if seed is None else f"L{length}|{model}|seed{seed}"


def stored_paper_artifact(name: str, seed: int, root: Path | None = None) -> Artifact | None:
    """The ``paper`` preset's artifact of experiment ``name`` and ``seed`` in the results store ``root`` (default:
    :func:`~wavelib.store.results_root`), for a reduced preset's page to compare with; None where it is not there."""
    path = artifact_dir(CHAPTER.name, "paper", name, PRESETS["paper"].to_dict(), seed, root)
    return Artifact(path) if path.exists() else None


def _mixer_figure_data(model: torch.nn.Module, device: torch.device, length: int) -> dict[str, np.ndarray]:
    """Layer 0's short-mixer input (C, L) and state (C, K, L) for its first C channels on the copy example of
    :data:`FIGURE_TEXT`'s first ``length`` letters, the position of its copy token, and every layer's mixer
    weights (layers, D, K)."""
    ids = torch.tensor([copy_example(encode(FIGURE_TEXT[:length]))], device=device)
    x = model.mixer_inputs(ids)[0][0, :FIGURE_CHANNELS]  # (C, L)
    mixer = model.blocks[0].mixer
    with torch.no_grad():
        states = vwave_states(x[None], mixer.velocity[:FIGURE_CHANNELS].to(x.dtype), mixer.cells)[0]
    return {"mixer_input": x.cpu().numpy(), "mixer_states": states.cpu().numpy(),
            "mixer_copy_at": np.int64(ids[0].tolist().index(COPY)),
            "mixer_weight": np.stack([b.mixer.conv.weight[:, 0].detach().cpu().numpy() for b in model.blocks])}


def _train_grid(config: VWaveConfig, ctx: RunContext, runs: list[tuple[int, str]]) -> Result:
    """Train every (length, model) of ``runs`` from ``n_seeds`` seeds (``ctx.workers`` at a time); histories
    under ``L|model|seed|name``."""
    state = ctx.checkpoint.load() or {"done": [], "history": {}}

    def job(length: int, model: str, seed: int) -> RunJob:
        def run(checkpoint: Checkpoint) -> RunOutput:
            spec = config.spec(model)
            trained, history = train_copy(spec, config.training(length), ctx.seed * 1_000 + seed, ctx.device,
                                          checkpoint=checkpoint, cuda_graph=ctx.cuda_graph)
            if spec.family == "mamba" and seed == 0:
                history.update(_mixer_figure_data(trained, ctx.device, length))
            return RunOutput(history)
        return run

    keys = [(length, model, seed) for length, model in runs for seed in range(config.n_seeds)]
    jobs = [(run_key(*key), job(*key)) for key in keys]
    train_runs(ctx, state, jobs)
    return Result(metrics=_summarise(config, state["history"], runs), history=in_run_order(state["history"], jobs))


def first_crossing(examples: np.ndarray, values: np.ndarray, threshold: float, below: bool = False) -> float | None:
    """Examples seen when ``values`` first reach ``threshold``: rise to it, or with ``below`` fall to it (a loss);
    None if never (NaN never counts)."""
    reached = np.flatnonzero(values <= threshold if below else values >= threshold)
    return float(examples[reached[0]]) if reached.size else None


def _summarise(config: VWaveConfig, history: dict[str, np.ndarray], runs: list[tuple[int, str]]) -> dict:
    """Per (length, model), over seeds: final string accuracy (mean over all training lengths: mean, min, max),
    final string accuracy at the longest training length (mean), final character accuracy and training loss (nats
    per answer token; means), and the median examples seen to first reach each threshold (None unless every seed
    did)."""
    metrics = {}
    for length, model in runs:
        keys = [run_key(length, model, seed) for seed in range(config.n_seeds)]
        final = np.array([history[f"{k}|string_accuracy"][-1] for k in keys])
        at_max = np.array([history[f"{k}|string_accuracy_by_length"][-1, -1] for k in keys])
        chars = np.array([history[f"{k}|char_accuracy"][-1] for k in keys])
        loss = np.array([history[f"{k}|train_loss"][-1] for k in keys])
        entry = {"string_accuracy_mean": float(final.mean()), "string_accuracy_min": float(final.min()),
                 "string_accuracy_max": float(final.max()), "string_accuracy_at_max_mean": float(at_max.mean()),
                 "char_accuracy_mean": float(chars.mean()), "train_loss_final_mean": float(loss.mean()),
                 "examples_total": float(history[f"{keys[0]}|examples"][-1])}
        for threshold in THRESHOLDS:
            crossings = [first_crossing(history[f"{k}|examples"], history[f"{k}|string_accuracy"], threshold)
                         for k in keys]
            reached = [c for c in crossings if c is not None]
            entry[f"examples_to_{threshold:g}"] = float(np.median(reached)) if len(reached) == len(keys) else None
            entry[f"seeds_reaching_{threshold:g}"] = len(reached)
        metrics[run_key(length, model)] = entry
    return metrics


def copy_curves(config: VWaveConfig, ctx: RunContext) -> Result:
    """Copy at the first (shortest) maximum length, every model × seed: training-loss curves (the abstract's
    Fig. 2 plots these), accuracy curves (Jelassi et al.'s measure), length generalisation, and the Fig. 1a
    data."""
    return _train_grid(config, ctx, [(config.lengths[0], model) for model in config.models])


def copy_curves_long(config: VWaveConfig, ctx: RunContext) -> Result:
    """:func:`copy_curves` at every further maximum length (the ``paper`` preset's 300): a separate artifact,
    so the first length's results land without waiting for the longer, costlier runs."""
    return _train_grid(config, ctx, [(length, model) for length in config.lengths[1:] for model in config.models])


def _scan_in_use(models: str) -> Callable[[VWaveConfig, torch.device], str]:
    """An experiment's :attr:`~wavelib.registry.Experiment.kernels`: the selective scan its Mamba runs take on the
    device (each run's checkpoint pins it), in words; "" where the config's ``models`` (the attribute named) hold
    no Mamba model."""
    def kernels(config: VWaveConfig, device: torch.device) -> str:
        if not any(config.spec(m).family == "mamba" for m in getattr(config, models)):
            return ""
        return f"selective scan {resolve_backend(config.scan, device, torch.float32)}"
    return kernels


def _has_longer_lengths(config: VWaveConfig) -> bool:
    return len(config.lengths) > 1


def ablations(config: VWaveConfig, ctx: RunContext) -> Result:
    """Learnable velocity and the short-mixer state size, at the first (shortest) copy length."""
    return _train_grid(config, ctx, [(config.lengths[0], model) for model in config.ablation_models])


CHAPTER = Chapter(
    number=5,
    name="vwave",
    title="v-Wave Mamba: variable-velocity waves learn to copy",
    notebook="book/05_vwave.ipynb",
    reproduces="Keller, v-Wave SSMs (extended abstract): Figs. 1, 2; copy task of Jelassi et al. 2024",
    presets=PRESETS,
    experiments=(
        Experiment("copy_curves", copy_curves,
                   "copy learning curves at the first maximum length: Mamba, v-Wave Mamba, ALiBi, RoPE",
                   cuda_graph=True, kernels=_scan_in_use("models")),
        # trained in this order: the ablations (9 runs at the first length) finish before the longer lengths
        # (18 runs of rows almost 3 times as long at `paper`) take what is left of a short GPU call
        Experiment("ablations", ablations, "learnable velocity; short-mixer state size K", cuda_graph=True,
                   kernels=_scan_in_use("ablation_models")),
        Experiment("copy_curves_long", copy_curves_long,
                   "copy learning curves at every further maximum length, for presets with more than one",
                   applies=_has_longer_lengths, cuda_graph=True, kernels=_scan_in_use("models")),
    ),
)
