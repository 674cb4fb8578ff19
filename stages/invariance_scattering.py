"""DVC stage invariance_scattering: the Morlet scattering baseline (PAPERS.md section 004, issue 14 item 4).

A logistic regression on order ≤ 2 scattering coefficients (:mod:`eqlab.invariance.scattering`) and a CNN,
trained on upright embedded digits without 9s and tested on rotated ones; and a stroke texture against its
phase-randomised twin (equal Fourier power spectrum), separated per scattering order
(:mod:`eqlab.invariance.experiments`). Writes one tidy table (Parquet + CSV), ``textures.npy`` (one example
pair for the report) and a small metrics JSON.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eqlab.cli import run_stage
from eqlab.data.raw import embedded_digits
from eqlab.invariance.config import config_from_params
from eqlab.invariance.experiments import rotation_experiment, texture_experiment
from eqlab.io import atomic_path, write_json

log = logging.getLogger("invariance_scattering")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Rotated and upright test accuracy per model (mean over seeds) and the texture separations."""
    rot = df[df.experiment == "rotation"].groupby(["model", "condition"], sort=False).value.mean()
    out = {f"{m}_{c}_acc": float(v) for (m, c), v in rot.items()}
    sep = df[(df.experiment == "texture") & (df.metric == "separation")]
    out |= {f"texture_separation_{m}": float(v) for m, v in zip(sep.model, sep.value, strict=True)}
    return out


def write(out: Path, df: pd.DataFrame, textures: np.ndarray) -> None:
    """``out/results.parquet``, ``out/results.csv`` and ``out/textures.npy``, the folder whole or not at all."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
        df.to_csv(tmp / "results.csv", index=False, float_format="%.6g")
        buf = io.BytesIO()
        np.save(buf, textures)
        (tmp / "textures.npy").write_bytes(buf.getvalue())


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    d = embedded_digits()
    rot = rotation_experiment(cfg, d.images, d.labels)
    tex, pair = texture_experiment(cfg)
    df = pd.concat([rot, tex], ignore_index=True)
    write(Path(args.out), df, pair)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet, results.csv, textures.npy")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
