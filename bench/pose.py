"""Wall-clock time per candidate transformation of Lenc & Vedaldi's pose scorers (Table 4's Time/TF and
Speedup rows): direct ⟨w, φ(c·x)⟩ against equivariant ⟨M_cᵀw, φ(x)⟩, as ratios measured in one run.

The ``probe_lv_pose`` stage counts multiply-adds instead (its outputs are hashed, so they carry no time);
this script times the same two code paths (:mod:`eqlab.probes.lv_pose`) on an untrained ANet analogue and
random maps of the stage's shapes (timing does not depend on the weights): per representation (C3–C5 and
HOG), the median over ``--repeats`` runs of scoring ``--n`` digits-sized pictures against every candidate,
divided by pictures × candidates (the paper's Time/TF). Direct: rotate, extract, dot product per candidate. Equivariant: extract
once, then one product with the precomputed M_cᵀw (the adjoints are computed before the clock starts, as
the paper precomputes them offline).

Run alone: ``python bench/pose.py`` (≈ 1 min on 2 cores); writes ``reports/bench/pose.json`` (not
committed: machine-specific).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eqlab.cli import setup_logging
from eqlab.env import library_versions
from eqlab.features.hog import HogGeometry
from eqlab.groups import get_transform
from eqlab.io import write_json
from eqlab.models import lv_nets
from eqlab.probes.lv_equivariance import spatial_part
from eqlab.probes.lv_pose import PoseConfig, PoseMap, candidates, disk, hog_feature, net_feature


def random_maps(phi, model, x: torch.Tensor, cfg: PoseConfig, rng: np.random.Generator) -> dict[str, list]:
    """Per layer: [None, M_1, …] of the stage's shapes (F: m×m on conv taps after P; dense on HOG), random."""
    h = phi(x[:2])
    out = {}
    for layer, v in h.items():
        maps: list = [None]
        for a in cfg.angles[1:]:
            if v.dim() == 4:
                c = v.shape[1]
                p = spatial_part(model, get_transform(f"rot{a:g}"), layer, tuple(v.shape[-2:]))
                maps.append(
                    PoseMap(
                        p,
                        rng.normal(size=(c, c * cfg.m**2)).astype(np.float32) / c,
                        np.zeros(c, np.float32),
                        cfg.m,
                        0.0,
                        0.0,
                    )
                )
            else:
                d = v.shape[1]
                maps.append(
                    PoseMap(None, rng.normal(size=(d, d)).astype(np.float32) / d, np.zeros(d, np.float32), 0, 0.0, 0.0)
                )
        out[layer] = maps
    return out


def time_one(fn, repeats: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="reports/bench/pose.json")
    p.add_argument("--n", type=int, default=100, help="pictures scored per run")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    setup_logging()
    torch.manual_seed(0)
    cfg, rng = PoseConfig(), np.random.default_rng(0)
    x = disk(torch.randn(args.n, 3, 32, 32))
    model = lv_nets.build("anet", "anet", 8).eval()
    k = len(cfg.angles)
    rows = []
    reps = [(net_feature(model, (t,)), model) for t in cfg.layers]
    for phi, mdl in [*reps, (hog_feature(HogGeometry(cfg.cell_size, cfg.orientations)), None)]:
        maps = random_maps(phi, mdl, x, cfg, rng)
        ws = {layer: torch.randn(phi(x[:1])[layer].shape[1:]) for layer in maps}
        for layer, ms in maps.items():
            w = ws[layer].flatten()

            def direct(layer=layer, w=w, phi=phi) -> None:
                _ = candidates(phi, x, cfg.angles)[layer] @ w

            adj = [(None, 0.0)] + [mk.adjoint(ws[layer]) for mk in ms[1:]]  # precomputed, off the clock
            v = torch.stack([ws[layer].flatten(), *(a.flatten() for a, _ in adj[1:])])
            c = torch.tensor([b for _, b in adj])

            def equivariant(layer=layer, v=v, c=c, phi=phi) -> None:
                _ = phi(x)[layer].flatten(1) @ v.T + c

            t_d, t_e = time_one(direct, args.repeats), time_one(equivariant, args.repeats)
            rows.append(
                {
                    "layer": layer,
                    "ms_per_tf_direct": 1e3 * t_d / (args.n * k),
                    "ms_per_tf_equivariant": 1e3 * t_e / (args.n * k),
                    "speedup": t_d / t_e,
                }
            )
    lines = [
        f"{args.n} pictures × {k} candidates, median of {args.repeats}; each layer's forward pass stops at it",
        "",
        "| representation | ms / TF, g | ms / TF, Mg | speed-up |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['layer']} | {r['ms_per_tf_direct']:.4f} | {r['ms_per_tf_equivariant']:.5f} | {r['speedup']:.1f} |"
        for r in rows
    ]
    print("\n".join(lines))
    write_json(
        Path(args.out),
        {"versions": library_versions(), "n": args.n, "candidates": k, "repeats": args.repeats, "rows": rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
