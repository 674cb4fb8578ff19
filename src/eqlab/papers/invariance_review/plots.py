"""Figures of the invariance review report: accuracy, gap and convergence per pooling with 95 % intervals,
the learned-p histogram, validation curves, rotated-test accuracy, and the texture pair with its
coefficients."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.papers.invariance_review import tables as tb
from eqlab.papers.invariance_review.tables import MODEL_NAMES, VARIANT_NAMES, per_seed, t_interval


def _errorbar(ax, values: pd.DataFrame, scale: float, xlabel: str) -> None:
    names = list(values.columns)
    for i, v in enumerate(names):
        col = scale * values[v].dropna()
        m, lo, hi = t_interval(col)
        ax.plot(col, np.full(len(col), i), "o", color="0.65", markersize=3)
        if not math.isnan(lo):
            ax.errorbar(m, i, xerr=[[m - lo], [hi - m]], fmt="D", color="C0", capsize=3, markersize=5)
        else:
            ax.plot(m, i, "D", color="C0")
    ax.set_yticks(range(len(names)), [VARIANT_NAMES.get(v, v) for v in names])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def pooling_overview(df: pd.DataFrame, target: float):
    """Three panels per pooling variant: test accuracy, train−test gap and epochs of training to reach the
    validation accuracy ``target`` (seeds that never reached it: no dot); grey dots the seeds, blue the mean
    with its 95 % t-interval."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True)
    acc = per_seed(df, "test_acc")
    _errorbar(axes[0], acc, 100, "test accuracy (%)")
    _errorbar(axes[1], per_seed(df, "gap"), 100, "train − test accuracy (points)")
    _errorbar(axes[2], per_seed(df, "epochs_to_target").reindex(columns=acc.columns), 1,
              f"epochs to {100 * target:g} % validation accuracy")
    axes[0].set_title("accuracy")
    axes[1].set_title("overfitting")
    axes[2].set_title("convergence")
    fig.tight_layout()
    return fig


def learned_p_histogram(df: pd.DataFrame, p_init: float):
    """Histogram of the learned exponents p per pooling layer, with the start value and Gulcehre's 3.4."""
    p = tb.learned_p(df)
    if p.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.6))
    bins = np.linspace(min(1.0, p.p.min()), max(5.0, p.p.max()), 41)
    for layer, sub in p.groupby("layer"):
        ax.hist(sub.p, bins=bins, alpha=0.6, label=f"pooling layer {layer} ({len(sub)} channels × seeds)")
    ax.axvline(p_init, color="k", ls=":", label=f"start p = {p_init:g}")
    ax.axvline(3.4, color="C3", ls="--", label="Gulcehre et al.: 3.4 (MNIST)")
    ax.set_xlabel("learned p = 1 + softplus(ρ)")
    ax.set_ylabel("count")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def validation_curves(df: pd.DataFrame):
    """Validation accuracy against epoch, mean over seeds, one line per variant."""
    c = tb.val_curves(df)
    fig, ax = plt.subplots(figsize=(8, 4))
    styles = ["-", "--", ":", "-."]
    for i, v in enumerate(c.columns):
        ax.plot(c.index, 100 * c[v], styles[i % 4], marker="o", markersize=2, label=VARIANT_NAMES.get(v, v))
    ax.set_xlabel("epoch")
    ax.set_xticks(range(0, int(math.ceil(c.index.max())) + 1))
    ax.set_ylabel("validation accuracy (%), mean over seeds")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def rotation_accuracy(df: pd.DataFrame):
    """Upright and rotated test accuracy per model (bars: mean; whiskers: 95 % t-interval over CNN seeds)."""
    sub = df[df.experiment == "rotation"]
    models = list(dict.fromkeys(sub.model))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.38
    for k, cond in enumerate(("upright", "rotated")):
        for i, m in enumerate(models):
            v = 100 * sub[(sub.model == m) & (sub.condition == cond)].value
            mean, lo, hi = t_interval(v)
            err = None if math.isnan(lo) else [[mean - lo], [hi - mean]]
            ax.bar(i + (k - 0.5) * width, mean, width, yerr=err, capsize=4, color=f"C{k}",
                   label=cond if i == 0 else None)  # fmt: skip
            top = mean if math.isnan(hi) else hi
            ax.text(i + (k - 0.5) * width, top + 1.5, f"{mean:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(models)), [MODEL_NAMES.get(m, m) for m in models], fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(title="test digits", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def texture_pair(pair: np.ndarray, scat: pd.DataFrame):
    """The two textures, their (equal) log power spectra, and the mean coefficients of each texture for
    order 1 and order 2 normalised."""
    fig, axes = plt.subplots(1, 6, figsize=(18, 3.4), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.6, 1.6]})
    names = ("strokes", "phase-randomised twin")
    for i, (img, name) in enumerate(zip(pair, names, strict=True)):
        axes[i].imshow(img, cmap="gray")
        axes[i].set_title(name, fontsize=9)
        spec = np.log10(np.abs(np.fft.fftshift(np.fft.fft2(img))) ** 2 + 1e-6)
        axes[2 + i].imshow(spec, cmap="magma")
        axes[2 + i].set_title(f"log power spectrum: {name}", fontsize=8)
    for ax in axes[:4]:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, coef, title in ((axes[4], "order1", "order 1: S₁ per path"),
                            (axes[5], "order2_normalised", "order 2: S₂/S₁ per path")):  # fmt: skip
        t = tb.texture_coefficients(scat, coef)
        for cond, style in (("strokes", "-"), ("phase_twin", "--")):
            if cond in t:
                ax.plot(t.index, t[cond], style, lw=1, label=cond.replace("_", " "))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("path index")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
