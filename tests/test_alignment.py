"""Jansson et al.'s alignment checks (``eqlab.probes.alignment``), the probe_alignment stage and the jansson
report's claims: the math on tiny stacks (float64, 40 × 40 canvas, 2 layers, 2 images), the params errors,
the stage twice to the same bytes, and the claims deciding both ways on edited tables."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from test_params_and_stages import stage

from conftest import ROOT
from eqlab.groups import act_on_features, get_transform, rot90
from eqlab.papers.jansson import claims as j_claims
from eqlab.papers.jansson import tables
from eqlab.params import PROFILES, ParamError, load_params
from eqlab.probes import alignment as al
from eqlab.probes import alignment_gcnn as alg
from eqlab.report.claims import FAILS, HOLDS, OPEN

EXACT = 1e-12
TINY = dict(size=40, channels=4, depth=2, n_images=2)


def cfg(**kw) -> al.AlignmentConfig:
    return al.AlignmentConfig(**{**TINY, **kw})


@cache
def images() -> torch.Tensor:
    c = cfg()
    return al.smooth_images(c.n_images, c.size, al.content_radius(c), c.blur, torch.Generator().manual_seed(0))


def residual(family: str, name: str, seed: int = 1) -> pd.DataFrame:
    """The residual rows of one family and transform, depth × kind."""
    c, h = cfg(), get_transform(name)
    net = al.network(c, family, torch.Generator().manual_seed(seed))
    rows = al.residual_rows(al.features(images(), net, c.nonlinearity, h), family, h, al.crop_half_width(c))
    return pd.DataFrame(rows).pivot_table(index="depth", columns="kind", values="residual_max")


# ---------------------------------------------------------------- the math


@pytest.mark.parametrize("family", ["random", "c4", "isotropic", "delta"])
def test_integer_shift_aligns_exactly(family):
    r = residual(family, "shift3,-2")
    assert (r.aligned < EXACT).all() and (r.unaligned > 0.25).all()


@pytest.mark.parametrize("family", ["c4", "isotropic"])
def test_rot90_aligns_symmetric_filters_to_float_precision(family):
    r = residual(family, "rot90")
    assert (r.aligned < EXACT).all() and (r.input == 0).all()


def test_rot90_and_flip_do_not_align_random_filters_and_c4_gives_no_flip():
    assert (residual("random", "rot90").aligned > 0.25).all()
    assert (residual("random", "hflip").aligned > 0.25).all()
    assert (residual("isotropic", "hflip").aligned < EXACT).all()  # radial filters: reflection-symmetric too
    assert (residual("c4", "hflip").aligned > 1e-3).all()  # C4 symmetry is not reflection symmetry


@pytest.mark.parametrize("name", ["scale2", "scale0.5", "shear0.5"])
@pytest.mark.parametrize("family", ["random", "c4", "isotropic"])
def test_scale_and_shear_stay_above_the_input_baseline(family, name):
    r = residual(family, name)
    assert (r.input > 0).all() and (r.aligned > 2 * r.input).all()


def test_delta_filters_are_the_loophole_and_the_guard_refuses_them():
    r = residual("delta", "scale2")
    # pointwise Λ commutes with the warp up to interpolation: aligned ≈ input alignment, far below random filters
    assert (r.aligned < 3 * r.input).all() and (r.aligned < 0.2 * residual("random", "scale2").aligned).all()
    w = al.filters("delta", 2, 1, 5, torch.Generator().manual_seed(0))
    assert (al.spatial_spread(w) == 0).all()
    with pytest.raises(ValueError, match="min_spread"):
        al.check_spread(w, 0.75, "delta")
    for family in ("random", "c4", "isotropic"):  # every claim family passes the guard
        al.network(cfg(), family, torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="family 'random', layer 1"):
        al.network(cfg(min_spread=5.0), "random", torch.Generator().manual_seed(3))


def test_filter_families_have_their_symmetry():
    g = torch.Generator().manual_seed(0)
    w = al.filters("c4", 3, 2, 5, g)
    assert torch.allclose(rot90(w, 1), w, atol=1e-15, rtol=0)  # equal up to the order of the four-term sum
    assert not torch.allclose(torch.flip(w, (-1,)), w, atol=1e-3)
    iso = al.filters("isotropic", 3, 2, 5, g)
    assert torch.allclose(rot90(iso, 1), iso, atol=0, rtol=1e-15)
    assert torch.allclose(torch.flip(iso, (-1,)), iso, atol=0, rtol=1e-15)
    assert torch.allclose(iso.transpose(-2, -1), iso, atol=0, rtol=1e-15)


def test_gcnn_is_rot90_equivariant_and_aligns_only_with_the_permutation():
    c, h = cfg(), get_transform("rot90")
    net = alg.gcnn(c, torch.Generator().manual_seed(5))
    f = images()
    for out, moved in zip(al.forward(f, net, "relu"), al.forward(h.apply(f), net, "relu"), strict=True):
        assert torch.allclose(moved, act_on_features(out, h, alg.C4_REGULAR), atol=1e-13)  # Λ(R f) = ρ(R) R Λ(f)
    rows = pd.DataFrame(alg.gcnn_rows(al.features(f, net, "relu", h), h, al.crop_half_width(c)))
    r = rows.pivot_table(index="depth", columns="kind", values="residual_max")
    assert (r["aligned+permutation"] < EXACT).all() and (r.aligned > 0.25).all()


@pytest.mark.parametrize("name", ["rot90", "hflip", "shift3,-2"])
def test_lemma41_is_exact_for_exact_transforms(name):
    rows = {r["kind"]: r["residual_max"] for r in al.lemma41_rows(images(), get_transform(name), 1.5, cfg())}
    assert rows["lemma41"] < EXACT
    if name != "shift3,-2":  # a shift leaves the filter unchanged (translation covariance)
        assert rows["untransformed_filter"] > 0.5


@pytest.mark.parametrize("name", ["scale2", "scale0.5", "rot45", "shear0.5"])
def test_lemma41_holds_up_to_interpolation(name):
    rows = {r["kind"]: r["residual"] for r in al.lemma41_rows(images(), get_transform(name), 1.5, cfg())}
    assert rows["lemma41"] < 0.25 * rows["untransformed_filter"] and rows["lemma41"] < 0.15


def test_sweep_candidates_include_the_inverse():
    cands = dict(al.sweep_candidates(get_transform("scale2"), (-0.5, 0.0, 0.5)))
    assert cands[0.0] == get_transform("scale2").inverse() and cands[0.5].param == pytest.approx(2**0.5 / 2)
    assert dict(al.sweep_candidates(get_transform("shear0.5"), (0.0,)))[0.0] == get_transform("shear-0.5")
    assert al.sweep_candidates(get_transform("rot90"), (0.0,)) == []


def test_images_are_compactly_supported_inside_every_transform():
    c = cfg()
    f = images()
    u = torch.arange(c.size, dtype=torch.float64) - (c.size - 1) / 2
    r = torch.sqrt(u.view(-1, 1) ** 2 + u.view(1, -1) ** 2)
    assert (f[..., r >= al.content_radius(c)] == 0).all() and f.abs().amax() > 0
    scaled = get_transform("scale2").apply(f)
    assert scaled[..., 0, :].abs().max() == 0 and scaled[..., :, 0].abs().max() == 0


# ---------------------------------------------------------------- params


def test_params_build_for_every_profile():
    params = load_params(ROOT / "params.yaml")
    got = {p: al.config_from_params({**params, "profile": p}) for p in PROFILES}
    assert got["smoke"].size < got["small"].size <= got["paper"].size
    assert got["smoke"].n_images < got["small"].n_images < got["paper"].n_images
    for c in got.values():
        assert al.crop_half_width(c) >= 2 and c.kernel % 2 == 1
        assert {"random", "c4", "isotropic"} <= set(c.families)
        assert any(t.startswith("shift") for t in c.transforms) and {"rot90", "hflip", "scale2"} <= set(c.transforms)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.update(kernel=4), "params section 'probe_alignment': kernel=4 must be odd"),
        (lambda s: s.update(families=["random", "gabor"]), "probe_alignment.families[1]"),
        (lambda s: s.update(transforms=["rot90", "spin"]), "transforms[1]: unknown transform 'spin'"),
        (lambda s: s.update(nonlinearity="gelu"), "probe_alignment.nonlinearity"),
        (lambda s: s.update(sweep_offsets=[0.5]), "sweep_offsets [0.5] must contain 0"),
        (lambda s: s.update(size=64), "probe_alignment.size"),
        (lambda s: s.update(colour="red"), "probe_alignment.colour"),
        (lambda s: s["smoke"].update(depth=0), "probe_alignment.smoke.depth"),
        (lambda s: s["smoke"].update(depth=9), "leaves no interior crop for depth=9"),
        (lambda s: s.update(lemma_sigma=3.0), "no interior crop for the Lemma 4.1 filter of lemma_sigma=3"),
    ],
)
def test_params_errors_name_the_key(edit, message):
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["profile"] = "smoke"
    edit(params["probe_alignment"])
    with pytest.raises(ParamError) as e:
        al.config_from_params(params)
    assert message in str(e.value)


# ---------------------------------------------------------------- the stage and the report


@cache
def _run(tmp: str) -> tuple[pd.DataFrame, dict, bytes, bytes]:
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["profile"] = "smoke"
    params["probe_alignment"]["trained_runs"] = []  # no trained models here (test_trained_* covers them)
    tmp_path = Path(tmp)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out, metrics = tmp_path / "alignment", tmp_path / "alignment.json"
    rc = stage("probe_alignment").cli(
        ["--out", str(out), "--metrics", str(metrics), "--params", str(tmp_path / "params.yaml")]
    )
    assert rc == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(pd.read_csv(out / "results.csv")) == len(df)
    return (
        df,
        json.loads(metrics.read_text()),
        (out / "results.csv").read_bytes(),
        (out / "results.parquet").read_bytes(),
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return _run(str(tmp_path_factory.mktemp("alignment_stage")))


def test_stage_table_and_metrics(smoke):
    df, metrics, _, _ = smoke
    assert list(df.columns) == list(al.COLUMNS)
    assert set(df.check) == {"residual", "warp_sweep", "gcnn", "lemma41"}
    assert not any("time" in c or "second" in c for c in df.columns)
    assert metrics["shift_aligned_max"] < EXACT and metrics["rot90_aligned_max_c4"] < EXACT
    assert metrics["gcnn_rot90_aligned_permutation_max"] < EXACT < 0.25 < metrics["gcnn_rot90_aligned_max"]
    assert metrics["scale_shear_over_baseline_min"] > 2


def test_stage_is_deterministic(smoke, tmp_path):
    _, _, csv, parquet = smoke
    again = _run(str(tmp_path))
    assert again[2] == csv and again[3] == parquet


def test_claims_on_the_stage_output(smoke):
    df, _, _, _ = smoke
    got = {c.id: c for c in j_claims.all_claims(df)}
    assert {i for i, c in got.items() if c.verdict == HOLDS} == set(got) - {"2e"}, {
        i: c.evidence for i, c in got.items() if c.verdict != HOLDS
    }
    assert got["2e"].verdict == OPEN
    t = tables.residual_table(df)
    assert t.index.names == ["T_h", "family"] and ("scale2", "δ (loophole control)") in t.index
    assert len(tables.sweep_table(df)) == 4 * 4 and list(tables.gcnn_table(df).index) == [1, 2]


def test_claims_decide_both_ways(smoke):
    df, _, _, _ = smoke
    bad = df.copy()
    shift = (bad.check == "residual") & (bad["transform"] == "shift3,-2") & (bad.kind == "aligned")
    bad.loc[shift, ["residual", "residual_max"]] = 0.1
    scale = (bad.check == "residual") & (bad["transform"] == "scale2") & (bad.kind == "input")
    bad.loc[scale & (bad.family == "random"), "residual"] = 1.0
    perm = (bad.check == "gcnn") & (bad.kind == "aligned+permutation")
    bad.loc[perm, "residual_max"] = 0.3
    got = {c.id: c.verdict for c in j_claims.all_claims(bad)}
    assert got["1"] == got["3a"] == got["4"] == FAILS
    none = {c.id: c.verdict for c in j_claims.all_claims(df[df.check == "lemma41"])}
    assert none["L4.1"] == HOLDS and none["1"] == none["3b"] == none["4"] == OPEN


def test_trained_runs_are_deps_of_the_stage():
    """Every run probe_alignment reads is a declared dependency, so retraining it reruns the checks."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["probe_alignment"]
    runs = params["probe_alignment"].get("trained_runs") or []
    assert runs and {f"data/models/{r}" for r in runs} <= set(stage["deps"])
    assert set(runs) <= set(params["train"]["models"])


def test_trained_layers_fold_batchnorm_exactly():
    from torch import nn

    from eqlab.probes.alignment_trained import folded_layers, trained_network

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 5, padding=2), nn.BatchNorm2d(3), nn.ELU(), nn.Conv2d(3, 4, 3, padding=1, bias=False),
                          nn.BatchNorm2d(4)).double()
    for bn in (model[1], model[4]):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.normal_()
        bn.bias.data.normal_()
    model.eval()
    x = torch.randn(2, 1, 9, 9, dtype=torch.float64)
    (w1, b1), (w2, b2) = folded_layers(model)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, w1, b1, padding=2), model[1](model[0](x)))
    h = model[2](model[1](model[0](x)))
    torch.testing.assert_close(torch.nn.functional.conv2d(h, w2, b2, padding=1), model[4](model[3](h)))
    with pytest.raises(ValueError, match="has 2 conv layers"):
        trained_network(model, 3, 0.0, "toy")
    with pytest.raises(ValueError, match="trained model 'toy', layer 1"):
        trained_network(model, 1, 10.0, "toy")


def test_trained_families_get_their_own_crop_and_join_the_table(smoke):
    from eqlab.probes.alignment_trained import PREFIX

    cfg = al.AlignmentConfig(size=48, channels=2, depth=2, n_images=2, families=("random",), transforms=("rot90", "scale2"))
    g = torch.Generator().manual_seed(1)
    net = ((torch.randn(3, 1, 7, 7, generator=g, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)),
           (torch.randn(3, 3, 7, 7, generator=g, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)))
    df = al.alignment_experiment(cfg, {f"{PREFIX}toy": net})
    res = df[df.check == "residual"]
    crops = res.groupby("family").crop.first()
    assert crops[f"{PREFIX}toy"] < crops["random"]  # 7×7 kernels reach further than the 5×5 default
    assert (res[(res.family == f"{PREFIX}toy") & (res.kind == "aligned") & (res["transform"] == "rot90")].residual > 0.25).all()


def test_unknown_trained_run_is_named_and_nothing_is_written(tmp_path, capsys):
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["profile"] = "smoke"
    params["probe_alignment"]["trained_runs"] = ["cnn", "resnet99"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "alignment"
    rc = stage("probe_alignment").cli(["--out", str(out), "--metrics", str(tmp_path / "m.json"), "--models-dir",
                                       str(tmp_path), "--params", str(tmp_path / "params.yaml")])
    err = capsys.readouterr().err
    assert rc == 2 and "probe_alignment.trained_runs': ['resnet99'] are not runs of train.models; allowed:" in err
    assert not out.exists()
