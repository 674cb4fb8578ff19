"""``eqlab repro [dvc repro arguments]``: ``dvc repro`` with a wall time per stage.

Runs ``dvc repro`` (arguments after ``--`` are passed on) through :mod:`eqlab.dvc_cache`, which spares
DVC re-parsing the whole ``dvc.lock`` after every stage (the bytes written are plain DVC's), echoes its output as it comes, and times
each stage from DVC's ``Running stage '…'`` line to the next stage's line (or the end): the stage's
own process plus DVC's bookkeeping for it (hashing, caching, the lock). At the end it prints the
stages slowest first with their share of the total, the time per template and per report (each
paper's own stages: what its report needs and no other report does), and writes the same table to
``reports/runtime/repro.md`` and ``.json`` (git-ignored, never a DVC output: wall-clock data stays out
of hashed artifacts). ``make reproduce`` runs it after ``eqlab validate``. The exit status is DVC's.

Stages start warm (:mod:`eqlab.warm`): a server imports torch, pandas, pyarrow and e2cnn once, and each
``python stages/<name>.py …`` of ``dvc.yaml`` runs in a fork of it instead of a fresh interpreter (the
same outputs; 2.5–5 s less per stage). ``--cold`` runs every stage in a fresh interpreter, as plain
``dvc repro`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

RUNNING = re.compile(r"^Running stage '([^']+)'")
DEFAULT_OUT = Path("reports/runtime/repro")


@dataclass(frozen=True)
class StageTime:
    stage: str
    seconds: float


def time_stages(lines: Iterable[str], clock: Callable[[], float], echo: Callable[[str], None] = lambda s: None
                ) -> tuple[list[StageTime], float]:
    """Stage wall times from DVC's output ``lines`` read as they arrive; ``clock`` gives the time at
    each line. Returns the stages in run order and the total (first line to end of stream)."""
    start = clock()
    current: tuple[str, float] | None = None
    times: list[StageTime] = []
    for line in lines:
        now = clock()
        echo(line)
        m = RUNNING.match(line.strip())
        if m:
            if current is not None:
                times.append(StageTime(current[0], now - current[1]))
            current = (m.group(1), now)
    end = clock()
    if current is not None:
        times.append(StageTime(current[0], end - current[1]))
    return times, end - start


def is_report(stage: str) -> bool:
    """A report stage: ``report@<paper>`` or ``report_<paper>``."""
    return stage.split("@")[0].startswith("report")


def report_shares(times: list[StageTime], needs: dict[str, list[str]]) -> list[tuple[str, int, float]]:
    """Per report stage of ``needs`` (stage → the stages it needs, transitively): (report, stages, seconds)
    of the stages that ran and that this report needs and no other report does (the report included),
    largest first; then ``("shared", …)`` for those two or more reports need and ``("no report", …)``."""
    reports = sorted(s for s in needs if is_report(s))
    users: dict[str, list[str]] = {}
    for r in reports:
        for s in {r, *needs[r]}:
            users.setdefault(s, []).append(r)
    groups: dict[str, list[float]] = {r: [] for r in reports}
    for t in times:
        who = users.get(t.stage, [])
        key = who[0] if len(who) == 1 else ("shared" if who else "no report")
        groups.setdefault(key, []).append(t.seconds)
    rows = [(r, len(v), sum(v)) for r, v in groups.items() if v and r in reports]
    rows.sort(key=lambda row: -row[2])
    return rows + [(k, len(groups[k]), sum(groups[k])) for k in ("shared", "no report") if groups.get(k)]


def summary(times: list[StageTime], total: float, memory: dict | None = None,
            needs: dict[str, list[str]] | None = None) -> str:
    """A Markdown table of the stages, slowest first, with their share of ``total``; then per template;
    then per report (with ``needs``, :func:`report_shares`: each paper's own stages, in stage time and in
    wall time at the run's mean overlap); then the peak memory (``memory``: ``peak_stage_rss_mib`` and the
    ``stage`` that reached it)."""
    if not times:
        return f"No stage ran (total {total:.1f} s): everything was up to date.\n"
    lines = ["| stage | seconds | share |", "|---|---:|---:|"]
    for t in sorted(times, key=lambda t: -t.seconds):
        lines.append(f"| {t.stage} | {t.seconds:.1f} | {t.seconds / max(total, 1e-9):.0%} |")
    per: dict[str, list[float]] = {}
    for t in times:
        per.setdefault(t.stage.split("@")[0], []).append(t.seconds)
    lines += ["", "| template | stages | seconds | mean per stage |", "|---|---:|---:|---:|"]
    for name, secs in sorted(per.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"| {name} | {len(secs)} | {sum(secs):.1f} | {sum(secs) / len(secs):.1f} |")
    busy = sum(t.seconds for t in times)
    overlap = max(busy / max(total, 1e-9), 1.0)
    if needs:
        lines += ["", "| report | own stages | stage seconds | ≈ wall minutes |", "|---|---:|---:|---:|"]
        for name, n, secs in report_shares(times, needs):
            lines.append(f"| {name} | {n} | {secs:.1f} | {secs / overlap / 60:.1f} |")
        lines.append(f"(a report's own stages: those it needs and no other report does; wall time: stage time / "
                     f"{overlap:.2f}, the run's mean number of stages at once)")
    lines += ["", f"{len(times)} stages ran in {total:.1f} s ({total / 60:.1f} min) of wall time."]
    if busy > 1.05 * total:  # eqlab.dvc_jobs ran stages side by side
        lines[-1] += f" They overlapped: {busy:.1f} s of stage time, {busy / max(total, 1e-9):.2f} stages at a time on average."
    if memory and memory.get("stage"):
        lines.append(f"Peak memory of a stage: {memory['peak_stage_rss_mib']:,.0f} MiB resident ({memory['stage']}).")
    return "\n".join(lines) + "\n"


def write_summary(times: list[StageTime], total: float, out: Path, memory: dict | None = None,
                  needs: dict[str, list[str]] | None = None) -> None:
    from eqlab.io import write_json, write_text

    write_text(out.with_suffix(".md"), summary(times, total, memory, needs))
    shares = [{"report": r, "stages": n, "seconds": round(s, 3)} for r, n, s in report_shares(times, needs or {})]
    write_json(out.with_suffix(".json"), {"total_seconds": round(total, 3),
                                          "stages": [{"stage": t.stage, "seconds": round(t.seconds, 3)} for t in times],
                                          "reports": shares, "memory": memory or {}})


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("repro", help="dvc repro with a wall-time table per stage at the end",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help=f"where the table goes, without suffix (.md and .json; default: {DEFAULT_OUT})")
    p.add_argument("-j", "--jobs", type=_jobs, default=_jobs("auto"),
                   help="stages run at once, each single-threaded (eqlab.dvc_jobs); 'auto' = the number of "
                        "cores (default), 1 = one after another, as plain dvc repro")
    p.add_argument("--cold", action="store_true",
                   help="start every stage in a fresh interpreter (no warm stage server; as plain dvc repro)")
    p.add_argument("dvc_args", nargs=argparse.REMAINDER, help="arguments for dvc repro (after --)")
    return p


def _jobs(text: str) -> int:
    if text == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a positive integer or 'auto', not {text!r}")
    return n


def stage_times(records: list[dict]) -> list[StageTime]:
    """Stage wall times from :mod:`eqlab.dvc_jobs`' records (start and end of each stage), in start order."""
    return [StageTime(r["stage"], r["end"] - r["start"]) for r in sorted(records, key=lambda r: r["start"])]


def _read_json(path: Path) -> dict | list | None:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # DVC ended before writing it (killed, or nothing ran)
        return None


def run(args: argparse.Namespace) -> int:
    dvc_args = args.dvc_args[1:] if args.dvc_args[:1] == ["--"] else list(args.dvc_args)
    # this environment's bin first: its dvc, and the `python` every stage's cmd calls
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    if importlib.util.find_spec("dvc") is None:
        print(f"error: DVC is not installed in {sys.prefix}; run `make setup` first", file=sys.stderr)
        return 2
    # DVC's own CLI, in a process that caches its YAML parsing (eqlab.dvc_cache: same bytes, less time)
    cmd = [sys.executable, "-m", "eqlab.dvc_cache", "repro", *dvc_args]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        env["EQLAB_PEAK_MEMORY"] = str(Path(tmp) / "memory.json")
        env["EQLAB_JOBS"] = str(args.jobs)
        env["EQLAB_STAGE_TIMES"] = str(Path(tmp) / "times.json")
        server = None
        if not args.cold:
            from eqlab.warm import PEAK_ENV, stage_server

            env[PEAK_ENV] = str(Path(tmp) / "warm-peak")
            server = stack.enter_context(stage_server(env, start=False))
            env = server.env

        def echo(line: str) -> None:
            if server is not None and RUNNING.match(line.strip()):
                server.start()  # when DVC runs its first stage: a no-op repro imports no torch
            print(line, end="", flush=True)

        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        assert proc.stdout is not None
        times, total = time_stages(proc.stdout, time.perf_counter, echo)
        rc = proc.wait()
        memory = _read_json(Path(env["EQLAB_PEAK_MEMORY"]))
        records = _read_json(Path(env["EQLAB_STAGE_TIMES"]))
    needs = None
    if isinstance(records, dict) and records.get("times"):  # stages ran side by side (eqlab.dvc_jobs): their
        times, needs = stage_times(records["times"]), records.get("needs")  # own start and end, and the graph
    table = summary(times, total, memory, needs)
    print("\nWall time per stage (eqlab repro):\n" + table, end="")
    write_summary(times, total, args.out, memory, needs)
    print(f"(also in {args.out.with_suffix('.md')})")
    if rc:
        print(f"dvc repro exited with status {rc}", file=sys.stderr)
    return rc
