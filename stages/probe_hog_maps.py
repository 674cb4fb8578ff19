"""DVC stage probe_hog_maps: Lenc & Vedaldi's HOG equivariance maps (IJCV Sec. 5.2, Fig. 6, Table 2).

Learns φ(g·x) ≈ M_g φ(x) on HOG of embedded scikit-image pictures for every rotation, scaling and
flip of ``params.yaml: probe_hog_maps`` with LS, RR and FS (and the m × m structured-sparsity sweep at
``sweep_angle``), scores each map by the mean per-cell Hellinger distance on held-out pictures, and
writes a tidy table (Parquet + CSV, one row per transform × method × m × k) and a small metrics JSON.
Fit times are not written (wall-clock data in a hashed output): ``bench/hog_fit.py`` measures them.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.features.hog import HogGeometry
from eqlab.io import write_json
from eqlab.probes.hog_maps import HogMapsConfig, config_from_params, hog_maps_experiment, inputs_per_row
from eqlab.probes.table import write_results

log = logging.getLogger("probe_hog_maps")


def results_table(cfg: HogMapsConfig) -> pd.DataFrame:
    """The experiment's rows without ``fit_seconds``, with ``inputs_per_row`` (each output row's regression
    size) and the split sizes."""
    dim = HogGeometry(cfg.cell_size, cfg.orientations).dim
    df = hog_maps_experiment(cfg).drop(columns="fit_seconds")
    df["inputs_per_row"] = [inputs_per_row(cfg, dim, None if pd.isna(m) else int(m)) for m in df.m]
    df["d_in"], df["d_out"] = cfg.in_cells**2 * dim, cfg.out_cells**2 * dim
    df["n_train"], df["n_test"] = cfg.n_train, cfg.n_test
    return df


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """The few numbers ``dvc metrics`` compares: per method (FS at its largest k), the mean Hellinger
    error over the transforms with no spatial constraint, and each method's error on the h-flip."""
    full = df[df.m.isna()]
    fs = full[full.method == "fs"]
    best = pd.concat([full[full.method != "fs"], fs[fs.k == fs.k.max()]])
    out = {f"hellinger_mean_{m}": float(v) for m, v in best.groupby("method", sort=True).hellinger_error.mean().items()}
    flip = best[best["transform"] == "hflip"]
    out.update({f"hellinger_hflip_{m}": float(v) for m, v in zip(flip.method, flip.hellinger_error, strict=True)})
    return {k: v for k, v in out.items() if math.isfinite(v)}


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    df = results_table(cfg)
    out = Path(args.out)
    write_results(out, df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows (%d transforms) → %s", len(df), df["transform"].nunique(), out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
