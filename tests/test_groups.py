import math

import pytest
import torch
from torch import nn

from conftest import assert_close, symmetrise
from eqlab.groups import (
    GROUPS,
    circular_mask,
    flip,
    get_transform,
    group_elements,
    group_pool,
    rescale,
    rot90,
    rotate,
)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(3, 2, 12, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_rot90_matches_torch_convention_counter_clockwise():
    img = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    # the top-right element moves to the top-left: a counter-clockwise quarter turn
    assert rot90(img, 1).reshape(-1).tolist() == [2.0, 4.0, 1.0, 3.0]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotate_by_quarter_turns_equals_rot90(x, k):
    assert_close(rotate(x, k * math.pi / 2), rot90(x, k), 1e-9)


def test_rotate_by_zero_is_identity(x):
    assert_close(rotate(x, 0.0), x, 1e-12)


def test_rotate_per_sample_angles(x):
    angles = torch.tensor([0.0, math.pi / 2, math.pi], dtype=torch.float64)
    out = rotate(x, angles)
    for i, k in enumerate([0, 1, 2]):
        assert_close(out[i : i + 1], rot90(x[i : i + 1], k), 1e-9)


def test_rotate_there_and_back_inside_the_disk():
    # a smooth image survives ±30° up to interpolation error inside the inscribed disk
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32, dtype=torch.float64),
                            torch.linspace(-1, 1, 32, dtype=torch.float64), indexing="ij")
    img = torch.exp(-((xx - 0.2) ** 2 + (yy + 0.1) ** 2) * 4).view(1, 1, 32, 32)
    back = rotate(rotate(img, 0.5), -0.5)
    m = circular_mask(32, 32) & (torch.hypot(xx, yy) < 0.8)
    assert (back - img)[0, 0][m].abs().max() < 0.02


@pytest.mark.parametrize("name", ["rot90", "rot180", "rot270", "hflip", "vflip", "identity", "rot45", "rot-30"])
def test_inverse_undoes_transform(x, name):
    g = get_transform(name)
    back = g.inverse().apply(g.apply(x))
    if g.exact:
        assert torch.equal(back, x)
    else:
        assert g.inverse().name != g.name
        m = circular_mask(12, 12)
        assert (back - x)[..., m].abs().mean() < 0.2  # interpolated, coarse grid


def test_d4_relations(x):
    r = lambda t, k: rot90(t, k)  # noqa: E731
    assert torch.equal(r(r(x, 1), 1), r(x, 2))
    assert torch.equal(r(x, 4), x)
    assert torch.equal(flip(flip(x, "h"), "h"), x)
    # a mirror conjugates a rotation into its inverse: h ∘ r = r⁻¹ ∘ h
    assert torch.equal(flip(r(x, 1), "h"), r(flip(x, "h"), 3))
    assert torch.equal(flip(x, "v"), r(flip(x, "h"), 2))


def test_transform_names_and_errors():
    assert get_transform("rot360").name == "identity"
    assert get_transform("rot-90").name == "rot270"
    assert get_transform("rot450").name == "rot90"
    assert get_transform("scale0.5").param == 0.5
    with pytest.raises(ValueError, match="allowed: identity, hflip, vflip, transpose, antitranspose, rot<degrees>"):
        get_transform("twist")
    with pytest.raises(ValueError, match="allowed values"):
        group_elements("r5")
    assert [g.name for g in group_elements("r4")] == list(GROUPS["r4"])
    assert len(group_elements("r8")) == 8 and not group_elements("r8")[1].exact


def test_rescale_about_the_centre():
    img = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    img[0, 0, 4, 4] = 1.0
    out = rescale(img, 0.5, "bilinear")
    assert out[0, 0].argmax().item() == 4 * 9 + 4  # the centre stays the centre
    assert_close(rescale(img, 1.0, "bilinear"), img, 1e-12)


def test_group_pool():
    h = torch.arange(16.0).view(1, 8, 1, 2)
    assert group_pool(h, 4).shape == (1, 2, 1, 2)
    assert group_pool(h, 4)[0, :, 0, 0].tolist() == [6.0, 14.0]
    with pytest.raises(ValueError, match="do not split"):
        group_pool(h, 3)


def _layer(stride: int, pool: bool) -> nn.Module:
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=1).double()
    with torch.no_grad():
        conv.weight.copy_(symmetrise(conv.weight))
    return nn.Sequential(conv, *( [nn.MaxPool2d(2)] if pool else []), nn.ELU()).eval()


@pytest.mark.parametrize("size,stride,pool", [(12, 1, True), (9, 2, False), (13, 2, False)])
def test_input_action_equals_feature_action_on_compatible_grids(size, stride, pool):
    """rot90 of the image ↔ rot90 of the map, exactly, for a C4-symmetric layer on a grid where
    every stride/pool window maps onto a window (odd sizes for stride 2, even for 2×2 pools)."""
    layer = _layer(stride, pool)
    x = torch.rand(2, 2, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for name in ("rot90", "rot180", "rot270"):
        g = get_transform(name)
        assert_close(layer(g.apply(x)), g.apply(layer(x)), 1e-12)


def test_incompatible_grid_breaks_exactness():
    # stride 2 on an even size samples a grid that is not centred: the trap IEN.md warns about
    layer = _layer(2, False)
    x = torch.rand(1, 2, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    g = get_transform("rot90")
    assert (layer(g.apply(x)) - g.apply(layer(x))).abs().max() > 1e-3


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a, b)


def test_d4_is_a_group_of_exact_maps():
    """R4R = D4: the eight maps are distinct, closed under composition, each with its inverse inside,
    and the two diagonal mirrors are the quarter turns composed with the horizontal mirror."""
    x = torch.randn(2, 3, 7, 7)
    els = group_elements("r4r")
    assert len(els) == 8 and all(g.exact for g in els)
    images = [g.apply(x) for g in els]
    assert all(not _same(images[i], images[j]) for i in range(8) for j in range(i))
    for a in els:
        for b in els:
            ab = a.apply(b.apply(x))
            assert sum(_same(ab, im) for im in images) == 1, (a.name, b.name)
        assert _same(a.inverse().apply(a.apply(x)), x)
    t, at, h = get_transform("transpose"), get_transform("antitranspose"), get_transform("hflip")
    assert _same(t.apply(x), x.transpose(-2, -1))
    assert _same(at.apply(x), rot90(t.apply(x), 2))
    assert _same(h.apply(rot90(x, 1)), at.apply(x))  # hflip ∘ rot90 = anti-transpose
    assert _same(h.apply(rot90(x, 3)), t.apply(x))
    with pytest.raises(ValueError, match="square grid"):
        flip(torch.zeros(1, 1, 3, 4), "t")


def test_scale_group_and_exact_parts():
    from eqlab.groups import exact_elements

    assert [g.name for g in exact_elements(group_elements("r8"))] == ["identity", "rot90", "rot180", "rot270"]
    assert len(exact_elements(group_elements("r4r"))) == 8
    scale = group_elements("scale")
    assert exact_elements(scale) == scale and [g.kind for g in scale[1:]] == ["scale", "scale"]
    # shrinking then growing back is the identity inside the shrunk region (smooth image, bicubic)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 33, dtype=torch.float64),
                            torch.linspace(-1, 1, 33, dtype=torch.float64), indexing="ij")
    img = torch.exp(-4 * (xx**2 + yy**2)).view(1, 1, 33, 33)
    g = scale[1]
    back = g.inverse().apply(g.apply(img))
    m = g.valid_mask(33, 33) & circular_mask(33, 33)
    assert (back - img)[0, 0][m].abs().max() < 2e-2
