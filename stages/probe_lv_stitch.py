"""DVC stage probe_lv_stitch: Lenc & Vedaldi's stitching on the ANet analogues (IJCV Sec. 4, Tables 5–6).

For the base net, every conv tap into every conv tap of itself (Table 6); and the base net's taps into the
same taps of every other net (Table 5: other seeds, and the Places analogue, another label set). Each pair
is stitched with the seeds of E of ``lenc_vedaldi_nets.stitch`` (:mod:`eqlab.probes.lv_stitching`), beside
the untrained-E, identity-E (where shapes agree) and net-alone references. Writes one tidy table (Parquet
+ CSV) and a metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from eqlab.cli import run_stage
from eqlab.io import write_json
from eqlab.models.lv_train import configs, load_net, load_split
from eqlab.params import ParamError, build, section
from eqlab.probes.lv_stitching import StitchConfig, pairs, stitch_pair
from eqlab.probes.table import write_results

log = logging.getLogger("probe_lv_stitch")


def summarise(table: pd.DataFrame) -> dict[str, float]:
    """Mean stitched top-1 error of the self-stitches and of the base into each other net (over layers and E seeds)."""
    st = table[table.method == "stitched"]
    out = {"self_stitch": float(st[(st.kind == "layers") & (st.tap_a == st.tap_b)].top1_error.mean())}
    for net, sub in st[st.kind == "nets"].groupby("net_b", sort=True):
        out[f"into_{net}"] = float(sub.top1_error.mean())
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    _, _, nets = configs(params)
    cfg = build(StitchConfig, section(params, "lenc_vedaldi_nets.stitch"), "lenc_vedaldi_nets.stitch")
    try:
        if unknown := [n for n in cfg.skip if n not in nets]:
            raise ParamError(f"lenc_vedaldi_nets.stitch.skip: {unknown} are not nets; allowed: {list(nets)}")
        todo = pairs(cfg, [n for n in nets if n not in cfg.skip], {k: n.arch for k, n in nets.items()})
    except ValueError as e:
        raise ParamError(str(e)) from e
    models, data = {}, {}
    for net_id in sorted({p.net_a for p in todo} | {p.net_b for p in todo}):
        models[net_id] = load_net(args.models, net_id, nets[net_id])
        label_set = nets[net_id].label_set
        data[net_id] = (*load_split(args.data, "train", label_set), *load_split(args.data, "test", label_set))
    rows = []
    for pair in tqdm(todo, desc="stitch pairs", mininterval=5):
        rows += stitch_pair(pair, models, data, cfg)
    table = pd.DataFrame(rows)
    write_results(args.out, table)
    write_json(args.metrics, summarise(table))
    log.info("%d pairs × %d seeds of E", len(todo), len(cfg.seeds))


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="lv_data output directory")
    p.add_argument("--models", required=True, help="folder of train_lv model directories (one per net ID)")
    p.add_argument("--out", required=True, help="output directory: the stitching table")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
