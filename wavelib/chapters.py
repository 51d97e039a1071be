"""The chapter registry, and the session a chapter notebook (or the CLI) opens.

A notebook's first code cell after its ``parameters`` cell is::

    book = open_chapter("twm_theory", preset=preset, device=device, seed=seed)
    book.banner()

which validates everything and checks for missing paper-scale artifacts before any work starts. A section
whose artifact may be missing at the paper preset (it is trained on a GPU, and chapters land piece by piece)
asks for it with ``book.available(name)`` and renders only when it is there; the page says what is missing.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data.cache import DataUnavailableError
from .devices import DEVICE_ENV, device_description, resolve_device
from .experiments import spectrum, twm_theory, vwave, wave_rnn_images, wave_rnn_tasks
from .models.triton_support import FUSED_ENV, fused_setting
from .presets import ConfigError, resolve_preset
from .provenance import git_commit
from .registry import Chapter, Experiment
from .reporting import as_markdown, display_markdown
from .store import Artifact, PartialRun, artifact_dir, first_names, partial_run, results_root, run_experiment

CHAPTERS: dict[str, Chapter] = {chapter.name: chapter for chapter in (twm_theory.CHAPTER, spectrum.CHAPTER,
                                                                     wave_rnn_tasks.CHAPTER, wave_rnn_images.CHAPTER,
                                                                     vwave.CHAPTER)}


def get_chapter(name: str) -> Chapter:
    """The registered chapter called ``name`` (error lists the valid names)."""
    if name not in CHAPTERS:
        raise ConfigError(f"unknown chapter {name!r}; valid chapters: {', '.join(CHAPTERS)}")
    return CHAPTERS[name]


class MissingArtifactsError(RuntimeError):
    """Paper-scale artifacts needed on a CPU machine are not in the results store."""


class ChapterSession:
    """One chapter at one preset, device and seed: its config, its artifacts, its provenance."""

    #: what a claims table says for a number whose experiment :meth:`available` left out
    not_computed = "not computed yet at this preset (see the notes above)"

    def __init__(self, chapter: Chapter, preset: str, device_name: str, seed: int, root: Path | None,
                 overrides: dict[str, Any]):
        if isinstance(seed, np.integer):
            seed = int(seed)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.chapter = chapter
        self.preset = preset
        self.device = resolve_device(device_name)
        self.seed = seed
        self.root = root or results_root()
        self.config = chapter.config(preset, **overrides)
        self.overrides = dict(overrides)

    def artifact_path(self, experiment: str) -> Path:
        return artifact_dir(self.chapter.name, self.preset, experiment, self.config.to_dict(), self.seed,
                            self.root)

    def stopped_run(self, experiment: str) -> PartialRun | None:
        """The run of ``experiment`` at this session's config that stopped before it finished, if the store holds
        one (its ``.partial`` folder) and it can resume (not a ``--retrain`` of a stored artifact)."""
        path = self.artifact_path(experiment)
        stopped = partial_run(path.with_name(f"{path.name}.partial"))
        return None if stopped is None or stopped.replaces else stopped

    def how_to_make(self, name: str) -> str:
        """Markdown: how the missing artifact of experiment ``name`` gets made: how far a stopped run of it got and
        the command that resumes it, or the command that makes it."""
        stopped = self.stopped_run(name)
        if stopped is None:
            return f"Make it on a GPU with `{self.make_command([name])}`."
        done = (f"{len(stopped.done)} part(s) finished ({first_names(stopped.done)})" if stopped.done
                else "no part finished")
        if stopped.in_progress:
            done += f", {first_names(stopped.in_progress)} in progress"
        spent = "" if stopped.elapsed_s is None else f" after {stopped.elapsed_s / 60:.1f} min"
        where = f" on {', then '.join(stopped.devices)}" if stopped.devices else ""
        make = self.make_command([name])
        gpu = ""
        if " --device cpu " in (stopped.resume or "") and stopped.devices == ("cpu",) and " --device cuda " in make:
            gpu = (f"; on a GPU, `{make}` trains the parts not finished, with no checkpoint of a part in progress "
                   "left in the store (git keeps none: a part resumes only on the device it started on)")
        return (f"A run of it stopped before it finished is in the results store{spent}{where}: {done}. Its "
                f"numbers are not shown until every part has finished; "
                f"`{stopped.resume or make}` resumes it{gpu}.")

    @property
    def experiments(self) -> tuple[Experiment, ...]:
        """The chapter's experiments that have work at this session's config."""
        return self.chapter.experiments_for(self.config)

    def needs_training_elsewhere(self) -> list[Experiment]:
        """Experiments this machine should not train (GPU-scale on a CPU device) whose artifacts are absent."""
        if self.device.type != "cpu":
            return []
        return [e for e in self.experiments
                if self.preset in e.gpu_presets and not self.artifact_path(e.name).exists()]

    def changed_knobs(self) -> list[str]:
        """``NAME=VALUE`` (a Python literal, as the config holds it) for each knob overridden from the preset."""
        return [f"{name}={getattr(self.config, name)!r}" for name in self.overrides]

    def train_command(self, experiments: Sequence[str] = (), device: str = "cuda", cuda_graph: bool = False) -> str:
        """The command that makes this session's artifacts (only ``experiments``, if given) on ``device`` (a GPU by
        default), its knob overrides included; with ``cuda_graph``, its training steps in CUDA graphs."""
        knobs = "".join(f" --set {shlex.quote(knob)}" for knob in self.changed_knobs())
        only = "".join(f" --experiment {name}" for name in experiments)
        heavy = any(self.preset in e.gpu_presets for e in self.experiments if not experiments or e.name in experiments)
        return (f"python -m wavelib train {self.chapter.name} --preset {self.preset} --device {device} "
                f"--seed {self.seed}{knobs}{only}" + (" --allow-cpu" if device == "cpu" and heavy else "")
                + (" --cuda-graph" if cuda_graph else ""))

    def make_command(self, missing: Sequence[str]) -> str:
        """The command that makes the experiments ``missing``: on a GPU where one of them is meant for one at this
        preset, on the CPU otherwise; with ``--cuda-graph`` where every one of them can capture its steps and this
        chapter's stored artifacts at this preset were trained so (the same protocol)."""
        heavy = any(self.preset in self.chapter.experiment(name).gpu_presets for name in missing)
        graphed = heavy and all(self.chapter.experiment(name).cuda_graph for name in missing) and any(
            Artifact(self.artifact_path(e.name)).meta.get("cuda_graph") for e in self.experiments
            if (self.artifact_path(e.name) / "meta.json").exists())
        return self.train_command(missing, "cuda" if heavy else "cpu", cuda_graph=graphed)

    def resume_command(self, name: str, cuda_graph: bool = False) -> str:
        """The command that trains experiment ``name`` as this session does, so that it resumes a run of it stopped
        before it finished: on this device, with ``$WAVELIB_FUSED=0`` where the fused kernels are off (a checkpoint
        resumes only on the path it started on)."""
        off = f"{FUSED_ENV}=0 " if fused_setting() == "off" else ""
        return off + self.train_command([name], str(self.device), cuda_graph)

    def check_data(self, names: Sequence[str], retrain: bool = False) -> None:
        """Raise :class:`~wavelib.data.cache.DataUnavailableError`, before any work, where an experiment of
        ``names`` still to be trained (its artifact missing, or ``retrain``) cannot get its data here."""
        for name in names:
            experiment = self.applicable(name)
            if experiment.data_problem is None or (self.artifact_path(name).exists() and not retrain):
                continue
            problem = experiment.data_problem(self.config)
            if problem:
                raise DataUnavailableError(f"{self.chapter.name}/{name}: {problem}")

    def check_artifacts(self) -> None:
        """Raise :class:`MissingArtifactsError` (saying how to make them) if none of the artifacts this machine
        must not train is stored: the chapter would have nothing to show. Some stored: the page renders those
        (see :meth:`available`) and says which are missing."""
        missing = self.needs_training_elsewhere()
        heavy = [e for e in self.experiments if self.preset in e.gpu_presets]
        if missing and len(missing) == len(heavy):
            paths = "\n".join(f"  - {e.name}: {self.artifact_path(e.name)}" for e in missing)
            raise MissingArtifactsError(
                f"Chapter '{self.chapter.name}' at preset '{self.preset}' needs paper-scale artifacts that "
                f"are not in the results store and are too heavy to train on this CPU:\n{paths}\n"
                f"Make them on a GPU machine with:\n  {self.train_command()}\n"
                f"then copy results/{self.preset}/{self.chapter.name}/ here (or use --preset cpu)."
            )

    def experiment(self, name: str, retrain: bool = False, deadline: float | None = None,
                   workers: int = 1, cuda_graph: bool = False) -> Artifact:
        """The artifact of experiment ``name``: loaded if stored, else computed here and stored (stopping
        with :class:`~wavelib.store.TimeBudgetReached` at the first checkpoint after ``deadline``; ``workers``
        runs of its grid at the same time; training steps in CUDA graphs with ``cuda_graph``)."""
        return run_experiment(self.chapter, self.applicable(name), self.config, preset=self.preset,
                              seed=self.seed, device=self.device, retrain=retrain, root=self.root,
                              deadline=deadline, workers=workers, cuda_graph=cuda_graph,
                              resume=self.resume_command(name, cuda_graph))

    def applicable(self, name: str) -> Experiment:
        """Experiment ``name``; :class:`ConfigError` if the chapter has none or it has no work at this config."""
        experiment = self.chapter.experiment(name)
        if experiment not in self.experiments:
            raise ConfigError(f"experiment {name!r} of chapter {self.chapter.name!r} has nothing to do at these "
                              f"settings ({experiment.description}); those that do: "
                              f"{', '.join(e.name for e in self.experiments)}")
        return experiment

    def available(self, name: str) -> Artifact | None:
        """The artifact of experiment ``name`` as :meth:`experiment` gives it, with a line on the page saying how
        it was made (:meth:`~wavelib.store.Artifact.provenance`); or None where this machine must not train it and
        it is not stored yet (then a note on the page says so and how to make it), or where it has nothing to do
        at this config (no note)."""
        if self.chapter.experiment(name) not in self.experiments:
            return None
        if name in {e.name for e in self.needs_training_elsewhere()}:
            display_markdown(f"**Not computed yet at the `{self.preset}` preset:** `{name}` "
                             f"({self.chapter.experiment(name).description}), so this part of the page is left "
                             f"out. {self.how_to_make(name)}")
            return None
        artifact = self.experiment(name)
        display_markdown(f"*`{name}`: {artifact.provenance()}.*")  # the banner names the machine rendering the page
        return artifact

    def provenance(self) -> dict[str, str]:
        return {"chapter": f"{self.chapter.number}. {self.chapter.title}", "preset": self.preset,
                "device": device_description(self.device), "seed": str(self.seed), "commit": git_commit()}

    def paper_scale_status(self) -> str:
        """Whether this chapter's paper-scale artifacts exist in the store, said so a reader sees it."""
        if self.preset == "paper":
            missing = [e.name for e in self.needs_training_elsewhere()]
            if not missing:
                return ""
            stopped = [m for m in missing if self.stopped_run(m)]
            return (f"**Paper-scale results not computed yet** for {', '.join(f'`{m}`' for m in missing)}: "
                    f"the parts of this page that need them are left out, each with a note. Make them with "
                    f"`{self.make_command(missing)}`."
                    + (f" Runs of {', '.join(f'`{m}`' for m in stopped)} stopped part-way: their notes say how far "
                       "they got." if stopped else ""))
        paper = ChapterSession(self.chapter, "paper", "cpu", self.seed, self.root, {})
        missing = [e.name for e in paper.experiments if not paper.artifact_path(e.name).exists()]
        if not missing:
            return ("Paper-scale results are in the results store: `python -m wavelib book --preset paper` "
                    "renders this chapter from them.")
        stored = [e.name for e in paper.experiments if e.name not in missing]
        text = (f"**Paper-scale results not computed yet** ({', '.join(missing)}): the numbers below come from "
                f"the reduced `{self.preset}` preset. Make them with `{paper.make_command(missing)}`.")
        if stored:
            text += (f" Stored at paper scale already: {', '.join(stored)} (`python -m wavelib book --preset paper` "
                     "renders those parts).")
        return text

    def banner(self) -> Any:
        """Markdown: what produced this page, and whether paper-scale results exist (displayed in notebooks)."""
        p = self.provenance()
        text = (f"**Produced with** preset `{p['preset']}` · device `{p['device']}` · seed `{p['seed']}` · "
                f"wavelib commit `{p['commit']}`")
        if self.overrides:
            changed = ", ".join(f"`{knob}`" for knob in self.changed_knobs())
            text += f"\n\n**Knobs changed from the `{self.preset}` preset:** {changed}: not the preset's protocol."
        status = self.paper_scale_status()
        if status:
            text += f"\n\n{status}"
        return as_markdown(text)


def open_chapter(name: str, preset: str | None = None, device: str | None = None, seed: int = 0,
                 root: Path | None = None, check: bool = False, **overrides: Any) -> ChapterSession:
    """Validate the chapter, preset (``$WAVELIB_PRESET``), device (``$WAVELIB_DEVICE``, default cpu),
    seed and knob overrides, and (``check``: ``python -m wavelib run``) fail early if the chapter has none of the
    paper-scale artifacts it needs from another machine (see :meth:`ChapterSession.check_artifacts`). Without
    ``check`` (a notebook, the book) the page renders what is stored and says what is not."""
    if device is None and os.environ.get(DEVICE_ENV):
        device = os.environ[DEVICE_ENV]
        try:
            resolve_device(device)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (the device came from ${DEVICE_ENV})") from exc
    session = ChapterSession(get_chapter(name), resolve_preset(preset), "cpu" if device is None else device, seed,
                             root, overrides)
    if check:
        session.check_artifacts()
    return session
