"""Seeds fused into one model with ``torch.func`` (``stack_module_state`` + ``vmap``) versus trained
one after another: the training-step time of K seeds of one small-profile architecture, both ways.

Issue 11 suggested batched ensembles to make ≥ 3 seeds affordable. ``vmap`` over convolution
weights becomes one grouped convolution (groups = K); whether that beats K separate convolutions is a
property of the machine's kernels, so it is measured here rather than assumed. On the 2-core AMD EPYC
this project is timed on it does not pay (ratios < 1), and the pipeline keeps one process per seed.

Run alone: ``python bench/ensemble.py`` (a few seconds per architecture).
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from eqlab.groups import group_elements
from eqlab.metrics.equivariance import stack_orbit
from eqlab.models import build_model, model_kwargs
from eqlab.runs import run_spec

# (arch, dataset, width, input size, channels) as the small profile trains them (params.yaml train.small)
SMALL = (("rotmnist6", "rot_mnist", 0.125, 28, 1), ("vgg", "rot_tim", 0.0625, 32, 3),
         ("resnet18", "rot_tim", 0.0625, 32, 3))


@dataclass(frozen=True)
class EnsembleTiming:
    arch: str
    k: int
    sequential_s: float  # one step of each of the K models, one after another
    ensemble_s: float  # one step of the K models fused with vmap

    @property
    def speedup(self) -> float:
        return self.sequential_s / self.ensemble_s


def _models(arch: str, dataset: str, width: float, size: int, channels: int, k: int, n_classes: int) -> list:
    spec = run_spec("bench", {"family": "cnn", "arch": arch, "dataset": dataset, "group": "r4", "seed": 0,
                              "ien": {"augment": True, "beta": 0.0}})
    kwargs = model_kwargs(spec, width, size)
    kwargs.update(in_channels=channels, n_classes=n_classes)
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(build_model(arch, "cnn", **kwargs))
    return out


def _median_time(step, repeats: int) -> float:
    step()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(arch: str, dataset: str, width: float, size: int, channels: int, k: int = 3, batch: int = 64,
            repeats: int = 5, n_classes: int = 10) -> EnsembleTiming:
    """Median step time of K CNN-aug models (R4 copies, cross-entropy, Adam) both ways, same data."""
    from torch.func import functional_call, stack_module_state, vmap

    elements = group_elements("r4")
    size = size + 1 if arch == "resnet18" else size  # ResNet18 takes odd sizes (centred stride-2 grids)
    models = _models(arch, dataset, width, size, channels, k, n_classes)
    gen = torch.Generator().manual_seed(0)
    xs = [stack_orbit(torch.rand(batch, channels, size, size, generator=gen), elements) for _ in range(k)]
    ys = [torch.randint(0, n_classes, (batch,), generator=gen).repeat(len(elements)) for _ in range(k)]
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

    def sequential() -> None:
        for m, opt, x, y in zip(models, opts, xs, ys, strict=True):
            m.train()
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    base = copy.deepcopy(models[0]).to("meta")
    params, buffers = stack_module_state(models)
    ens_opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    x_all, y_all = torch.stack(xs), torch.stack(ys)

    def ensemble() -> None:
        base.train()
        logits = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), randomness="different")(
            params, buffers, x_all)
        loss = F.cross_entropy(logits.flatten(0, 1), y_all.flatten()) * k  # = Σ of the K models' losses
        ens_opt.zero_grad()
        loss.backward()
        ens_opt.step()

    return EnsembleTiming(arch, k, _median_time(sequential, repeats), _median_time(ensemble, repeats))


def main() -> None:
    for row in SMALL:
        t = measure(*row)
        print(f"{t.arch:10s} K={t.k}: sequential {t.sequential_s * 1e3:.0f} ms, vmap ensemble "
              f"{t.ensemble_s * 1e3:.0f} ms per step of all K: {t.speedup:.2f}x", flush=True)


if __name__ == "__main__":
    main()
