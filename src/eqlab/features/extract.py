"""Run a tapped model on x and on g·x and write every tap to the feature store.

Extraction streams: batch by batch, the taps of batch k go to their partitions (one row group each,
:class:`eqlab.features.store.PartitionWriter`) on a writer thread while the model computes batch k+1,
so at most two batches of activations are in memory and Parquet encoding overlaps the forward pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from eqlab.data.store import to_float
from eqlab.features.store import PartitionWriter, partition
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


def as_numpy(h: torch.Tensor) -> np.ndarray:
    """A tap output as a C-contiguous float32 array; no copy when it already is one on the CPU."""
    return np.ascontiguousarray(h.detach().to("cpu", torch.float32).numpy())


@torch.no_grad()
def tap_batches(model: TappedModel, batches: Iterable[torch.Tensor]) -> Iterator[list[np.ndarray]]:
    """For each batch of float images: every tap output of ``model`` (eval mode), ``(B, C, H, W)``."""
    model.eval()
    device = next(model.parameters()).device
    for xb in batches:
        _, taps = model.forward_taps(xb.to(device))
        yield [as_numpy(h) for h in taps]


def tap_outputs(model: TappedModel, x: torch.Tensor, batch_size: int = 256) -> list[np.ndarray]:
    """All tap outputs of ``model`` (eval mode) on float images ``x`` → list of ``(N, C, H, W)``."""
    batches = list(tap_batches(model, (x[i : i + batch_size] for i in range(0, len(x), batch_size))))
    return [np.concatenate(hs) for hs in zip(*batches, strict=True)]


def _write_batch(writers: list[PartitionWriter], outs: list[np.ndarray], ids: np.ndarray, labels: np.ndarray) -> None:
    for w, h in zip(writers, outs, strict=True):
        w.write(h, ids, labels)


def write_transform(
    model: TappedModel, x: torch.Tensor, g: Transform, interp: str, root: Path, sample_ids: np.ndarray,
    labels: np.ndarray, meta: dict[str, Any], pool: Executor, batch_size: int = 256,
) -> list[dict[str, Any]]:
    """Stream ``φ_L(g·x)`` for every tap L into its partition under ``root``, batch by batch: the
    writes of batch k run on ``pool`` while batch k+1 is computed. Returns the taps' manifest entries."""
    layers: list[dict[str, Any]] = []
    with ExitStack() as files:
        writers: list[PartitionWriter] = []
        pending: Future[None] | None = None
        gx = (g.apply(x[i : i + batch_size], interp) for i in range(0, len(x), batch_size))  # type: ignore[arg-type]
        try:
            for start, outs in zip(range(0, len(x), batch_size), tap_batches(model, gx), strict=True):
                if not writers:
                    layers = [{"name": tap.name, "shape": list(h.shape[1:]), "group_size": tap.group_size,
                               "layout": list(tap.blocks)} for tap, h in zip(model.taps, outs, strict=True)]
                    writers = [files.enter_context(PartitionWriter(
                        partition(root, tap.name, g.name), tap.name, g.name, h.shape[1:],
                        dict(meta, group_size=tap.group_size, n_groups=tap.n_groups, layout=list(tap.blocks),
                             exact=g.exact))) for tap, h in zip(model.taps, outs, strict=True)]
                if pending is not None:
                    pending.result()  # at most one batch waits to be written
                rows = slice(start, start + len(outs[0]))
                pending = pool.submit(_write_batch, writers, outs, sample_ids[rows], labels[rows])
        finally:
            if pending is not None:
                wait([pending])  # never close a file under a running write
        if pending is not None:
            pending.result()
    return layers


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
    batch_size: int = 256,
) -> dict[str, Any]:
    """Write ``φ_L(g·x)`` for every tap L and every g in ``transforms`` (identity first) to ``out``.

    g acts on batches of ``batch_size`` images (every transform acts image by image); each partition
    holds one row group per batch. The whole feature root is written atomically."""
    if len(images) == 0:
        raise ValueError("no images to extract features from")
    x = to_float(torch.from_numpy(images))
    manifest = dict(meta, n_images=int(len(images)), transforms=[g.name for g in transforms],
                    interpolation=interp, layers=[], exact={g.name: g.exact for g in transforms})
    with atomic_path(out) as tmp, ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as pool:
        tmp.mkdir()
        for g in tqdm(transforms, desc="extract", unit="transform", disable=not progress):
            layers = write_transform(model, x, g, interp, tmp, sample_ids, labels, meta, pool, batch_size)
            if g.name == transforms[0].name:
                manifest["layers"] = layers
        (tmp / "manifest.json").write_text(dumps_json(manifest), encoding="utf-8")
    return manifest
