"""Run a tapped model on x and on g·x and write every tap to the feature store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from eqlab.data.store import to_float
from eqlab.features.store import partition, write_table
from eqlab.groups import Transform
from eqlab.io import atomic_path, dumps_json
from eqlab.models import TappedModel


@dataclass(frozen=True)
class ExtractConfig:
    """``extract_features`` (profile-independent keys)."""

    transforms: tuple[str, ...]
    interpolation: str = "bilinear"
    seed: int = 0


@dataclass(frozen=True)
class ExtractProfile:
    """``extract_features.<profile>``."""

    n_images: int = field(metadata={"min": 2})


@torch.no_grad()
def tap_outputs(model: TappedModel, x: torch.Tensor, batch_size: int = 256) -> list[np.ndarray]:
    """All tap outputs of ``model`` (eval mode) on float images ``x`` → list of ``(N, C, H, W)``."""
    model.eval()
    device = next(model.parameters()).device
    chunks: list[list[torch.Tensor]] = [[] for _ in model.taps]
    for i in range(0, len(x), batch_size):
        _, taps = model.forward_taps(x[i : i + batch_size].to(device))
        for store, h in zip(chunks, taps, strict=True):
            store.append(h.float().cpu())
    return [torch.cat(c).numpy() for c in chunks]


def extract_features(
    model: TappedModel,
    images: np.ndarray,
    labels: np.ndarray,
    sample_ids: np.ndarray,
    transforms: Sequence[Transform],
    out: str | Path,
    meta: dict[str, Any],
    interp: str = "bilinear",
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``φ_L(g·x)`` for every tap L and every g in ``transforms`` (identity first) to ``out``."""
    x = to_float(torch.from_numpy(images))
    manifest = dict(meta, n_images=int(len(images)), transforms=[g.name for g in transforms],
                    interpolation=interp, layers=[], exact={g.name: g.exact for g in transforms})
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for g in tqdm(transforms, desc="extract", unit="transform", disable=not progress):
            outs = tap_outputs(model, g.apply(x, interp))  # type: ignore[arg-type]
            for tap, h in zip(model.taps, outs, strict=True):
                tmeta = dict(meta, group_size=tap.group_size, n_groups=tap.n_groups, layout=list(tap.blocks),
                             exact=g.exact)
                write_table(partition(tmp, tap.name, g.name), h, sample_ids, labels, tap.name, g.name, tmeta)
                if g.name == transforms[0].name:
                    manifest["layers"].append({"name": tap.name, "shape": list(h.shape[1:]),
                                               "group_size": tap.group_size, "layout": list(tap.blocks)})
        (tmp / "manifest.json").write_text(dumps_json(manifest), encoding="utf-8")
    return manifest
