"""The three presets every chapter offers, and the validated chapter configs built from them.

- ``smoke``: the whole chapter in under a minute on 2 CPU cores (tests, CI);
- ``cpu``: the default; real phenomena at reduced scale, minutes per chapter on 2 cores (most under 5);
- ``paper``: the paper's protocol exactly; meant for a GPU.

``WAVELIB_PRESET`` picks the preset for a whole build or test run; an explicit argument wins.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

PRESETS: dict[str, str] = {
    "smoke": "whole chapter in < 60 s on 2 CPU cores (tests and CI)",
    "cpu": "default; real phenomena at reduced scale, minutes per chapter on 2 CPU cores (most < 5)",
    "paper": "the paper's protocol (sizes, steps, seeds); meant for a GPU",
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
        defaults = dataclasses.asdict(self)
        return dataclasses.replace(self, **{k: _like(defaults[k], v, k) for k, v in overrides.items()})


def _tuples(value: Any) -> Any:
    """Lists (also nested) as tuples: knobs that come back from JSON or papermill as lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _like(default: Any, value: Any, name: str) -> Any:
    """``value`` for the knob ``name`` whose preset value is ``default``: a tuple knob takes a list or tuple."""
    if not isinstance(default, tuple):
        return value
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"knob {name} takes a tuple such as {default!r}, got {value!r}")
    return _tuples(value)


def require_positive(**values: float) -> None:
    """Raise :class:`ConfigError` unless every value is > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")


def require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; valid values: {', '.join(choices)}")
