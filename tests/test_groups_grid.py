"""P_g on feature grids: today's action on centred grids, a documented translation on uncentred ones."""

import pytest
import torch
from torch import nn

from conftest import assert_close, symmetrise
from eqlab.groups import TRIVIAL, Grid, act_on_features, get_transform

QUARTER_TURNS = ("rot90", "rot180", "rot270")


def _conv(stride: int) -> nn.Module:
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=1, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(symmetrise(conv.weight))
    return conv.eval()


def _smooth(n: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.linspace(-1, 1, n, dtype=torch.float64), torch.linspace(-1, 1, n, dtype=torch.float64), indexing="ij"
    )
    img = torch.exp(-3 * ((xx - 0.15) ** 2 + (yy + 0.1) ** 2)) + 0.3 * torch.sin(2 * xx + yy)
    return img.view(1, 1, n, n).repeat(1, 2, 1, 1)


def test_grid_geometry():
    assert Grid.conv(3, 2, 1) == Grid(2.0, 0.0)
    assert Grid.conv(2, 2) == Grid.centred(12, 6) == Grid(2.0, 0.5)  # a 2×2 pool
    assert Grid.conv(3, 1, 1).then(Grid.conv(2, 2)).then(Grid.conv(3, 2, 1)) == Grid(4.0, 0.5)
    assert Grid.conv(11, 4, 0).is_centred((227, 227), (55, 55))  # AlexNet conv1 as in the paper
    assert Grid.conv(11, 4, 2).misalignment((224, 224), (55, 55)) == (-0.5, -0.5)  # torchvision's
    with pytest.raises(ValueError, match="≥ 1"):
        Grid.conv(3, 0)


def test_stride2_conv_on_a_centred_grid_commutes_with_quarter_turns():
    conv = _conv(2)
    x = torch.randn(2, 2, 9, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    grid = Grid.conv(3, 2, 1)
    assert grid.is_centred((9, 9), (5, 5))
    for name in QUARTER_TURNS:
        g = get_transform(name)
        assert grid.transform(g, (9, 9), (5, 5)) is g  # today's action
        assert_close(conv(g.apply(x)), act_on_features(conv(x), g, TRIVIAL, grid, (9, 9)), 1e-12)


def test_uncentred_grid_with_a_whole_pixel_offset_is_an_exact_shifted_turn():
    """A crop that is not centred (feature pixel i is image pixel i, 8 of 10): P_g is g followed by
    an integer shift, exact on the overlap; plain g is not."""
    x = torch.randn(1, 2, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    crop = lambda v: v[..., :8, :8]  # noqa: E731
    grid = Grid(1.0, 0.0)
    assert grid.misalignment((10, 10), (8, 8)) == (-1.0, -1.0)
    for name in QUARTER_TURNS:
        g = get_transform(name)
        p = grid.transform(g, (10, 10), (8, 8), require_exact=True)
        assert p.exact and p != g and p.matrix[:4] == g.matrix[:4]
        m = p.valid_mask(8, 8)
        assert m.sum() >= 36
        ours = act_on_features(crop(x), g, TRIVIAL, grid, (10, 10))
        assert torch.equal(ours[..., m], crop(g.apply(x))[..., m])
        assert not torch.equal(g.apply(crop(x))[..., m], crop(g.apply(x))[..., m])


def test_uncentred_stride2_grid_interpolates_or_refuses():
    """Stride 2 on an even size: the feature grid sits ½ input pixel off the image centre, so a
    quarter turn needs a ¼-feature-pixel-scale translation: not exact, refused with require_exact,
    and (interpolated) closer to the truth than pretending the grid is centred."""
    conv = _conv(2)
    grid = Grid.conv(3, 2, 1)
    x = _smooth(20)
    assert not grid.is_centred((20, 20), (10, 10))
    for name in QUARTER_TURNS:
        g = get_transform(name)
        p = grid.transform(g, (20, 20), (10, 10))
        assert not p.exact and p.kind == "affine"
        with pytest.raises(ValueError, match="needs interpolation"):
            grid.transform(g, (20, 20), (10, 10), require_exact=True)
        truth = conv(g.apply(x))
        m = p.valid_mask(10, 10)
        m[0], m[-1], m[:, 0], m[:, -1] = False, False, False, False  # zero padding at the border
        err_grid = (act_on_features(conv(x), g, TRIVIAL, grid, (20, 20)) - truth)[..., m].abs().max()
        err_naive = (g.apply(conv(x)) - truth)[..., m].abs().max()
        assert err_grid < 0.5 * err_naive, (name, float(err_grid), float(err_naive))
    with pytest.raises(ValueError, match="image_size"):
        act_on_features(conv(x), get_transform("rot90"), TRIVIAL, grid)


def test_translation_scales_with_the_stride():
    grid = Grid.conv(3, 2, 1)
    assert grid.transform(get_transform("shift2,-4"), (9, 9), (5, 5)) == get_transform("shift1,-2")
    assert grid.transform(get_transform("shift1,0"), (9, 9), (5, 5)) == get_transform("translate0.5,0")
