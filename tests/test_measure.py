"""measure(): extent, Lenc & Vedaldi and Lie-derivative metrics on any model, and the ``eqlab measure`` CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from eqlab.__main__ import main
from eqlab.groups import group_elements
from eqlab.measure import measure
from eqlab.metrics.equivariance import stack_orbit
from eqlab.models import build_model
from eqlab.models.hooks import LayerSpec, LayerTaps
from eqlab.probes.lie import FLOWS, apply_flow, generator, infer_stride, lie_derivative

F64 = torch.float64
LAPLACE = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=F64)


def values(df, metric: str, transform: str | None = None) -> dict[str, float]:
    sel = df[(df["metric"] == metric) & ((df["transform"] == transform) if transform else True)]
    return dict(zip(sel["layer"], sel["value"], strict=True))


def laplace_net(seed: int = 0) -> nn.Sequential:
    """Linear convs whose kernels are a·δ + b·Δ (Δ the 5-point Laplacian): C4-symmetric, and (Δ's symbol
    is a function of cos ω_x + cos ω_y) commuting exactly with the discrete rotation generator."""
    g = torch.Generator().manual_seed(seed)
    delta = torch.zeros(3, 3, dtype=F64)
    delta[1, 1] = 1
    convs = []
    for cin, cout in ((1, 4), (4, 4), (4, 3)):
        conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False).double()
        a, b = (torch.randn(cout, cin, 1, 1, generator=g, dtype=F64) for _ in range(2))
        with torch.no_grad():
            conv.weight.copy_(a * delta + b * LAPLACE)
        convs.append(conv)
    return nn.Sequential(*convs)


def conv_stack(padding_mode: str, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, padding_mode=padding_mode),
        nn.Conv2d(4, 6, 5, padding=2, padding_mode=padding_mode),
        nn.Conv2d(6, 3, 3, padding=1, padding_mode=padding_mode),
    ).double()


@pytest.fixture(scope="module")
def framed() -> torch.Tensor:
    """Random content with a zero frame wide enough that no map reaches the border."""
    x = torch.zeros(6, 1, 24, 24, dtype=F64)
    x[:, :, 6:18, 6:18] = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(1), dtype=F64)
    return x


@pytest.fixture(scope="module")
def e2_c4() -> nn.Module:
    torch.manual_seed(0)
    model = build_model("rotmnist6", "e2cnn", width=0.125, group="r4")
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for _ in range(3):
            model(stack_orbit(x, group_elements("r4")))
        model.eval()
    return model.double()


def test_e2cnn_c4_twin_is_exact_for_quarter_turns_but_not_for_continuous_rotation(e2_c4):
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2), dtype=F64)
    df = measure(e2_c4, x, group="r4", metrics=("extent", "lie"), flows=("rotate",))
    ext, rel, lie = values(df, "extent", "all"), values(df, "extent_rel", "all"), values(df, "lie_rel", "rotate")
    assert list(ext) == [f"conv{i}" for i in range(1, 7)]  # a TappedModel's taps by default
    assert all(v <= 1e-12 for v in ext.values()), ext
    assert all(v <= 1e-9 for v in rel.values()), rel
    assert all(v > 1e-3 for v in lie.values()), lie  # C4 is not SO(2)


def test_laplacian_net_is_exact_and_one_perturbed_weight_fails_loudly(framed):
    model = laplace_net()
    kw = dict(group="r4", flows=("rotate",), ridge_lambda=0.0)
    clean = measure(model, framed, **kw)
    with torch.no_grad():
        model[1].weight[0, 0, 0, 0] += 0.1  # one corner tap: no longer C4-symmetric, no longer a Δ-polynomial
    broken = measure(model, framed, **kw)
    for metric, transform, exact in (
        ("extent_rel", "all", 1e-20),
        ("p_only", "rot90", 1e-20),
        ("ridge", "rot90", 1e-12),
        ("lie_rel", "rotate", 1e-20),
    ):
        before, after = values(clean, metric, transform), values(broken, metric, transform)
        assert all(v <= exact for v in before.values()), (metric, before)
        # the first layer is untouched; every layer from the perturbed one on rises by many orders
        assert before["0"] == pytest.approx(after["0"], abs=exact)
        assert all(after[k] > 1e-7 and after[k] > 1e6 * before[k] for k in ("1", "2")), (metric, before, after)


def test_circular_convs_commute_with_translation_flows_but_not_with_rotation():
    x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(3), dtype=F64)
    df = measure(conv_stack("circular"), x, metrics=("lie",))
    for flow in ("translate_x", "translate_y"):
        assert all(v <= 1e-10 for v in values(df, "lie_rel", flow).values()), flow
    assert all(v > 1e-2 for v in values(df, "lie_rel", "rotate").values())
    zero = measure(conv_stack("zeros"), x, metrics=("lie",), flows=("translate_x",))
    assert all(v > 1e-4 for v in values(zero, "lie_rel", "translate_x").values())


def test_zero_padding_breaks_translation_only_near_the_border():
    x = torch.rand(2, 1, 20, 20, generator=torch.Generator().manual_seed(4), dtype=F64)
    (lie,), _ = lie_derivative(conv_stack("zeros"), x, "translate_x")
    reach = 1 + 2 + 1 + 1  # receptive radius of the stack + the central difference
    inner = lie[..., reach:-reach, reach:-reach]
    assert inner.abs().max() <= 1e-12
    assert lie.abs().amax(dim=(0, 1, 2))[[0, -1]].min() > 1e-3


@pytest.mark.parametrize("flow", FLOWS)
def test_flow_at_zero_is_identity_and_its_symmetric_derivative_is_the_generator(flow):
    yy, xx = torch.meshgrid(torch.arange(24, dtype=F64), torch.arange(24, dtype=F64), indexing="ij")
    blob = torch.exp(-((yy - 10.0) ** 2 + (xx - 13.0) ** 2) / 18.0).view(1, 1, 24, 24)
    assert torch.allclose(apply_flow(blob, flow, 0.0), blob, atol=1e-12)
    t = 0.5 if flow.startswith("translate") else 1e-5  # bilinear shifts are exactly linear for |t| < 1
    sym = (apply_flow(blob, flow, t) - apply_flow(blob, flow, -t)) / (2 * t)
    gen = generator(blob, flow)
    err = (sym - gen).abs().max() / gen.abs().max()
    assert err <= (1e-12 if flow.startswith("translate") else 1e-3), err
    assert gen.abs().max() > 1e-2


def test_lie_derivative_is_linear_in_the_generator():
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(5), dtype=F64)
    net = nn.Sequential(conv_stack("zeros"), nn.ELU())
    (one,), _ = lie_derivative(net, x, "rotate")
    (two,), _ = lie_derivative(net, x, "rotate", rate=2.0)
    assert one.abs().max() > 1e-2
    assert torch.allclose(two, 2 * one, rtol=1e-12, atol=1e-12)


def test_lie_derivative_is_the_directional_derivative_of_the_network():
    """Lφ(x) + A'φ(x) = J_φ(x)·Ax, checked against a central difference of the network along Ax
    (a net with eval-mode batch norm, ELU and max pooling; one output does not depend on x)."""
    torch.manual_seed(3)
    body = nn.Sequential(conv_stack("zeros"), nn.BatchNorm2d(3), nn.ELU(), nn.MaxPool2d(2)).double().eval()
    with torch.no_grad():
        body[1].running_mean.uniform_(-1, 1)
        body[1].running_var.uniform_(0.5, 2)
    const = torch.ones(2, 2, 4, 4, dtype=F64)

    def net(z):
        return body(z), const[: len(z)] * 0 + const[0]

    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(6), dtype=F64)
    (lie, lie_const), (phi, _) = lie_derivative(net, x, "rotate")
    v, eps = generator(x, "rotate"), 1e-6
    fd = (body(x + eps * v) - body(x - eps * v)) / (2 * eps)
    assert torch.allclose(lie + generator(phi, "rotate", 2.0), fd, rtol=1e-6, atol=1e-8)
    assert lie.abs().max() > 1e-2
    assert torch.equal(lie_const, -generator(const, "rotate", 4.0))  # J = 0: only the flow on the map is left


def test_stride_inference_and_strided_translation():
    assert [infer_stride(a, b) for a, b in ((64, 32), (28, 20), (20, 10), (28, 5), (65, 33))] == [2, 1, 2, 4, 2]
    # a smooth periodic image through a stride-2 pool: one input pixel is half a feature pixel
    u = torch.arange(32, dtype=F64) * 2 * torch.pi / 32
    x = (torch.sin(u).view(1, -1) + torch.cos(2 * u).view(-1, 1)).expand(1, 1, 32, 32)
    pool = nn.AvgPool2d(2)
    for flow in ("translate_x", "translate_y"):
        (right,), (phi,) = lie_derivative(pool, x, flow)
        (wrong,), _ = lie_derivative(pool, x, flow, strides=[1.0])
        assert (right**2).sum() / (phi**2).sum() < 1e-3 < 1e-2 < (wrong**2).sum() / (phi**2).sum()


def test_docstring_example_runs(capsys):
    import eqlab.measure

    doc = eqlab.measure.__doc__
    code = "\n".join(line[4:] for line in doc.split("::", 1)[1].strip("\n").splitlines())
    assert len(code.splitlines()) == 5
    exec(compile(code, "example", "exec"), {})
    out = capsys.readouterr().out
    assert all(w in out for w in ("layer1", "layer2", "extent_rel", "lie_rel", "ridge"))


def test_resnet18_default_layers_every_metric_and_model_left_as_found():
    model = torchvision.models.resnet18(weights=None, num_classes=5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    df = measure(model, x, group="r2", batch_size=2)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert set(df["layer"]) == {
        *convs,
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
    }
    per_layer = df.groupby("layer")["metric"].agg(lambda m: tuple(sorted(set(m))))
    assert set(per_layer) == {("extent", "extent_rel", "lie_abs", "lie_rel", "p_only", "ridge")}
    assert set(df.loc[df["probe"] == "lie", "transform"]) == set(FLOWS)
    assert np.isfinite(df["value"]).all()
    assert list(df.drop_duplicates("layer")["layer_index"]) == list(range(df["layer"].nunique()))
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # eval mode: no BN update


class _Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_clear_errors_and_hooks_removed_on_error():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3))
    x = torch.rand(2, 1, 12, 12)
    with pytest.raises(ValueError, match=r"unknown layers \['nope'\]; available: \['0', '1'\]"):
        measure(model, x, layers=["nope"])
    with pytest.raises(ValueError, match=r"unknown metrics \['speed'\]; allowed values"):
        measure(model, x, metrics=["speed"])
    with pytest.raises(ValueError, match=r"unknown flows \['shear'\]; allowed values"):
        measure(model, x, flows=["shear"])
    with pytest.raises(ValueError, match=r"images must have shape \(N, 1, H, W\)"):
        measure(model, torch.rand(2, 3, 12, 12))
    with pytest.raises(ValueError, match="unknown group"):
        measure(model, x, group="r5")
    with pytest.raises(ValueError, match=r"\['rot90', 'rot270'\] swap rows and columns: they need square images"):
        measure(model, torch.rand(2, 1, 12, 16), group="r4")
    measure(model, torch.rand(2, 1, 12, 16), transforms=["rot180", "hflip"], metrics=["extent"])
    broken = nn.Sequential(nn.Conv2d(1, 2, 3), _Boom())
    with pytest.raises(RuntimeError, match="boom"), LayerTaps(broken, [LayerSpec("0", "0")], stop_early=False) as taps:
        taps(x)
    assert all(not m._forward_hooks for m in broken.modules())


def test_cli_help_mentions_every_option():
    out = subprocess.run([sys.executable, "-m", "eqlab", "measure", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for opt in (
        "--model",
        "--checkpoint",
        "--num-classes",
        "--images",
        "--split",
        "--n-images",
        "--size",
        "--group",
        "--transforms",
        "--layers",
        "--metrics",
        "--flows",
        "--batch-size",
        "--ridge-lambda",
        "--device",
        "--seed",
        "--out",
        "torchvision:",
        "embedded:",
    ):
        assert opt in out.stdout, opt


def test_cli_writes_the_table_and_fails_in_one_line(tmp_path, capsys):
    npy = tmp_path / "x.npy"
    np.save(npy, np.random.default_rng(0).integers(0, 256, (3, 3, 32, 32), dtype=np.uint8))
    base = ["measure", "--model", "torchvision:resnet18", "--num-classes", "4", "--images", str(npy)]
    out = tmp_path / "t.csv"
    rc = main(
        [*base, "--layers", "conv1,layer1", "--transforms", "rot90,hflip", "--flows", "translate_x", "--out", str(out)]
    )
    assert rc == 0
    table = __import__("pandas").read_csv(out)
    assert set(table["layer"]) == {"conv1", "layer1"} and set(table["transform"]) >= {"rot90", "hflip", "translate_x"}
    assert "extent_rel" in capsys.readouterr().out

    assert main([*base, "--transforms", "rot90,twirl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'twirl'" in err[0] and "hflip" in err[0] and "rot<degrees>" in err[0]

    ckpt = tmp_path / "weights.pt"
    torch.save(torchvision.models.resnet18(weights=None, num_classes=4).state_dict(), ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:4096])
    assert main([*base, "--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(ckpt) in err[0]

    torch.save([1, 2, 3], ckpt)
    assert main([*base, "--checkpoint", str(ckpt)]) == 2
    assert "not a state dict" in capsys.readouterr().err

    assert main(["measure", "--model", "torchvision:resnet18", "--images", str(tmp_path / "missing.npy")]) == 2
    assert "missing.npy" in capsys.readouterr().err


def test_lv_uses_the_taps_representation(e2_c4):
    """On an e2cnn twin, undoing g with ρ(g)∘P_g (the tap's regular representation) leaves float noise,
    so P_only is ~0 at every layer for the exact quarter turns."""
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    table = measure(e2_c4, x, group="r4", metrics=("lv",))
    p_only = table[table.metric == "p_only"]
    assert len(p_only) == 6 * 3 and p_only.value.max() < 1e-20
