"""Check every params section and the run references before ``dvc repro`` starts anything.

``dvc repro`` removes a stage's outputs before it runs the stage, so a bad param found by a stage
costs the previous result. :func:`validate` finds what can be found without reading datasets: every
section each stage reads (built with the same typed configs), the layout of ``data/raw`` as each
dataset's ``source`` sees it (the check ``make_dataset`` makes first: a partial, misplaced or empty
real dataset is an error even under ``source: auto``), each run's spec and architecture rules, the
runs listed in ``extract_features.runs`` against ``train.models``, the device, and outputs of runs
no longer in params. It returns every problem found (one line each, naming the params key), not
only the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from eqlab.params import ParamError, RawDataError, build, check_choice, profile_of, section


def _attempt(problems: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, or None with its error appended to ``problems``."""
    try:
        return check(*args)
    except (ParamError, RawDataError, ValueError, KeyError) as e:
        # a KeyError's str() quotes its message; other messages may end in a quote of their own
        problems.append(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))
        return None


def _section(params: dict[str, Any], cls: type, key: str) -> Any:
    return build(cls, section(params, key), key)


def check_datasets(params: dict[str, Any], profile: str, raw_root: Path, problems: list[str]) -> None:
    """Each dataset's sections, and ``raw_root`` (data/raw) as its source sees it: one line per
    layout problem, naming every dataset it stops (rot_mnist and scale_mnist share ``mnist/``)."""
    from eqlab.data.layout import layout_problems
    from eqlab.data.registry import DATASETS, dataset_spec

    raw_problems: dict[str, list[str]] = {}
    for name in DATASETS:
        spec = dataset_spec(name)
        cfg = _attempt(problems, _section, params, spec.config, f"make_dataset.{name}")
        _attempt(problems, _section, params, spec.sizes, f"make_dataset.{profile}.{name}")
        for message in layout_problems(raw_root, cfg.source, spec.raw_sources) if cfg is not None else ():
            raw_problems.setdefault(message, []).append(f"make_dataset.{name}.source")
    problems += [f"{', '.join(keys)}: {message}" for message, keys in raw_problems.items()]


def check_runs(params: dict[str, Any], profile: str, problems: list[str]) -> dict[str, Any]:
    """The runs of ``train.models`` that check out; the specs of the optional sets
    (``train.optional``) are checked as well."""
    from eqlab import runsets
    from eqlab.data.registry import DATASETS
    from eqlab.models import ARCHS, model_kwargs
    from eqlab.runs import run_spec
    from eqlab.train.config import ComputeConfig, DistributedConfig, OptimConfig, ProfileConfig

    for cls, key in ((OptimConfig, "train.optim"), (DistributedConfig, "train.distributed"),
                     (ComputeConfig, "train.compute")):
        _attempt(problems, _section, params, cls, key)
    prof = _attempt(problems, _section, params, ProfileConfig, f"train.{profile}")
    for a in prof.arch_width if prof else ():
        _attempt(problems, check_choice, f"train.{profile}.arch_width (key)", a, sorted(ARCHS))
    runs = {}
    models = _attempt(problems, section, params, "train.models") or {}
    optional = _attempt(problems, runsets.optional_runs, params.get("train") or {}) or {}
    # the specs of disabled sets are checked too: `eqlab sets enable` must not uncover a bad one
    for name, entry, where in [*((n, e, "models") for n, e in models.items()),
                               *((n, e, "optional") for n, (_, e) in optional.items())]:
        def problem(e: ValueError, name: str = name, where: str = where) -> None:
            message = str(e) if f"train.models.{name}" in str(e) else f"train.models.{name}: {e}"
            problems.append(message.replace(f"train.models.{name}", f"train.{where}.{name}"))

        try:
            run = run_spec(name, entry)
        except ValueError as e:
            problem(e)
            continue
        if where == "models":
            runs[name] = run
        for check in (lambda r=run, n=name: check_choice(f"train.models.{n}.dataset", r.dataset, DATASETS),
                      lambda r=run: prof is not None and model_kwargs(r, prof.width_of(r.arch), prof.input_size)):
            try:
                check()
            except ValueError as e:
                problem(e)
    return runs


def check_probes(params: dict[str, Any], profile: str, runs: dict[str, Any], problems: list[str]) -> None:
    from eqlab.features.extract import ExtractConfig, ExtractProfile
    from eqlab.groups import INTERPOLATIONS, get_transform
    from eqlab.probes.alignment import config_from_params as alignment_config
    from eqlab.probes.dsb_blobs import config_from_params as dsb_config
    from eqlab.probes.extent import ExtentProfile
    from eqlab.probes.hcnn_digits import config_from_params as hcnn_config
    from eqlab.probes.hog_classify import config_from_params as hog_classify_config
    from eqlab.probes.hog_maps import config_from_params as hog_maps_config
    from eqlab.probes.irevnet_probe import config_from_params as irevnet_config
    from eqlab.probes.lenc_vedaldi import LVConfig
    from eqlab.probes.lie import FLOWS
    from eqlab.probes.lv_pose import config_from_params as lv_pose_config
    from eqlab.probes.rfnn_digits import config_from_params as rfnn_config
    from eqlab.probes.stn_digits import config_from_params as stn_config

    ef = _attempt(problems, section, params, "extract_features") or {}
    common = {k: v for k, v in ef.items() if k not in ("small", "paper", "smoke", "runs")}
    cfg = _attempt(problems, build, ExtractConfig, common, "extract_features")
    if cfg is not None:
        _attempt(problems, check_choice, "extract_features.interpolation", cfg.interpolation, INTERPOLATIONS)
        for i, name in enumerate(cfg.transforms):
            try:
                get_transform(name)
            except ValueError as e:
                problems.append(f"params key 'extract_features.transforms[{i}]': {e}")
    _attempt(problems, _section, params, ExtractProfile, f"extract_features.{profile}")
    for name, entry in (ef.get("runs") or {}).items():
        key = f"extract_features.runs.{name}"
        if name not in runs:
            problems.append(f"params key '{key}' names run {name!r}, which is not a valid run of train.models "
                            f"(runs: {sorted(runs)})")
            continue
        if not isinstance(entry, dict) or sorted(entry) != ["arch", "dataset", "family"]:
            problems.append(f"params key '{key}' must be a mapping with keys ['arch', 'dataset', 'family'], "
                            f"got {entry!r}")
            continue
        for k in ("dataset", "family", "arch"):
            if entry[k] != getattr(runs[name], k):
                problems.append(f"params key '{key}.{k}' is {entry[k]!r}, but train.models.{name}.{k} is "
                                f"{getattr(runs[name], k)!r}")
    _attempt(problems, _section, params, ExtentProfile, f"probe_extent.{profile}")
    for i, f in enumerate(_attempt(problems, section, params, "probe_extent.lie_flows") or []):
        _attempt(problems, check_choice, f"probe_extent.lie_flows[{i}]", f, FLOWS)
    _attempt(problems, _section, params, LVConfig, "probe_lv_maps")
    _attempt(problems, hog_maps_config, params)
    _attempt(problems, hog_classify_config, params)
    al_cfg = _attempt(problems, alignment_config, params)
    if al_cfg is not None and (bad := [r for r in al_cfg.trained_runs if r not in runs]):
        problems.append(f"params key 'probe_alignment.trained_runs': {bad} are not valid runs of train.models; "
                        f"valid runs: {sorted(runs)}")
    _attempt(problems, lv_pose_config, params)
    for config in (rfnn_config, dsb_config, hcnn_config, irevnet_config, stn_config):  # own small networks
        _attempt(problems, config, params)


def check_stale(root: Path, runs: list[str], probed: list[str], problems: list[str]) -> None:
    """Outputs of runs no longer in params (``collect`` would refuse them after hours of training)."""
    from eqlab.report.collect import stale_outputs

    stale = [*stale_outputs(root / "reports/runs", runs, ".json"),
             *stale_outputs(root / "reports/metrics/train", runs, ".json"),
             *stale_outputs(root / "data/probes/extent", runs),
             *stale_outputs(root / "data/probes/lv_maps", probed)]
    if stale:
        problems.append("outputs of runs no longer in train.models (delete them, or `eqlab sets disable <set>` for "
                        "a run set's; collect refuses them): "
                        + ", ".join(p.relative_to(root).as_posix() for p in stale))


def validate(params: dict[str, Any], root: Path = Path(".")) -> list[str]:
    """Every problem in ``params``, in ``root/data/raw`` and stale outputs under ``root``, one line
    each; empty when all is well."""
    from eqlab.cli import threads_of
    from eqlab.train.device import device_from_params

    problems: list[str] = []
    profile = _attempt(problems, profile_of, params)
    if profile is None:
        return problems
    _attempt(problems, device_from_params, params)
    _attempt(problems, threads_of, params)
    check_datasets(params, profile, root / "data" / "raw", problems)
    runs = check_runs(params, profile, problems)
    check_probes(params, profile, runs, problems)
    check_stale(root, sorted(runs), sorted((params.get("extract_features") or {}).get("runs") or {}), problems)
    return problems
