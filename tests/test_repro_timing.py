"""``eqlab repro``: per-stage wall times from DVC's output, and the summary table."""

from __future__ import annotations

import json
from itertools import count

from eqlab.__main__ import build_parser
from eqlab.commands.repro import StageTime, report_shares, summary, time_stages, write_summary


def test_stage_times_run_from_each_running_line_to_the_next():
    lines = [
        "Stage 'make_dataset@rot_mnist' didn't change, skipping\n",
        "Running stage 'train@cnn':\n",
        "> python stages/train.py cnn ...\n",
        "Updating lock file 'dvc.lock'\n",
        "Running stage 'probe_extent@cnn':\n",
        "> python stages/probe_extent.py cnn ...\n",
        "Running stage 'collect':\n",
    ]
    ticks = count()  # the clock advances by 1 per call: once at start, once per line, once at the end
    echoed: list[str] = []
    times, total = time_stages(lines, lambda: float(next(ticks)), echoed.append)
    assert echoed == lines
    assert times == [StageTime("train@cnn", 3.0), StageTime("probe_extent@cnn", 2.0), StageTime("collect", 1.0)]
    assert total == len(lines) + 1


def test_summary_sorts_slowest_first_and_totals_per_template(tmp_path):
    times = [StageTime("train@a", 10.0), StageTime("train@b", 30.0), StageTime("collect", 2.0)]
    table = summary(times, 50.0)
    rows = table.split("\n\n")[0].splitlines()[2:]
    assert rows[0].startswith("| train@b | 30.0 | 60% |") and rows[-1].startswith("| collect | 2.0 |")
    assert "| train | 2 | 40.0 | 20.0 |" in table and "3 stages ran in 50.0 s" in table
    assert "up to date" in summary([], 3.0)
    write_summary(times, 50.0, tmp_path / "repro")
    assert json.loads((tmp_path / "repro.json").read_text())["stages"][1] == {"stage": "train@b", "seconds": 30.0}
    assert (tmp_path / "repro.md").read_text() == table


def test_each_report_owns_the_stages_no_other_report_needs(tmp_path):
    needs = {"report@ien": ["data", "train@a", "collect"], "report_lv": ["data", "train_lv", "probe_lv"],
             "report_jac": ["probe_jac"], "train@a": ["data"], "bench": []}
    times = [StageTime("data", 5.0), StageTime("train@a", 40.0), StageTime("train_lv", 20.0),
             StageTime("probe_lv", 30.0), StageTime("report_lv", 2.0), StageTime("bench", 1.0)]
    assert report_shares(times, needs) == [("report_lv", 3, 52.0), ("report@ien", 1, 40.0), ("shared", 1, 5.0),
                                           ("no report", 1, 1.0)]  # report_jac: nothing of it ran
    table = summary(times, 49.0, None, needs)  # 98 s of stage time in 49 s: two at once
    assert "| report_lv | 3 | 52.0 | 0.4 |" in table and "| shared | 1 | 5.0 | 0.0 |" in table
    assert "report_jac" not in table and "| report |" not in summary(times, 49.0)
    write_summary(times, 49.0, tmp_path / "repro", None, needs)
    assert json.loads((tmp_path / "repro.json").read_text())["reports"][0] == {"report": "report_lv", "stages": 3,
                                                                              "seconds": 52.0}


def test_dvc_arguments_pass_through():
    args = build_parser().parse_args(["repro", "--", "-s", "train@cnn"])
    assert args.command == "repro" and args.dvc_args[-2:] == ["-s", "train@cnn"]


def test_summary_names_the_stage_with_the_peak_memory(tmp_path):
    times = [StageTime("train@a", 10.0)]
    memory = {"peak_stage_rss_mib": 1536.4, "stage": "train@a"}
    assert "Peak memory of a stage: 1,536 MiB resident (train@a)." in summary(times, 10.0, memory)
    assert "Peak memory" not in summary(times, 10.0, None)
    write_summary(times, 10.0, tmp_path / "repro", memory)
    assert json.loads((tmp_path / "repro.json").read_text())["memory"] == memory


def test_peak_memory_is_recorded_per_stage_run(tmp_path):
    """eqlab.dvc_cache wraps DVC's run_stage: the stage whose process reaches the peak is named (in a
    fresh process, since RUSAGE_CHILDREN is a running maximum over everything this one ever ran)."""
    import subprocess
    import sys

    out = tmp_path / "memory.json"
    script = f"""
import subprocess, sys
import dvc.stage
from eqlab import dvc_cache

class Stage:
    def __init__(self, name): self.addressing = name

def fake_run_stage(stage, *args, **kwargs):  # a child process holding the stage's MiB
    mib = int(stage.addressing.split("@")[1])
    subprocess.run([sys.executable, "-c", f"b = bytearray({{mib}} * 2**20); b[::4096] = b'x' * len(b[::4096])"], check=True)

dvc.stage.run_stage = fake_run_stage
dvc_cache.record_peak_memory({str(out)!r})
for name in ("small@50", "big@300", "medium@150"):
    dvc.stage.run_stage(Stage(name))
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    got = json.loads(out.read_text())
    assert got["stage"] == "big@300" and 300 < got["peak_stage_rss_mib"] < 600, got
