import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import SymmetricNet
from eqlab.features.extract import tap_outputs
from eqlab.groups import get_transform
from eqlab.probes.lenc_vedaldi import Features, LVConfig, lv_layer, mistakes, residual
from eqlab.probes.ridge import apply_1x1, fit_ridge, pixels


def test_ridge_recovers_a_known_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 6))
    a_true, b_true = rng.normal(size=(4, 6)), rng.normal(size=4)
    y = x @ a_true.T + b_true
    a, b = fit_ridge(x, y, 0.0)
    np.testing.assert_allclose(a, a_true, atol=1e-10)
    np.testing.assert_allclose(b, b_true, atol=1e-10)
    a, b = fit_ridge(x, y + 0.01 * rng.normal(size=y.shape), 1e-6)
    np.testing.assert_allclose(a, a_true, atol=1e-2)


def test_ridge_shrinks_with_lambda():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(200, 5)), rng.normal(size=(200, 2))
    norms = [np.linalg.norm(fit_ridge(x, y, lam)[0]) for lam in (0.0, 0.1, 10.0)]
    assert norms[0] > norms[1] > norms[2]


def test_apply_1x1_matches_conv2d():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5, 4, 4)).astype(np.float32)
    a, b = rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=7).astype(np.float32)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(a).view(7, 5, 1, 1), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(apply_1x1(x, a, b), ref, atol=1e-5)


def test_pixels_rows_and_mask():
    x = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    rows = pixels(x)
    assert rows.shape == (8, 3) and rows[1].tolist() == [1, 5, 9]
    mask = np.array([[True, False], [False, True]])
    assert pixels(x, mask).shape == (4, 3)


@pytest.mark.parametrize("name", ["rot90", "rot180", "hflip", "vflip"])
def test_lv_maps_on_an_exactly_equivariant_net(name):
    """For a D4-symmetric net φ(g·x) = g·φ(x): P_g alone restores φ(x) exactly and the tail's
    error equals the original; the learned maps stay there. This pins the direction of g."""
    net = SymmetricNet().eval()
    g = get_transform(name)
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = net(x).argmax(1).numpy()  # the net's own predictions: original error 0
    phi_x = tap_outputs(net, x)
    phi_gx = tap_outputs(net, g.apply(x))
    fit, ev = np.arange(20), np.arange(20, 40)
    cfg = LVConfig(ridge_lambda=1e-6, task_epochs=2)
    for i, layer in enumerate(("conv1", "conv2")):
        rows = lv_layer(net, layer, g, Features(phi_x[i][fit], phi_gx[i][fit], labels[fit]),
                        Features(phi_x[i][ev], phi_gx[i][ev], labels[ev]), cfg)
        val = {(r["probe"], r["metric"]): r["value"] for r in rows}
        assert val[("eval", "n_images")] == 20 and val[("fit", "n_images")] == 20
        assert val[("p_only", "residual_l2")] < 1e-12
        assert val[("ridge", "residual_l2")] < 1e-6
        assert val[("original", "top1_error")] == 0.0
        assert val[("p_only", "top1_error")] == 0.0
        # the discordant pairs against no map: P_g is never wrong, so it is right wherever φ(g·x) is wrong
        assert val[("p_only", "wrong_where_none_right")] == 0
        assert val[("p_only", "right_where_none_wrong")] == round(20 * val[("none", "top1_error")])
        assert val[("none", "residual_l2")] > 1e-3  # without P_g the maps do not line up
        # the stage scores φ(x) once per layer and passes its mistakes: the same rows
        wrong = mistakes(net, i, phi_x[i][ev], labels[ev])
        assert lv_layer(net, layer, g, Features(phi_x[i][fit], phi_gx[i][fit], labels[fit]),
                        Features(phi_x[i][ev], phi_gx[i][ev], labels[ev]), cfg, original=wrong) == rows


def test_residual_is_normalised():
    t = np.ones((1, 1, 2, 2))
    assert residual(t, t, np.ones((2, 2), bool)) == 0.0
    assert residual(2 * t, t, np.ones((2, 2), bool)) == pytest.approx(1.0)


def test_residual_matches_a_float64_reference_inside_the_mask():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(2, 50, 8, 9, 9)).astype(np.float32)
    mask = rng.random((9, 9)) > 0.3
    p, t = pred.astype(np.float64)[..., mask], target.astype(np.float64)[..., mask]
    assert residual(pred, target, mask) == pytest.approx(((p - t) ** 2).sum() / (t**2).sum(), rel=1e-7)  # float32 products
    pred[..., ~mask] = 1e6  # outside the mask: ignored
    assert residual(pred, target, mask) == pytest.approx(((p - t) ** 2).sum() / (t**2).sum(), rel=1e-7)  # float32 products


def test_task_map_trains_through_an_e2cnn_tail(tmp_path):
    """e2cnn caches expanded filters on eval(); the frozen tail must still be differentiable w.r.t. F."""
    from eqlab.io import write_json
    from eqlab.models import build_model, load_trained
    from eqlab.probes.lenc_vedaldi import train_task_map

    torch.manual_seed(0)
    model = build_model("rotmnist6", "e2cnn", width=0.125, group="r4")
    d = tmp_path / "m"
    d.mkdir()
    torch.save(model.state_dict(), d / "model.pt")
    write_json(d / "config.json", {"arch": "rotmnist6", "family": "e2cnn", "kwargs": {"width": 0.125, "group": "r4"}})
    model = load_trained(d)
    h = tap_outputs(model, torch.rand(6, 1, 28, 28))[3]
    a, b = train_task_map(model, 3, h, np.arange(6) % 10, LVConfig(task_epochs=2, task_batch_size=3))
    assert a.shape == (h.shape[1], h.shape[1]) and np.isfinite(a).all()
