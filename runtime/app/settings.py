"""Strict TOML tables for the force-field commands (train, simulate, run): each table is a
frozen dataclass whose field defaults give the types; unknown keys, missing required keys
and wrong types raise `ConfigError` naming the key and what is allowed."""

from __future__ import annotations

import dataclasses
import typing

from runtime.errors import ConfigError


def _kind(annotation) -> type:
    kind = typing.get_origin(annotation) or annotation
    if kind not in (tuple, float, int, bool, str):
        raise TypeError(f"unsupported setting type {annotation!r}")
    return kind


def _value(where: str, kind: type, value):
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if kind in (str, bool) and isinstance(value, kind):
        return value
    wanted = {float: "a number", int: "an integer", tuple: "a list", str: "a string",
              bool: "true or false"}[kind]
    raise ConfigError(f"{where} must be {wanted}, got {value!r}")


def from_table(cls, table, where: str = ""):
    """An instance of the dataclass `cls` from a TOML table (missing keys take defaults);
    the dataclass's own `__post_init__` checks ranges, its ValueError becomes a ConfigError."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where.rstrip('.') or 'the configuration'} must be a table")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in table if key not in allowed]
    if unknown:
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(where + k for k in unknown)}; allowed: "
                          f"{', '.join(allowed)}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in table:
            values[f.name] = _value(where + f.name, _kind(hints[f.name]), table[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing key {where}{f.name} (allowed keys: {', '.join(allowed)})")
    try:
        return cls(**values)
    except ValueError as error:
        raise ConfigError(f"{where.rstrip('.') or 'configuration'}: {error}") from None


def as_table(instance) -> dict:
    """A settings dataclass as a JSON/TOML-ready dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(instance).items()}
