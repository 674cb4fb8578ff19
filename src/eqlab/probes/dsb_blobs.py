"""Dynamic steerable block versus the parameter-matched FCN on the textured blobs (thesis ch. 4, Fig. 10).

Per blob level (I binary, II two textures, III one texture turned and scaled) and seed, both nets of
:func:`eqlab.models.dsb.boundary_nets` are trained for ``steps`` Adam steps on random ``crop``×``crop``
crops of that level's training images with the class-balanced pixel-wise cross-entropy the thesis uses on
BSD500 (positives weighted by #negatives / #positives), and evaluated on the full validation and test images:

* ``ods``: boundary F-measure at the best fixed threshold over the test images (the benchmark's ODS);
* ``ois``: the counts summed at each test image's own best threshold (OIS);
* ``ap``: area under the test precision–recall curve (precision made monotone, recall from 0);
* ``f_val``: test F at the threshold that is best on the *validation* images — no choice made on test,
  so this is the figure the claims are decided by.

All four with pixel tolerance ``tolerance`` (:func:`eqlab.data.blobs.boundary_counts`). Two reference rows
per level: ``gradient`` (Gaussian gradient magnitude, σ = 1, scaled to [0, 1] per image: the thesis's
"simple invariant") and ``chance`` (uniform random scores: the F any detector gets by marking everything).
Loss curves (training window mean and validation loss at ``curve_points`` steps) and, for the first seed,
example predictions and pose maps θ are returned beside the table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.data.blobs import boundary_counts, gradient_magnitude, pr_f
from eqlab.data.store import Split
from eqlab.models.counting import n_params
from eqlab.models.dsb import SteerableBlock, boundary_nets
from eqlab.probes.profiled import profiled_config

log = logging.getLogger(__name__)
KINDS = ("dsb", "fcn")
COLUMNS = ("level", "kind", "seed", "ods", "ods_threshold", "ois", "ap", "f_val", "n_params", "steps",
           "final_train_loss", "final_val_loss")  # fmt: skip
COUNTS = ("tp_pred", "n_pred", "tp_gt", "n_gt")


@dataclass(frozen=True)
class DsbConfig:
    """``probe_dsb``: shared keys; ``seeds`` and ``steps`` per profile."""

    channels: int = field(default=8, metadata={"min": 1})
    hidden: int = field(default=16, metadata={"min": 1})
    pose_layers: int = field(default=3, metadata={"min": 1})
    kernel: int = field(default=3, metadata={"min": 1})
    sigma: float = field(default=1.0, metadata={"min": 0.3})
    lr: float = field(default=1e-2, metadata={"min": 0.0})
    batch: int = field(default=16, metadata={"min": 1})
    crop: int = field(default=32, metadata={"min": 8})
    tolerance: int = field(default=2, metadata={"min": 0})
    thresholds: int = field(default=25, metadata={"min": 2})
    curve_points: int = field(default=10, metadata={"min": 1})
    n_examples: int = field(default=2, metadata={"min": 0})
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = field(default=300, metadata={"min": 1})

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel={self.kernel} must be odd ('same' padding)")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds={self.seeds} must be distinct and non-empty")


@dataclass(frozen=True)
class DsbSizes:
    seeds: tuple[int, ...]
    steps: int = field(metadata={"min": 1})


def config_from_params(params: dict[str, Any], key: str = "probe_dsb") -> DsbConfig:
    return profiled_config(params, key, DsbConfig, DsbSizes)


def thresholds(cfg: DsbConfig) -> np.ndarray:
    return np.linspace(0.02, 0.98, cfg.thresholds)


def summarise(test: dict[str, np.ndarray], val: dict[str, np.ndarray], ths: np.ndarray) -> dict[str, float]:
    """ODS, its threshold, OIS, AP and the F at the validation-best threshold from two sets of counts."""
    _, _, f_val_split = pr_f(*(val[k].sum(0) for k in COUNTS))
    precision, recall, f = pr_f(*(test[k].sum(0) for k in COUNTS))
    best, j_val = int(np.argmax(f)), int(np.argmax(f_val_split))
    _, _, f_img = pr_f(*(test[k] for k in COUNTS))
    per = f_img.argmax(1)
    rows = np.arange(len(per))
    _, _, ois = pr_f(*(test[k][rows, per].sum() for k in COUNTS))
    order = np.argsort(recall)  # recall falls as the threshold rises
    r, p = recall[order], np.maximum.accumulate(precision[order][::-1])[::-1]
    ap = float(np.sum(np.diff(np.concatenate([[0.0], r])) * p))
    return {"ods": float(f[best]), "ods_threshold": float(ths[best]), "ois": float(ois), "ap": ap,
            "f_val": float(f[j_val])}  # fmt: skip


def _standardised(split: Split, sel: np.ndarray, mean: float, std: float) -> torch.Tensor:
    return (torch.from_numpy(split.images[sel].astype(np.float32) / 255.0) - mean) / std


def _crops(x: torch.Tensor, y: torch.Tensor, size: int, batch: int, g: torch.Generator):
    idx = torch.randint(len(x), (batch,), generator=g)
    off = torch.randint(0, x.shape[-1] - size + 1, (batch, 2), generator=g)
    xs = torch.stack([x[i, :, a : a + size, b : b + size] for i, (a, b) in zip(idx.tolist(), off.tolist(), strict=True)])
    ys = torch.stack([y[i, :, a : a + size, b : b + size] for i, (a, b) in zip(idx.tolist(), off.tolist(), strict=True)])
    return xs, ys


def _predict(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([torch.sigmoid(net(x[j : j + 64])) for j in range(0, len(x), 64)])[:, 0].numpy()


def train_boundary(net: torch.nn.Module, cfg: DsbConfig, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor,
                   yv: torch.Tensor, seed: int) -> list[tuple[int, float, float]]:  # fmt: skip
    """Adam on the class-balanced BCE over random crops; (step, mean training loss of the window, validation
    loss) at ``curve_points`` evenly spaced steps. Leaves ``net`` in eval mode."""
    pos_weight = ((y.numel() - y.sum()) / y.sum().clamp(min=1)).reshape(1)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    marks = set(np.linspace(cfg.steps / cfg.curve_points, cfg.steps, cfg.curve_points).round().astype(int).tolist())
    curve, window = [], []
    for step in range(1, cfg.steps + 1):
        xs, ys = _crops(x, y, cfg.crop, cfg.batch, g)
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(xs), ys, pos_weight=pos_weight)
        loss.backward()
        opt.step()
        window.append(float(loss.detach()))
        if step in marks:
            with torch.no_grad():
                vl = float(F.binary_cross_entropy_with_logits(net(xv), yv, pos_weight=pos_weight))
            curve.append((step, float(np.mean(window)), vl))
            window = []
    net.eval()
    return curve


def dsb_experiment(cfg: DsbConfig, train: Split, val: Split, test: Split, levels: list[int],
                   progress=None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:  # fmt: skip
    """(results, curves, examples) over every level × {dsb, fcn} × seed plus the reference rows."""
    ths = thresholds(cfg)
    rows, curves, examples = [], [], {}
    for level in levels:
        tr, va, te = (s.labels == level for s in (train, val, test))
        raw = train.images[tr].astype(np.float32) / 255.0
        mean, std = float(raw.mean()), float(raw.std()) or 1.0
        x, xv, xt = (_standardised(s, m, mean, std) for s, m in ((train, tr), (val, va), (test, te)))
        y, yv = (torch.from_numpy(s.targets[m].astype(np.float32)) for s, m in ((train, tr), (val, va)))
        t_test, t_val = test.targets[te, 0], val.targets[va, 0]
        refs = {"gradient": (gradient_magnitude(test.images[te, 0]), gradient_magnitude(val.images[va, 0])),
                "chance": tuple(np.random.default_rng([cfg.seed, level, k]).random(t.shape) for k, t in
                                enumerate((t_test, t_val)))}  # fmt: skip
        for kind, (s_test, s_val) in refs.items():
            m = summarise(boundary_counts(s_test, t_test, cfg.tolerance, ths),
                          boundary_counts(s_val, t_val, cfg.tolerance, ths), ths)  # fmt: skip
            rows.append({"level": level, "kind": kind, "seed": -1, **m, "n_params": 0, "steps": 0,
                         "final_train_loss": np.nan, "final_val_loss": np.nan})  # fmt: skip
        if cfg.n_examples:
            k = slice(0, cfg.n_examples)
            examples[f"l{level}_image"] = test.images[te][k, 0].astype(np.float32) / 255.0
            examples[f"l{level}_gradient"] = refs["gradient"][0][k].astype(np.float32)
            examples[f"l{level}_target"] = t_test[k].astype(np.float32)
        for seed in cfg.seeds:
            for ki, kind in enumerate(KINDS):
                torch.manual_seed(10_000 * seed + 100 * level + ki)
                net = boundary_nets(kind, cfg.channels, cfg.hidden, cfg.pose_layers, cfg.kernel, cfg.sigma)
                curve = train_boundary(net, cfg, x, y, xv, yv, 1000 * seed + level)
                curves += [(level, kind, seed, s, a, b) for s, a, b in curve]
                p_test, p_val = _predict(net, xt), _predict(net, xv)
                m = summarise(boundary_counts(p_test, t_test, cfg.tolerance, ths),
                              boundary_counts(p_val, t_val, cfg.tolerance, ths), ths)  # fmt: skip
                rows.append({"level": level, "kind": kind, "seed": seed, **m, "n_params": n_params(net),
                             "steps": cfg.steps, "final_train_loss": curve[-1][1], "final_val_loss": curve[-1][2]})
                log.info("level %d %s seed %d: ODS %.3f  F@val %.3f  AP %.3f", level, kind, seed, m["ods"],
                         m["f_val"], m["ap"])  # fmt: skip
                if cfg.n_examples and seed == cfg.seeds[0]:
                    examples[f"l{level}_{kind}"] = p_test[: cfg.n_examples].astype(np.float32)
                    if isinstance(net, SteerableBlock):
                        with torch.no_grad():
                            theta = net.pose(xt[: cfg.n_examples])
                        c = int(net.mix.weight.abs().flatten().argmax())  # the channel W weighs most
                        examples[f"l{level}_pose"] = np.mod(theta[:, c].numpy(), 2 * np.pi).astype(np.float32)
                if progress is not None:
                    progress.update(1)
    curves_df = pd.DataFrame(curves, columns=["level", "kind", "seed", "step", "train_loss", "val_loss"])
    return pd.DataFrame(rows, columns=list(COLUMNS)), curves_df, examples
