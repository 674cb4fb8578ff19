"""``dvc repro`` with up to N stages at once: DVC's reproduce loop replaced, in this process only.

DVC runs a pipeline's stages one after another (treeverse/dvc#755). On a small machine most stages
are single-threaded Python or small convolutions that leave a core idle, and two such stages side by
side finish sooner than one after the other. :func:`install` (``eqlab repro -j N`` sets
``EQLAB_JOBS=N`` for :mod:`eqlab.dvc_cache`) replaces DVC's loop ``dvc.repo.reproduce._reproduce`` by a
scheduler over the same stages and the same graph:

- a stage starts once every stage it depends on has finished (DVC's graph: an edge goes from a stage
  to each stage whose outputs it reads); among the stages that could start, DVC's own order decides;
- DVC's work for a stage (is it changed, remove its outputs, hash and cache them, write ``dvc.lock``)
  runs as in plain DVC, in one thread at a time: every worker holds one lock except while its stage's
  command runs (``dvc.stage.run._run``), so DVC's state is never touched by two threads at once;
- the repository lock stays held while commands run (plain DVC releases it so a command may call
  ``dvc``; no stage of this project does);
- each stage's output lines are prefixed with ``[stage] `` (``\\r`` progress updates included), so two
  progress bars stay apart; DVC's own lines are unchanged (``Running stage '…'`` starts each);
- on a failure no new stage starts, the running ones finish, and DVC's error is raised (with
  ``--keep-going`` the failed stage's dependents are skipped, as DVC does); Ctrl-C interrupts the
  running commands (their own SIGINT handling: outputs stay atomic) and stops.

The stage commands, their environment and DVC's bookkeeping are DVC's, so the outputs and the lock are
those of a sequential run; a stage's result must not depend on what runs beside it (every stage fixes
its own thread count: :func:`eqlab.train.device.stage_threads`). Each stage's start and end, and the
stages each one needs, go to the JSON file named by ``EQLAB_STAGE_TIMES`` (``eqlab repro``'s tables).
Only with a DVC graph (not ``--single-item``) and N > 1; otherwise DVC's loop runs unchanged.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

JOBS_ENV = "EQLAB_JOBS"
TIMES_ENV = "EQLAB_STAGE_TIMES"

_big = threading.Lock()  # DVC's state: one thread at a time
_local = threading.local()  # .held: this thread is a worker holding _big
_out = threading.Lock()  # our terminal
_running: dict[int, subprocess.Popen] = {}
_times: list[dict[str, Any]] = []
_needs: dict[str, list[str]] = {}  # stage → every stage whose outputs it reads, directly or not (DVC's graph)


@contextmanager
def _held() -> Iterator[None]:
    with _big:
        _local.held = True
        try:
            yield
        finally:
            _local.held = False


@contextmanager
def _released() -> Iterator[None]:
    """Let other workers use DVC while this one waits (a no-op outside a worker)."""
    if not getattr(_local, "held", False):
        yield
        return
    _local.held = False
    _big.release()
    try:
        yield
    finally:
        _big.acquire()
        _local.held = True


_SEGMENT = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def prefixed(data: bytes, prefix: bytes, at_line_start: bool) -> tuple[bytes, bool]:
    """``data`` with ``prefix`` before every line and every ``\\r``-started rewrite of one; returns the
    bytes and whether the next chunk starts a line (a chunk may end mid-line)."""
    out = []
    for seg in _SEGMENT.findall(data):
        out.append(prefix + seg if at_line_start else seg)
        at_line_start = seg.endswith((b"\n", b"\r"))
    return b"".join(out), at_line_start


def _pump(stream: Any, name: str) -> None:
    prefix, start = f"[{name}] ".encode(), True
    fd = stream.fileno()
    while chunk := os.read(fd, 65536):
        text, start = prefixed(chunk, prefix, start)
        with _out:
            sys.stdout.flush()
            sys.stdout.buffer.write(text)
            sys.stdout.buffer.flush()


def _run(executable: Any, cmd: str, **kwargs: Any) -> None:
    """DVC's ``dvc.stage.run._run`` with the command's wait outside the lock and its output prefixed."""
    from dvc.stage.exceptions import StageCmdFailedError
    from dvc.stage.run import _make_cmd

    name = kwargs.get("env", {}).get("DVC_STAGE", "stage")
    sys.stdout.flush()
    p = subprocess.Popen(_make_cmd(executable, cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    _running[p.pid] = p
    try:
        with _released():
            _pump(p.stdout, name)
            p.wait()
    finally:
        _running.pop(p.pid, None)
        p.stdout.close()
    if p.returncode != 0:
        raise StageCmdFailedError(cmd, p.returncode)


def _keep_locked(f: Callable) -> Callable:
    """In place of DVC's ``unlocked_repo``: the repository lock stays held (another thread's stage may be
    checking or saving), and DVC's caches are reset after the command, as plain DVC resets them."""

    def wrapper(stage: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return f(stage, *args, **kwargs)
        finally:
            stage.repo._reset()

    return wrapper


def schedule(stages: list, prerequisites: Callable[[Any], set], start: Callable[[Any], Any], jobs: int,
             stop_on_failure: bool = True) -> tuple[list, list[tuple[Any, BaseException]]]:
    """Run ``start(stage)`` for every stage, at most ``jobs`` at once, each after its ``prerequisites``
    (a subset of ``stages``) have finished, ready stages in list order. ``start`` is called holding the
    DVC lock. Returns the results in completion order and the failures; after the first failure (with
    ``stop_on_failure``) or Ctrl-C nothing new starts and the running ones are waited for."""
    done: set = set()
    results: list = []
    failed: list[tuple[Any, BaseException]] = []
    pending = list(stages)
    active: dict[Any, threading.Thread] = {}
    wake = threading.Condition()

    def work(stage: Any) -> None:
        t0, ret = time.monotonic(), True
        try:
            with _held():
                ret = start(stage)
            with wake:
                results.append(ret)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            with wake:
                failed.append((stage, exc))
        finally:
            with wake:
                if ret:  # it ran (or failed); an unchanged stage is no time of its own
                    _times.append({"stage": _name(stage), "start": t0,
                                   "end": time.monotonic()})
                done.add(stage)
                del active[stage]
                wake.notify_all()

    try:
        with wake:
            while pending or active:
                if failed and stop_on_failure:
                    pending.clear()
                ready = [s for s in pending if prerequisites(s) <= done]
                for stage in ready[: max(0, jobs - len(active))]:
                    pending.remove(stage)
                    active[stage] = threading.Thread(target=work, args=(stage,), name=str(stage), daemon=True)
                    active[stage].start()
                if not ready and not active and pending:
                    raise RuntimeError(f"no stage can start: {pending} wait on stages that never run")
                wake.wait(0.5)
    except KeyboardInterrupt:
        for p in list(_running.values()):
            p.send_signal(signal.SIGINT)
        for thread in list(active.values()):
            thread.join()
        raise
    return results, failed


def install(jobs: int) -> Callable[[], None] | None:
    """Replace DVC's reproduce loop by :func:`schedule` with ``jobs`` workers (None for ``jobs`` ≤ 1:
    nothing patched). Returns the function that undoes it."""
    if jobs <= 1:
        return None
    import dvc.repo.reproduce as repro_mod
    import dvc.stage.run as run_mod

    dvc_reproduce = repro_mod._reproduce

    def reproduce(stages: list, graph: Any = None, force_downstream: bool = False, on_error: str = "fail",
                  force: bool = False, repro_fn: Callable = repro_mod._reproduce_stage, **kwargs: Any) -> list:
        if graph is None or kwargs.get("dry"):
            return dvc_reproduce(stages, graph=graph, force_downstream=force_downstream, on_error=on_error,
                                 force=force, repro_fn=repro_fn, **kwargs)
        import networkx as nx

        members = set(stages)
        _needs.update({_name(s): sorted(_name(d) for d in nx.descendants(graph, s)) for s in stages})
        force_state = dict.fromkeys(stages, force)
        skipped: set = set()

        def start(stage: Any) -> Any:
            if stage in skipped:
                return None
            upstream, downstream = repro_mod._get_upstream_downstream_nodes(graph, stage)
            try:
                ret = repro_fn(stage, upstream=upstream, force=force_state[stage], **kwargs)
            except Exception as exc:
                if on_error == "fail":
                    raise
                skipped.update(repro_mod.handle_error(graph, on_error, exc, stage))
                raise
            if force_downstream and (ret or force_state[stage]):
                force_state.update(dict.fromkeys(downstream, True))
            return ret

        results, failed = schedule(stages, lambda s: set(graph.successors(s)) & members, start, jobs,
                                   stop_on_failure=on_error == "fail")
        if failed and (on_error == "fail" or on_error == "keep-going"):
            repro_mod._raise_error(failed[0][1] if len(failed) == 1 else None, *(s for s, _ in failed))
        return [r for r in results if r]

    saved = [(repro_mod, "_reproduce", dvc_reproduce), (run_mod, "_run", run_mod._run),
             (run_mod, "unlocked_repo", run_mod.unlocked_repo)]
    repro_mod._reproduce = reproduce
    run_mod._run = _run
    run_mod.unlocked_repo = _keep_locked

    def restore() -> None:
        for mod, name, fn in saved:
            setattr(mod, name, fn)

    return restore


def _name(stage: Any) -> str:
    return getattr(stage, "addressing", str(stage))


def write_times(path: str) -> None:
    """Each stage's start and end (monotonic seconds), and the stages each stage needs, to ``path`` as JSON:
    ``{"times": [{stage, start, end}, …], "needs": {stage: [stage, …]}}``."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"times": sorted(_times, key=lambda t: t["start"]), "needs": _needs}, f)
