"""Run the benchmarks in this folder and print and store their table.

    python benchmarks/run.py [--device cpu|cuda|auto] [--repeats N] [--out DIR] [--only NAME]

Every ``bench_*.py`` next to this script exposes ``benchmarks(device, repeats) -> list[Comparison]``; they run in
name order, but those of :data:`FIRST` first.
The table goes to stdout and to ``DIR/<device kind>-latest.md`` and ``.json`` (default DIR: ``benchmarks/results``;
the kind: ``cpu``, ``cuda`` on the speed goals' H100, else the GPU's chip, e.g. ``cuda-h200``:
``wavelib.performance.device_kind``). A suite that raises is reported (traceback on stderr) and the others still run
and are written; the files are rewritten after every suite, so a run killed at a time limit keeps the rows it has.
Exit status 1 if any suite raised or any fast path disagrees with its reference, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from wavelib.benchmarking import Comparison, SuiteIncomplete, report
from wavelib.cpu_memory import keep_freed_memory
from wavelib.devices import resolve_device
from wavelib.performance import device_kind
from wavelib.presets import ConfigError

HERE = Path(__file__).resolve().parent
#: suites run before the others: ``wave_rnn`` holds the speed goals' rows (``wavelib.performance``), which a GPU
#: session's benchmark call, cut at its time limit, must not lose to the suites before it in name order
FIRST = ("wave_rnn",)


def discover(folder: Path = HERE, only: str | None = None, attribute: str = "benchmarks",
             required: bool = True, first: Sequence[str] = FIRST) -> dict[str, Callable]:
    """``{name: module.<attribute>}`` for each ``bench_<name>.py`` in ``folder`` (just ``only`` if given), in the
    order they run: the names of ``first`` that exist, then the others sorted. A module without that function is an
    error if ``required``, else left out."""
    found: dict[str, Callable] = {}
    names = {path.stem.removeprefix("bench_"): path for path in sorted(folder.glob("bench_*.py"))}
    names = {name: names[name] for name in [*(name for name in first if name in names), *names]}
    if only is not None and only not in names:
        raise ConfigError(f"unknown benchmark {only!r}; choose from {', '.join(names) or '(none)'}")
    for name, path in names.items():
        if only is not None and name != only:
            continue
        fn = getattr(_load(path), attribute, None)
        if callable(fn):
            found[name] = fn
        elif required:
            raise ConfigError(f"{path.name} has no {attribute}() function")
    return found


def add_common_arguments(parser: argparse.ArgumentParser, written: str) -> None:
    """``--device``, ``--out`` (the folder that receives ``written``) and ``--only``."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help=f"folder for {written} (default: benchmarks/results)")
    parser.add_argument("--only", metavar="NAME", help="run only bench_NAME.py")


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"wavelib_benchmarks.{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "<device kind>-latest.md/.json")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per implementation (default: 10)")
    args = parser.parse_args(argv)
    try:
        if args.repeats < 1:
            raise ConfigError(f"--repeats must be >= 1, got {args.repeats}")
        device = resolve_device(args.device)
        suites = discover(HERE, args.only)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if device.type == "cpu":
        keep_freed_memory()  # as a training run on the CPU does (wavelib.store.run_experiment)
    rows: list[Comparison] = []
    crashed = []
    path = args.out / f"{device_kind(device)}-latest"
    for name, fn in suites.items():
        print(f"running {name} on {device} ...", file=sys.stderr, flush=True)
        try:
            rows += fn(device, args.repeats)
        except SuiteIncomplete as exc:  # some of its rows raised (their tracebacks are printed): keep the others
            rows += exc.rows
            crashed.append(f"{name} ({exc})")
        except Exception:  # one broken suite (a kernel that fails to compile, say) must not lose the others' rows
            traceback.print_exc()
            crashed.append(name)
        report(rows, path)  # after every suite: a run killed at a time limit keeps what it measured
    print(report(rows, path))
    print(f"wrote {path.with_suffix('.md')} and {path.with_suffix('.json')}", file=sys.stderr)
    if crashed:
        print(f"error: these suites raised and have no rows, or only some: {'; '.join(crashed)}", file=sys.stderr)
    bad = [row.name for row in rows if not row.ok]
    if bad:
        print(f"error: fast path disagrees with its reference in: {', '.join(bad)}", file=sys.stderr)
    return 1 if crashed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
