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
    from eqlab.probes.hog_classify import config_from_params as classify_config

    for p in PROFILES:  # the embedded digits hold 500 per class: the two classes give 1,000 images
        c = classify_config({**params, "profile": p})
        assert c.n_train + c.n_test <= 1000 and c.n_fit + c.n_val <= 5000 - c.n_train - c.n_test, p


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
    assert {c.id for c in cnn} == {"2", "3", "4", "5"} and all(c.verdict == OPEN for c in cnn)
    six = [c for c in lv_claims.all_claims(df) if c.id == "6"]  # no stitching table either
    assert len(six) == 1 and six[0].verdict == OPEN and "probe_lv_stitch" in six[0].evidence


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


# ---------------------------------------------------------------- Fig. 7: equivariant classification


def test_wilson_interval_and_inverse_transforms():
    from eqlab.groups import get_transform
    from eqlab.probes.hog_classify import inverse, wilson

    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    import numpy as np

    for g, angle, scale in ((get_transform("rot30"), 30.0, math.nan), (get_transform("scale0.5"), math.nan, 0.5)):
        a = np.array(g.matrix[:4]).reshape(2, 2)
        b = np.array(inverse(g, angle, scale).matrix[:4]).reshape(2, 2)
        np.testing.assert_allclose(a @ b, np.eye(2), atol=1e-12)


def test_canvases_centre_the_digit_on_black():
    import numpy as np

    from eqlab.probes.hog_classify import HogClassifyConfig, canvases

    cfg = HogClassifyConfig()
    digit = np.zeros((1, 28, 28), dtype=np.uint8)
    digit[0, 4:24, 10:18] = 255
    out = canvases(digit, cfg)
    assert out.shape == (1, 72, 72) and out.max() <= 1.0
    assert out[0, :16].max() == 0 and out[0, 56:].max() == 0  # (72 − 40) / 2 = 16 black rows each side
    rows, cols = np.nonzero(out[0] > 0.5)
    assert abs(rows.mean() - 35.5) < 2 and abs(cols.mean() - 35.5) < 2


def test_classify_stage_on_tiny_sizes(tmp_path):
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["profile"] = "smoke"
    params["probe_hog_classify"].update(angles=[0.0, 90.0, 180.0], scales=[0.5], lams=[1.0e-1, 1.0])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out, metrics = tmp_path / "cls", tmp_path / "cls.json"
    rc = stage("probe_hog_classify").cli(["--out", str(out), "--metrics", str(metrics),
                                          "--params", str(tmp_path / "params.yaml")])  # fmt: skip
    assert rc == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 1 + 4 * 4 and (df.n_test == 40).all()
    assert ((df.ci_low <= df.accuracy) & (df.accuracy <= df.ci_high)).all()
    original = df[df.method == "original"].accuracy.iloc[0]
    # rot180 is exact on the pixel grid and HOG moves by a permutation: FS undoes it exactly
    fs180 = df[(df["transform"] == "rot180") & (df.method == "fs")].accuracy.iloc[0]
    assert fs180 == original
    assert set(json.loads(metrics.read_text())) >= {"accuracy_mean_fs", "accuracy_min_none"}
    t = tables.fig7_table(df)
    assert list(t.columns) == ["uncompensated", "LS", "RR", "FS"] and len(t) == 4
    # rot180 recovered exactly, so FS's interval overlaps the original's there; the claim names no rot180
    evidence = lv_claims.claim_fig7_compensated(df, "fs").evidence
    assert "rot180" not in (evidence.split("apart at ")[1] if "apart at " in evidence else "")


def _cls_rows(none_rot: float, comp: float) -> pd.DataFrame:
    rows = [dict(transform="identity", angle=0.0, scale=math.nan, method="original", accuracy=0.98, ci_low=0.96,
                 ci_high=0.99, n_test=400)]
    for t, angle, scale in (("rot45", 45.0, math.nan), ("scale0.5", math.nan, 0.5)):
        acc = none_rot if t == "rot45" else 0.9
        rows.append(dict(transform=t, angle=angle, scale=scale, method="none", accuracy=acc, ci_low=acc - 0.03,
                         ci_high=acc + 0.03, n_test=400))
        for m in ("ls", "rr", "fs"):
            rows.append(dict(transform=t, angle=angle, scale=scale, method=m, accuracy=comp, ci_low=comp - 0.02,
                             ci_high=comp + 0.02, n_test=400))
    return pd.DataFrame(rows)


def test_fig7_claims_decide_both_ways():
    ok = _cls_rows(none_rot=0.5, comp=0.97)
    assert lv_claims.claim_fig7_compensated(ok, "fs").verdict == HOLDS
    assert lv_claims.claim_fig7_uncompensated(ok).verdict == HOLDS
    bad = _cls_rows(none_rot=0.95, comp=0.85)  # maps lose accuracy; rotation no worse than scaling
    c = lv_claims.claim_fig7_compensated(bad, "fs")
    assert c.verdict == FAILS and "apart at rot45, scale0.5" in c.evidence and c.n == 400
    assert lv_claims.claim_fig7_uncompensated(bad).verdict == FAILS
    assert lv_claims.claim_fig7_compensated(ok[ok.method != "fs"], "fs").verdict == OPEN
