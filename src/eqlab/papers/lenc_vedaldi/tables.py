"""The HOG map table (``stages/probe_hog_maps.py``: one row per transform × method × m × k) as the
paper's Fig. 6 and Table 2.

Methods are named by ``method`` and ``k`` columns (identity ``M_g = 1``, ``ls``, ``rr``, ``fs`` with k
non-zeros per row); ``m`` is the structured-sparsity neighbourhood side, <NA> for no spatial constraint.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

METHOD_NAMES = {"identity": "M_g = 1", "ls": "LS", "rr": "RR"}
# what survives of the paper's numbers for these figures (PAPERS.md: Table 2 lost its body)
NOT_RECOVERABLE = "published values not recoverable from the source"
GEOMETRY_NOTE = ("the paper's m sweep used a 15×15 HOG array; ours uses the same in_cells × in_cells → "
                 "out_cells × out_cells geometry as Fig. 6 left, enough for m ≤ in_cells")


def method_label(method: str, k: float | None) -> str:
    """``M_g = 1``, ``LS``, ``RR``, ``FS k=5``."""
    if method == "fs":
        return f"FS k={int(k)}"
    return METHOD_NAMES.get(method, method)


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``label`` column (:func:`method_label`), in the table's order of methods."""
    out = df.copy()
    out["label"] = [method_label(m, k) for m, k in zip(out.method, out.k, strict=True)]
    return out


def labels_in_order(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(with_labels(df).label))


def unconstrained(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with no spatial constraint on A_g (Fig. 6 left and centre), labelled."""
    return with_labels(df[df.m.isna()])


def kind_of(df: pd.DataFrame) -> pd.Series:
    """``rotation`` (angle set), ``scaling`` (scale set) or ``flip`` per row."""
    return pd.Series(np.where(df.angle.notna(), "rotation", np.where(df.scale.notna(), "scaling", "flip")),
                     index=df.index)


def transform_label(row: pd.Series) -> str:
    """``rot 45°``, ``scale 2^-0.5``, ``hflip``."""
    if pd.notna(row.angle):
        return f"rot {row.angle:g}°"
    if pd.notna(row.scale):
        return f"scale 2^{math.log2(row.scale):+.3g}"
    return str(row["transform"])


def fig6_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean test Hellinger error, transforms × methods (Fig. 6 left and centre, and the flips), with
    RR's validated λ."""
    rows = unconstrained(df)
    rows = rows.assign(g=rows.apply(transform_label, axis=1), kind=kind_of(rows))
    wide = rows.pivot_table(index=["kind", "g"], columns="label", values="hellinger_error", aggfunc="first", sort=False)
    wide = wide[labels_in_order(rows)]
    lam = rows[rows.method == "rr"].set_index(["kind", "g"]).lam.rename("RR λ")
    return wide.join(lam).rename_axis(index=["", "g"], columns=None)


def table2(df: pd.DataFrame) -> pd.DataFrame:
    """The m sweep at the sweep angle (Fig. 6 right, Table 2): per neighbourhood m, each method's test
    error, the inputs each output row may read (the regression's size, which the fit cost grows with)
    and FS's non-zeros, beside the unconstrained fit at the same angle."""
    swept = df[df.m.notna()]
    if swept.empty:
        return pd.DataFrame()
    angle = swept.angle.iloc[0]
    rows = with_labels(df[(df.angle == angle)])
    rows = rows.assign(neighbourhood=[f"m = {int(m)}" if pd.notna(m) else "none (all cells)" for m in rows.m])
    order = list(dict.fromkeys([*[f"m = {int(m)}" for m in sorted(swept.m.unique())], "none (all cells)"]))
    err = rows.pivot_table(index="neighbourhood", columns="label", values="hellinger_error", aggfunc="first")
    err = err.reindex(index=order, columns=labels_in_order(rows[rows.method != "identity"]))
    size = rows.groupby("neighbourhood").inputs_per_row.first().reindex(order).rename("inputs per row")
    fs = rows[rows.method == "fs"]
    nz = fs[fs.k == fs.k.max()].groupby("neighbourhood").nonzeros.first().reindex(order)
    out = err.join(size).join(nz.rename(f"non-zeros of A_g (FS k={int(fs.k.max())})"))
    out.index.name = f"rot {angle:g}°"
    return out


def nonzero_fraction(df: pd.DataFrame, k: int) -> float:
    """FS with ``k`` non-zeros per row, unconstrained: the share of A_g's d_out × d_in coefficients that are
    non-zero, averaged over transforms (%), as the paper's Sec. 5.2.1 quotes it."""
    rows = df[(df.method == "fs") & (df.k == k) & df.m.isna()]
    return float((rows.nonzeros / (rows.d_out * rows.d_in)).mean() * 100) if len(rows) else math.nan


def fig7_table(df: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) with its 95 % interval, transforms × (uncompensated, LS, RR, FS)."""
    rows = df[df.method != "original"]
    rows = rows.assign(g=rows.apply(transform_label, axis=1),
                       cell=[f"{100 * a:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                             for a, lo, hi in zip(rows.accuracy, rows.ci_low, rows.ci_high, strict=True)])  # fmt: skip
    wide = rows.pivot_table(index="g", columns="method", values="cell", aggfunc="first", sort=False)
    names = {"none": "uncompensated", "ls": "LS", "rr": "RR", "fs": "FS"}
    return wide[[m for m in names if m in wide.columns]].rename(columns=names).rename_axis(index="g", columns=None)


# ---- CNN part (stages/probe_lv_nets.py): maps M_g = F_g ∘ P_g and invariant channels on the ANet analogues

CNN_METHODS = {"original": "original", "none": "uncompensated", "p_only": "P_g only", "ridge_m1": "M_g (m = 1)",
               "ridge_m3": "M_g (m = 3)"}
TABLE3_COLUMNS = {"hflip": "H-flip", "vflip": "V-flip", "scale0.7071067811865476": "Sc 2^-1/2", "rot90": "Rot 90°"}
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def t_interval(values) -> tuple[float, float, float]:
    """(mean, low, high): the 95 % Student-t interval of the mean over runs (NaN bounds for one run)."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = T_975.get(len(v) - 1, 1.96) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return mean, mean - half, mean + half


def transform_name(g: str) -> str:
    """``scale0.7071067811865476`` → ``scale 2^-0.5``; other names as they are."""
    if g.startswith("scale"):
        return f"scale 2^{math.log2(float(g[5:])):+.2g}"
    return g


ROTATION = re.compile(r"rot(\d+(?:\.\d+)?)$")
MAIN_ANGLES = (45.0, 90.0)  # the rotations of the paper's Figs. 9–11; the others only make up the 0–90° sweep


def rotation_angle(g: str) -> float | None:
    """``rot22.5`` → 22.5; None for a transform that is not a rotation."""
    match = ROTATION.match(g)
    return float(match.group(1)) if match else None


def main_transforms(transforms) -> list[str]:
    """The transforms shown per panel (Figs. 9–11): all but the extra angles of the rotation sweep."""
    return [g for g in transforms if rotation_angle(g) in (None, *MAIN_ANGLES)]


def sweep_means(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """The rotation sweep: per layer and angle (0° = the original error), the compensated M_g's top-1 error
    (m = 3 on conv taps, dense on FC taps), mean over the runs of ``label_set`` and 95 % t-interval."""
    s = seed_means(maps, label_set)
    s = s.assign(angle=s["transform"].map(rotation_angle))
    s = s[s.angle.notna()]
    conv = s[s.method == "p_only"].layer.unique()
    mapped = s[((s.method == "ridge_m3") & s.layer.isin(conv)) | ((s.method == "ridge_m1") & ~s.layer.isin(conv))]
    zero = s[s.method == "original"].drop_duplicates("layer").assign(angle=0.0)
    out = pd.concat([zero, mapped], ignore_index=True)
    order = pd.Categorical(out.layer, categories=list(dict.fromkeys(s.layer)), ordered=True)  # the net's tap order
    return out.assign(layer_order=order).sort_values(["layer_order", "angle"], kind="stable").drop(columns="layer_order")


def sweep_table(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """Top-1 error % of M_g per layer (rows) and rotation angle (columns, 0° = original) [95 % t-interval]."""
    s = sweep_means(maps, label_set)
    layers = list(dict.fromkeys(s.layer))
    s = s.assign(cell=[_cell(a, b, c) for a, b, c in zip(s["mean"], s.low, s.high, strict=True)],
                 column=[f"{a:g}°" for a in s.angle])
    wide = s.pivot_table(index="layer", columns="column", values="cell", aggfunc="first")
    order = [f"{a:g}°" for a in sorted(s.angle.unique())]
    return wide.reindex(index=layers, columns=order).rename_axis(columns=None)


def with_original(maps: pd.DataFrame) -> pd.DataFrame:
    """Per (net, layer, transform) rows plus the net's original error repeated on every (layer, transform)."""
    orig = maps[maps.method == "original"].set_index("net").top1_error.rename("original")
    return maps[maps.method != "original"].join(orig, on="net")


def of(maps: pd.DataFrame, label_set: str = "a", arch: str = "anet") -> pd.DataFrame:
    """The rows of the nets of ``arch`` trained on ``label_set`` (tables without an ``arch`` column: ANets)."""
    archs = maps["arch"] if "arch" in maps else pd.Series("anet", index=maps.index)
    return maps[(maps.label_set == label_set) & (archs == arch)]


def seed_means(maps: pd.DataFrame, label_set: str = "a", arch: str = "anet") -> pd.DataFrame:
    """Top-1 error per (layer, transform, method) over the runs of ``arch`` on ``label_set``: mean and t-interval."""
    maps = of(maps, label_set, arch)
    m = with_original(maps)
    rows = []
    for (layer, g, method), sub in m.groupby(["layer", "transform", "method"], sort=False):
        mean, lo, hi = t_interval(sub.top1_error)
        rows.append(dict(layer=layer, transform=g, method=method, mean=mean, low=lo, high=hi, n=len(sub)))
    orig = maps[maps.method == "original"]
    mean, lo, hi = t_interval(orig.top1_error)
    for layer, g in m[["layer", "transform"]].drop_duplicates().itertuples(index=False):
        rows.append(dict(layer=layer, transform=g, method="original", mean=mean, low=lo, high=hi, n=len(orig)))
    return pd.DataFrame(rows)


def _cell(mean: float, lo: float, hi: float) -> str:
    if math.isnan(lo):
        return f"{100 * mean:.1f}"
    return f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def maps_table(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """Fig. 9–11 as a table: top-1 error % of each method, rows (transform, layer), mean over the runs
    of ``label_set`` [95 % t-interval over runs]."""
    s = seed_means(maps, label_set)
    s = s[s["transform"].isin(main_transforms(s["transform"].unique()))]
    s = s.assign(cell=[_cell(a, b, c) for a, b, c in zip(s["mean"], s.low, s.high, strict=True)],
                 g=s["transform"].map(transform_name))
    wide = s.pivot_table(index=["g", "layer"], columns="method", values="cell", aggfunc="first", sort=False)
    return wide[[m for m in CNN_METHODS if m in wide.columns]].rename(columns=CNN_METHODS).rename_axis(
        index=["g", "layer"], columns=None)


def single_run_table(maps: pd.DataFrame, net: str) -> pd.DataFrame:
    """One run: top-1 error % [95 % bootstrap interval over its test images], rows (transform, layer)."""
    m = with_original(maps[maps.net == net])
    m = m[m["transform"].isin(main_transforms(m["transform"].unique()))]
    m = m.assign(cell=[_cell(a, b, c) for a, b, c in zip(m.top1_error, m.ci_low, m.ci_high, strict=True)],
                 g=m["transform"].map(transform_name))
    wide = m.pivot_table(index=["g", "layer"], columns="method", values="cell", aggfunc="first", sort=False)
    o = maps[(maps.net == net) & (maps.method == "original")].iloc[0]
    wide.insert(0, "original", _cell(o.top1_error, o.ci_low, o.ci_high))
    return wide[[c for c in CNN_METHODS if c in wide.columns]].rename(columns=CNN_METHODS).rename_axis(
        index=["g", "layer"], columns=None)


SOLVERS = {"none": "uncompensated", "ridge": "L2 (ridge)", "ls": "L2 (LS)", "fs": "L2 (FS)", "reluopt": "ReLU-OPT",
           "task": "task loss"}


def solver_rows(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """The (layer, transform) cells where every solver ran (``lenc_vedaldi_nets.probe.solvers_for``), one
    row per net × cell × solver, with a ``solver`` column: the map with the largest m of the cell (m = 3 on
    conv taps, the dense map on FC taps) and the uncompensated reference."""
    m = of(maps, label_set)
    m = m[m.method != "original"]
    m = m.assign(solver=m.method.str.replace(r"_m\d+$", "", regex=True))
    cells = m[m.solver == "task"][["layer", "transform", "m"]].drop_duplicates()
    keep = m.merge(cells, on=["layer", "transform", "m"])
    keep = keep[keep.solver.isin(list(SOLVERS))]
    none = m[m.method == "none"].merge(cells[["layer", "transform"]], on=["layer", "transform"])
    return pd.concat([none, keep], ignore_index=True)


def solver_means(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """Per (layer, transform, solver): top-1 error, L2 residual before and after the ReLU, mean over the
    runs of ``label_set`` with the top-1 error's 95 % t-interval."""
    rows = []
    for (layer, g, solver), sub in solver_rows(maps, label_set).groupby(["layer", "transform", "solver"], sort=False):
        mean, lo, hi = t_interval(sub.top1_error)
        rows.append(dict(layer=layer, transform=g, solver=solver, mean=mean, low=lo, high=hi, n=len(sub),
                         residual_l2=sub.residual_l2.mean(), residual_relu=sub.residual_relu.mean()))
    return pd.DataFrame(rows)


def solvers_table(maps: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """The Fig. 9 comparison of solvers and objectives as a table: rows (transform, layer), per solver the
    top-1 error % [95 % t-interval over runs] and the relative L2 residual before / after the ReLU."""
    s = solver_means(maps, label_set)
    if s.empty:
        return pd.DataFrame()
    s = s.assign(g=s["transform"].map(transform_name), name=s.solver.map(SOLVERS),
                 cell=[_cell(a, b, c) for a, b, c in zip(s["mean"], s.low, s.high, strict=True)],
                 l2=[f"{a:.2f} / {b:.2f}" for a, b in zip(s.residual_l2, s.residual_relu, strict=True)])
    names = [SOLVERS[k] for k in SOLVERS if k in set(s.solver)]
    top1 = s.pivot_table(index=["g", "layer"], columns="name", values="cell", aggfunc="first", sort=False)[names]
    l2 = s[s.solver != "none"].pivot_table(index=["g", "layer"], columns="name", values="l2", aggfunc="first",
                                           sort=False)[names[1:]]
    out = pd.concat({"top-1 error %": top1, "L2 residual before / after ReLU": l2}, axis=1)
    return out.rename_axis(index=["g", "layer"], columns=[None, None])


def solvers_reading(maps: pd.DataFrame, label_set: str = "a", from_layer: str = "conv3") -> str:
    """How to read the solver table, computed: per transform, what it costs the nets (uncompensated minus
    original top-1, mean over runs [95 % t-interval]) and, from ``from_layer`` on, how far the L2 (ridge) map
    and the task-loss map end above the uncompensated error (mean over layers and runs)."""
    rows = solver_rows(maps, label_set)
    if rows.empty:
        return "No solver rows in the map table."
    orig = of(maps, label_set)
    orig = orig[orig.method == "original"].set_index("net").top1_error
    layers = list(dict.fromkeys(rows.layer))
    deep = layers[layers.index(from_layer):] if from_layer in layers else layers
    parts = []
    for g, sub in rows.groupby("transform", sort=False):
        none = sub[(sub.solver == "none") & (sub.layer == layers[0])].set_index("net").top1_error
        mean, lo, hi = t_interval((none - orig.reindex(none.index)).to_numpy())
        d = sub[sub.layer.isin(deep)].pivot_table(index=["net", "layer"], columns="solver", values="top1_error")
        over = {k: 100 * float((d[k] - d["none"]).mean()) for k in ("ridge", "task")}
        parts.append(f"{transform_name(g)} costs the nets {100 * mean:.1f} points of top-1 [{100 * lo:.1f}, "
                     f"{100 * hi:.1f}]; from {deep[0]} on, the L2 (ridge) map ends {over['ridge']:+.1f} points and the "
                     f"task-loss map {over['task']:+.1f} points from the uncompensated error")
    return "; ".join(parts) + "."


TABLE1_ROWS = {"anet": "ANet", "cnet": "CNet", "vgg": "Vgg16", "resnet": "ResN50"}  # our arch → the paper's net


def table1_ours(train_metrics: pd.DataFrame) -> pd.DataFrame:
    """Our runs as Table 1 rows (long): each analogue's test top-1 error % on label set a, mean over its seeds."""
    rows = []
    for arch, name in TABLE1_ROWS.items():
        a = of(train_metrics, "a", arch)
        if len(a):
            rows.append({"table": "1", "row": name, "column": "top-1 error", "value": 100 * a.test_top1_error.mean(),
                         "n": len(a)})
    return pd.DataFrame(rows)


def table3_ours(inv: pd.DataFrame, label_set: str = "a") -> pd.DataFrame:
    """Our Table 3 (long): invariant channels as % of the layer's channels, mean over the runs."""
    sub = of(inv, label_set)
    sub = sub[sub["transform"].isin(list(TABLE3_COLUMNS))]
    sub = sub.assign(pct=100 * sub.invariant / sub.channels)
    rows = []
    for (layer, g), s in sub.groupby(["layer", "transform"], sort=False):
        rows.append({"table": "3", "row": "C" + layer.removeprefix("conv"), "column": TABLE3_COLUMNS[g],
                     "value": s.pct.mean(), "n": len(s)})
    return pd.DataFrame(rows)


def table3_counts(inv: pd.DataFrame) -> pd.DataFrame:
    """Invariant channels per ANet-analogue run (both label sets), count / channels, rows (net, transform),
    columns (layer): as many columns as layers, however many nets there are."""
    sub = pd.concat([of(inv, "a"), of(inv, "b")])
    sub = sub[sub["transform"].isin(list(TABLE3_COLUMNS))]
    sub = sub.assign(cell=[f"{i} / {c}" for i, c in zip(sub.invariant, sub.channels, strict=True)],
                     g=sub["transform"].map(TABLE3_COLUMNS))
    return sub.pivot_table(index=["net", "g"], columns="layer", values="cell", aggfunc="first",
                           sort=False).rename_axis(columns=None)


def interval_reading(maps: pd.DataFrame, train: pd.DataFrame) -> str:
    """How wide one run's 95 % bootstrap interval on a top-1 error gets (item 2 asks for ≤ 2 points), with
    the test images per net (``train``: the nets' training metrics with ``n_test``)."""
    half = (maps.ci_high - maps.ci_low) / 2
    worst = maps.loc[half.idxmax()]
    sizes = sorted({int(n) for n in train.n_test})
    method = CNN_METHODS.get(worst["method"], worst["method"])
    where = "the original net" if worst["method"] == "original" else (
        f"{method} at {worst['layer']}, {transform_name(worst['transform'])}")
    return (f"Each net is scored on {' / '.join(f'{n:,}' for n in sizes)} test images of its label set: every "
            f"single run's 95 % bootstrap interval on a top-1 error is at most ±{100 * half.max():.1f} points "
            f"(the widest: {worst['net']}, {where}, {100 * worst['top1_error']:.1f} % error).")
