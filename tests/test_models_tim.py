"""ResNet18 / VGG (plain and e2cnn) and the groups R8 and R4R: widths, grid alignment, exactness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import symmetrise, with_every_set
from eqlab.groups import exact_elements, get_transform, group_elements
from eqlab.metrics.equivariance import measure_equivariance
from eqlab.models import build_model
from eqlab.models.base import Resize, ien_fields


def test_widths_match_the_papers_tables():
    """IEN Table 6: ResNet18 R4 channels 136/136/272/544/1088, R8 and R4R 24 fields; Table 7: VGG
    fields 36/72/144/144/288 (R4) and 25/50/100 (R8)."""
    from eqlab.models.resnet18 import RESNET_BASE, RESNET_MULT
    from eqlab.models.vgg import VGG_BASE, VGG_MULT

    assert [f * 4 for f in ien_fields(RESNET_BASE, RESNET_MULT, 4, 1.0)] == [136, 136, 272, 544, 1088]
    assert ien_fields(RESNET_BASE, RESNET_MULT, 8, 1.0)[:3] == (24, 24, 48)
    assert ien_fields(VGG_BASE, VGG_MULT, 4, 1.0)[:5] == (36, 72, 144, 144, 288)
    assert ien_fields(VGG_BASE, VGG_MULT, 8, 1.0)[:3] == (25, 50, 100)
    m = build_model("resnet18", width=1.0, group_size=4, n_classes=100)
    assert [t.channels for t in m.taps] == [136, 272, 544, 1088] and [t.name for t in m.taps][0] == "stage1"
    e2 = build_model("resnet18", "e2cnn", width=0.125, group="r4", n_classes=7, input_size=17)
    plain = build_model("resnet18", width=0.125, group_size=4, n_classes=7, input_size=17)
    assert [t.channels for t in e2.taps] == [t.channels for t in plain.taps]  # equal inference channels


def test_bad_input_sizes_are_named():
    with pytest.raises(ValueError, match="input_size must be odd"):
        build_model("resnet18", width=0.0625, input_size=32)
    with pytest.raises(ValueError, match="multiple of 16"):
        build_model("vgg", width=0.0625, input_size=40)


@pytest.mark.parametrize("element", ["rot90", "rot180", "hflip", "transpose", "antitranspose"])
def test_resize_commutes_with_exact_elements(element):
    g = get_transform(element)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    for size in (65, 33, 32):
        r = Resize(size)
        assert torch.allclose(r(g.apply(x)), g.apply(r(x)), atol=1e-12)


def _symmetrise_convs(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(symmetrise(m.weight, with_flips=True))


@pytest.mark.parametrize("arch,size", [("resnet18", 33), ("vgg", 32)])
def test_plain_models_keep_grids_centred(arch, size):
    """With D4-symmetric kernels every channel is an invariant-kernel map, so each tap is exactly
    D4-equivariant channel-wise iff resize, strides, pools and paddings keep the grids centred."""
    torch.manual_seed(0)
    model = build_model(arch, width=0.0625, group_size=4, n_classes=5, input_size=size).double()
    _symmetrise_convs(model)
    model.train()
    model(torch.rand(4, 3, 64, 64, dtype=torch.float64))  # BatchNorm running stats
    model.eval()
    eq = measure_equivariance(model, torch.rand(3, 3, 64, 64, dtype=torch.float64), group_elements("r4r"))
    assert max(v["abs"] for v in eq.values()) < 1e-20


@pytest.mark.parametrize("arch,group", [("resnet18", "r4"), ("resnet18", "r8"), ("resnet18", "r4r"),
                                        ("vgg", "r4"), ("vgg", "r4r"), ("rotmnist6", "r4r")])
def test_e2cnn_twins_are_exact_on_the_grid(arch, group):
    """The e2cnn twins read float noise at every tap for every exact element of their group (and
    R8's quarter turns): the check on e2cnn under NumPy 2 (our compatibility patch) and on our actions."""
    torch.manual_seed(0)
    kw = dict(width=0.0625, group=group, n_classes=5)
    if arch != "rotmnist6":
        kw["input_size"] = 33 if arch.startswith("resnet") else 32
        x = torch.rand(4, 3, 64, 64)
    else:
        kw.update(width=0.125, in_channels=1)
        x = torch.rand(4, 1, 28, 28)
    model = build_model(arch, "e2cnn", **kw)
    model.train()
    model(x)
    model.eval()
    elements = exact_elements(group_elements(group))
    assert len(elements) == (4 if group in ("r4", "r8") else 8)
    eq = measure_equivariance(model, x, elements)
    assert max(v["abs"] for v in eq.values()) < 1e-9
    assert max(v["rel"] for v in eq.values()) < 1e-9


def test_het_vgg_has_about_69_percent_of_the_channels():
    full = build_model("vgg", width=1.0, group_size=4, n_classes=10)
    het = build_model("vgg", width=1.0, group_size=4, n_classes=10, het=[4, 2, 1])
    ratio = sum(t.channels for t in het.taps) / sum(t.channels for t in full.taps)
    assert 0.66 < ratio < 0.71
    assert het.taps[0].layout == ((18, 4), (9, 2), (9, 1))
    with pytest.raises(ValueError, match="must start with the group size 4"):
        build_model("resnet18", width=0.0625, group_size=4, het=[8, 4], input_size=33)


def test_every_run_builds_at_paper_scale(root):
    """The paper profile (width 1, 64×64 TinyImageNet inputs) gives every plain run a model that runs,
    with the published channel counts; e2cnn twins get the same kwargs (their full-width build takes
    ~1 min each on CPU, so they are built at small width in the tests above)."""
    import yaml

    from eqlab.models import model_kwargs
    from eqlab.params import build
    from eqlab.runs import run_specs
    from eqlab.train.config import ProfileConfig

    params = yaml.safe_load((root / "params.yaml").read_text())
    prof = build(ProfileConfig, params["train"]["paper"], "train.paper")
    assert prof.width_of("resnet18") == 1.0 and prof.input_size == 64
    seen = set()
    for run in run_specs(with_every_set(params)["train"]["models"]).values():  # the optional sets' runs too
        kw = model_kwargs(run, prof.width_of(run.arch), prof.input_size)
        if run.family == "e2cnn":
            assert kw["group"] == run.group and "group_size" not in kw
            continue
        tim = run.dataset in ("rot_tim", "r2_tim")
        kw.update(in_channels=3 if tim else 1, n_classes=100 if tim else 10)
        model = build_model(run.arch, run.family, **kw).eval()
        x = torch.rand(2, kw["in_channels"], 64 if tim else 28, 64 if tim else 28)
        with torch.no_grad():
            logits, taps = model.forward_taps(x)
        assert logits.shape == (2, kw["n_classes"]) and len(taps) == len(model.taps)
        assert [h.shape[1] for h in taps] == [t.channels for t in model.taps]
        seen.add((run.arch, run.group, bool(run.het)))
        if run.arch == "resnet18" and run.group == "r4" and not run.het:
            assert [t.channels for t in model.taps] == [136, 272, 544, 1088] and taps[0].shape[-1] == 65
    assert {("resnet18", "r4", False), ("vgg", "r8", False), ("vgg", "r4", True)} <= seen


@pytest.mark.parametrize("arch,group", [("rotmnist6", "r4"), ("vgg", "r4r"), ("resnet18", "r8")])
def test_e2cnn_taps_transform_by_their_regular_representation(arch, group):
    """Each e2cnn tap carries its channel representation: φ(g·x) = ρ(g)·P_g·φ(x) to float64 noise at
    every tap for every exact element, while the spatial action alone (trivial ρ) is far off — the
    error drops only when ρ is used. Plain IEN taps are trivial (their groups are only pooled)."""
    torch.manual_seed(0)
    shape, kw = (3, 3, 64, 64), dict(width=0.0625, n_classes=5, input_size=33 if arch == "resnet18" else 32)
    if arch == "rotmnist6":
        shape, kw = (3, 1, 28, 28), dict(width=0.125, in_channels=1)
    model = build_model(arch, "e2cnn", group=group, **kw).double()
    x = torch.rand(*shape, dtype=torch.float64)
    model.train()
    model(x)
    model.eval()
    assert all(t.rep == group for t in model.taps)
    assert all(t.rep == "trivial" for t in build_model(arch, "cnn", group_size=4, **kw).taps)
    with torch.no_grad():
        _, base = model.forward_taps(x)
        for g in exact_elements(group_elements(group))[1:]:
            _, moved = model.forward_taps(g.apply(x))
            for tap, h, hg in zip(model.taps, base, moved, strict=True):
                ref = (h**2).sum()
                assert ((hg - tap.act(h, g)) ** 2).sum() / ref < 1e-24, (g.name, tap.name)
                assert ((hg - g.apply(h)) ** 2).sum() / ref > 1e-3, (g.name, tap.name)


def test_a_double_twin_does_not_break_the_next_float_twin():
    """e2cnn shares sampled kernel bases between models through a global cache; converting one model
    to float64 must not leave the next float32 model with float64 bases (eqlab.e2compat)."""
    build_model("rotmnist6", "e2cnn", width=0.125, group="r4").double()
    model = build_model("rotmnist6", "e2cnn", width=0.125, group="r4").eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 28, 28)).dtype == torch.float32
