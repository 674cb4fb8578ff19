"""The invariance review's experiments as tidy tables (one row per measurement; columns :data:`COLUMNS`).

``pooling_experiment``: every pooling variant × seed trains a :class:`~eqlab.invariance.poolnet.PoolNet` on
the central ``crop`` × ``crop`` pixels of embedded digits (one stratified train/val/test split from
``split_seed``); rows ``test_acc``, ``train_acc``, ``gap`` (train − test), ``epochs_to_target`` (training
time until the validation accuracy reaches ``target_acc``, NaN if never), ``val_acc`` per checkpoint
(``epoch`` fractional: ``evals_per_epoch`` a epoch) and ``learned_p`` per layer and channel.

``rotation_experiment``: digits without class ``exclude``; a logistic regression on standardised scattering
coefficients (and on the rotation-pooled ones) and a max-pooling CNN per seed, all trained on upright
digits, tested on the upright test digits and on the same digits rotated by angles uniform in
[−max_angle, max_angle] (one draw from ``split_seed``). The scattering classifiers are deterministic (seed
−1); the CNN varies with the seed.

``texture_experiment``: stroke textures and their phase-randomised twins (equal |FFT|); per order the
separation ‖μ_A − μ_B‖ / sqrt(½ Σ_k (σ²_{A,k} + σ²_{B,k})) of the spatially averaged coefficients (the
distance of the two texture means in units of the within-texture RMS spread), for order 1, order 2 and
order 2 normalised by its parent, S₂(j₁,l₁,j₂,l₂) / S₁(j₁,l₁) (Bruna & Mallat).
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.invariance.config import InvarianceConfig
from eqlab.invariance.poolnet import TrainSpec, accuracy, epochs_to_target, train, variant
from eqlab.invariance.scattering import morlet_bank, orientation_pooled, paths, scattering
from eqlab.invariance.textures import phase_twin, strokes

log = logging.getLogger(__name__)
COLUMNS = ("experiment", "model", "seed", "metric", "condition", "epoch", "layer", "channel", "value")


def stratified_split(labels: np.ndarray, sizes: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Disjoint index sets of the given sizes, each with (as nearly as possible) the class proportions of
    ``labels``: per class a seeded permutation, cut at the rounded cumulative shares."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    total = sum(sizes)
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    order = np.concatenate([per_class[c] for c in classes])
    rank = np.concatenate([np.arange(len(per_class[c])) / len(per_class[c]) for c in classes])
    ranked = order[np.argsort(rank, kind="stable")]  # interleaves the classes
    if total > len(ranked):
        raise ValueError(f"split sizes {sizes} exceed the {len(ranked)} digits")
    out, start = [], 0
    for s in sizes:
        out.append(np.sort(ranked[start : start + s]))
        start += s
    return out


def rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """(N, H, W) images rotated counter-clockwise about the centre by ``degrees`` (N,), bilinear, zero fill."""
    t = degrees.double() * math.pi / 180
    cos, sin = torch.cos(t), torch.sin(t)
    theta = torch.stack([torch.stack([cos, sin, torch.zeros_like(t)], 1),
                         torch.stack([-sin, cos, torch.zeros_like(t)], 1)], 1)  # fmt: skip
    grid = F.affine_grid(theta.to(images.dtype), [len(images), 1, *images.shape[1:]], align_corners=False)
    return F.grid_sample(images[:, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0]


def _row(**kw) -> dict:
    return {c: kw.get(c) for c in COLUMNS}


def _train_job(job: tuple) -> dict:
    """One training run in a worker process (one thread): returns its accuracies, curve and learned p."""
    name, seed, spec, x, y, xv, yv, tests, classes = job
    torch.set_num_threads(1)
    res = train(variant(name), spec, seed, x, y, xv, yv, classes)
    return {"val": res.val_acc, "val_at": res.val_epochs, "train": accuracy(res.model, x, y),
            "tests": {k: accuracy(res.model, tx, ty) for k, (tx, ty) in tests.items()}, "p": res.model.learned_p()}  # fmt: skip


def _run_jobs(jobs: list[tuple], workers: int) -> list[dict]:
    if workers == 1:
        threads = torch.get_num_threads()
        try:
            return [_train_job(j) for j in jobs]
        finally:
            torch.set_num_threads(threads)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as ex:
        return list(ex.map(_train_job, jobs))


def _tensors(images: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(images[idx], dtype=torch.float32)[:, None] / 255.0, torch.tensor(labels[idx])


def pooling_experiment(cfg: InvarianceConfig, images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Rows for every pooling variant × seed (see the module docstring); images (N, 28, 28) uint8."""
    pc = cfg.pooling
    o = (images.shape[-1] - pc.crop) // 2
    crop = images[:, o : o + pc.crop, o : o + pc.crop]
    tr, va, te = stratified_split(labels, (cfg.n_train, cfg.n_val, cfg.n_test), cfg.split_seed)
    (x, y), (xv, yv), (xt, yt) = (_tensors(crop, labels, i) for i in (tr, va, te))
    spec = TrainSpec(cfg.epochs, pc.batch, pc.lr, tuple(pc.widths), pc.p_init, pc.schedule,  # type: ignore[arg-type]
                     pc.evals_per_epoch)
    jobs = [(v, s, spec, x, y, xv, yv, {"test": (xt, yt)}, 10) for v in pc.variants for s in cfg.seeds]
    rows = []
    for (v, s, *_), r in zip(jobs, _run_jobs(jobs, cfg.workers), strict=True):
        test = r["tests"]["test"]
        rows += [_row(experiment="pooling", model=v, seed=s, metric="test_acc", value=test),
                 _row(experiment="pooling", model=v, seed=s, metric="train_acc", value=r["train"]),
                 _row(experiment="pooling", model=v, seed=s, metric="gap", value=r["train"] - test),
                 _row(experiment="pooling", model=v, seed=s, metric="epochs_to_target",
                      value=epochs_to_target(r["val_at"], r["val"], pc.target_acc))]  # fmt: skip
        rows += [_row(experiment="pooling", model=v, seed=s, metric="val_acc", epoch=e, value=a)
                 for e, a in zip(r["val_at"], r["val"], strict=True)]  # fmt: skip
        rows += [_row(experiment="pooling", model=v, seed=s, metric="learned_p", layer=i + 1, channel=c, value=float(p))
                 for i, ps in enumerate(r["p"]) for c, p in enumerate(ps)]  # fmt: skip
        log.info("pooling %s seed %d: test %.3f", v, s, test)
    return _frame(rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in ("seed", "layer", "channel"):
        df[c] = df[c].astype("Int64")
    df["epoch"] = df["epoch"].astype(float)  # fractional: validation checkpoints within an epoch
    df["value"] = df["value"].astype(float)
    return df


def _logreg(train_f: np.ndarray, y: np.ndarray, tests: dict[str, np.ndarray], yt: np.ndarray, c: float) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_f)
    clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(train_f), y)
    return {k: float((clf.predict(scaler.transform(f)) == yt).mean()) for k, f in tests.items()}


def rotation_experiment(cfg: InvarianceConfig, images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Scattering + linear classifier vs a CNN, trained upright, tested upright and rotated (docstring)."""
    sc = cfg.scattering
    keep = labels != sc.exclude
    images, labels = images[keep], labels[keep]
    classes = np.unique(labels)
    labels = np.searchsorted(classes, labels)
    tr, va, te = stratified_split(labels, (cfg.n_train, cfg.n_val, cfg.n_test), cfg.split_seed)
    gen = torch.Generator().manual_seed(cfg.split_seed)
    angles = (torch.rand(len(te), generator=gen, dtype=torch.float64) * 2 - 1) * sc.max_angle
    x = torch.tensor(images, dtype=torch.float32) / 255.0
    upright, rotated = x[te], rotate(x[te], angles)
    bank = morlet_bank(sc.size, sc.J, sc.L, sc.sigma0, sc.xi0, sc.slant)
    s_train, s_up, s_rot = (scattering(a, bank) for a in (x[tr], upright, rotated))
    y, yt = labels[tr], labels[te]
    rows = []
    feats = {"scattering": lambda s: s.flatten(1).numpy(),
             "scattering_rotpool": lambda s: orientation_pooled(s, sc.J, sc.L).numpy()}  # fmt: skip
    for model, f in feats.items():
        acc = _logreg(f(s_train), y, {"upright": f(s_up), "rotated": f(s_rot)}, yt, sc.C)
        rows += [_row(experiment="rotation", model=model, seed=-1, metric="accuracy", condition=k, value=v)
                 for k, v in acc.items()]  # fmt: skip
        log.info("rotation %s: %s", model, acc)
    spec = TrainSpec(cfg.epochs, cfg.pooling.batch, cfg.pooling.lr, tuple(sc.cnn_widths), cfg.pooling.p_init,  # type: ignore[arg-type]
                     cfg.pooling.schedule)
    tests = {"upright": (upright[:, None], torch.tensor(yt)), "rotated": (rotated[:, None], torch.tensor(yt))}
    jobs = [("max", s, spec, x[tr][:, None], torch.tensor(y), x[va][:, None], torch.tensor(labels[va]), tests,
             len(classes)) for s in cfg.seeds]  # fmt: skip
    for s, r in zip(cfg.seeds, _run_jobs(jobs, cfg.workers), strict=True):
        rows += [_row(experiment="rotation", model="cnn", seed=s, metric="accuracy", condition=k, value=v)
                 for k, v in r["tests"].items()]  # fmt: skip
        log.info("rotation cnn seed %d: %s", s, r["tests"])
    return _frame(rows)


def separation(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖mean(a) − mean(b)‖ / sqrt(½ Σ_k (var_k(a) + var_k(b))) over rows (images) of a, b (n, K)."""
    spread = 0.5 * (a.var(0) + b.var(0)).sum()
    return float((a.mean(0) - b.mean(0)).norm() / spread.sqrt())


def texture_experiment(cfg: InvarianceConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """Separation rows per order, mean coefficients per texture and path, and one example pair (2, H, W)."""
    tc, sc = cfg.texture, cfg.scattering
    gen = torch.Generator().manual_seed(cfg.split_seed)
    a = strokes(cfg.texture_images, tc.size, tc.strokes, tc.length, gen)
    b = phase_twin(a, gen)
    bank = morlet_bank(tc.size, tc.J, sc.L, sc.sigma0, sc.xi0, sc.slant)
    p = paths(tc.J, sc.L)
    sa, sb = (scattering(t, bank, dtype=torch.float64).mean((-2, -1)) for t in (a, b))
    two = p[p.order == 2]
    parent = [int(p.index[(p.order == 1) & (p.j1 == r.j1) & (p.l1 == r.l1)][0]) for r in two.itertuples()]
    one = list(p.index[p.order == 1])
    sets = {"order1": (sa[:, one], sb[:, one]), "order2": (sa[:, two.index], sb[:, two.index]),
            "order2_normalised": (sa[:, two.index] / sa[:, parent], sb[:, two.index] / sb[:, parent])}  # fmt: skip
    rows = [_row(experiment="texture", model=k, metric="separation", value=separation(*v)) for k, v in sets.items()]
    spectrum = (torch.fft.fft2(a).abs() - torch.fft.fft2(b).abs()).abs().max() / torch.fft.fft2(a).abs().max()
    rows.append(_row(experiment="texture", model="spectrum", metric="max_rel_power_difference", value=float(spectrum)))
    for k, (ca, cb) in sets.items():
        for tex, c in (("strokes", ca), ("phase_twin", cb)):
            rows += [_row(experiment="texture_coef", model=k, condition=tex, channel=i, metric="mean", value=float(v))
                     for i, v in enumerate(c.mean(0))]  # fmt: skip
    return _frame(rows), torch.stack([a[0], b[0]]).float().numpy()
