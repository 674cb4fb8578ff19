"""Lenc & Vedaldi's pose regression (Table 4, :mod:`eqlab.probes.lv_pose`): the adjoint scorer equals the
mapped one, a ridge map recovers a known linear map, the structured scorer learns a learnable pose, the
geometry goes the right way, and bad params name their key."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eqlab.groups import get_transform
from eqlab.models import lv_nets
from eqlab.probes.lv_equivariance import spatial_part
from eqlab.probes.lv_pose import (
    PoseConfig,
    PoseMap,
    angular_error,
    candidates,
    disk,
    draw_poses,
    equivariant_scores,
    fit_pose_maps,
    load_pose_data,
    macs,
    mapped,
    net_feature,
    predict,
    rotated,
    train_scorer,
)


def test_angular_error_is_the_distance_on_the_circle():
    assert np.allclose(angular_error(np.array([0, 350, 10, 180, -45]), np.array([0, 10, 350, 0, 45])),
                       [0, 20, 20, 180, 90])


def test_poses_cover_their_range_and_a_bad_variant_lists_the_allowed():
    rng, cfg = np.random.default_rng(0), PoseConfig()
    rot, full = draw_poses(2000, "rot", cfg, rng), draw_poses(2000, "rot360", cfg, rng)
    assert -45 <= rot.min() < -40 and 40 < rot.max() <= 45 and 0 <= full.min() < 5 and 355 < full.max() < 360
    with pytest.raises(ValueError, match=r"one of \['rot', 'rot360'\]"):
        draw_poses(3, "affine", cfg, rng)


def test_a_quarter_turn_and_back_is_exact_inside_the_disk():
    """The direction of the candidates: c_k = R_{−kδ} undoes x = R_θ·u when kδ = θ (a 90° rotation of an
    even grid about its centre is a permutation, so the round trip is exact)."""
    u = disk(torch.randn(2, 3, 32, 32))
    x = rotated(u, 90.0)
    assert torch.allclose(rotated(x, -90.0), u, atol=1e-5)
    assert not torch.allclose(rotated(x, 90.0), u, atol=1e-2)
    assert torch.equal(disk(x), x)  # nothing outside the disk: no corner tells the angle


def test_the_adjoint_scores_equal_the_mapped_features_scores():
    """⟨M_kᵀw, φ(x)⟩ + ⟨w, b_k⟩ = ⟨w, M_k φ(x)⟩ for conv maps (F ∘ P, m = 3) and dense maps."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = lv_nets.build("anet", "anet", 8).eval()
    h = model.forward_to("conv3", torch.randn(5, 3, 32, 32)).detach()
    c = h.shape[1]
    maps = [None] + [PoseMap(spatial_part(model, get_transform(f"rot{a}"), "conv3", tuple(h.shape[-2:])),
                             rng.normal(size=(c, 9 * c)).astype(np.float32), rng.normal(size=c).astype(np.float32),
                             3, 0.0, 0.0) for a in (10, 200)]
    w = torch.randn(h[0].numel())
    assert torch.allclose(equivariant_scores(maps, w, h), mapped(maps, h) @ w, rtol=1e-4, atol=1e-3)
    flat = h.flatten(1)
    dense = [None, PoseMap(None, rng.normal(size=(flat.shape[1],) * 2).astype(np.float32),
                           rng.normal(size=flat.shape[1]).astype(np.float32), 0, 0.0, 0.0)]
    assert torch.allclose(equivariant_scores(dense, w, flat), mapped(dense, flat) @ w, rtol=1e-4, atol=1e-3)


def test_a_ridge_map_recovers_a_linear_action_exactly():
    """On pixel features a rotation is linear, so M_k fitted on generic pictures predicts φ(c_k·x) of new
    pictures with ≈ 0 error (the fit of :func:`fit_pose_maps` recovers a known map)."""
    gen = torch.Generator().manual_seed(0)
    pics = {"fit": disk(torch.randn(300, 1, 8, 8, generator=gen)), "val": disk(torch.randn(50, 1, 8, 8, generator=gen))}

    def phi(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"px": x.flatten(1)}

    cfg = PoseConfig(lams=(1e-9, 1e-1))
    m = fit_pose_maps(phi, 30.0, pics, {s: phi(x) for s, x in pics.items()}, None, cfg, np.random.default_rng(0))["px"]
    assert m.lam == 1e-9 and m.residual < 1e-6
    new = disk(torch.randn(10, 1, 8, 8, generator=gen))
    assert torch.allclose(m(phi(new)["px"]), phi(rotated(new, -30.0))["px"], atol=1e-3)


def test_the_structured_scorer_learns_a_learnable_pose():
    """Candidate features that are one-hot in the offset between candidate and truth: w = e_0 is perfect,
    and the softmax-margin fit finds a perfect scorer."""
    cfg = PoseConfig(step=30)
    angles, k = cfg.angles, len(cfg.angles)
    rng = np.random.default_rng(0)
    truth_k = rng.integers(0, k, 60)
    feats = torch.stack([torch.eye(k)[(np.arange(k) - t) % k] for t in truth_k]) + 0.05 * torch.randn(60, k, k)
    w = train_scorer(feats, angles[truth_k], angles, 1e-3, cfg)
    assert np.array_equal(predict(feats @ w, angles), angles[truth_k])


def test_direct_candidates_see_the_picture_upright_at_the_true_pose():
    """The candidate at the true pose of a quarter-turned picture reproduces the upright picture's features."""
    torch.manual_seed(0)
    model = lv_nets.build("anet", "anet", 8).eval()
    u = disk(torch.randn(3, 3, 32, 32))
    cfg = PoseConfig(step=90)
    c = candidates(net_feature(model, ("conv3",)), rotated(u, 90.0), cfg.angles)["conv3"]
    upright = net_feature(model, ("conv3",))(u)["conv3"].flatten(1)
    assert torch.allclose(c[:, 1], upright, atol=1e-4) and not torch.allclose(c[:, 0], upright, atol=1e-2)


def test_forward_multiply_adds_are_counted_per_layer():
    model = lv_nets.build("anet", "anet", 8)
    conv1 = model.stages[0]
    expected = 16 * 16 * conv1.out_channels * 3 * 5 * 5  # 32 px, stride 2, padding 2: a 16 × 16 grid
    assert macs(model, "conv1", (3, 32, 32)) == expected < macs(model, "conv3", (3, 32, 32))


def test_pose_data_are_disjoint_and_bad_digits_name_their_key(tmp_path):
    images = np.arange(60 * 28 * 28, dtype=np.int64).reshape(60, 28, 28) % 251
    labels = np.repeat(np.arange(10), 6)
    np.savez(tmp_path / "images.npz", train_images=np.zeros((20, 3, 32, 32), np.uint8),
             val_images=np.ones((8, 3, 32, 32), np.uint8))
    cfg = PoseConfig(digits=(2, 3, 4), n_train=8, n_val=4, n_test=6, fit_images=10, val_images=5)
    d = load_pose_data((images.astype(np.uint8), labels), tmp_path, cfg)
    assert (len(d.train), len(d.val), len(d.test), len(d.fit), len(d.gval)) == (8, 4, 6, 10, 5)
    seen = {p.tobytes() for part in (d.train, d.val, d.test) for p in part}
    assert len(seen) == 18  # no digit in two splits
    with pytest.raises(ValueError, match=r"lenc_vedaldi_pose: 30 digits asked .* 18 of digits \[2, 3, 4\] exist"):
        load_pose_data((images.astype(np.uint8), labels), tmp_path, PoseConfig(digits=(2, 3, 4), n_train=20, n_val=5,
                                                                                n_test=5))
    with pytest.raises(ValueError, match="digits must be in 0…9"):
        PoseConfig(digits=(3, 12))
    with pytest.raises(ValueError, match="step must divide 360"):
        PoseConfig(step=7)
