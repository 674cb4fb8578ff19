"""``eqlab repro -j N`` (:mod:`eqlab.dvc_jobs`): stages side by side, each after what it reads, the same
lock as one after another; failures stop the run as DVC's do; output lines carry their stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eqlab.dvc_jobs import _released, prefixed, schedule

# --- the scheduler alone ------------------------------------------------------------------------------


def test_prefix_marks_every_line_and_every_carriage_return_rewrite():
    text, start = prefixed(b"one\ntwo\r50%\r100%\nhalf", b"[s] ", True)
    assert text == b"[s] one\n[s] two\r[s] 50%\r[s] 100%\n[s] half" and not start
    text, start = prefixed(b" a line\n", b"[s] ", start)  # the rest of the line: no prefix in its middle
    assert text == b" a line\n" and start
    assert prefixed(b"", b"[s] ", True) == (b"", True)


def _record(log: list, lock: threading.Lock, seconds: float = 0.05):
    def start(stage):  # called holding DVC's lock, which a stage's command releases while it runs
        with lock:
            log.append(("start", stage))
        with _released():
            time.sleep(seconds)
        with lock:
            log.append(("end", stage))
        return stage

    return start


def test_schedule_waits_for_prerequisites_and_keeps_to_the_job_count():
    # d reads a and b; c reads nothing: with 2 jobs, a and b start first (list order), then c, then d
    pre = {"a": set(), "b": set(), "c": set(), "d": {"a", "b"}}
    log: list = []
    done, failed = schedule(["a", "b", "c", "d"], pre.__getitem__, _record(log, threading.Lock()), jobs=2)
    assert sorted(done) == ["a", "b", "c", "d"] and not failed
    running, peak = set(), 0
    for event, stage in log:
        if event == "start":
            assert pre[stage] <= {s for e, s in log[: log.index((event, stage))] if e == "end"}
            running.add(stage)
            peak = max(peak, len(running))
        else:
            running.discard(stage)
    assert peak == 2 and log[:2] == [("start", "a"), ("start", "b")]


def test_schedule_one_job_is_the_list_order():
    log: list = []
    schedule(["a", "b", "c"], lambda s: set(), _record(log, threading.Lock(), 0.0), jobs=1)
    assert [s for e, s in log if e == "start"] == ["a", "b", "c"]


def test_a_failure_starts_nothing_new_and_returns_the_error():
    def start(stage):
        if stage == "a":
            raise RuntimeError("boom")
        with _released():
            time.sleep(0.05)
        return stage

    done, failed = schedule(["a", "b", "c"], {"a": set(), "b": set(), "c": {"b"}}.__getitem__, start, jobs=2)
    assert done == ["b"] and [(s, str(e)) for s, e in failed] == [("a", "boom")]  # c never started
    # keep going: the rest runs
    done, failed = schedule(["a", "b", "c"], {"a": set(), "b": set(), "c": {"b"}}.__getitem__, start, jobs=2,
                            stop_on_failure=False)
    assert sorted(done) == ["b", "c"] and len(failed) == 1


# --- through DVC ----------------------------------------------------------------------------------------

STAGE = """
import json, sys, time
name, seconds = sys.argv[1], float(sys.argv[2])
t0 = time.time()
print(f"hello from {name}", flush=True)
time.sleep(seconds)
if name == "fail":
    sys.exit(3)
ins = [open(p).read() for p in sys.argv[3:]]
open(f"out/{name}.txt", "w").write(name + ":" + ",".join(ins))
open(f"times/{name}.json", "w").write(json.dumps([t0, time.time()]))
"""


def _dvc_repo(tmp_path: Path, failing: bool = False) -> Path:
    repo = tmp_path / "repo"
    (repo / "out").mkdir(parents=True)
    (repo / "times").mkdir()
    (repo / "stage.py").write_text(STAGE)
    mid = "fail" if failing else "b"
    stages = {
        "a": {"cmd": "python stage.py a 1.5", "deps": ["stage.py"], "outs": ["out/a.txt"]},
        mid: {"cmd": f"python stage.py {mid} 1.5", "deps": ["stage.py"], "outs": [f"out/{mid}.txt"]},
        "report_c": {"cmd": f"python stage.py c 0 out/a.txt out/{mid}.txt", "deps": ["out/a.txt", f"out/{mid}.txt"],
              "outs": ["out/c.txt"]},
    }
    (repo / "dvc.yaml").write_text(json.dumps({"stages": stages}))
    (repo / ".gitignore").write_text("times/\n")
    env = _env()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    return repo


def _env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    return env


def _repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eqlab", "repro", "--cold", "--out", str(repo / "times/table"),
                           *args], cwd=repo, env=_env(), capture_output=True, text=True)


def _times(repo: Path, name: str) -> tuple[float, float]:
    return tuple(json.loads((repo / f"times/{name}.json").read_text()))


@pytest.mark.slow
def test_two_jobs_overlap_independent_stages_and_write_the_sequential_lock(tmp_path):
    repo = _dvc_repo(tmp_path)
    r = _repro(repo, "-j", "2")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (a0, a1), (b0, b1), (c0, _) = _times(repo, "a"), _times(repo, "b"), _times(repo, "c")
    assert max(a0, b0) < min(a1, b1), "a and b did not run side by side"
    assert c0 >= max(a1, b1), "c started before what it reads was written"
    assert (repo / "out/c.txt").read_text() == "c:a:,b:"
    assert "[a] hello from a" in r.stdout and "[report_c] hello from c" in r.stdout
    assert "Running stage 'report_c'" in r.stdout
    table = (repo / "times/table.md").read_text()
    assert "3 stages ran" in table and "They overlapped" in table
    shares = json.loads((repo / "times/table.json").read_text())["reports"]  # report_c needs a and b
    assert [(s["report"], s["stages"]) for s in shares] == [("report_c", 3)]
    lock = (repo / "dvc.lock").read_text()

    r = _repro(repo, "-j", "1", "--", "-f")  # one after another, as plain DVC: the same lock
    assert r.returncode == 0 and "[a]" not in r.stdout
    assert (repo / "dvc.lock").read_text() == lock
    (a0, a1), (b0, b1) = _times(repo, "a"), _times(repo, "b")
    assert a1 <= b0 or b1 <= a0
    assert "up to date" in subprocess.run(["dvc", "status"], cwd=repo, env=_env(), capture_output=True,
                                          text=True).stdout


@pytest.mark.slow
def test_a_failing_stage_fails_the_run_and_its_dependents_never_start(tmp_path):
    repo = _dvc_repo(tmp_path, failing=True)
    r = _repro(repo, "-j", "2")
    assert r.returncode != 0
    assert "failed to reproduce 'fail'" in r.stdout + r.stderr
    assert not (repo / "out/c.txt").exists()
    assert (repo / "out/a.txt").read_text() == "a:"  # the stage beside it finished and is recorded
    assert "a:" in (repo / "dvc.lock").read_text() and "fail:" not in (repo / "dvc.lock").read_text()


def test_jobs_must_be_positive():
    from eqlab.__main__ import build_parser

    assert build_parser().parse_args(["repro", "-j", "3"]).jobs == 3
    with pytest.raises(SystemExit):
        build_parser().parse_args(["repro", "-j", "0"])
