"""Learning-rate schedule of the IEN paper: a linear one-cycle then a flat tail.

``lr_min → lr_max`` over the first ``rise`` fraction of ``cycle_steps``, back to ``lr_min`` by the
end of the cycle, then ``lr_min`` for the tail. (PyTorch's ``OneCycleLR`` defaults differ — cosine
annealing, a different floor, and it cycles Adam's β1 — so the schedule is written out here.)
"""

from __future__ import annotations


def get_lr(step: int, cycle_steps: int, lr_min: float, lr_max: float, rise: float) -> float:
    if cycle_steps <= 0 or step >= cycle_steps:
        return lr_min
    peak = max(1, round(rise * cycle_steps))
    if step < peak:
        return lr_min + (lr_max - lr_min) * step / peak
    return lr_max - (lr_max - lr_min) * (step - peak) / max(1, cycle_steps - peak)
