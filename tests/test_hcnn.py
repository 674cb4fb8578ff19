"""The hierarchical attribute CNN (Jacobsen ch. 5): the factorised layer, translation along attributes, the
matched baselines, the digit study and its claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from eqlab.models.counting import n_params
from eqlab.models.hcnn import HCNN, AttributeLayer, cnn_width_for, vanilla_cnn
from eqlab.papers.jacobsen import hcnn as report
from eqlab.params import ParamError
from eqlab.probes.hcnn_digits import HcnnConfig, config_from_params, hcnn_experiment, networks
from eqlab.report.claims import FAILS, HOLDS, OPEN


def _layer(padding="zeros", stride=1, q=3, k=4):
    torch.manual_seed(0)
    layer = AttributeLayer(q, k, (3, 5), stride, padding).double().eval()
    layer.bn.running_mean.normal_()
    layer.bn.running_var.uniform_(0.5, 2.0)
    return layer


@pytest.mark.parametrize("stride", [1, 2])
def test_layer_is_the_separable_filter_sum_of_eq_37(stride):
    """x_j = ρ(Σ_q BN(Σ_{v_{j−3}} x_{j−1} ⋆ h_q) ⋆ g_{v_j,q}), computed here with plain convolutions."""
    layer = _layer(stride=stride)
    x = torch.randn(2, 2, 4, 6, 9, 9, dtype=torch.float64)
    z = x.sum(1)
    n, b, c, h, w = z.shape
    zh = F.conv2d(z.reshape(n * b * c, 1, h, w), layer.h.weight, stride=stride, padding=1)
    q, h2, w2 = zh.shape[1:]
    zh = zh.reshape(n, b, c, q, h2, w2)
    bn = layer.bn
    zh = (zh - bn.running_mean.view(1, 1, 1, q, 1, 1)) / torch.sqrt(bn.running_var.view(1, 1, 1, q, 1, 1) + bn.eps)
    zh = zh * bn.weight.view(1, 1, 1, q, 1, 1) + bn.bias.view(1, 1, 1, q, 1, 1)
    zg = F.conv2d(zh.permute(0, 4, 5, 3, 1, 2).reshape(n * h2 * w2, q, b, c), layer.g.weight, layer.g.bias,
                  stride=2, padding=(1, 2))
    k, b2, c2 = zg.shape[1:]
    want = F.relu(zg.reshape(n, h2, w2, k, b2, c2).permute(0, 4, 5, 3, 1, 2))
    torch.testing.assert_close(layer(x), want)


def test_marginal_makes_the_layer_invariant_to_the_oldest_attribute():
    layer = _layer()
    x = torch.randn(2, 3, 4, 6, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(layer(torch.roll(x, 1, dims=1)), layer(x))


def test_circular_layer_is_covariant_to_translations_along_the_attributes():
    layer = _layer("circular")
    x = torch.randn(2, 2, 4, 8, 8, 8, dtype=torch.float64)
    y = layer(x)  # (N, 2, 4, K, H, W)
    torch.testing.assert_close(layer(torch.roll(x, 2, dims=2)), torch.roll(y, 1, dims=1))  # v_{j−2}
    torch.testing.assert_close(layer(torch.roll(x, 4, dims=3)), torch.roll(y, 2, dims=2))  # v_{j−1}


def test_class_scores_are_invariant_to_attribute_translations_of_an_inner_layer():
    """Proposition 5.3.1 with circular attribute padding: translating x_j along its attributes leaves x_J."""
    torch.manual_seed(1)
    net = HCNN(8, 3, (1, 1, 1, 1, 1), padding="circular").double().eval()
    xs = net.attributes(torch.randn(2, 1, 10, 10, dtype=torch.float64))
    x3 = xs[2]  # (N, 2, 4, 8, H, W)

    def tail(z):
        for layer in net.layers[2:]:
            z = layer(z)
        return z.mean(dim=(1, 2, 4, 5))

    base = tail(x3)
    for dims, shift in (((2,), 2), ((3,), 4), ((1,), 1)):  # multiples of the attribute strides below
        torch.testing.assert_close(tail(torch.roll(x3, shift, dims=dims)), base)


def test_shapes_parameters_and_the_matched_cnns():
    net = HCNN(8, 4)
    xs = net.attributes(torch.randn(3, 1, 14, 14))
    assert [tuple(t.shape[1:4]) for t in xs] == [(1, 1, 8), (1, 4, 8), (2, 4, 8), (2, 4, 8), (2, 4, 10)]
    assert net(torch.randn(3, 1, 14, 14)).shape == (3, 10)
    target = 10 * n_params(net)
    w = cnn_width_for(target, (1, 2, 1, 2, 1))
    assert n_params(vanilla_cnn(w)) >= target > n_params(vanilla_cnn(w - 1))
    nets = networks(HcnnConfig(q_values=(2, 4), q=4, cnn_ratios=(1.0, 10.0)))
    assert [(m, q, r) for m, q, _, r, _ in nets] == [("hcnn", 2, 0.0), ("hcnn", 4, 0.0), ("cnn", 0, 1.0), ("cnn", 0, 10.0)]
    assert 10 <= n_params(nets[-1][-1]) / n_params(nets[1][-1]) < 11


def test_bad_configs_name_the_key():
    with pytest.raises(ValueError, match="allowed values"):
        AttributeLayer(2, 4, padding="reflect")
    params = {"profile": "small", "probe_hcnn": {"q": 3, "small": {"n_train": 20, "seeds": [0], "steps": 1, "n_test": 20}}}
    with pytest.raises(ParamError, match=r"probe_hcnn.*q=3"):
        config_from_params(params)
    params["probe_hcnn"] = {"k": 6, "small": params["probe_hcnn"]["small"]}
    with pytest.raises(ParamError, match="multiple of 4"):
        config_from_params(params)


def test_experiment_rows_are_deterministic():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 12)
    images = (rng.random((120, 28, 28)) * 255).astype(np.uint8)
    images[np.arange(120), labels * 2, :] = 255  # a learnable cue: a bright row per class
    cfg = HcnnConfig(q_values=(2, 4), q=4, n_train=60, n_test=50, steps=30, seeds=(0,))
    a, b = hcnn_experiment(cfg, images, labels), hcnn_experiment(cfg, images, labels)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 4 and (a[a.model == "cnn"].test_acc > 0.3).all()


def _df(gap, dq, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        j = 0.003 * s
        rows += [("hcnn", 8, 2, 0, 0.0, 1000, 100, s, 0.85 + j, 10), ("hcnn", 8, 8, 0, 0.0, 4000, 100, s, 0.85 + dq + 2 * j, 10),
                 ("cnn", 8, 0, 11, 1.0, 4100, 100, s, 0.9, 10), ("cnn", 8, 0, 36, 10.0, 41000, 100, s, 0.85 + dq - gap + j, 10)]
    return pd.DataFrame(rows, columns=["model", "k", "q", "width", "ratio", "n_params", "n_train", "seed", "test_acc", "steps"])


def test_claims_follow_the_intervals():
    assert {c.id: c.verdict for c in report.claims(_df(0.0, 0.03))} == {"H1": HOLDS, "H2": HOLDS}
    assert {c.id: c.verdict for c in report.claims(_df(-0.06, -0.03))} == {"H1": FAILS, "H2": FAILS}
    assert {c.id: c.verdict for c in report.claims(_df(0.0, 0.03, seeds=(0, 1)))} == {"H1": OPEN, "H2": OPEN}
    assert report.main_q(_df(0.0, 0.03)) == 8
    pub = pd.DataFrame({"table": ["7", "7"], "row": list(report.PUBLISHED_PAIR), "value": [91.43, 92.75]})
    t = report.table(_df(0.0, 0.03), pub)
    assert t.loc["HCNN, Q = 8", "published acc (%)"] == 91.43
    assert t.loc["vanilla CNN, 10× the HCNN's parameters", "published acc (%)"] == 92.75
    assert "−1.3 points" in report.departure(_df(0.0, 0.03))
