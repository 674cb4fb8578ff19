"""Figures any paper's report can use (matplotlib; PNG output carries no time stamp, so it is
byte-stable). A paper's own figures live in ``eqlab.papers.<paper>.plots``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colormaps

from eqlab.report.chance import CHANCE_MARGIN, NORMALISATIONS, chance_table
from eqlab.report.intervals import binomial_interval
from eqlab.report.results import extent, seed_groups

PROBE_STYLE = {
    "original": dict(color="black", ls="--", label="original (x, no transform)"),
    "none": dict(color="tab:red", ls=":", label="uncompensated φ(g·x)"),
    "p_only": dict(color="tab:orange", marker="s", label="P_g only"),
    "ridge": dict(color="tab:blue", marker="o", label="F_g∘P_g, ridge (L2)"),
    "task": dict(color="tab:green", marker="^", label="F_g∘P_g, task loss"),
}


LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def line_styles(names: Sequence[str]) -> dict[str, dict]:
    """A distinct look (``color``, ``ls``, ``marker``) per name, in the order given, for ``Axes.plot``.

    Up to 10 names: the ten ``tab10`` colours; up to 20: ``tab20`` (ten hues, dark and light); beyond:
    the 20 colours again with the next line style. Markers cycle too, so curves stay apart where colours
    are hard to tell apart (print, colour vision)."""
    names = list(dict.fromkeys(names))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    n_colours = cmap.N
    return {
        name: dict(
            color=cmap(i % n_colours),
            ls=LINESTYLES[(i // n_colours) % len(LINESTYLES)],
            marker=MARKERS[i % len(MARKERS)],
        )
        for i, name in enumerate(names)
    }


def legend_right(ax, fontsize: int = 8, source=None) -> None:
    """The legend of ``source`` (default: ``ax``) beside ``ax``, outside the data, so that no curve is
    hidden behind it."""
    handles, labels = (source or ax).get_legend_handles_labels()
    ax.legend(handles, labels, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def finish(fig, ax, title: str = ""):
    """The common close of a one-panel figure: a light grid, the legend beside the axes, the title (if any),
    a tight layout; returns ``fig``."""
    ax.grid(alpha=0.3)
    legend_right(ax)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_models(ax, table: pd.DataFrame, groups: dict[str, list[str]], styles: dict[str, dict], column: str) -> None:
    """One line per model: the geometric mean over its seeds of ``table[column]`` per layer (``table``: one
    row per run and layer), labelled with its seed count, and the seeds' min–max as a band."""
    for label, members in groups.items():
        sub = table[table.run.isin(members)]
        if sub.empty:
            continue
        wide = sub.pivot_table(index="layer", columns="run", values=column).sort_index()
        mean = np.exp(np.log(wide.clip(lower=1e-30)).mean(axis=1))
        n = wide.shape[1]
        ax.plot(wide.index, mean, label=label if n == 1 else f"{label} ({n} seeds)", **styles[label])
        if n > 1:
            ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1), color=styles[label]["color"], alpha=0.15)


def equivariance_by_layer(results: pd.DataFrame, runs: pd.DataFrame, title: str = ""):
    """Per-layer extent of equivariance, one line per model in ``runs`` (its seeds: geometric mean and
    min–max band), log scale: absolute L_G, the relative error and (when measured) the variance-normalised
    error, each relative panel with every model's chance level (:mod:`eqlab.report.chance`: the smaller of the unrelated-image and
    untransformed-map references) as a thin dashed line of the run's colour; ``title`` over the panels."""
    eq = extent(results)
    eq = eq[eq.run.isin(set(runs.run))]
    groups = seed_groups(runs[runs.run.isin(set(eq.run))])
    styles = line_styles(sorted(groups))
    panels = [("abs", "L_G (absolute MSE, group-pooled)"), ("rel", "relative error")]
    if (eq.metric == "rel_var").any():
        panels.append(("rel_var", "error / across-image variance"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 1.6, 3.8))
    for ax, (metric, panel_title) in zip(axes, panels, strict=True):
        plot_models(ax, eq[eq.metric == metric], groups, styles, "value")
        if metric in NORMALISATIONS:
            chance = chance_table(eq, metric)
            for label, members in groups.items():
                df = chance[chance.run.isin(members)].groupby("layer").chance.mean().sort_index()
                if len(df):
                    ax.plot(df.index, df.values, color=styles[label]["color"], ls=(0, (3, 2)), lw=0.9, alpha=0.8)
            if len(chance):
                ax.plot([], [], color="grey", ls=(0, (3, 2)), lw=0.9, label="chance level (dashed, model's colour)")
        ax.set_yscale("log")
        ax.set_title(panel_title)
        ax.set_xlabel("layer")
        ax.tick_params(axis="x", labelrotation=30)
        ax.grid(alpha=0.3)
    legend_right(axes[-1], source=axes[1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def chance_ratio_by_layer(results: pd.DataFrame, runs: pd.DataFrame, title: str = ""):
    """Error / chance level per layer (log scale), one line per model (seeds: geometric mean, min–max
    band); the dotted line at :data:`CHANCE_MARGIN`: a single run counts as below chance under it. The ratio is the same under
    both normalisations (error and references are divided by the same sum), so one panel shows it.
    None when no run in ``runs`` has chance references."""
    eq = extent(results)
    eq = eq[eq.run.isin(set(runs.run))]
    table = chance_table(eq, "rel")
    if table.empty:
        return None
    groups = seed_groups(runs[runs.run.isin(set(table.run))])
    styles = line_styles(sorted(groups))
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    plot_models(ax, table, groups, styles, "ratio")
    ax.axhline(CHANCE_MARGIN, color="black", ls=":", lw=1, label=f"below chance under {CHANCE_MARGIN:g}")
    ax.axhline(1.0, color="grey", ls="-", lw=0.6)
    ax.set_yscale("log")
    ax.set_ylabel("error / chance level")
    ax.set_xlabel("layer")
    ax.tick_params(axis="x", labelrotation=30)
    return finish(fig, ax, title)


def lv_compensation(results: pd.DataFrame, run: str, metric: str = "top1_error"):
    """Lenc & Vedaldi compensation for one run: one panel per transform, layers on x; top-1 errors with
    their 95 % Wilson interval over the scored images (where the probe recorded ``n_images``)."""
    df = results[(results.run == run) & (results.metric == metric) & results.probe.isin(list(PROBE_STYLE))]
    transforms = list(dict.fromkeys(df["transform"]))
    counts = results[(results.run == run) & (results.probe == "eval") & (results.metric == "n_images")].set_index(["layer", "transform"]).value
    fig, axes = plt.subplots(1, len(transforms), figsize=(3.0 * len(transforms), 3.2), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], transforms, strict=True):
        sub = df[df["transform"] == t]
        for probe, style in PROBE_STYLE.items():
            s = sub[sub.probe == probe].sort_values("layer")
            if not len(s):
                continue
            n = [counts.get((layer, t)) for layer in s.layer]
            if metric == "top1_error" and all(k is not None for k in n):  # Wilson 95 % over the scored images
                ivs = [binomial_interval(v, int(k)) for v, k in zip(s.value, n, strict=True)]
                err = [[v - iv.low for v, iv in zip(s.value, ivs)], [iv.high - v for v, iv in zip(s.value, ivs)]]
                ax.errorbar(s.layer, s.value, yerr=err, capsize=2, **style)
            else:
                ax.plot(s.layer, s.value, **style)
        ax.set_title(t)
        ax.tick_params(axis="x", rotation=45)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric.replace("_", " "))
    if metric == "residual_l2":
        axes[0][0].set_yscale("log")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.08))
    fig.suptitle(f"{run}: {metric.replace('_', ' ')}", y=1.02)
    fig.tight_layout()
    return fig


def training_curves(curves_dir: str | Path, runs: list[str], title: str = ""):
    """Validation accuracy and training loss per epoch from the DVCLive TSVs."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    if title:
        fig.suptitle(title)
    styles = line_styles(sorted(runs))
    for run in runs:
        base = Path(curves_dir) / run / "plots" / "metrics"
        for ax, rel, col in ((axes[0], "val/acc.tsv", "acc"), (axes[1], "train/loss.tsv", "loss")):
            p = base / rel
            if p.exists():
                d = pd.read_csv(p, sep="\t")
                ax.plot(d.step + 1, d[col], label=run, markersize=4, **styles[run])
    axes[0].set_title("validation accuracy")
    axes[1].set_title("training loss")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    legend_right(axes[-1])
    fig.tight_layout()
    return fig


LIE_FLOWS = ("rotate", "translate_x", "translate_y", "scale")


def lie_by_layer(results: pd.DataFrame, runs: pd.DataFrame, title: str = ""):
    """Per-layer relative Lie derivative Σ‖Lĥ‖²/Σ‖ĥ‖² (probe ``lie_derivative``), one panel per flow and
    one line per model in ``runs`` (seeds: geometric mean, min–max band), log scale; None when no run has
    Lie-derivative rows."""
    lie = results[(results.probe == "lie_derivative") & (results.metric == "rel") & results.run.isin(set(runs.run))]
    flows = [f for f in LIE_FLOWS if f in set(lie["transform"])]
    if not flows:
        return None
    groups = seed_groups(runs[runs.run.isin(set(lie.run))])
    styles = line_styles(sorted(groups))
    fig, axes = plt.subplots(1, len(flows), figsize=(3.6 * len(flows), 3.6), squeeze=False)
    for ax, flow in zip(axes[0], flows, strict=True):
        plot_models(ax, lie[lie["transform"] == flow], groups, styles, "value")
        ax.set_yscale("log")
        ax.set_title(f"{flow}: ‖Lĥ‖² / ‖ĥ‖²")
        ax.set_xlabel("layer")
        ax.tick_params(axis="x", labelrotation=45)
        ax.grid(alpha=0.3)
    legend_right(axes[0][-1], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
