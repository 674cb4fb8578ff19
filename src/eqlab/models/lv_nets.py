"""Lenc & Vedaldi's network analogues for 32×32 images: the common shape and the family registry.

A net is an ordered list of blocks (:class:`TappedStages`): block ``i`` maps tap ``taps[i − 1]``'s output
(before the ReLU, as the paper takes conv features) to tap ``taps[i]``'s. ``forward_to(tap, x)`` returns the
tap's features, ``forward_from(tap, h)`` runs the frozen tail, and each conv tap carries its
:class:`~eqlab.groups.Grid` on the image, so P_g for an image transform g is
``grid.transform(g, (32, 32), (h, w))`` (a translation is picked up on uncentred grids).

Families are modules ``eqlab.models.lv_<family>`` (``lv_anet``: ANet and CNet; ``lv_vgg``: Vgg16;
``lv_resnet``: ResN50), each with ``ARCHS`` and ``build(arch, n_classes)``; a net names its family and
arch in params (``lenc_vedaldi_nets.nets.<id>``), and its ``train_lv`` stage depends on that module only,
so adding a family retrains nothing that exists.
"""

from __future__ import annotations

import importlib
import pkgutil

import torch
from torch import nn

from eqlab.groups import Grid

TAPS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")  # the AlexNet-style tap names
IMAGE = 32
NOT_FAMILIES = ("lv_nets", "lv_train")


class TappedStages(nn.Module):
    """A net as an ordered list of blocks; block ``i`` maps tap ``taps[i - 1]``'s output to tap ``taps[i]``'s
    (the last block: the last tap to the logits). Subclasses set ``taps``, ``grids`` and ``stages``."""

    taps: tuple[str, ...]
    grids: dict[str, Grid]
    stages: nn.ModuleList

    def tap_index(self, tap: str) -> int:
        if tap not in self.taps:
            raise ValueError(f"unknown tap {tap!r}; taps: {list(self.taps)}")
        return self.taps.index(tap)

    def tap_grid(self, tap: str) -> Grid | None:
        """The tap's grid on the image (None for FC taps, where P_g = I)."""
        self.tap_index(tap)
        return self.grids.get(tap)

    def forward_to(self, tap: str, x: torch.Tensor) -> torch.Tensor:
        """φ(x) at ``tap``: (B, C, H, W) for conv taps, (B, C) for FC taps (pre-ReLU)."""
        h = x
        for stage in self.stages[: self.tap_index(tap) + 1]:
            h = stage(h)
        return h

    def forward_from(self, tap: str, h: torch.Tensor) -> torch.Tensor:
        """ψ(h): the tail after ``tap`` (logits)."""
        for stage in self.stages[self.tap_index(tap) + 1 :]:
            h = stage(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) → (B, n_classes)
        for stage in self.stages:
            x = stage(x)
        return x


def families() -> list[str]:
    """The family modules ``eqlab.models.lv_<family>`` that exist."""
    import eqlab.models

    names = (m.name for m in pkgutil.iter_modules(eqlab.models.__path__))
    return sorted(n.removeprefix("lv_") for n in names if n.startswith("lv_") and n not in NOT_FAMILIES)


def family_module(family: str, arch: str):
    """The module of ``family`` after checking it provides ``arch`` (unknown names: ValueError listing the
    allowed ones); nothing is built."""
    if family not in (known := families()):
        raise ValueError(f"unknown family {family!r}; families: {known}")
    module = importlib.import_module(f"eqlab.models.lv_{family}")
    if arch not in module.ARCHS:
        raise ValueError(f"family {family!r} has no arch {arch!r}; its archs: {list(module.ARCHS)}")
    return module


def build(family: str, arch: str, n_classes: int) -> TappedStages:
    """A fresh net ``arch`` of family ``family`` (:func:`family_module` checks the names)."""
    return family_module(family, arch).build(arch, n_classes)
