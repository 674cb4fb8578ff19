"""Typed, validated views of ``params.yaml``.

Each stage reads one section (plus the active profile) and turns it into a frozen dataclass.
Unknown keys, missing keys, wrong types and values outside an allowed set raise
:class:`ParamError`, whose message names the full dotted key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

PROFILES = ("small", "paper", "smoke")

T = TypeVar("T")


class ParamError(ValueError):
    """A parameter is missing, unknown, of the wrong type or outside its allowed values."""


class ArtifactError(ValueError):
    """A pipeline artifact (a checkpoint, a config, a table) is missing, truncated or unreadable."""


class RawDataError(ValueError):
    """A raw data file is missing, truncated or not in the expected format (raised by the loaders in
    :mod:`eqlab.data`; defined here so every stage's error handling depends on this module only)."""


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.exists():
        raise ParamError(f"params file not found: {p}")
    with p.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ParamError(f"{p}: expected a mapping at the top level")
    return data


def section(params: Mapping[str, Any], dotted: str) -> Any:
    """Return ``params[a][b]...`` for ``dotted = 'a.b...'`` with a clear error if absent."""
    node: Any = params
    walked: list[str] = []
    for part in dotted.split("."):
        walked.append(part)
        if not isinstance(node, Mapping) or part not in node:
            have = sorted(node) if isinstance(node, Mapping) else []
            raise ParamError(f"missing params key '{'.'.join(walked)}' (present here: {have})")
        node = node[part]
    return node


def profile_of(params: Mapping[str, Any]) -> str:
    prof = params.get("profile")
    if prof not in PROFILES:
        raise ParamError(f"params key 'profile' is {prof!r}; allowed values: {list(PROFILES)}")
    return str(prof)


def check_choice(key: str, value: Any, allowed: typing.Iterable[Any]) -> Any:
    allowed = list(allowed)
    if value not in allowed:
        raise ParamError(f"params key '{key}' is {value!r}; allowed values: {allowed}")
    return value


def _coerce(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Literal:
        return check_choice(key, value, args)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(key, value, a)
            except ParamError as e:
                errors.append(str(e))
        raise ParamError(errors[0] if errors else f"params key '{key}': bad value {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ParamError(f"params key '{key}' must be a list, got {value!r}")
        inner = args[0] if args else Any
        return tuple(_coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ParamError(f"params key '{key}' must be a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(key, k, kt): _coerce(f"{key}.{k}", v, vt) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamError(f"params key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"params key '{key}' must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamError(f"params key '{key}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ParamError(f"params key '{key}' must be a string, got {value!r}")
        return value
    return value


def build(cls: type[T], data: Any, key: str) -> T:
    """Build dataclass ``cls`` from mapping ``data`` found at dotted ``key``.

    Unknown keys are an error (typos never pass silently); missing keys without a default too.
    Fields may declare ``metadata={'min': x, 'max': y}`` for numeric bounds.
    """
    if not isinstance(data, Mapping):
        raise ParamError(f"params key '{key}' must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamError(
            f"unknown params key(s) {[f'{key}.{u}' for u in unknown]}; allowed keys: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        full = f"{key}.{name}"
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(f"missing params key '{full}'")
            continue
        v = _coerce(full, data[name], hints[name])
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None and v < lo or hi is not None and v > hi:
            raise ParamError(f"params key '{full}' is {v!r}; allowed range: [{lo}, {hi}]")
        values[name] = v
    return cls(**values)
