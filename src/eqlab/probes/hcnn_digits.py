"""The hierarchical attribute CNN in miniature on the embedded digits (thesis ch. 5, Tables 7–8 analogue).

On the RFNN study's digits (:func:`eqlab.probes.rfnn_digits.prepare_digits`: a stratified test split,
block-mean down-scaled), per seed one stratified training subset of ``n_train`` digits; on it the HCNN
(:class:`eqlab.models.hcnn.HCNN`, ``k`` attribute values, ``strides``) at every ``q_values`` (the number of
separable filters Q of eq. 37), and the vanilla CNN of the same depth and strides whose width is the smallest
with each of ``cnn_ratios`` × the parameters of the HCNN at Q = ``q``: about 10× is the thesis's comparison
(HCNN 0.098M against All-CNN 1.3M), 1× the control a referee asks for (does the structure beat a plain net of
the same size?). All networks train for ``steps`` Adam steps on the same mini-batches; one row per network and
seed (``COLUMNS``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from eqlab.models.counting import n_params
from eqlab.models.hcnn import HCNN, cnn_width_for, vanilla_cnn
from eqlab.probes.profiled import profiled_config
from eqlab.probes.rfnn_digits import prepare_digits, stratified, train_eval

log = logging.getLogger(__name__)
COLUMNS = ("model", "k", "q", "width", "ratio", "n_params", "n_train", "seed", "test_acc", "steps")


@dataclass(frozen=True)
class HcnnConfig:
    """``probe_hcnn``: shared keys; ``n_train``, ``seeds``, ``steps`` and ``n_test`` per profile."""

    k: int = field(default=8, metadata={"min": 4})
    q: int = field(default=8, metadata={"min": 1})
    q_values: tuple[int, ...] = (2, 4, 8)
    strides: tuple[int, ...] = (1, 2, 1, 2, 1)
    cnn_ratios: tuple[float, ...] = (1.0, 10.0)
    downscale: int = field(default=2, metadata={"min": 1, "max": 4})
    lr: float = field(default=1e-2, metadata={"min": 0.0})
    batch: int = field(default=32, metadata={"min": 1})
    seed: int = 0
    n_train: int = field(default=1000, metadata={"min": 10})
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = field(default=300, metadata={"min": 1})
    n_test: int = field(default=1000, metadata={"min": 10})

    def __post_init__(self) -> None:
        if self.k % 4:
            raise ValueError(f"k={self.k} must be a multiple of 4 (attribute arrays K/4 × K/2 × K)")
        if not self.q_values or any(q < 1 for q in self.q_values) or len(set(self.q_values)) != len(self.q_values):
            raise ValueError(f"q_values={self.q_values} must be distinct positive integers")
        if self.q not in self.q_values:
            raise ValueError(f"q={self.q} (the HCNN the CNN is sized against) must be one of q_values={self.q_values}")
        if not self.cnn_ratios or any(r <= 0 for r in self.cnn_ratios):
            raise ValueError(f"cnn_ratios={self.cnn_ratios} must be a non-empty list of positive numbers")
        if len(self.strides) < 3 or any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"strides={self.strides} must be ≥ 3 layers of stride 1 or 2")
        if self.n_train % 10:
            raise ValueError(f"n_train={self.n_train} must be a multiple of 10 (stratified over 10 digits)")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds={self.seeds} must be distinct and non-empty")


@dataclass(frozen=True)
class HcnnSizes:
    n_train: int = field(metadata={"min": 10})
    seeds: tuple[int, ...]
    steps: int = field(metadata={"min": 1})
    n_test: int = field(metadata={"min": 10})


def config_from_params(params: dict[str, Any], key: str = "probe_hcnn") -> HcnnConfig:
    return profiled_config(params, key, HcnnConfig, HcnnSizes)


def networks(cfg: HcnnConfig, n_classes: int = 10) -> list[tuple[str, int, int, float, torch.nn.Module]]:
    """(model, q, width, ratio, net) of one seed: the HCNN at every Q, then a vanilla CNN per ratio (q = 0)."""
    nets: list[tuple[str, int, int, float, torch.nn.Module]] = [
        ("hcnn", q, 0, 0.0, HCNN(cfg.k, q, cfg.strides, n_classes)) for q in sorted(cfg.q_values)
    ]
    target = n_params(HCNN(cfg.k, cfg.q, cfg.strides, n_classes))
    for ratio in sorted(cfg.cnn_ratios):
        width = cnn_width_for(int(round(ratio * target)), cfg.strides, n_classes)
        nets.append(("cnn", 0, width, ratio, vanilla_cnn(width, cfg.strides, n_classes)))
    return nets


def hcnn_experiment(cfg: HcnnConfig, images: np.ndarray, labels: np.ndarray, progress=None) -> pd.DataFrame:
    n_cls = len(np.unique(labels))
    x_all, y_all, test, pool = prepare_digits(images, labels, cfg.n_test, cfg.downscale, cfg.seed)
    rows = []
    for seed in cfg.seeds:
        tr = torch.from_numpy(stratified(labels, cfg.n_train // n_cls, np.random.default_rng([cfg.seed, seed, 5]), pool))
        torch.manual_seed(1000 * seed + 5)
        for model, q, width, ratio, net in networks(cfg, n_cls):
            acc = train_eval(net, x_all[tr], y_all[tr], x_all[test], y_all[test], cfg.steps, cfg.batch, cfg.lr, seed)
            rows.append((model, cfg.k, q, width, ratio, n_params(net), cfg.n_train, seed, acc, cfg.steps))
            log.info("%s q=%d width=%d (%d params) seed %d: %.3f", model, q, width, n_params(net), seed, acc)
            if progress is not None:
                progress.update(1)
    return pd.DataFrame(rows, columns=list(COLUMNS))
