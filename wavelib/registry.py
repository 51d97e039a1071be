"""What a chapter is: its notebook, presets and experiments (the registry lives in ``wavelib.chapters``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .presets import PRESETS, Config, ConfigError, resolve_preset

if TYPE_CHECKING:
    import torch

    from .store import Result, RunContext


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One unit of heavy work of a chapter: ``fn(config, ctx) -> Result``.

    ``gpu_presets`` names the presets at which the experiment is too heavy for a CPU; there a
    notebook on a CPU machine must find the artifact in the results store instead of training.
    ``cpu_only`` experiments (small float64 linear algebra) always run on the CPU, whatever device is
    asked for, and their metadata says so. ``applies(config)`` says whether the experiment has work at a
    config (None: at every config); one that does not is not trained, stored or asked for there.
    ``cuda_graph``: its training steps can be captured in CUDA graphs (``RunContext.cuda_graph``).
    ``data_problem(config)``: why the data it needs at ``config`` cannot be had here (checked before any work; None
    where it can, or may be downloaded).
    ``kernels(config, device)``: which of the book's interchangeable implementations its runs take at ``config`` on
    ``device``, in words (e.g. ``"selective scan fused"``); each attempt records it with its execution settings,
    since the implementations agree to rounding, not bit for bit.
    """

    name: str
    fn: Callable[[Any, "RunContext"], "Result"]
    description: str
    gpu_presets: tuple[str, ...] = ("paper",)
    cpu_only: bool = False
    applies: Callable[[Any], bool] | None = None
    cuda_graph: bool = False
    data_problem: Callable[[Any], str | None] | None = None
    kernels: Callable[[Any, "torch.device"], str] | None = None


@dataclasses.dataclass(frozen=True)
class Chapter:
    """A chapter of the book: its notebook, its config per preset and its experiments."""

    number: int
    name: str
    title: str
    notebook: str
    reproduces: str
    presets: Mapping[str, Config]
    experiments: tuple[Experiment, ...]

    def __post_init__(self) -> None:
        missing = sorted(set(PRESETS) - set(self.presets))
        if missing:
            raise ValueError(f"chapter {self.name!r} lacks preset(s) {missing}")

    def config(self, preset: str | None = None, **overrides: Any) -> Config:
        """The validated config of ``preset`` (see :func:`resolve_preset`), with knobs overridden."""
        return self.presets[resolve_preset(preset)].replace(**overrides)

    def experiments_for(self, config: Config) -> tuple[Experiment, ...]:
        """The experiments that have work at ``config`` (see :attr:`Experiment.applies`), in order."""
        return tuple(e for e in self.experiments if e.applies is None or e.applies(config))

    def experiment(self, name: str) -> Experiment:
        for experiment in self.experiments:
            if experiment.name == name:
                return experiment
        valid = ", ".join(e.name for e in self.experiments)
        raise ConfigError(f"chapter {self.name!r} has no experiment {name!r}; valid experiments: {valid}")
