"""The typed run spec: what one short run ID in ``train.models`` stands for.

A run is a model (``family`` × ``arch``) trained on a ``dataset`` with a ``seed``. Its ``group`` is the
symmetry the run is about: it fixes the channel layout of group-structured models (``fields × |G|``
channels, every ``|G|`` contiguous channels one feature group), the e2cnn space of an e2cnn twin, and
the elements the IEN loss and the extent-of-equivariance probe use. A model without groups leaves it
out (one channel per group). The optional ``ien`` block holds what only IEN-style training reads::

    cnn_aug:  {family: cnn, arch: rotmnist6, dataset: rot_mnist, group: r4, seed: 0,
               ien: {augment: true, beta: 0.0}}
    e2cnn_c4: {family: e2cnn, arch: rotmnist6, dataset: rot_mnist, group: r4, seed: 0}

:func:`run_spec` builds and checks one entry; every error names the params key and what is allowed.
Architecture rules (which arch takes upsampling, which sizes a net needs) live with the architecture
(``eqlab.models.<arch>.model_kwargs``), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from eqlab.groups import GROUPS
from eqlab.params import ParamError, build, check_choice

Family = Literal["cnn", "e2cnn"]
FAMILIES: tuple[str, ...] = ("cnn", "e2cnn")
# groups an e2cnn twin can be built for (regular fields of C4, C8 and D4)
E2CNN_GROUPS: tuple[str, ...] = ("r4", "r8", "r4r")


@dataclass(frozen=True)
class IENSpec:
    """The IEN block: group copies in every batch and the equivariance loss on group-pooled taps."""

    augment: bool = False  # every batch also carries its copies g·x for g in the run's group
    beta: float = field(default=0.0, metadata={"min": 0.0})  # weight of Σ_layers Σ_g MSE(g⁻¹·ĥ(g·x), ĥ(x))
    het: tuple[int, ...] = ()  # Het-IEN group sizes, e.g. [4, 2, 1]; empty = one group size


@dataclass(frozen=True)
class RunSpec:
    """``train.models.<run>``."""

    family: Family  # cnn: plain convolutions; e2cnn: the exactly equivariant twin
    arch: str  # a key of eqlab.models.ARCHS
    dataset: str
    group: str | None = None  # a key of eqlab.groups.GROUPS; None = no feature groups
    seed: int = 0
    upsample: int = field(default=1, metadata={"min": 1, "max": 4})  # ×k at the input (Scale-MNIST 56×56)
    ien: IENSpec | None = None

    @property
    def group_size(self) -> int:
        return len(GROUPS[self.group]) if self.group else 1

    @property
    def augment(self) -> bool:
        return self.ien is not None and self.ien.augment

    @property
    def beta(self) -> float:
        return self.ien.beta if self.ien is not None else 0.0

    @property
    def het(self) -> tuple[int, ...]:
        return self.ien.het if self.ien is not None else ()


def run_spec(name: str, entry: Any, archs: Mapping[str, Any] | None = None) -> RunSpec:
    """Build and check ``train.models.<name>``; ``archs`` (default: the model registry) lists the
    known architectures."""
    key = f"train.models.{name}"
    run = build(RunSpec, entry, key)
    if archs is None:
        from eqlab.models import ARCHS as archs
    check_choice(f"{key}.arch", run.arch, sorted(archs))
    if run.group is not None:
        check_choice(f"{key}.group", run.group, list(GROUPS))
    if run.family == "e2cnn":
        if run.group not in E2CNN_GROUPS:
            raise ParamError(f"params key '{key}.group' is {run.group!r}; e2cnn models support {list(E2CNN_GROUPS)}")
        if run.ien is not None:
            raise ParamError(f"params key '{key}.ien': an e2cnn twin is equivariant by construction; "
                             "the IEN block (augment, beta, het) applies to family 'cnn' only")
    if run.ien is not None:
        if run.group is None:
            raise ParamError(f"params key '{key}.ien' needs '{key}.group' (the elements the loss compares)")
        if run.ien.beta > 0 and not run.ien.augment:
            raise ParamError(f"params key '{key}.ien.beta' is {run.ien.beta:g} with augment: false; the loss "
                             "compares each image with its own group copies, so beta > 0 needs augment: true")
        if run.ien.het and run.ien.het[0] != run.group_size:
            raise ParamError(f"params key '{key}.ien.het' must start with the group size {run.group_size} of group "
                             f"{run.group!r}, got {list(run.ien.het)}")
    return run


def run_specs(models: Mapping[str, Any]) -> dict[str, RunSpec]:
    """Every run of ``train.models``, checked."""
    return {name: run_spec(name, entry) for name, entry in models.items()}


def describe(run: RunSpec) -> dict[str, Any]:
    """Flat, JSON-safe metadata of a run (the collected runs table and the model's config.json)."""
    return {"family": run.family, "arch": run.arch, "dataset": run.dataset, "group": run.group or "",
            "augment": run.augment, "beta": run.beta, "seed": run.seed, "het": "-".join(map(str, run.het)),
            "upsample": run.upsample}
