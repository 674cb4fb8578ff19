"""DVC stage probe_irevnet: the Jacobsen thesis's i-RevNet analysis (PAPERS.md 001, ch. 6).

Bijective and injective i-RevNets and a ResNet of the same depth on crops of scikit-image photos, at
random initialisation and briefly trained: reconstruction error ε (float32, float64), the Jacobian's
singular values, per-block linear-SVM and 1-NN accuracy, a PCA sweep (:mod:`eqlab.probes.irevnet_probe`).
Writes ``results.{parquet,csv}`` and ``interpolation.parquet`` (images inverted from a straight line in
feature space) in one folder, and a small metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from eqlab.cli import run_stage
from eqlab.io import atomic_path, write_json
from eqlab.probes.irevnet_probe import config_from_params, irevnet_experiment

log = logging.getLogger("probe_irevnet")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """The largest ε per model, state, data and dtype; the last block's seed-mean SVM accuracy."""
    out: dict[str, float] = {}
    rec = df[df.check == "recon"]
    for (m, s, d, t), g in rec.groupby(["model", "state", "data", "dtype"]):
        out[f"eps_{m}_{s}_{d}_{t}_max"] = float(g.value_max.max())
    acc = df[(df.check == "block_acc") & (df.classifier == "svm")]
    for (m, s), g in acc.groupby(["model", "state"]):
        out[f"svm_last_block_{m}_{s}"] = round(float(g[g.block == g.block.max()].value.mean()), 6)
    return out


def write(out: Path, df: pd.DataFrame, interp: pd.DataFrame) -> None:
    with atomic_path(out) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
        df.to_csv(tmp / "results.csv", index=False, float_format="%.6g")
        interp.to_parquet(tmp / "interpolation.parquet", index=False)


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    torch.use_deterministic_algorithms(True)
    df, interp = irevnet_experiment(cfg)
    write(Path(args.out), df, interp)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results + interpolation tables")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
