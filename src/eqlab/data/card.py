"""Dataset cards: what a dataset directory holds, where it came from, and what it looks like."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eqlab.data.store import Split
from eqlab.io import atomic_path, dumps_json


def example_grid(splits: dict[str, Split], per_row: int = 10, rows: int = 3) -> np.ndarray:
    """uint8 RGB mosaic of the first training images (and their targets, if any), 1-px gaps."""
    s = splits["train"]
    # spread the picks over the split so every class / level shows up
    n_tiles = per_row * rows if s.targets is None else per_row * rows // 2
    pick = np.linspace(0, len(s.labels) - 1, n_tiles).round().astype(int)
    tiles = [s.images[i] for i in pick]
    if s.targets is not None:
        tiles = [t for i in pick for t in (s.images[i], s.targets[i] * 255)]
    c, h, w = s.images.shape[1:]
    grid = np.full((rows * (h + 1) + 1, per_row * (w + 1) + 1, 3), 255, np.uint8)
    for k, tile in enumerate(tiles[: per_row * rows]):
        r, col = divmod(k, per_row)
        rgb = np.repeat(tile, 3, axis=0) if tile.shape[0] == 1 else tile
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = rgb.transpose(1, 2, 0)
    return grid


def card_markdown(name: str, title: str, meta: dict[str, Any], params: dict[str, Any], sizes: dict[str, Any]) -> str:
    lines = [
        f"# Dataset card: {title} (`{name}`)",
        "",
        f"- **source used**: `{meta['source']}` (asked: `{meta['source_requested']}`)",
        f"- **origin**: {meta['origin']}",
        f"- **profile**: `{meta.get('profile', '?')}`",
        "",
    ]
    lines += ["| split | n | image shape | class counts |", "|---|---|---|---|"]
    for split, info in meta["splits"].items():
        lines.append(f"| {split} | {info['n']} | {'×'.join(map(str, info['shape']))} | {info['class_counts']} |")
    if "classes" in meta:
        lines += ["", "Classes: " + ", ".join(f"{i}: `{c}`" for i, c in enumerate(meta["classes"]))]
    lines += ["", "## Protocol", ""] + [f"- {k}: {v}" for k, v in meta["protocol"].items()]
    if "difficulty" in meta:
        lines += [
            "",
            "## Difficulty",
            "",
            meta["difficulty"]["metric"],
            "",
            "| level | F | precision | recall | threshold |",
            "|---|---|---|---|---|",
        ]
        for lev, d in meta["difficulty"]["levels"].items():
            lines.append(
                f"| {lev} | {d['f_measure']:.3f} | {d['precision']:.3f} | {d['recall']:.3f} | {d['threshold']:.2f} |"
            )
    lines += [
        "",
        "## Params",
        "",
        "```",
        *(f"{k}: {v}" for k, v in {**params, **sizes}.items()),
        "```",
        "",
        "![examples](examples.png)",
        "",
    ]
    return "\n".join(lines)


def write_card(
    out: str | Path,
    name: str,
    title: str,
    splits: dict[str, Split],
    meta: dict[str, Any],
    params: dict[str, Any],
    sizes: dict[str, Any],
) -> None:
    from PIL import Image

    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "card.md").write_text(card_markdown(name, title, meta, params, sizes), encoding="utf-8")
        (tmp / "meta.json").write_text(dumps_json(meta), encoding="utf-8")
        Image.fromarray(example_grid(splits)).save(tmp / "examples.png", optimize=False)
