"""The one reader of configuration tables (TOML): every table is checked against a schema
{key: (kind, default)} — unknown keys, missing required keys, wrong types and non-finite
numbers raise `ConfigError` naming the key and what is allowed.

    read_section("protocol.", table, {"snapshots": (int, REQUIRED), "burn_in": (int, 0)})
    from_table(TrainingOptions, table, "training.")   # the schema of a frozen dataclass

A default of REQUIRED makes a key required, None leaves an absent key out, any other value
fills it in. Kinds: float, int, str, bool, tuple (a TOML list), SIZE (an integer or a list
of integers: a lattice size) and LATTICE (a preset name or a custom lattice table).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path

from runtime.errors import ConfigError

REQUIRED = dataclasses.MISSING
SIZE = "size"
LATTICE = "lattice"
_WANTED = {float: "a number", int: "an integer", tuple: "a list", str: "a string",
           bool: "true or false", SIZE: "an integer or a list of integers",
           LATTICE: "a preset name or a table {name, vectors, basis}"}


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_value(where: str, kind, value):
    """`value` as the `kind` the key `where` wants (ints are numbers; lists become tuples
    for `tuple`), or a ConfigError."""
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if kind is int and _integer(value):
        return value
    if kind is tuple and isinstance(value, list):
        return tuple(value)
    if kind is SIZE and (_integer(value) or (
            isinstance(value, list) and all(_integer(n) for n in value))):
        return value
    if kind in (str, bool) and isinstance(value, kind):
        return value
    if kind is LATTICE and isinstance(value, (str, dict)):
        return value  # read by runtime.lattices.Lattice.of, which names any problem
    raise ConfigError(f"{where} must be {_WANTED[kind]}, got {value!r}")


def read_section(where: str, table, schema: dict, *, named: str | None = None) -> dict:
    """`table` checked against `schema`; the resolved dict. `named` is a key that selected
    the schema (e.g. `name` of a model), kept first and not checked again."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where.rstrip('.') or 'the configuration'} must be a table")
    allowed = ([named] if named else []) + list(schema)
    unknown = [key for key in table if key not in allowed]
    if unknown:
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(where + k for k in unknown)}; allowed: "
                          f"{', '.join(allowed)}")
    resolved = {named: table[named]} if named else {}
    for key, (kind, default) in schema.items():
        if key in table:
            resolved[key] = check_value(where + key, kind, table[key])
        elif default is REQUIRED:
            raise ConfigError(f"missing key {where}{key} (allowed keys: {', '.join(allowed)})")
        elif default is not None:
            resolved[key] = default
    return resolved


def _kind(annotation):
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1:
        annotation = options[0]  # `int | None`: None is the dataclass's default, never read
    kind = typing.get_origin(annotation) or annotation
    if kind not in (tuple, float, int, bool, str):
        raise TypeError(f"unsupported setting type {annotation!r}")
    return kind


def schema(cls, exclude: tuple[str, ...] = ()) -> dict:
    """The schema of a dataclass: its fields' types; those without a default are required
    (the others are left to the dataclass)."""
    hints = typing.get_type_hints(cls)
    return {f.name: (_kind(hints[f.name]), REQUIRED if f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING else None)
            for f in dataclasses.fields(cls) if f.name not in exclude}


def from_table(cls, table, where: str = ""):
    """An instance of the dataclass `cls` from a TOML table (missing keys take defaults);
    the dataclass's own `__post_init__` checks ranges, its ValueError becomes a ConfigError."""
    values = read_section(where, table, schema(cls))
    try:
        return cls(**values)
    except ValueError as error:
        raise ConfigError(f"{where.rstrip('.') or 'configuration'}: {error}") from None


def as_table(instance) -> dict:
    """A settings dataclass as a JSON/TOML-ready dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(instance).items()}


def read_toml(path) -> dict:
    """The table of a TOML file, or a ConfigError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; give the path of a TOML file such as "
                          f"configs/small/holstein.toml or configs/run_default.toml")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
