"""The extent of equivariance probe (IEN, Eqs. 6–7) on held-out test images.

For each tap, over the *exact* elements of the run's group (R4: the quarter turns; R8: its quarter
turns; R4R: all of D4; scale: its rescalings, compared where both maps carry content), rows with
``transform`` = the group ID and ``metric`` ``abs`` (L_G = Σ_g MSE(g⁻¹·ĥ(g·x), ĥ(x))) and ``rel``
(Σ‖·‖² / Σ‖ĥ(x)‖²). For rotation groups the odd multiples of 45° (interpolated, compared inside the
inscribed disk) are measured apart, as ``transform = "rot45_odd"``. The math is
:mod:`eqlab.metrics.equivariance`, shared with the IEN training loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from eqlab.groups import exact_elements, get_transform, group_elements
from eqlab.metrics.equivariance import measure_equivariance
from eqlab.models import TappedModel

PROBE = "extent_of_equivariance"
ROT45_ODD = "rot45_odd"  # the odd multiples of 45° (rot45, rot135, rot225, rot315), reported apart
ODD45 = ("identity", "rot45", "rot135", "rot225", "rot315")


@dataclass(frozen=True)
class ExtentProfile:
    """``probe_extent.<profile>``."""

    n_images: int = field(metadata={"min": 1})  # the first n test images


def extent_rows(model: TappedModel, x: torch.Tensor, group: str) -> list[dict]:
    """Rows ``layer, transform, probe, metric, value`` for ``model`` (eval mode) on float images ``x``."""
    rows: list[dict] = []
    parts = [(group, exact_elements(group_elements(group)))]
    if group != "scale":
        parts.append((ROT45_ODD, tuple(get_transform(n) for n in ODD45)))
    for transform, elements in parts:
        for layer, vals in measure_equivariance(model, x, elements).items():
            for metric, v in vals.items():
                rows.append(dict(layer=layer, transform=transform, probe=PROBE, metric=metric, value=float(v)))
    return rows
