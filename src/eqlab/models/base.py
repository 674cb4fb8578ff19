"""The tapped-model contract shared by every architecture, and the pieces several families share.

Every model exposes its *taps*: the ordered layers whose outputs the equivariance loss, feature
extraction and probes read, each with its channel layout (``group_size`` contiguous channels per
feature group). ``forward_taps`` returns the logits and the tap outputs; ``forward_from(i, h)`` runs
the frozen tail from tap ``i`` (Lenc & Vedaldi's task-loss maps, stitching).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from eqlab.runs import RunSpec
from eqlab.groups import (
    TRIVIAL,
    Grid,
    Interp,
    Layout,
    Rep,
    Transform,
    act_on_features,
    group_pool,
    group_spec,
    het_layout,
)


@dataclass(frozen=True)
class Tap:
    """A named layer output: its channel layout, the representation its channels carry and its grid.

    Homogeneous: ``channels = n_groups × group_size``. Heterogeneous (Het-IEN): ``layout`` lists
    blocks ``(n_groups, group_size)`` in channel order and ``group_size`` is the largest size.

    The action of an element g on this tap's output is ``ρ(g)∘P_g`` (:meth:`act`): ``rep`` says
    what ρ is — ``"trivial"`` (every channel a scalar field; the plain IEN nets, whose feature
    groups are only pooled) or a group ID whose *regular* representation permutes the ``|G|``
    channels of each field (the e2cnn twins) — and ``grid`` where the feature pixels sit on the image
    (``None``: centred on the image grid, the stride read from the sizes; every architecture here is
    built that way) so that P_g is the same action as on images.
    """

    name: str
    channels: int
    group_size: int
    layout: tuple[tuple[int, int], ...] | None = None
    rep: str = "trivial"
    grid: Grid | None = None

    def representation(self) -> Rep:
        """ρ: the trivial representation, or the regular representation of group ``rep``."""
        if self.rep == "trivial":
            return TRIVIAL
        regular = group_spec(self.rep).regular
        if regular is None or regular.size != self.group_size:
            raise ValueError(f"tap {self.name!r}: group {self.rep!r} has no regular representation of size "
                             f"{self.group_size}")
        return regular

    def act(self, h: torch.Tensor, g: Transform, image_size: tuple[int, int] | None = None,
            interp: Interp = "bilinear") -> torch.Tensor:
        """``ρ(g)·P_g·h`` for this tap's output ``h`` (``image_size`` is needed with an explicit grid)."""
        return act_on_features(h, g, self.representation(), self.grid, image_size, interp)

    @property
    def blocks(self) -> tuple[tuple[int, int], ...]:
        return self.layout if self.layout is not None else ((self.channels // self.group_size, self.group_size),)

    @property
    def n_groups(self) -> int:
        return sum(n for n, _ in self.blocks)


def channel_layouts(
    fields: tuple[int, ...], het: tuple[int, ...] | None, group_size: int
) -> tuple[list[Layout | None], list[int]]:
    """Per layer: the Het-IEN layout (None without ``het``) and the channel count (fields × |G|, or
    the layout's total)."""
    if het is not None and het[0] != group_size:
        raise ValueError(f"het group sizes {het} must start with the group size {group_size}")
    layouts = [het_layout(f, tuple(het)) if het else None for f in fields]
    chans = [sum(n * g for n, g in lay) if lay else f * group_size for f, lay in zip(fields, layouts, strict=True)]
    return layouts, chans


def ien_fields(base: int, mult: tuple[int, ...], group_size: int, width: float) -> tuple[int, ...]:
    """Fields per layer of the TinyImageNet nets (IEN Tables 6–7): ``base`` is the R4 value; larger
    groups get ``base·√(4/|G|)`` fields, so IEN, CNN and E2CNN keep equal inference channels."""
    f = base * math.sqrt(4 / group_size)
    return tuple(max(1, round(round(f) * width * m)) for m in mult)


def family_kwargs(run: RunSpec, width: float) -> dict[str, Any]:
    """The builder arguments every architecture shares: ``width``, then the e2cnn twin's ``group`` or
    the plain net's ``group_size`` (fields × |G| channels) and Het-IEN layout."""
    if run.family == "e2cnn":
        return {"width": width, "group": run.group}
    kwargs: dict[str, Any] = {"width": width, "group_size": run.group_size}
    if run.het:
        kwargs["het"] = list(run.het)
    return kwargs


def build_family(plain: type[TappedModel], twin: type[TappedModel], family: str, **kwargs: Any) -> TappedModel:
    """``plain(**kwargs)`` for family ``cnn`` (``het`` as a tuple), ``twin(**kwargs)`` for ``e2cnn``."""
    if family == "e2cnn":
        return twin(**kwargs)
    het = kwargs.pop("het", None)
    return plain(het=tuple(het) if het else None, **kwargs)


class TappedModel(nn.Module):
    """``blocks[i]`` maps tap ``i-1``'s output (the image for ``i = 0``) to tap ``i``'s output;
    ``head`` maps the last tap to logits."""

    taps: tuple[Tap, ...]
    blocks: nn.ModuleList
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def forward_taps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return self.head(x), outs

    def forward_from(self, index: int, h: torch.Tensor) -> torch.Tensor:
        """Logits from tap ``index``'s output ``h`` (the frozen tail ψ)."""
        for block in self.blocks[index + 1 :]:
            h = block(h)
        return self.head(h)

    def tap_index(self, name: str) -> int:
        names = [t.name for t in self.taps]
        if name not in names:
            raise ValueError(f"unknown layer {name!r}; this model's taps: {names}")
        return names.index(name)


class Resize(nn.Module):
    """Bilinear resize to ``size × size`` (identity when the input already has that size). Separable
    and symmetric about the centre, so it commutes with quarter turns and mirrors."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.size and x.shape[-2] == self.size:
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False)


class GroupPoolHead(nn.Module):
    """Group pooling → global max-pool → FC → BN → ELU → FC."""

    def __init__(self, group_size: int | Layout, fields: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.group_size = group_size
        self.fc1 = nn.Linear(fields, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = group_pool(h, self.group_size).amax(dim=(-2, -1))  # (B, fields)
        return self.fc2(nn.functional.elu(self.bn(self.fc1(z))))


class PoolAvgHead(nn.Module):
    """Group pooling → global average pool → ``hidden`` layers (FC → BN → ReLU) → classifier."""

    def __init__(self, group_size: int | Layout, fields: int, n_classes: int, hidden: int | None = None) -> None:
        super().__init__()
        self.group_size = group_size
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(fields, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            fields = hidden
        layers.append(nn.Linear(fields, n_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(group_pool(h, self.group_size).mean(dim=(-2, -1)))
