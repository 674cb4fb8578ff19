"""Where our small-scale IEN results depart from the paper, measured: each departure is a comparison
of one published quantity with ours, decided from the artifacts; the likely cause beside it is a
hypothesis (the experiment that would decide it is named, and the report says it was not run)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from eqlab.papers.ien.tables import LAYERS, by_model, ours_table5
from eqlab.report.results import accuracy_pct

COLUMNS = ("departure", "paper", "ours", "departs", "likely cause (hypothesis)")


@dataclass(frozen=True)
class Departure:
    what: str
    paper: float
    ours: float | None
    tolerance: float  # ours departs when ``ours < paper - tolerance`` (or above, see ``higher_is_worse``)
    unit: str
    cause: str
    higher_is_worse: bool = False

    @property
    def departs(self) -> bool | None:
        if self.ours is None or math.isnan(self.ours):
            return None
        if self.higher_is_worse:
            return self.ours > self.paper + self.tolerance
        return self.ours < self.paper - self.tolerance

    def row(self) -> dict:
        fmt = "{:+.1f} " + self.unit
        verdict = {None: "not measured (optional run set)", True: "yes",
                   False: "no"}[self.departs]
        ours = "—" if self.departs is None else fmt.format(self.ours)
        return dict(zip(COLUMNS, (self.what, fmt.format(self.paper), ours, verdict, self.cause), strict=True))


def _pub(published: pd.DataFrame, table: str, row: str, column: str) -> float:
    sel = published[(published.table == table) & (published.row == row) & (published.column == column)]
    return float(sel.value.iloc[0]) if len(sel) else float("nan")


def _config_acc(runs: pd.DataFrame, **match) -> float | None:
    """Mean test accuracy (%) over the runs (seeds) with these metadata values."""
    sel = runs
    for k, v in match.items():
        sel = sel[sel[k] == v]
    return float(accuracy_pct(sel).mean()) if len(sel) else None


def _error(runs: pd.DataFrame, **match) -> float | None:
    a = _config_acc(runs, **match)
    return None if a is None else 100.0 - a


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _orders(a: pd.Series, b: pd.Series) -> float:
    """Mean over layers of log10(a / b)."""
    ratio = (a.astype(float) / b.astype(float)).dropna()
    ratio = ratio[ratio > 0]
    return float(ratio.map(math.log10).mean()) if len(ratio) else float("nan")


def departures(results: pd.DataFrame, runs: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The departures the IEN report lists (``COLUMNS``), each measured on these artifacts."""
    mine = by_model(ours_table5(results, runs, "abs"))
    pub5 = published[published.table == "5"].pivot_table(index="row", columns="column", values="value")

    def acc(label: str) -> float | None:
        return float(mine.at[label, "acc"]) if label in mine.index else None

    beta = "IEN β=0.1"
    layers = [c for c in LAYERS if c in mine.columns and c in pub5.columns]
    margin_ours = (_orders(mine.loc["CNN (aug)", layers], mine.loc[beta, layers])
                   if {"CNN (aug)", beta} <= set(mine.index) else None)
    items = [
        Departure(
            "Rot-MNIST: IEN β=1 accuracy minus CNN-aug's",
            _pub(published, "5", "IEN β=1", "acc") - _pub(published, "5", "CNN (aug)", "acc"),
            _gap(acc("IEN β=1"), acc("CNN (aug)")), 2.0, "points",
            "β = 1 weighs the equivariance loss (summed over six layers and three rotations) as much as the task "
            "loss; our nets are 8× narrower and train 8 epochs on 3,000 digits, so there is little spare capacity "
            "to be equivariant and accurate at once. The medium experiment (below) tests it: wider and longer, the gap shrinks.",
        ),
        Departure(
            "R2-TIM VGG: IEN R4R accuracy minus CNN-aug's",
            _pub(published, "2", "R2-TIM IEN R4R", "acc") - _pub(published, "2", "R2-TIM CNN-aug", "acc"),
            _gap(_config_acc(runs, dataset="r2_tim", arch="vgg", family="cnn", augment=True, beta=0.01),
                 _config_acc(runs, dataset="r2_tim", arch="vgg", family="cnn", augment=True, beta=0.0)),
            2.0, "points",
            "R4R asks every layer for equivariance to all of D4 (flips too) at 1/16 of the paper's width, 32×32 "
            "inputs and 800 training images; one seed, so part of the gap may be seed noise (up to 3 points).",
        ),
        Departure(
            "Scale-MNIST: IEN error at 56×56 minus at 28×28",
            _pub(published, "8", "Scale-MNIST 56×56 IEN", "error") - _pub(published, "8", "Scale-MNIST 28×28 IEN",
                                                                          "error"),
            _gap(_error(runs, dataset="scale_mnist", family="cnn", beta=0.1, upsample=2),
                 _error(runs, dataset="scale_mnist", family="cnn", beta=0.1, upsample=1)),
            1.0, "points",
            "The 56×56 net is the 28×28 net on upsampled digits, with the same width and 1,000 training images; "
            "the paper's larger inputs come with its full schedule. One seed each.",
            higher_is_worse=True,
        ),
        Departure(
            f"Rot-MNIST: CNN-aug L_G over {beta}'s, orders of magnitude (mean over layers)",
            _orders(pub5.loc["CNN (aug)", layers], pub5.loc[beta, layers]) if len(layers) else float("nan"),
            margin_ours, 1.0, "orders",
            "Fewer epochs and narrower nets give the loss less room to drive L_G down; the paper's L_G are "
            "printed as orders of magnitude only, so the paper side is itself ±1 order.",
        ),
    ]
    return pd.DataFrame([d.row() for d in items], columns=list(COLUMNS))
