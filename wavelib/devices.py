"""Turning a device name into a ``torch.device``, with errors that say what to do; true float32 on CUDA."""

from __future__ import annotations

import contextlib

import torch

from .presets import ConfigError

DEVICE_ENV = "WAVELIB_DEVICE"


def resolve_device(name: str = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when present, else CPU) as a checked device.

    Raises :class:`ConfigError` before any work if the device is not on this machine.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"no device named ({name!r}); use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {name!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from exc
    if device.type == "cpu":
        if device.index not in (None, 0):
            raise ConfigError(f"device {name!r}: PyTorch has one CPU device; use 'cpu'")
        return torch.device("cpu")
    if device.type != "cuda":
        raise ConfigError(f"unsupported device {name!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} asked for, but this machine has no CUDA GPU visible to PyTorch; "
            "use --device cpu (smoke/cpu presets), or run on a GPU machine"
        )
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist"
        )
    return device


def device_description(device: torch.device) -> str:
    """A human name for the device, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return device.type


def true_float32() -> contextlib.AbstractContextManager[None]:
    """Context manager: cuDNN (CUDA convolutions and RNNs, such as the iRNN's ``nn.RNN``) without TF32, which
    PyTorch allows it by default on Ampere and newer GPUs (TF32 keeps 10 mantissa bits: ~1e-3 relative per
    product). A global setting, not per thread: enter it around the whole of a grid whose runs share threads."""
    return torch.backends.cudnn.flags(enabled=True, allow_tf32=False)
