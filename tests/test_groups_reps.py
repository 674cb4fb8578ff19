"""Channel representations: ρ(a)ρ(b) = ρ(ab), and e2cnn's regular fields obey φ(g·x) = ρ(g)·P_g·φ(x)."""

import numpy as np
import pytest
import torch

from eqlab.groups import (
    GROUP_SPECS,
    TRIVIAL,
    act_on_features,
    e2cnn_gspace,
    get_transform,
    group_spec,
    permutation,
    regular,
)

REGULAR_GROUPS = [n for n, s in GROUP_SPECS.items() if s.regular is not None]
E2_GROUPS = ["r4", "r8", "r4r"]


@pytest.fixture
def h() -> torch.Tensor:
    return torch.randn(2, 16, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("group", REGULAR_GROUPS)
def test_rho_is_a_homomorphism(group, h):
    spec = group_spec(group)
    rep = spec.regular
    c = rep.size * (16 // rep.size)
    hh = h[:, :c]
    for a in rep.elements:
        for b in rep.elements:
            assert torch.equal(rep.act(rep.act(hh, b), a), rep.act(hh, a @ b)), (a.name, b.name)
            assert torch.equal(rep.matrix(a) @ rep.matrix(b), rep.matrix(a @ b))
    assert torch.equal(rep.act(hh, rep.elements[0]), hh)
    assert set(rep.elements) == set(spec.elements)


@pytest.mark.parametrize("group", ["r2", "r4", "r4r"])
def test_rho_times_p_composes_on_features_exactly(group, h):
    rep = group_spec(group).regular
    for a in rep.elements:
        for b in rep.elements:
            two = act_on_features(act_on_features(h, b, rep), a, rep)
            assert torch.equal(two, act_on_features(h, a @ b, rep)), (a.name, b.name)
        assert torch.equal(act_on_features(act_on_features(h, a, rep), a.inverse(), rep), h)


@pytest.mark.parametrize("group", ["r1", "r2", "r4", "r8", "r4r"])
def test_regular_rep_and_elements_match_e2cnn(group):
    """Basis i is e2cnn's element i: same spatial action (exact ones) and same regular matrix."""
    gs = e2cnn_gspace(group)
    rep = group_spec(group).regular
    fib = gs.fibergroup
    assert len(fib.elements) == rep.size
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 7))
    for e, g in zip(fib.elements, rep.elements, strict=True):
        assert np.allclose(fib.regular_representation(e), rep.matrix(g).numpy(), atol=1e-9), (e, g.name)
        if g.exact:
            ours = g.apply(torch.from_numpy(x)).numpy()
            assert np.allclose(gs._basespace_action(x, e), ours, atol=1e-12), (e, g.name)


def _geometric_tensor_check(gs, rep, h):
    from e2cnn import nn as enn

    t = enn.FieldType(gs, (h.shape[1] // rep.size) * [gs.regular_repr])
    for e, g in zip(gs.fibergroup.elements, rep.elements, strict=True):
        if g.exact:
            theirs = enn.GeometricTensor(h, t).transform(e).tensor.to(h.dtype)  # e2cnn returns float32
            assert torch.allclose(theirs, act_on_features(h, g, rep), atol=1e-6), g.name


@pytest.mark.parametrize("group", E2_GROUPS)
def test_e2cnn_feature_transform_is_rho_after_p(group, h):
    _geometric_tensor_check(e2cnn_gspace(group), group_spec(group).regular, h)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("group", E2_GROUPS)
def test_e2cnn_regular_fields_need_rho(group):
    """A random R2Conv stack from a scalar image to regular fields: φ(g·x) = ρ(g)·P_g·φ(x) to float64
    noise for every exact g, and far from it with the trivial representation (P_g alone)."""
    from e2cnn import nn as enn

    torch.manual_seed(0)
    gs = e2cnn_gspace(group)
    spec = group_spec(group)
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    t_mid = enn.FieldType(gs, 2 * [gs.regular_repr])
    conv = enn.R2Conv(t_in, t_mid, 5, padding=2)
    stack = enn.SequentialModule(
        conv, enn.ReLU(t_mid), enn.PointwiseMaxPool(t_mid, 2), enn.R2Conv(t_mid, t_mid, 3, padding=1)
    )
    with torch.no_grad():
        for p in stack.parameters():  # random weights, not just the initialisation scale
            p.normal_()
    stack = stack.double().eval()
    x = torch.randn(2, 1, 14, 14, dtype=torch.float64)  # even size: the 2×2 pool grid stays centred
    rep = spec.regular
    layers = [lambda v: conv(enn.GeometricTensor(v, t_in)).tensor, lambda v: stack(enn.GeometricTensor(v, t_in)).tensor]
    with torch.no_grad():
        for f in layers:
            base = f(x)
            for g in spec.exact[1:]:
                moved = f(g.apply(x))
                assert _rel(moved, act_on_features(base, g, rep)) <= 1e-12, g.name
                assert _rel(moved, act_on_features(base, g, TRIVIAL)) > 1e-2, g.name
            _geometric_tensor_check(gs, rep, base)


def test_permutation_rep_hog_bins(h):
    """Four unsigned orientation bins over 180°: a quarter turn moves bin j to j + 2 (mod 4)."""
    rot90, rot180 = get_transform("rot90"), get_transform("rot180")
    hog = permutation({"identity": (0, 1, 2, 3), "rot90": (2, 3, 0, 1), rot180: (0, 1, 2, 3)}, "hog")
    out = hog.act(h, rot90).view(2, 4, 4, 6, 6)
    assert torch.equal(out, h.view(2, 4, 4, 6, 6).roll(2, dims=2))
    with pytest.raises(ValueError, match="allowed values"):
        hog.act(h, get_transform("hflip"))
    with pytest.raises(ValueError, match="not a permutation"):
        permutation({"identity": (0, 0)})
    with pytest.raises(ValueError, match="do not split"):
        hog.act(h[:, :6], rot90)
    with pytest.raises(ValueError, match="not a group"):
        regular([get_transform("identity"), get_transform("rot90")])
