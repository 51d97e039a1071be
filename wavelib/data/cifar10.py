"""CIFAR-10 (:func:`load_cifar10`): the official python tarball, pinned by the md5 published on the
CIFAR-10 page; or any local tarball in that format (``tarball=``), labelled "local-tarball" unless its
md5 is the official one. Pickles are read with a restricted unpickler (numpy arrays and builtins only).
"""

from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .cache import DOWNLOAD_TIMEOUT_S, DataUnavailableError, cache_dir, hash_ok, is_offline
from .image_dataset import ImageDataset, check_split
from .safe_unpickle import safe_unpickle

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_HASH = "md5:c58f30108f718f92721af3b95e74349a"
"""The md5 published on https://www.cs.toronto.edu/~kriz/cifar.html (also pinned by torchvision)."""
CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"


def _cifar10_path() -> Path:
    return cache_dir() / "cifar10" / CIFAR10_FILE


def cifar10_here() -> bool:
    """Whether the official CIFAR-10 tarball is in the cache (hash checked)."""
    return hash_ok(_cifar10_path(), CIFAR10_HASH)


def cifar10_howto() -> str:
    """What to do when CIFAR-10 cannot be downloaded."""
    return (f"put {CIFAR10_FILE} (from {CIFAR10_URL}) into {_cifar10_path().parent}, or give its path as the knob "
            "cifar_tarball (--set cifar_tarball=PATH)")


def _cifar_entries(split: str) -> list[str]:
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def parse_cifar10_tarball(path: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read ``split`` from a CIFAR-10 python tarball: uint8 images ``(N, 3, 32, 32)``, int64 labels, class names.

    Each batch is a pickled dict with ``data`` (uint8 ``(n, 3072)``: 1024 red, then 1024 green, then
    1024 blue values, each a row-major 32x32 image) and ``labels`` (n ints in 0..9); ``batches.meta``
    holds ``label_names``.
    """
    check_split(split)
    images, labels = [], []
    classes = tuple(str(i) for i in range(10))
    with tarfile.open(path, "r:*") as tar:
        def read(name):
            try:
                member = tar.extractfile(f"{CIFAR10_DIR}/{name}")
            except KeyError:
                member = None
            if member is None:
                raise ValueError(f"{path}: no {CIFAR10_DIR}/{name} in the tarball")
            obj = safe_unpickle(member.read())
            if not isinstance(obj, dict):
                raise ValueError(f"{path}: {name} is not a dict")
            return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}

        for name in _cifar_entries(split):
            batch = read(name)
            data = np.asarray(batch["data"])
            lab = np.asarray(batch["labels"], dtype=np.int64)
            if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(lab) != len(data):
                raise ValueError(f"{path}: {name} has data {data.dtype} {data.shape} and {len(lab)} labels")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(lab)
        try:
            meta = read("batches.meta")
        except ValueError:  # no batches.meta in the tarball: classes stay "0".."9"
            meta = {}
        names = meta.get("label_names")
        if names is not None and len(names) == 10:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    labels = np.concatenate(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels outside 0..9")
    return np.concatenate(images), labels, classes


def load_cifar10(split: str = "train", tarball: str | os.PathLike | None = None,
                 offline: bool | None = None) -> ImageDataset:
    """CIFAR-10 ``split`` ("train": 50k, "test": 10k): uint8 images ``(N, 3, 32, 32)`` (R, G, B), int64 labels.

    Default: the official tarball in ``cache_dir()/cifar10`` (downloaded with pooch unless offline,
    checked by :data:`CIFAR10_HASH`). ``tarball=``: read a local tarball in the official format instead;
    its ``source`` is "official" if its md5 is the official one, else "local-tarball".
    """
    check_split(split)
    if tarball is not None:
        path = Path(tarball).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        source = "official" if hash_ok(path, CIFAR10_HASH) else "local-tarball"
    else:
        path = _cifar10_path()
        if not cifar10_here():
            if is_offline(offline):
                raise DataUnavailableError(f"CIFAR-10 is not in {path.parent} and downloading it is off: "
                                           f"{cifar10_howto()}")
            import pooch

            try:
                pooch.retrieve(CIFAR10_URL, known_hash=CIFAR10_HASH, fname=CIFAR10_FILE, path=path.parent,
                               downloader=pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT_S), progressbar=False)
            except Exception as exc:
                raise DataUnavailableError(f"could not download CIFAR-10 ({type(exc).__name__}: "
                                           f"{str(exc)[:200]}): {cifar10_howto()}") from exc
        source = "official"
    try:
        images, labels, classes = parse_cifar10_tarball(path, split)
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, ValueError) as exc:
        raise DataUnavailableError(f"{path} is not a readable CIFAR-10 python tarball ({type(exc).__name__}: "
                                   f"{exc}); delete it or give another") from exc
    return ImageDataset(images, labels, source, False, split, note=f"CIFAR-10 python tarball {path}",
                        classes=classes)
