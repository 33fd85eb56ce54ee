"""Frozen, typed configuration loaded from TOML.

Each layer declares its own frozen dataclass of settings (for example the
detection thresholds in :mod:`sarolangun_geo.change.params`) and loads it with
:func:`load_dataclass`.  Loading is strict: unknown keys, missing required
keys and wrong types raise :class:`~sarolangun_geo.errors.ConfigError` naming
the file, the key and the fix.  Nothing here is global; callers pass the
loaded objects explicitly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = [
    "CONFIG_DIR",
    "DATA_DIR",
    "PACKAGE_ROOT",
    "config_hash",
    "from_mapping",
    "load_dataclass",
    "read_toml",
    "to_mapping",
]

T = TypeVar("T")

PACKAGE_ROOT = Path(__file__).resolve().parent
#: Repository ``data/`` folder (boundaries, default config).
DATA_DIR = PACKAGE_ROOT.parent / "data"
CONFIG_DIR = DATA_DIR / "config"


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, with a clear error for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; check the path or copy one from {CONFIG_DIR}")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML ({exc}); fix the syntax at that line") from exc


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return from_mapping(tp, value, where=where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or tp in (dict,):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({str(k): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()})
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a path string, got {value!r}")
        return Path(value)
    return value


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build frozen dataclass ``cls`` from a mapping, strictly.

    Unknown keys are errors (they are usually typos); missing keys take the
    dataclass default or are errors when there is none.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; valid keys are {sorted(fields)} (check the spelling)"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: required key {name!r} is missing; add it to the file")
    return cls(**kwargs)


def load_dataclass(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load ``cls`` from a TOML file, optionally from one ``[section]`` of it."""
    data = read_toml(path)
    if section is not None:
        if section not in data:
            raise ConfigError(f"{path}: section [{section}] is missing; add it (see {CONFIG_DIR})")
        data = data[section]
    return from_mapping(cls, data, where=f"{Path(path).name}" + (f"[{section}]" if section else ""))


def to_mapping(obj: Any) -> Any:
    """Plain-JSON view of a (nested) config dataclass, for hashing and provenance."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_mapping(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def config_hash(*objs: Any) -> str:
    """Stable SHA-256 (first 16 hex digits) of one or more config objects."""
    payload = json.dumps([to_mapping(o) for o in objs], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
