"""The dynamic-steerable-block section of the Jacobsen report (thesis ch. 4, Fig. 10): the table, the claims
and the figures, from ``probe_dsb``'s results, curves and examples (:mod:`eqlab.probes.dsb_blobs`).

The thesis gives no numbers for the textured blobs, only words: on level I "a fully convolutional network
baseline of the same size achieves almost the same performance" and gradient magnitude solves it; on
levels II and III gradient magnitude "only gives weak clues", "the fully convolutional baseline fails to
converge", while the block "manages to largely recover the labeled boundaries". Each becomes a claim
decided from the artifacts: trained nets by the seed-paired 95 % t-interval of F at the validation-best
threshold (F points, ×100), the deterministic references (gradient magnitude, chance) by their value.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.report.claims import FAILS, HOLDS, Claim, interval_claim
from eqlab.report.intervals import MIN_SEEDS, mean_interval, paired

SAME = 2.0  # "almost the same performance": |DSB − FCN| within 2 F points
SOLVED = 95.0  # "solves it": F ≥ 0.95
WEAK = 5.0  # "weak clues" / "fails to converge": within 5 F points of chance
LEVEL = {1: "I", 2: "II", 3: "III"}
KIND_NAMES = {"dsb": "dynamic steerable block", "fcn": "FCN (parameter-matched)", "gradient": "gradient magnitude",
              "chance": "chance (random scores)"}  # fmt: skip


def _f(df: pd.DataFrame, level: int, kind: str) -> pd.Series:
    """100 × F at the validation threshold per seed."""
    r = df[(df.level == level) & (df.kind == kind)]
    return 100 * r.set_index("seed").f_val


def table(df: pd.DataFrame) -> pd.DataFrame:
    """Per level and model: parameters, seed-mean ODS / OIS / AP (×100) and F at the validation threshold
    with its 95 % interval."""
    rows = []
    for (level, kind), g in df.groupby(["level", "kind"], sort=False):
        iv = mean_interval(100 * g.f_val.to_numpy())
        m, n = iv.estimate, iv.n
        ci = "—" if math.isnan(iv.low) else f"[{iv.low:.1f}, {iv.high:.1f}]"
        rows.append({"level": LEVEL.get(level, str(level)), "model": KIND_NAMES.get(kind, kind),
                     "params": int(g.n_params.iloc[0]) or "—", "ODS": 100 * g.ods.mean(), "OIS": 100 * g.ois.mean(),
                     "AP": 100 * g.ap.mean(), "F @ val threshold": m, "95 % interval": ci,
                     "seeds": n if g.seed.iloc[0] >= 0 else "deterministic"})  # fmt: skip
    return pd.DataFrame(rows).set_index(["level", "model"])


def _paired_claim(cid: str, text: str, d: np.ndarray, what: str, low: float | None, high: float | None = None
                  ) -> Claim:  # fmt: skip
    """``d`` (F points per seed) in (low, high), decided by its 95 % t-interval (None: no bound on that side)."""
    return interval_claim(cid, text, d, what, above=low, below=high, unit=" F points", digits=1)


def claims(df: pd.DataFrame) -> list[Claim]:
    out: list[Claim] = []
    levels = sorted(df.level.unique())
    if 1 in levels:
        d = paired(_f(df, 1, "dsb"), _f(df, 1, "fcn"))
        out.append(_paired_claim("D1", f"Level I: the FCN of the same size performs almost the same as the block "
                                       f"(|ΔF| < {SAME:g} points)", d, "DSB − FCN", -SAME, SAME))  # fmt: skip
        g = float(_f(df, 1, "gradient").iloc[0])
        out.append(Claim("D2", f"Level I is solved by the gradient-magnitude invariant (F ≥ {SOLVED / 100:g})",
                         HOLDS if g >= SOLVED else FAILS, f"gradient magnitude F = {g / 100:.3f}"))  # fmt: skip
    for level in (lv for lv in levels if lv != 1):
        name = LEVEL.get(level, str(level))
        g, c = float(_f(df, level, "gradient").iloc[0]), float(_f(df, level, "chance").iloc[0])
        out.append(Claim(f"D3-{name}", f"Level {name}: gradient magnitude gives only weak clues (within {WEAK:g} "
                                       "F points of chance)", HOLDS if g - c < WEAK else FAILS,
                         f"gradient F = {g / 100:.3f}, chance F = {c / 100:.3f}"))  # fmt: skip
        fcn = _f(df, level, "fcn").to_numpy() - c
        out.append(_paired_claim(f"D4-{name}", f"Level {name}: the FCN fails to converge (F within {WEAK:g} points "
                                                "of chance)", fcn, "FCN − chance", None, WEAK))  # fmt: skip
        out.append(_paired_claim(f"D5-{name}", f"Level {name}: the block beats the FCN of the same size",
                                 paired(_f(df, level, "dsb"), _f(df, level, "fcn")), "DSB − FCN", 0.0))  # fmt: skip
        out.append(_paired_claim(f"D6-{name}", f"Level {name}: the block recovers boundaries gradient magnitude "
                                                "cannot (F above gradient magnitude's)",
                                 _f(df, level, "dsb").to_numpy() - g, "DSB − gradient magnitude", 0.0))  # fmt: skip
    return out


def fig_curves(curves: pd.DataFrame):
    """Training (dashed) and validation (solid) class-balanced BCE against steps, seed means, per level."""
    levels = sorted(curves.level.unique())
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.3), squeeze=False)
    for ax, level in zip(axes[0], levels, strict=True):
        for kind, color in (("dsb", "C0"), ("fcn", "C3")):
            c = curves[(curves.level == level) & (curves.kind == kind)].groupby("step")[["train_loss", "val_loss"]].mean()
            ax.plot(c.index, c.val_loss, color=color, label=f"{kind.upper()} validation")
            ax.plot(c.index, c.train_loss, color=color, ls="--", alpha=0.6, label=f"{kind.upper()} training")
        ax.set(title=f"level {LEVEL.get(level, level)}", xlabel="Adam step", ylabel="balanced BCE")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Loss curves (mean over seeds)", fontsize=10)
    fig.tight_layout()
    return fig


PANELS = (("image", "input", "gray"), ("gradient", "gradient magnitude", "gray"), ("dsb", "DSB prediction", "magma"),
          ("pose", "DSB pose θ", "twilight"), ("fcn", "FCN prediction", "magma"), ("target", "target", "gray"))  # fmt: skip


def fig_examples(ex: pd.DataFrame):
    """Fig. 10 analogue: per level and example, input, gradient magnitude, predictions, pose map, target."""
    keys = ex[["level", "example"]].drop_duplicates().sort_values(["level", "example"]).to_numpy()
    fig, axes = plt.subplots(len(keys), len(PANELS), figsize=(1.55 * len(PANELS), 1.6 * len(keys)), squeeze=False)
    for r, (level, i) in enumerate(keys):
        for c, (panel, title, cmap) in enumerate(PANELS):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            row = ex[(ex.level == level) & (ex.example == i) & (ex.panel == panel)]
            if row.empty:
                continue
            img = np.asarray(row.pixels.iloc[0], dtype=np.float32).reshape(int(row.height.iloc[0]), int(row.width.iloc[0]))
            lims = (0, 2 * np.pi) if panel == "pose" else (0, 1) if panel != "image" else (None, None)
            ax.imshow(img, cmap=cmap, vmin=lims[0], vmax=lims[1])
            if r == 0:
                ax.set_title(title, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"level {LEVEL.get(int(level), level)}", fontsize=8)
    fig.tight_layout()
    return fig


def departure(df: pd.DataFrame) -> str:
    """Markdown, computed: where the textured-blob results depart from the thesis's words, and why they may."""
    lines = []
    for level in sorted(lv for lv in df.level.unique() if lv != 1):
        name = LEVEL.get(level, str(level))
        c = float(_f(df, level, "chance").iloc[0])
        m_fcn = float(_f(df, level, "fcn").mean())
        iv = mean_interval(paired(_f(df, level, "dsb"), _f(df, level, "fcn")))
        m, lo, hi, n = iv.estimate, iv.low, iv.high, iv.n
        if n >= MIN_SEEDS and hi < 0:
            lines.append(f"- **Level {name}**: the FCN converges (F {m_fcn:.1f} against chance {c:.1f}) and beats the "
                         f"block by {-m:.1f} F points [{-hi:.1f}, {-lo:.1f}] over {n} seeds.")  # fmt: skip
    if not lines:
        return "On levels II and III the block is not beaten by the FCN; no departure from the thesis to report."
    return ("**Departure from the thesis.** It reports that the FCN baseline fails to converge on levels II and "
            "III while the block recovers most boundaries. Here:\n\n" + "\n".join(lines) + "\n\n"
            "What differs, and may explain it (not tested one by one): the thesis does not describe its FCN, ours "
            "has the block's receptive field and the closest parameter count and trains with Adam on the "
            "class-balanced loss; our textures are scikit-image photographs and procedural gratings, not KTH-TIPS; "
            "the small profile trains each net for few steps on 200 blobs per level (the loss curves below show "
            "the block still descending). Both learned nets stay far above gradient magnitude and chance, so the "
            "block does learn a context-dependent rule beyond the maximum-response invariant (D6); whether it "
            "beats a plain FCN is what does not reproduce at this scale.")  # fmt: skip
