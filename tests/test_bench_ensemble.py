"""bench/ensemble.py compares equal math: one vmap'd step of K fused models = K separate steps."""

from __future__ import annotations

import copy
import sys

import torch
import torch.nn.functional as F

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import ensemble  # noqa: E402


def test_fused_step_equals_separate_steps():
    from torch.func import functional_call, stack_module_state, vmap

    models = ensemble._models("rotmnist6", "rot_mnist", 0.125, 28, 1, k=2, n_classes=10)
    twins = copy.deepcopy(models)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 8, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (2, 8), generator=gen)
    for m, xb, yb in zip(twins, x, y, strict=True):
        m.train()
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        F.cross_entropy(m(xb), yb).backward()
        opt.step()
    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state(models)
    opt = torch.optim.SGD(list(params.values()), lr=0.1)
    base.train()
    logits = vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,)), randomness="different")(params, buffers, x)
    (F.cross_entropy(logits.flatten(0, 1), y.flatten()) * 2).backward()
    opt.step()
    for name, stacked in params.items():
        for i, m in enumerate(twins):
            torch.testing.assert_close(stacked[i], dict(m.named_parameters())[name], atol=1e-5, rtol=1e-4)
    for name, stacked in buffers.items():  # BatchNorm running statistics updated per model
        for i, m in enumerate(twins):
            torch.testing.assert_close(stacked[i].to(torch.float64), dict(m.named_buffers())[name].to(torch.float64),
                                       atol=1e-5, rtol=1e-4)
