"""What produced a result: versions, git commit, machine."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from . import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMIT_ENV = "WAVELIB_GIT_COMMIT"  #: set where the tree's own .git is not the one that made it (the GPU machine)


def git_commit(root: Path = REPO_ROOT) -> str:
    """The checked-out commit (short hash, ``+dirty`` if tracked files changed or a file git does not know sits in
    the package ``wavelib/``: code that ran but is in no commit), or ``unknown``.

    ``$WAVELIB_GIT_COMMIT``, where set, is returned as is: the device tool copies the working tree to the GPU
    machine with a ``.git`` that can be older than the tree (seen: the session's first commit), so
    ``scripts/gpu_session.py run --commit HASH`` passes the commit of the checkout the call was made from."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip() or subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "--", "wavelib"], cwd=root, capture_output=True,
            text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def changed_since(commit: str, paths: Sequence[str], root: Path = REPO_ROOT) -> list[str] | None:
    """The files under ``paths`` (relative to ``root``) that differ between ``commit`` (a ``+dirty`` suffix is
    ignored) and the working tree, sorted; None where git or that commit is not available (e.g. a shallow clone)."""
    try:
        out = subprocess.run(["git", "diff", "--name-only", commit.removesuffix("+dirty"), "--", *paths], cwd=root,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted(line for line in out.splitlines() if line)


def is_ancestor(older: str, newer: str, root: Path = REPO_ROOT) -> bool | None:
    """Whether commit ``older`` (a ``+dirty`` suffix is ignored) is ``newer`` or one of its ancestors; None where git
    or either commit is not available."""
    try:
        done = subprocess.run(["git", "merge-base", "--is-ancestor", older.removesuffix("+dirty"), newer], cwd=root,
                              capture_output=True, text=True)
    except OSError:
        return None
    return {0: True, 1: False}.get(done.returncode)


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide numerical results."""
    return {
        "python": platform.python_version(),
        "wavelib": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda or "none",
        "triton": _installed("triton"),  # the fused kernels' compiler, where they run
    }


def _installed(package: str) -> str:
    """The installed version of ``package`` (not imported), or ``none``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"
