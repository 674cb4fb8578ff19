"""Warm stage processes (eqlab.warm): a stage run through the shim behaves as the cold interpreter would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eqlab.warm import PEAK_ENV, import_env, stage_server, warm_script

PROBE = """\
import json, os, sys
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "x": os.environ.get("X"), "name": __name__,
                  "path0": sys.path[0], "pid": os.getpid(), "exe": sys.executable}))
print("to stderr", file=sys.stderr)
sys.exit(int(os.environ.get("RC", "0")))
"""

NUMERIC = """\
import hashlib
import numpy as np, torch, pyarrow as pa, pyarrow.parquet as pq
rng = np.random.default_rng(0)
a = rng.standard_normal((300, 400)); c = a @ rng.standard_normal((400, 200))
torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 8, 5)
y = conv(torch.from_numpy(rng.standard_normal((4, 3, 40, 40)).astype(np.float32))).sum(dim=(2, 3))
pq.write_table(pa.table({"c": c[:, 0]}), "out.parquet")
print(hashlib.sha256(c.tobytes() + y.detach().numpy().tobytes() + open("out.parquet", "rb").read()).hexdigest())
"""

SLEEPER = """\
import os, time
try:
    print(os.getpid(), flush=True)  # inside the try: a signal right after this line still runs the finally
    time.sleep(60)
finally:
    open("cleaned", "w").close()
"""


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    (tmp_path / "stages").mkdir()
    for name, text in (("probe", PROBE), ("numeric", NUMERIC), ("sleeper", SLEEPER),
                       ("boom", "raise ValueError('bad input')\n")):
        (tmp_path / "stages" / f"{name}.py").write_text(text)
    return tmp_path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (it imports torch once: that is its point)."""
    env = {**os.environ, PEAK_ENV: str(tmp_path_factory.mktemp("warm") / "peak")}
    with stage_server(env) as server:
        yield server.env


def _run(cmd: str, cwd: Path, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", cmd], cwd=cwd, env={**env, **extra}, capture_output=True, text=True, timeout=120)


def _probe(cmd: str, cwd: Path, env: dict[str, str], **extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    r = _run(f"echo $$ > shell.pid; exec {cmd}", cwd, env, **extra)
    return r, json.loads(r.stdout.splitlines()[0])


def test_warm_script_accepts_stage_scripts_only(work, monkeypatch):
    monkeypatch.chdir(work)
    assert warm_script(["stages/probe.py", "a"]) == "stages/probe.py"
    assert warm_script([str(work / "stages/probe.py")]) is not None
    for argv in ([], ["-m", "eqlab"], ["-u", "stages/probe.py"], ["-c", "print(1)"], ["stages/missing.py"],
                 ["other.py"]):
        assert warm_script(argv) is None, argv


def test_import_env_keeps_what_libraries_read_at_import():
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": "x", "LD_PRELOAD": "y", "PATH": "/bin", "HOME": "/root",
           "CUDA_VISIBLE_DEVICES": "0", "EQLAB_WARM_PYTHON": "p"}
    assert import_env(env) == {"OMP_NUM_THREADS": "1", "PYTHONPATH": "x", "LD_PRELOAD": "y", "CUDA_VISIBLE_DEVICES": "0"}


def test_a_stage_runs_warm_as_the_cold_interpreter_would(work, server):
    r, seen = _probe("python stages/probe.py a 'b c'", work, server, X="hi", RC="3")
    assert r.returncode == 3 and r.stderr == "to stderr\n"
    assert seen["argv"] == ["stages/probe.py", "a", "b c"] and seen["cwd"] == str(work) and seen["x"] == "hi"
    assert seen["name"] == "__main__" and seen["path0"] == str(work / "stages") and seen["exe"] == sys.executable
    # warm: the stage is a fork of the server, not the shell's exec'd shim
    assert seen["pid"] != int((work / "shell.pid").read_text())
    assert int(Path(server[PEAK_ENV]).read_text()) > 10_000  # KiB: the forked stage's resident set
    cold, seen_cold = _probe(f"{sys.executable} stages/probe.py a 'b c'", work, server, X="hi", RC="3")
    assert seen_cold["pid"] == int((work / "shell.pid").read_text())
    assert {k: v for k, v in seen.items() if k != "pid"} == {k: v for k, v in seen_cold.items() if k != "pid"}
    assert cold.returncode == 3


def test_warm_and_cold_write_the_same_bytes(work, server):
    warm = _run("python stages/numeric.py", work, server)
    warm_parquet = (work / "out.parquet").read_bytes()
    cold = _run(f"{sys.executable} stages/numeric.py", work, server)
    assert warm.returncode == cold.returncode == 0, warm.stderr + cold.stderr
    assert warm.stdout == cold.stdout and (work / "out.parquet").read_bytes() == warm_parquet


def test_an_exception_prints_its_traceback_and_exits_1(work, server):
    r = _run("python stages/boom.py", work, server)
    assert r.returncode == 1 and "ValueError: bad input" in r.stderr and "Traceback" in r.stderr


def test_a_shim_that_connects_before_the_server_starts_waits_for_it(work, tmp_path):
    with stage_server(dict(os.environ), start=False) as late:
        proc = subprocess.Popen(["python", "stages/probe.py"], cwd=work, env=late.env, stdout=subprocess.PIPE,
                                text=True)
        time.sleep(0.5)
        assert proc.poll() is None  # connected, waiting in the socket's backlog
        late.start()
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and json.loads(out)["pid"] != proc.pid


def test_anything_else_runs_cold(work, server):
    # not a stage script, another import-time environment, no server: the real interpreter, exec'd
    for cmd, extra in (("python -c 'import os, json; print(json.dumps({\"pid\": os.getpid()}))'", {}),
                       ("python stages/probe.py", {"OMP_NUM_THREADS": "7"}),
                       ("python stages/probe.py", {"EQLAB_WARM_SOCKET": str(work / "nobody.sock")})):
        r, seen = _probe(cmd, work, server, **extra)
        assert r.returncode == 0 and seen["pid"] == int((work / "shell.pid").read_text()), (cmd, extra)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signals_reach_the_stage_and_its_status_is_the_shims(work, server, sig):
    """Ctrl-C runs the stage's cleanup and ends it by SIGINT, as in a cold process; SIGKILL of the shim
    (DVC killed with its children) takes the stage with it."""
    proc = subprocess.Popen(["python", "stages/sleeper.py"], cwd=work, env=server, stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    assert child != proc.pid
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == -sig
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists()
    assert (work / "cleaned").exists() == (sig == signal.SIGINT)


def test_two_stages_run_side_by_side_and_the_peak_is_the_larger(work, server):
    """Each shim gets its own handler (eqlab repro -j): two 1.5 s stages overlap instead of queueing, and
    the shared peak file keeps the larger resident set of the two."""
    (work / "stages/nap.py").write_text(
        "import json, sys, time\nt0 = time.time()\nb = bytearray(int(sys.argv[2]) * 2**20)\nb[::4096] = b'x' * "
        "len(b[::4096])\ntime.sleep(1.5)\nopen(sys.argv[1], 'w').write(json.dumps([t0, time.time()]))\n")
    procs = [subprocess.Popen(["python", "stages/nap.py", f"t{i}.json", str(mib)], cwd=work, env=server)
             for i, mib in enumerate((40, 200))]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    (a0, a1), (b0, b1) = (json.loads((work / f"t{i}.json").read_text()) for i in range(2))
    assert max(a0, b0) < min(a1, b1), "the second stage waited for the first"
    assert int(Path(server[PEAK_ENV]).read_text()) > 200 * 1024
