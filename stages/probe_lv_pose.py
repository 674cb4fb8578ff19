"""DVC stage probe_lv_pose: Lenc & Vedaldi's structured-output pose regression (IJCV Sec. 5.4, Table 4).

Rotated embedded digits; their pose estimated by a linear structured scorer over rotations every
``step`` degrees, **direct** (features of every counter-rotated image) against **equivariant** (features
once, mapped by M_k learned on the ANet analogues' natural training pictures) on the taps ``layers`` of
the nets ``nets`` and on HOG (:mod:`eqlab.probes.lv_pose`). Params: section ``lenc_vedaldi_pose`` (its
``<profile>`` block sets the sizes); the nets' definitions from ``lenc_vedaldi_nets.nets``. Writes one
tidy table (Parquet + CSV) and a metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.data.raw import embedded_digits
from eqlab.features.hog import HogGeometry
from eqlab.io import write_json
from eqlab.models.lv_train import configs, load_net
from eqlab.params import ParamError
from eqlab.probes.lv_pose import (
    SECTION,
    config_from_params,
    hog_feature,
    load_pose_data,
    macs,
    net_feature,
    pose_sets,
    probe_pose,
)
from eqlab.probes.table import write_results

log = logging.getLogger("probe_lv_pose")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Mean test error (degrees) over the nets per variant, layer and scorer."""
    sub = df[df.method != "baseline"]
    out = {
        f"{v}_{layer}_{m}": float(e)
        for (v, layer, m), e in sub.groupby(["variant", "layer", "method"]).mean_error.mean().items()
    }
    out |= {
        f"{v}_baseline": float(e) for v, e in df[df.method == "baseline"].groupby("variant").mean_error.first().items()
    }
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    _, _, nets = configs(params)
    if unknown := [n for n in cfg.nets if n not in nets]:
        raise ParamError(f"{SECTION}.nets: {unknown} are not nets of lenc_vedaldi_nets.nets; allowed: {list(nets)}")
    digits = embedded_digits()
    data = load_pose_data((digits.images, digits.labels), args.data, cfg)
    sets = pose_sets(data, cfg)
    rows = []
    for net_id in cfg.nets:
        model = load_net(args.models, net_id, nets[net_id])
        if missing := [t for t in cfg.layers if t not in model.taps]:
            raise ParamError(f"{SECTION}.layers: {missing} are not taps of {net_id}; allowed: {list(model.taps)}")
        fwd = {t: macs(model, t, tuple(data.test.shape[1:])) for t in cfg.layers}
        ids = dict(feature=net_id, arch=nets[net_id].arch, seed=nets[net_id].seed)
        rows += [{**ids, **r} for r in probe_pose(net_feature(model, cfg.layers), model, sets, data, cfg, fwd)]
        log.info("%s: done", net_id)
    if cfg.hog:
        phi = hog_feature(HogGeometry(cfg.cell_size, cfg.orientations))
        rows += [{"feature": "hog", "arch": "hog", "seed": -1, **r} for r in probe_pose(phi, None, sets, data, cfg)]
        log.info("hog: done")
    df = pd.DataFrame(rows).assign(n_train=len(data.train), step=cfg.step)
    write_results(args.out, df)
    write_json(args.metrics, summarise(df))


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="lv_data output directory (the generic pictures of the maps)")
    p.add_argument("--models", required=True, help="folder of train_lv model directories (one per net ID)")
    p.add_argument("--out", required=True, help="output directory: the pose table")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
