"""Fit times of the HOG equivariance maps (Lenc & Vedaldi, Table 2): LS, RR and FS at one rotation, with
no spatial constraint and with structured sparsity m × m, as ratios measured in one run.

The paper's Table 2 reports the cost of learning the regressors; times are wall-clock data, so the
``probe_hog_maps`` stage does not write them (its outputs are hashed) and this script measures them
instead: each figure is the median of ``--repeats`` fits on the same patches, in this process, on one
BLAS thread (as the stage fits). Ratios: FS time / LS time per neighbourhood, and each neighbourhood's
time / the unconstrained fit's time per method.

Run alone: ``python bench/hog_fit.py`` (≈ 1 min on 2 cores); writes ``reports/bench/hog_fit.json``
(not committed: machine-specific).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import numpy as np

from eqlab.cli import setup_logging
from eqlab.env import library_versions
from eqlab.features.hog import HogGeometry, hog
from eqlab.groups import get_transform
from eqlab.io import write_json
from eqlab.probes.hog_maps import (
    HogMapsConfig,
    fit_maps,
    inputs_per_row,
    patch_size,
    sample_patches,
    transformed_hog,
    window,
)


def split_at(cfg: HogMapsConfig, angle: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(φ(x), φ(g·x)) for train, validation and test patches, g the rotation by ``angle``."""
    rng = np.random.default_rng(cfg.seed)
    geometry, side = HogGeometry(cfg.cell_size, cfg.orientations), patch_size(cfg)
    g = get_transform(f"rot{angle:g}")
    out = {}
    for part, names, n in (("train", cfg.train_images, cfg.n_train), ("val", cfg.val_images, cfg.n_val),
                           ("test", cfg.test_images, cfg.n_test)):
        p = sample_patches(names, n, side, rng)
        out[part] = (hog(window(p, cfg.in_cells * cfg.cell_size), geometry).reshape(n, -1), transformed_hog(p, g, cfg))
    return out


def time_fits(cfg: HogMapsConfig, angle: float, ms: tuple[int | None, ...], repeats: int) -> list[dict]:
    """Median fit seconds per (m, method, k) over ``repeats`` fits (after one warm-up fit per m)."""
    split, g = split_at(cfg, angle), get_transform(f"rot{angle:g}")
    dim = HogGeometry(cfg.cell_size, cfg.orientations).dim
    rows = []
    for m in ms:
        fit_maps(split, g, cfg, dim, m)  # warm-up
        runs = [fit_maps(split, g, cfg, dim, m) for _ in range(repeats)]
        for i, f in enumerate(runs[0]):
            rows.append({"m": m, "method": f.method, "k": f.k, "inputs_per_row": inputs_per_row(cfg, dim, m),
                         "seconds": statistics.median(r[i].seconds for r in runs)})
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """Per row: its time / LS's time at the same m, and its time / the same method's unconstrained time."""
    ls = {r["m"]: r["seconds"] for r in rows if r["method"] == "ls"}
    full = {(r["method"], r["k"]): r["seconds"] for r in rows if r["m"] is None}
    return [{**r, "ratio_to_ls": r["seconds"] / ls[r["m"]],
             "ratio_to_unconstrained": r["seconds"] / full.get((r["method"], r["k"]), math.nan)} for r in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="reports/bench/hog_fit.json")
    p.add_argument("--angle", type=float, default=45.0)
    p.add_argument("--n-train", type=int, default=400)
    p.add_argument("--ms", type=int, nargs="*", default=[1, 3, 5, 7])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    setup_logging()
    cfg = HogMapsConfig(n_train=args.n_train, n_val=100, n_test=10, angles=(args.angle,), scales=(),
                        ms=tuple(args.ms), sweep_angle=args.angle)  # fmt: skip
    rows = ratios(time_fits(cfg, args.angle, (*cfg.ms, None), args.repeats))
    lines = [f"rot {args.angle:g}°, {cfg.in_cells}×{cfg.in_cells} → {cfg.out_cells}×{cfg.out_cells} HOG cells, "
             f"{cfg.n_train} training patches, median of {args.repeats}", "",
             "| m | method | inputs per row | seconds | / LS (same m) | / unconstrained (same method) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        name = r["method"] + (f" k={r['k']}" if r["k"] is not None else "")
        m = "none" if r["m"] is None else r["m"]
        lines.append(f"| {m} | {name} | {r['inputs_per_row']} | {r['seconds']:.4f} | {r['ratio_to_ls']:.2f} | "
                     f"{r['ratio_to_unconstrained']:.3f} |")
    print("\n".join(lines))
    write_json(Path(args.out), {"versions": library_versions(), "angle": args.angle, "n_train": cfg.n_train,
                                "repeats": args.repeats, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
