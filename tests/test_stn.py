"""The alignment extension to Jansson et al.: warps, the oracle, the spatial transformer, the study and its claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from eqlab.models.stn import AlignNet, Localisation, inverse_similarity, similarity, warp
from eqlab.papers.jansson import stn as report
from eqlab.params import ParamError
from eqlab.probes.stn_digits import StnConfig, config_from_params, stn_experiment, variants
from eqlab.report.claims import FAILS, HOLDS, OPEN


def test_quarter_turn_warp_is_rot90_and_the_inverse_undoes_it():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    a = torch.full((2,), math.pi / 2, dtype=torch.float64)
    one = torch.ones(2, dtype=torch.float64)
    turned = warp(x, similarity(a, one))
    assert any(torch.allclose(turned, torch.rot90(x, k, (2, 3)), atol=1e-9) for k in (1, 3))
    torch.testing.assert_close(warp(turned, inverse_similarity(a, one)), x, atol=1e-9, rtol=0)


def test_inverse_similarity_is_the_matrix_inverse():
    a, s = torch.tensor([0.3, -1.2]), torch.tensor([0.7, 1.1])
    m, inv = similarity(a, s), inverse_similarity(a, s)
    prod = m[:, :, :2] @ inv[:, :, :2]
    torch.testing.assert_close(prod, torch.eye(2).expand(2, 2, 2), atol=1e-6, rtol=0)


def test_localisation_starts_at_the_identity_and_the_oracle_is_required():
    loc = Localisation(3)
    theta = loc(torch.randn(4, 3, 7, 7))
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(4, 2, 3))
    net = AlignNet(align="oracle", depth=1)
    with pytest.raises(ValueError, match="oracle"):
        net(torch.randn(1, 1, 28, 28))
    with pytest.raises(ValueError, match=r"allowed values: \['none', 'oracle', 'stn'\]"):
        AlignNet(align="affine")


def test_oracle_at_the_input_makes_the_net_invariant_to_exact_quarter_turns():
    """With the exact inverse at depth 0 the net sees the upright digit, whatever turn was applied."""
    torch.manual_seed(0)
    net = AlignNet(align="oracle", depth=0).double().eval()
    x = torch.randn(3, 1, 28, 28, dtype=torch.float64)
    one = torch.ones(3, dtype=torch.float64)
    a = torch.full((3,), math.pi / 2, dtype=torch.float64)
    upright = net(x, inverse_similarity(0 * a, one))
    torch.testing.assert_close(net(warp(x, similarity(a, one)), inverse_similarity(a, one)), upright, atol=1e-9, rtol=0)


def test_experiment_is_deterministic_and_covers_every_variant():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 10)
    images = (rng.random((100, 28, 28)) * 60).astype(np.uint8)
    cfg = StnConfig(n_train=50, n_test=50, steps=3, seeds=(0,), depths=(0, 2))
    a, b = stn_experiment(cfg, images, labels), stn_experiment(cfg, images, labels)
    pd.testing.assert_frame_equal(a, b)
    assert list(zip(a.variant, a.depth, strict=True)) == variants(cfg) == [
        ("upright", -1), ("none", -1), ("oracle", 0), ("stn", 0), ("oracle", 2), ("stn", 2)]
    assert (a[a.variant == "stn"].n_params > a[a.variant == "none"].n_params.iloc[0]).all()


def test_config_names_the_bad_key():
    sizes = {"n_train": 20, "seeds": [0], "steps": 1, "n_test": 20}
    with pytest.raises(ParamError, match=r"probe_stn.*depths"):
        config_from_params({"profile": "small", "probe_stn": {"depths": [0, 3], "small": sizes}})
    with pytest.raises(ParamError, match=r"probe_stn.*scale_min"):
        config_from_params({"profile": "small", "probe_stn": {"scale_min": 1.5, "small": sizes}})


def _df(oracle_drop, stn_gain, seeds=(0, 1, 2)):
    rows = []
    for s in seeds:
        j = 0.004 * s
        rows += [("upright", -1, s, 0.92 + j), ("none", -1, s, 0.58 + j), ("oracle", 0, s, 0.92 + 2 * j),
                 ("oracle", 2, s, 0.92 - oracle_drop + j), ("stn", 0, s, 0.58 + stn_gain + 2 * j),
                 ("stn", 2, s, 0.58 + j / 2)]
    df = pd.DataFrame(rows, columns=["variant", "depth", "seed", "test_acc"])
    df["n_params"], df["n_train"], df["steps"] = 100, 10, 5
    return df


def test_claims_follow_the_intervals():
    v = {c.id: c.verdict for c in report.claims(_df(0.2, 0.05))}
    assert v == {"X1": HOLDS, "X2-2": HOLDS, "X3-0": HOLDS, "X3-2": OPEN, "X4": HOLDS}
    v = {c.id: c.verdict for c in report.claims(_df(-0.05, -0.05))}
    assert v["X2-2"] == FAILS and v["X3-0"] == FAILS and v["X4"] == FAILS
    assert all(c.verdict == OPEN for c in report.claims(_df(0.2, 0.05, seeds=(0, 1))))
    t = report.table(_df(0.2, 0.05))
    assert t.loc[("oracle inverse warp", 2), "seeds"] == 3
