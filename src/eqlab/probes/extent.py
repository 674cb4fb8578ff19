"""The extent of equivariance probe (IEN, Eqs. 6–7) on held-out test images.

For each tap, over the *exact* elements of the run's group (R4: the quarter turns; R8: its quarter
turns; R4R: all of D4; scale: its rescalings, compared where both maps carry content), rows with
``transform`` = the group ID and ``metric`` ``abs`` (L_G = Σ_g MSE(g⁻¹·ĥ(g·x), ĥ(x))) and ``rel``
(Σ‖·‖² / Σ‖ĥ(x)‖²), beside their chance references (``rel_unrelated``, ``rel_invariant``) and the
variance-normalised errors (``rel_var*``) of :mod:`eqlab.probes.chance`. For rotation groups the odd
multiples of 45° (interpolated, compared inside the inscribed disk) are measured apart, as
``transform = "rot45_odd"``. The math is
:mod:`eqlab.metrics.equivariance`, shared with the IEN training loss.

Beside it, the **Lie derivative** of each tap (Gruver et al. 2022; :mod:`eqlab.probes.lie`) for the
continuous flows in ``flows`` (rotation, translations, scaling): rows with ``probe =
"lie_derivative"``, ``transform`` = the flow, ``metric`` ``abs`` (mean ‖Lĥ(x)‖² per image) and ``rel``
(Σ‖Lĥ(x)‖² / Σ‖ĥ(x)‖²), on the group-pooled maps like the extent. A C4-exact model reads ~0 extent but
a non-zero rotation Lie derivative: the two answer different questions (discrete group vs local
continuous motion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from eqlab.groups import exact_elements, get_transform, group_elements
from eqlab.models import TappedModel
from eqlab.probes import ROT45_ODD
from eqlab.probes.chance import measure_with_chance

PROBE = "extent_of_equivariance"
ODD45 = ("identity", "rot45", "rot135", "rot225", "rot315")


LIE_PROBE = "lie_derivative"


@dataclass(frozen=True)
class ExtentProfile:
    """``probe_extent.<profile>``."""

    n_images: int = field(metadata={"min": 1})  # the first n test images
    n_images_lie: int = field(default=256, metadata={"min": 1})  # the first n test images for the Lie derivative


def extent_rows(model: TappedModel, x: torch.Tensor, group: str, progress: bool = False) -> list[dict]:
    """Rows ``layer, transform, probe, metric, value`` for ``model`` (eval mode) on float images ``x``
    (a bar per part on stderr when ``progress``)."""
    rows: list[dict] = []
    parts = [(group, exact_elements(group_elements(group)))]
    if group != "scale":
        parts.append((ROT45_ODD, tuple(get_transform(n) for n in ODD45)))
    for transform, elements in parts:
        label = f"extent {transform}" if progress else None
        for layer, vals in measure_with_chance(model, x, elements, progress=label).items():
            for metric, v in vals.items():
                rows.append(dict(layer=layer, transform=transform, probe=PROBE, metric=metric, value=float(v)))
    return rows


def lie_rows(model: TappedModel, x: torch.Tensor, flows: tuple[str, ...], batch_size: int = 64) -> list[dict]:
    """Lie-derivative rows per tap and flow for ``model`` (eval mode) on float images ``x``."""
    from eqlab.measure import measure

    table = measure(model, x, metrics=("lie",), flows=flows, batch_size=batch_size)
    names = {"lie_abs": "abs", "lie_rel": "rel"}
    return [dict(layer=r.layer, transform=r.transform, probe=LIE_PROBE, metric=names[r.metric], value=float(r.value))
            for r in table.itertuples()]
