"""DVC stage probe_hog_maps: Lenc & Vedaldi's HOG equivariance maps (IJCV Sec. 5.2, Fig. 6, Table 2).

Learns φ(g·x) ≈ M_g φ(x) on HOG of embedded scikit-image pictures for every rotation, scaling and
flip of ``params.yaml: probe_hog_maps`` with LS, RR and FS (and the m × m structured-sparsity sweep at
``sweep_angle``), scores each map by the mean per-cell Hellinger distance on held-out pictures, and
writes a tidy table (Parquet + CSV, one row per transform × method × m × k) and a small metrics JSON.
Fit times are not written (wall-clock data in a hashed output): ``bench/hog_fit.py`` measures them.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.features.hog import HogGeometry
from eqlab.io import atomic_path, write_json
from eqlab.params import PROFILES, ParamError, build, profile_of, section
from eqlab.probes.hog_maps import HogMapsConfig, hog_maps_experiment, inputs_per_row

log = logging.getLogger("probe_hog_maps")
SIZES = ("n_train", "n_val", "n_test")


@dataclasses.dataclass(frozen=True)
class HogMapsSizes:
    """Patches per split in one profile (train, validation for RR's λ, test)."""

    n_train: int = dataclasses.field(metadata={"min": 2})
    n_val: int = dataclasses.field(metadata={"min": 2})
    n_test: int = dataclasses.field(metadata={"min": 2})


def hog_maps_config(params: dict[str, Any]) -> HogMapsConfig:
    """The experiment's config from ``probe_hog_maps`` (shared keys) and ``probe_hog_maps.<profile>`` (sizes)."""
    profile = profile_of(params)
    shared = {k: v for k, v in section(params, "probe_hog_maps").items() if k not in PROFILES}
    if misplaced := sorted(set(shared) & set(SIZES)):
        raise ParamError(f"params key(s) {[f'probe_hog_maps.{k}' for k in misplaced]} belong under "
                         f"probe_hog_maps.<profile>, one of {list(PROFILES)}")  # fmt: skip
    key = f"probe_hog_maps.{profile}"
    sizes = build(HogMapsSizes, section(params, key), key)
    try:
        return build(HogMapsConfig, {**shared, **dataclasses.asdict(sizes)}, "probe_hog_maps")
    except ParamError:
        raise
    except ValueError as e:  # the config's own cross-field checks
        raise ParamError(f"params section 'probe_hog_maps': {e}") from e


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
    cfg = hog_maps_config(params)
    df = results_table(cfg)
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
        df.to_csv(tmp / "results.csv", index=False, float_format="%.6g")
    write_json(args.metrics, summarise(df))
    log.info("%d rows (%d transforms) → %s", len(df), df["transform"].nunique(), out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
