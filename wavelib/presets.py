"""The three presets every chapter offers, and the validated chapter configs built from them.

- ``smoke``: the whole chapter in under a minute on 2 CPU cores (tests, CI);
- ``cpu``: the default; real phenomena at reduced scale, minutes per chapter on 2 cores (Chapters 1–4 under 8,
  Chapter 5 up to 20);
- ``paper``: the paper's protocol (sizes, steps, seeds) where the paper states it, the chapter's stated choices
  where it does not (Chapter 5's abstract gives none); meant for a GPU.

``WAVELIB_PRESET`` picks the preset for a whole build or test run; an explicit argument wins.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from typing import Any

import numpy as np

PRESETS: dict[str, str] = {
    "smoke": "whole chapter in < 60 s on 2 CPU cores (tests and CI)",
    "cpu": "default; real phenomena at reduced scale, minutes per chapter on 2 CPU cores (Ch. 1-4 < 8, Ch. 5 < 20)",
    "paper": "the paper's protocol (sizes, steps, seeds) where it is stated, stated choices where not; for a GPU",
}
DEFAULT_PRESET = "cpu"
PRESET_ENV = "WAVELIB_PRESET"


class ConfigError(ValueError):
    """A bad preset, chapter, knob or value; the message says what is valid."""


def resolve_preset(preset: str | None = None) -> str:
    """The preset to use: ``preset`` if given, else ``$WAVELIB_PRESET``, else ``cpu``."""
    name = preset if preset is not None else os.environ.get(PRESET_ENV) or DEFAULT_PRESET
    if name not in PRESETS:
        source = "" if preset is not None else f" (from ${PRESET_ENV})"
        raise ConfigError(f"unknown preset {name!r}{source}; valid presets: {', '.join(PRESETS)}")
    return name


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of every chapter config: a frozen dataclass of JSON-friendly knobs, checked on creation.

    Subclasses list their knobs as fields and override :meth:`validate`.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a bad value (subclasses extend this)."""

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> "Config":
        """A copy with some knobs changed; unknown knobs raise :class:`ConfigError` listing the valid ones."""
        unknown = sorted(set(overrides) - set(self.knobs()))
        if unknown:
            raise ConfigError(
                f"unknown knob(s) {', '.join(unknown)} for {type(self).__name__}; "
                f"valid knobs: {', '.join(self.knobs())}"
            )
        defaults, types = dataclasses.asdict(self), typing.get_type_hints(type(self))
        return dataclasses.replace(self, **{k: _knob_value(k, v, types[k], defaults[k]) for k, v in overrides.items()})


def _tuples(value: Any) -> Any:
    """Lists (also nested) as tuples: knobs that come back from JSON or papermill as lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _knob_value(name: str, value: Any, kind: Any, default: Any) -> Any:
    """``value`` for the knob ``name`` of type ``kind`` (preset value ``default``): lists become tuples, an int
    becomes a float where a float is asked for; a value of another type raises :class:`ConfigError`."""
    value = _tuples(value)
    if _not_finite(value):
        raise ConfigError(f"knob {name} must be a finite number, got {value!r}")
    converted = _as_type(value, kind)
    if converted is _WRONG:
        raise ConfigError(f"knob {name} takes a value like {default!r} ({_type_name(kind)}), got {value!r}")
    return converted


_WRONG = object()  #: what :func:`_as_type` returns for a value of the wrong type


def _not_finite(value: Any) -> bool:
    """Whether ``value`` is, or a tuple of it holds, a NaN or infinite float."""
    if isinstance(value, tuple):
        return any(_not_finite(v) for v in value)
    return isinstance(value, (float, np.floating)) and not math.isfinite(value)


def _as_type(value: Any, kind: Any) -> Any:
    """``value`` as type ``kind`` (int, float, bool, str, None, unions and tuples of them), or :data:`_WRONG`."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            converted = _as_type(value, option)
            if converted is not _WRONG:
                return converted
        return _WRONG
    if origin is tuple:
        if not isinstance(value, tuple):
            return _WRONG
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            return _WRONG
        items = [_as_type(v, k) for v, k in zip(value, kinds)]
        return _WRONG if any(item is _WRONG for item in items) else tuple(items)
    if kind is type(None):
        return None if value is None else _WRONG
    if kind is float:
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        return float(value) if numeric else _WRONG
    if kind is int:
        if isinstance(value, np.integer):
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else _WRONG
    if kind in (bool, str):
        return value if isinstance(value, kind) else _WRONG
    return value  # a type this check does not know: validate() has the last word


def _type_name(kind: Any) -> str:
    return str(kind).replace("<class '", "").replace("'>", "")


def require_positive(**values: float) -> None:
    """Raise :class:`ConfigError` unless every value is > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")


def require_positive_int(**values: int) -> None:
    """Raise ValueError unless every value is an ``int`` >= 1 (bools, floats and other types are refused)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; valid values: {', '.join(choices)}")
