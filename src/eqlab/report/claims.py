"""One claim type for every paper, and the verdict table the report notebooks show.

A paper's claims are functions over the collected tables (``papers/<paper>/claims.py``) that return
:class:`Claim` objects; this module knows nothing about any paper.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

HOLDS, FAILS, OPEN = "holds", "does not hold", "not established"
VERDICTS = (HOLDS, FAILS, OPEN)


def verdict_of(ok: bool | None) -> str:
    """True → holds, False → does not hold, None (not measurable from these artifacts) → not established."""
    return OPEN if ok is None else HOLDS if ok else FAILS


@dataclass(frozen=True)
class Claim:
    """A paper's claim, checked on our artifacts.

    ``id`` is the claim's number as the paper (or its summary) numbers it, e.g. ``"3"`` or ``"6a"``;
    several rows may share one number when a claim is checked per run or per case. ``interval`` is the
    (low, high) interval the verdict was decided by and ``n`` the number of runs behind it, when known.
    """

    id: str
    text: str
    verdict: str
    evidence: str
    interval: tuple[float, float] | None = None
    n: int | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id!r}: verdict {self.verdict!r} is not one of {list(VERDICTS)}")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"claim {self.text!r}: id must be a non-empty string, got {self.id!r}")
        if self.interval is not None:
            low, high = self.interval
            if not low <= high:
                raise ValueError(f"claim {self.id!r}: interval {self.interval} has low > high")
        if self.n is not None and self.n < 0:
            raise ValueError(f"claim {self.id!r}: n = {self.n} < 0")


def interval_claim(cid: str, text: str, values, what: str, above: float | None = None, below: float | None = None,
                   scale: float = 1.0, unit: str = "", digits: int = 3, runs: str = "seeds") -> Claim:
    """A claim decided by the 95 % t-interval of per-run ``values`` (:func:`eqlab.report.intervals.mean_interval`):
    holds when it lies above ``above`` and below ``below`` (either may be None), does not hold when it lies
    wholly on the wrong side of one, else not established; never decided with fewer than
    :data:`~eqlab.report.intervals.MIN_SEEDS` runs. The evidence quotes ``what`` with the mean, the interval
    and each run, multiplied by ``scale`` and shown with ``digits`` decimals and ``unit`` (``scale=100,
    unit=" points"`` shows fractions as signed points); the claim keeps the unscaled interval."""
    from eqlab.report.intervals import MIN_SEEDS, mean_interval

    v = [float(x) for x in values]
    if missing := sum(math.isnan(x) for x in v):
        return Claim(cid, text, verdict_of(None), f"{what}: missing for {missing} of {len(v)} {runs}", n=len(v))
    if len(v) < MIN_SEEDS:
        return Claim(cid, text, verdict_of(None), f"needs ≥ {MIN_SEEDS} {runs}, have {len(v)}", n=len(v))
    iv = mean_interval(v)
    ok = (above is None or iv.low > above) and (below is None or iv.high < below)
    bad = (above is not None and iv.high < above) or (below is not None and iv.low > below)
    f = (lambda x: f"{scale * x:+.{digits}f}") if unit else (lambda x: f"{scale * x:.{digits}f}")
    ev = (f"{what}: {f(iv.estimate)}{unit} [{f(iv.low)}, {f(iv.high)}] over {len(v)} {runs} "
          f"({', '.join(f(x) for x in v)})")
    return Claim(cid, text, verdict_of(True if ok else False if bad else None), ev, interval=(iv.low, iv.high), n=len(v))


def verdict_table(claims: Iterable[Claim], ids: bool = True, label: str = "claim") -> pd.DataFrame:
    """One row per claim, in the order given: ``id`` (with ``ids``), the full text (column ``label``),
    ``verdict``, ``evidence``; ``interval`` and ``n`` only when some claim has them."""
    claims = list(claims)
    rows = []
    for c in claims:
        row = {"id": c.id} if ids else {}
        row.update({label: c.text, "verdict": c.verdict, "evidence": c.evidence})
        rows.append(row)
    columns = (["id"] if ids else []) + [label, "verdict", "evidence"]
    df = pd.DataFrame(rows, columns=columns)
    if any(c.interval is not None for c in claims):
        df["interval"] = [c.interval for c in claims]
    if any(c.n is not None for c in claims):
        df["n"] = pd.array([c.n for c in claims], dtype="Int64")
    return df


def by_id(claims: Iterable[Claim]) -> list[Claim]:
    """Claims in the paper's order of numbers ("1" < "1a" < "1b" < "2" < … < "10"; ids that are not
    numbered, e.g. a dataset's name, last, alphabetically), keeping the given order within one id."""

    def key(c: Claim) -> tuple:
        m = re.fullmatch(r"(\d+)(.*)", c.id)
        return (0, int(m.group(1)), m.group(2)) if m else (1, 0, c.id)

    return sorted(claims, key=key)
