"""IEN tables: our runs as the paper's models (from run metadata), Table 5 and Tables 1, 2, 4, 8, 9
with the published cells beside ours."""

from __future__ import annotations

import math
import re
from statistics import NormalDist

import pandas as pd

from eqlab.report.intervals import LEVEL, binomial_interval, half_width, paired_binomial_difference
from eqlab.report.references import NOTE, gap_notes, order_of_magnitude
from eqlab.report.results import accuracy_pct, extent

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6")
KINDS = ("CNN", "CNN-aug", "IEN", "Het", "E2CNN")

OFFLINE_ONLY = {
    "3": "Rot-OTB tracking needs the GOT-10k training videos and the Rot-OTB benchmark, neither of which "
    "can be obtained offline; shown as published only.",
    "STL-10": "STL-10 is not available offline (no dataset downloads); its row is shown as published only.",
}

# Why a published row has no run of ours, when it is not just a run we did not configure
# (regex on the row label, reason; the first match wins), for ``side_by_side(..., reasons=...)``
NO_RUN_REASONS = (
    (r"^(Rot|R2)-TIM IEN R\w+$", "no run of ours at the β the paper printed (Table 9); ours at other β are own rows"),
    (r"^STL-10 ", "STL-10 is not available offline"),
    (r"\b(SS-CNN|DSS|SESN)$", "another paper's model, not implemented here"),
)


def kind(run: pd.Series) -> str:
    """Which of the paper's models a run is (one of ``KINDS``), from its metadata: the e2cnn twin,
    CNN (no aug), CNN-aug (IEN with β = 0), Het-IEN or IEN."""
    if run["family"] == "e2cnn":
        return "E2CNN"
    if not run["augment"]:
        return "CNN"
    if float(run["beta"]) == 0:
        return "CNN-aug"
    return "Het" if run.get("het") else "IEN"


def table5_label(kind: str, beta: float) -> str:
    """The published Table 5 row of a model of this kind and β."""
    return {
        "E2CNN": "E2CNN",
        "CNN": "CNN (no aug)",
        "CNN-aug": "CNN (aug)",
        "Het": f"Het-IEN β={beta:g}",
        "IEN": f"IEN β={beta:g}",
    }[kind]


# ---------------------------------------------------------------------------------------------------
# Table 5: Rot-MNIST, one row per run; models = runs with the same label, averaged over seeds.


def ours_table5(results: pd.DataFrame, runs: pd.DataFrame, metric: str = "abs", angles: str = "90") -> pd.DataFrame:
    """One row per Rot-MNIST run (by run ID): its Table 5 label ``row``, test accuracy (%), per-layer
    L_G (``abs``) or relative error (``rel``), ``beta``, ``kind`` and validation accuracy ``val_acc`` (%); over the run's own group
    (``angles="90"``: the quarter turns of R4) or the odd multiples of 45° (``angles="45"``,
    interpolated, inside the disk)."""
    runs = runs[runs.dataset == "rot_mnist"].sort_values("run", kind="stable")
    eq = extent(results[results.run.isin(set(runs.run))], metric, odd45=angles == "45")
    wide = eq.pivot_table(index="run", columns="layer", values="value")
    out = pd.DataFrame({"acc": accuracy_pct(runs)}).join(wide)
    meta = runs.set_index("run")
    out["val_acc"] = accuracy_pct(runs, "val")  # model selection (best β) reads validation, never test
    kinds = [kind(meta.loc[r]) for r in out.index]
    out.insert(0, "row", [table5_label(k, float(meta.loc[r, "beta"])) for k, r in zip(kinds, out.index)])
    out["beta"] = [float(meta.loc[r, "beta"]) for r in out.index]
    out["kind"] = kinds
    return out


def shown(ours: pd.DataFrame) -> pd.DataFrame:
    """The per-run table as the report shows it (without the ``kind`` and ``val_acc`` the claims select on)."""
    return ours.drop(columns=["kind", "val_acc"], errors="ignore")


def by_model(ours: pd.DataFrame) -> pd.DataFrame:
    """Per-run table → one row per model (its Table 5 label), mean over its runs (seeds), with ``kind``,
    ``n`` (the number of runs averaged), ``acc_std`` (sample std, 0 when n = 1) and ``acc_ci`` (half-width of
    the 95 % t-interval of the mean accuracy over the seeds, NaN when n = 1)."""
    g = ours.groupby("row", sort=False)
    out = g.mean(numeric_only=True)
    out.insert(0, "n", g.size())
    out.insert(2, "acc_std", g["acc"].std(ddof=1).fillna(0.0))
    out.insert(3, "acc_ci", [half_width(s, n) for s, n in zip(out["acc_std"], out["n"], strict=True)])
    out["kind"] = g["kind"].first()
    return out


def table5_side_by_side(published: pd.DataFrame, ours: pd.DataFrame, reasons: tuple = NO_RUN_REASONS
                        ) -> pd.DataFrame:
    """Published cells beside ours: columns (``acc``, conv1…conv6) × (``paper``, ``ours``), our seed count
    n, and a note saying why ours reads "—" (the first of ``reasons`` that matches the row); our accuracy
    is the mean over seeds ± the half-width of its 95 % t-interval (with n ≥ 2)
    (:func:`eqlab.report.references.gap_notes`)."""
    t5 = published[published.table == "5"]
    pub = t5.pivot_table(index="row", columns="column", values="value").reindex(list(dict.fromkeys(t5.row)))
    mine = by_model(ours)
    cols = [c for c in ("acc", *LAYERS) if c in pub.columns]
    notes = gap_notes(pub[cols], mine.reindex(index=pub.index, columns=cols), reasons)
    rows = []
    for label in pub.index:
        rec: dict = {"model": label}
        for col in ("acc", *LAYERS):
            p = pub.loc[label, col] if col in pub.columns else float("nan")
            o = mine[col].get(label, float("nan")) if col in mine else float("nan")
            if col == "acc":
                ci = mine["acc_ci"].get(label, float("nan"))
                rec[("acc %", "paper")] = f"{p:.1f}"
                rec[("acc %", "ours")] = "—" if pd.isna(o) else f"{o:.1f}" + ("" if pd.isna(ci) else f" ± {ci:.1f}")
            else:
                rec[(col, "paper")] = order_of_magnitude(p)
                rec[(col, "ours")] = "—" if pd.isna(o) else order_of_magnitude(o)
        rec[("ours", "n")] = int(mine["n"].get(label, 0))
        rec[NOTE] = notes[label]
        rows.append(rec)
    df = pd.DataFrame(rows).set_index("model")
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


# ---------------------------------------------------------------------------------------------------
# Tables 1, 2, 4, 8, 9: our runs mapped onto the published rows and columns from their metadata.

ARCH_LABEL = {"resnet18": "ResNet18", "vgg": "VGG"}
GROUP_LABEL = {"r4": "R4", "r8": "R8", "r4r": "R4R", "scale": "scale"}
DATASET_LABEL = {"rot_tim": "Rot-TIM", "r2_tim": "R2-TIM"}


def table4_row(run: pd.Series) -> str | None:
    """Table 4's row for a Rot-TIM E2CNN, IEN or Het-IEN run (None for other runs)."""
    k = kind(run)
    if run["dataset"] != "rot_tim" or run["arch"] not in ARCH_LABEL or k not in ("E2CNN", "IEN", "Het"):
        return None
    a = ARCH_LABEL[run["arch"]]
    return f"{a} Het R{run['het']}" if k == "Het" else f"{a} {k} {GROUP_LABEL.get(run['group'], run['group'])}"


def paper_betas(published: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(table, row) → β for the IEN rows of Tables 1 and 2, which print "the best β per case": the β of
    the Table 9 IEN row (same group, same architecture) whose accuracy equals the printed one. Rows with
    no single match are left out."""
    t9 = published[published.table == "9"]
    out = {}
    ien = published[published.table.isin(["1", "2"]) & published.row.str.contains(" IEN ", regex=False)]
    for _, r in ien.iterrows():
        group, arch = r.row.split()[-1], "ResNet18" if r.table == "1" else "VGG"
        match = t9[
            t9.row.str.startswith(f"{group} IEN β=")
            & (t9.column == f"{arch} acc")
            & ((t9.value - r.value).abs() < 1e-9)
        ]
        if len(match) == 1:
            out[(r.table, r.row)] = float(match.row.iloc[0].split("β=")[1])
    return out


def _cells_for(
    run: pd.Series,
    acc: float,
    layers: dict[str, float],
    ref_channels: float | None,
    paper_beta: dict[tuple[str, str], float] | None = None,
) -> list[tuple]:
    """(table, row, column, value) cells one run contributes to the published tables. An IEN run sits
    in a Tables 1/2 row only at the β the paper's row was printed for (``paper_beta``, from
    :func:`paper_betas`); at another β, or with the paper's β unknown, it gets a row of its own,
    ``… IEN R4 β=0.01 (ours only)``, so a row never averages runs of different β."""
    k, arch = kind(run), str(run["arch"])
    g = GROUP_LABEL.get(str(run["group"]), str(run["group"]))
    out: list[tuple] = []
    if arch in ARCH_LABEL and run["dataset"] in DATASET_LABEL:
        a, ds = ARCH_LABEL[arch], DATASET_LABEL[run["dataset"]]
        # Tables 1 and 2: accuracy, best β per case in the paper (ours: beside it only at that β)
        name = {
            "CNN": "CNN",
            "E2CNN": f"E2CNN {g}",
            "IEN": f"IEN {g}",
            "CNN-aug": f"CNN{g[1:]}-aug" if ds == "Rot-TIM" else "CNN-aug",
        }.get(k)
        if name is not None:
            table, label = "1" if arch == "resnet18" else "2", f"{ds} {name}"
            if k == "IEN" and (paper_beta or {}).get((table, label)) != float(run["beta"]):
                label = f"{label} β={float(run['beta']):g} (ours only)"
            out.append((table, label, "acc", acc))
        # Table 4: Het-IEN against IEN and E2CNN at the same group (channels % of the IEN net)
        row = table4_row(run)
        if row is not None:
            out.append(("4", row, "acc", acc))
            if ref_channels:
                out.append(("4", row, "channels", 100.0 * float(run["channels"]) / ref_channels))
        # Table 9: accuracy and L_G per β, by group (R4, R8 on Rot-TIM; R4R on R2-TIM)
        t9 = {"CNN": "CNN no aug", "CNN-aug": "CNN aug", "E2CNN": "E2CNN"}.get(k)
        if k == "IEN":
            t9 = f"IEN β={float(run['beta']):g}"
        if t9 is not None:
            out.append(("9", f"{g} {t9}", f"{a} acc", acc))
            out += [("9", f"{g} {t9}", f"{a} {layer}", v) for layer, v in layers.items()]
    if run["dataset"] == "scale_mnist" and k in ("IEN", "CNN-aug"):
        size = 28 * int(run.get("upsample", 1) or 1)
        label = "IEN" if k == "IEN" else "CNN-aug (ours only)"
        out.append(("8", f"Scale-MNIST {size}×{size} {label}", "error", 100.0 - acc))
    return out


def optional_reasons(optional: pd.DataFrame, published: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """Why a published row has no run of ours when a run of a disabled run set would fill it
    (``optional``: collect's optional.parquet), as (regex on the row label, reason) for
    :func:`eqlab.report.references.gap_notes`, ahead of :data:`NO_RUN_REASONS`."""
    betas = paper_betas(published)
    out: dict[str, str] = {}
    for _, run in optional.iterrows():
        why = f"run set {run['set']}, not trained by default (one seed): eqlab sets enable {run['set']}"
        rows = [row for _, row, *_ in _cells_for(run, float("nan"), {}, None, betas)]
        if run["dataset"] == "rot_mnist":
            rows.append(table5_label(kind(run), float(run["beta"])))
        for row in rows:
            out.setdefault(f"^{re.escape(row)}$", why)
    return tuple(out.items())


def optional_note(optional: pd.DataFrame) -> str:
    """One Markdown sentence on the run sets this repro did not train ("" when every set is enabled)."""
    if optional.empty:
        return ""
    sets = ", ".join(f"`{name}` ({len(g)} runs)" for name, g in optional.groupby("set", sort=False))
    return (f"Not trained in this repro: the optional run sets {sets}. They hold one seed each, so no verdict "
            "could rest on them; the cells they would fill are marked below. `eqlab sets enable <set>`, then "
            "`make reproduce`, adds them.")


def ours_cells(results: pd.DataFrame, runs: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table (table, row, column, value, n, std, ci): our runs' cells for Tables 1, 2, 4, 8, 9,
    averaged over the runs (seeds) that map to the same cell; n = how many, ci = the half-width of the 95 %
    t-interval over them (NaN for one run). ``published`` gives the β
    of Tables 1/2's IEN rows (:func:`paper_betas`); without it every IEN run there is "ours only"."""
    betas = paper_betas(published) if published is not None else {}
    acc, eq = accuracy_pct(runs), extent(results, "abs")
    meta = runs.set_index("run")
    cells: list[tuple] = []
    for run_id, run in meta.iterrows():
        ref = None
        if kind(run) in ("E2CNN", "IEN", "Het"):
            twins = meta[
                (meta.family == "cnn")
                & (meta.arch == run["arch"])
                & (meta.group == run["group"])
                & (meta.dataset == run["dataset"])
                & (meta.augment)
                & (meta.beta > 0)
                & (meta.het == "")
            ]
            ref = float(twins.channels.iloc[0]) if len(twins) else None
        layers = eq[eq.run == run_id].set_index("layer").value.to_dict()
        cells += [(*c, run_id) for c in _cells_for(run, float(acc.get(run_id, float("nan"))), layers, ref, betas)]
    df = pd.DataFrame(cells, columns=["table", "row", "column", "value", "run"])
    g = df.groupby(["table", "row", "column"], sort=False).value
    out = pd.DataFrame({"value": g.mean(), "n": g.size(), "std": g.std(ddof=1)})
    out["ci"] = [half_width(s, n) for s, n in zip(out["std"], out["n"], strict=True)]
    return out.reset_index()


# ---------------------------------------------------------------------------------------------------
# Lenc & Vedaldi maps on the IEN runs: does a learned map beat no map at all?

LV_FAMILIES = {"rotations": ("rot90", "rot180", "rot270", "rot45"), "flips": ("hflip", "vflip")}
LV_PROBES = ("eval", "fit", "original", "none", "p_only", "ridge", "task")
_LV_DISCORDANT = ("wrong_where_none_right", "right_where_none_wrong")


def lv_pooled(results: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """The Lenc & Vedaldi rows of ``results`` pooled over each model's seeds, in the same tidy shape with
    ``run`` = the model's label (``groups``: {label: its runs}, as :func:`eqlab.report.results.seed_groups`
    gives): image counts and discordant pairs summed, top-1 errors weighted by the images each run scored
    (all mistakes over all scored images), residuals averaged, and a ``seeds`` row (probe ``eval``) per
    cell counting the runs pooled. Models without a probed run are left out. Intervals on the pooled
    counts treat the nets as fixed: they size the test set behind a model's mean, not the seed spread."""
    model_of = {r: m for m, rs in groups.items() for r in rs}
    lv = results[results.run.isin(list(model_of)) & results.probe.isin(LV_PROBES)]
    if not len(lv):
        return lv
    key = ["run", "layer", "transform"]
    n = lv[(lv.probe == "eval") & (lv.metric == "n_images")][[*key, "value"]].rename(columns={"value": "_n"})
    lv = lv.merge(n, on=key, how="left").assign(run=lambda d: d.run.map(model_of))
    err = lv.metric == "top1_error"
    lv.loc[err, "value"] = lv.loc[err, "value"] * lv.loc[err, "_n"]  # mistakes
    summed = err | lv.metric.isin(_LV_DISCORDANT) | ((lv.probe == "eval") & (lv.metric == "n_images"))
    cols = [*key, "family", "arch", "dataset", "probe", "metric"]
    out = pd.concat([lv[summed].groupby(cols, sort=False).value.sum().reset_index(),
                     lv[~summed].groupby(cols, sort=False).value.mean().reset_index()], ignore_index=True)
    scored = n.assign(run=n.run.map(model_of)).groupby(key)._n.sum()
    mistakes = out.metric == "top1_error"
    out.loc[mistakes, "value"] = out.loc[mistakes, "value"].to_numpy() / scored.reindex(
        pd.MultiIndex.from_frame(out.loc[mistakes, key])).to_numpy()
    seeds = lv[lv.probe == "eval"].groupby([*key, "family", "arch", "dataset"]).seed.nunique().reset_index()
    seeds = seeds.rename(columns={"seed": "value"}).assign(probe="eval", metric="seeds")
    return pd.concat([out, seeds], ignore_index=True)


def _lv_cell(row: pd.Series, probe: str) -> tuple[float, float, bool | None]:
    """One (run, layer, transform) cell of ``lv_against_no_map``'s wide frame: the map's Wilson half-width,
    the paired interval's half-width (points) and its verdict (True: worse than no map, False: better,
    None: not established or no counts recorded)."""
    n = row.get(("eval", "n_images"), float("nan"))
    if pd.isna(n):
        return float("nan"), float("nan"), None
    wilson = 100 * binomial_interval(float(row[(probe, "top1_error")]), int(n)).radius
    worse, better = row.get((probe, "wrong_where_none_right")), row.get((probe, "right_where_none_wrong"))
    if worse is None or better is None or pd.isna(worse) or pd.isna(better):
        return wilson, float("nan"), None
    iv = paired_binomial_difference(int(worse), int(better), int(n))
    if iv.low > 0:
        return wilson, 100 * iv.radius, True
    if iv.high < 0:
        return wilson, 100 * iv.radius, False
    return wilson, 100 * iv.radius, None


def lv_against_no_map(results: pd.DataFrame, probes: tuple[str, ...] = ("ridge", "task")) -> pd.DataFrame:
    """Per transform family (rotations, flips) and map (``ridge``, ``task``), over every (run, layer,
    transform) cell: in how many cells the map's top-1 error is above the uncompensated one (the map does
    worse than no map), below it, or neither established, each cell decided by the 95 % paired interval of
    (map − none) on the same test images (:func:`paired_binomial_difference` of the cell's discordant
    images); the mean of (map − none) in points; and the widest 95 % half-widths, in points, of a map's
    error (Wilson, over the scored images) and of the paired change (NaN where the probe recorded no
    counts). Rot-MNIST nets see every rotation in training, so there the uncompensated error is already
    near the original and a map can only lose."""
    lv = results[results.metric.isin(["top1_error", "n_images", *_LV_DISCORDANT])]
    wide = lv.pivot_table(index=["run", "layer", "transform"], columns=["probe", "metric"], values="value")
    rows = []
    for family, names in LV_FAMILIES.items():
        sel = wide[wide.index.get_level_values("transform").isin(names)]
        for probe in probes:
            if (probe, "top1_error") not in sel or ("none", "top1_error") not in sel:
                continue
            sel_p = sel[sel[(probe, "top1_error")].notna() & sel[("none", "top1_error")].notna()]
            if not len(sel_p):
                continue
            diff = (sel_p[(probe, "top1_error")] - sel_p[("none", "top1_error")]) * 100
            wilson, paired, verdict = zip(*(_lv_cell(r, probe) for _, r in sel_p.iterrows()), strict=True)
            rows.append(dict(
                transforms=family, map=probe, cells=len(sel_p),
                worse=sum(v is True for v in verdict), better=sum(v is False for v in verdict),
                not_established=sum(v is None for v in verdict),
                mean_change_points=float(diff.mean()),
                max_half_width_points=max(wilson), max_paired_half_width_points=max(paired),
            ))
    return pd.DataFrame(rows, columns=["transforms", "map", "cells", "worse", "better", "not_established",
                                       "mean_change_points", "max_half_width_points", "max_paired_half_width_points"])


def lv_interval_reading(results: pd.DataFrame, target: float = 2.0) -> str:
    """A sentence on the scored images behind ``lv_against_no_map``: how many test images scored each
    cell, how many maps' errors have a Wilson half-width within ``target`` points, the widest one, and how
    many images a ±``target``-point interval at 50 % error would need."""
    key = ["run", "layer", "transform"]
    n = results[(results.probe == "eval") & (results.metric == "n_images")].set_index(key).value
    err = results[(results.probe.isin(["ridge", "task"])) & (results.metric == "top1_error")]
    if not len(n) or not len(err):
        return "No map was scored."
    k = n.reindex(err.set_index(key).index).to_numpy()
    half = [100 * binomial_interval(float(v), int(c)).radius for v, c in zip(err.value, k, strict=True)]
    within = sum(h <= target for h in half)
    need = math.ceil(0.25 * (NormalDist().inv_cdf(0.5 + LEVEL / 2) / (target / 100)) ** 2)  # normal approximation

    def span(v: pd.Series) -> str:
        return f"{int(v.min()):,}" if v.min() == v.max() else f"{int(v.min()):,}–{int(v.max()):,}"

    seeds = results[(results.probe == "eval") & (results.metric == "seeds")].value
    pooled = f", pooled over {span(seeds)} seeds of each model" if len(seeds) else ""  # by lv_pooled
    sizes = f"{span(n)} test images{pooled}"
    return (f"Each map is scored on {sizes}: {within} of {len(half)} maps' errors "
            f"have a 95 % interval within ±{target:g} points (widest ±{max(half):.1f}); ±{target:g} at every error "
            f"rate would need {need:,} images (the widest case, 50 % error).")
