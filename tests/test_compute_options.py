"""train.compute: bf16 autocast and channels-last for the GPU path, checked on CPU. The default (fp32,
NCHW) is the committed pipeline; each option must do what it says inside the step, give the model back
as it came (float32 weights, default layout) and train to the same results within its rounding."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import ROOT
from eqlab.groups import group_elements
from eqlab.models import build_model
from eqlab.params import load_params
from eqlab.train.loop import TrainSpec, train
from eqlab.validate import validate


def _data(n: int = 64):
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 28, 28, generator=gen) * 255).to(torch.uint8)
    return x, torch.randint(0, 10, (n,), generator=gen)


def _train(precision: str = "fp32", channels_last: bool = False, seen: list | None = None, seed: int = 0):
    """The IEN step (4 copies, β = 0.1) for 2 epochs of 4 steps; ``seen``: (dtype, layout is NHWC) of
    every conv input and output during training."""
    torch.manual_seed(0)
    model = build_model("rotmnist6", width=0.125)
    hooks = []
    if seen is not None:
        def hook(module, args, out):
            if module.training:
                seen.append((args[0].dtype, out.dtype, args[0].is_contiguous(memory_format=torch.channels_last)))

        hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    x, y = _data()
    spec = TrainSpec(1, 1, 16, 1e-4, 1e-3, 0.25, 0.0, True, 0.1, seed, precision, channels_last)
    history = train(model, spec, x, y, x[:16], y[:16], group_elements("r4"), progress=False)
    for h in hooks:
        h.remove()
    return model, history


@pytest.fixture(scope="module")
def reference():
    return _train()


def _logits(model, x):
    with torch.no_grad():
        return model.eval()(x.float() / 255)


def test_channels_last_trains_nhwc_and_matches_nchw(reference):
    seen = []
    model, history = _train(channels_last=True, seen=seen)
    assert seen and all(nhwc for *_, nhwc in seen)  # every conv in the step saw NHWC input
    assert all(p.is_contiguous() for p in model.parameters())  # given back in the default layout
    ref_model, ref_history = reference
    for a, b in zip(ref_history, history, strict=True):  # same sums up to summation order
        assert b.loss == pytest.approx(a.loss, rel=1e-4) and b.equiv == pytest.approx(a.equiv, rel=1e-4)
    # the trained net's logits move far less from the layout than from another batch order: ~1 % of it on
    # the CPUs tried (an element-wise 1e-3 bound held on an AMD EPYC, not on an Intel Xeon: 1.2e-3)
    x, _ = _data()
    ref = _logits(ref_model, x)
    from_nhwc = (_logits(model, x) - ref).norm()
    from_seed = (_logits(_train(seed=1)[0], x) - ref).norm()
    assert from_nhwc < 0.05 * from_seed, (from_nhwc, from_seed)


def test_bf16_autocasts_the_step_only_and_matches_within_its_rounding(reference):
    seen = []
    model, history = _train(precision="bf16", seen=seen)
    assert seen and all(o == torch.bfloat16 for _, o, _ in seen)  # the convs ran in bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights (and Adam) stay float32
    ref_model, ref_history = reference
    for a, b in zip(ref_history, history, strict=True):  # bfloat16 keeps 8 bits of mantissa: ~0.4 % a value
        assert b.loss == pytest.approx(a.loss, rel=2e-2) and b.equiv == pytest.approx(a.equiv, rel=5e-2)
        assert b.val_acc == a.val_acc or abs(b.val_acc - a.val_acc) <= 1 / 16
    # "the same results within seed noise": the trained net's logits move less from bf16 than from
    # another batch order in float32 (here ~1/9 of it)
    x, _ = _data()
    ref = _logits(ref_model, x)
    from_bf16 = (_logits(model, x) - ref).norm()
    from_seed = (_logits(_train(seed=1)[0], x) - ref).norm()
    assert from_bf16 < 0.5 * from_seed, (from_bf16, from_seed)
    # and the float32 default really is different arithmetic: the bf16 run is not the fp32 run
    assert history[0].loss != ref_history[0].loss


def test_a_bad_precision_names_its_values():
    model = build_model("rotmnist6", width=0.125)
    x, y = _data(16)
    spec = TrainSpec(1, 0, 16, 1e-4, 1e-3, 0.25, 0.0, False, 0.0, 0, "fp16")
    with pytest.raises(ValueError, match=r"precision 'fp16'; allowed values: \['fp32', 'bf16'\]"):
        train(model, spec, x, y, x, y, group_elements("r1"), progress=False)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("precision", "fp16", "params key 'train.compute.precision' is 'fp16'; allowed values: ['fp32', 'bf16']"),
    ("channels_last", "yes", "params key 'train.compute.channels_last' must be true or false, got 'yes'"),
    ("fused", True, "unknown params key(s) ['train.compute.fused']"),
])
def test_validate_names_a_bad_compute_key(tmp_path, key, value, message):
    params = copy.deepcopy(load_params(ROOT / "params.yaml"))
    params["train"]["compute"][key] = value
    problems = validate(params, tmp_path)
    assert len(problems) == 1 and message in problems[0], problems


def test_the_committed_default_is_float32_nchw():
    """The committed results come from the default: changing it must be a decision, not an accident."""
    compute = load_params(ROOT / "params.yaml")["train"]["compute"]
    assert compute == {"precision": "fp32", "channels_last": False}
