"""Lenc & Vedaldi's network analogues and their equivariance maps (``eqlab.models.lv_nets``,
``eqlab.models.lv_train``, ``eqlab.probes.lv_equivariance``): the math on tiny inputs, an exactly
C4-equivariant net whose rot90 map must come out as the channel permutation, and the params errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from eqlab.groups import Grid, get_transform
from eqlab.models import lv_anet, lv_nets, lv_resnet
from eqlab.models.lv_train import NetConfig, TrainConfig, configs, select, train_net
from eqlab.papers.lenc_vedaldi import cnn_claims as lv_claims
from eqlab.papers.lenc_vedaldi import tables
from eqlab.params import ParamError, load_params
from eqlab.probes import lv_equivariance as lv
from eqlab.probes.ridge import fit_ridge


def test_anet_shapes_and_uncentred_grids():
    net = lv_anet.ANetSmall(lv_anet.ANetSpec()).eval()
    x = torch.randn(2, 3, 32, 32)
    sizes = {"conv1": 16, "conv2": 7, "conv3": 3, "conv4": 3, "conv5": 3}
    for tap, n in sizes.items():
        h = net.forward_to(tap, x)
        assert h.shape[-2:] == (n, n)
        grid = lv_anet.tap_grid(tap)
        assert not grid.is_centred((32, 32), (n, n))  # AlexNet-like: grids sit off the image centre
        torch.testing.assert_close(net.forward_from(tap, h), net(x))
    for tap in ("fc6", "fc7"):
        assert lv_anet.tap_grid(tap) is None
        torch.testing.assert_close(net.forward_from(tap, net.forward_to(tap, x)), net(x))
    assert lv_anet.tap_grid("conv1").misalignment((32, 32), (16, 16)) == (-0.5, -0.5)


def test_p_g_on_conv1_is_flip_plus_half_pixel():
    """hflip about the image centre = hflip about the conv1 grid centre, then a shift of (−2δ)/stride = ½ px."""
    p = lv.spatial_part(lv_anet.ANetSmall(lv_anet.ANetSpec()), get_transform("hflip"), "conv1", (16, 16))
    assert p.matrix == (-1.0, 0.0, 0.0, 1.0, 0.5, 0.0) and not p.exact
    # a stride-1 'same' conv is centred: P_g is g itself
    assert Grid.conv(3, 1, 1).transform(get_transform("rot90"), (9, 9), (9, 9)) == get_transform("rot90")


def test_ridge_path_equals_fit_ridge():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 6)), rng.normal(size=(200, 3))
    for lam, (a, b) in zip((1e-3, 1.0), lv.ridge_path(x, y, (1e-3, 1.0)), strict=True):
        a0, b0 = fit_ridge(x, y, lam)
        np.testing.assert_allclose(a, a0, atol=1e-12)
        np.testing.assert_allclose(b, b0, atol=1e-12)


def test_patches_and_apply_map_agree():
    """The m×m map applied as a conv equals the regression rows times Aᵀ (column order matches)."""
    torch.manual_seed(0)
    h = torch.randn(2, 3, 5, 5)
    a, b = np.random.default_rng(1).normal(size=(4, 27)), np.zeros(4)
    rows = lv.site_rows(h, 3, None) @ a.T
    out = lv.apply_map(h, a, b, 3).permute(0, 2, 3, 1).reshape(-1, 4).numpy()
    np.testing.assert_allclose(out, rows, atol=1e-5)


def _c4_net(seed: int = 0, c: int = 3) -> tuple:
    """Lifting conv with C4-rotated copies (regular representation, 4 orientations per field), then a
    group conv regular → regular: exactly equivariant, φ(rot90·x) = ρ P φ(x) with ρ a cyclic shift."""
    g = torch.Generator().manual_seed(seed)
    w0 = torch.randn(c, 2, 3, 3, generator=g, dtype=torch.float64)
    w1 = torch.stack([torch.rot90(w0, r, dims=(-2, -1)) for r in range(4)], 1).reshape(4 * c, 2, 3, 3)
    v0 = torch.randn(c, c, 4, 3, 3, generator=g, dtype=torch.float64)  # (out field, in field, rel. orientation)
    w2 = torch.zeros(c, 4, c, 4, 3, 3, dtype=torch.float64)
    for r in range(4):
        for s in range(4):
            w2[:, r, :, s] = torch.rot90(v0[:, :, (s - r) % 4], r, dims=(-2, -1))
    w2 = w2.reshape(4 * c, 4 * c, 3, 3)

    def layer1(x):
        return F.conv2d(x, w1, padding=1)

    def layer2(x):
        return F.conv2d(torch.relu(layer1(x)), w2, padding=1)

    return layer1, layer2


@pytest.mark.parametrize("layer", [0, 1])
def test_c4_net_rot90_map_is_the_channel_permutation(layer):
    """Fit F_g (m = 1, tiny λ) on P φ(g·x) → φ(x) for an exactly C4-equivariant net: the fitted map is
    the cyclic permutation of each field's 4 orientation channels, bias 0."""
    c = 3
    phi = _c4_net(0, c)[layer]
    g = get_transform("rot90")
    torch.manual_seed(0)
    x = torch.randn(6, 2, 9, 9, dtype=torch.float64)
    p = Grid.conv(3, 1, 1).transform(g, (9, 9), (9, 9), require_exact=True)
    aligned = lv.align(p, phi(g.apply(x)))
    a, b = lv.ridge_path(lv.site_rows(aligned, 1, None), lv.site_rows(phi(x), 1, None), (1e-12,))[0]
    expected = np.zeros((4 * c, 4 * c))
    for f in range(c):
        for r in range(4):
            expected[4 * f + r, 4 * f + (r + 1) % 4] = 1.0
    np.testing.assert_allclose(a, expected, atol=1e-6)
    np.testing.assert_allclose(b, 0.0, atol=1e-6)
    assert np.all(np.isinf(lv.channel_scores(np.eye(4))))
    # a permutation with no fixed channel: no row is read from itself
    assert np.all(lv.channel_scores(expected) == 1.0)


def test_identity_rows_and_scores():
    a = np.array([[2.0, 0.1, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 3.0]])
    s = lv.channel_scores(a)
    assert s[2] == np.inf and s[0] > s[1]
    out = lv.with_identity_rows(a, 2)
    np.testing.assert_array_equal(out, [[2.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(lv.with_identity_rows(a, 0), a)


def test_bootstrap_ci_brackets_the_mean():
    errs = (np.arange(400) % 4 == 0).astype(float)
    lo, hi = lv.bootstrap_ci(errs, 500, np.random.default_rng(0))
    assert lo < 0.25 < hi and hi - lo < 0.1


def test_select_label_sets_are_disjoint():
    y = np.arange(16)
    xa, ya = select(y[:, None], y, "a")
    xb, yb = select(y[:, None], y, "b")
    assert set(xa[:, 0]).isdisjoint(xb[:, 0]) and list(ya) == list(range(8)) == list(yb)
    with pytest.raises(ValueError, match="label_set"):
        select(y[:, None], y, "c")


def test_training_is_deterministic_and_learns_hflip_only():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 2
    cfg = TrainConfig(epochs=2, batch_size=8)
    m1, h1 = train_net(NetConfig(seed=3), cfg, x, y, 2)
    m2, h2 = train_net(NetConfig(seed=3), cfg, x, y, 2)
    assert h1 == h2
    for p1, p2 in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)
    assert not m1.training


def test_params_section_and_errors():
    params = load_params(ROOT / "params.yaml")
    data, train, nets = configs(params)
    assert sum(n.label_set == "a" for n in nets.values()) >= 3 and any(n.label_set == "b" for n in nets.values())
    assert len({n.seed for n in nets.values() if n.label_set == "a"}) >= 3
    bad = copy.deepcopy(params)
    bad["lenc_vedaldi_nets"]["bogus"] = 1
    with pytest.raises(ParamError, match="lenc_vedaldi_nets.bogus"):
        configs(bad)
    bad = copy.deepcopy(params)
    bad["lenc_vedaldi_nets"]["train"]["lr_max"] = -1
    with pytest.raises(ParamError, match="lr_max"):
        configs(bad)


def _synthetic_maps(mapped_early: float):
    """Three label-set-a seeds: original 0.30, uncompensated 0.70, M_g ``mapped_early`` at conv1–2 and
    0.5 deeper, FC 0.6, P_g only 0.8 at conv1 (worse than none) and equal to M_g at conv5 for h-flip."""
    import pandas as pd

    rows = []
    for s, eps in enumerate((-0.01, 0.0, 0.012)):
        net = f"anet_s{s}"
        rows.append(dict(net=net, label_set="a", layer="", transform="identity", method="original", top1_error=0.3 + eps))
        for layer in (*lv_claims.CONV, *lv_claims.FC):
            for g in ("hflip", "vflip", "rot90", "rot45"):
                mapped = mapped_early if layer in lv_claims.EARLY else 0.6 if layer in lv_claims.FC else 0.5
                mapped += 0.05 if g == "rot45" else 0.0
                vals = {"none": 0.7, "p_only": 0.8 if layer == "conv1" else mapped, "ridge_m1": mapped, "ridge_m3": mapped}
                rows += [dict(net=net, label_set="a", layer=layer, transform=g, method=m, top1_error=v + eps)
                         for m, v in vals.items()]
    return pd.DataFrame(rows)


def test_cnn_claims_decide_both_ways():
    from eqlab.report.claims import FAILS, HOLDS, OPEN

    good = lv_claims.cnn_claims(_synthetic_maps(0.32))
    assert [c.verdict for c in good if c.id == "2a"] == [HOLDS, HOLDS]
    by = {c.id: c.verdict for c in good}
    assert by["2b"] == HOLDS and by["2c"] == HOLDS and by["3a"] == HOLDS and by["3b"] == HOLDS and by["5"] == HOLDS
    assert by["4a"] == OPEN and by["4b"] == OPEN and by["2d"] == OPEN and "6" not in by  # claim 6: the stitching table (test_lv_stitching)
    bad = [c.verdict for c in lv_claims.cnn_claims(_synthetic_maps(0.68)) if c.id == "2a"]
    assert bad == [FAILS, FAILS]
    lo, mean, hi = tables.t_interval([1.0, 2.0, 3.0])[1], 2.0, tables.t_interval([1.0, 2.0, 3.0])[2]
    assert lo < mean < hi and abs((hi - lo) / 2 - 4.303 / np.sqrt(3)) < 1e-9


def test_sampled_rows_match_the_full_rows():
    torch.manual_seed(0)
    src, tgt = torch.randn(10, 2, 4, 4), torch.randn(10, 3, 4, 4)
    mask = np.ones((4, 4), bool)
    mask[0] = False
    full_x, full_y = lv.site_rows(src, 3, mask), lv.site_rows(tgt, 1, mask)
    x, y = lv.sampled_rows(src, tgt, 3, mask, 50, np.random.default_rng(0), chunk=3)
    keep = np.sort(np.random.default_rng(0).choice(len(full_x), 50, replace=False))
    np.testing.assert_array_equal(x, full_x[keep])
    np.testing.assert_array_equal(y, full_y[keep])
    x, _ = lv.sampled_rows(src, tgt, 1, None, 10_000, np.random.default_rng(0))
    assert len(x) == 160


def _rows(src: torch.Tensor, tgt: torch.Tensor, m: int) -> tuple[np.ndarray, np.ndarray]:
    return lv.site_rows(src, m, None).astype(np.float64), lv.site_rows(tgt, 1, None).astype(np.float64)


def test_ls_and_fs_recover_an_exact_sparse_map():
    """φ(x) = a permutation of Pφ(g·x)'s channels, scaled, plus a bias: LS (all 3×3×C inputs) and FS with
    k = 1 both find it exactly; FS uses one input per output channel, at the centre of the neighbourhood."""
    torch.manual_seed(0)
    src = torch.randn(40, 4, 5, 5)
    perm, scale, bias = [2, 0, 3, 1], torch.tensor([1.5, -2.0, 0.5, 3.0]), torch.tensor([0.1, 0.0, -1.0, 2.0])
    tgt = src[:, perm] * scale.view(1, 4, 1, 1) + bias.view(1, 4, 1, 1)
    rows = _rows(src, tgt, 3)
    for a, b in (lv.fit_ls(rows), lv.fit_fs(rows, 1)):
        np.testing.assert_allclose(lv.apply_map(src, a, b, 3).numpy(), tgt.numpy(), atol=1e-4)
        np.testing.assert_allclose(b, bias.numpy(), atol=1e-6)
    a, _ = lv.fit_fs(rows, 1)
    assert (np.count_nonzero(a, axis=1) == 1).all()
    centre = [int(np.flatnonzero(r)[0]) for r in a]
    assert centre == [c * 9 + 4 for c in perm]  # channel-major columns: channel c's centre tap is c·9 + 4


def _tiny_setup(seed: int = 0):
    """A random ANet analogue labelling its own inputs (original error 0), and its fc7 features."""
    torch.manual_seed(seed)
    net = lv_anet.ANetSmall(lv_anet.ANetSpec(widths=(4, 4, 4, 4, 4), fc=8, n_classes=3)).eval()
    x = torch.randn(96, 3, 32, 32)
    with torch.no_grad():
        h, y = net.forward_to("fc7", x), net(x).argmax(1)
    return net, h, y


def _permuted(h: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return h[:, torch.randperm(h.shape[1], generator=torch.Generator().manual_seed(seed))]


@pytest.mark.parametrize("objective", ["task", "relu"])
def test_trained_maps_improve_their_objective_and_leave_the_net_frozen(objective):
    """The features come with their channels permuted: the identity start is wrong, the permutation right.
    ReLU-OPT is checked on Gaussian features (a random net's fc7 is mostly below zero)."""
    net, h, y = _tiny_setup()
    if objective == "relu":
        h = torch.randn(h.shape, generator=torch.Generator().manual_seed(1))
    moved = _permuted(h)
    before = copy.deepcopy(net.state_dict())
    cfg = lv.MapsConfig(train_epochs=30, train_lr=3e-2, train_batch_size=16)
    init = (np.eye(8), np.zeros(8))
    fit, val = (moved[:64], h[:64], y[:64]), (moved[64:], h[64:], y[64:])
    a, b, epoch = lv.train_map(net, "fc7", objective, init, 1, fit, val, None, cfg)
    assert epoch > 0
    out, out0 = lv.apply_map(val[0], a, b, 1), lv.apply_map(val[0], *init, 1)
    if objective == "task":
        ce = [float(F.cross_entropy(net.forward_from("fc7", o), val[2])) for o in (out, out0)]
        assert ce[0] < 0.7 * ce[1]
    else:
        assert lv.relu_residual(out, val[1], None) < 0.5 * lv.relu_residual(out0, val[1], None)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    # with no epochs, the start is returned as it is
    a0, b0, e0 = lv.train_map(net, "fc7", objective, init, 1, fit, val, None, lv.MapsConfig(train_epochs=0))
    assert e0 == 0 and np.array_equal(a0, init[0]) and np.array_equal(b0, init[1])
    with pytest.raises(ValueError, match="unknown objective 'l1'.*relu.*task"):
        lv.train_map(net, "fc7", "l1", init, 1, fit, val, None, cfg)


def _with_task_maps(maps, task_gain: float, task_residual: float):
    """``maps`` plus ridge and task-loss rows at conv3–fc7 for v-flip and rot90: the task map's top-1 is
    ``task_gain`` below the ridge map's, its L2 residual ``task_residual`` against the ridge map's 0.2."""
    import pandas as pd

    rows = []
    for net in maps.net.unique():
        for layer in lv_claims.MIDDLE_ON:
            ridge, task = lv_claims._trained(layer)
            for g in lv_claims.TRAINED_FOR:
                base = dict(net=net, label_set="a", layer=layer, transform=g)
                eps = 0.01 * int(net[-1])
                rows.append({**base, "method": ridge, "top1_error": 0.5, "residual_l2": 0.2})
                rows.append({**base, "method": task, "top1_error": 0.5 - task_gain - eps,
                             "residual_l2": task_residual + eps})
    clean = maps[~maps.method.isin([lv_claims._trained(lay)[0] for lay in lv_claims.MIDDLE_ON]) |
                 ~maps.layer.isin(lv_claims.MIDDLE_ON) | ~maps["transform"].isin(lv_claims.TRAINED_FOR)]
    return pd.concat([clean, pd.DataFrame(rows)], ignore_index=True)


def test_task_map_claims_decide_both_halves():
    from eqlab.report.claims import FAILS, HOLDS, OPEN

    maps = _synthetic_maps(0.32)
    assert {c.verdict for c in lv_claims.task_map_claims(maps)} == {OPEN}  # no task-loss rows: not fitted
    verdicts = lambda gain, res: [c.verdict for c in lv_claims.task_map_claims(_with_task_maps(maps, gain, res))]  # noqa: E731
    assert verdicts(0.1, 1.0) == [HOLDS, HOLDS]
    assert verdicts(0.1, 0.1) == [HOLDS, FAILS]  # the task map is also the better L2 fit: L2 did predict it
    assert verdicts(-0.1, 1.0) == [FAILS, FAILS]
    assert verdicts(0.0, 1.0)[0] == OPEN  # the seeds straddle zero
    table = tables.solvers_table(_with_task_maps(maps, 0.1, 1.0).assign(residual_relu=0.1, m=1))
    assert table.shape[0] == len(lv_claims.MIDDLE_ON) * 2


def test_rotation_sweep_tables():
    import pandas as pd

    assert tables.rotation_angle("rot22.5") == 22.5 and tables.rotation_angle("hflip") is None
    assert tables.main_transforms(["hflip", "rot15", "rot45", "rot90", "scale0.5", "rot75"]) == \
        ["hflip", "rot45", "rot90", "scale0.5"]
    maps = _synthetic_maps(0.32)
    extra = maps[maps["transform"] == "rot45"].assign(transform="rot15")
    extra = extra.assign(top1_error=extra.top1_error - 0.1)
    maps = pd.concat([maps, extra], ignore_index=True)
    t = tables.sweep_table(maps, "a")
    assert list(t.columns) == ["0°", "15°", "45°", "90°"] and list(t.index) == [*lv_claims.CONV, *lv_claims.FC]
    s = tables.sweep_means(maps, "a").set_index(["layer", "angle"])["mean"]
    assert s[("conv1", 0.0)] == pytest.approx(0.3 + 0.002 / 3)  # the original error, mean over seeds
    assert s[("conv1", 15.0)] == pytest.approx(s[("conv1", 45.0)] - 0.1)
    assert "rot15" not in set(tables.maps_table(maps, "a").index.get_level_values("g"))


def test_resnet_taps_grids_and_tail():
    """The ResN50 analogue: each tap's tail reproduces the net; stride-2 blocks (3×3 / 2 / 1 and the 1×1 / 2
    shortcut) put output pixel i on input pixel 2i, so the grids sit half a stride up-left of the centre."""
    net = lv_resnet.ResNetSmall(lv_resnet.ResNetSpec()).eval()
    x = torch.randn(2, 3, 32, 32)
    sizes = {"conv1": 16, "conv2": 16, "conv3": 8, "conv4": 4, "conv5": 2}
    assert net.taps == tuple(sizes)
    for tap, n in sizes.items():
        h = net.forward_to(tap, x)
        assert h.shape[-2:] == (n, n)
        torch.testing.assert_close(net.forward_from(tap, h), net(x))
        stride = 32 // n
        assert net.tap_grid(tap) == Grid(float(stride), 0.0)
        assert net.tap_grid(tap).misalignment((32, 32), (n, n)) == (-(stride - 1) / 2, -(stride - 1) / 2)
    with pytest.raises(ValueError, match="unknown tap 'fc6'"):
        net.tap_grid("fc6")
    # the grid is the network's: a one-pixel shift of the image by one stride moves conv3 by one site
    shifted = torch.roll(x, shifts=4, dims=-1)
    a, b = net.forward_to("conv3", x), net.forward_to("conv3", shifted)
    torch.testing.assert_close(b[..., 2:-2, 3:-1], a[..., 2:-2, 2:-2], rtol=1e-4, atol=1e-4)


def test_build_net_dispatches_and_names_the_allowed_families_and_archs():
    from eqlab.models.lv_train import build_net

    assert lv_nets.families() == ["anet", "resnet", "vgg"]
    assert isinstance(build_net(NetConfig(family="resnet", arch="resnet"), 8), lv_resnet.ResNetSmall)
    assert isinstance(build_net(NetConfig(), 8), lv_anet.ANetSmall)
    with pytest.raises(ValueError, match=r"unknown family 'alexnet'; families: \['anet', 'resnet', 'vgg'\]"):
        build_net(NetConfig(family="alexnet"), 8)
    with pytest.raises(ValueError, match=r"family 'anet' has no arch 'vgg'; its archs: \['anet', 'cnet'\]"):
        build_net(NetConfig(arch="vgg"), 8)


def _with_resnets(maps, residual: float):
    """``maps`` plus three ResNet seeds whose M_g (m = 3) at conv4–5 sits ``residual`` above their original."""
    import pandas as pd

    rows = []
    for s, eps in enumerate((-0.01, 0.0, 0.012)):
        net = f"resnet_s{s}"
        rows.append(dict(net=net, arch="resnet", label_set="a", layer="", transform="identity", method="original",
                         top1_error=0.3))
        for layer in lv_claims.DEEP:
            for g in lv_claims.TRAINED_FOR:
                rows.append(dict(net=net, arch="resnet", label_set="a", layer=layer, transform=g, method="ridge_m3",
                                 top1_error=0.3 + residual + eps))
    return pd.concat([maps.assign(arch="anet"), pd.DataFrame(rows)], ignore_index=True)


def test_resnet_claim_decides_both_ways():
    from eqlab.report.claims import FAILS, HOLDS, OPEN

    maps = _synthetic_maps(0.32)  # the ANet seeds: M_g 0.5 at conv4–5, original ≈ 0.30: residual ≈ 0.2
    assert lv_claims.claim_resnet_deeper(maps).verdict == OPEN  # no ResNet rows
    assert lv_claims.claim_resnet_deeper(_with_resnets(maps, 0.02)).verdict == HOLDS
    assert lv_claims.claim_resnet_deeper(_with_resnets(maps, 0.4)).verdict == FAILS
    assert lv_claims.claim_resnet_deeper(_with_resnets(maps, 0.2)).verdict == OPEN
    # the ResNet rows stay out of the ANet claims and tables
    with_res = _with_resnets(maps, 0.02)
    assert [c.verdict for c in lv_claims.cnn_claims(with_res) if c.id != "2d"] == \
        [c.verdict for c in lv_claims.cnn_claims(maps) if c.id != "2d"]
    assert tables.maps_table(with_res, "a").equals(tables.maps_table(maps, "a"))


def test_vgg_and_cnet_analogues():
    """Vgg16 analogue: 13 convs in five blocks, centred grids (2×2 / 2 pools on even sizes); CNet: ANet with
    normalisation before pooling (same parameters, same grids, another function)."""
    from eqlab.models.lv_train import build_net

    vgg = build_net(NetConfig(family="vgg", arch="vgg"), 8).eval()
    x = torch.randn(2, 3, 32, 32)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in vgg.modules()) == 13
    for tap, n in {"conv1": 32, "conv2": 16, "conv3": 8, "conv4": 4, "conv5": 2}.items():
        h = vgg.forward_to(tap, x)
        assert h.shape[-2:] == (n, n) and vgg.tap_grid(tap).is_centred((32, 32), (n, n))
        torch.testing.assert_close(vgg.forward_from(tap, h), vgg(x))
    assert vgg.tap_grid("fc6") is None and vgg.forward_to("fc7", x).shape == (2, 128)
    torch.manual_seed(0)
    anet = build_net(NetConfig(arch="anet"), 8).eval()
    cnet = build_net(NetConfig(arch="cnet"), 8).eval()  # family anet
    cnet.load_state_dict(anet.state_dict())
    torch.testing.assert_close(cnet.forward_to("conv1", x), anet.forward_to("conv1", x))
    assert not torch.allclose(cnet.forward_to("conv2", x), anet.forward_to("conv2", x))
    assert cnet.tap_grid("conv3") == anet.tap_grid("conv3")


def test_binary_bootstrap_ci_matches_index_resampling():
    errs = (np.arange(2400) % 3 == 0).astype(float)
    lo, hi = lv.binary_bootstrap_ci(errs, 4000, np.random.default_rng(0))
    lo_i, hi_i = lv.bootstrap_ci(errs, 4000, np.random.default_rng(1))
    assert lo < 1 / 3 < hi and abs(lo - lo_i) < 0.004 and abs(hi - hi_i) < 0.004
    half = 1.96 * np.sqrt(errs.mean() * (1 - errs.mean()) / len(errs))  # the normal approximation
    assert abs((hi - lo) / 2 - half) < 0.002
    with pytest.raises(ValueError, match="0/1"):
        lv.binary_bootstrap_ci(np.array([0.0, 0.5]), 10, np.random.default_rng(0))


def test_masked_residual_counts_only_masked_sites():
    target = torch.ones(2, 3, 4, 4)
    pred = target.clone()
    pred[..., 0, :] += 2.0  # wrong on the first row of sites only
    mask = np.ones((4, 4), bool)
    assert lv.masked_residual(pred, target, mask) == pytest.approx(4.0 * 4 / 16)
    mask[0] = False
    assert lv.masked_residual(pred, target, mask) == 0.0
    assert lv.masked_residual(pred, target, None) == pytest.approx(0.25 * 4.0)


def test_local_response_norm_matches_torch_values_and_gradients():
    x = torch.randn(3, 7, 5, 4, dtype=torch.float64, requires_grad=True)
    ours, ref = lv_anet.LocalResponseNorm(5, 1e-2, 0.75, 2.0), torch.nn.LocalResponseNorm(5, 1e-2, 0.75, 2.0)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    g_ours, = torch.autograd.grad(ours(x).square().sum(), x)
    g_ref, = torch.autograd.grad(ref(x).square().sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)
    even = torch.nn.LocalResponseNorm(4, 1e-2, 0.75, 2.0)  # an even window: one more channel below than above
    torch.testing.assert_close(lv_anet.LocalResponseNorm(4, 1e-2, 0.75, 2.0)(x), even(x), rtol=1e-12, atol=1e-12)
