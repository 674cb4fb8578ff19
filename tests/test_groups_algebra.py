"""The group law on images: composition, inverses, names and the continuous actions' limits."""

import math

import pytest
import torch

from conftest import assert_close
from eqlab.groups import (
    GROUP_SPECS,
    INTERPOLATIONS,
    affine,
    circular_mask,
    from_affine,
    get_transform,
    group_spec,
    rescale,
    rot90,
    rotate,
    shear,
    shift,
    translate,
)

EXACT_GROUPS = [n for n, s in GROUP_SPECS.items() if all(g.exact for g in s.elements)]
D4 = ("identity", "rot90", "rot180", "rot270", "hflip", "vflip", "transpose", "antitranspose")


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _smooth(n: int = 33) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.linspace(-1, 1, n, dtype=torch.float64), torch.linspace(-1, 1, n, dtype=torch.float64), indexing="ij"
    )
    return torch.exp(-4 * ((xx - 0.2) ** 2 + (yy + 0.1) ** 2)).view(1, 1, n, n)


def _inner_disk(n: int) -> torch.Tensor:
    return circular_mask(n, n) & ~torch.nn.functional.max_pool2d(
        (~circular_mask(n, n)).double().view(1, 1, n, n), 5, 1, 2
    ).bool().view(n, n)


def test_exact_elements_equal_the_warp_of_their_matrix(x):
    """The matrix each element reports is the map its exact action performs (conventions check)."""
    for name in (*D4, "shift2,-1", "affine0,1,-1,0,1,0"):
        g = get_transform(name)
        assert g.exact
        a = torch.tensor(g.matrix[:4], dtype=torch.float64).view(2, 2)
        for interp in INTERPOLATIONS:
            assert_close(affine(x, a, torch.tensor(g.matrix[4:], dtype=torch.float64), interp), g.apply(x), 1e-12)


def test_rot90_is_rotate_by_quarter_turn_convention(x):
    assert_close(rotate(x, math.pi / 2)[..., circular_mask(9, 9)], rot90(x, 1)[..., circular_mask(9, 9)], 1e-12)
    assert get_transform("rot90").matrix == (0.0, 1.0, -1.0, 0.0, 0.0, 0.0)  # right of centre -> above it


@pytest.mark.parametrize("group", EXACT_GROUPS)
def test_exact_groups_close_and_compose_bit_exactly(group, x):
    els = group_spec(group).elements
    for a in els:
        for b in els:
            ab = a @ b
            assert ab in els, (a.name, b.name, ab.name)
            assert ab.exact and torch.equal(ab.apply(x), a.apply(b.apply(x))), (a.name, b.name)


@pytest.mark.parametrize("group", list(GROUP_SPECS))
def test_inverse_and_identity(group, x):
    spec = group_spec(group)
    e = spec.elements[0]
    assert e.name == "identity" and torch.equal(e.apply(x), x)
    for g in spec.elements:
        assert g @ g.inverse() == e and g.inverse() @ g == e, g.name
        assert e @ g == g and g @ e == g
        if g.exact:
            assert torch.equal(g.inverse().apply(g.apply(x)), x)


def test_d4_has_eight_distinct_elements(x):
    els = group_spec("r4r").elements
    assert len(set(els)) == 8 and {g.name for g in els} == set(D4)
    assert len({tuple(g.apply(x).flatten().tolist()) for g in els}) == 8
    assert group_spec("r4r").closed and group_spec("r8").closed and not group_spec("scale").closed


def test_canonical_names_of_compositions():
    t = get_transform
    assert t("rot90") @ t("rot90") == t("rot180")
    assert t("hflip") @ t("vflip") == t("rot180")
    assert t("hflip") @ t("rot90") == t("antitranspose")
    assert t("rot45") @ t("rot45") == t("rot90") and (t("rot45") @ t("rot45")).exact
    assert t("rot30") @ t("rot15") == t("rot45")
    assert t("scale0.8") @ t("scale0.8") == t("scale0.64")
    assert t("translate0.5,0") @ t("translate0.5,0") == t("shift1,0")
    assert t("shear0.1") @ t("shear0.2") == t("shear0.3")
    assert t("shift1,0").inverse() == t("shift-1,0") and t("translate1,2") == t("shift1,2")
    assert t("shear0") == t("translate0,0") == t("shift0,0") == t("rot0") == t("identity")


def test_names_round_trip():
    names = ["rot22.5", "rot-30", "scale0.5", "shift2,-1", "translate0.25,-1.5", "shear-0.2", *D4]
    elements = [get_transform(n) for n in names] + [g for s in GROUP_SPECS.values() for g in s.elements]
    elements += [a @ b for a in elements for b in elements]
    elements += [g.inverse() for g in elements if g.kind != "scale"]  # scale inverses keep their short names
    for g in elements:
        assert get_transform(g.name) == g, g
        assert hash(get_transform(g.name)) == hash(g)
        assert from_affine(g.matrix) == g or g.kind == "scale"


def test_unknown_names_list_the_forms():
    for bad in ("twist", "shift0.5,0", "affine1,0,0,0,0,0"):
        with pytest.raises(ValueError):
            get_transform(bad)
    with pytest.raises(ValueError, match=r"shift<dx>,<dy>.*translate<dx>,<dy>.*shear<s>"):
        get_transform("twist")


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_continuous_actions_at_zero_are_the_identity(x, interp):
    """Parameter 0 must be the identity through the warp (an align_corners mix-up shifts by ½ px)."""
    assert_close(rotate(x, 0.0, interp), x, 1e-12)
    assert_close(rescale(x, 1.0, interp), x, 1e-12)
    assert_close(translate(x, 0.0, 0.0, interp), x, 1e-12)
    assert_close(shear(x, 0.0, interp), x, 1e-12)
    assert_close(affine(x, torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), interp), x, 1e-12)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_integer_translate_equals_exact_shift_away_from_the_border(x, interp):
    g = get_transform("shift2,-1")
    m = g.valid_mask(9, 9)
    assert 0 < int(m.sum()) < 81
    assert_close(translate(x, 2.0, -1.0, interp)[..., m], shift(x, 2, -1)[..., m], 1e-12)
    assert_close(get_transform("translate2.0,-1").apply(x, interp), shift(x, 2, -1), 0.0)


def test_shift_zero_fills_without_wrapping():
    img = torch.arange(1.0, 13.0).view(1, 1, 3, 4)
    out = shift(img, 1, -1)
    assert out[0, 0].tolist() == [[0.0, 5.0, 6.0, 7.0], [0.0, 9.0, 10.0, 11.0], [0.0, 0.0, 0.0, 0.0]]
    assert not shift(img, 5, 0).any()
    with pytest.raises(ValueError, match="integer"):
        shift(img, 0.5, 0)


def test_composing_rotations_adds_the_angles():
    img = _smooth()
    m = _inner_disk(33)
    a, b = get_transform("rot30"), get_transform("rot15")
    assert (a @ b) == get_transform("rot45")
    err = (a.apply(b.apply(img)) - (a @ b).apply(img))[0, 0][m].abs().max()
    assert err < 0.02
    # and a non-trivial mix: rotation after sub-pixel translation is one affine warp
    t = get_transform("translate1.5,-0.5")
    assert (a @ t).kind == "affine" and not (a @ t).exact
    assert (a.apply(t.apply(img)) - (a @ t).apply(img))[0, 0][m].abs().max() < 0.02


def test_r8_composition_on_images_within_interpolation_error():
    img = _smooth()
    m = _inner_disk(33)
    els = group_spec("r8").elements
    for a in els:
        for b in els:
            assert (a @ b) in els
            assert (a.apply(b.apply(img)) - (a @ b).apply(img))[0, 0][m].abs().max() < 0.03, (a.name, b.name)


def test_valid_mask_of_a_shift_drops_the_vacated_strips():
    m = get_transform("shift1,0").valid_mask(4, 5)
    assert m[:, 1:4].all() and not m[:, 0].any() and not m[:, 4].any()
    assert get_transform("rot90").valid_mask(4, 4).all()


def test_e2cnn_gspace_errors_name_the_allowed_groups():
    from eqlab.groups import e2cnn_gspace

    with pytest.raises(ValueError, match=r"allowed values: \['r1', 'r2', 'r4', 'r4r', 'r8'\]"):
        e2cnn_gspace("scale")
    with pytest.raises(ValueError, match="allowed values"):
        e2cnn_gspace("c5")
