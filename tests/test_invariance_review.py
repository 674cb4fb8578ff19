"""The invariance review's pooling layers, Morlet scattering, textures and configuration (PAPERS.md 004)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from eqlab.invariance.config import config_from_params
from eqlab.invariance.experiments import rotate, separation, stratified_split
from eqlab.invariance.pooling import LocalPool, entropy_pool, global_pool, lp_pool, stochastic_pool
from eqlab.invariance.poolnet import PoolNet, TrainSpec, epochs_to_target, train, variant
from eqlab.invariance.scattering import lowpass_matrix, morlet_bank, orientation_pooled, paths, scattering
from eqlab.invariance.textures import phase_twin, strokes
from eqlab.papers.invariance_review import claims as r_claims
from eqlab.params import ParamError, load_params


def _pos(seed: int = 0, shape=(2, 3, 8, 8)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --- pooling --------------------------------------------------------------------------------------------


def test_lp_with_p1_is_average_and_large_p_approaches_max():
    x = _pos()
    assert torch.allclose(lp_pool(x, 1.0), F.avg_pool2d(x, 2), atol=1e-12)
    mx = F.max_pool2d(x, 2)
    errs = [float((lp_pool(x, p) - mx).abs().max()) for p in (2.0, 4.0, 16.0, 64.0)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.03 * float(mx.max())
    assert torch.all(lp_pool(x, 64.0) <= mx + 1e-12)  # the power mean never exceeds the max
    # a window of zeros gives 0, with finite gradients
    z = torch.zeros(1, 2, 2, 2, requires_grad=True)
    p = torch.tensor([3.0, 3.0], requires_grad=True)
    lp_pool(z, p).sum().backward()
    assert torch.isfinite(z.grad).all() and torch.isfinite(p.grad).all()


def test_gradients_flow_to_learned_p():
    pool = LocalPool("lp_learned", channels=3, p_init=3.0).double()
    assert torch.allclose(pool.learned_p, torch.full((3,), 3.0, dtype=torch.float64))
    x = _pos(1)
    pool(x).sum().backward()
    g = pool.rho.grad
    assert g is not None and torch.isfinite(g).all() and (g.abs() > 0).all()
    # raising p moves the power mean towards the max: its derivative is positive
    assert (g > 0).all()


def test_entropy_pool_of_a_constant_is_the_constant_and_rewards_peaks():
    c = torch.full((1, 2, 4, 4), 0.7, dtype=torch.float64)
    assert torch.allclose(entropy_pool(c), torch.full((1, 2, 2, 2), 0.7, dtype=torch.float64))
    peak = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    peak[0, 0, 0, 1] = 2.0
    assert float(entropy_pool(peak)) == pytest.approx(4 * 2.0)  # max² / avg = |P| · h
    assert float(entropy_pool(torch.zeros(1, 1, 2, 2))) == 0.0


def test_stochastic_pool_eval_is_probability_weighted_and_training_samples_by_activation():
    x = _pos(2)
    w = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*x.shape[:2], 4, 4, 4)
    expected = (w * w).sum(-1) / w.sum(-1)
    assert torch.allclose(stochastic_pool(x, training=False), expected, atol=1e-12)
    # training: each output is one of its window's values, drawn with frequency ∝ the value
    win = torch.tensor([[[[0.0, 1.0], [3.0, 0.0]]]], dtype=torch.float64).repeat(4000, 1, 1, 1)
    out = stochastic_pool(win, generator=torch.Generator().manual_seed(0), training=True).flatten()
    assert set(out.tolist()) <= {1.0, 3.0}
    assert float((out == 3.0).double().mean()) == pytest.approx(0.75, abs=0.03)
    assert float(stochastic_pool(torch.zeros(1, 1, 2, 2), training=True)) == 0.0


def test_heterogeneous_and_heads():
    x = _pos(3, (1, 4, 4, 4))
    out = LocalPool("heterogeneous", 4)(x)
    assert torch.equal(out[:, :2], F.max_pool2d(x[:, :2], 2)) and torch.allclose(out[:, 2:], F.avg_pool2d(x[:, 2:], 2))
    assert torch.equal(global_pool(x, "global_max"), x.amax((2, 3)))
    assert torch.allclose(global_pool(x, "global_avg"), x.mean((2, 3)))
    with pytest.raises(ValueError, match="head"):
        global_pool(x, "median")


def test_variants_parse_and_every_variant_trains_a_step():
    assert variant("lp3.4").p == pytest.approx(3.4) and variant("max+gmax").head == "global_max"
    for bad in ("lp0.5", "median", "max+gavg", "lpx"):
        with pytest.raises(ValueError):
            variant(bad)
    x, y = _pos(4, (6, 1, 12, 12)).float(), torch.arange(6) % 3
    for name in ("max", "avg", "lp4", "lp_learned", "stochastic", "heterogeneous", "entropy", "avg+gmax"):
        torch.manual_seed(0)
        net = PoolNet(variant(name), (4, 4, 4), 3, 3.0, torch.Generator().manual_seed(0))
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_epochs_to_target_interpolates_the_first_crossing():
    at = [0.5, 1.0, 1.5, 2.0]
    assert epochs_to_target(at, [0.4, 0.6, 0.9, 0.85], 0.8) == pytest.approx(1.0 + 0.5 * 2 / 3)
    assert epochs_to_target(at, [0.85, 0.9, 0.9, 0.9], 0.8) == 0.5  # already there at the first checkpoint
    assert math.isnan(epochs_to_target(at, [0.4, 0.6, 0.7, 0.79], 0.8))  # never: not "the last epoch"


def test_cosine_schedule_decays_to_zero_and_checkpoints_split_each_epoch():
    spec = TrainSpec(2, 4, 0.01, (2, 2, 2), 3.0, "cosine", 3)
    assert spec.lr_at(0, 10) == pytest.approx(0.01) and spec.lr_at(5, 10) == pytest.approx(0.005)
    assert spec.lr_at(10, 10) == pytest.approx(0.0, abs=1e-15)
    assert TrainSpec(2, 4, 0.01, (2, 2, 2), 3.0).lr_at(7, 10) == 0.01
    with pytest.raises(ValueError, match="schedules"):
        TrainSpec(2, 4, 0.01, (2, 2, 2), 3.0, "step")
    x, y = _pos(5, (12, 1, 8, 8)).float(), torch.arange(12) % 3
    res = train(variant("max"), spec, 0, x, y, x, y, 3)
    assert res.val_epochs == pytest.approx([1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0]) and len(res.val_acc) == 6


# --- scattering -----------------------------------------------------------------------------------------


def _freq_radius(m: int) -> torch.Tensor:
    w = 2 * math.pi * torch.fft.fftfreq(m, dtype=torch.float64)
    wy, wx = torch.meshgrid(w, w, indexing="ij")
    return torch.sqrt(wy**2 + wx**2)


def test_filters_are_littlewood_paley_bounded_and_zero_mean():
    bank = morlet_bank(32, 3, 8)
    a = bank.littlewood_paley()
    assert float(a.max()) <= 1 + 1e-12
    assert float(a[_freq_radius(32) <= math.pi].min()) >= 0.3  # lower frame bound inside the Nyquist disk
    assert float(bank.psi[:, 0, 0].abs().max()) < 1e-12 and float(bank.phi[0, 0]) == pytest.approx(1.0)
    # Parseval: the wavelet transform's energy lies between the frame bounds times ‖x‖²
    x = torch.randn(3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xf = torch.fft.fft2(x)
    energy = (torch.fft.ifft2(xf * bank.phi).abs() ** 2).sum((-2, -1))
    energy += (torch.fft.ifft2(xf[:, None] * bank.psi).abs() ** 2).sum((-3, -2, -1))
    norm = (x**2).sum((-2, -1))
    assert torch.all(energy <= norm * (1 + 1e-9)) and torch.all(energy >= 0.3 * norm)


def test_scattering_shape_paths_and_nonexpansive():
    bank = morlet_bank(32, 3, 8)
    p = paths(3, 8)
    assert len(p) == 1 + 3 * 8 + 8 * 8 * 3 and (p[p.order == 2].j2 > p[p.order == 2].j1).all()
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 28, 28, generator=g), torch.rand(2, 28, 28, generator=g)
    s = scattering(x, bank)
    assert s.shape == (2, len(p), 4, 4) and (s[:, 1:] >= 0).all()
    sx, sy = (scattering(v, bank, subsample=False, dtype=torch.float64) for v in (x, y))
    assert sx.shape == (2, len(p), 32, 32)
    for i in range(2):  # ‖Sx − Sy‖ ≤ ‖x − y‖ (paths j2 > j1 only: a subset of a non-expansive cascade)
        assert float((sx[i] - sy[i]).norm()) <= float((x[i] - y[i]).double().norm()) * (1 + 1e-9)
    # order 2 on coarse grids stays within 1e-3 of the full-resolution float64 transform
    exact = scattering(x, bank, dtype=torch.float64, exact=True)
    assert float((s.double() - exact).norm() / exact.norm()) < 1e-3
    assert torch.allclose(lowpass_matrix(bank).sum(1), torch.ones(4, dtype=torch.float64))  # φ averages


def test_scattering_is_nearly_translation_invariant_below_2_to_the_J():
    bank = morlet_bank(32, 3, 8)
    img = torch.zeros(3, 32, 32)
    img[:, 8:24, 8:24] = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(2))
    s0 = scattering(img, bank)
    rel = [float((scattering(torch.roll(img, (k, 0), (1, 2)), bank) - s0).norm() / s0.norm()) for k in (1, 2, 4)]
    pixels = float((torch.roll(img, (1, 0), (1, 2)) - img).norm() / img.norm())
    assert rel[0] < 0.1 < pixels and rel[0] < 0.1 * pixels and rel == sorted(rel)
    # a shift by 2^J pixels (circular) shifts the coefficients by exactly one sample
    s8 = scattering(torch.roll(img, (8, 0), (1, 2)), bank)
    assert torch.allclose(s8, torch.roll(s0, 1, 2), atol=1e-5 * float(s0.abs().max()))


def test_orientation_pooled_coefficients_are_invariant_to_quarter_turns():
    bank = morlet_bank(32, 3, 8)
    img = torch.rand(2, 28, 28, generator=torch.Generator().manual_seed(3))
    a = orientation_pooled(scattering(img, bank, subsample=False), 3, 8)
    b = orientation_pooled(scattering(torch.rot90(img, 1, (1, 2)), bank, subsample=False), 3, 8)
    assert a.shape == (2, 1 + 3 + 8 * 3)
    assert torch.allclose(a, b, rtol=1e-3)
    assert not torch.allclose(scattering(img, bank), scattering(torch.rot90(img, 1, (1, 2)), bank), rtol=1e-2)


# --- textures, splits, rotations, params ----------------------------------------------------------------


def test_phase_twin_has_the_same_power_spectrum_and_different_coefficients():
    g = torch.Generator().manual_seed(0)
    a = strokes(2, 32, 20, 6.0, g)
    b = phase_twin(a, g)
    assert torch.allclose(torch.fft.fft2(a).abs(), torch.fft.fft2(b).abs(), atol=1e-9)
    assert float((a - b).abs().max()) > 0.1 and a.min() >= 0
    u, v = (0.1 * torch.randn(200, 3, generator=g, dtype=torch.float64) for _ in range(2))
    assert separation(u, v) < 0.5  # one distribution: means within a fraction of the spread
    assert separation(u, v + 1.0) == pytest.approx(math.sqrt(3) / math.sqrt(3 * 0.01), rel=0.2)


def test_stratified_split_is_disjoint_balanced_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    tr, va, te = stratified_split(labels, (200, 100, 100), 0)
    assert len(set(tr) | set(va) | set(te)) == 400
    assert np.all(np.bincount(labels[tr], minlength=10) == 20)
    assert all(np.array_equal(a, b) for a, b in zip(stratified_split(labels, (200, 100, 100), 0), (tr, va, te)))
    assert not np.array_equal(stratified_split(labels, (200, 100, 100), 1)[0], tr)
    with pytest.raises(ValueError, match="exceed"):
        stratified_split(labels, (400, 200), 0)


def test_rotate_by_zero_is_identity_and_by_90_is_rot90():
    img = torch.rand(2, 28, 28, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(rotate(img, torch.zeros(2)), img, atol=1e-5)
    r = rotate(img, torch.full((2,), 90.0))
    assert torch.allclose(r, torch.rot90(img, 1, (1, 2)), atol=1e-4) or torch.allclose(
        r, torch.rot90(img, -1, (1, 2)), atol=1e-4
    )


def test_params_section_builds_and_bad_keys_are_named(root):
    params = load_params(root / "params.yaml")
    for profile in ("small", "paper", "smoke"):
        cfg = config_from_params({**params, "profile": profile})
        assert len(cfg.seeds) >= 3 and len(cfg.pooling.variants) >= 9
    bad = {**params, "invariance_review": {**params["invariance_review"], "pooling": {"variantz": ["max"]}}}
    with pytest.raises(ParamError, match="invariance_review.pooling.variantz"):
        config_from_params(bad)
    misplaced = {**params, "invariance_review": {**params["invariance_review"], "epochs": 3}}
    with pytest.raises(ParamError, match="invariance_review.epochs"):
        config_from_params(misplaced)


def test_claim_1b_without_a_seed_at_the_target_is_not_established():
    rows = [dict(experiment="pooling", model=v, seed=s, metric=m, condition=None, epoch=None, layer=None,
                 channel=None, value=val)
            for v in ("max", "heterogeneous") for s in (0, 1, 2)
            for m, val in (("test_acc", 0.5 + 0.01 * s), ("epochs_to_target", float("nan")))]
    a, b = r_claims.claim_heterogeneous(pd.DataFrame(rows), 0.9)
    assert b.verdict == "not established" and b.interval is None and "3 seed(s) where one never reached" in b.evidence
    assert a.interval is not None
