"""The datasets report: cards in a fixed order and the checks that can be made on the data alone
(claim ids: the dataset a check is about)."""

from __future__ import annotations

import json
from pathlib import Path

from eqlab.report.claims import Claim, verdict_of

ORDER = ("rot_mnist", "scale_mnist", "rot_tim", "r2_tim", "blobs")


def cards(cards_dir: str | Path) -> list[tuple[str, str, Path, dict]]:
    """(name, card markdown without its image line, examples.png path, meta) per dataset present."""
    out = []
    root = Path(cards_dir)
    names = [n for n in ORDER if (root / n).is_dir()] + sorted(
        p.name for p in root.iterdir() if p.is_dir() and p.name not in ORDER
    )
    for name in names:
        md = (root / name / "card.md").read_text(encoding="utf-8")
        md = "\n".join(line for line in md.splitlines() if not line.startswith("![examples]"))
        meta = json.loads((root / name / "meta.json").read_text(encoding="utf-8"))
        out.append((name, md, root / name / "examples.png", meta))
    return out


def claim_blob_difficulty(meta: dict) -> Claim:
    """Gradient magnitude finds level-1 boundaries and fails on textures: F(I) > F(II) ≥ F(III)."""
    text = "Blob difficulty ordering (gradient-magnitude F-measure): level I > level II ≥ level III"
    levels = meta.get("difficulty", {}).get("levels", {})
    if not {"level1", "level2", "level3"} <= set(levels):
        return Claim("blobs", text, verdict_of(None), "needs levels 1, 2 and 3")
    f1, f2, f3 = (levels[f"level{i}"]["f_measure"] for i in (1, 2, 3))
    return Claim("blobs", text, verdict_of(f1 > f2 >= f3), f"F = {f1:.3f} / {f2:.3f} / {f3:.3f}")


def claim_tim_not_colour(meta: dict) -> Claim | None:
    """Recorded only when the embedded stand-in was used: its classes must not follow from colour."""
    if meta.get("source") != "embedded" or "colour_baseline" not in meta:
        return None
    b = meta["colour_baseline"]
    return Claim(
        meta["dataset"],
        f"{meta['dataset']}: colour / mean intensity alone do not identify the class",
        verdict_of(b["accuracy"] < 2.5 * b["chance"]),
        f"logistic regression on per-channel mean and std: {b['accuracy']:.3f} (chance {b['chance']:.3f})",
    )
