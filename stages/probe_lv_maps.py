"""DVC stage probe_lv_maps@<run>: Lenc & Vedaldi equivariance maps per layer × transform.

Reads the extracted features and the trained model (for the frozen tail); writes a tidy table
(Parquet + CSV, one row per measurement) and a small metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from eqlab.cli import run_stage
from eqlab.features.store import read_block, read_manifest
from eqlab.groups import get_transform
from eqlab.io import read_json, write_json
from eqlab.models import load_trained
from eqlab.params import build, section
from eqlab.probes.frame import probe_frame
from eqlab.probes.lenc_vedaldi import LVConfig, lv_layer, split_indices
from eqlab.probes.table import write_results
from eqlab.train.device import device_from_params

log = logging.getLogger("probe_lv_maps")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """The few numbers ``dvc metrics`` compares: top-1 error of the tail on φ(x) and, per compensation,
    its mean over layers and transforms (per-layer values are in the table)."""
    top1 = df[df.metric == "top1_error"]
    means = top1.groupby("probe", sort=True).value.mean()
    return {f"top1_error_{p}": float(v) for p, v in means.items()}


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = build(LVConfig, section(params, "probe_lv_maps"), "probe_lv_maps")
    device = device_from_params(params)
    config = read_json(Path(args.model_dir) / "config.json")
    manifest = read_manifest(args.features)
    torch.manual_seed(cfg.seed)
    model = load_trained(args.model_dir, device)
    rows: list[dict] = []
    transforms = [t for t in manifest["transforms"] if t != "identity"]
    work = [(lay["name"], t) for lay in manifest["layers"] for t in transforms]
    fit = ev = None
    for layer, tname in tqdm(work, desc="lv_maps", unit="map"):
        base = read_block(args.features, layer, "identity")
        moved = read_block(args.features, layer, tname)
        if fit is None:
            fit, ev = split_indices(len(base.labels), cfg.fit_fraction, cfg.seed)
        rows += lv_layer(model, layer, get_transform(tname), base.values, moved.values, base.labels,
                         fit, ev, cfg, manifest["interpolation"])
    df = probe_frame(rows, config)
    out = Path(args.out)
    write_results(out, df)
    write_json(args.metrics, summarise(df))
    log.info("%s: %d rows → %s", args.run, len(df), out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", help="run ID, a key of train.models in params.yaml")
    p.add_argument("--features", required=True, help="feature directory (from extract_features)")
    p.add_argument("--model-dir", required=True, help="trained model directory (for the frozen tail)")
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
