"""Training-step throughput as a fraction of the measured peak (``make bench``, section ``flops``).

For each small-profile architecture, the step is eqlab's own :func:`eqlab.train.loop.train` on a run
of ``params.yaml`` (IEN: every batch of B images carries its |G| group copies, cross-entropy on all
|G|·B, β·L_G on the group-pooled taps, Adam), with the builder arguments the train stage derives from
``train.<profile>``. Then

    FLOP/step   counted by FlopCounterMode over one step (forward + backward of the |G|·B images)
    images/s    B·steps / median wall time of ``steps`` steps (source images; the net sees |G| times more)
    GFLOP/s     FLOP/step · steps / that time
    % of peak   GFLOP/s / the conv2d peak measured in the same process (the faster of the runs
                before and after the steps; their ratio tells how much the machine's load moved)

plus the 6-layer IEN net at paper width (width 1.0, R4, batch 32) and, per case, the ops with the
most self CPU time over one step (``torch.profiler``).
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
from flops import FlopCount, Peak, count_flops, median_seconds

from eqlab import runsets
from eqlab.groups import group_elements
from eqlab.models import build_model, model_kwargs
from eqlab.params import build, check_choice, section
from eqlab.runs import run_spec
from eqlab.train.config import OptimConfig, ProfileConfig
from eqlab.train.loop import TrainSpec, train

# the runs timed per architecture: the IEN variant (group copies + equivariance loss) of each family
SMALL_RUNS = ("ien_r4", "tim_vgg_ien_r4", "tim_resnet_ien_r4")
# image shape (C, H, W) each dataset's make_dataset stage writes
DATASET_SHAPES = {"rot_mnist": (1, 28, 28), "scale_mnist": (1, 28, 28), "rot_tim": (3, 64, 64), "r2_tim": (3, 64, 64)}
PAPER_BATCH = 32  # issue 11, item 2: the 6-layer IEN at paper width, batch 32


@dataclass(frozen=True)
class StepCase:
    """One training step as the pipeline runs it: a run's model, its data shape and its TrainSpec."""

    label: str
    run: str
    arch: str
    kwargs: dict[str, Any]  # builder arguments (model_kwargs + in_channels, n_classes)
    shape: tuple[int, int, int]  # one image, (C, H, W), uint8 as stored
    group: str
    spec: TrainSpec  # batch_size = B source images per step

    def model(self) -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(self.arch, "cnn", **self.kwargs)

    @property
    def copies(self) -> int:
        return len(group_elements(self.group)) if self.spec.augment else 1


def _n_classes(params: Mapping[str, Any], profile: str, dataset: str) -> int:
    sizes = params.get("make_dataset", {}).get(profile, {}).get(dataset, {})
    return int(sizes.get("n_classes", 10))  # the MNIST variants have 10 digits and no such key


def step_case(
    params: Mapping[str, Any], run: str, profile: str = "small", width: float | None = None, batch: int | None = None
) -> StepCase:
    """The step of run ``run`` under ``train.<profile>`` and ``train.optim`` (``width`` and ``batch``
    override the profile's width and the optimiser's batch size)."""
    # the runs of train.models and of the optional sets (eqlab.runsets): the bench times architectures,
    # whichever runs this repro trains
    runs = {**section(params, "train.models"),
            **{r: spec for r, (_, spec) in runsets.optional_runs(params.get("train") or {}).items()}}
    spec = run_spec(run, runs[check_choice("train.models or train.optional (bench run)", run, sorted(runs))])
    if spec.family != "cnn":
        raise ValueError(f"run {run!r} is family {spec.family!r}; the step bench times family 'cnn' runs")
    if spec.dataset not in DATASET_SHAPES:
        raise ValueError(
            f"run {run!r}: dataset {spec.dataset!r} has no known image shape; allowed values: {sorted(DATASET_SHAPES)}"
        )
    prof = build(ProfileConfig, section(params, f"train.{profile}"), f"train.{profile}")
    optim = build(OptimConfig, section(params, "train.optim"), "train.optim")
    w = prof.width_of(spec.arch) if width is None else width
    shape = DATASET_SHAPES[spec.dataset]
    kwargs = {
        **model_kwargs(spec, w, prof.input_size),
        "in_channels": shape[0],
        "n_classes": _n_classes(params, profile, spec.dataset),
    }
    train_spec = TrainSpec(
        cycle_epochs=1,
        tail_epochs=0,
        batch_size=batch or optim.batch_size,
        lr_min=optim.lr_min,
        lr_max=optim.lr_max,
        rise=optim.rise,
        weight_decay=optim.weight_decay,
        augment=spec.augment,
        beta=spec.beta,
        seed=0,
    )
    label = f"{spec.arch} {run} (width {w:g}, batch {train_spec.batch_size})"
    return StepCase(label, run, spec.arch, kwargs, shape, spec.group or "r1", train_spec)


# train.compute variants of the paper step, timed on GPUs only (bf16 has no fast path on CPUs without
# native bfloat16, such as the 2-core AMD EPYC the budgets are measured on)
GPU_COMPUTE = (("fp32", True), ("bf16", False), ("bf16", True))


def with_compute(case: StepCase, precision: str, channels_last: bool) -> StepCase:
    """``case`` trained with ``train.compute`` = (``precision``, ``channels_last``)."""
    tags = [t for t, on in ((precision, precision != "fp32"), ("channels-last", channels_last)) if on]
    return replace(case, label=f"{case.label}, {', '.join(tags)}",
                   spec=replace(case.spec, precision=precision, channels_last=channels_last))


def bench_cases(params: Mapping[str, Any], device: torch.device | str = "cpu") -> list[StepCase]:
    """The small profile's architectures, then the 6-layer IEN R4 at paper width, batch 32 (on a GPU also
    with each :data:`GPU_COMPUTE` option)."""
    paper = step_case(params, "ien_r4", "paper", batch=PAPER_BATCH)
    gpu = [with_compute(paper, *c) for c in GPU_COMPUTE] if torch.device(device).type == "cuda" else []
    return [*(step_case(params, r) for r in SMALL_RUNS), paper, *gpu]


def _data(case: StepCase, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    n = steps * case.spec.batch_size
    x = torch.randint(0, 256, (n, *case.shape), generator=gen, dtype=torch.uint8)
    return x, torch.randint(0, case.kwargs["n_classes"], (n,), generator=gen)


def _runner(case: StepCase, model: torch.nn.Module, steps: int) -> Callable[[], None]:
    """``run()`` = eqlab's train() for one epoch of ``steps`` steps (no validation set)."""
    x, y = _data(case, steps)
    elements = group_elements(case.group)

    def run() -> None:
        train(model, case.spec, x, y, x[:0], y[:0], elements, progress=False)

    return run


def step_flops(case: StepCase, model: torch.nn.Module) -> FlopCount:
    """FLOPs of one training step of ``case`` on ``model`` (built by ``case.model()``), with the
    padding-excluded count from the model's convs. The step really runs (it warms the model up)."""
    return count_flops(_runner(case, model, 1), model)


def profile_ops(case: StepCase, model: torch.nn.Module, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` ops by self CPU time over one step: name, self CPU ms, share of the step's self CPU
    time, calls (``torch.profiler``; run it on a warm model)."""
    from torch.profiler import ProfilerActivity, profile

    run = _runner(case, model, 1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "self_cpu_ms": e.self_cpu_time_total / 1e3,
            "share": e.self_cpu_time_total / total,
            "calls": e.count,
        }
        for e in events[:top]
    ]


@dataclass(frozen=True)
class StepRow:
    label: str
    arch: str
    batch: int  # source images per step
    images_per_step: int  # what the net sees: batch × group copies
    flops: int  # per step, counted
    flops_no_padding: float  # per step, zero-padding taps excluded
    seconds_per_step: float
    precision: str = "fp32"  # train.compute.precision: rows in bf16 compare with the bf16 conv peak

    @property
    def images_per_s(self) -> float:
        return self.batch / self.seconds_per_step

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds_per_step / 1e9

    def of_peak(self, peak: Peak) -> float:
        """Achieved FLOP/s as a fraction of the measured peak."""
        return self.gflops / peak.gflops


def time_step(
    case: StepCase, model: torch.nn.Module, flops: FlopCount, steps: int, repeats: int, warmup: int = 1
) -> StepRow:
    """Median seconds per step over ``repeats`` runs of ``steps`` steps (after ``warmup`` untimed runs)."""
    seconds = median_seconds(_runner(case, model, steps), repeats, warmup) / steps
    return StepRow(
        case.label,
        case.arch,
        case.spec.batch_size,
        case.spec.batch_size * case.copies,
        flops.total,
        flops.padding_excluded,
        seconds,
        case.spec.precision,
    )


def peak_rss_mib() -> float:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_case(
    case: StepCase, steps: int, repeats: int, device: torch.device | str = "cpu", top: int = 10
) -> tuple[StepRow, list[dict[str, Any]]]:
    """One model: count one step's FLOPs (also its warm-up), profile one step, then time."""
    model = case.model().to(device)
    flops = step_flops(case, model)
    ops = profile_ops(case, model, top)
    return time_step(case, model, flops, steps, repeats, warmup=0), ops


def bench_steps(
    params: Mapping[str, Any], steps: int, repeats: int, device: torch.device | str = "cpu", top: int = 10
) -> tuple[list[StepRow], dict[str, list[dict[str, Any]]]]:
    """Per case of :func:`bench_cases`: its row and its top-``top`` op profile (keyed by label)."""
    quiet = logging.getLogger("eqlab.train.loop")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # train() logs one line per epoch
    try:
        rows, profiles = [], {}
        for case in bench_cases(params, device):
            row, profiles[case.label] = bench_case(case, steps, repeats, device, top)
            rows.append(row)
    finally:
        quiet.setLevel(level)
    return rows, profiles


def reference_rows(
    params: Mapping[str, Any], steps: int, repeats: int, device: torch.device | str, pair: Callable[..., tuple]
) -> list[dict[str, Any]]:
    """Issue 11's reference loop, measured in this run. Each small-profile step (:data:`SMALL_RUNS`) runs under
    the train stage's deterministic mode (:func:`eqlab.train.device.make_deterministic`) as it is now, and as
    it was when issue 11 was filed: the same loop, net and data with deterministic mode's NaN fill of new
    tensors on, the only change to the step's code path since. ``pair(ours, reference, repeats)`` times them
    alternately (``run.timed_pair``). Deterministic mode is restored afterwards."""
    import torch.utils.deterministic as det

    from eqlab.train.device import make_deterministic

    before = (torch.are_deterministic_algorithms_enabled(), det.fill_uninitialized_memory)
    rows = []
    try:
        make_deterministic(0)
        for run in SMALL_RUNS:
            case = step_case(params, run)
            step = _runner(case, case.model().to(device), steps)

            def with_fill(fill: bool, step: Callable[[], None] = step) -> None:
                det.fill_uninitialized_memory = fill
                step()

            ours, ref, ratio = pair(lambda f=with_fill: f(False), lambda f=with_fill: f(True), repeats)
            images = case.spec.batch_size * steps
            rows.append({"figure": f"train step {case.label}: images/s, ours vs the issue-11 reference (NaN fill)",
                         "ours": images / ours, "baseline": images / ref, "ratio_time": ratio})
    finally:
        torch.use_deterministic_algorithms(before[0])
        det.fill_uninitialized_memory = before[1]
    return rows


@dataclass(frozen=True)
class FlopsReport:
    """The ``flops`` section: peaks measured before (``conv``, ``matmul``) and after (``conv_end``)
    the steps, one row per step case, the process's peak RSS. "% of peak" uses the faster conv run."""

    conv: Peak
    matmul: Peak
    conv_end: Peak
    rows: list[StepRow]
    rss_mib: float
    conv_bf16: Peak | None = None  # on GPUs: the bf16 rows' reference

    @property
    def peak(self) -> Peak:
        """The reference for "% of peak": the faster of the two conv measurements."""
        return max(self.conv, self.conv_end, key=lambda p: p.gflops)

    def peak_of(self, row: StepRow) -> Peak:
        """A row's reference peak: the bf16 conv for bf16 rows (when measured), else :attr:`peak`."""
        return self.conv_bf16 if row.precision == "bf16" and self.conv_bf16 is not None else self.peak

    @property
    def drift(self) -> float:
        """Conv peak after / before the steps: far from 1 means the machine's load changed meanwhile."""
        return self.conv_end.gflops / self.conv.gflops


def format_flops(report: FlopsReport, header: str) -> str:
    """The markdown report: the peaks, then one row per step case (% of the faster conv peak)."""
    lines = [header, "", "| peak | GFLOP/call | median s | GFLOP/s | kernel |", "|---|---|---|---|---|"]
    peaks = [(report.conv, ""), (report.matmul, ""), (report.conv_end, " (again, after the steps)")]
    peaks += [(report.conv_bf16, " (the bf16 rows' peak)")] if report.conv_bf16 is not None else []
    for p, when in peaks:
        lines.append(f"| {p.what}{when} | {p.flops / 1e9:.2f} | {p.seconds:.4f} | {p.gflops:.1f} | {p.kernel} |")
    lines += [
        "",
        f"matmul peak / conv peak: {report.matmul.gflops / report.conv.gflops:.2f}; conv peak after / before the "
        f"steps: {report.drift:.2f} (far from 1: the machine's load changed during the run)",
        "",
        "| training step | images/step (net) | GFLOP/step | GFLOP/step, padding excluded | images/s "
        "| GFLOP/s | % of conv peak (the faster fp32 one; bf16 rows: the bf16 one) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.label} | {r.batch} ({r.images_per_step}) | {r.flops / 1e9:.3f} "
            f"| {r.flops_no_padding / 1e9:.3f} | {r.images_per_s:.1f} | {r.gflops:.2f} "
            f"| {100 * r.of_peak(report.peak_of(r)):.1f} |"
        )
    lines += ["", f"peak RSS of the bench process: {report.rss_mib:.0f} MiB"]
    return "\n".join(lines) + "\n"


def format_profiles(profiles: Mapping[str, list[dict[str, Any]]]) -> str:
    """One markdown table per case: op, self CPU ms, % of the step's self CPU time, calls."""
    out = ["# Top ops by self CPU time, one training step each (torch.profiler)"]
    for label, ops in profiles.items():
        out += ["", f"## {label}", "", "| op | self CPU ms | % | calls |", "|---|---|---|---|"]
        out += [f"| {o['op']} | {o['self_cpu_ms']:.1f} | {100 * o['share']:.1f} | {o['calls']} |" for o in ops]
    return "\n".join(out) + "\n"


def _peak_json(p: Peak) -> dict[str, Any]:
    return {
        "what": p.what,
        "flops": p.flops,
        "flops_counted": p.counted,
        "seconds": p.seconds,
        "gflops": p.gflops,
        "kernel": p.kernel,
    }


def flops_json(report: FlopsReport) -> dict[str, Any]:
    steps = [
        {
            "label": r.label,
            "arch": r.arch,
            "batch": r.batch,
            "images_per_step": r.images_per_step,
            "flops": r.flops,
            "flops_padding_excluded": r.flops_no_padding,
            "seconds_per_step": r.seconds_per_step,
            "images_per_s": r.images_per_s,
            "gflops": r.gflops,
            "precision": r.precision,
            "fraction_of_conv_peak": r.of_peak(report.peak_of(r)),
        }
        for r in report.rows
    ]
    return {
        "conv_peak": _peak_json(report.conv),
        "matmul_peak": _peak_json(report.matmul),
        "conv_peak_end": _peak_json(report.conv_end),
        "conv_peak_bf16": _peak_json(report.conv_bf16) if report.conv_bf16 is not None else None,
        "peak_drift": report.drift,
        "peak_rss_mib": report.rss_mib,
        "steps": steps,
    }


__all__ = [
    "FlopsReport",
    "StepCase",
    "StepRow",
    "bench_case",
    "bench_cases",
    "bench_steps",
    "flops_json",
    "format_flops",
    "format_profiles",
    "peak_rss_mib",
    "profile_ops",
    "step_case",
    "step_flops",
    "time_step",
]
