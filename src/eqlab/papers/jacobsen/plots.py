"""The report's figures for the Jacobsen thesis (RFNN study, i-RevNet analysis)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def fig6(df: pd.DataFrame):
    """Test accuracy against training size, RFNN and CNN: seed means (lines) and single seeds (dots)."""
    f = df[df.experiment == "fig6"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for kind, style in (("rfnn", dict(color="C0", marker="o")), ("cnn", dict(color="C3", marker="s"))):
        k = f[f.kind == kind]
        m = k.groupby("n_train").test_acc.mean()
        ax.plot(m.index, 100 * m.values, label=kind.upper(), **style)
        ax.scatter(k.n_train, 100 * k.test_acc, color=style["color"], alpha=0.35, s=12)
    ax.set(xscale="log", xlabel="training digits (stratified)", ylabel="test accuracy (%)",
           title="Fig. 6 analogue: RFNN vs free-filter CNN")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def orders(df: pd.DataFrame):
    """Table 1 analogue: accuracy against basis order (multi-scale line, single-scale points)."""
    t = df[df.experiment == "table1"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for scales, style in (("multi", dict(color="C0", marker="o")), ("single", dict(color="C2", marker="^"))):
        k = t[t.scales == scales]
        if k.empty:
            continue
        m = k.groupby("order").test_acc.mean()
        ax.plot(m.index, 100 * m.values, label=f"{scales} scale", **style)
        ax.scatter(k.order, 100 * k.test_acc, color=style["color"], alpha=0.35, s=12)
    ax.set(xlabel="Gaussian-derivative order N", ylabel="test accuracy (%)", xticks=[1, 2, 3, 4],
           title=f"Table 1 analogue ({int(t.n_train.iloc[0]) if len(t) else '?'} training digits)")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def jacobian(ir: pd.DataFrame):
    """Normalised singular values σ_k / σ_1 and the cumulative energy, per state and seed."""
    j = ir[ir.check == "jacobian"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for (state, seed), g in j.groupby(["state", "seed"]):
        c = "C0" if state == "trained" else "C7"
        lab = state if seed == j.seed.min() else None
        axes[0].plot(g.k, g.value / g.value.max(), color=c, alpha=0.7, label=lab)
        axes[1].plot(g.k / len(g), g.value_max, color=c, alpha=0.7, label=lab)
    axes[0].set(yscale="log", xlabel="k", ylabel="σ_k / σ_1", title="Jacobian singular values (bijective)")
    axes[1].set(xscale="log", xlabel="k / D", ylabel="energy in the top k", title="cumulative energy")
    axes[1].axhline(0.8, color="k", lw=0.6, ls=":")
    for a in axes:
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


def blocks(ir: pd.DataFrame):
    """Per-block accuracy (seed mean), one panel per classifier; trained solid, random dashed."""
    b = ir[ir.check == "block_acc"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, clf in zip(axes, ("svm", "1nn"), strict=True):
        for i, (model, g) in enumerate(b[b.classifier == clf].groupby("model", sort=False)):
            for state, ls in (("trained", "-"), ("random", "--")):
                m = g[g.state == state].groupby("block").value.mean()
                ax.plot(m.index, 100 * m.values, ls=ls, color=f"C{i}", marker="o", ms=3, label=f"{model}, {state}")
        ax.set(xlabel="block", title={"svm": "linear SVM", "1nn": "1-NN"}[clf])
    axes[0].set_ylabel("test accuracy (%)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def interpolation(interp: pd.DataFrame):
    """Rows: images inverted from the feature-space line, and the pixel-space blend, for each t."""
    ts = sorted(interp.t.unique())
    fig, axes = plt.subplots(2, len(ts), figsize=(1.4 * len(ts), 3.2))
    for r, space in enumerate(("feature", "pixel")):
        for c, t in enumerate(ts):
            row = interp[(interp.space == space) & (interp.t == t)].iloc[0]
            img = np.asarray(row.pixels, dtype=float).reshape(tuple(row["shape"])).transpose(1, 2, 0)
            ax = axes[r, c]
            ax.imshow(np.clip(img, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {t:.2f}", fontsize=8)
        axes[r, 0].set_ylabel(f"{space}\nspace", fontsize=8)
    fig.tight_layout()
    return fig
