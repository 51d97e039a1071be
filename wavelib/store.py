"""The results store: every experiment's artifacts, written atomically, found again by config hash.

Layout: ``<root>/<preset>/<chapter>/<experiment>-<hash>/`` holding

- ``metrics.json``  final numbers (what tables quote),
- ``history.npz``   arrays: training curves, sweeps,
- ``weights.pt``    final weights (only of models a figure analyses),
- ``meta.json``     config, seed, versions, device, wall time (and each part's), git commit.

A directory exists only once complete (written under a temporary name, then renamed). While a run is
in progress its checkpoint lives in ``<experiment>-<hash>.partial/``; a new run resumes from it.
A process killed in the middle of a write leaves its temporary names behind: :func:`find_leftovers` finds them,
:func:`remove_leftovers` removes those that are safe to remove.
The root is ``$WAVELIB_RESULTS`` or ``results/`` in the repository.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .cpu_memory import keep_freed_memory
from .devices import device_description
from .models.triton_support import fused_setting
from .presets import ConfigError
from .provenance import REPO_ROOT, git_commit, versions
from .registry import Chapter, Experiment
from .seeding import seed_everything

RESULTS_ENV = "WAVELIB_RESULTS"
QUIET_ENV = "WAVELIB_QUIET"  #: "1" turns progress bars off (book builds, papermill runs, tests)


def results_root() -> Path:
    """``$WAVELIB_RESULTS`` if set, else ``results/`` at the repository root."""
    return Path(os.environ.get(RESULTS_ENV) or REPO_ROOT / "results")


def config_hash(experiment: str, config: dict[str, Any], seed: int) -> str:
    """10 hex digits identifying (experiment, config, seed); stable across runs and machines."""
    blob = json.dumps({"experiment": experiment, "config": config, "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def artifact_dir(chapter: str, preset: str, experiment: str, config: dict[str, Any], seed: int,
                 root: Path | None = None) -> Path:
    """Where the artifact of this experiment, config and seed lives (whether or not it exists yet)."""
    name = f"{experiment}-{config_hash(experiment, config, seed)}"
    return (root or results_root()) / preset / chapter / name


@dataclasses.dataclass
class Result:
    """What an experiment function returns."""

    metrics: dict[str, Any]
    history: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    weights: dict[str, torch.Tensor] | None = None


@dataclasses.dataclass(frozen=True)
class Artifact:
    """A finished experiment on disk."""

    path: Path

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / "meta.json").read_text())

    def history(self) -> dict[str, np.ndarray]:
        with np.load(self.path / "history.npz") as data:
            return {key: data[key] for key in data.files}

    @property
    def commits(self) -> list[str]:
        """The commits of the code that trained it, attempt by attempt (older records: the one commit)."""
        meta = self.meta
        return meta.get("git_commits") or [meta["git_commit"]]

    @property
    def devices(self) -> list[str]:
        """The devices it trained on, attempt by attempt (records before devices were kept: the last one)."""
        meta = self.meta
        return meta.get("devices") or [meta["device"]]

    @property
    def nothing_trained(self) -> bool:
        """Whether it only records that its data was missing (``metrics["data"]["available"]`` False)."""
        data = self.metrics.get("data")
        return isinstance(data, dict) and data.get("available") is False

    def provenance(self) -> str:
        """How it was made, in one line: device, wall time, the commit(s) of the code that ran it, the date, and
        the execution settings that change numbers at rounding level (fused kernels, CUDA graphs), the knobs added to
        its config after it ran (``config_migrations``: the artifact moved to its new config hash, not retrained), and
        the record's ``note`` where one was added by hand (what was completed, from what). An artifact that
        only records that its data was missing (``metrics["data"]["available"]`` False) says that instead."""
        meta = self.meta
        commits = self.commits
        if self.nothing_trained:
            return (f"nothing trained: recorded on {meta['device']} ({meta['finished_utc'][:10]}) by the code of "
                    f"commit `{commits[-1]}` that its data was not available")
        seconds = meta["wall_time_s"]
        took = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min" if seconds < 5400 else \
            f"{seconds / 3600:.1f} h"
        attempts = meta.get("settings") or [  # records before settings were kept: the last attempt's
            execution_setting(meta["device"].startswith("cuda"), meta.get("fused_kernels"), meta.get("cuda_graph"))]
        settings = (["settings by attempt: " + ", then ".join(a or "plain PyTorch" for a in attempts)]
                    if len(attempts) > 1 else [a for a in attempts if a])  # more than one: the same only to rounding
        devices = self.devices
        where = ", then ".join(devices) + (f" ({meta['cpu_threads']} threads)" if devices == ["cpu"] and
                                           "cpu_threads" in meta else "")
        added = [f"`{knob}`" for migration in meta.get("config_migrations", ()) for knob in migration["added_knobs"]]
        return (f"trained on {where} in {took} by the code of commit{'s' if len(commits) > 1 else ''} "
                + ", ".join(f"`{c}`" for c in commits) + f" ({meta['finished_utc'][:10]}"
                + "".join(f"; {s}" for s in settings) + ")"
                + (f". Knobs added to its config later, at the values it ran with: {', '.join(added)}" if added else "")
                + (f". Record {meta['note']}" if meta.get("note") else ""))

    def weights(self, map_location: str = "cpu") -> dict[str, torch.Tensor]:
        path = self.path / "weights.pt"
        if not path.exists():
            raise FileNotFoundError(f"{self.path.name} stored no weights")
        return torch.load(path, map_location=map_location, weights_only=True)


def execution_setting(on_gpu: bool, fused: str | None, cuda_graph: bool | None, kernels: str = "") -> str:
    """The execution settings that change a run's numbers at rounding level, in words ("" where none apply): the
    fused-kernel setting (``$WAVELIB_FUSED``) on a GPU, the implementations the experiment's runs take
    (``kernels``: :attr:`~wavelib.registry.Experiment.kernels`), training steps in CUDA graphs."""
    return "; ".join(([f"fused kernels {fused}"] if on_gpu and fused is not None else [])
                     + ([kernels] if kernels else []) + (["training steps in CUDA graphs"] if cuda_graph else []))


class TimeBudgetReached(RuntimeError):
    """A run stopped at its time budget right after saving a checkpoint; running it again resumes it."""


class Checkpoint:
    """Resumable state of a run in progress; ``save`` is atomic, ``load`` gives None when fresh.

    A run's own checkpoint also keeps its attempts' ledger (``attempts.json`` beside it: the wall time spent and the
    commits that ran, rewritten at every save of the run or of any of its :meth:`child` checkpoints), so a resumed
    run reports its total time (up to each interrupted attempt's last save) and every commit, and knows it was
    resumed, even when the interruption came inside a child before the run itself ever saved. The ledger also
    times each child, a part of the run (a grid's run, a group of cells), over its attempts: from its creation or
    :meth:`start_clock` to its last save, and once the run's save lists it as finished, in :attr:`part_s`.
    With a ``deadline`` (a ``time.monotonic()`` value), the first ``save`` after it raises
    :class:`TimeBudgetReached` once the state is safely on disk: a run stops cleanly at a budget.
    """

    LEDGER = "attempts.json"

    def __init__(self, directory: Path, deadline: float | None = None, commit: str | None = None,
                 run: "Checkpoint | None" = None, device: str | None = None, setting: str | None = None):
        self.path = directory / "checkpoint.pt"
        self.deadline = deadline
        self.commit = commit
        self.device = device  #: this attempt's device, in words (:func:`device_description`)
        self.setting = setting  #: this attempt's execution settings, in words (:func:`execution_setting`)
        self.run = run  #: the run's own checkpoint, for a child; None for the run's own
        self.name = "" if run is None else self.path.parent.relative_to(run.path.parent).as_posix()
        self.part_s: dict[str, float] = {}  #: a run's finished children: each one's wall time (s), every attempt's
        self._parts_saved_s: dict[str, float] = {}  # a run's children in progress: each one's time at its last save
        self._lock = threading.Lock()  # a run's: its ledger is written from its children's threads
        self._started = time.perf_counter()
        self._before_s = 0.0  # a run's time in earlier attempts; a child's own
        self.resumed = False
        self.earlier_commits: list[str] = []
        self.earlier_devices: list[str] = []
        self.earlier_settings: list[str] = []
        self._ledger_read = False
        if run is None:
            self._read_ledger()
        else:
            self._before_s = run._parts_saved_s.get(self.name, 0.0)

    def _read_ledger(self) -> None:
        ledger = self.path.parent / self.LEDGER
        if not ledger.exists():
            return
        try:
            saved = json.loads(ledger.read_text())
            self._before_s, self.earlier_commits = float(saved["elapsed_s"]), list(saved["commits"])
            self.earlier_devices = list(saved.get("devices", []))  # ledgers before devices were kept: none known
            self.earlier_settings = list(saved.get("settings", []))  # nor settings
            self.part_s = {str(k): float(v) for k, v in saved.get("parts", {}).items()}  # nor parts
            self._parts_saved_s = {str(k): float(v) for k, v in saved.get("parts_in_progress", {}).items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"the run ledger {ledger} cannot be read ({type(exc).__name__}: {str(exc)[:200]}): "
                              "delete it (the run then reports only this attempt's time)") from exc
        self.resumed = self._ledger_read = True

    def _write_ledger(self) -> None:
        """Record the run's wall time so far, its commits and devices, and its parts' times (atomically; called
        from any thread, with the run's lock held)."""
        ledger = self.path.parent / self.LEDGER
        tmp = ledger.with_name(f"{self.LEDGER}.tmp-{uuid.uuid4().hex}")
        tmp.write_text(json.dumps({"elapsed_s": self.elapsed_s(), "commits": self.commits(),
                                   "devices": self.devices(), "settings": self.settings(),
                                   "saved_unix_s": time.time(), "parts": self.part_s,
                                   "parts_in_progress": self._parts_saved_s}))
        os.replace(tmp, ledger)

    def load(self) -> Any | None:
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # truncated or overwritten: not something to resume from
            raise ConfigError(f"the checkpoint {self.path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}): "
                              "delete it to start that part of the run again") from exc
        if self.run is None:
            self.resumed = True
            if not self._ledger_read:  # a checkpoint written before the ledger existed carries the time itself
                self._before_s, self.earlier_commits = saved.get("elapsed_s", 0.0), saved.get("commits", [])
        return saved["state"]

    def commits(self) -> list[str]:
        """The commits of the code that ran this run, attempt by attempt (each once, oldest first)."""
        if self.run is not None:
            return self.run.commits()
        return list(dict.fromkeys(self.earlier_commits + ([self.commit] if self.commit else [])))

    def devices(self) -> list[str]:
        """The devices the run trained on, attempt by attempt (each once, oldest first; a resumed run is the same
        to rounding only on the device it started on)."""
        if self.run is not None:
            return self.run.devices()
        return list(dict.fromkeys(self.earlier_devices + ([self.device] if self.device else [])))

    def settings(self) -> list[str]:
        """The execution settings the run trained with, attempt by attempt (each once, oldest first): a run resumed
        with other settings (CUDA graphs, fused kernels) is the same only to rounding."""
        if self.run is not None:
            return self.run.settings()
        return list(dict.fromkeys(self.earlier_settings + ([self.setting] if self.setting is not None else [])))

    def save(self, state: Any, finished: Sequence["Checkpoint"] = ()) -> None:
        """Write ``state`` atomically, and the run's ledger; then delete the files of the ``finished`` children,
        whose results ``state`` now holds (so a run's folder keeps only the checkpoints still needed to resume)."""
        for child in finished:
            if child.path.parent.parent != self.path.parent:
                raise ValueError(f"{child.path} is not a child of {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"checkpoint.tmp-{uuid.uuid4().hex}")
        torch.save({"state": state}, tmp)  # time and commits go to the run's ledger
        os.replace(tmp, self.path)
        run = self.run or self
        with run._lock:
            if self.run is not None:
                run._parts_saved_s[self.name] = self.own_elapsed_s()
            for child in finished:
                run.part_s[child.name] = child.own_elapsed_s()
                run._parts_saved_s.pop(child.name, None)
            run._write_ledger()
        for child in finished:
            shutil.rmtree(child.path.parent, ignore_errors=True)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise TimeBudgetReached(f"stopped at the time budget after saving {self.path}; "
                                    "run the same command again to resume")

    def elapsed_s(self) -> float:
        """Wall time of the run so far (s): this attempt's, plus each earlier attempt's up to its last save."""
        return (self.run or self).own_elapsed_s()

    def own_elapsed_s(self) -> float:
        """This checkpoint's own wall time (s): this attempt's since its creation or :meth:`start_clock`, plus each
        earlier attempt's up to its last save (a child's: its part's; a run's own: :meth:`elapsed_s`)."""
        return self._before_s + time.perf_counter() - self._started

    def start_clock(self) -> None:
        """Count this attempt's time of a child from now (one made before its part begins, as a grid makes them)."""
        self._started = time.perf_counter()

    def child(self, name: str) -> "Checkpoint":
        """A separate checkpoint inside this run's folder, e.g. for one cell of a grid of trainings."""
        return Checkpoint(self.path.parent / name, self.deadline, self.commit, run=self.run or self, device=self.device,
                          setting=self.setting)

    def stop_at_next_save(self) -> None:
        """Make the next ``save`` (from any thread) raise :class:`TimeBudgetReached` once the state is on disk."""
        self.deadline = time.monotonic()


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What an experiment function gets besides its config."""

    device: torch.device
    seed: int
    rng: np.random.Generator
    checkpoint: Checkpoint
    label: str
    workers: int = 1  #: runs of a grid trained at the same time (:func:`wavelib.grid.train_runs`)
    cuda_graph: bool = False  #: capture training steps in CUDA graphs where the experiment can (Chapter 5)

    def progress(self, iterable: Any = None, **kwargs: Any) -> tqdm:
        """A ``tqdm.auto`` progress bar labelled with the experiment."""
        kwargs.setdefault("desc", self.label)
        kwargs.setdefault("leave", False)
        kwargs.setdefault("disable", os.environ.get(QUIET_ENV) == "1")
        return tqdm(iterable, **kwargs)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def _publish(result: Result, meta: dict[str, Any], final: Path) -> None:
    """Write all files into a temporary sibling directory, then rename it into place; where that raises an error,
    the temporary directory goes and an artifact that was there stays."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        _write_json(tmp / "metrics.json", result.metrics)
        np.savez_compressed(tmp / "history.npz", **{k: np.asarray(v) for k, v in result.history.items()})
        if result.weights is not None:
            torch.save({k: v.detach().cpu() for k, v in result.weights.items()}, tmp / "weights.pt")
        _write_json(tmp / "meta.json", meta)
        if final.exists():
            old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex}")
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)  # the artifact that was there stays
                raise
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except Exception:  # an error the process outlives (a full disk); a kill, or an interrupt, leaves it to `clean`
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _finished_utc(folder: Path) -> str:
    """The ``finished_utc`` its ``meta.json`` records ("" where there is none or it does not read)."""
    try:
        return str(Artifact(folder).meta.get("finished_utc", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _recover(final: Path, partial: Path) -> None:
    """Undo what a kill in the middle of :func:`_publish` or right after it leaves: the old artifact moved aside
    (``.old-``) with no artifact in its place goes back; a checkpoint older than the finished artifact goes
    (:func:`_stale`).

    Of several ``.old-`` folders the one whose ``meta.json`` records the latest finish goes back: an earlier
    publication killed while deleting its ``.old-`` leaves an older version, half deleted, whose folder was
    modified last (by the deletion)."""
    if not final.exists():
        olds = [old for old in final.parent.glob(f"{final.name}.old-*") if _finished_utc(old)]
        if olds:
            os.replace(max(olds, key=_finished_utc), final)
    if final.exists() and partial.exists() and _stale(partial, final):
        shutil.rmtree(partial, ignore_errors=True)


def _stale(partial: Path, final: Path) -> bool:
    """Whether the checkpoint folder ``partial`` was last saved before the artifact ``final`` finished: what a kill
    right after a publication leaves. Judged by the times their records hold where both have one (a checkout gives
    every file a new time, so a stopped ``--retrain`` committed beside its artifact must not go by them); else by
    the files' times."""
    saved = _read_json(partial / Checkpoint.LEDGER).get("saved_unix_s")
    finished = _finished_utc(final)
    if isinstance(saved, (int, float)) and finished:  # finished_utc is whole seconds, rounded down
        return saved < calendar.timegm(time.strptime(finished, "%Y-%m-%dT%H:%M:%SZ")) + 1
    return partial.stat().st_mtime < (final / "meta.json").stat().st_mtime


def _check_writable(folder: Path) -> None:
    """Raise :class:`ConfigError` unless files can be written in ``folder`` (made if missing): before any work,
    not at the first checkpoint."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"0")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"the results store cannot be written at {folder} ({type(exc).__name__}: {exc}); "
                          f"point ${RESULTS_ENV} at a writable folder") from exc


def run_experiment(chapter: Chapter, experiment: Experiment, config: Any, *, preset: str, seed: int,
                   device: torch.device, retrain: bool = False, root: Path | None = None,
                   deadline: float | None = None, workers: int = 1, cuda_graph: bool = False,
                   resume: str | None = None) -> Artifact:
    """Load the experiment's artifact if it exists (and not ``retrain``), else run it and store it.

    A run interrupted before it finished resumes from its checkpoint. With a ``deadline``
    (``time.monotonic()``), the run raises :class:`TimeBudgetReached` at its first checkpoint after it.
    ``workers``: the runs of its grid trained at the same time (:func:`wavelib.grid.train_runs`; the artifact
    does not depend on it). ``cuda_graph``: training steps captured in CUDA graphs where the experiment can (the same
    results to rounding; ``meta.json`` records it, as it records the fused-kernel setting). ``resume``: the command
    that resumes this run, kept in its ``.partial`` folder (``run.json``) for :func:`stored_partials` until it ends.
    A run on the CPU keeps the memory it frees (:func:`~wavelib.cpu_memory.keep_freed_memory`).
    """
    final = artifact_dir(chapter.name, preset, experiment.name, config.to_dict(), seed, root)
    partial = final.with_name(final.name + ".partial")
    _recover(final, partial)
    if final.exists() and not retrain:
        return Artifact(final)
    if retrain and partial.exists():
        shutil.rmtree(partial)
    if experiment.cpu_only:
        device = torch.device("cpu")
    if device.type == "cpu":
        keep_freed_memory()
    if cuda_graph and not (experiment.cuda_graph and device.type == "cuda"):
        raise ConfigError(f"{chapter.name}/{experiment.name} cannot capture its training steps in CUDA graphs "
                          f"on {device}: only experiments that offer it, on a CUDA device")
    _check_writable(final.parent)
    first = bool(resume) and not (partial / RUN_FILE).exists()
    if first:  # the first attempt's command: later ones repeat it
        partial.mkdir(exist_ok=True)
        tmp = partial / f"{RUN_FILE}.tmp-{uuid.uuid4().hex}"
        tmp.write_text(json.dumps({"resume": resume}))
        os.replace(tmp, partial / RUN_FILE)
    checkpoint = Checkpoint(partial, deadline, commit=git_commit(),  # the code that runs: read before it runs
                            device=device_description(device),
                            setting=execution_setting(device.type == "cuda", fused_setting(), cuda_graph,
                                                      experiment.kernels(config, device) if experiment.kernels else ""))
    ctx = RunContext(device=device, seed=seed, rng=seed_everything(seed), checkpoint=checkpoint,
                     label=f"{chapter.name}/{experiment.name}", workers=workers, cuda_graph=cuda_graph)
    try:
        result = experiment.fn(config, ctx)
    except BaseException:
        # a first attempt that failed before saving anything (data that would not download): nothing to resume
        if first and [p.name for p in partial.iterdir()] == [RUN_FILE]:
            shutil.rmtree(partial)
        raise
    meta = {
        "chapter": chapter.name,
        "experiment": experiment.name,
        "preset": preset,
        "config": config.to_dict(),
        "seed": seed,
        "device": checkpoint.device,
        "cpu_threads": torch.get_num_threads(),  # CPU results depend on it (how float sums are split)
        "platform": platform.platform(),
        "versions": versions(),
        "fused_kernels": fused_setting(),
        "cuda_graph": cuda_graph,
        "git_commit": checkpoint.commit,
        "wall_time_s": round(checkpoint.elapsed_s(), 3),
        "part_wall_time_s": {name: round(s, 3) for name, s in checkpoint.part_s.items()},
        "resumed": checkpoint.resumed,
        "git_commits": checkpoint.commits(),
        "devices": checkpoint.devices(),
        "settings": checkpoint.settings(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _publish(result, meta, final)
    shutil.rmtree(partial, ignore_errors=True)
    return Artifact(final)


_ARTIFACT_NAME = r"\w+-[0-9a-f]{10}"  #: an artifact folder's name, as :func:`artifact_dir` makes it
_UUID = r"[0-9a-f]{32}"  #: the suffix of a temporary name (``uuid4().hex``)
LEFTOVER_MIN_AGE_S = 600.0  #: :func:`remove_leftovers` leaves younger leftovers alone (s)
RUN_FILE = "run.json"  #: in a ``.partial`` folder: how the run was started (the command that resumes it)


def stored_artifacts(root: Path | None = None) -> list[Artifact]:
    """Every finished artifact under the results root, sorted by path: folders named as :func:`artifact_dir` names
    them (not a ``.partial`` checkpoint, nor a ``.tmp-``/``.old-`` folder of a publication under way)."""
    base = root or results_root()
    return [Artifact(meta.parent) for meta in sorted(base.glob("*/*/*/meta.json"))
            if re.fullmatch(_ARTIFACT_NAME, meta.parent.name)]


@dataclasses.dataclass(frozen=True)
class PartialRun:
    """A run stopped before it finished (a time budget, a kill, an error): its ``.partial`` checkpoint folder."""

    path: Path
    elapsed_s: float | None  #: wall time its attempts spent, up to each one's last save (None: no ledger)
    commits: tuple[str, ...]  #: the code of each attempt
    devices: tuple[str, ...]  #: the device of each attempt
    done: tuple[str, ...] | None  #: the parts (grid runs, cells) finished, held in its own checkpoint (None: not known)
    in_progress: tuple[str, ...]  #: checkpoint folders of parts (or groups of parts) begun, not finished
    part_s: dict[str, float]  #: the finished checkpoint folders' wall times (s), from its ledger (empty: none known)
    age_s: float  #: time since its last save (s): its ledger's record (a checkout's files are all new), else mtimes
    resume: str | None  #: the command that started it, which resumes it (None: not recorded)
    replaces: bool  #: its artifact is stored: a ``--retrain`` stopped early, which cannot resume (it starts over)

    @property
    def finished(self) -> int | None:
        """How many parts it has finished (None: not known)."""
        return None if self.done is None else len(self.done)


def first_names(names: Sequence[str], shown: int = 3) -> str:
    """``names`` in words: the first ``shown`` of them, then how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty if missing or unreadable (a listing must not fail on one bad file)."""
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _parts_finished(checkpoint: Path) -> tuple[str, ...] | None:
    """The parts a run's own checkpoint holds as finished (its ``done`` list); None where it has none or cannot be
    read."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state"]
    except Exception:  # missing, or a listing must not fail on one bad file
        return None
    done = state.get("done") if isinstance(state, dict) else None
    return tuple(str(key) for key in done) if isinstance(done, list) else None


def stored_partials(root: Path | None = None) -> list[PartialRun]:
    """Every ``.partial`` checkpoint folder under the results root, sorted by path; ``python -m wavelib train``
    with the options that started a run resumes it."""
    base = root or results_root()
    return [partial for path in sorted(base.glob("*/*/*.partial"))
            if re.fullmatch(rf"{_ARTIFACT_NAME}\.partial", path.name) and (partial := partial_run(path))]


def partial_run(path: Path) -> PartialRun | None:
    """The stopped run whose ``.partial`` checkpoint folder is ``path``; None where there is no such folder."""
    if not path.is_dir():
        return None
    saved, run = (_read_json(path / name) for name in (Checkpoint.LEDGER, RUN_FILE))
    checkpoints = list(path.rglob("checkpoint.pt"))
    parts = tuple(sorted(c.parent.relative_to(path).as_posix() for c in checkpoints if c.parent != path))
    recorded = saved.get("saved_unix_s")
    saves = [float(recorded)] if isinstance(recorded, (int, float)) else [
        f.stat().st_mtime for f in [*checkpoints, path / Checkpoint.LEDGER] if f.exists()]
    return PartialRun(path, saved.get("elapsed_s"), tuple(saved.get("commits", ())), tuple(saved.get("devices", ())),
                      _parts_finished(path / "checkpoint.pt"), parts, dict(saved.get("parts", {})),
                      time.time() - max(saves, default=path.stat().st_mtime), run.get("resume"),
                      (path.with_name(path.name.removesuffix(".partial")) / "meta.json").exists())


@dataclasses.dataclass(frozen=True)
class Leftover:
    """A temporary file or folder that a process killed in the middle of a write left in the results store."""

    path: Path
    size_bytes: int  #: of all the files in it
    age_s: float  #: time since anything in it was last modified (s)
    keep: str | None = None  #: why cleaning leaves it alone, and what to do instead; None: it may go


def _size_and_newest(path: Path) -> tuple[int, float]:
    """The total size of the files at or under ``path`` (bytes) and their newest modification time (s since the
    epoch; now if something vanished while being read: a process is at work there). Links are not followed."""
    entries = [path]
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            entries += [Path(folder, name) for name in dirs + files]
    size, newest = 0, 0.0
    for entry in entries:
        try:
            info = entry.lstat()
        except FileNotFoundError:
            return size, time.time()
        newest = max(newest, info.st_mtime)
        size += 0 if stat.S_ISDIR(info.st_mode) else info.st_size
    return size, newest


def find_leftovers(root: Path | None = None) -> list[Leftover]:
    """Every leftover of an interrupted write under the results root, sorted by path; removes nothing.

    Leftovers: an artifact's publication (:func:`_publish`) under way or killed, ``<name>.tmp-<uuid>/`` (the new files)
    and ``<name>.old-<uuid>/`` (the artifact it replaces, moved aside); inside a ``.partial`` checkpoint folder, a
    checkpoint, ledger or run record never renamed into place, ``checkpoint.tmp-<uuid>``, ``attempts.json.tmp-<uuid>``
    and ``run.json.tmp-<uuid>``; in a chapter's folder, the probe file of a writability check, ``.write-test-<uuid>``.
    Finished artifacts, ``.partial`` folders and the checkpoints in them are never leftovers. Where the artifact folder
    is missing (a kill between the two renames of a publication), an ``.old-`` folder, and a ``.tmp-`` folder holding
    ``meta.json`` (written last), may be the artifact's only copy: they come with ``keep``, the way to put them back. An
    ``.old-`` folder's age counts its artifact's files too: a publication that has just renamed the new artifact into
    place is about to remove it.
    """
    base = root or results_root()
    found = []
    for path in base.glob("*/*/*"):
        moved = re.fullmatch(rf"({_ARTIFACT_NAME})\.(tmp|old)-{_UUID}", path.name)
        if moved and path.is_dir():
            final = path.with_name(moved[1])
            size, newest = _size_and_newest(path)
            keep = None
            if final.exists():
                if moved[2] == "old":  # a publication that has just put the new artifact in place removes it next
                    newest = max(newest, _size_and_newest(final)[1])
            elif moved[2] == "old" or (path / "meta.json").exists():
                what = "the version a publication replaced" if moved[2] == "old" else "a new version written in full"
                keep = (f"{final.name} is missing and this, {what}, may be its only copy: "
                        f"`mv {shlex.quote(str(path))} {shlex.quote(str(final))}` puts it in place")
            found.append(Leftover(path, size, time.time() - newest, keep))
        elif re.fullmatch(rf"\.write-test-{_UUID}", path.name) and path.is_file():  # a probe of _check_writable
            size, newest = _size_and_newest(path)
            found.append(Leftover(path, size, time.time() - newest))
        elif re.fullmatch(rf"{_ARTIFACT_NAME}\.partial", path.name) and path.is_dir():
            for folder, _, files in os.walk(path):
                for name in files:
                    if re.fullmatch(rf"(checkpoint|{re.escape(Checkpoint.LEDGER)}|{re.escape(RUN_FILE)})\.tmp-{_UUID}",
                                    name):
                        size, newest = _size_and_newest(Path(folder, name))
                        found.append(Leftover(Path(folder, name), size, time.time() - newest))
    return sorted(found, key=lambda leftover: leftover.path)


def remove_leftovers(root: Path | None = None, min_age_s: float = LEFTOVER_MIN_AGE_S,
                     dry_run: bool = False) -> list[Leftover]:
    """Remove the leftovers of :func:`find_leftovers` that are safe to remove, and return them (``dry_run``: return
    them and remove nothing). Safe: without ``keep`` (not an artifact's possible only copy), and nothing in it
    modified for ``min_age_s`` seconds (default 10 min), so that what a running process is writing right now stays.
    Finished artifacts and ``.partial`` checkpoint folders are never removed."""
    removable = [leftover for leftover in find_leftovers(root) if leftover.keep is None and
                 leftover.age_s >= min_age_s]
    if not dry_run:
        for leftover in removable:
            if leftover.path.is_dir():
                shutil.rmtree(leftover.path)
            else:
                leftover.path.unlink(missing_ok=True)
    return removable
