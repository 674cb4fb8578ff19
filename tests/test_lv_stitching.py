"""Lenc & Vedaldi's stitching (eqlab.probes.lv_stitching, claim 6 in eqlab.papers.lenc_vedaldi.stitching):
a net stitched to a channel-permuted copy of itself through the permutation is the net; the identity E
on a self-stitch is the net; training E lowers the task loss; resampling and pair lists; the claims
decide both ways."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from eqlab.models.lv_anet import ANetSmall, ANetSpec
from eqlab.papers.lenc_vedaldi import stitching
from eqlab.probes.lv_stitching import (
    Pair,
    StitchConfig,
    features,
    frozen,
    pairs,
    resample,
    stitch_layer,
    stitch_pair,
    train_stitch,
)
from eqlab.report.claims import FAILS, HOLDS, OPEN


def _net(seed: int) -> ANetSmall:
    torch.manual_seed(seed)
    return frozen(ANetSmall(ANetSpec(n_classes=4)))


def _permuted_copy(net: ANetSmall, tap: str, perm: torch.Tensor) -> ANetSmall:
    """The same function with the channels of ``tap`` permuted: conv rows, bias and the next conv's columns."""
    twin = _net(0)
    twin.load_state_dict(net.state_dict())
    i = twin.tap_index(tap)
    conv = twin.stages[i] if i == 0 else twin.stages[i][-1]
    nxt = twin.stages[i + 1][-1]
    with torch.no_grad():
        conv.weight.copy_(conv.weight[perm])
        conv.bias.copy_(conv.bias[perm])
        nxt.weight.copy_(nxt.weight[:, perm])
    return twin


def test_stitching_through_the_permutation_is_the_net_itself():
    net, x = _net(1), torch.randn(6, 3, 32, 32)
    c = net.forward_to("conv3", x).shape[1]
    perm = torch.randperm(c, generator=torch.Generator().manual_seed(0))
    twin = _permuted_copy(net, "conv3", perm)
    torch.testing.assert_close(twin(x), net(x), rtol=1e-5, atol=1e-5)  # B is A, re-coded
    e = stitch_layer(c, c, 0)
    with torch.no_grad():
        e.weight.copy_(torch.eye(c)[perm].view(c, c, 1, 1))  # E = P: A's channel order into B's
    stitched = twin.forward_from("conv3", e(net.forward_to("conv3", x)))
    torch.testing.assert_close(stitched, net(x), rtol=1e-5, atol=1e-5)
    # E = I does not line the channels up: the next layer (conv4) sees other features than the net's
    nxt = twin.stages[twin.tap_index("conv4")]
    h = net.forward_to("conv3", x)
    wrong_order, right = nxt(h), net.forward_to("conv4", x)
    assert (wrong_order - right).norm() > 0.3 * right.norm()
    torch.testing.assert_close(nxt(e(h)), right, rtol=1e-5, atol=1e-5)


def test_self_stitch_references_and_training():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 32, 32, generator=gen)
    net = _net(2)
    with torch.no_grad():  # a random net's logits barely differ: sharpen them so that labels carry a loss
        net.stages[-1][-1].weight.mul_(300.0)
    y = net(x).argmax(1)  # labels the net gets right: its error is 0
    y_te = y.clone()
    y_te[:12] = (y_te[:12] + 1) % 4  # a known error on the test images: 12 / 96
    cfg = StitchConfig(seeds=(0, 1), epochs=2, batch_size=16, lr=5e-3, fit_images=64)
    rows = pd.DataFrame(stitch_pair(Pair("layers", "n", "conv2", "n", "conv2"), {"n": net},
                                    {"n": (x, y, x, y_te)}, cfg))
    base = rows[rows.method == "baseline"].top1_error.item()
    assert base == pytest.approx(12 / 96)
    assert rows[rows.method == "identity"].top1_error.item() == base  # E = I on the same layer: the net
    assert set(rows.size_a) == {7} and set(rows.n_train) == {64} and set(rows.seed[rows.method == "stitched"]) == {0, 1}
    # training E lowers the task loss through the frozen tail (from its Xavier start)
    h = features(net, "conv2", x[:64])
    e = stitch_layer(h.shape[1], h.shape[1], 0)

    def tail(z):
        return net.forward_from("conv2", z)

    before = float(F.cross_entropy(tail(e(h)), y[:64]))
    train_stitch(h, y[:64], tail, e, StitchConfig(epochs=5, batch_size=16, lr=5e-3), 0)
    after = float(F.cross_entropy(tail(e(h)), y[:64]))
    assert after < 0.7 * before
    assert not any(p.requires_grad for p in net.parameters())  # the tail stayed frozen


def test_resample_shrinks_nearest_and_enlarges_bilinear():
    h = torch.arange(16.0).view(1, 1, 4, 4)
    assert resample(h, (4, 4)) is h
    assert torch.equal(resample(h, (2, 2)), h[..., ::2, ::2])  # nearest: every other site
    up = resample(torch.ones(1, 2, 3, 3), (7, 7))
    assert up.shape == (1, 2, 7, 7) and torch.allclose(up, torch.ones_like(up))


def test_pairs_cover_every_layer_pair_and_each_other_net():
    cfg = StitchConfig(base="a", layers=("conv1", "conv3"))
    got = pairs(cfg, ["a", "b", "c"])
    assert [(p.tap_a, p.tap_b) for p in got if p.kind == "layers"] == list(itertools.product(("conv1", "conv3"), repeat=2))
    assert {(p.net_b, p.tap_b) for p in got if p.kind == "nets"} == {(n, t) for n in "bc" for t in ("conv1", "conv3")}
    mixed = pairs(cfg, ["a", "b", "c", "d", "e"], {"a": "anet", "b": "anet", "c": "resnet", "d": "resnet", "e": "vgg"})
    assert {p.net_b for p in mixed if p.kind == "nets"} == {"b"}
    assert {p.net_b for p in mixed if p.kind == "archs"} == {"c", "d", "e"}
    into = [(p.net_a, p.tap_a, p.net_b, p.tap_b) for p in mixed if p.kind == "archs_into"]  # one net per architecture
    assert into == [(n, t, "a", t) for n in ("c", "e") for t in ("conv1", "conv3")]
    with pytest.raises(ValueError, match="unknown net 'z'"):
        pairs(StitchConfig(base="z"), ["a"])
    with pytest.raises(ValueError, match="not conv taps"):
        pairs(StitchConfig(base="a", layers=("fc6",)), ["a"])


# ------------------------------------------------------------------------------------------ claims


SIZES = {"conv1": 16, "conv2": 7, "conv3": 3, "conv4": 3}


def _table(gap, base: float = 0.4, nets_gap=None) -> pd.DataFrame:
    """A synthetic stitching table: stitched error = base + gap(tap_a, tap_b, seed)."""
    rows = []
    taps = list(SIZES)
    for a, b in itertools.product(taps, repeat=2):
        for s in range(3):
            rows.append(dict(kind="layers", net_a="n", tap_a=a, net_b="n", tap_b=b, size_a=SIZES[a], size_b=SIZES[b],
                             method="stitched", seed=s, top1_error=base + gap(a, b, s)))
        rows.append(dict(kind="layers", net_a="n", tap_a=a, net_b="n", tap_b=b, size_a=SIZES[a], size_b=SIZES[b],
                         method="baseline", seed=-1, top1_error=base))
    for t in taps:
        for s in range(3):
            rows.append(dict(kind="nets", net_a="n", tap_a=t, net_b="m", tap_b=t, size_a=SIZES[t], size_b=SIZES[t],
                             method="stitched", seed=s, top1_error=0.3 + (nets_gap or (lambda t, s: 0.0))(t, s)))
        rows.append(dict(kind="nets", net_a="n", tap_a=t, net_b="m", tap_b=t, size_a=SIZES[t], size_b=SIZES[t],
                         method="baseline", seed=-1, top1_error=0.3))
    return pd.DataFrame(rows).assign(n_train=400, steps=75)


def _verdicts(df: pd.DataFrame) -> dict[str, str]:
    return {c.id: c.verdict for c in stitching.claims(df)}


def test_stitching_claims_hold_on_the_papers_pattern_and_fail_on_its_opposite():
    depth = {t: i for i, t in enumerate(SIZES)}
    jitter = [0.001, -0.002, 0.0015]

    def paper(a, b, s):  # self ≈ 0, deep→shallow ≈ 0, shallow→deep costs, more across a resolution change
        skip = max(0, depth[b] - depth[a])
        return 0.1 * skip + (0.1 if skip and SIZES[a] != SIZES[b] else 0) + jitter[s]

    got = _verdicts(_table(paper, nets_gap=lambda t, s: 0.05 * depth[t] + jitter[s]))
    assert all(got[k] == HOLDS for k in ("6a", "6b", "6c", "6d", "6e")), got

    def opposite(a, b, s):  # every stitch costs 20 points, deep→shallow more than shallow→deep
        return 0.2 + 0.1 * max(0, depth[a] - depth[b]) + jitter[s]

    got = _verdicts(_table(opposite, nets_gap=lambda t, s: 0.3 - 0.1 * depth[t] + jitter[s]))
    assert got["6a"] == FAILS and got["6b"] == FAILS and got["6c"] == FAILS and got["6e"] == FAILS
    # the report says where the self-stitches depart from the paper, with the numbers
    text = stitching.departure(_table(opposite))
    assert "Departure from the paper" in text and "+20.0 points at conv1" in text and "75 Adam steps on 400" in text
    assert "within 5 points" in stitching.departure(_table(paper))


def test_stitching_claims_are_open_without_a_table_or_with_one_seed():
    assert [(c.id, c.verdict) for c in stitching.claims(None)] == [("6", OPEN)]
    one = _table(lambda a, b, s: 0.0)
    one = one[(one.seed <= 0)]
    got = stitching.claims(one)
    assert all(c.verdict == OPEN for c in got if c.id in ("6a", "6b", "6c", "6e"))
    assert np.isfinite(stitching.baseline(one, "n"))


def test_the_fit_subset_keeps_every_class_of_a_class_sorted_split():
    from eqlab.probes.subsets import spread

    y = torch.arange(8).repeat_interleave(100)  # sorted by class, as lv_data stores a split
    x = torch.arange(800.0)
    xs, ys = spread(x, y, 400)
    assert len(ys) == 400 and torch.bincount(ys).tolist() == [50] * 8
    assert torch.equal(xs, x[torch.linspace(0, 799, 400).round().long()])
    assert spread(x, y, 900)[1] is y


def test_tables_7_9_both_directions_and_table_8_prose():
    """Into another architecture (rows: the receiving net) and from one into the base (rows: the sending
    net, the base alone beside it); Table 8's prose is set beside the stitch it describes, computed."""
    rows = []
    for kind, a, b, alone in (("archs", "anet", "vgg", 0.5), ("archs_into", "vgg", "anet", 0.42)):
        for s in range(3):
            rows.append(dict(kind=kind, net_a=a, tap_a="conv5", net_b=b, tap_b="conv5", method="stitched", seed=s,
                             top1_error=0.6 + 0.01 * s))
        rows.append(dict(kind=kind, net_a=a, tap_a="conv5", net_b=b, tap_b="conv5", method="baseline", seed=-1,
                         top1_error=alone))
    df = pd.DataFrame(rows)
    out = stitching.table5(df, "archs")
    assert list(out.index) == [("vgg", "conv5")] and out.iloc[0]["net alone"] == "50.0"
    back = stitching.table5(df, "archs_into")
    assert list(back.index) == [("vgg", "conv5")] and back.index.names == ["from net", "layer"]
    assert back.iloc[0]["receiving net alone"] == "42.0" and back.iloc[0]["stitched"] == "61.0 ± 1.0"
    text = stitching.table8_prose(df, "vgg")
    assert "34.9 %" in text and "vgg up to conv5 into anet's tail 61.0 ± 1.0 %, anet alone 42.0 %" in text
    assert "No stitch from resnet" in stitching.table8_prose(df, "resnet")
