"""DVC stage probe_dsb: the Jacobsen thesis's dynamic steerable block on the textured blobs (PAPERS.md 001, ch. 4).

The steerable block H(x) = F(Φ(x)) Φ(x) W versus the parameter-matched pixel-basis FCN, per blob level and
seed (:mod:`eqlab.probes.dsb_blobs`), with the gradient-magnitude and chance references. Writes the results
table (one row per level × net × seed), the loss curves and, for the first seed, example predictions and pose
maps (one row per level × panel × example, pixels as a list), plus a small metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from eqlab.data.store import load_meta, load_split
from eqlab.io import atomic_path, write_json
from eqlab.probes.dsb_blobs import KINDS, config_from_params, dsb_experiment
from eqlab.probes.stage_cli import probe_cli

log = logging.getLogger("probe_dsb")


def examples_frame(examples: dict[str, np.ndarray]) -> pd.DataFrame:
    """``l<level>_<panel>`` arrays (n, H, W) → rows (level, panel, example, height, width, pixels)."""
    rows = []
    for key, arr in examples.items():
        level, panel = key.split("_", 1)
        for i, a in enumerate(arr):
            rows.append((int(level[1:]), panel, i, a.shape[0], a.shape[1], a.astype(np.float32).ravel().tolist()))
    return pd.DataFrame(rows, columns=["level", "panel", "example", "height", "width", "pixels"])


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Seed-mean F at the validation threshold per level and net (references included)."""
    return {f"level{lev}_{kind}_f_val": round(float(g.f_val.mean()), 6) for (lev, kind), g in df.groupby(["level", "kind"])}


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    torch.use_deterministic_algorithms(True)
    levels = [int(v) for v in load_meta(args.dataset)["protocol"]["levels"]]
    train, val, test = (load_split(args.dataset, s) for s in ("train", "val", "test"))
    with tqdm(total=len(levels) * len(cfg.seeds) * len(KINDS), desc="probe_dsb", unit="net") as bar:
        df, curves, examples = dsb_experiment(cfg, train, val, test, levels, progress=bar)
    with atomic_path(Path(args.out)) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
        df.to_csv(tmp / "results.csv", index=False, float_format="%.6g")
        curves.to_parquet(tmp / "curves.parquet", index=False)
        examples_frame(examples).to_parquet(tmp / "examples.parquet", index=False)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    return probe_cli(main, __doc__, argv, "output directory: results, curves and examples tables",
                     [("dataset", "the blobs dataset directory (make_dataset@blobs)")])


if __name__ == "__main__":
    sys.exit(cli())
