from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from eqlab.groups import group_pool, rot90
from eqlab.models.base import Tap, TappedModel

ROOT = Path(__file__).resolve().parents[1]


def with_every_set(params: dict) -> dict:
    """``params`` with every optional run set enabled (eqlab.runsets), as `eqlab sets enable` leaves them."""
    from eqlab import runsets

    for name in runsets.status(params["train"]):
        runsets.enable(params["train"], name)
    return params


def _share_cores_between_workers() -> None:
    """Under pytest-xdist (`make test` runs ``-n auto --dist loadfile``) each worker gets its share of the cores, for
    torch in this process and, through OMP_NUM_THREADS, for the stages the tests start: two workers each
    running 2-thread torch on 2 cores spin against each other (training ran ~15x slower here)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


_share_cores_between_workers()


@pytest.fixture
def root() -> Path:
    return ROOT


def symmetrise(weight: torch.Tensor, with_flips: bool = False) -> torch.Tensor:
    """Average a kernel over its quarter turns (and mirror images): a C4- (D4-) invariant kernel."""
    ks = [rot90(weight, k) for k in range(4)]
    if with_flips:
        ks += [torch.flip(k, dims=(-1,)) for k in ks]
    return torch.stack(ks).mean(0)


class SymmetricNet(TappedModel):
    """Every conv kernel is D4-symmetric, padding symmetric, pools on even sizes: each tap satisfies
    φ(g·x) = g·φ(x) exactly for g in D4 (channel-wise, trivial representation)."""

    def __init__(self, seed: int = 0, n_classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(seed)
        c1 = nn.Conv2d(1, 4, 3, padding=1)
        c2 = nn.Conv2d(4, 8, 3, padding=1)
        with torch.no_grad():
            for c in (c1, c2):
                c.weight.copy_(symmetrise(c.weight, with_flips=True))
        self.blocks = nn.ModuleList([nn.Sequential(c1, nn.ELU()), nn.Sequential(c2, nn.MaxPool2d(2), nn.ELU())])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, n_classes))
        self.taps = (Tap("conv1", 4, 1), Tap("conv2", 8, 1))


@pytest.fixture
def symmetric_net() -> SymmetricNet:
    return SymmetricNet().double().eval()


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float) -> None:
    err = (a - b).abs().max().item()
    assert err <= tol, f"max abs difference {err:.3g} > {tol:.3g}"


__all__ = ["ROOT", "SymmetricNet", "assert_close", "group_pool", "math", "symmetrise"]


def pytest_collection_modifyitems(config, items) -> None:
    """The two smoke-DAG modules (minutes each; a module's tests share one copy of the repository, in
    order) are handed out first, one to each worker under pytest-xdist (``--dist loadfile``: a module's
    tests stay on one worker, in order); the rest of the suite fills in beside them. `make test` passes
    ``--no-loadscope-reorder``: xdist's default hands out the modules with the most tests first, which
    started test_pipeline.py (5 tests, ~5 min) a minute late and left the other worker idle at the end."""
    items.sort(key=lambda item: item.path.name not in ("test_pipeline.py", "test_pipeline_papers.py"))
