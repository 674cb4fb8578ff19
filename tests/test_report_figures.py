"""Report figures: each per-layer figure has the title it is given, every curve its own look, and no
label in the accuracy-equivariance scatter can overlap another."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from eqlab.papers.ien import plots as ien_plots
from eqlab.papers.ien import tables
from eqlab.report.plots import equivariance_by_layer, line_styles, training_curves

matplotlib.use("Agg")


def _extent_rows(runs: list[str], layers=("conv1", "conv2")) -> pd.DataFrame:
    return pd.DataFrame(
        [
            dict(run=r, probe="extent_of_equivariance", metric=m, layer=layer, transform="r4", value=0.1 * (i + 1))
            for i, r in enumerate(runs)
            for m in ("abs", "rel")
            for layer in layers
        ]
    )


def _looks(ax) -> list[tuple]:
    return [(matplotlib.colors.to_hex(ln.get_color()), ln.get_linestyle(), ln.get_marker()) for ln in ax.lines]


def test_per_layer_figure_has_the_title_it_was_asked_for():
    runs = [f"run{i}" for i in range(12)]
    fig = equivariance_by_layer(_extent_rows(runs), pd.DataFrame({"run": runs}), title="rot_tim, vgg")
    assert fig.get_suptitle() == "rot_tim, vgg"
    assert [ax.get_title() for ax in fig.axes[:2]] == ["L_G (absolute MSE, group-pooled)", "relative error"]
    colours = [c for c, _, _ in _looks(fig.axes[0])]
    assert len(colours) == 12 and len(set(colours)) == 12


@pytest.mark.parametrize("n", [1, 4, 10, 12, 20, 21, 45])
def test_line_styles_are_distinct(n: int):
    styles = line_styles([f"run{i}" for i in range(n)])
    looks = [(matplotlib.colors.to_hex(s["color"]), s["ls"], s["marker"]) for s in styles.values()]
    assert len(set(looks)) == n
    if n <= 20:
        assert len({c for c, _, _ in looks}) == n


def test_twelve_training_curves_are_all_distinct(tmp_path: Path):
    runs = [f"tim_run{i:02d}" for i in range(12)]
    for i, run in enumerate(runs):
        for rel, col in (("val/acc.tsv", "acc"), ("train/loss.tsv", "loss")):
            p = tmp_path / run / "plots" / "metrics" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"step\t{col}\n0\t{0.1 + i / 100}\n1\t{0.2 + i / 100}\n")
    fig = training_curves(tmp_path, runs, title="rot_tim")
    for ax in fig.axes[:2]:
        looks = _looks(ax)
        assert len(looks) == 12 and len({c for c, _, _ in looks}) == 12


def _text_overlaps(fig) -> list[tuple[str, str]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for (a, ba), (b, bb) in combinations(boxes, 2) if ba.overlaps(bb)]


def test_accuracy_vs_equivariance_labels_do_not_overlap():
    models = [("CNN", 0.0, 88.5, 0.45), ("CNN-aug", 0.0, 94.5, 0.50), ("IEN", 0.01, 93.6, 0.16),
              ("IEN", 0.1, 90.1, 0.021), ("Het", 0.1, 89.0, 0.024), ("IEN", 1.0, 53.3, 0.002),
              ("E2CNN", 0.0, 93.5, 3e-13)]  # fmt: skip
    ours_rel = pd.DataFrame(
        [
            {"row": tables.table5_label(k, b), "acc": acc, "beta": b, "kind": k, **dict.fromkeys(tables.LAYERS, x)}
            for k, b, acc, x in models
        ],
        index=[f"run{i}" for i in range(len(models))],
    )
    fig = ien_plots.accuracy_vs_equivariance(ours_rel)
    assert not _text_overlaps(fig)
    legend = fig.axes[-1].get_legend()
    assert set(ours_rel.row) <= {t.get_text() for t in legend.get_texts()}
    points = [c for c in fig.axes[0].collections if len(c.get_offsets())]
    assert len({(matplotlib.colors.to_hex(c.get_facecolor()[0]), c.get_label()) for c in points}) == len(models)


def test_seeds_of_a_model_are_one_line_with_a_band():
    import matplotlib.pyplot as plt

    from eqlab.report.plots import plot_models
    from eqlab.report.results import seed_groups

    runs = pd.DataFrame({"run": ["aug", "ien", "aug_s1", "aug_s2"], "family": "cnn", "arch": "rotmnist6",
                         "dataset": "rot_mnist", "group": "r4", "augment": True, "beta": [0.0, 0.1, 0.0, 0.0],
                         "seed": [0, 0, 1, 2]})
    groups = seed_groups(runs)
    assert groups == {"aug": ["aug", "aug_s1", "aug_s2"], "ien": ["ien"]}
    table = pd.DataFrame([dict(run=r, layer=f"conv{i}", value=v * (i + 1))
                          for r, v in (("aug", 1.0), ("aug_s1", 4.0), ("aug_s2", 2.0), ("ien", 0.1)) for i in range(2)])
    fig, ax = plt.subplots()
    plot_models(ax, table, groups, {"aug": {"color": "C0"}, "ien": {"color": "C1"}}, "value")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"aug (3 seeds)", "ien"} and len(ax.collections) == 1  # one band, for the seeded model
    assert list(lines["aug (3 seeds)"].get_ydata()) == pytest.approx([2.0, 4.0])  # geometric mean of 1, 4, 2
    plt.close(fig)
