"""DVC stage probe_lv_nets: Lenc & Vedaldi's equivariance maps and invariant channels on the trained
ANet analogues (IJCV Sec. 3, Eq. 7, Figs. 9–11, Table 3).

For every net of ``lenc_vedaldi_nets.nets``, every tap and transform: top-1 error (95 % bootstrap interval
over test images) of the original network, uncompensated, P_g only, and M_g = F_g ∘ P_g with F_g an m×m
ridge filter bank (λ chosen on the validation images); for the transforms of ``probe.solvers_for`` also the
maps by least squares, forward selection, ReLU-OPT and the task loss (Fig. 9, claim 4); and the invariant
channel count (Table 3). Maps are fitted on the nets' training images. Writes two tidy tables (Parquet + CSV) and a metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.io import write_json
from eqlab.models.lv_train import configs, load_net, load_split
from eqlab.params import ParamError, build, section
from eqlab.probes.lv_equivariance import MapsConfig, Split, probe_net
from eqlab.probes.table import write_results

log = logging.getLogger("probe_lv_nets")


def summarise(maps: pd.DataFrame) -> dict[str, float]:
    """Mean over nets of the test top-1 error per method at conv1 for v-flip and rot90 (the headline)."""
    out = {}
    for g in ("vflip", "rot90"):
        sub = maps[(maps.layer == "conv1") & (maps["transform"] == g)]
        out.update({f"conv1_{g}_{m}": float(v) for m, v in sub.groupby("method", sort=True).top1_error.mean().items()})
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    _, _, nets = configs(params)
    cfg = build(MapsConfig, section(params, "lenc_vedaldi_nets.probe"), "lenc_vedaldi_nets.probe")
    for net_id, net in nets.items():
        if bad := [g for g in net.transforms if g not in cfg.transforms]:
            raise ParamError(f"lenc_vedaldi_nets.nets.{net_id}.transforms: {bad} are not probed; allowed: "
                             f"{list(cfg.transforms)} (lenc_vedaldi_nets.probe.transforms)")
    maps, inv = [], []
    for net_id, net in nets.items():
        model = load_net(args.models, net_id, net)
        splits = [Split(*load_split(args.data, s, net.label_set)) for s in ("train", "val", "test")]
        net_cfg = replace(cfg, transforms=net.transforms or cfg.transforms,
                          solvers_for=cfg.solvers_for if net.solvers else ())
        rows, inv_rows = probe_net(model, *splits, net_cfg)
        ids = dict(net=net_id, arch=net.arch, label_set=net.label_set, seed=net.seed, n_test=len(splits[2].y))
        maps += [{**ids, **r} for r in rows]
        inv += [{**ids, **r} for r in inv_rows]
        log.info("%s: %d map rows, %d invariant rows", net_id, len(rows), len(inv_rows))
    maps_df, inv_df = pd.DataFrame(maps), pd.DataFrame(inv)
    write_results(args.out_maps, maps_df)
    write_results(args.out_invariant, inv_df)
    write_json(args.metrics, summarise(maps_df))


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="lv_data output directory")
    p.add_argument("--models", required=True, help="folder of train_lv model directories (one per net ID)")
    p.add_argument("--out-maps", required=True, help="output directory: map table")
    p.add_argument("--out-invariant", required=True, help="output directory: invariant-channel table")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
