"""The probe_hog_maps stage (Lenc & Vedaldi Fig. 6 / Table 2 on HOG) and the lenc_vedaldi report's
tables and claims: the stage on tiny sizes end to end, its config from every profile, and the claims
deciding both ways on edited tables."""

from __future__ import annotations

import copy
import json
import math
from functools import cache

import pandas as pd
import pytest
import yaml
from test_params_and_stages import stage

from conftest import ROOT
from eqlab.papers.lenc_vedaldi import claims as lv_claims
from eqlab.papers.lenc_vedaldi import tables
from eqlab.params import PROFILES, load_params
from eqlab.probes.hog_maps import config_from_params
from eqlab.report.claims import FAILS, HOLDS, OPEN

TINY = dict(in_cells=5, out_cells=3, angles=[0.0, 45.0, 90.0, 180.0], scales=[0.5, 0.7071067811865476],
            flips=["hflip"], ks=[1, 3], ms=[1, 3, 5], lams=[1.0e-2, 1.0], sweep_angle=45.0)  # fmt: skip


def tiny_params() -> dict:
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["profile"] = "smoke"
    params["probe_hog_maps"].update(TINY)
    params["probe_hog_maps"]["smoke"] = {"n_train": 40, "n_val": 12, "n_test": 16}
    return params


@cache
def _run(tmp: str) -> tuple[pd.DataFrame, dict, bytes]:
    from pathlib import Path

    tmp_path = Path(tmp)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    out, metrics = tmp_path / "hog_maps", tmp_path / "hog_maps.json"
    rc = stage("probe_hog_maps").cli(["--out", str(out), "--metrics", str(metrics), "--params", str(tmp_path / "params.yaml")])
    assert rc == 0
    df = pd.read_parquet(out / "results.parquet")
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == len(df) and list(csv.columns) == list(df.columns)
    return df, json.loads(metrics.read_text()), (out / "results.csv").read_bytes()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[pd.DataFrame, dict, bytes]:
    return _run(str(tmp_path_factory.mktemp("hog_stage")))


def test_params_build_for_every_profile():
    params = load_params(ROOT / "params.yaml")
    sizes = {p: config_from_params({**params, "profile": p}).n_train for p in PROFILES}
    assert sizes["smoke"] < sizes["small"] <= sizes["paper"] == 1000  # the paper's 1000 training images
    cfg = config_from_params(params)
    assert cfg.sweep_angle in cfg.angles and {"hflip", "vflip"} <= set(cfg.flips)


def test_stage_table_has_no_wall_clock_and_recovers_the_flip(tiny):
    df, metrics, _ = tiny
    assert "fit_seconds" not in df.columns and not any("second" in c or "time" in c for c in df.columns)
    assert set(df["transform"]) == {"identity", "rot45", "rot90", "rot180", "scale0.5", "scale0.7071067811865476",
                                    "hflip"}
    # 7 transforms × (identity, ls, rr, fs k=1, fs k=3) + the m sweep at 45°: 3 m × (ls, rr, fs × 2)
    assert len(df) == 7 * 5 + 3 * 4
    assert (df.n_train == 40).all() and (df.d_in == 25 * 31).all() and (df.d_out == 9 * 31).all()
    sweep = df[df.m.notna()]
    assert sorted(sweep.inputs_per_row.unique()) == [31, 9 * 31, 25 * 31]
    assert (df[df.m.isna()].inputs_per_row == 25 * 31).all()
    # n = 40 < d_in = 775: FS finds the h-flip permutation, LS and RR cannot
    assert metrics["hellinger_hflip_fs"] < 1e-6 < 0.05 < min(metrics["hellinger_hflip_ls"], metrics["hellinger_hflip_rr"])
    assert set(metrics) >= {f"hellinger_mean_{m}" for m in ("identity", "ls", "rr", "fs")}


def test_stage_is_deterministic(tiny, tmp_path):
    _, _, csv = tiny
    assert _run(str(tmp_path))[2] == csv


def test_report_tables_from_the_stage(tiny):
    df, _, _ = tiny
    fig6 = tables.fig6_table(df)
    assert list(fig6.columns) == ["M_g = 1", "LS", "RR", "FS k=1", "FS k=3", "RR λ"]
    assert fig6.index.get_level_values(0).unique().tolist() == ["rotation", "scaling", "flip"]
    assert fig6.loc[("flip", "hflip"), "FS k=3"] < 1e-6 and fig6.loc[("rotation", "rot 0°"), "M_g = 1"] == 0
    t2 = tables.table2(df)
    assert t2.index.tolist() == ["m = 1", "m = 3", "m = 5", "none (all cells)"]
    assert t2["inputs per row"].tolist() == [31, 279, 775, 775]
    assert t2.loc["m = 5", "FS k=3"] == pytest.approx(t2.loc["m = 5", "FS k=3"])  # present, not NaN
    assert not t2[["LS", "RR", "FS k=1", "FS k=3"]].isna().any().any()
    frac = tables.nonzero_fraction(df, 3)
    assert 0 < frac <= 100 * 3 / 775  # at most k non-zeros per output row
    assert math.isnan(tables.nonzero_fraction(df, 5))


def test_claims_on_the_stage_output(tiny):
    df, _, _ = tiny
    got = {c.id: c for c in lv_claims.all_claims(df) if c.text.startswith(("HOG", "Intermediate"))}
    assert got["1c"].verdict == HOLDS, got["1c"].evidence
    assert got["1g"].verdict == OPEN and "bench/hog_fit.py" in got["1g"].evidence
    cnn = [c for c in lv_claims.all_claims(df) if c.evidence == lv_claims.CNN_MISSING]
    assert {c.id for c in cnn} == {"2", "3", "4", "5", "6"} and all(c.verdict == OPEN for c in cnn)


# ---------------------------------------------------------------- claims decide both ways


def _row(transform, method, err, k=None, m=None, angle=math.nan, scale=math.nan, inputs=775):
    return dict(transform=transform, angle=angle, scale=scale, method=method, m=m, k=k, lam=math.nan,
                hellinger_error=err, nonzeros=1, inputs_per_row=inputs, d_in=775, d_out=279, n_train=40, n_test=16)


def synthetic(fs_flip: float = 0.0, rr_flip: float = 0.4, fs_m3: float = 0.40) -> pd.DataFrame:
    """A table shaped like the stage's: identity, rot 45/90, scales 2^-1/2 and 2^-1, hflip; the m sweep."""
    rows = []
    for t, angle, scale, base in (("identity", 0.0, math.nan, 0.0), ("rot45", 45.0, math.nan, 0.5),
                                  ("rot90", 90.0, math.nan, 0.3), ("scale0.7", math.nan, 2**-0.5, 0.3),
                                  ("scale0.5", math.nan, 0.5, 0.45), ("hflip", math.nan, math.nan, None)):
        if base is None:
            errs = {"identity": 0.9, "ls": 0.5, "rr": rr_flip, "fs": fs_flip}
        else:
            errs = {"identity": 2 * base, "ls": base + 0.3, "rr": base + 0.2, "fs": base}
        for method, err in errs.items():
            rows.append(_row(t, method, err, k=5 if method == "fs" else None, angle=angle, scale=scale))
    for m, fs in ((1, 0.45), (3, fs_m3), (5, 0.40)):
        rows.append(_row("rot45", "fs", fs, k=5, m=m, angle=45.0, inputs=m * m * 31))
    return pd.DataFrame(rows).astype({"m": "Int64", "k": "Int64"})


def test_claims_hold_on_a_table_that_satisfies_them():
    df = synthetic()
    for claim in (lv_claims.claim_ordering, lv_claims.claim_fs_exact, lv_claims.claim_grows_with_scale,
                  lv_claims.claim_m3_as_good, lv_claims.claim_45_hardest, lv_claims.claim_rr_well_below_ls):
        c = claim(df)
        assert c.verdict == HOLDS, (c.id, c.evidence)
    # 0° → 45° rises, 45° → 90° falls: "grows with |angle|" over 0–90° does not hold, and says where it peaks
    c = lv_claims.claim_grows_with_angle(df)
    assert c.verdict == FAILS and "largest at 45°" in c.evidence


def test_claims_fail_when_the_table_contradicts_them():
    c = lv_claims.claim_fs_exact(synthetic(fs_flip=0.2))
    assert c.verdict == FAILS and "hflip: FS 2.0e-01" in c.evidence
    c = lv_claims.claim_ordering(synthetic(rr_flip=0.6))  # RR above LS on the flip
    assert c.verdict == FAILS and c.evidence.endswith("not at hflip")
    assert lv_claims.claim_m3_as_good(synthetic(fs_m3=0.45)).verdict == FAILS
    c = lv_claims.claim_rr_well_below_ls(synthetic(rr_flip=0.48))  # RR / LS = 0.96 on the flip
    assert c.verdict == FAILS and "to 0.960 (hflip)" in c.evidence
    no_flip = synthetic()
    no_flip = no_flip[no_flip["transform"] != "hflip"]
    assert lv_claims.claim_fs_exact(no_flip).verdict == OPEN
    no_sweep = synthetic()
    assert lv_claims.claim_m3_as_good(no_sweep[no_sweep.m.isna()]).verdict == OPEN
