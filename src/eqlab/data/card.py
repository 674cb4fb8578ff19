"""Dataset cards: what a dataset directory holds, where it came from, and what it looks like."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eqlab.data.store import Split
from eqlab.io import atomic_path, dumps_json

# How a per-sample factor is printed under its example (factors not listed are not shown; ``level`` names
# the rows of a dataset with dense targets instead)
FACTOR_CAPTIONS = {
    "angle": lambda v: f"{math.degrees(v):.0f}°",
    "scale": lambda v: f"×{v:.2f}",
    "hflip": lambda v: "h-flip" if v else "",
    "vflip": lambda v: "v-flip" if v else "",
}
FACTOR_NAMES = {
    "angle": "rotation angle (counter-clockwise)",
    "scale": "scale factor",
    "hflip": "flips",
    "vflip": "flips",
}


def _spread(indices: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``indices`` spread evenly over them (all of them when there are fewer)."""
    if len(indices) <= k:
        return indices
    return indices[np.linspace(0, len(indices) - 1, k).round().astype(int)]


def class_name(meta: dict[str, Any], label: int) -> str:
    classes = meta.get("classes")
    return str(classes[label]) if classes and 0 <= label < len(classes) else str(label)


def caption(split: Split, i: int) -> str:
    """What was done to sample ``i``: its factors as printed by ``FACTOR_CAPTIONS``."""
    parts = [
        FACTOR_CAPTIONS[f](float(v[i])) for f, v in split.factors.items() if f in FACTOR_CAPTIONS and np.isfinite(v[i])
    ]
    return " ".join(p for p in parts if p)


def example_layout(
    split: Split, meta: dict[str, Any], per_class: int = 3, max_classes: int = 10, pairs: int = 5
) -> tuple[list[str], list[str], list[list[tuple[np.ndarray, str]]]]:
    """(column labels, row labels, rows of (tile, caption)) for the example grid of ``split``.

    Classification data: one column per class (the first ``max_classes``), ``per_class`` examples
    spread over that class's samples, each captioned with its factors (angle, scale, flips). Data with
    dense targets: one row per label (its level, when the data has a ``level`` factor), ``pairs``
    (image, target) pairs."""
    labels = np.asarray(split.labels)
    present = [int(k) for k in np.unique(labels)]
    if split.targets is None:
        cols = present[:max_classes]
        picks = [_spread(np.flatnonzero(labels == k), per_class) for k in cols]
        rows = [
            [(split.images[p[r]], caption(split, p[r])) if r < len(p) else (None, "") for p in picks]
            for r in range(per_class)
        ]
        return [class_name(meta, k) for k in cols], [], rows
    level = split.factors.get("level")
    names, rows = [], []
    for k in present:
        idx = _spread(np.flatnonzero(labels == k), pairs)
        names.append(f"level {level[idx[0]]:g}" if level is not None else class_name(meta, k))
        target = [(split.targets[i] > 0).astype(np.uint8) * 255 for i in idx]  # 0/1 maps shown black/white
        rows.append([t for i, m in zip(idx, target) for t in ((split.images[i], caption(split, i)), (m, ""))])
    return ["image", "target"] * pairs, names, rows


def example_figure(splits: dict[str, Split], meta: dict[str, Any]) -> Figure:
    """The card's grid of training examples, labelled: classes (or image / target) over the columns,
    levels beside the rows, each example's transform under it; a line under the grid says what the
    captions are."""
    split = splits["train"]
    col_labels, row_labels, rows = example_layout(split, meta)
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig = Figure(figsize=(0.95 * n_cols + (0.7 if row_labels else 0.2), 1.12 * n_rows + 0.45))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            tile, text = row[c] if c < len(row) else (None, "")
            if tile is None:
                ax.axis("off")
                continue
            img = tile.transpose(1, 2, 0) if tile.shape[0] == 3 else tile[0]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xlabel(text, fontsize=7, labelpad=2)
            if r == 0:
                ax.set_title(col_labels[c], fontsize=7)
            if c == 0 and row_labels:
                ax.set_ylabel(row_labels[r], fontsize=8)
    shown = dict.fromkeys(FACTOR_NAMES[f] for f in split.factors if f in FACTOR_NAMES)
    what = "columns: class" if split.targets is None else "rows: level; image and its target side by side"
    fig.text(
        0.01,
        0.005,
        f"train examples · {what}" + (f" · under each: {', '.join(shown)}" if shown else ""),
        fontsize=7,
        ha="left",
        va="bottom",
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1), pad=0.3, h_pad=0.4, w_pad=0.2)
    return fig


def rgb_pixels(fig: Figure, dpi: int = 100) -> np.ndarray:
    """The figure drawn as uint8 RGB (H, W, 3) on its white background."""
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


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
        Image.fromarray(rgb_pixels(example_figure(splits, meta))).save(tmp / "examples.png", optimize=False)
