"""``eqlab measure``: the per-layer equivariance table of a model on a batch of images.

See :func:`eqlab.measure.measure` for the metrics. Models: ``torchvision:<name>`` (random weights,
``weights=None``; ``--checkpoint`` loads a state dict into it with ``weights_only=True``) or a
trained pipeline model directory ``data/models/<run>`` (``config.json`` + ``model.pt``). Images: a
``.npy`` array, a pipeline dataset directory ``data/datasets/<id>`` (one split) or an embedded
sample (``embedded:mnist``, ``embedded:astronaut`` …; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PICTURES: tuple[str, ...] = ("astronaut", "camera", "chelsea", "coffee", "rocket")
EMBEDDED: tuple[str, ...] = ("mnist", *PICTURES)
OUT_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")


class CommandError(Exception):
    """An expected failure: reported as one line on stderr, exit status 2."""


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "measure",
        help="per-layer equivariance of a model (extent, Lenc & Vedaldi, Lie derivative)",
        description="Measure how far each layer φ of a model is from φ(g·x) = g·φ(x) on a batch of images and "
        "write one long table (layer, layer_index, probe, transform, metric, value). Metrics: extent "
        "(IEN: Σ_g MSE(g⁻¹·ĥ(g·x), ĥ(x)) and its relative form), lv (Lenc & Vedaldi residuals p_only and "
        "ridge on held-out images), lie (Gruver et al.'s Lie derivative per flow: lie_abs, lie_rel). "
        "The model runs in eval mode.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model",
        required=True,
        help="torchvision:<name> (built with weights=None) or a trained model directory data/models/<run>",
    )
    p.add_argument("--checkpoint", help="state dict (.pt) to load into a torchvision:<name> model (weights_only=True)")
    p.add_argument("--num-classes", type=int, help="output classes of a torchvision:<name> model")
    p.add_argument(
        "--images",
        required=True,
        help="a .npy array (N, C, H, W) or (N, H, W), uint8 or float; a dataset directory "
        f"data/datasets/<id>; or embedded:<name> with <name> in {', '.join(EMBEDDED)}",
    )
    p.add_argument("--split", default="test", help="split of a dataset directory")
    p.add_argument(
        "--n-images", type=int, default=8, help="images taken (from the start of a file, at random otherwise)"
    )
    p.add_argument(
        "--size", type=int, help="resize (mnist) or crop (pictures, default 64) embedded images to this size"
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--group", help="finite group: r1, r2, r4, r8, r4r, scale (default r4)")
    g.add_argument("--transforms", help="comma list of transforms, e.g. rot90,hflip,rot45,scale0.8")
    p.add_argument(
        "--layers",
        help="comma list of layer names (named_modules paths or tap names); default: every "
        "conv and 4-D top-level block, or a pipeline model's taps",
    )
    p.add_argument("--metrics", default="extent,lv,lie", help="comma list from extent, lv, lie")
    p.add_argument(
        "--flows",
        default="rotate,translate_x,translate_y,scale",
        help="comma list of Lie-derivative flows from rotate, translate_x, translate_y, scale",
    )
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    p.add_argument("--ridge-lambda", type=float, default=1e-3, help="ridge penalty of the lv channel maps")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda (default: where the model is, cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of image sampling and the lv fit/held-out split")
    p.add_argument("--out", help="write the table here (.csv or .parquet, atomically)")
    return p


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def load_model(spec: str, checkpoint: str | None, num_classes: int | None):
    """A torchvision model (random weights, optionally a state dict) or a trained pipeline model."""
    import torch

    if spec.startswith("torchvision:"):
        import torchvision

        name = spec.split(":", 1)[1]
        allowed = torchvision.models.list_models(module=torchvision.models)
        if name not in allowed:
            raise CommandError(f"unknown torchvision model {name!r}; allowed: {', '.join(allowed)}")
        kwargs = {} if num_classes is None else {"num_classes": num_classes}
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        if checkpoint is not None:
            path = Path(checkpoint)
            if not path.is_file():
                raise CommandError(f"checkpoint not found: {path}")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as e:  # truncated, not a torch file, or pickled objects beyond tensors
                raise CommandError(f"cannot read checkpoint {path}: {_first_line(e)}") from e
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise CommandError(f"checkpoint {path} is not a state dict (a mapping of names to tensors)")
            try:
                model.load_state_dict(state)
            except RuntimeError as e:
                raise CommandError(f"checkpoint {path} does not fit {spec}: {_first_line(e)}") from e
        return model
    if checkpoint is not None:
        raise CommandError("--checkpoint goes with --model torchvision:<name>")
    d = Path(spec)
    if not (d / "config.json").is_file() or not (d / "model.pt").is_file():
        raise CommandError(
            f"--model {spec!r} is neither torchvision:<name> nor a model directory with config.json and model.pt"
        )
    from eqlab.models import load_trained

    try:
        return load_trained(d)
    except Exception as e:
        raise CommandError(f"cannot load model {d}: {_first_line(e)}") from e


def _embedded(name: str, n: int, size: int | None, seed: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    if name == "mnist":
        from eqlab.data.raw import embedded_digits

        digits = embedded_digits().images
        x = torch.from_numpy(digits[np.sort(rng.choice(len(digits), min(n, len(digits)), replace=False))])
        x = x.float().div(255).unsqueeze(1)
        if size is not None and size != x.shape[-1]:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return x.numpy()
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0
    img = img[..., :3].transpose(2, 0, 1) if img.ndim == 3 else img[None]
    size = size or 64
    t = torch.from_numpy(np.ascontiguousarray(img))[None]
    scale = 2 * size / min(t.shape[-2:])
    t = F.interpolate(t, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)[0]
    h, w = t.shape[-2:]
    ys, xs = rng.integers(0, h - size + 1, n), rng.integers(0, w - size + 1, n)
    return np.stack([t[:, y : y + size, x : x + size].numpy() for y, x in zip(ys, xs, strict=True)])


def load_images(spec: str, n: int, size: int | None, split: str, seed: int) -> np.ndarray:
    """Images as a numpy array (N, C, H, W) or (N, H, W), uint8 or float."""
    if n < 1:
        raise CommandError(f"--n-images must be ≥ 1, got {n}")
    if spec.startswith("embedded:"):
        name = spec.split(":", 1)[1]
        if name not in EMBEDDED:
            raise CommandError(f"unknown embedded images {name!r}; allowed: {', '.join(EMBEDDED)}")
        return _embedded(name, n, size, seed)
    path = Path(spec)
    if path.is_dir():
        from eqlab.data.store import load_split

        return load_split(path, split).images[:n]
    if not path.is_file():
        raise CommandError(f"images not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:
        raise CommandError(f"cannot read images {path}: {_first_line(e)}") from e
    if not isinstance(arr, np.ndarray) or arr.ndim not in (3, 4):
        raise CommandError(
            f"{path}: expected an array of shape (N, C, H, W) or (N, H, W), got {getattr(arr, 'shape', '?')}"
        )
    return arr[:n]


def summary(df) -> str:
    """Per layer: the relative extent over all elements, mean lv residuals, relative Lie derivative per flow."""
    parts = []
    ext = df[(df["metric"] == "extent_rel") & (df["transform"] == "all")]
    if len(ext):
        parts.append(ext.set_index("layer")["value"].rename("extent_rel"))
    lv = df[df["probe"] == "lv"]
    if len(lv):
        parts.append(lv.pivot_table(index="layer", columns="metric", values="value", aggfunc="mean"))
    lie = df[df["metric"] == "lie_rel"]
    if len(lie):
        parts.append(lie.pivot_table(index="layer", columns="transform", values="value").add_prefix("lie_rel:"))
    import pandas as pd

    order = df.drop_duplicates("layer").sort_values("layer_index")["layer"]
    table = pd.concat(parts, axis=1).reindex(order)
    table.columns.name = None
    return table.to_string(float_format=lambda v: f"{v:.3g}")


def write_table(df, out: str) -> None:
    from eqlab.io import atomic_path

    path = Path(out)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


def run(args: argparse.Namespace) -> int:
    from eqlab.cli import setup_logging

    setup_logging()
    try:
        if args.out is not None and Path(args.out).suffix not in OUT_SUFFIXES:
            raise CommandError(f"--out must end in one of {', '.join(OUT_SUFFIXES)}, got {args.out!r}")
        from eqlab.measure import measure

        model = load_model(args.model, args.checkpoint, args.num_classes)
        images = load_images(args.images, args.n_images, args.size, args.split, args.seed)
        df = measure(
            model,
            images,
            group=args.group,
            transforms=_csv(args.transforms),
            layers=_csv(args.layers),
            metrics=_csv(args.metrics) or [],
            flows=_csv(args.flows) or [],
            batch_size=args.batch_size,
            device=args.device,
            seed=args.seed,
            ridge_lambda=args.ridge_lambda,
        )
        if args.out is not None:
            write_table(df, args.out)
            log.info("wrote %d rows to %s", len(df), args.out)
    except (CommandError, ValueError, FileNotFoundError) as e:
        print(f"error: {_first_line(e)}", file=sys.stderr)
        return 2
    sys.stdout.write(summary(df) + "\n")
    return 0
