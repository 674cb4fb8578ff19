"""`make bench`: speed figures as ratios measured in one run (ours vs a bare PyTorch/scikit-learn baseline,
and FLOP/s vs the peak this process measures).

Ratios > 1 mean ours is slower than the baseline by that factor (for the model-cost rows, "ours" is
Het-IEN or E2CNN and the baseline is IEN at the same width). Each figure is the median of
``--repeats`` timings taken back to back in this process, on the same data and device.

Section ``flops`` (``steps.py``, ``flops.py``): the machine's conv2d and matmul peaks, then each
small-profile architecture's training step (and the 6-layer IEN at paper width) as images/s, GFLOP/s
and % of the conv peak; a per-op profile per step and the process's peak RSS. Section ``reference``: each
small-profile step against issue 11's reference (``steps.reference_rows``). ``--only`` picks sections.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from flops import conv_peak, matmul_peak
from steps import FlopsReport, bench_steps, flops_json, format_flops, format_profiles, peak_rss_mib, reference_rows

from eqlab.cli import setup_logging
from eqlab.env import library_versions
from eqlab.features.extract import extract_features
from eqlab.groups import get_transform, group_elements, group_pool
from eqlab.io import write_json, write_text
from eqlab.models import build_model
from eqlab.params import load_params
from eqlab.probes.ridge import fit_ridge
from eqlab.train.device import choose_device, describe
from eqlab.train.loop import TrainSpec, train


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed_pair(ours: Callable[[], object], base: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median times of ``ours`` and ``base`` run alternately, and the median of the per-pair ratios
    (on a shared CPU the load drifts; back-to-back pairs see about the same load)."""
    def once(fn: Callable[[], object]) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - t

    once(ours), once(base)  # warm-up
    pairs = [(once(ours), once(base)) for _ in range(repeats)]
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a / b for a, b in pairs))


def bare_train(model, x: torch.Tensor, y: torch.Tensor, batch: int, augment: bool, beta: float) -> None:
    """The same math as eqlab's loop, written as plainly as possible."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for i in range(0, len(x), batch):
        xb, yb = x[i : i + batch].float() / 255, y[i : i + batch]
        if augment:
            xb = torch.cat([torch.rot90(xb, k, (2, 3)) for k in range(4)])
            yb = yb.repeat(4)
        if beta > 0:
            h = xb
            eq = 0.0
            for block in model.blocks:
                h = block(h)
                p = group_pool(h, 4).chunk(4)
                eq = eq + sum(F.mse_loss(torch.rot90(p[k], -k, (2, 3)), p[0]) for k in range(1, 4))
            loss = F.cross_entropy(model.head(h), yb) + beta * eq
        else:
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()


def bench_training(device, n: int, width: float, repeats: int) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 28, 28, generator=gen) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (n,), generator=gen)
    rows = []
    for run, augment, beta in (("cnn", False, 0.0), ("ien_r4", True, 0.01)):
        model = build_model("rotmnist6", width=width).to(device)
        spec = TrainSpec(1, 0, 64, 1e-4, 1e-3, 0.25, 0.0, augment, beta, 0)
        ours = timed(lambda m=model, s=spec: train(m, s, x, y, x[:64], y[:64], group_elements("r4"), progress=False),
                     repeats)
        bare = timed(lambda m=model, a=augment, b=beta: bare_train(m, x.to(device), y.to(device), 64, a, b), repeats)
        rows.append({"figure": f"train {run}: images/s, ours vs bare loop", "ours": n / ours, "baseline": n / bare,
                     "ratio_time": ours / bare})
    return rows


COST_FAMILIES = (  # (label, arch, image shape, extra builder kwargs)
    ("6-layer", "rotmnist6", (1, 28, 28), {}),
    ("VGG", "vgg", (3, 64, 64), {"input_size": 32, "n_classes": 10}),
    ("ResNet18", "resnet18", (3, 64, 64), {"input_size": 33, "n_classes": 10}),
)


def bench_model_cost(device, width: float, repeats: int) -> list[dict]:
    """IEN.md claim 5 and the equal-channel comparison, for each architecture family: training step
    (IEN loss on the C4 orbit of a batch of 64) and inference (eval forward of 256 images) of Het-IEN
    R4-2-1 and the e2cnn C4 twin against IEN R4."""
    from eqlab.metrics.equivariance import equivariance_loss, stack_orbit

    c4 = group_elements("r4")
    rows = []
    for label, arch, shape, extra in COST_FAMILIES:
        gen = torch.Generator().manual_seed(0)
        xb = torch.rand(64, *shape, generator=gen).to(device)
        yb = torch.randint(0, 10, (64,), generator=gen).repeat(4).to(device)
        xe = torch.rand(256, *shape, generator=gen).to(device)
        cost = {}
        for name, family, kw in (("IEN", "cnn", {"group_size": 4}),
                                 ("Het-IEN R4-2-1", "cnn", {"group_size": 4, "het": [4, 2, 1]}),
                                 ("E2CNN C4", "e2cnn", {"group": "r4"})):
            torch.manual_seed(0)
            model = build_model(arch, family, width=width, in_channels=shape[0], **kw, **extra).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            blocks = [t.blocks for t in model.taps]

            def step(m=model, o=opt, b=blocks, x=xb, y=yb) -> None:
                m.train()
                logits, taps = m.forward_taps(stack_orbit(x, c4))
                loss = F.cross_entropy(logits, y) + 0.1 * equivariance_loss(taps, c4, b)
                o.zero_grad()
                loss.backward()
                o.step()

            @torch.no_grad()
            def infer(m=model, x=xe) -> None:
                m.eval()
                m(x)

            cost[name] = (timed(step, repeats), timed(infer, repeats), sum(t.channels for t in model.taps))
        for name in ("Het-IEN R4-2-1", "E2CNN C4"):
            for k, what in ((0, "training step"), (1, "inference")):
                rows.append({"figure": f"{label} {what}: {name} ({cost[name][2]} ch) vs IEN ({cost['IEN'][2]} ch), s",
                             "ours": cost[name][k], "baseline": cost["IEN"][k],
                             "ratio_time": cost[name][k] / cost["IEN"][k]})
    return rows


def bench_extraction(device, n: int, width: float, repeats: int) -> dict:
    model = build_model("rotmnist6", width=width).to(device).eval()
    images = (np.random.default_rng(0).random((n, 1, 28, 28)) * 255).astype(np.uint8)
    ts = [get_transform(t) for t in ("identity", "rot90", "rot180", "rot270", "hflip", "vflip", "rot45")]
    x = torch.from_numpy(images).float().div(255).to(device)

    @torch.no_grad()
    def bare() -> None:
        for g in ts:
            for i in range(0, n, 256):
                model.forward_taps(g.apply(x[i : i + 256]))

    with tempfile.TemporaryDirectory() as d:
        runs = itertools.count()  # a new folder each run: removing the last run's output is not extraction
        ours, base, ratio = timed_pair(lambda: extract_features(model, images, np.zeros(n, int), np.arange(n), ts,
                                                                Path(d) / str(next(runs)), {"run": "bench"},
                                                                progress=False), bare, repeats)
        size = sum(p.stat().st_size for p in (Path(d) / "0").rglob("*.parquet"))
    return {"figure": f"extract {n} images × {len(ts)} transforms + Parquet ({size / 2**20:.0f} MiB) vs bare forward",
            "ours": ours, "baseline": base, "ratio_time": ratio}


def bench_ridge(repeats: int) -> dict:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 48)).astype(np.float32)
    y = (x @ rng.normal(size=(48, 48)) + 0.1 * rng.normal(size=(100_000, 48))).astype(np.float32)
    lam = 1e-3
    alpha = lam * float(np.trace(np.cov(x.T, bias=True))) * len(x) / 48  # the same penalty
    ours = timed(lambda: fit_ridge(x, y, lam), repeats)
    base = timed(lambda: Ridge(alpha=alpha).fit(x, y), repeats)
    a, _ = fit_ridge(x, y, lam)
    ref = Ridge(alpha=alpha).fit(x.astype(np.float64), y.astype(np.float64)).coef_
    return {"figure": "ridge fit 100k×48 → 48, closed form vs sklearn Ridge", "ours": ours, "baseline": base,
            "ratio_time": ours / base, "max_coef_diff": float(np.abs(a - ref).max())}


def bench_lock(repeats: int) -> dict:
    """One stage's lock write as `dvc repro` does it after every stage, on this repository's dvc.lock: the
    whole document through DVC's dumper versus :func:`eqlab.dvc_cache.dump_lock` (one block re-dumped,
    the others reused), whose text must be DVC's."""
    import io
    from collections import OrderedDict

    from dvc.utils.serialize._yaml import _dump, parse_yaml

    from eqlab import dvc_cache

    text = Path("dvc.lock").read_text(encoding="utf-8")
    data = parse_yaml(text, "dvc.lock")
    names = itertools.cycle(list(data["stages"]))
    dvc_cache.dump_lock(data, _dump)  # the blocks as the first write of a run leaves them

    def edit() -> None:  # a stage re-ran: DVC puts a fresh entry in place (a new output hash)
        name = next(names)
        entry = OrderedDict(data["stages"][name])
        entry["cmd"] = entry["cmd"] + " "
        data["stages"][name] = entry

    def whole() -> str:
        buf = io.StringIO()
        _dump(data, buf)
        return buf.getvalue()

    ours, base, ratio = timed_pair(lambda: (edit(), dvc_cache.dump_lock(data, _dump)), lambda: (edit(), whole()),
                                   repeats)
    assert dvc_cache.dump_lock(data, _dump) == whole()
    dvc_cache._blocks.clear()
    return {"figure": f"dvc.lock write after one stage ({text.count(chr(10)):,} lines): blocks vs DVC's dump",
            "ours": ours, "baseline": base, "ratio_time": ratio}


def bench_stage_start(repeats: int) -> dict:
    """Start-up of a stage process up to its argument parsing (``python stages/probe_extent.py --help``:
    torch, pandas, pyarrow and eqlab imported), forked from the warm server (:mod:`eqlab.warm`, as
    ``eqlab repro`` runs stages) versus a fresh interpreter (plain ``dvc repro``)."""
    import subprocess

    from eqlab.warm import stage_server

    cmd = ["stages/probe_extent.py", "--help"]
    with stage_server(dict(os.environ)) as server:
        def warm() -> None:
            subprocess.run(["python", *cmd], env=server.env, check=True, capture_output=True)

        def cold() -> None:
            subprocess.run([sys.executable, *cmd], check=True, capture_output=True)

        ours, base, ratio = timed_pair(warm, cold, repeats)
    return {"figure": "stage start-up to argument parsing, warm fork vs fresh interpreter", "ours": ours,
            "baseline": base, "ratio_time": ratio}


JOB = """
import sys, time, torch, torch.nn.functional as F
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, "bench")
from ensemble import _models
from eqlab.groups import group_elements
from eqlab.metrics.equivariance import stack_orbit
m = _models("rotmnist6", "rot_mnist", 0.125, 28, 1, 1, 10)[0]
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
gen = torch.Generator().manual_seed(0)
for _ in range(int(sys.argv[2])):
    x = stack_orbit(torch.rand(64, 1, 28, 28, generator=gen), group_elements("r4"))
    y = torch.randint(0, 10, (64,), generator=gen).repeat(4)
    loss = F.cross_entropy(m(x), y); opt.zero_grad(); loss.backward(); opt.step()
"""


def bench_jobs(repeats: int, jobs: int = 4, steps: int = 30) -> dict:
    """``eqlab repro -j 2`` in miniature: ``jobs`` training processes (the 6-layer CNN-aug R4 step of the
    small profile, ``steps`` steps each, start-up included) two at a time on one thread each, versus one
    after another on every core (plain ``dvc repro`` before stages had a fixed thread count)."""
    import subprocess

    cores = len(os.sched_getaffinity(0))

    def start(threads: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", JOB, str(threads), str(steps)])

    def sequential() -> None:
        for _ in range(jobs):
            assert start(cores).wait() == 0

    def side_by_side() -> None:
        running: list[subprocess.Popen] = []
        for _ in range(jobs):
            if len(running) == 2:
                assert running.pop(0).wait() == 0
            running.append(start(1))
        assert all(p.wait() == 0 for p in running)

    pairs = []
    for _ in range(max(1, repeats // 2)):  # no warm-up: every job is a fresh process either way
        t0 = time.perf_counter()
        side_by_side()
        t1 = time.perf_counter()
        sequential()
        pairs.append((t1 - t0, time.perf_counter() - t1))
    ours, base = statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)
    ratio = statistics.median(a / b for a, b in pairs)
    return {"figure": f"{jobs} training jobs: 2 at a time × 1 thread vs one after another × {cores} threads",
            "ours": ours, "baseline": base, "ratio_time": ratio}


SECTIONS = ("train", "reference", "extract", "cost", "ridge", "lock", "start", "jobs", "flops")


def ratio_rows(device, args: argparse.Namespace) -> list[dict]:
    """The ours-vs-baseline rows of the sections in ``args.only``."""
    rows = []
    if "train" in args.only:
        rows += bench_training(device, args.n_train, args.width, args.repeats)
    if "reference" in args.only:  # the steps as when issue 11 was filed (bench/steps.py: reference_rows)
        rows += reference_rows(load_params(args.params), args.steps, args.repeats, device, timed_pair)
    if "extract" in args.only:
        rows.append(bench_extraction(device, args.n_extract, args.width, args.repeats))
    if "cost" in args.only:
        rows += bench_model_cost(device, args.width, args.repeats)
    if "ridge" in args.only:
        rows.append(bench_ridge(args.repeats))
    if "lock" in args.only:
        rows.append(bench_lock(args.repeats))
    if "start" in args.only:
        rows.append(bench_stage_start(args.repeats))
    if "jobs" in args.only:
        rows.append(bench_jobs(args.repeats))
    return rows


def flops_section(device, args: argparse.Namespace, header: str) -> tuple[dict, str, str]:
    """Peaks, then the training steps: (JSON, report markdown, per-op profile markdown)."""
    params = load_params(args.params)
    conv = conv_peak(repeats=args.repeats, device=device)
    matmul = matmul_peak(repeats=args.repeats, device=device)
    rows, profiles = bench_steps(params, args.steps, args.repeats, device)
    conv_end = conv_peak(repeats=args.repeats, device=device)
    bf16 = conv_peak(repeats=args.repeats, device=device, dtype=torch.bfloat16) if device.type == "cuda" else None
    report = FlopsReport(conv, matmul, conv_end, rows, peak_rss_mib(), bf16)
    return flops_json(report), format_flops(report, header), format_profiles(profiles)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="reports/bench")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run (default: all)")
    p.add_argument("--n-train", type=int, default=1024)
    p.add_argument("--n-extract", type=int, default=256)
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=2, help="flops: training steps per timed run")
    p.add_argument("--params", default="params.yaml", help="flops: the runs and profiles the steps follow")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    for name in ("repeats", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be ≥ 1, got {getattr(args, name)}")
    if args.threads is not None:
        if args.threads < 1:
            p.error(f"--threads must be ≥ 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    setup_logging()  # the stages' log format and warning filters (e2cnn's uint8 indexing)
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # the profiler's CPU-only runs: no "gpuGetDeviceCount" error line
    torch.manual_seed(0)
    device = choose_device("auto")
    out = Path(args.out)
    header = f"device: {describe(device)}, torch threads: {torch.get_num_threads()}, width {args.width}"
    meta = {"device": describe(device), "threads": torch.get_num_threads(), "versions": library_versions()}
    rows = ratio_rows(device, args)
    if rows:
        lines = ["| figure | ours | baseline | time ratio (ours / baseline) |", "|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['figure']} | {r['ours']:.4g} | {r['baseline']:.4g} | {r['ratio_time']:.2f} |")
        text = "\n".join([header, "", *lines]) + "\n"
        print(text)
        write_json(out / "bench.json", {**meta, "rows": rows})
        write_text(out / "bench.md", text)
    if "flops" in args.only:
        header = f"device: {describe(device)}, torch threads: {torch.get_num_threads()}"
        data, text, ops = flops_section(device, args, header)
        print(text)
        write_json(out / "flops.json", {**meta, **data})
        write_text(out / "flops.md", text)
        write_text(out / "profile.md", ops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
