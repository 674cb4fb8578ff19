"""The dynamic steerable block (Jacobsen ch. 4): steering math, the matched baseline, the boundary metrics,
training on textured blobs, and the report's claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from eqlab.data.blobs import BlobsConfig, blob_sample, boundary_counts, embedded_textures, pr_f
from eqlab.data.store import Split
from eqlab.models.counting import n_params
from eqlab.models.dsb import (
    FCN,
    SteerableBlock,
    block_params,
    boundary_nets,
    fcn_params,
    gradient_frame,
    receptive_field,
    steer,
)
from eqlab.papers.jacobsen import dsb as report
from eqlab.params import ParamError
from eqlab.probes.dsb_blobs import DsbConfig, config_from_params, dsb_experiment, summarise
from eqlab.report.claims import FAILS, HOLDS, OPEN


def _gauss(x, y, s):
    return np.exp(-(x**2 + y**2) / (2 * s**2)) / (2 * np.pi * s**2)


def test_frame_is_the_gaussian_gradient_and_steering_gives_the_directional_derivative():
    s, h = 1.3, 1e-5
    fr = gradient_frame(s, torch.float64)[:, 0].numpy()
    r = fr.shape[-1] // 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(float)
    np.testing.assert_allclose(fr[0], (_gauss(x + h, y, s) - _gauss(x - h, y, s)) / (2 * h), atol=1e-9)
    np.testing.assert_allclose(fr[1], (_gauss(x, y + h, s) - _gauss(x, y - h, s)) / (2 * h), atol=1e-9)
    theta = 0.7  # steering: cos θ G_x + sin θ G_y is the derivative along (cos θ, sin θ)
    c, si = math.cos(theta), math.sin(theta)
    direct = (_gauss(x + h * c, y + h * si, s) - _gauss(x - h * c, y - h * si, s)) / (2 * h)
    img = torch.randn(1, 1, 20, 20, dtype=torch.float64)
    phi = F.conv2d(img, gradient_frame(s, torch.float64), padding=r)
    ours = steer(phi, torch.full((1, 1, 20, 20), theta, dtype=torch.float64))
    want = F.conv2d(img, torch.from_numpy(direct)[None, None], padding=r)
    torch.testing.assert_close(ours, want, atol=1e-8, rtol=1e-6)


def test_steering_to_the_gradient_angle_is_the_gradient_magnitude_and_rot90_equivariant():
    img = torch.randn(2, 1, 24, 24, dtype=torch.float64)
    block = SteerableBlock(sigma=1.0).double()
    phi = block.frame_responses(img)
    theta = torch.atan2(phi[:, 1:2], phi[:, 0:1])
    mag = steer(phi, theta)
    torch.testing.assert_close(mag, phi.norm(dim=1, keepdim=True))
    rot = block.frame_responses(torch.rot90(img, 1, (2, 3))).norm(dim=1, keepdim=True)
    torch.testing.assert_close(rot, torch.rot90(mag, 1, (2, 3)))


@pytest.mark.parametrize(("channels", "hidden", "layers", "kernel", "sigma"), [(8, 16, 3, 3, 1.0), (8, 16, 2, 3, 1.5),
                                                                            (8, 16, 3, 5, 1.0)])
def test_fcn_baseline_matches_the_block_in_parameters_and_receptive_field(channels, hidden, layers, kernel, sigma):
    dsb = boundary_nets("dsb", channels, hidden, layers, kernel, sigma)
    fcn = boundary_nets("fcn", channels, hidden, layers, kernel, sigma)
    assert isinstance(fcn, FCN)
    assert abs(n_params(fcn) / n_params(dsb) - 1) < 0.1
    assert n_params(dsb) == block_params(channels, hidden, layers, kernel)
    assert n_params(fcn) == fcn_params(fcn.net[0].out_channels, channels, layers, kernel, fcn.net[0].kernel_size[0])
    assert n_params(SteerableBlock(channels, hidden, 1, kernel, sigma)) == block_params(channels, hidden, 1, kernel)
    assert receptive_field(fcn) == receptive_field(dsb)
    x = torch.randn(2, 1, 17, 19)
    assert dsb(x).shape == fcn(x).shape == (2, 1, 17, 19)


def test_unknown_net_kind_lists_the_allowed():
    with pytest.raises(ValueError, match=r"allowed values: \['dsb', 'fcn'\]"):
        boundary_nets("unet", 8, 16, 3, 3, 1.0)


def _counts(scores, targets, tol=2, ths=None):
    ths = np.linspace(0.02, 0.98, 25) if ths is None else ths
    return boundary_counts(scores, targets, tol, ths), ths


def test_perfect_and_shifted_predictions_score_as_the_tolerance_says():
    t = np.zeros((3, 32, 32), np.uint8)
    t[:, 10, 5:25] = 1
    c, ths = _counts(t.astype(float), t)
    m = summarise(c, c, ths)
    assert m["ods"] == m["ois"] == m["f_val"] == pytest.approx(1.0) and m["ap"] == pytest.approx(1.0)
    shifted = np.roll(t, 1, axis=1).astype(float)
    assert summarise(*[_counts(shifted, t, 2)[0]] * 2, ths)["ods"] == pytest.approx(1.0)
    assert summarise(*[_counts(shifted, t, 0)[0]] * 2, ths)["ods"] == pytest.approx(0.0)


def test_ois_is_at_least_ods_and_f_val_uses_the_validation_threshold():
    rng = np.random.default_rng(0)
    t = (rng.random((6, 24, 24)) < 0.1).astype(np.uint8)
    scale = np.array([0.3, 0.3, 0.3, 0.9, 0.9, 0.9])[:, None, None]  # two images groups want other thresholds
    s = np.clip(t * scale + 0.2 * rng.random(t.shape), 0, 1)
    c, ths = _counts(s, t, 0)
    m = summarise(c, c, ths)
    assert m["ois"] >= m["ods"] - 1e-12
    val = {k: v[:3] for k, v in c.items()}  # validation = the low-score images: its best threshold is lower
    _, _, f = pr_f(*(c[k].sum(0) for k in ("tp_pred", "n_pred", "tp_gt", "n_gt")))
    _, _, fv = pr_f(*(val[k].sum(0) for k in ("tp_pred", "n_pred", "tp_gt", "n_gt")))
    assert summarise(c, val, ths)["f_val"] == pytest.approx(f[int(np.argmax(fv))])


def _blobs(levels=(1, 2), n=(12, 4, 6), size=32):
    cfg = BlobsConfig(size=size, levels=levels)
    tex = embedded_textures(0)
    splits = []
    for split, k in zip(("train", "val", "test"), n, strict=True):
        ims, tgs, lab = [], [], []
        for lev in levels:
            for i in range(k):
                im, bd = blob_sample(cfg, tex, split, lev, i)
                ims.append(im)
                tgs.append(bd)
                lab.append(lev)
        splits.append(Split(np.stack(ims)[:, None], np.array(lab), {}, np.stack(tgs)[:, None]))
    return splits


def test_experiment_learns_level_one_and_is_deterministic():
    train, val, test = _blobs()
    cfg = DsbConfig(seeds=(0,), steps=60, crop=24, curve_points=3, thresholds=11, n_examples=1)
    df, curves, ex = dsb_experiment(cfg, train, val, test, [1, 2])
    df2, curves2, _ = dsb_experiment(cfg, train, val, test, [1, 2])
    pd.testing.assert_frame_equal(df, df2)
    pd.testing.assert_frame_equal(curves, curves2)
    one = df[df.level == 1].set_index("kind")
    assert one.loc["gradient", "f_val"] > 0.9
    assert one.loc["dsb", "f_val"] > one.loc["chance", "f_val"] + 0.2
    assert set(curves.step) == {20, 40, 60} and len(curves) == 2 * 2 * 3
    assert {"l1_image", "l1_gradient", "l1_target", "l1_dsb", "l1_fcn", "l1_pose"} <= set(ex)
    assert ex["l1_pose"].min() >= 0 and ex["l1_pose"].max() < 2 * np.pi


def test_config_names_the_bad_key():
    params = {"profile": "small", "probe_dsb": {"kernel": 4, "small": {"seeds": [0], "steps": 3}}}
    with pytest.raises(ParamError, match="probe_dsb"):
        config_from_params(params)
    params = {"profile": "small", "probe_dsb": {"steps": 3, "small": {"seeds": [0], "steps": 3}}}
    with pytest.raises(ParamError, match=r"probe_dsb\.steps"):
        config_from_params(params)


def _table(dsb_minus_fcn, fcn_f=0.6, seeds=(0, 1, 2)):
    rows = []
    for level in (1, 2):
        for kind, f in (("gradient", 1.0 if level == 1 else 0.27), ("chance", 0.25)):
            rows.append({"level": level, "kind": kind, "seed": -1, "f_val": f, "ods": f, "ois": f, "ap": f, "n_params": 0})
        for s in seeds:
            jitter = 0.002 * s
            rows.append({"level": level, "kind": "fcn", "seed": s, "f_val": fcn_f + jitter, "ods": 0, "ois": 0, "ap": 0,
                         "n_params": 10})
            rows.append({"level": level, "kind": "dsb", "seed": s, "f_val": fcn_f + dsb_minus_fcn + 2 * jitter,
                         "ods": 0, "ois": 0, "ap": 0, "n_params": 11})
    return pd.DataFrame(rows)


def test_claims_follow_the_intervals():
    worse = {c.id: c.verdict for c in report.claims(_table(-0.1))}
    assert worse["D5-II"] == FAILS and worse["D6-II"] == HOLDS and worse["D4-II"] == FAILS
    assert worse["D2"] == HOLDS and worse["D3-II"] == HOLDS
    better = {c.id: c.verdict for c in report.claims(_table(0.1, fcn_f=0.26))}
    assert better["D5-II"] == HOLDS and better["D4-II"] == HOLDS
    assert {c.id: c.verdict for c in report.claims(_table(0.0))}["D1"] == HOLDS
    assert {c.id: c.verdict for c in report.claims(_table(0.1, seeds=(0, 1)))}["D5-II"] == OPEN
    assert "Departure" in report.departure(_table(-0.1)) and "Departure" not in report.departure(_table(0.1))
    t = report.table(_table(-0.1))
    assert t.loc[("II", "dynamic steerable block"), "seeds"] == 3
