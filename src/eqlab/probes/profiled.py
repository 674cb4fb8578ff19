"""Probe params with per-profile sizes: shared keys in ``<section>``, sizes only in ``<section>.<profile>``."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from eqlab.params import PROFILES, ParamError, build, profile_of, section

T = TypeVar("T")


def profiled_config(params: dict[str, Any], key: str, cls: type[T], sizes: type) -> T:
    """``cls`` from params section ``key`` (shared keys) and ``key.<profile>`` (the fields of the
    ``sizes`` dataclass, which only the profile may set); every error is a :class:`ParamError` naming
    the key."""
    profile = profile_of(params)
    names = [f.name for f in dataclasses.fields(sizes)]
    shared = {k: v for k, v in section(params, key).items() if k not in PROFILES}
    if misplaced := sorted(set(shared) & set(names)):
        raise ParamError(f"params key(s) {[f'{key}.{k}' for k in misplaced]} belong under {key}.<profile>, "
                         f"one of {list(PROFILES)}")  # fmt: skip
    per_profile = build(sizes, section(params, f"{key}.{profile}"), f"{key}.{profile}")
    try:
        return build(cls, {**shared, **dataclasses.asdict(per_profile)}, key)
    except ParamError:
        raise
    except ValueError as e:  # the config's own cross-field checks
        raise ParamError(f"params section '{key}': {e}") from e
