"""Upright natural images and the training of Lenc & Vedaldi's network analogues (``lv_nets``).

Data: the embedded TIM stand-in *before rotation* (:func:`eqlab.data.tinyimagenet.embedded_tim`: one
class per scikit-image / scikit-learn picture, train/val crops from the top 65 % of each picture, test
crops from the bottom 35 %), resized 64 → 32 px with antialiasing. Two label sets split its 16 classes:
``a`` (even class indices, the ImageNet analogue) and ``b`` (odd ones, the Places analogue: another task
on the same kind of images). Training uses **horizontal flips only** (each image flipped with
probability ½, never rotated or flipped vertically), as the paper's networks were trained: AdamW (plain
SGD did not leave chance level on these tiny nets in 10 epochs), cross-entropy, the one-cycle schedule of :func:`eqlab.train.schedule.get_lr`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.data.tinyimagenet import TimSizes, embedded_tim
from eqlab.models import lv_nets
from eqlab.models.lv_nets import IMAGE, TappedStages
from eqlab.params import ParamError, build, profile_of, section
from eqlab.train.schedule import get_lr

log = logging.getLogger(__name__)
LABEL_SETS = ("a", "b")
MEAN, STD = 128.0, 64.0  # uint8 → roughly unit-variance inputs


@dataclass(frozen=True)
class ProfileSizes:
    """``lenc_vedaldi_nets.<profile>``: images per class (of the 16) per split, and training epochs."""

    train_per_class: int = field(metadata={"min": 1})
    val_per_class: int = field(metadata={"min": 1})
    test_per_class: int = field(metadata={"min": 1})
    epochs: int = field(metadata={"min": 1})


@dataclass(frozen=True)
class DataConfig:
    """``lenc_vedaldi_nets.<profile>`` sizes (per class of the 16) and the crop seed."""

    train_per_class: int = field(metadata={"min": 1})
    val_per_class: int = field(metadata={"min": 1})
    test_per_class: int = field(metadata={"min": 1})
    seed: int = 0


@dataclass(frozen=True)
class NetConfig:
    """``lenc_vedaldi_nets.nets.<id>``: one trained network, ``arch`` of family ``family`` (the module
    ``eqlab.models.lv_<family>``); ``transforms`` (optional) narrows the probe's transforms for this net
    (empty: all of ``lenc_vedaldi_nets.probe.transforms``) and ``solvers: false`` skips its LS, FS,
    ReLU-OPT and task-loss maps (``probe.solvers_for``)."""

    family: str = "anet"
    arch: str = "anet"
    label_set: Literal["a", "b"] = "a"
    seed: int = 0
    transforms: tuple[str, ...] = ()
    solvers: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """``lenc_vedaldi_nets`` training keys (shared by every net)."""

    epochs: int = field(default=12, metadata={"min": 1})
    batch_size: int = field(default=32, metadata={"min": 1})
    lr_min: float = field(default=1e-4, metadata={"min": 0.0})
    lr_max: float = field(default=5e-3, metadata={"min": 0.0})
    rise: float = field(default=0.3, metadata={"min": 0.0, "max": 1.0})
    weight_decay: float = field(default=1e-4, metadata={"min": 0.0})


def upright_images(cfg: DataConfig) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """uint8 ``(N, 3, 32, 32)`` images and int64 labels (0–15) per split, upright, and the class names."""
    sizes = TimSizes(len(_classes()), cfg.train_per_class, cfg.val_per_class, cfg.test_per_class)
    arrays, classes = embedded_tim(sizes, cfg.seed)
    out = {}
    for split, (images, labels) in arrays.items():
        x = torch.from_numpy(images.astype(np.float32))
        y = F.interpolate(x, size=(IMAGE, IMAGE), mode="bilinear", antialias=True, align_corners=False)
        out[split] = (y.round().clamp(0, 255).to(torch.uint8).numpy(), labels)
    return out, classes


def _classes() -> tuple[str, ...]:
    from eqlab.data.tinyimagenet import EMBEDDED_CLASSES

    return EMBEDDED_CLASSES


def select(images: np.ndarray, labels: np.ndarray, label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """The images of one label set, relabelled 0…7: set ``a`` keeps even labels (label // 2), ``b`` odd ones."""
    if label_set not in LABEL_SETS:
        raise ValueError(f"label_set must be one of {list(LABEL_SETS)}, got {label_set!r}")
    keep = labels % 2 == LABEL_SETS.index(label_set)
    return images[keep], labels[keep] // 2


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 images → the float input the nets take: (x − 128) / 64."""
    return (torch.from_numpy(images).float() - MEAN) / STD


def build_net(net: NetConfig, n_classes: int) -> TappedStages:
    return lv_nets.build(net.family, net.arch, n_classes)


def load_net(models_dir: str | Path, net_id: str, net: NetConfig) -> TappedStages:
    """A trained net from ``models_dir/<net_id>`` (``train_lv``'s ``config.json`` and ``model.pt``, a state
    dict loaded with ``weights_only=True``), in eval mode."""
    model_dir = Path(models_dir) / net_id
    config = json.loads((model_dir / "config.json").read_text())
    model = build_net(net, config["n_classes"])
    model.load_state_dict(torch.load(model_dir / "model.pt", weights_only=True))
    return model.eval()


@torch.no_grad()
def error_rate(model: TappedStages, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    model.eval()
    wrong = sum(int((model(x[i : i + batch]).argmax(1) != y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return wrong / max(1, len(x))


def train_net(
    net: NetConfig, cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor, n_classes: int
) -> tuple[TappedStages, list[dict]]:
    """Train from seed ``net.seed`` with random horizontal flips only; returns the model (eval mode) and
    one log row per epoch (lr, mean training loss)."""
    torch.manual_seed(net.seed)
    model = build_net(net, n_classes)
    gen = torch.Generator().manual_seed(net.seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr_min, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(x) // cfg.batch_size)
    total, step, history = cfg.epochs * steps_per_epoch, 0, []
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for idx in torch.randperm(len(x), generator=gen).split(cfg.batch_size):
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip.view(-1, 1, 1, 1), x[idx].flip(-1), x[idx])  # h-flip only
            lr = get_lr(step, total, cfg.lr_min, cfg.lr_max, cfg.rise)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
        history.append({"epoch": epoch, "lr": lr, "loss": float(np.mean(losses))})
        log.info("epoch %d: loss %.4f", epoch, history[-1]["loss"])
    model.eval()
    return model, history


SECTION = "lenc_vedaldi_nets"
KEYS = ("data_seed", "train", "nets", "probe", "stitch", "small", "paper", "smoke")


def configs(params: dict) -> tuple[DataConfig, TrainConfig, dict[str, NetConfig]]:
    """The data, training and per-net configs of params section ``lenc_vedaldi_nets`` (unknown keys: error)."""
    s = section(params, SECTION)
    if unknown := sorted(set(s) - set(KEYS)):
        raise ParamError(f"unknown params key(s) {[f'{SECTION}.{k}' for k in unknown]}; allowed: {list(KEYS)}")
    profile = profile_of(params)
    sizes = build(ProfileSizes, section(params, f"{SECTION}.{profile}"), f"{SECTION}.{profile}")
    data = DataConfig(
        sizes.train_per_class, sizes.val_per_class, sizes.test_per_class, int(section(params, f"{SECTION}.data_seed"))
    )
    train = build(TrainConfig, {**section(params, f"{SECTION}.train"), "epochs": sizes.epochs}, f"{SECTION}.train")
    nets = {k: build(NetConfig, v, f"{SECTION}.nets.{k}") for k, v in section(params, f"{SECTION}.nets").items()}
    for k, net in nets.items():
        try:
            lv_nets.family_module(net.family, net.arch)
        except ValueError as e:
            raise ParamError(f"{SECTION}.nets.{k}: {e}") from e
    return data, train, nets


def load_split(data_dir: str | Path, split: str, label_set: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs and labels (0…7) of one split and label set."""
    with np.load(Path(data_dir) / "images.npz") as z:
        x, y = select(z[f"{split}_images"], z[f"{split}_labels"], label_set)
    return to_input(x), torch.from_numpy(y)
