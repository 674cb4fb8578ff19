"""Chance references of the extent probe (eqlab.probes.chance) and the rule that reads them
(eqlab.report.chance): exact toy maps with known answers."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from eqlab.groups import exact_elements, group_elements
from eqlab.metrics.equivariance import measure_equivariance
from eqlab.models.base import Tap, TappedModel
from eqlab.probes.chance import batch_starts, element_masks, measure_with_chance
from eqlab.report.chance import CHANCE_MARGIN, chance_table, describe_chance, layers_at_chance

R4 = exact_elements(group_elements("r4"))


class OneTap(TappedModel):
    """One tap computing ``block(x)`` (group size 1: pooling is the identity)."""

    def __init__(self, block: nn.Module, channels: int = 1) -> None:
        super().__init__()
        self.taps = (Tap("t", channels, 1),)
        self.blocks = nn.ModuleList([block])
        self.head = nn.Flatten()


class Lambda(nn.Module):
    def __init__(self, f) -> None:
        super().__init__()
        self.f = f
        self.w = nn.Parameter(torch.zeros(()))  # measure_* read the device from a parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


def images(n: int = 300, size: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_identity_map_is_exactly_equivariant_and_far_below_both_references():
    r = measure_with_chance(OneTap(Lambda(lambda x: x)), images(), R4)["t"]
    assert r["rel"] == pytest.approx(0, abs=1e-28) and r["rel_var"] == pytest.approx(0, abs=1e-28)
    # i.i.d. noise images: an unrelated image differs by twice the variance; a rotated image by the same
    assert r["rel_var_unrelated"] == pytest.approx(2, rel=0.03)
    assert r["rel_unrelated"] == pytest.approx(2, rel=0.03)
    assert r["rel_invariant"] == pytest.approx(2, rel=0.03)


def test_an_invariant_map_reads_zero_invariant_reference():
    """ĥ = the spatial mean broadcast: invariant to rotations, so ĥ(g·x) = ĥ(x) and both the error and
    the invariant reference are 0, while an unrelated image still differs."""
    model = OneTap(Lambda(lambda x: x.mean((2, 3), keepdim=True).expand_as(x)))
    r = measure_with_chance(model, images(), R4)["t"]
    assert r["rel"] == pytest.approx(0, abs=1e-28) and r["rel_invariant"] == pytest.approx(0, abs=1e-28)
    assert r["rel_unrelated"] > 1


def test_variance_normalisation_does_not_reward_a_constant_offset():
    """ĥ = c + conv(x) with a non-symmetric kernel: the energy normalisation shrinks as c grows (the
    offset adds to ‖ĥ‖² but not to any difference), the variance normalisation does not change."""
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.arange(18, dtype=torch.float64).reshape(2, 1, 3, 3) - 8)
    x = images(64)
    plain = measure_with_chance(OneTap(Lambda(lambda x: conv(x)), 2), x, R4)["t"]
    offset = measure_with_chance(OneTap(Lambda(lambda x: conv(x) + 1000.0), 2), x, R4)["t"]
    assert offset["rel"] < plain["rel"] / 100
    for k in ("rel_var", "rel_var_unrelated", "rel_var_invariant"):
        assert offset[k] == pytest.approx(plain[k], rel=1e-9), k
    assert 0 < plain["rel_var"] < plain["rel_var_unrelated"]


def test_abs_and_rel_match_the_training_metric_exactly():
    conv = nn.Conv2d(1, 3, 3, padding=1).double()
    model = OneTap(nn.Sequential(conv, nn.ReLU()), 3)
    x = images(300)  # 256 + 44: two batches, as the metric batches them
    ours, ref = measure_with_chance(model, x, R4)["t"], measure_equivariance(model, x, R4)["t"]
    assert ours["abs"] == ref["abs"] and ours["rel"] == ref["rel"]


def test_batches_never_leave_a_single_image_alone():
    assert batch_starts(257, 256) == [(0, 257)]
    assert batch_starts(258, 256) == [(0, 256), (256, 258)]
    assert batch_starts(5, 2) == [(0, 2), (2, 5)]
    with pytest.raises(ValueError, match="≥ 2 images"):
        batch_starts(1, 256)


def test_masks_of_a_heterogeneous_layout_follow_the_blocks_that_answer():
    """Blocks (1 group of 4, 2 groups of 2, 1 group of 1): rot90 is answered only by the 4-block;
    rot180 by the 4- and 2-blocks."""
    masks = element_masks(R4, ((1, 4), (2, 2), (1, 1)), 4 + 4 + 1, 5, 5)
    names = [g.name for g in R4[1:]]
    per_channel = masks.sum((2, 3)) / 25
    assert per_channel[names.index("rot90")].tolist() == [1, 0, 0, 0]
    assert per_channel[names.index("rot180")].tolist() == [1, 1, 1, 0]


def _rows(run: str, layer: str, **vals: float) -> list[dict]:
    return [dict(run=run, layer=layer, transform="r4", probe="extent_of_equivariance", metric=k, value=v)
            for k, v in vals.items()]


def test_chance_rule_needs_a_margin_below_the_smaller_reference():
    rows = (_rows("a", "conv1", rel=0.1, rel_unrelated=1.0, rel_invariant=0.5)  # 0.1 < ½·0.5: below
            + _rows("a", "conv2", rel=0.3, rel_unrelated=1.0, rel_invariant=0.5)  # 0.3 ≥ 0.25: at chance
            + _rows("b", "conv1", rel=0.9, rel_unrelated=1.0, rel_invariant=2.0))
    table = chance_table(pd.DataFrame(rows))
    assert CHANCE_MARGIN == 0.5
    assert layers_at_chance(table, "a") == ["conv2"] and layers_at_chance(table, "b") == ["conv1"]
    assert table.set_index(["run", "layer"]).loc[("a", "conv1"), "chance"] == 0.5
    assert describe_chance(table, "a") == "a at chance at conv2"
    assert describe_chance(table, "b").startswith("b at chance at every tap")
    with pytest.raises(ValueError, match="allowed"):
        chance_table(pd.DataFrame(rows), "relative")


def test_every_relative_panel_draws_each_runs_chance_level():
    import matplotlib

    matplotlib.use("Agg")
    from eqlab.report.plots import chance_ratio_by_layer, equivariance_by_layer

    rows = []
    for i, run in enumerate(("a", "b", "c")):
        for layer in ("conv1", "conv2"):
            rows += _rows(run, layer, abs=0.1, rel=0.1 * (i + 1), rel_unrelated=1.0, rel_invariant=0.8,
                          rel_var=0.2, rel_var_unrelated=2.0, rel_var_invariant=1.5)
    results, runs = pd.DataFrame(rows), pd.DataFrame({"run": ["a", "b", "c"]})
    fig = equivariance_by_layer(results, runs)
    assert [ax.get_title() for ax in fig.axes] == ["L_G (absolute MSE, group-pooled)", "relative error",
                                                    "error / across-image variance"]
    for ax, level in zip(fig.axes[1:], (0.8, 1.5), strict=True):
        dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--" and len(ln.get_ydata())]
        assert len(dashed) == 3 and all(list(ln.get_ydata()) == [level, level] for ln in dashed)
    ratio = chance_ratio_by_layer(results, runs)
    assert len(ratio.axes) == 1  # the ratio does not depend on the normalisation: one panel
    assert list(ratio.axes[0].lines[0].get_ydata()) == pytest.approx([0.1 / 0.8] * 2)
    no_refs = results[~results.metric.str.contains("_")]
    assert chance_ratio_by_layer(no_refs, runs) is None and len(equivariance_by_layer(no_refs, runs).axes) == 2


def test_het_taps_are_also_read_as_one_full_c4_layer():
    """Blocks (1 group of 4, 1 group of 1) on a map that is exactly equivariant for the 4-block only
    after pooling: the loss reading (rot90 answered by the 4-block) reads 0; the full reading, in which
    the size-1 block must also commute with rot90, does not."""
    class Het(OneTap):
        def __init__(self) -> None:
            super().__init__(Lambda(lambda x: torch.cat([x.expand(-1, 4, -1, -1), x.roll(1, dims=3)], 1)), 5)
            self.taps = (Tap("t", 5, 4, layout=((1, 4), (1, 1))),)

    r = measure_with_chance(Het(), images(64), R4)["t"]
    assert r["abs"] == pytest.approx(0, abs=1e-28) and r["rel"] == pytest.approx(0, abs=1e-28)
    assert r["rel_full"] > 0.1 and r["abs_full"] > 0.1
    assert "rel_full" not in measure_with_chance(OneTap(Lambda(lambda x: x)), images(8), R4)["t"]


def test_a_trivial_action_makes_the_invariant_reference_uninformative():
    """On a 1×1 tap a rotation acts trivially: ignoring it is exactly equivariant, so the invariant
    reference is 0 and chance falls back to the unrelated-image level (not 0, which nothing can beat)."""
    rows = _rows("a", "conv6", rel=0.1, rel_unrelated=1.0, rel_invariant=0.0)
    table = chance_table(pd.DataFrame(rows))
    assert table.chance.tolist() == [1.0] and table.below.tolist() == [True]
    assert table.invariant_informative.tolist() == [False]
