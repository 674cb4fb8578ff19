"""DVC stage probe_lv_maps@<run>: Lenc & Vedaldi equivariance maps per layer × transform.

Reads the extracted test features, the trained model (for the frozen tail) and the run's dataset (the
maps are fitted on ``fit_images`` validation images, whose taps this stage computes as extraction
does); writes a tidy table (Parquet + CSV, one row per measurement) and a small metrics JSON.
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

from eqlab.cli import run_stage
from eqlab.data.store import load_split, to_float
from eqlab.features.extract import tap_outputs
from eqlab.features.store import read_block, read_manifest
from eqlab.groups import get_transform
from eqlab.io import read_json, write_json
from eqlab.models import load_trained
from eqlab.params import ArtifactError, build, section
from eqlab.probes.frame import probe_frame
from eqlab.probes.lenc_vedaldi import Features, LVConfig, lv_layer, mistakes
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
    if manifest.get("dataset") != Path(args.data).name:
        raise ArtifactError(f"{args.features} holds features of {manifest.get('dataset')!r}, not of {args.data}")
    torch.manual_seed(cfg.seed)
    model = load_trained(args.model_dir, device)
    val = load_split(args.data, "val")
    ids = np.sort(np.random.default_rng(cfg.seed).permutation(len(val.labels))[: cfg.fit_images])
    x_fit = to_float(torch.from_numpy(val.images[ids]))
    interp = manifest["interpolation"]
    transforms = {t: get_transform(t) for t in manifest["transforms"] if t != "identity"}
    fit_base = tap_outputs(model, x_fit)  # the fit images' taps, once per transform (small: fit_images images)
    fit_moved = {t: tap_outputs(model, g.apply(x_fit, interp)) for t, g in transforms.items()}
    rows: list[dict] = []
    for layer in tqdm([lay["name"] for lay in manifest["layers"]], desc="lv_maps", unit="layer"):
        i = model.tap_index(layer)
        base = read_block(args.features, layer, "identity")  # read and scored once per layer
        original = mistakes(model, i, base.values, base.labels)
        for tname, g in transforms.items():
            moved = read_block(args.features, layer, tname)
            fit = Features(fit_base[i], fit_moved[tname][i], val.labels[ids])
            rows += lv_layer(model, layer, g, fit, Features(base.values, moved.values, base.labels), cfg, interp, original)
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
    p.add_argument("--data", required=True, help="the run's dataset directory (its validation split fits the maps)")
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
