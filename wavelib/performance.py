"""What the last benchmark table means for the book's paper-scale runs (the Performance page).

``benchmarks/run.py`` stores its table as ``benchmarks/results/<device kind>-latest.json``. This module reads
it back, projects the time of each paper-scale run as (median ms per training step) x (steps per run), with
the steps taken from the chapters' ``paper`` presets, and checks the speed goals of the performance issue.
Only measured rows are used: a projection whose row is missing is reported as not measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .provenance import REPO_ROOT, changed_since, is_ancestor

if TYPE_CHECKING:
    import torch

BENCH_RESULTS = REPO_ROOT / "benchmarks" / "results"
#: the code a benchmark table times: the models and their kernels, the training steps, the tasks (the runs-at-once
#: rows sample each step's batch on the host), the benchmarks themselves
TIMED_CODE = ("wavelib/models", "wavelib/training", "wavelib/tasks", "benchmarks/bench_spectrum.py",
              "benchmarks/bench_vwave.py", "benchmarks/bench_wave_rnn.py")
MNIST_TRAIN = 60_000  #: MNIST training images, before the validation split
#: the commit from which the per-step reference loops read each step through one ``unbind`` (before it their
#: backward cost O(T^2))
UNBIND_FIX = "5b30288"
#: the commit from which every reference is plain but competent (the sequential scan's decays and the v-wave shift
#: computed without per-step waste too): tables measured before it overstate their ratios
FAIR_REFERENCES = "6b81f2a"
#: the chip the speed goals are set on (the performance issue: "measured on one H100"), as named in a row's device
GOAL_DEVICE = "H100"


def load_benchmarks(kind: str = "cuda", folder: Path | None = None) -> dict[str, Any] | None:
    """The last stored benchmark run on ``kind`` (``"cuda"``: the speed goals' chip, ``"cpu"``, or another GPU's
    :func:`table_kind` such as ``"cuda-h200"``), or None if there is none."""
    path = (folder or BENCH_RESULTS) / f"{kind}-latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def table_kind(device: str) -> str:
    """The name a GPU table is stored under (``<kind>-latest.json``, ``<kind>-profile.md``), from a description of
    its device (a table's ``device`` field, e.g. ``"cpu, cuda:0 (NVIDIA H200)"``): ``"cuda"`` on the chip of the speed
    goals (:data:`GOAL_DEVICE`), else ``"cuda-<chip>"`` (``"cuda-h200"``), so that another chip's table never
    replaces the goals' chip's."""
    name = gpu_name(device)
    if GOAL_DEVICE in name:
        return "cuda"
    chip = re.sub(r"[^a-z0-9]+", "-", name.lower().removeprefix("nvidia")).strip("-")
    return f"cuda-{chip or 'unnamed'}"


def gpu_name(device: str) -> str:
    """The GPU's name in a description of a table's device (``"cpu, cuda:0 (NVIDIA H200)"`` -> ``"NVIDIA H200"``);
    ValueError where it names none."""
    found = re.search(r"cuda:\d+ \(([^)]*)\)", device)
    if found is None:
        raise ValueError(f"no CUDA device named in {device!r}: not a GPU table")
    return found[1]


def device_kind(device: torch.device) -> str:
    """The kind a table or profile measured on ``device`` is stored under: ``"cpu"``, or on a GPU its
    :func:`table_kind`."""
    from .devices import device_description

    return table_kind(device_description(device)) if device.type == "cuda" else device.type


def other_chip_tables(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """The stored GPU tables of chips other than the speed goals', ``{kind: table}`` sorted by kind."""
    found = sorted((folder or BENCH_RESULTS).glob("cuda-*-latest.json"))
    return {path.name.removesuffix("-latest.json"): json.loads(path.read_text()) for path in found}


@dataclasses.dataclass(frozen=True)
class PaperRun:
    """Paper-scale runs whose cost one benchmark row measures: ``runs`` runs of ``steps`` training steps."""

    what: str  #: the runs, in words
    benchmark: str  #: the row's ``name``
    shapes: str  #: a part of the row's ``shapes`` ("" = any)
    steps: int  #: timed calls per run (training steps, or their recurrence)
    runs: int  #: such runs at the ``paper`` preset
    note: str  #: what the projection includes and leaves out


def _mnist_steps(images: Any, epochs: int) -> int:
    """Training steps of ``epochs`` epochs over the MNIST training split of a Chapter 4 config."""
    return epochs * math.ceil((MNIST_TRAIN - images.n_valid) / images.batch)


def paper_runs() -> list[PaperRun]:
    """The paper-scale runs of Chapters 2–5, with steps and run counts from their ``paper`` presets."""
    from .experiments import spectrum, vwave, wave_rnn_images, wave_rnn_tasks

    table1 = spectrum.PRESETS["paper"]
    tasks = wave_rnn_tasks.PRESETS["paper"]
    images = wave_rnn_images.PRESETS["paper"]
    copy_lm = vwave.PRESETS["paper"]
    mnist_steps = _mnist_steps(images, images.epochs)
    irnn_epochs = {task: images.task_spec(task, "irnn").epochs for task in images.tasks}
    wave_models = 2 if images.mlp_hidden else 1  # the wRNN, and the wRNN + MLP of Table 2
    n_cells = len(table1.tasks) * len(table1.hiddens) * len(table1.l2s)
    step = "recurrence forward + backward only: a lower bound on the training step"
    ssm_step = ("whole training step of v-Wave Mamba (Mamba's costs less); evaluation every "
                f"{copy_lm.eval_every} steps and the transformers not included")
    ch5 = []
    for k, length in enumerate(copy_lm.lengths):
        models = [m for m in copy_lm.models + (copy_lm.ablation_models if k == 0 else ())
                  if copy_lm.spec(m).family == "mamba"]
        what = (f"Ch. 5, copy strings ≤ {length}, Mamba-type models{' and ablations' if k == 0 else ''}: "
                f"{len(models)} models × {copy_lm.n_seeds} seeds × {copy_lm.steps:,} steps")
        context = f" L {copy_lm.training(length).context_len},"
        ch5.append(PaperRun(what, "copy LM train step", context, copy_lm.steps, len(models) * copy_lm.n_seeds,
                            ssm_step))
        ch5.append(PaperRun(f"{what}, the {copy_lm.n_seeds} seeds of a model at once (`train --workers "
                            f"{copy_lm.n_seeds}`; a run here: a model's seeds)",
                            f"copy LM train steps, {copy_lm.n_seeds} runs at once", context, copy_lm.steps,
                            len(models), f"{ssm_step}; reference side: one run after another"))
        ch5.append(PaperRun(f"{what}, each step in a CUDA graph (`train --cuda-graph`)",
                            "copy LM train step [CUDA graph]", context, copy_lm.steps, len(models) * copy_lm.n_seeds,
                            f"{ssm_step}; reference side: the same step run eagerly"))
        ch5.append(PaperRun(f"{what}, the seeds of a model at once, each step in a CUDA graph (`train --workers "
                            f"{copy_lm.n_seeds} --cuda-graph`; a run here: a model's seeds)",
                            f"copy LM train steps, {copy_lm.n_seeds} runs at once [CUDA graph]", context,
                            copy_lm.steps, len(models), f"{ssm_step}; the batch sampled on the host in each step; "
                            "reference side: the graphs replayed one run after another"))
    return [
        PaperRun(f"Ch. 2, Table 1: {n_cells} cells × {table1.n_seeds} seeds, {table1.steps:,} steps, cell after "
                 "cell", "spectrum.train_step [paper]", "", table1.steps, n_cells,
                 "one cell's whole training step at the full horizon (it starts at 10): an upper bound"),
        PaperRun(f"Ch. 2, Table 1 as the chapter trains it: the cells of each H as one model "
                 f"({len(table1.hiddens)} models)", "spectrum.train_step [paper, grouped]", "", table1.steps,
                 len(table1.hiddens), "the H = 128 group's whole step at the full horizon, for every group: an "
                 "upper bound"),
        PaperRun(f"Ch. 3, copy T = 480, wRNN: {tasks.n_seeds} seeds × {tasks.copy_steps:,} steps",
                 "wRNN train step", "[copy T=480]", tasks.copy_steps, tasks.n_seeds, "whole training step"),
        PaperRun(f"Ch. 3, copy T = 480, iRNN n {tasks.n}: {tasks.n_seeds} seeds × {tasks.copy_steps:,} steps",
                 "iRNN", "[copy T=480]", tasks.copy_steps, tasks.n_seeds, step),
        PaperRun(f"Ch. 4, sMNIST + psMNIST, wRNN (and + MLP): {images.n_seeds} seeds × {images.epochs} epochs "
                 f"({mnist_steps:,} steps)", "wRNN train step", "[sMNIST]", mnist_steps,
                 len(images.tasks) * images.n_seeds * wave_models, "whole training step (linear readout)"),
        PaperRun(f"Ch. 4, sMNIST + psMNIST, iRNN n {images.irnn_n}: {images.n_seeds} seeds × "
                 + " + ".join(f"{irnn_epochs[t]} epochs ({t})" for t in images.tasks), "iRNN", "[sMNIST]",
                 _mnist_steps(images, sum(irnn_epochs.values())), images.n_seeds,
                 step + "; a run here: one seed's tasks"),
        *ch5,
    ]


def format_minutes(minutes: float | None) -> str:
    """``"45 s"``, ``"12.5 min"``, ``"3.2 h"``; ``"not measured"`` for None."""
    if minutes is None:
        return "not measured"
    if minutes < 1:
        return f"{60 * minutes:.0f} s"
    return f"{minutes:.1f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


TABLE_HEADER = ("benchmark", "shapes", "ratio", "ok", "on", "fast ms", "reference ms", "fast", "reference",
                "peak MB (fast / ref)")


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """The rows of ``report`` for :data:`TABLE_HEADER`: what a reader needs first (ratio, check) in the first
    columns, so the table reads on a laptop screen (the stored ``.md`` keeps the full layout); "on" says GPU or
    CPU (a GPU run also times the code that only ever runs on a CPU)."""
    def peak(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"
    return [[row["name"], row["shapes"], f"{row['ratio']:.2f}×", "yes" if row["ok"] else "**NO**",
             "GPU" if row["device"].startswith("cuda") else "CPU",
             f"{row['fast_ms']:.3f}", f"{row['reference_ms']:.3f}", row["fast"], row["reference"],
             f"{peak(row['fast_peak_mb'])} / {peak(row['reference_peak_mb'])}"] for row in report["rows"]]


def header_line(report: dict[str, Any]) -> str:
    """Where and when ``report`` was measured, in one line: device, CPU threads, versions, commit, date."""
    versions = ", ".join(f"{name} {version}" for name, version in report["versions"].items())
    return (f"Measured on **{report['device']}** ({report['cpu_threads']} CPU threads), {versions}; commit "
            f"`{report['git_commit']}`, {report['date_utc'][:10]}.")


def _row(report: dict[str, Any], benchmark: str, shapes: str) -> dict[str, Any] | None:
    for row in report["rows"]:
        if row["name"] == benchmark and shapes in row["shapes"]:
            return row
    return None


def _minutes(ms: float, calls: int) -> float:
    return ms * calls / 60_000


def run_times(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per :func:`paper_runs` entry: minutes per run and for all runs, reference and fast (None: not measured)."""
    out = []
    for run in paper_runs():
        row = _row(report, run.benchmark, run.shapes)
        entry: dict[str, Any] = {"what": run.what, "benchmark": f"{run.benchmark} {run.shapes.strip(' ,')}".strip(),
                                 "note": run.note, "measured": row is not None}
        for side in ("reference", "fast"):
            per_run = None if row is None else _minutes(row[f"{side}_ms"], run.steps)
            entry[f"{side}_min_per_run"] = per_run
            entry[f"{side}_min_total"] = None if per_run is None else per_run * run.runs
        out.append(entry)
    return out


@dataclasses.dataclass(frozen=True)
class Goal:
    """A speed goal of the performance issue, met when ``value <= limit`` (or ``>=`` if ``at_least``)."""

    what: str
    benchmark: str
    shapes: str
    limit: float
    at_least: bool  #: a ratio to reach, else a time (minutes) to stay under
    steps: int = 0  #: for a time goal: training steps of the run


def goals() -> list[Goal]:
    """The speed goals on one H100: 50x per wRNN step, a copy run and 120 sMNIST epochs in time (the performance
    issue), the Table 1 grid in 15 minutes (the spectrum issue)."""
    from .experiments import spectrum, wave_rnn_images, wave_rnn_tasks

    table1 = spectrum.PRESETS["paper"]
    copy_steps = wave_rnn_tasks.PRESETS["paper"].copy_steps
    mnist_steps = _mnist_steps(wave_rnn_images.PRESETS["paper"], epochs=120)
    return [
        Goal("fused wRNN step ≥ 50× the loop, copy T = 480", "wRNN train step", "[copy T=480]", 50, True),
        Goal("fused wRNN step ≥ 50× the loop, sMNIST", "wRNN train step", "[sMNIST]", 50, True),
        Goal(f"copy run at T = 480 ({copy_steps:,} steps) under 10 min", "wRNN train step", "[copy T=480]", 10,
             False, copy_steps),
        Goal(f"120 sMNIST epochs ({mnist_steps:,} steps) under 30 min", "wRNN train step", "[sMNIST]", 30, False,
             mnist_steps),
        Goal("the Table 1 grid (Ch. 2) under 15 min, at the full horizon", "spectrum.train_step [paper, grouped]",
             "", 15, False, table1.steps * len(table1.hiddens)),
    ]


def goal_status(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per goal: the measured value (ratio, or minutes of the fast path), whether it is met (None: not measured),
    ``current``: False where the table no longer measures the code (:func:`table_is_current`), and ``other_chip``:
    the row's device where it is not a :data:`GOAL_DEVICE` (an H200's numbers say nothing final about an H100's),
    else None."""
    out = []
    current = table_is_current(report) if report.get("rows") else None
    for goal in goals():
        row = _row(report, goal.benchmark, goal.shapes)
        value = None if row is None else (row["ratio"] if goal.at_least else _minutes(row["fast_ms"], goal.steps))
        met = None if value is None else (value >= goal.limit if goal.at_least else value <= goal.limit)
        device = None if row is None else row.get("device")
        out.append({"goal": goal.what, "measured": value, "unit": "×" if goal.at_least else "min", "met": met,
                    "current": current, "other_chip": None if device is None or GOAL_DEVICE in device else device})
    return out


GOAL_HEADER = ("goal", "measured", "met")


def goal_rows(report: dict[str, Any]) -> list[list[str]]:
    """:func:`goal_status` as table rows under :data:`GOAL_HEADER`: the goal, its measured value, :func:`met_text`."""
    return [[g["goal"], "not measured" if g["measured"] is None else
             (f"{g['measured']:.1f}×" if g["unit"] == "×" else format_minutes(g["measured"])), met_text(g)]
            for g in goal_status(report)]


def met_text(status: dict[str, Any]) -> str:
    """A goal's "met" cell: yes / **no** / not measured, marked where the table is out of date, where git cannot
    tell whether it is (a copy without the repository's history), and where it was measured on another chip than
    the goals' (:data:`GOAL_DEVICE`)."""
    text = {None: "not measured", True: "yes", False: "**no**"}[status["met"]]
    if status["met"] is None:
        return text
    currency = {False: ["out-of-date table"], None: ["unverified: whether the code changed since is unknown here"]}
    marks = currency.get(status["current"], []) + (
        [f"on {status['other_chip']}, not an {GOAL_DEVICE}"] if status.get("other_chip") else [])
    return f"{text} ({'; '.join(marks)})" if marks else text


@dataclasses.dataclass(frozen=True)
class Choice:
    """Two options of a fused kernel, timed against each other by one benchmark row (``reference`` side: one,
    ``fast`` side: the other), one of them the default."""

    what: str  #: the two options, in words
    benchmark: str  #: the row's ``name``
    shapes: tuple[str, ...]  #: the row's shape tags it is decided at, e.g. ``("[copy T=480]", "[sMNIST]")``
    default_is_fast: bool  #: whether the row's fast side is the default
    where: str  #: where the default is set
    train_step: str = ""  #: the row of a whole training step with the other option, against the loop ("": none)


#: a ratio past this (or under its inverse) says one option is faster; between, neither: too small to change a
#: default for (in the H100 table of commit 0c709b84a93d the same default kernel, timed in three rows, agrees with
#: itself within 1%)
GAIN = 1.03


def choices() -> list[Choice]:
    """The wRNN kernels' options that benchmark rows time against each other (``benchmarks/bench_wave_rnn.py``),
    with the defaults as :func:`~wavelib.models.wave_rnn_fused.fused_defaults` gives them now."""
    from .models.wave_rnn_fused import fused_defaults, other_precision

    default = fused_defaults()
    both = ("[copy T=480]", "[sMNIST]")
    fused = "`wavelib/models/wave_rnn_fused.py`"
    return [
        Choice(f'conv weight gradient: one Triton pass ("kernel") against three batched matmuls ("bmm"); the '
               f'default "{default["wgrad"]}"', "wRNN recurrence [wgrad kernel]", both, default["wgrad"] == "kernel",
               f"`wgrad` in {fused}"),
        Choice(f'"tiles" products in 3xTF32 on the tensor cores ("tf32x3") against IEEE float32 ("ieee"); the '
               f'default "{default["precision"]}"', "wRNN recurrence [tf32x3]", both,
               default["precision"] == "tf32x3", f"`DEFAULT_PRECISION` in {fused}",
               f"wRNN train step [{other_precision()}]"),
        Choice(f'Gluon "columns" kernels against Triton "tiles"; the default "{default["kernel"]}"',
               "wRNN recurrence [columns]", both, default["kernel"] == "columns", f"`kernel` in {fused}",
               "wRNN train step [columns]"),
        Choice(f'the rolled state gathered in registers ("gather") against read back from memory ("memory"); the '
               f'default "{default["shift"]}"', "wRNN recurrence [gather]", both, default["shift"] == "gather",
               f"`shift` in {fused}"),
    ]


def choice_status(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per :func:`choices` entry: per shape the default's speed against the other option's (``gain``: the other's
    time over the default's; > 1: the default is faster) and whether they agree, the other option's whole training
    step against the loop where a row times it, and a verdict in words."""
    out = []
    for choice in choices():
        shapes = {}
        for tag in choice.shapes:
            row = _row(report, choice.benchmark, tag)
            step = _row(report, choice.train_step, tag) if choice.train_step else None
            shapes[tag] = None if row is None else {
                "gain": row["ratio"] if choice.default_is_fast else 1 / row["ratio"], "ok": row["ok"],
                "train_step_ratio": None if step is None else step["ratio"]}
        out.append({"choice": choice, "shapes": shapes, "verdict": _verdict(choice, shapes)})
    return out


def _verdict(choice: Choice, shapes: dict[str, dict[str, Any] | None]) -> str:
    wrong = [tag for tag, s in shapes.items() if s is not None and not s["ok"]]
    if wrong:  # before a missing shape: this is what a reader must see first
        return f"**the two disagree** at {', '.join(wrong)}: keep the default and find out why"
    missing = [tag for tag, s in shapes.items() if s is None]
    if missing:
        return f"not measured at {', '.join(missing)}"
    other = [tag for tag, s in shapes.items() if s["gain"] < 1 / GAIN]
    default = [tag for tag, s in shapes.items() if s["gain"] > GAIN]
    even = [tag for tag in shapes if tag not in other + default]
    where = "; ".join(f"{who} at {', '.join(tags)}" for who, tags in (
        ("the other faster", other), ("the default faster", default), (f"within {GAIN - 1:.0%}", even)) if tags)
    if other and default:
        return f"**by shape**: {where} (one default for all shapes: keep it)"
    if other:
        return f"**make the other the default** ({choice.where}): {where}"
    return f"keep the default: {where}"


CHOICE_HEADER = ("options", "shapes", "default's speed", "agree", "other's training step")


def choice_rows(report: dict[str, Any]) -> list[list[str]]:
    """:func:`choice_status` as table rows, one per option pair and shape (the pair named on its first): the
    default's speed against the other option's (the other's ms / the default's: > 1, the default is faster), whether
    the two agree, and the other option's whole training step against the loop where a row times it."""
    rows = []
    for status in choice_status(report):
        for i, (tag, s) in enumerate(status["shapes"].items()):
            step = None if s is None else s["train_step_ratio"]
            rows.append(["" if i else status["choice"].what, tag, "not measured" if s is None else f"{s['gain']:.2f}×",
                         "" if s is None else "yes" if s["ok"] else "**NO**",
                         "" if step is None else f"{step:.1f}× the loop"])
    return rows


def verdict_lines(report: dict[str, Any]) -> list[str]:
    """What a benchmark table decides, a line each: the speed goals (measured value, met or not) and the kernels'
    options (:func:`choice_status`); ``scripts/gpu_session.py unpack`` prints them for a table that came back."""
    goals_met = [f"goal: {g['goal']}: " + ("not measured" if g["measured"] is None else
                 f"{g['measured']:.1f}{g['unit'] if g['unit'] == '×' else ' min'}, {met_text(g)}")
                 for g in goal_status(report)]
    options = []
    for status in choice_status(report):
        steps = [f"{step:.1f}× the loop at {tag}" for tag, s in status["shapes"].items()
                 if s is not None and (step := s["train_step_ratio"]) is not None]
        options.append(f"options: {status['choice'].what}: {status['verdict']}"
                       + (f"; the training step with the other: {', '.join(steps)}" if steps else ""))
    return goals_met + options


def table_is_current(report: dict[str, Any]) -> bool | None:
    """Whether ``report`` still measures the code: the timed code unchanged since its commit and its references
    the fair ones (:data:`FAIR_REFERENCES`); None where git cannot tell."""
    commit = report.get("git_commit")
    changed = None if commit is None else changed_since(commit.removesuffix("+dirty"), TIMED_CODE)
    if changed is None:
        return None
    return not changed and reference_note(report) is None


def timed_code_changes(report: dict[str, Any]) -> str:
    """A sentence on whether the code a table timed (:data:`TIMED_CODE`) changed since the table's commit."""
    commit = report["git_commit"]
    changed = changed_since(commit, TIMED_CODE)
    if changed is None:
        return f"Whether the timed code changed since commit `{commit}` is unknown here (git or that commit missing)."
    if not changed:
        return f"The timed code (`{'`, `'.join(TIMED_CODE)}`) is unchanged since commit `{commit}`."
    return (f"**Changed since commit `{commit}`, so not what this table measured:** "
            + ", ".join(f"`{path}`" for path in changed) + ".")


def reference_note(report: dict[str, Any]) -> str | None:
    """A warning where ``report`` was measured before :data:`FAIR_REFERENCES` (its loop references, and so its
    ratios, are inflated); None after it, or where git cannot tell."""
    commit = report["git_commit"].removesuffix("+dirty")
    if is_ancestor(FAIR_REFERENCES, commit):
        return None
    if is_ancestor(commit, FAIR_REFERENCES) is not True:
        return None
    return (f"**These ratios overstate the speedups.** This table was measured at commit `{commit}`, before the "
            f"plain reference implementations were made competent (commits `{UNBIND_FIX}` to `{FAIR_REFERENCES}`): "
            "the per-step loops (wRNN, iRNN, the sequential scan, the v-wave recurrence, the Ch. 1 Jacobian) indexed "
            "`x[:, t]` at every step, so their backward wrote a zero tensor the size of the whole input per step, "
            "O(T²) memory traffic; the sequential scan recomputed each step's decay and input inside the loop (now "
            "computed for all steps at once, as `mamba_ssm`'s own reference does) and the v-wave recurrence built "
            "its shifted state with two concatenations per step (now one `lerp`). Those fixes left the fast paths "
            "alone; whether they changed since for other reasons, the list of changed files says. The next GPU "
            "table measures both sides as they are now.")


def parts_text(part_s: dict[str, float] | None) -> str:
    """An artifact's parts (``meta.json``'s ``part_wall_time_s``: each grid run's or cell group's wall time, s)
    in words: ``"18 timed: median 19 s, longest 41 s (L20_rope_seed2)"``; artifacts stored before parts were
    timed say so, a run without parts gives ``"—"``."""
    if part_s is None:
        return "not recorded"
    if not part_s:
        return "—"
    longest = max(part_s, key=part_s.__getitem__)
    return (f"{len(part_s)} timed: median {format_minutes(statistics.median(part_s.values()) / 60)}, longest "
            f"{format_minutes(part_s[longest] / 60)} ({longest})")


def stored_run_rows(root: Path | None = None) -> list[list[str]]:
    """The ``paper`` artifacts in the results store (``root``: the repository's ``results/``), one row each:
    chapter and experiment, the device(s) it trained on, its wall time (the time a run really took, beside the
    projections; "resumed": over several attempts), its parts' times (:func:`parts_text`), the commits of the code
    that ran it, its date, and the note its ``meta.json`` carries where a record was completed by hand (empty
    otherwise). Artifacts that only record missing data are left out."""
    from .store import stored_artifacts

    rows = []
    for artifact in stored_artifacts(root or REPO_ROOT / "results"):
        meta = artifact.meta
        if meta["preset"] != "paper" or artifact.nothing_trained:
            continue
        rows.append([f"{meta['chapter']} / {meta['experiment']}", ", then ".join(artifact.devices),
                     format_minutes(meta["wall_time_s"] / 60) + (" (resumed)" if meta.get("resumed") else ""),
                     parts_text(meta.get("part_wall_time_s")), ", ".join(artifact.commits),
                     meta["finished_utc"][:10], meta.get("note", "")])
    return rows
