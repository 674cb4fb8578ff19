"""The dataset card's example grid is labelled: classes over the columns (or levels beside the rows for
data with dense targets), each example's transform under it; the PNG is the same bytes every time."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from eqlab.data.card import caption, example_layout, write_card
from eqlab.data.store import Split


def _classification(n: int = 12, classes: int = 3) -> Split:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 3, 8, 8), dtype=np.uint8)
    labels = np.arange(n) % classes
    factors = {
        "angle": np.linspace(0, math.pi, n).astype(np.float32),
        "hflip": (np.arange(n) % 2).astype(np.float32),
        "vflip": np.zeros(n, np.float32),
    }
    return Split(images, labels.astype(np.int64), factors)


def _with_targets(per_level: int = 4) -> Split:
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 2], per_level)
    images = rng.integers(0, 256, (len(labels), 1, 8, 8), dtype=np.uint8)
    targets = (rng.random((len(labels), 1, 8, 8)) > 0.5).astype(np.uint8)
    return Split(images, labels.astype(np.int64), {"level": labels.astype(np.float32)}, targets)


def test_classification_grid_has_a_column_per_class_and_transforms_under_the_examples():
    split = _classification()
    cols, rows_labels, rows = example_layout(split, {"classes": ["astronaut", "coffee", "moon"]}, per_class=2)
    assert cols == ["astronaut", "coffee", "moon"] and rows_labels == [] and len(rows) == 2
    assert all(len(r) == 3 for r in rows)
    i = 4  # class 1 (4 % 3), angle 4/11·180°, h-flipped neither (4 % 2 == 0)
    assert caption(split, i) == f"{math.degrees(float(split.factors['angle'][i])):.0f}°"
    assert caption(split, 1).endswith("h-flip")
    for r in rows:
        for c, (tile, text) in enumerate(r):
            idx = next(k for k in range(len(split.labels)) if np.array_equal(split.images[k], tile))
            assert split.labels[idx] == c and text == caption(split, idx)


def test_target_grid_has_a_row_per_level_of_image_target_pairs():
    split = _with_targets()
    cols, row_labels, rows = example_layout(split, {}, pairs=3)
    assert row_labels == ["level 1", "level 2"] and cols == ["image", "target"] * 3
    assert all(len(r) == 6 for r in rows)
    assert {int(v) for t, _ in rows[0][1::2] for v in np.unique(t)} <= {0, 255}  # targets drawn black/white


def test_card_png_is_labelled_rgb_and_byte_stable(tmp_path):
    split = _classification()
    meta = {"source": "embedded", "source_requested": "auto", "origin": "test", "protocol": {},
            "splits": {"train": {"n": 12, "shape": [3, 8, 8], "class_counts": [4, 4, 4]}}}  # fmt: skip
    for out in ("a", "b"):
        write_card(tmp_path / out, "demo", "Demo", {"train": split}, meta, {}, {})
    a, b = (tmp_path / "a" / "examples.png").read_bytes(), (tmp_path / "b" / "examples.png").read_bytes()
    assert a == b
    assert Image.open(tmp_path / "a" / "examples.png").mode == "RGB"
