"""DVC stage probe_alignment: Jansson et al.'s feature-map alignment checks (PAPERS.md section 003).

Conv stacks Λ (untrained random, C4-symmetrised, isotropic filters, the δ-filter control, and the first layers
of the trained runs named in ``probe_alignment.trained_runs``, read from ``--models-dir``), smooth random images and eqlab's group actions: per transform, filter family and depth the aligned residual
``‖T_h⁻¹ Λ T_h f − Λ f‖ / ‖Λ f − Λ 0‖``, the unaligned one and the input-alignment baseline; the sweep over
candidate warps; a C4 G-CNN under rot90 with and without the channel permutation; Lemma 4.1 on a linear
layer (:mod:`eqlab.probes.alignment`). Writes one tidy table (Parquet + CSV, one row per check × family ×
transform × kind × warp × depth) and a small metrics JSON. No dataset; trained models only as filters.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.io import write_json
from eqlab.params import ParamError, section
from eqlab.probes.alignment import alignment_experiment, config_from_params
from eqlab.probes.alignment_trained import PREFIX, load_networks
from eqlab.probes.table import write_results

log = logging.getLogger("probe_alignment")
CLAIM_FAMILIES = ("random", "c4", "isotropic")  # the δ family is the loophole control


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """The few numbers ``dvc metrics`` compares: the largest aligned shift residual, the largest aligned
    rot90 residual of the C4 and isotropic families, the smallest ratio of an aligned scale or shear
    residual to its input-alignment baseline (claim families), the G-CNN's rot90 residual with and
    without the permutation, and the largest Lemma 4.1 residual."""
    res = df[df.check == "residual"]
    aligned = res[res.kind == "aligned"].set_index(["family", "transform", "depth"]).residual
    base = res[res.kind == "input"].set_index(["family", "transform", "depth"]).residual
    out: dict[str, float] = {}
    shift = aligned[aligned.index.get_level_values("transform").str.startswith("shift")]
    if len(shift):
        out["shift_aligned_max"] = float(shift.max())
    rot = aligned.xs("rot90", level="transform", drop_level=False) if "rot90" in set(res["transform"]) else None
    for fam in ("c4", "isotropic", "random"):
        if rot is not None and fam in rot.index.get_level_values("family"):
            out[f"rot90_aligned_max_{fam}"] = float(rot.xs(fam, level="family").max())
    sc = aligned.index.get_level_values("transform").str.startswith(("scale", "shear"))
    families = aligned.index.get_level_values("family")
    fam = families.isin(CLAIM_FAMILIES) | families.str.startswith(PREFIX)
    if (sc & fam).any():
        out["scale_shear_over_baseline_min"] = float((aligned[sc & fam] / base[sc & fam]).min())
    g = df[df.check == "gcnn"]
    for kind in ("aligned", "aligned+permutation"):
        if (g.kind == kind).any():
            out[f"gcnn_rot90_{kind.replace('+', '_')}_max"] = float(g[g.kind == kind].residual.max())
    lemma = df[(df.check == "lemma41") & (df.kind == "lemma41")]
    if len(lemma):
        out["lemma41_max"] = float(lemma.residual.max())
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    runs = section(params, "train").get("models") or {}
    if bad := [r for r in cfg.trained_runs if r not in runs]:
        raise ParamError(f"params key 'probe_alignment.trained_runs': {bad} are not runs of train.models; "
                         f"allowed: {sorted(runs)}")  # fmt: skip
    if cfg.trained_runs and args.models_dir is None:
        raise ParamError("params key 'probe_alignment.trained_runs' names runs but the stage got no --models-dir")
    trained = load_networks(Path(args.models_dir), cfg.trained_runs, cfg.depth, cfg.min_spread) if cfg.trained_runs else {}
    df = alignment_experiment(cfg, trained)
    out = Path(args.out)
    write_results(out, df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows (%d families, %d transforms) → %s", len(df), len(cfg.families), len(cfg.transforms), out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    p.add_argument("--models-dir", help="trained models (data/models), for probe_alignment.trained_runs")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
