"""One claim type for every paper, and the verdict table the report notebooks show.

A paper's claims are functions over the collected tables (``papers/<paper>/claims.py``) that return
:class:`Claim` objects; this module knows nothing about any paper.
"""

from __future__ import annotations

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
