"""A restricted unpickler for dataset pickles (MNIST's ``mnist.pkl.gz``, CIFAR-10's batches): numpy arrays
and plain Python data only, so no code runs.
"""

from __future__ import annotations

import importlib
import io
import pickle

import numpy as np


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


def safe_unpickle(data: bytes):
    """Unpickle ``data`` with :class:`_RestrictedUnpickler` (bytes of Python 2 pickles read as latin-1)."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
