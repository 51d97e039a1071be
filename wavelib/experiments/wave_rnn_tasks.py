"""Chapter 3 (Keller et al., ICLR 2024): Wave-RNNs copy, add and remember; iRNNs do not.

Three stored experiments, each a resumable grid of (model, T, seed) trainings:

- ``copy``: the copy task (Figs. 3–4) at every ``copy_T`` for the wRNN (``n`` units × ``copy_channels``), the
  iRNN of about equal size (``n`` units) and the iRNN of equal activations (``large_n`` units); for seed 0 at
  ``figure_T`` also one test sequence's output and hidden states (the example-recall and space-time figures) and
  the weights of the wRNN and the equal-size iRNN;
- ``adding``: the adding task (Fig. 5, Table 1) at every ``adding_T``, wRNN (``adding_channels``) against iRNN;
- ``ablations``: Table 4's variants on the copy task at every ``ablation_T``. "− V-init" (the wRNN without the
  sparse-identity V) takes ``ablation_v_init``: ``"normal"``, the paper's grid alternative N(0, 0.001), read as
  std 0.001 (:data:`~wavelib.models.wave_rnn.V_NORMAL_STD`) with the bias left at PyTorch's default, or
  ``"random"``, PyTorch's default. "− u-shift-init" takes ``ablation_u_init``: ``"normal"`` (N(0, 0.001), the init
  the paper's Appendix B names for its best "− u-shift-init" models), its grid's values ``"dirac"`` and
  ``"uniform_sqrt_n"`` (U(−1/√n, 1/√n)), or ``"random"``, PyTorch's default conv init (not in the paper's grid).

Hyperparameters: with ``lr=None`` / ``clip=None`` every run takes the learning rate and clipping magnitude (and for
the iRNN the U initialisation) that the paper's Tables 5 (copy) and 6 (adding) report as best for its model and
``T``; the ablation variants take the row of their base model (wRNN or iRNN n=100). A number instead applies to
every run. With ``copy_format="paper"`` (the default) the copy ``T`` is the text's: ``T`` blank steps, length
``T + 20``. With ``copy_format="code"`` every copy and ablation ``T`` (``copy_T``, ``ablation_T``, ``figure_T``) is
the code's (length ``T + 10``, delimiter at ``T − 1``) and the hyperparameters are those of the reported ``T`` that
:data:`~wavelib.tasks.sequence_tasks.REPORTED_T_OF_CODE_T` pairs with it (the code's sweep 10, 20, 50, 100, 500 in
order with Table 5's 0, 10, 30, 80, 480: our inference). The code's runs for the paper's figures are then
``copy_T=(10, 50, 100, 500)`` (Figs. 3–4: T = 0, 30, 80, 480) and ``ablation_T=(10, 20, 50, 100)`` (Table 4).

Test batches: one fixed batch of ``eval_batch`` (copy; 50, the code's, which the paper's "test MSE" divides by)
or ``adding_eval_batch`` (adding; 1,000, the code's ``--batch_test``) every ``eval_every`` steps (100, the
``log_interval`` of the code's copy sweeps and adding iRNN sweep).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..devices import true_float32
from ..grid import RunJob, RunOutput, in_run_order, train_runs
from ..presets import Config, ConfigError, require_choice, require_positive
from ..registry import Chapter, Experiment
from ..store import Checkpoint, Result, RunContext
from ..tasks.sequence_tasks import (COPY_FORMATS, REPORTED_T_OF_CODE_T, memoryless_baseline, reported_T_from_code,
                                    solved_at)
from ..training.sequence_rnn import (COPY_METRICS, SequenceModelSpec, SequenceTaskSpec, fixed_test_batch,
                                     train_sequence_model)

TASK_MODELS = ("wrnn", "irnn", "irnn-large")  #: models of the copy and adding grids
ABLATION_MODELS = ("wrnn", "wrnn-noV", "wrnn-noU", "wrnn-noV-noU", "irnn", "irnn-sigma", "irnn-sigma-V")
LABELS = {
    "wrnn": "wRNN", "irnn": "iRNN (n)", "irnn-large": "iRNN (large n)",
    "wrnn-noV": "wRNN − V-init", "wrnn-noU": "wRNN − u-shift-init", "wrnn-noV-noU": "wRNN − V-init − u-shift-init",
    "irnn-sigma": "iRNN + Σ-init", "irnn-sigma-V": "iRNN + Σ-init + V-init",
}
"""Display names (Table 4's rows)."""
ABLATION_V_INITS = ("normal", "random")
"""V inits of Table 4's "− V-init" rows (knob ``ablation_v_init``); see :class:`~wavelib.models.wave_rnn.WaveRNN`."""
ABLATION_U_INITS = ("normal", "uniform_sqrt_n", "dirac", "random")
"""u inits of Table 4's "− u-shift-init" rows (knob ``ablation_u_init``): ``"normal"``, the one the paper's text names
for its best such models, its grid's ``"uniform_sqrt_n"`` and ``"dirac"``, and PyTorch's default; see
:class:`~wavelib.models.wave_rnn.WaveRNN`."""
IRNN_V_INITS = ("normal", "fan_in", "random")
"""V inits of the iRNNs (knob ``irnn_v_init``; see :class:`~wavelib.models.wave_rnn.IRNN`): ``"normal"`` is the
paper's iRNN grid value and the public code's for copy and adding; ``"fan_in"`` is ``nn.Linear``'s default, which
the public code's MNIST and CIFAR iRNNs keep."""
# model -> (kind, init_u, init_v); "knob:<name>": the value of that knob
_INITS = {
    "wrnn": ("wrnn", "shift", "sparse_identity"), "wrnn-noV": ("wrnn", "shift", "knob:ablation_v_init"),
    "wrnn-noU": ("wrnn", "knob:ablation_u_init", "sparse_identity"),
    "wrnn-noV-noU": ("wrnn", "knob:ablation_u_init", "knob:ablation_v_init"),
    "irnn": ("irnn", "identity", "knob:irnn_v_init"), "irnn-large": ("irnn", "identity", "knob:irnn_v_init"),
    "irnn-sigma": ("irnn", "sigma", "knob:irnn_v_init"), "irnn-sigma-V": ("irnn", "sigma", "sparse_identity"),
}

# The paper's best hyperparameters: (task, model, T) -> (learning rate, clip magnitude (0 = none), iRNN U init).
# Table 5 (copy; "U" = Kaiming uniform = PyTorch's default, "random" here) and Table 6 (adding).
PAPER_HPARAMS: dict[tuple[str, str, int], tuple[float, float, str]] = {
    **{("copy", "wrnn", T): (lr, clip, "shift") for T, lr, clip in
       ((0, 1e-3, 1), (10, 1e-3, 0), (30, 1e-3, 0), (80, 1e-3, 1), (480, 1e-4, 1))},
    **{("copy", "irnn", T): (lr, clip, init) for T, lr, clip, init in
       ((0, 1e-3, 10, "random"), (10, 1e-3, 1, "identity"), (30, 1e-4, 1, "identity"),
        (80, 1e-4, 1, "identity"), (480, 1e-4, 10, "identity"))},
    **{("copy", "irnn-large", T): (lr, clip, init) for T, lr, clip, init in
       ((0, 1e-3, 1, "random"), (10, 1e-4, 10, "identity"), (30, 1e-4, 1, "identity"),
        (80, 1e-4, 1, "identity"), (480, 1e-4, 1, "identity"))},
    **{("adding", "wrnn", T): (lr, clip, "shift") for T, lr, clip in
       ((100, 1e-3, 100), (200, 1e-4, 100), (400, 1e-4, 1), (700, 1e-4, 100), (1000, 1e-4, 10))},
    **{("adding", "irnn", T): (lr, clip, "identity") for T, lr, clip in
       ((100, 1e-3, 1000), (200, 1e-3, 100), (400, 1e-3, 10), (700, 1e-4, 100), (1000, 1e-3, 1))},
}

PAPER_PARAMETERS = {("copy", "wrnn"): "≈ 12k (“comparable”)", ("copy", "irnn"): "12k",
                    ("copy", "irnn-large"): "403k", ("adding", "wrnn"): "10.29k", ("adding", "irnn"): "10.3k"}
"""The parameter counts the paper states (Sec. 3; the copy wRNN's only as "comparable" to the iRNN's 12k):
(task, model) -> text. They fit the models without the input and recurrent biases
(``SequenceModelSpec.parameters(..., recurrent_biases=False)``: 12,118, 12,010, 403,135, 10,288, 10,301), not the
models as built (12,724, 12,210, 404,385, 13,015, 10,501)."""
PAPER_TABLE1: dict[tuple[str, int], tuple[float, float | None]] = {
    **{("wrnn", T): v for T, v in zip((100, 200, 400, 700, 1000),
                                       ((4e-6, 300), (2e-5, 1e3), (4e-5, 1e3), (8e-5, 3e3), (6e-5, 2e3)))},
    **{("irnn", T): v for T, v in zip((100, 200, 400, 700, 1000),
                                       ((1e-5, 14e3), (4e-5, 22e3), (1e-4, 30e3), (0.16, None), (0.16, None)))},
}
"""Table 1 (adding; the best model): (model, T) -> (test MSE, solved iteration or None = never in 60k)."""
PAPER_TABLE7: dict[tuple[str, int], tuple[tuple[float, float | None], tuple[float, float | None] | None]] = {
    ("irnn", 100): ((1.40e-5, 4.21e-6), (11_500, 2_910.33)), ("wrnn", 100): ((6.12e-5, 7.95e-5), (233.33, 57.74)),
    ("irnn", 200): ((5.13e-5, 1.66e-5), (21_000, 4_582.58)), ("wrnn", 200): ((8.54e-5, 7.91e-5), (1_000, 0.0)),
    ("irnn", 400): ((7.70e-2, 8.49e-2), (30_000, None)), ("wrnn", 400): ((1.59e-4, 1.07e-4), (1_333.33, 577.35)),
    ("irnn", 700): ((0.163, 2.08e-3), None), ("wrnn", 700): ((5.29e-5, 3.19e-5), (3_000, 0.0)),
    ("irnn", 1000): ((0.160, None), None), ("wrnn", 1000): ((4.36e-5, 1.91e-5), (1_666.67, 577.35)),
}
"""Table 7 (adding; 3 seeds): (model, T) -> ((MSE mean, sample std), (solved iteration mean, std) or None = never);
a std of None is the paper's "± -" (the other seeds did not solve or crashed)."""
PAPER_TABLE4: dict[tuple[str, int], float | None] = {
    (model, T): v for model, values in (
        ("wrnn", (9e-12, 1e-10, 8e-11, None)), ("wrnn-noV", (1e-11, 2e-11, 4e-10, 4e-11)),
        ("wrnn-noU", (5e-11, 3e-10, 7e-4, 6e-4)), ("wrnn-noV-noU", (8e-10, 1e-4, 3e-4, 7e-4)),
        ("irnn", (1e-4, 3e-3, 2e-3, 1e-3)), ("irnn-sigma", (1e-8, 1e-7, 2e-7, 2e-5)),
        ("irnn-sigma-V", (1e-7, 1e-7, 1e-6, 8e-6)))
    for T, v in zip((0, 10, 30, 80), values)}
"""Table 4 (copy "test MSE", i.e. CE/batch; the best model): (model, reported T) -> value; None: the wRNN at
T = 80 is printed "1 × 8⁻¹¹" (a misprint: 1e-11 or 8e-11)."""


@dataclasses.dataclass(frozen=True)
class WaveRNNTasksConfig(Config):
    """Knobs of Chapter 3 (``T`` in steps as the paper reports it, sizes in units, ``lr`` per Adam step)."""

    copy_T: tuple[int, ...] = (0, 30, 80, 480)
    copy_models: tuple[str, ...] = TASK_MODELS
    adding_T: tuple[int, ...] = (100, 200, 400, 700, 1000)
    adding_models: tuple[str, ...] = ("wrnn", "irnn")
    ablation_T: tuple[int, ...] = (0, 10, 30, 80)
    ablation_models: tuple[str, ...] = ABLATION_MODELS
    ablation_v_init: str = "normal"  #: V of the "− V-init" rows: "normal" (N(0, std 0.001)) or "random" (PyTorch)
    ablation_u_init: str = "normal"  #: u of the "− u-shift-init" rows: one of ABLATION_U_INITS
    irnn_v_init: str = "normal"  #: V of the iRNNs: "normal" (the paper's grid, the public code), "fan_in", "random"
    n: int = 100  #: units per ring of the wRNN, and units of the equal-size iRNN
    #: units of the iRNN "with comparable numbers of activations/neurons" (the paper's 625; the copy wRNN has
    #: n × copy_channels = 600)
    large_n: int = 625
    copy_channels: int = 6
    adding_channels: int = 27
    n_seeds: int = 3  #: Table 7's three initialisations (adding); for copy and Table 4 the paper states none
    batch: int = 128
    copy_steps: int = 60_000  #: also the ablations'
    adding_steps: int = 60_000
    lr: float | None = None  #: None: Tables 5–6 per model and T
    clip: float | None = None  #: None: Tables 5–6 per model and T; 0 = no clipping
    eval_every: int = 100  #: the code's copy sweeps and adding iRNN sweep test every 100 steps (``log_interval``)
    eval_batch: int = 50  #: copy test batch: the code's fresh batch of 50, which its "test MSE" divides by
    adding_eval_batch: int = 1000  #: adding test batch: the code's fresh batch of 1,000 (``--batch_test``)
    copy_format: str = "paper"
    figure_T: int = 480  #: copy T of the example-recall and space-time figures (one of copy_T)

    def validate(self) -> None:
        require_positive(n=self.n, large_n=self.large_n, copy_channels=self.copy_channels,
                         adding_channels=self.adding_channels, n_seeds=self.n_seeds, batch=self.batch,
                         copy_steps=self.copy_steps, adding_steps=self.adding_steps, eval_every=self.eval_every,
                         eval_batch=self.eval_batch, adding_eval_batch=self.adding_eval_batch)
        require_choice("copy_format", self.copy_format, COPY_FORMATS)
        require_choice("ablation_v_init", self.ablation_v_init, ABLATION_V_INITS)
        require_choice("ablation_u_init", self.ablation_u_init, ABLATION_U_INITS)
        require_choice("irnn_v_init", self.irnn_v_init, IRNN_V_INITS)
        if (self.lr is None) != (self.clip is None):
            raise ConfigError("set both lr and clip (one value for every run) or neither (the paper's Tables 5–6)")
        if self.lr is not None and not (self.lr > 0 and self.clip >= 0):
            raise ConfigError(f"lr must be positive and clip non-negative, got lr={self.lr}, clip={self.clip}")
        for task, Ts, models in (("copy", self.copy_T, self.copy_models), ("adding", self.adding_T, self.adding_models),
                                 ("ablation", self.ablation_T, self.ablation_models)):
            if not Ts or not models:
                raise ConfigError(f"{task}_T and {task}_models need at least one value each")
            valid = ABLATION_MODELS if task == "ablation" else TASK_MODELS
            for model in models:
                require_choice(f"{task} model", model, valid)
            for T in Ts:
                for model in models:
                    self.model_spec(task, model, T)
                    self.task_spec(task, model, T)
        if self.figure_T not in self.copy_T:
            raise ConfigError(f"figure_T ({self.figure_T}) must be one of copy_T {self.copy_T}")

    def reported_T(self, task: str, T: int) -> int | None:
        """The paper's reported ``T`` of a run at ``T``: for copy and ablation runs in ``copy_format="code"`` the
        one paired with the code's ``T`` (None outside the code's sweep), else ``T`` itself."""
        return reported_T_from_code(T) if task != "adding" and self.copy_format == "code" else T

    def _hparams(self, task: str, model: str, T: int) -> tuple[float, float, str | None]:
        """(lr, clip, U init or None for the variant's own) of one run; see the module docstring."""
        base = "irnn" if model.startswith("irnn-sigma") else "wrnn" if model.startswith("wrnn") else model
        if self.lr is not None:
            return self.lr, self.clip, None
        key = ("adding" if task == "adding" else "copy", base, self.reported_T(task, T))
        if key[2] is None:
            raise ConfigError(f"code T = {T} is not in the public code's copy sweep "
                              f"{tuple(REPORTED_T_OF_CODE_T)}, so the paper reports no T (and no hyperparameters) "
                              "for it; set lr and clip")
        if key not in PAPER_HPARAMS:
            known = sorted(t for k, m, t in PAPER_HPARAMS if (k, m) == key[:2])
            code = f" (code T = {T})" if key[2] != T else ""
            raise ConfigError(f"the paper gives no hyperparameters for {model} on {key[0]} at reported T={key[2]}"
                              f"{code} (it has T in {known}); set lr and clip")
        lr, clip, init = PAPER_HPARAMS[key]
        return lr, clip, init if model == base else None

    def _knob(self, init: str) -> str:
        """An init of :data:`_INITS`: the value of the knob it names ("knob:<name>"), or itself."""
        return getattr(self, init.removeprefix("knob:")) if init.startswith("knob:") else init

    def model_spec(self, task: str, model: str, T: int) -> SequenceModelSpec:
        """The model ``model`` of ``task`` ("copy", "adding" or "ablation") at ``T``."""
        kind, init_u, init_v = _INITS[model]
        init_u = self._hparams(task, model, T)[2] or self._knob(init_u)
        init_v = self._knob(init_v)
        if kind == "irnn":
            return SequenceModelSpec("irnn", self.large_n if model == "irnn-large" else self.n, 1, init_u, init_v)
        channels = self.adding_channels if task == "adding" else self.copy_channels
        return SequenceModelSpec("wrnn", self.n, channels, init_u, init_v)

    def task_spec(self, task: str, model: str, T: int) -> SequenceTaskSpec:
        """The training protocol of ``model`` on ``task`` at ``T`` (ConfigError for an impossible ``T``)."""
        lr, clip, _ = self._hparams(task, model, T)
        name = "adding" if task == "adding" else "copy"
        try:
            adding = name == "adding"
            return SequenceTaskSpec(name, T, self.batch, self.adding_steps if adding else self.copy_steps, lr, clip,
                                    self.eval_every, self.adding_eval_batch if adding else self.eval_batch,
                                    self.copy_format)
        except ValueError as exc:
            raise ConfigError(f"{task} at T={T}: {exc}") from exc


PRESETS = {
    "smoke": WaveRNNTasksConfig(copy_T=(5,), adding_T=(6,), ablation_T=(5,),
                                ablation_models=("wrnn", "wrnn-noV", "irnn-sigma"),
                                n=8, large_n=16, copy_channels=2, adding_channels=2, n_seeds=1, batch=4,
                                copy_steps=20, adding_steps=20, lr=1e-3, clip=1.0, eval_every=10, eval_batch=8,
                                adding_eval_batch=8, figure_T=5),
    "cpu": WaveRNNTasksConfig(copy_T=(30,), adding_T=(50,), ablation_T=(10,), n=64, large_n=256, copy_channels=4,
                              adding_channels=8, n_seeds=2, batch=32, copy_steps=800, adding_steps=600, lr=1e-3,
                              clip=10.0, eval_every=50, eval_batch=50, figure_T=30),
    "paper": WaveRNNTasksConfig(),
}


def run_key(task: str, T: int, model: str, seed: int | None = None) -> str:
    """The key of a model's results on ``task`` at length ``T`` in an artifact: its metrics summary (``seed``
    None: ``"copy|T10|wrnn"``), or one seed's run (``"copy|T10|wrnn|seed0"``, the prefix of its history keys)."""
    return f"{task}|T{T}|{model}" if seed is None else f"{task}|T{T}|{model}|seed{seed}"


@torch.no_grad()
def _figure_data(model: torch.nn.Module, task: SequenceTaskSpec, device: torch.device) -> dict[str, np.ndarray]:
    """Row 0 of the fixed test batch: ``example_input`` and ``example_target`` class ids (L,), the model's
    ``example_probs`` (L, 10) and hidden ``example_states`` (L, hidden)."""
    x, y = fixed_test_batch(task, device)
    model.eval()
    logits, states = model(x[:1], return_states=True)
    return {"example_input": x[0].argmax(-1).cpu().numpy(), "example_target": y[0].cpu().numpy(),
            "example_probs": torch.softmax(logits[0].float(), -1).cpu().numpy(),
            "example_states": states[0].cpu().numpy()}


def _train_grid(config: WaveRNNTasksConfig, ctx: RunContext, task: str, Ts: tuple[int, ...],
                models: tuple[str, ...], figure: bool = False) -> Result:
    """Train every (T, model) from ``n_seeds`` seeds (``ctx.workers`` at a time) in true float32 (cuDNN without TF32:
    :func:`~wavelib.devices.true_float32`, as the paper's GPUs computed); histories under ``task|T|model|seed|name``;
    with ``figure``, seed 0 at ``figure_T`` also stores the figure data, and the wRNN's and iRNN's weights."""
    state = ctx.checkpoint.load() or {"done": [], "history": {}, "weights": {}}

    def job(T: int, model: str, seed: int) -> RunJob:
        def run(checkpoint: Checkpoint) -> RunOutput:
            spec = config.task_spec(task, model, T)
            trained, history = train_sequence_model(config.model_spec(task, model, T), spec,
                                                    ctx.seed * 1_000 + seed, ctx.device, checkpoint=checkpoint)
            if not (figure and seed == 0 and T == config.figure_T):
                return RunOutput(history)
            history.update(_figure_data(trained, spec, ctx.device))
            weights = ({k: v.cpu() for k, v in trained.state_dict().items()} if model in ("wrnn", "irnn")
                       else None)
            return RunOutput(history, weights)
        return run

    jobs = [(run_key(task, T, model, seed), job(T, model, seed))
            for T in Ts for model in models for seed in range(config.n_seeds)]
    with true_float32():  # around the whole grid: a global setting, and its runs share threads
        train_runs(ctx, state, jobs)
    metrics = {run_key(task, T, model): _summarise(config, state["history"], task, T, model)
               for T in Ts for model in models}
    return Result(metrics=metrics, history=in_run_order(state["history"], jobs),
                  weights=in_run_order(state["weights"], jobs) or None)


def sample_std(values: list[float] | np.ndarray) -> float | None:
    """Sample standard deviation (ddof = 1, as the paper's Table 7: {200, 200, 300} -> 57.74); None for fewer than
    two values."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def _summarise(config: WaveRNNTasksConfig, history: dict[str, np.ndarray], task: str, T: int, model: str) -> dict:
    """Final test numbers of one (task, T, model): mean over seeds, and the best seed (the paper reports the best
    model); adding also the sample std of the MSE, and the step each seed first reached MSE <= 0.05 (None: never)
    with its mean and sample std over the seeds that did."""
    runs = [run_key(task, T, model, seed) for seed in range(config.n_seeds)]
    names = ["mse"] if task == "adding" else list(COPY_METRICS)
    spec = config.task_spec(task, model, T)
    entry: dict = {"parameters": config.model_spec(task, model, T).parameters(spec.n_in, spec.n_out)}
    for name in names:
        final = np.array([history[f"{k}|test_{name}"][-1] for k in runs])
        entry[f"{name}_mean"] = float(final.mean())
        entry[f"{name}_best"] = float(final.max() if "accuracy" in name else final.min())
    if task == "adding":
        entry["mse_std"] = sample_std([history[f"{k}|test_mse"][-1] for k in runs])
        steps = [solved_at(history[f"{k}|step"], history[f"{k}|test_mse"]) for k in runs]
        reached = [s for s in steps if s is not None]
        entry["solved_steps"] = steps
        entry["seeds_solved"] = len(reached)
        entry["solved_step_mean"] = float(np.mean(reached)) if reached else None
        entry["solved_step_std"] = sample_std(reached)
    else:
        entry["memoryless_paper_comparable"] = memoryless_baseline(T, config.eval_batch, config.copy_format)
    return entry


def copy(config: WaveRNNTasksConfig, ctx: RunContext) -> Result:
    """Copy task: every copy_T × copy model × seed (Figs. 3–4), with the figure data at ``figure_T``."""
    return _train_grid(config, ctx, "copy", config.copy_T, config.copy_models, figure=True)


def adding(config: WaveRNNTasksConfig, ctx: RunContext) -> Result:
    """Adding task: every adding_T × adding model × seed (Fig. 5, Table 1)."""
    return _train_grid(config, ctx, "adding", config.adding_T, config.adding_models)


def ablations(config: WaveRNNTasksConfig, ctx: RunContext) -> Result:
    """Table 4: the wRNN without its inits, the iRNN with the wRNN's, on the copy task at every ablation_T."""
    return _train_grid(config, ctx, "ablation", config.ablation_T, config.ablation_models)


CHAPTER = Chapter(
    number=3,
    name="wave_rnn_tasks",
    title="Wave-RNN: copy, adding, ablations",
    notebook="book/03_wave_rnn_tasks.ipynb",
    reproduces="Keller, Muller, Sejnowski & Welling, ICLR 2024: Figs. 3–5, Tables 1, 4 (hyperparameters of Tables 5–6)",
    presets=PRESETS,
    experiments=(
        Experiment("copy", copy, "copy task: wRNN vs iRNN of equal size and of equal activations"),
        Experiment("adding", adding, "adding task: wRNN vs iRNN, step at which MSE <= 0.05"),
        Experiment("ablations", ablations, "Table 4: wRNN without its inits, iRNN with the wRNN's inits"),
    ),
)
