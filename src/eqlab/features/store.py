"""Feature tables: the Parquet layout every probe reads.

Layout: ``<root>/layer=<L>/transform=<g>/part-0.parquet`` plus ``<root>/manifest.json``.
One row per image; columns

=============  ==========================  ==============================================
``sample_id``  int64                       index of the image in the dataset's split
``label``      int64                       class label
``transform``  string                      the g applied to the input (``identity`` = x)
``layer``      string                      tap name
``values``     fixed_size_binary(4·C·H·W)  the activation φ(g·x) flattened in C, H, W order, as
                                           little-endian float32 bytes
=============  ==========================  ==============================================

Each file's schema metadata (key ``eqlab``) holds the tap's shape ``[C, H, W]``, its channel
layout (``group_size`` contiguous channels per group, ``n_groups``), the run and dataset, and
whether g is exact on the pixel grid. One layer × transform reads alone, without the others.

Files are written one row group per batch of images (:class:`PartitionWriter`), uncompressed, with
no dictionary on ``values`` and no statistics: activations barely compress (zstd saves 8-17 % and
costs 2-3× the write time; ``bench/parquet_options.py``), and a fixed-size binary cell is one Parquet
value per row, where a ``fixed_size_list<float32>`` costs a repetition and a definition level per
float. Same inputs → byte-identical files (no timestamps in the metadata). Files written before this
layout (``values`` as ``fixed_size_list<float32>``, zstd) still read (:func:`read_block`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"eqlab"
FLOAT = np.dtype("<f4")
# dictionary encoding only on the two constant string columns: tried on the floats it falls back to
# plain after a page and costs write time for nothing
WRITE_OPTIONS: dict[str, Any] = {"compression": "none", "use_dictionary": ["transform", "layer"],
                                 "write_statistics": False}


def partition(root: str | Path, layer: str, transform: str) -> Path:
    return Path(root) / f"layer={layer}" / f"transform={transform}" / "part-0.parquet"


def schema(row_bytes: int, meta: dict[str, Any]) -> pa.Schema:
    """The partition schema for rows of ``row_bytes`` bytes of float32, with ``meta`` as JSON under ``eqlab``."""
    return pa.schema([("sample_id", pa.int64()), ("label", pa.int64()), ("transform", pa.string()),
                      ("layer", pa.string()), ("values", pa.binary(row_bytes))],
                     metadata={META_KEY: json.dumps(meta, sort_keys=True).encode()})


def values_array(values: np.ndarray) -> pa.FixedSizeBinaryArray:
    """``values`` ``(N, ...)`` as N fixed-size binary cells of its little-endian float32 bytes.

    No copy when ``values`` is already C-contiguous ``<f4``: the Arrow buffer views its memory (and
    keeps it alive)."""
    flat = np.ascontiguousarray(values, dtype=FLOAT).reshape(len(values), -1)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(flat.shape[1] * FLOAT.itemsize), len(flat),
                                                [None, pa.py_buffer(flat)])


class PartitionWriter:
    """Writes one layer × transform partition, one row group per :meth:`write` call.

    ``shape`` is the tap's ``[C, H, W]``; every batch must have it. Not atomic by itself: callers
    write the whole feature root inside :func:`eqlab.io.atomic_path`. Use as a context manager (the
    file is complete once closed)."""

    def __init__(self, path: Path, layer: str, transform: str, shape: tuple[int, ...] | list[int],
                 meta: dict[str, Any]) -> None:
        self.layer, self.transform, self.shape = layer, transform, tuple(int(s) for s in shape)
        full = dict(meta, layer=layer, transform=transform, shape=list(self.shape))
        self.schema = schema(int(np.prod(self.shape)) * FLOAT.itemsize, full)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, self.schema, **WRITE_OPTIONS)

    def write(self, values: np.ndarray, sample_ids: np.ndarray, labels: np.ndarray) -> None:
        """Append ``values`` float32 ``(B, C, H, W)`` with their ids and labels as one row group."""
        if tuple(values.shape[1:]) != self.shape:
            raise ValueError(f"batch of shape {tuple(values.shape)} for layer {self.layer!r}: rows must have "
                             f"shape {list(self.shape)}")
        n = len(values)
        if len(sample_ids) != n or len(labels) != n:
            raise ValueError(f"{n} rows of values but {len(sample_ids)} sample ids and {len(labels)} labels")
        batch = pa.record_batch([
            pa.array(np.asarray(sample_ids, dtype=np.int64)),
            pa.array(np.asarray(labels, dtype=np.int64)),
            pa.array([self.transform] * n, type=pa.string()),
            pa.array([self.layer] * n, type=pa.string()),
            values_array(values),
        ], schema=self.schema)
        self._writer.write_batch(batch, row_group_size=max(n, 1))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def write_table(
    path: Path, values: np.ndarray, sample_ids: np.ndarray, labels: np.ndarray,
    layer: str, transform: str, meta: dict[str, Any],
) -> None:
    """Write one partition (``values`` float32 ``(N, C, H, W)``) to ``path`` as one row group (not
    atomic by itself, see :class:`PartitionWriter`)."""
    with PartitionWriter(path, layer, transform, values.shape[1:], meta) as w:
        w.write(values, sample_ids, labels)


@dataclass(frozen=True)
class FeatureBlock:
    values: np.ndarray  # float32 (N, C, H, W)
    sample_ids: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]


def column_floats(col: pa.ChunkedArray, shape: list[int]) -> np.ndarray:
    """The ``values`` column as a new writable float32 array ``(N, *shape)``.

    Reads both layouts: ``fixed_size_binary`` of little-endian float32 bytes (one copy, out of the
    Arrow buffers) and the older ``fixed_size_list<float32>``."""
    d = int(np.prod(shape))
    if pa.types.is_fixed_size_binary(col.type):
        if col.type.byte_width != d * FLOAT.itemsize:
            raise ValueError(f"values cells of {col.type.byte_width} bytes, but shape {shape} needs "
                             f"{d * FLOAT.itemsize}")
        out = np.empty((len(col), d), dtype=np.float32)
        start = 0
        for chunk in col.chunks:
            if chunk.null_count:
                raise ValueError(f"{chunk.null_count} null values cells")
            n = len(chunk)
            out[start : start + n] = np.frombuffer(chunk.buffers()[1], dtype=FLOAT, count=n * d,
                                                   offset=chunk.offset * d * FLOAT.itemsize).reshape(n, d)
            start += n
        return out.reshape(len(col), *shape)
    if pa.types.is_fixed_size_list(col.type) and col.type.value_type == pa.float32():
        flat = col.combine_chunks().flatten().to_numpy(zero_copy_only=False).copy()
        return flat.reshape(len(col), *shape)
    raise ValueError(f"values column of type {col.type}; readable: fixed_size_binary (float32 bytes), "
                     f"fixed_size_list<float32>")


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
    return FeatureBlock(
        column_floats(table.column("values"), meta["shape"]),
        table.column("sample_id").to_numpy(),
        table.column("label").to_numpy(),
        meta,
    )


def read_manifest(root: str | Path) -> dict[str, Any]:
    p = Path(root) / "manifest.json"
    if not p.exists():
        raise FileNotFoundError(f"not a feature directory (no manifest.json): {root}")
    return json.loads(p.read_text(encoding="utf-8"))
