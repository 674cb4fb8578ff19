"""Measure the equivariance of any model's layers: one call, one tidy table.

``measure(model, images)`` taps layers of any ``torch.nn.Module`` (a torchvision network, one of our
:class:`~eqlab.models.TappedModel`\\ s, a model with a loaded state dict) and scores, per layer, how far
each layer φ is from the law ``φ(g·x) = ρ(g)·P_g·φ(x)`` (P_g the same action on the feature grid; ρ the
tap's channel representation for our TappedModels — regular fields of e2cnn twins — else trivial):

* ``extent`` (probe ``extent``, IEN): ``e_g = MSE(g⁻¹·ĥ(g·x), ĥ(x))`` per element g and, in the row
  with transform ``all``, ``L_G = Σ_g e_g``; ``extent_rel = Σ‖g⁻¹·ĥ(g·x) − ĥ(x)‖² / Σ‖ĥ(x)‖²``. ĥ is
  the group-pooled map for taps with feature groups, the raw map otherwise;
* ``p_only`` and ``ridge`` (probe ``lv``, Lenc & Vedaldi): ``‖M φ(g·x) − φ(x)‖² / ‖φ(x)‖²`` on held-out
  images with ``M = (ρ(g)P_g)⁻¹`` or ``M = F ∘ (ρ(g)P_g)⁻¹``, F a 1×1 channel map + bias fitted in closed
  form (ridge) on the other images; φ is the raw map (where ρ is unknown, F may learn how g permutes
  channels);
* ``lie_abs`` and ``lie_rel`` (probe ``lie``, Gruver et al.): the Lie derivative ``Lφ(x)`` of
  :mod:`eqlab.probes.lie` for each flow: ``lie_abs`` = mean over images of ‖Lφ(x)‖²,
  ``lie_rel`` = Σ‖Lφ(x)‖² / Σ‖φ(x)‖² (φ pooled like ĥ).

The model runs in eval mode (BatchNorm statistics, no dropout); its mode, device and hooks are
restored afterwards. Nothing is cached between calls.

Example (random weights; run by the tests)::

    import torch, torchvision
    from eqlab.measure import measure
    model = torchvision.models.resnet18(weights=None)
    table = measure(model, torch.rand(4, 3, 64, 64), group="r4", layers=["layer1", "layer2"])
    print(table.pivot_table(index="layer", columns="metric", values="value", sort=False))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from eqlab.groups import Transform, get_transform, group_elements, group_pool
from eqlab.metrics.equivariance import layer_terms, stack_orbit
from eqlab.models.hooks import LayerSpec, LayerTaps, resolve_layers
from eqlab.probes.lie import FLOWS, lie_derivatives
from eqlab.probes.ridge import apply_1x1, fit_ridge, pixels

log = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("extent", "lv", "lie")
DEFAULT_GROUP = "r4"
COLUMNS = ["layer", "layer_index", "probe", "transform", "metric", "value"]
Terms = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # summed squared error, squared reference, count per g


def _check_names(kind: str, names: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    names = (names,) if isinstance(names, str) else tuple(names)
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ValueError(f"unknown {kind} {bad}; allowed values: {list(allowed)}")
    return names


def resolve_elements(group: str | None, transforms: Sequence[str | Transform] | None) -> tuple[Transform, ...]:
    """The identity followed by the named transforms or the group's elements (default: C4, ``r4``)."""
    if group is not None and transforms is not None:
        raise ValueError("give a group or a list of transforms, not both")
    if transforms is None:
        return group_elements(group or DEFAULT_GROUP)
    if isinstance(transforms, str):
        transforms = [t for t in transforms.split(",") if t]
    elements = [t if isinstance(t, Transform) else get_transform(t.strip()) for t in transforms]
    rest = [g for g in dict.fromkeys(elements) if g.kind != "identity"]
    if not rest:
        raise ValueError("no non-identity transform to measure")
    return (get_transform("identity"), *rest)


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    for p in list(model.parameters()) + list(model.buffers()):
        if p.is_floating_point():
            return p.dtype, p.device
    return torch.float32, torch.device("cpu")


def as_images(images: np.ndarray | torch.Tensor, model: nn.Module) -> torch.Tensor:
    """``(N, C, H, W)`` or ``(N, H, W)`` uint8 (scaled to [0, 1]) or float images → a float tensor
    in the model's dtype; the channel count is checked against the first ``nn.Conv2d`` when known."""
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim == 3:
        x = x.unsqueeze(1)
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    want = f"(N, {first.in_channels if first else 'C'}, H, W)"
    if first is None or first.in_channels == 1:
        want += " or (N, H, W)"
    if x.ndim != 4 or len(x) == 0 or (first is not None and x.shape[1] != first.in_channels):
        raise ValueError(f"images must have shape {want}; got {tuple(x.shape)}")
    dtype, _ = _model_dtype_device(model)
    return x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)


def _pooled(h: torch.Tensor, spec: LayerSpec) -> torch.Tensor:
    return h if spec.blocks is None else group_pool(h, spec.blocks)


def _extent_rows(specs: Sequence[LayerSpec], sums: dict[str, Terms], elements: Sequence[Transform]) -> list[dict]:
    rows = []
    for spec in specs:
        sq, rf, cnt = sums[spec.name]
        mse = sq / cnt.clamp_min(1)
        for g, e, s, r in zip(elements[1:], mse, sq, rf, strict=True):
            rows += [
                dict(layer=spec.name, transform=g.name, metric="extent", value=float(e)),
                dict(layer=spec.name, transform=g.name, metric="extent_rel", value=float(s / r.clamp_min(1e-300))),
            ]
        rows += [
            dict(layer=spec.name, transform="all", metric="extent", value=float(mse.sum())),
            dict(
                layer=spec.name,
                transform="all",
                metric="extent_rel",
                value=float(sq.sum() / rf.sum().clamp_min(1e-300)),
            ),
        ]
    return [dict(r, probe="extent") for r in rows]


def _residual(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    m = mask[None, None].astype(np.float64)
    num = (((pred.astype(np.float64) - target) ** 2) * m).sum()
    return float(num / max(((target.astype(np.float64) ** 2) * m).sum(), 1e-300))


def _lv_rows(
    specs: Sequence[LayerSpec],
    feats: dict[str, list[np.ndarray]],
    elements: Sequence[Transform],
    ridge_lambda: float,
    fit_fraction: float,
    seed: int,
) -> list[dict]:
    """Lenc & Vedaldi residuals on the held-out images (the fit/held-out split is seeded)."""
    n = len(feats[specs[0].name][0])
    order = np.random.default_rng(seed).permutation(n)
    k = min(max(1, int(round(n * fit_fraction))), n - 1)
    fit, ev = np.sort(order[:k]), np.sort(order[k:])
    rows = []
    for spec in specs:
        phi = feats[spec.name]
        base = phi[0]
        hh, ww = base.shape[-2:]
        for i, g in enumerate(elements[1:], start=1):
            mask = g.valid_mask(hh, ww).numpy()
            moved = torch.from_numpy(phi[i])  # φ(g·x); undo g with the layer's own action
            aligned = (spec.tap.act(moved, g.inverse()) if spec.tap else g.inverse().apply(moved)).numpy()
            xs, ys = pixels(aligned[fit], mask), pixels(base[fit], mask)
            try:
                a, b = fit_ridge(xs, ys, ridge_lambda)
            except np.linalg.LinAlgError:  # constant fit features (zero Gram): least squares, min-norm
                log.warning("layer %s, %s: degenerate ridge fit, using least squares", spec.name, g.name)
                a, b = fit_ridge(xs, ys, 0.0)
            ridge = apply_1x1(aligned[ev], a.astype(aligned.dtype), b.astype(aligned.dtype))
            for metric, pred in (("p_only", aligned[ev]), ("ridge", ridge)):
                rows.append(
                    dict(
                        layer=spec.name,
                        probe="lv",
                        transform=g.name,
                        metric=metric,
                        value=_residual(pred, base[ev], mask),
                    )
                )
    return rows


def measure(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    *,
    group: str | None = None,
    transforms: Sequence[str | Transform] | None = None,
    layers: Sequence[str] | None = None,
    metrics: Sequence[str] = METRICS,
    flows: Sequence[str] = FLOWS,
    batch_size: int = 16,
    device: str | torch.device | None = None,
    seed: int = 0,
    ridge_lambda: float = 1e-3,
    fit_fraction: float = 0.5,
) -> pd.DataFrame:
    """Per-layer equivariance of ``model`` on ``images`` as a long table (columns ``layer,
    layer_index, probe, transform, metric, value``).

    ``group`` names a finite group (``r4`` …, default ``r4`` when neither it nor ``transforms`` is
    given) and ``transforms`` lists elements by name (``rot90,hflip``); ``layers`` picks layers by name
    (default: a TappedModel's taps, else every Conv2d and 4-D top-level child); ``metrics`` ⊆
    ``("extent", "lv", "lie")``; ``flows`` ⊆ ``("rotate", "translate_x", "translate_y", "scale")``.
    ``lv`` needs ≥ 2 images (``fit_fraction`` of them fit the ridge maps, the rest score them).
    ``device`` moves the model there for the call (back afterwards). ``seed`` fixes the fit split.
    ``lv`` keeps every layer's maps of all images and their transforms in memory (the ridge fit needs
    them at once); ``extent`` and ``lie`` accumulate sums batch by batch. ``lie_rel`` is per unit of
    t squared: radians for rotation, input pixels for translations, log-scale for scaling.
    """
    metrics = _check_names("metrics", metrics, METRICS)
    flows = _check_names("flows", flows, FLOWS) if "lie" in metrics else ()
    if not metrics or ("lie" in metrics and not flows):
        raise ValueError(f"nothing to measure: choose metrics from {list(METRICS)} (and flows from {list(FLOWS)})")
    elements = resolve_elements(group, transforms)
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    x = as_images(images, model)
    if "lv" in metrics and len(x) < 2:
        raise ValueError(f"the lv metric needs at least 2 images (fit and held-out), got {len(x)}")
    swaps = [
        g.name
        for g in elements
        if g.exact and (g.kind == "rotate" and g.param % 180 or g.kind == "flip" and g.param >= 2)
    ]
    if swaps and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{swaps} swap rows and columns: they need square images, got {tuple(x.shape[-2:])}")
    _, home = _model_dtype_device(model)
    run_on = torch.device(device) if device is not None else home
    was_training = model.training
    try:
        with torch.no_grad():  # e2cnn caches expanded filters on eval(): keep them out of any graph
            model.to(run_on).eval()
        specs = resolve_layers(model, x[:1].to(run_on), layers)
        if not specs:
            raise ValueError(f"{type(model).__name__} has no layer with a 4-D output to measure")
        rows = _measure(model, x, specs, elements, metrics, flows, batch_size, run_on, seed, ridge_lambda, fit_fraction)
    finally:
        with torch.no_grad():
            model.train(was_training)
            model.to(home)
    order = {s.name: i for i, s in enumerate(specs)}
    df = pd.DataFrame(rows)
    df["layer_index"] = df["layer"].map(order)
    return df[COLUMNS]


def _measure(
    model: nn.Module,
    x: torch.Tensor,
    specs: Sequence[LayerSpec],
    elements: Sequence[Transform],
    metrics: Sequence[str],
    flows: Sequence[str],
    batch_size: int,
    dev: torch.device,
    seed: int,
    ridge_lambda: float,
    fit_fraction: float,
) -> list[dict]:
    names = [s.name for s in specs]
    sums: dict[str, Terms] = {}
    feats: dict[str, list[list[np.ndarray]]] = {n: [[] for _ in elements] for n in names}
    lie = {(n, f): [0.0, 0.0] for n in names for f in flows}
    with LayerTaps(model, specs) as taps:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(dev)
            if "extent" in metrics or "lv" in metrics:
                with torch.no_grad():
                    outs = taps(stack_orbit(xb, elements))
                for spec, h in zip(specs, outs, strict=True):
                    if "extent" in metrics:
                        sq, rf, cnt = layer_terms(h.double(), elements, spec.blocks or 1)
                        prev = sums.get(spec.name)
                        sums[spec.name] = (sq, rf, cnt) if prev is None else (prev[0] + sq, prev[1] + rf, prev[2] + cnt)
                    if "lv" in metrics:
                        for j, part in enumerate(h.chunk(len(elements))):
                            feats[spec.name][j].append(part.cpu().numpy())
            if flows:
                pooled = lie_derivatives(
                    lambda z: [_pooled(h, s) for s, h in zip(specs, taps(z), strict=True)], xb, flows
                )
                for flow, (lies, phis) in pooled.items():
                    for spec, lp, p in zip(specs, lies, phis, strict=True):
                        acc = lie[(spec.name, flow)]
                        acc[0] += float((lp.double() ** 2).sum())
                        acc[1] += float((p.double() ** 2).sum())
            log.debug("measured images %d–%d of %d", i, min(i + batch_size, len(x)), len(x))
    rows: list[dict] = []
    if "extent" in metrics:
        rows += _extent_rows(specs, {n: (a.cpu(), b.cpu(), c.cpu()) for n, (a, b, c) in sums.items()}, elements)
    if "lv" in metrics:
        stacked = {n: [np.concatenate(parts) for parts in v] for n, v in feats.items()}
        rows += _lv_rows(specs, stacked, elements, ridge_lambda, fit_fraction, seed)
    for (name, flow), (sq, ref) in lie.items():
        rows += [
            dict(layer=name, probe="lie", transform=flow, metric="lie_abs", value=sq / len(x)),
            dict(layer=name, probe="lie", transform=flow, metric="lie_rel", value=sq / max(ref, 1e-300)),
        ]
    return rows
