"""Break down the hot training steps: where each one's time goes (``wavelib.profiling``).

    python benchmarks/profile_steps.py [--device cpu|cuda|auto] [--calls N] [--out DIR] [--only NAME]

Every ``bench_*.py`` next to this script that exposes ``profiles(device) -> {name: callable}`` has those callables
profiled (after warm-up); the report goes to stdout and to ``DIR/<device kind>-profile.md`` (default DIR:
``benchmarks/results``; the kind as ``run.py`` names it), rewritten after every callable, so a run cut off at a time
limit keeps what it has.
Exit status 1 if a callable raised (the others still run), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from run import HERE, add_common_arguments, discover

from wavelib.devices import resolve_device
from wavelib.performance import device_kind
from wavelib.presets import ConfigError
from wavelib.profiling import StepProfile, profile_call, profile_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "<device kind>-profile.md")
    parser.add_argument("--calls", type=int, default=3, help="profiled calls per callable (default: 3)")
    args = parser.parse_args(argv)
    try:
        if args.calls < 1:
            raise ConfigError(f"--calls must be a positive integer, got {args.calls}")
        device = resolve_device(args.device)
        suites = discover(HERE, args.only, "profiles", required=False)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = args.out / f"{device_kind(device)}-profile.md"
    done: list[StepProfile] = []
    failed = False
    for name, profiles in suites.items():
        try:
            for label, fn in profiles(device).items():
                done.append(profile_call(label, fn, device, calls=args.calls))
                profile_report(done, path)  # after every step: a run cut off at a time limit keeps what it has
        except Exception:  # one broken suite must not lose the others' profiles
            failed = True
            print(f"profile_steps: bench_{name}.py raised:", file=sys.stderr)
            traceback.print_exc()
    print(profile_report(done, path))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
