"""``python -m wavelib``: list chapters and artifacts, train experiments, run chapters, build the book, clean the
results store of what interrupted writes left."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from pathlib import Path

from .chapters import CHAPTERS, MissingArtifactsError, open_chapter
from .data.cache import DataUnavailableError
from .devices import DEVICE_ENV
from .performance import parts_text
from .presets import PRESET_ENV, PRESETS, ConfigError, resolve_preset
from .provenance import REPO_ROOT
from .reporting import WIDGETS_ENV
from .store import (LEFTOVER_MIN_AGE_S, QUIET_ENV, Leftover, PartialRun, TimeBudgetReached, find_leftovers,
                    first_names, remove_leftovers, results_root, stored_artifacts, stored_partials)


def _knob(text: str) -> tuple[str, object]:
    """``KNOB=VALUE`` from the command line; VALUE is a Python literal (3, 0.5, 'x', (1, 2)) or a bare string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected KNOB=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def _list(args: argparse.Namespace) -> int:
    print("Chapters:")
    for chapter in CHAPTERS.values():
        print(f"  {chapter.number}. {chapter.name:<14} {chapter.title}  [{chapter.notebook}]")
        print(f"     reproduces: {chapter.reproduces}")
        for experiment in chapter.experiments:
            gpu = f" (GPU at: {', '.join(experiment.gpu_presets)})" if experiment.gpu_presets else ""
            print(f"     experiment {experiment.name}: {experiment.description}{gpu}")
        for preset, config in chapter.presets.items():
            print(f"     {preset:<6} {', '.join(f'{k}={v}' for k, v in config.to_dict().items())}")
    print("\nPresets:")
    for name, text in PRESETS.items():
        print(f"  {name:<6} {text}")
    root = results_root()
    artifacts = stored_artifacts(root)
    print(f"\nArtifacts in {root} ({len(artifacts)}):")
    for artifact in artifacts:
        meta = artifact.meta
        parts = meta.get("part_wall_time_s")
        print(f"  {artifact.path.relative_to(root)}  seed {meta['seed']}, {meta['device']}, "
              f"{meta['wall_time_s']:.1f} s{f' (parts: {parts_text(parts)})' if parts else ''}, "
              f"commit {meta['git_commit']}")
    partials = stored_partials(root)
    if partials:
        print(f"\nRuns stopped before they finished in {root} ({len(partials)}; the command that started one "
              "resumes it):")
        for partial in partials:
            print(f"  {_describe_partial(partial, root)}")
    leftovers = find_leftovers(root)
    if leftovers:
        print(f"\nLeftovers of interrupted writes in {root} ({len(leftovers)}, "
              f"{_size(sum(leftover.size_bytes for leftover in leftovers))}; `python -m wavelib clean` removes those "
              f"untouched for {LEFTOVER_MIN_AGE_S / 60:.0f} min and not marked kept, `--dry-run` shows which):")
        for leftover in leftovers:
            print(f"  {_describe(leftover, root)}")
    return 0


def _describe_partial(partial: PartialRun, root: Path) -> str:
    """A stopped run in two lines: its folder, time so far, code, devices, last save, parts finished (and their
    checkpoints' times) and the checkpoints in progress; the command that resumes it."""
    spent = "no time recorded" if partial.elapsed_s is None else f"{partial.elapsed_s:.1f} s so far"
    code = f"commit {', '.join(partial.commits)}" if partial.commits else "commit not recorded"
    where = f" on {', then '.join(partial.devices)}" if partial.devices else ""
    parts = "" if partial.finished is None else f"; {partial.finished} part(s) finished"
    if partial.part_s:  # their checkpoints' times: what each part still to run may take
        parts += f" ({parts_text(partial.part_s)})"
    if partial.in_progress:
        # named, not counted: a grouped grid checkpoints a group of the parts counted as finished (Table 1's cells)
        parts += f"; in progress: {first_names(partial.in_progress)}"
    command = partial.resume or "the command that started it (not recorded: the run began before wavelib kept it)"
    if partial.replaces:  # a --retrain stopped early: without --retrain the stored artifact is loaded instead
        command = (f"none: it retrained a stored artifact, and a retrain starts over ({command} --retrain); "
                   "delete this folder to keep the stored one")
    return (f"{partial.path.relative_to(root)}  {spent} ({code}{where}), last saved {_age(partial.age_s)} ago{parts}"
            f"\n    resume: {command}")


def _age(seconds: float) -> str:
    """A duration in words: minutes under 90, else hours."""
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def _size(n_bytes: int) -> str:
    """A size in bytes, in words (kB, MB, GB: powers of 1024)."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} B"


def _describe(leftover: Leftover, root: Path) -> str:
    """A leftover in one line: its path under the store's root, size, age and, if cleaning keeps it, why."""
    return (f"{leftover.path.relative_to(root)}  {_size(leftover.size_bytes)}, {_age(leftover.age_s)} old"
            + (f"; kept: {leftover.keep}" if leftover.keep else ""))


def _clean(args: argparse.Namespace) -> int:
    if not args.min_age_min >= 0:
        raise ConfigError(f"--min-age-min takes a number of minutes, 0 or more, got {args.min_age_min}")
    root = results_root()
    removed = remove_leftovers(root, min_age_s=60 * args.min_age_min, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for leftover in removed:
        print(f"{verb} {_describe(leftover, root)}")
    print(f"{verb.capitalize()} {len(removed)} leftover{'' if len(removed) == 1 else 's'} of interrupted writes "
          f"({_size(sum(leftover.size_bytes for leftover in removed))}) from {root}"
          + ("; nothing removed (--dry-run)" if args.dry_run else ""))
    gone = {leftover.path for leftover in removed}
    kept = [leftover for leftover in find_leftovers(root) if leftover.path not in gone]
    if kept:
        print(f"Kept {len(kept)}:")
    for leftover in kept:
        young = f"; modified in the last {args.min_age_min:g} min: a running process may be writing it"
        print(f"  {_describe(leftover, root)}{'' if leftover.keep else young}")
    return 0


TIME_BUDGET_EXIT = 3  #: exit status of ``train --stop-after`` when it stopped before finishing


def _train(args: argparse.Namespace) -> int:
    if args.stop_after is not None and not args.stop_after > 0:
        raise ConfigError(f"--stop-after takes a positive number of minutes, got {args.stop_after}")
    if args.workers < 1:
        raise ConfigError(f"--workers takes a positive number of runs trained at the same time, got {args.workers}")
    session = open_chapter(args.chapter, preset=args.preset, device=args.device, seed=args.seed, check=False,
                           **dict(args.set))
    if args.cuda_graph and session.device.type != "cuda":
        raise ConfigError(f"--cuda-graph captures training steps in CUDA graphs: it needs --device cuda, not "
                          f"{session.device}")
    names = list(dict.fromkeys(args.experiment or [e.name for e in session.experiments]))  # each once
    for name in names:  # validate every name before any work
        experiment = session.applicable(name)
        if not experiment.cuda_graph and args.cuda_graph:
            raise ConfigError(f"--cuda-graph: {args.chapter}/{name} does not capture its training steps in CUDA "
                              "graphs (Chapter 5's experiments do)")
        if (session.preset in experiment.gpu_presets and session.device.type == "cpu" and not args.allow_cpu
                and (args.retrain or not session.artifact_path(name).exists())):
            raise ConfigError(f"{args.chapter}/{name} at the {session.preset} preset is meant for a GPU (hours on a "
                              "CPU): pass --device cuda, or --allow-cpu to train it on this CPU anyway")
    session.check_data(names, retrain=args.retrain)
    deadline = None if args.stop_after is None else time.monotonic() + 60 * args.stop_after
    for name in names:
        start = time.perf_counter()
        try:
            artifact = session.experiment(name, retrain=args.retrain, deadline=deadline, workers=args.workers,
                                          cuda_graph=args.cuda_graph)
        except TimeBudgetReached as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return TIME_BUDGET_EXIT
        print(f"{name}: {artifact.path} ({time.perf_counter() - start:.1f} s)")
    return 0


def _as_lists(value: object) -> object:
    """Tuples (also nested) as lists: papermill writes lists into a notebook but turns a tuple into its str."""
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def _notebook_env() -> dict[str, str]:
    """The environment for executing chapters: quiet progress bars, no ipywidgets sliders
    (:func:`~wavelib.reporting.live_widgets`), and no MPLBACKEND, which would override the notebook's inline backend
    and leave every figure out of the page."""
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env[QUIET_ENV] = "1"
    env[WIDGETS_ENV] = "0"
    return env


def _run(args: argparse.Namespace) -> int:
    import papermill

    preset = resolve_preset(args.preset)
    knobs = dict(args.set)
    if knobs and len(args.chapter) > 1:
        raise ConfigError("--set applies to one chapter; run chapters with different knobs separately")
    sessions = [open_chapter(name, preset=preset, device=args.device, seed=args.seed, check=True, **knobs)
                for name in dict.fromkeys(args.chapter)]  # each chapter once
    env = _notebook_env()
    os.environ.clear()
    os.environ.update(env)  # papermill's kernels inherit this process's environment
    out_dir = Path(args.out or REPO_ROOT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{preset}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for session in sessions:
        source = REPO_ROOT / session.chapter.notebook
        target = out_dir / source.name
        if target.resolve() == source.resolve():
            raise ConfigError(f"refusing to overwrite the source notebook {source}; pick another --out")
        papermill.execute_notebook(
            str(source), str(target), cwd=str(source.parent), kernel_name="python3",
            parameters={"preset": preset, "device": str(session.device), "seed": session.seed,
                        "knobs": {k: _as_lists(v) for k, v in knobs.items()}},
        )
        print(f"{session.chapter.name}: {target}")
    return 0


def _book(args: argparse.Namespace) -> int:
    preset = resolve_preset(args.preset)
    for chapter in CHAPTERS.values():  # fail before the long build, not in the middle of it
        session = open_chapter(chapter.name, preset=preset, device=args.device, seed=0)
        session.check_data([e.name for e in session.experiments  # those the pages will train here
                            if not (preset in e.gpu_presets and session.device.type == "cpu")])
        missing = [e.name for e in session.needs_training_elsewhere()]
        if missing:  # the page renders what is stored and says, at its top and in place, what is not
            print(f"note: {chapter.name} has no {preset}-scale {', '.join(missing)} in the results store: its page "
                  f"says so where they belong ({session.make_command(missing)} makes them)", flush=True)
    env = {**_notebook_env(), PRESET_ENV: preset, DEVICE_ENV: args.device or os.environ.get(DEVICE_ENV, "cpu")}
    out = Path(args.out).resolve() if args.out else REPO_ROOT
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
               str(REPO_ROOT), "--path-output", str(out), "--all", "--warningiserror", "--keep-going"]
    print(f"Building the book at preset '{preset}' into {out / '_build' / 'html'}", flush=True)
    code = subprocess.run(command, env=env).returncode
    if code == 0:
        print(f"HTML: {out / '_build' / 'html' / 'index.html'}")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wavelib", description=(
        "List chapters and artifacts, train experiments, run chapters, build the book, clean the results store of "
        "what interrupted writes left."))
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="chapters, presets, and which artifacts exist").set_defaults(func=_list)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", help=f"one of {', '.join(PRESETS)} (default: ${PRESET_ENV} or cpu)")
        p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: $WAVELIB_DEVICE or cpu)")

    def knobs(p: argparse.ArgumentParser) -> None:
        p.add_argument("--set", type=_knob, action="append", default=[], metavar="KNOB=VALUE",
                       help="override one of the preset's knobs (repeatable; `list` shows each chapter's knobs)")

    train = sub.add_parser("train", help="run a chapter's experiments (no Jupyter) into the results store")
    train.add_argument("chapter", help=f"one of {', '.join(CHAPTERS)}")
    common(train)
    train.add_argument("--seed", type=int, default=0, help="the runs' seed (default 0; recorded in each artifact)")
    train.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
    train.add_argument("--retrain", action="store_true", help="recompute even if the artifact exists")
    train.add_argument("--stop-after", type=float, metavar="MINUTES",
                       help="stop cleanly at the first checkpoint after this many minutes (exit status "
                            f"{TIME_BUDGET_EXIT}); the same command again resumes")
    train.add_argument("--workers", type=int, default=1, metavar="N",
                       help="train N runs of a grid at the same time, each on its own CUDA stream (default 1; "
                            "the results do not depend on it; on a CPU more than 1 only shares the same cores)")
    train.add_argument("--cuda-graph", action="store_true",
                       help="capture each training step in a CUDA graph where the chapter can (Chapter 5; the same "
                            "results to rounding; recorded in meta.json)")
    train.add_argument("--allow-cpu", action="store_true",
                       help="train on the CPU an experiment that is meant for a GPU at this preset (`list` says which)")
    knobs(train)
    train.set_defaults(func=_train)

    run = sub.add_parser("run", help="execute chapter notebooks with papermill into a run folder")
    run.add_argument("chapter", nargs="+", help=f"one or more of {', '.join(CHAPTERS)}")
    common(run)
    run.add_argument("--seed", type=int, default=0, help="the chapters' seed (default 0; shown on each page)")
    run.add_argument("--out", help="run folder (default: runs/<timestamp>-<preset>/)")
    knobs(run)
    run.set_defaults(func=_run)

    book = sub.add_parser("book", help="execute every chapter and build the HTML book")
    common(book)
    book.add_argument("--out", help="folder that receives _build/html (default: the repository)")
    book.set_defaults(func=_book)

    clean = sub.add_parser("clean", help="remove what interrupted writes left in the results store (`list` shows it)")
    clean.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
    clean.add_argument("--min-age-min", type=float, default=LEFTOVER_MIN_AGE_S / 60, metavar="M",
                       help=f"leave alone what was modified in the last M minutes, which a running process may still "
                            f"be writing (default {LEFTOVER_MIN_AGE_S / 60:.0f})")
    clean.set_defaults(func=_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, MissingArtifactsError, DataUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command != "train":
            raise
        print("interrupted: the finished runs and the last checkpoint are kept; run the same command again to "
              "resume", file=sys.stderr)
        return 130
