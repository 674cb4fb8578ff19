"""Which Parquet layout for the feature store: write/read speed and file size, measured.

A realistic batch is the taps of ``rotmnist6`` (width 0.125, random init) on 256 random images: all six
taps, as ``extract_features`` writes them (one file per tap). Each option is one choice of the
``values`` column type (``fixed_size_list<float32>`` or ``fixed_size_binary`` of the row's float32
bytes), compression and encoding. MB/s is raw float32 megabytes (10^6 bytes) per second of CPU time
(this process, user + system: the kernel's share of writing the file included) and of wall time, each
from the fastest of ``--repeats`` runs: on a shared CPU other processes only ever add time, and CPU
time is what they disturb least.

    PYTHONPATH=src python bench/parquet_options.py [--repeats 5] [--out reports/bench/parquet_options.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from eqlab.io import write_text
from eqlab.models import build_model

# name → (values column kind, pq.write_table keyword arguments)
OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "list, zstd-1, byte-stream-split (old)": ("list", {
        "compression": "zstd", "compression_level": 1, "use_dictionary": ["transform", "layer"],
        "column_encoding": {"values.list.element": "BYTE_STREAM_SPLIT"}}),
    "list, zstd-1, plain": ("list", {
        "compression": "zstd", "compression_level": 1, "use_dictionary": ["transform", "layer"]}),
    "list, snappy": ("list", {"compression": "snappy", "use_dictionary": ["transform", "layer"]}),
    "list, lz4": ("list", {"compression": "lz4", "use_dictionary": ["transform", "layer"]}),
    "list, none, plain": ("list", {"compression": "none", "use_dictionary": ["transform", "layer"]}),
    "list, none, dictionary tried on values": ("list", {"compression": "none", "use_dictionary": True}),
    "binary, zstd-1": ("binary", {"compression": "zstd", "compression_level": 1,
                                  "use_dictionary": ["transform", "layer"]}),
    "binary, lz4": ("binary", {"compression": "lz4", "use_dictionary": ["transform", "layer"]}),
    "binary, none, plain": ("binary", {"compression": "none", "use_dictionary": ["transform", "layer"]}),
    "binary, none, plain, 8 MiB pages": ("binary", {"compression": "none", "use_dictionary": ["transform", "layer"],
                                                    "data_page_size": 8 << 20}),
    "binary, none, dictionary tried on values": ("binary", {"compression": "none", "use_dictionary": True}),
}


def feature_batch(n: int = 256, seed: int = 0) -> list[np.ndarray]:
    """The six tap outputs ``(n, C, H, W)`` float32 of a random-init rotmnist6 on random images."""
    torch.manual_seed(seed)
    model = build_model("rotmnist6", width=0.125).eval()
    x = torch.from_numpy(np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32))
    with torch.no_grad():
        _, taps = model.forward_taps(x)
    return [np.ascontiguousarray(h.numpy()) for h in taps]


def values_column(h: np.ndarray, kind: str) -> pa.Array:
    """``h`` ``(N, ...)`` float32 as one Arrow column of N rows, without copying the floats."""
    n, d = len(h), h[0].size
    buf = pa.py_buffer(np.ascontiguousarray(h, dtype=np.float32).reshape(-1))
    if kind == "binary":
        return pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 * d), n, [None, buf])
    return pa.FixedSizeListArray.from_arrays(pa.Array.from_buffers(pa.float32(), n * d, [None, buf]), d)


def table_of(h: np.ndarray, kind: str) -> pa.Table:
    n = len(h)
    return pa.table({"sample_id": pa.array(np.arange(n, dtype=np.int64)), "label": pa.array(np.zeros(n, np.int64)),
                     "transform": pa.array(["rot90"] * n), "layer": pa.array(["conv"] * n),
                     "values": values_column(h, kind)})


def best_times(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """The least CPU time and the least wall time of ``repeats`` calls of ``fn`` (after one warm-up)."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return min(cpu), min(wall)


def measure(batch: list[np.ndarray], repeats: int, folder: Path) -> list[dict[str, Any]]:
    raw = sum(h.nbytes for h in batch)
    rows = []
    for name, (kind, kw) in OPTIONS.items():
        paths = [folder / f"{i}.parquet" for i in range(len(batch))]

        def write(kind: str = kind, kw: dict[str, Any] = kw, paths: list[Path] = paths) -> None:
            for h, p in zip(batch, paths, strict=True):
                pq.write_table(table_of(h, kind), p, write_statistics=False, **kw)

        def read(paths: list[Path] = paths) -> None:
            for p in paths:
                pq.read_table(p, columns=["values"])

        (wc, ww), (rc, rw) = best_times(write, repeats), best_times(read, repeats)
        size = sum(p.stat().st_size for p in paths)
        rows.append({"option": name, "write_cpu": raw / wc / 1e6, "write_wall": raw / ww / 1e6,
                     "read_cpu": raw / rc / 1e6, "read_wall": raw / rw / 1e6,
                     "size_MiB": size / 2**20, "size_ratio": size / raw})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n", type=int, default=256, help="images in the batch")
    p.add_argument("--out", help="also write the Markdown table here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    batch = feature_batch(args.n)
    raw = sum(h.nbytes for h in batch)
    with tempfile.TemporaryDirectory() as d:
        rows = measure(batch, args.repeats, Path(d))
    lines = [f"{args.n} images × 6 taps of rotmnist6 (width 0.125): {raw / 2**20:.1f} MiB of float32, "
             f"pyarrow {pa.__version__}, best of {args.repeats}, load average {os.getloadavg()[0]:.1f} "
             f"on {os.cpu_count()} CPUs", "",
             "| option | write MB/s CPU | write MB/s wall | read MB/s CPU | read MB/s wall | file MiB | file / raw |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['option']} | {r['write_cpu']:.0f} | {r['write_wall']:.0f} | {r['read_cpu']:.0f} | "
              f"{r['read_wall']:.0f} | {r['size_MiB']:.2f} | {r['size_ratio']:.3f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
