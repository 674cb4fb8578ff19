"""Feature tables: the Parquet layout every probe reads.

Layout: ``<root>/layer=<L>/transform=<g>/part-0.parquet`` plus ``<root>/manifest.json``.
One row per image; columns

=============  ==========================  ==============================================
``sample_id``  int64                       index of the image in the dataset's split
``label``      int64                       class label
``transform``  string                      the g applied to the input (``identity`` = x)
``layer``      string                      tap name
``values``     fixed_size_list<float32>    the activation φ(g·x) flattened in C, H, W order
=============  ==========================  ==============================================

Each file's schema metadata (key ``eqlab``) holds the tap's shape ``[C, H, W]``, its channel
layout (``group_size`` contiguous channels per group, ``n_groups``), the run and dataset, and
whether g is exact on the pixel grid. One layer × transform reads alone, without the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"eqlab"


def partition(root: str | Path, layer: str, transform: str) -> Path:
    return Path(root) / f"layer={layer}" / f"transform={transform}" / "part-0.parquet"


def write_table(
    path: Path, values: np.ndarray, sample_ids: np.ndarray, labels: np.ndarray,
    layer: str, transform: str, meta: dict[str, Any],
) -> None:
    """Write one partition (``values`` float32 ``(N, C, H, W)``) to ``path`` (not atomic by itself:
    callers write the whole feature root inside :func:`eqlab.io.atomic_path`)."""
    n = len(values)
    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(n, -1)
    col = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), type=pa.float32()), flat.shape[1])
    table = pa.table({
        "sample_id": pa.array(sample_ids.astype(np.int64)),
        "label": pa.array(labels.astype(np.int64)),
        "transform": pa.array([transform] * n, type=pa.string()),
        "layer": pa.array([layer] * n, type=pa.string()),
        "values": col,
    })
    full = dict(meta, layer=layer, transform=transform, shape=list(values.shape[1:]))
    table = table.replace_schema_metadata({META_KEY: json.dumps(full, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    # dictionary encoding only where it pays (the two constant string columns): trying it on the
    # floats first and falling back costs 3× the write time; byte-stream-split packs floats better
    pq.write_table(table, path, compression="zstd", compression_level=1, write_statistics=False,
                   use_dictionary=["transform", "layer"],
                   column_encoding={"values.list.element": "BYTE_STREAM_SPLIT"})


@dataclass(frozen=True)
class FeatureBlock:
    values: np.ndarray  # float32 (N, C, H, W)
    sample_ids: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]


def read_block(root: str | Path, layer: str, transform: str) -> FeatureBlock:
    """Read one layer × transform partition back into an ``(N, C, H, W)`` array."""
    path = partition(root, layer, transform)
    if not path.exists():
        man = read_manifest(root)
        raise FileNotFoundError(
            f"no features for layer {layer!r}, transform {transform!r} under {root}; "
            f"layers: {[lay['name'] for lay in man['layers']]}, transforms: {man['transforms']}"
        )
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[META_KEY])
    values = table.column("values").combine_chunks().flatten().to_numpy(zero_copy_only=False).copy()
    shape = meta["shape"]
    return FeatureBlock(
        values.reshape(len(table), *shape),
        table.column("sample_id").to_numpy(),
        table.column("label").to_numpy(),
        meta,
    )


def read_manifest(root: str | Path) -> dict[str, Any]:
    p = Path(root) / "manifest.json"
    if not p.exists():
        raise FileNotFoundError(f"not a feature directory (no manifest.json): {root}")
    return json.loads(p.read_text(encoding="utf-8"))
