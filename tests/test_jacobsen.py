"""The Jacobsen thesis (paper 001): Gaussian-derivative bases and RFNN layers, i-RevNet invertibility, the
probe_rfnn / probe_irevnet experiments on tiny sizes, and the claims' interval logic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from eqlab.models.irevnet import IRevNet, ResNet, RevBlock
from eqlab.models.rfnn import RFConv, basis_orders, digit_net, element, gaussian_basis, gaussian_derivative, hermite
from eqlab.papers.jacobsen import claims as jc
from eqlab.papers.jacobsen import tables as jt
from eqlab.params import ParamError
from eqlab.probes import irevnet_probe, rfnn_digits


def test_hermite_closed_forms():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.allclose(hermite(2, x), 4 * x**2 - 2)
    assert torch.allclose(hermite(3, x), 8 * x**3 - 12 * x)
    assert torch.allclose(hermite(4, x), 16 * x**4 - 48 * x**2 + 12)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("sigma", [0.8, 2.0])
def test_hermite_form_matches_finite_differences_of_the_gaussian(m, sigma):
    """G_m = d/dx G_{m−1}: central differences of the order m−1 Hermite form give the order m one."""
    x = torch.linspace(-4 * sigma, 4 * sigma, 41, dtype=torch.float64)
    h = 1e-5
    fd = (gaussian_derivative(m - 1, x + h, sigma) - gaussian_derivative(m - 1, x - h, sigma)) / (2 * h)
    exact = gaussian_derivative(m, x, sigma)
    assert torch.allclose(fd, exact, atol=1e-7 * exact.abs().max(), rtol=0)
    assert not torch.allclose(exact, gaussian_derivative(m - 1, x, sigma))  # the test can fail


@pytest.mark.parametrize("order,sigmas", [(1, [1.0]), (3, [1.0, 2.0]), (4, [1.5])])
def test_basis_shape(order, sigmas):
    phi = gaussian_basis(order, sigmas)
    k = 2 * math.ceil(3 * max(sigmas)) + 1
    assert phi.shape == (len(sigmas) * (order + 1) * (order + 2) // 2, k, k)
    assert len(basis_orders(order)) == (1, 3, 6, 10, 15)[order]
    with pytest.raises(ValueError, match="order"):
        gaussian_basis(5, [1.0])


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_basis_conv_then_1x1_equals_composed_filters(dtype, tol):
    torch.manual_seed(0)
    layer = RFConv(3, 5, 3, [1.0, 2.0]).to(dtype)
    x = torch.randn(2, 3, 20, 20, dtype=dtype)
    layer.form = "composed"
    a = layer(x)
    layer.form = "basis"
    b = layer(x)
    assert a.shape == (2, 5, 20, 20)
    assert (a - b).abs().max() <= tol * a.abs().max()


@pytest.mark.parametrize("theta", [0.3, 1.1, 2.5, -0.7])
def test_first_order_basis_steers(theta):
    """G_x rotated by θ, G_x(R_{−θ} u), is cos θ G_x(u) + sin θ G_y(u)."""
    u = torch.linspace(-4, 4, 17, dtype=torch.float64)
    y, x = torch.meshgrid(u, u, indexing="ij")
    c, s = math.cos(theta), math.sin(theta)
    rotated = element(1, 0, 1.3, c * x + s * y, -s * x + c * y)
    steered = c * element(1, 0, 1.3, x, y) + s * element(0, 1, 1.3, x, y)
    assert torch.allclose(rotated, steered, atol=1e-14)
    assert not torch.allclose(rotated, element(1, 0, 1.3, x, y), atol=1e-3)


def test_free_basis_and_cnn_have_the_same_layers():
    torch.manual_seed(0)
    sig = [[1.0, 1.5], [1.0], [1.0]]
    nets = {k: digit_net(k, 4, 2, sig) for k in ("rfnn", "refactor", "cnn")}
    x = torch.randn(2, 1, 14, 14)
    assert all(n(x).shape == (2, 10) for n in nets.values())
    trainable = {k: sum(p.numel() for p in n.parameters() if p.requires_grad) for k, n in nets.items()}
    assert trainable["rfnn"] < trainable["refactor"] and trainable["rfnn"] < trainable["cnn"]


@pytest.mark.parametrize("injective", [False, True])
def test_irevnet_inverts_random_weights(injective):
    torch.manual_seed(0)
    net = IRevNet(injective=injective).eval()
    x = torch.randn(4, 3, 32, 32)
    z = net.encode(x)
    assert (z.numel() == x.numel()) != injective  # bijective keeps the dimension
    eps32 = irevnet_probe.reconstruction(net, x)[1]
    eps64 = irevnet_probe.reconstruction(net, x.double())[1]
    assert eps32 <= 1e-5 and eps64 <= 1e-12


def test_rev_block_inverse_and_resnet_depth():
    torch.manual_seed(1)
    blk = RevBlock(4, down=True).eval().double()
    a, b = torch.randn(2, 4, 8, 8, dtype=torch.float64), torch.randn(2, 4, 8, 8, dtype=torch.float64)
    ya, yb = blk(a, b)
    assert ya.shape == (2, 16, 4, 4)
    ra, rb = blk.inverse(ya, yb)
    assert torch.allclose(ra, a, atol=1e-13) and torch.allclose(rb, b, atol=1e-13)
    assert len(ResNet().features(torch.randn(1, 3, 32, 32))) == len(IRevNet().blocks)


def test_bijective_jacobian_is_full_rank():
    torch.manual_seed(0)
    s = irevnet_probe.jacobian_spectrum(IRevNet(), torch.rand(3, 8, 8))
    assert s.shape == (192,) and s.min() > 0 and np.all(np.diff(s) <= 0)


def test_stratified_subsets():
    labels = np.repeat(np.arange(10), 20)
    rng = np.random.default_rng(0)
    test = rfnn_digits.stratified(labels, 5, rng, np.arange(200))
    pool = np.setdiff1d(np.arange(200), test)
    tr = rfnn_digits.stratified(labels, 3, rng, pool)
    assert np.all(np.bincount(labels[tr]) == 3) and not set(tr) & set(test)


def test_rfnn_experiment_smoke():
    cfg = rfnn_digits.RfnnConfig(train_sizes=(20,), ablation_size=20, seeds=(0, 1), steps=2, n_test=20,
                                 ablation_orders=(1, 3), single_scale_orders=(3,), channels=2)  # fmt: skip
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 255, (100, 28, 28)).astype(np.uint8), np.repeat(np.arange(10), 10)
    df = rfnn_digits.rfnn_experiment(cfg, images, labels)
    assert list(df.columns) == list(rfnn_digits.COLUMNS)
    assert len(df) == 2 * len(rfnn_digits.run_plan(cfg)) and df.test_acc.between(0, 1).all()
    assert df.equals(rfnn_digits.rfnn_experiment(cfg, images, labels))  # deterministic
    cs = jc.rfnn_claims(df)
    assert [c.id for c in cs][:5] == ["1a", "1b", "1c", "1d", "2"]
    assert all(c.verdict == "not established" for c in cs)  # 2 seeds < MIN_SEEDS


def test_irevnet_experiment_smoke():
    cfg = irevnet_probe.IRevNetConfig(seeds=(0,), steps=1, n_train=2, n_test=2, n_noise=2, jac_size=8,
                                      pca_dims=(2,), photos=("camera", "coffee"))  # fmt: skip
    df, interp = irevnet_probe.irevnet_experiment(cfg)
    assert set(df.check) == {"recon", "jacobian", "block_acc", "pca"}
    assert (df[(df.check == "recon") & (df.dtype == "float32")].value <= 1e-5).all()
    assert set(interp.space) == {"feature", "pixel"} and len(interp) == 2 * cfg.n_interp
    start = interp[(interp.space == "feature") & (interp.t == 0.0)].pixels.iloc[0]
    pix = interp[(interp.space == "pixel") & (interp.t == 0.0)].pixels.iloc[0]
    assert np.allclose(start, pix, atol=1e-5)  # Φ⁻¹Φ(a) = a
    cs = jc.irevnet_claims(df)
    assert [c.id for c in cs][:2] == ["9a", "9b"] and cs[0].verdict == "holds"


def test_bad_params_name_the_key():
    params = {"profile": "small", "probe_rfnn": {"small": {"train_sizes": [15], "ablation_size": 20, "seeds": [0],
                                                           "steps": 1, "n_test": 20}}}  # fmt: skip
    with pytest.raises(ParamError, match="probe_rfnn"):
        rfnn_digits.config_from_params(params)


def test_interval_verdicts():
    assert jt.t_interval([1.0, 1.0, 1.0])[1:3] == (1.0, 1.0)
    m, lo, hi, n = jt.t_interval([0.1, 0.2, 0.3])
    assert n == 3 and lo < m < hi and math.isclose(hi - m, 4.303 * 0.1 / math.sqrt(3), rel_tol=1e-3)
    assert jc.greater("x", "t", np.array([0.1, 0.11, 0.12]), "d").verdict == "holds"
    assert jc.greater("x", "t", np.array([-0.1, -0.11, -0.12]), "d").verdict == "does not hold"
    assert jc.greater("x", "t", np.array([-0.1, 0.1, 0.0]), "d").verdict == "not established"
    tab = pd.DataFrame({"experiment": "fig6", "kind": ["rfnn", "cnn"] * 3, "order": 3, "scales": "multi",
                        "n_train": 100, "seed": [0, 0, 1, 1, 2, 2], "test_acc": [0.6, 0.5, 0.7, 0.5, 0.65, 0.5]})  # fmt: skip
    assert jt.fig6_table(tab).loc[100, "seeds"] == 3
