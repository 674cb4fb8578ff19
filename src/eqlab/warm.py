"""Warm stage processes: start each stage's Python from a fork of one that has already imported torch.

Every stage of the pipeline is a fresh ``python stages/<name>.py …`` (DVC runs the ``cmd`` of
``dvc.yaml``), and each fresh process spends 2.5–5 s importing torch, pandas, pyarrow and e2cnn before
its first line of work: about 5 minutes of a 108-stage ``make reproduce`` on 2 cores. ``eqlab repro``
therefore starts a *server* that imports those libraries once (and nothing of eqlab) and puts a
``python`` shim first on the ``PATH`` of the stages. For a command ``python stages/<name>.py …`` the
shim hands its arguments, working directory, environment and standard streams to the server, which
forks a child that runs the script as ``__main__`` (``runpy``), exactly as the cold interpreter would;
the shim relays signals to the child and exits with the child's status (or dies by its signal). Any
other command (``python -m …``, interpreter options), a missing server, or an import-time environment
that differs from the server's (thread counts, ``PYTHON*``, ``LD_*``, CUDA, …) runs the real interpreter
instead, cold. ``dvc.yaml`` is unchanged: plain ``dvc repro`` runs the same commands cold, and the
outputs are the same bytes either way (tests force stages both ways and compare the lock).

Safety of ``fork``: the server imports only; it never runs a parallel region, so torch's OpenMP pool
and CUDA are first started in the child, as in a cold process. Threads that libraries start at import
(OpenBLAS, Arrow) are fork-aware. The eqlab modules a stage imports are read fresh in every child.

This file is run by path as the shim's client (``python -IS warm.py client …``): at module level it
imports the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence

#: imported once by the server (what a stage spends its start-up on; measured with ``-X importtime``)
PRELOAD: tuple[str, ...] = ("numpy", "torch", "torch.nn", "pandas", "pyarrow.parquet", "e2cnn", "tqdm.auto", "dvclive")
#: environment variables read when those libraries are imported: a stage whose values differ runs cold
IMPORT_ENV = re.compile(r"^(PYTHON|LD_|OMP_|GOMP_|KMP_|MKL_|OPENBLAS_|BLIS_|VECLIB_|NUMEXPR_|DNNL_|ONEDNN_|TORCH|PYTORCH_"
                        r"|CUDA|NVIDIA_|ARROW_|MALLOC_|NUMPY_|E2CNN)")
SOCKET_ENV = "EQLAB_WARM_SOCKET"
PYTHON_ENV = "EQLAB_WARM_PYTHON"
PEAK_ENV = "EQLAB_WARM_PEAK"
_HEADER = struct.Struct("!I")
_RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def import_env(env: dict[str, str]) -> dict[str, str]:
    """The part of ``env`` that libraries read at import time (it must match the server's)."""
    return {k: v for k, v in env.items() if IMPORT_ENV.match(k)}


def warm_script(argv: Sequence[str]) -> str | None:
    """The stage script of ``python <argv>`` when it can run warm: ``stages/<name>.py`` first, no
    interpreter options before it; else ``None`` (``-m``, ``-c``, ``-u``, a script elsewhere)."""
    if not argv or argv[0].startswith("-"):
        return None
    script = argv[0]
    parent = os.path.basename(os.path.dirname(os.path.abspath(script)))
    return script if parent == "stages" and script.endswith(".py") and os.path.isfile(script) else None


# ---------------------------------------------------------------- framing (length-prefixed JSON)

def _send(sock: socket.socket, obj: object, fds: Sequence[int] = ()) -> None:
    data = json.dumps(obj).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [payload], list(fds))
        payload = payload[sent:]
    sock.sendall(payload)


def _recv_exact(sock: socket.socket, n: int, buf: bytes = b"") -> bytes:
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        buf += chunk
    return buf


def _recv(sock: socket.socket, maxfds: int = 0) -> tuple[object, list[int]]:
    fds: list[int] = []
    buf = b""
    if maxfds:
        buf, fds, _, _ = socket.recv_fds(sock, 65536, maxfds)
        if not buf:
            raise ConnectionError("peer closed the connection")
    buf = _recv_exact(sock, _HEADER.size, buf)
    (n,) = _HEADER.unpack(buf[: _HEADER.size])
    data = _recv_exact(sock, _HEADER.size + n, buf)
    return json.loads(data[_HEADER.size :]), fds


# ---------------------------------------------------------------- client (the `python` shim)

def _exec_cold(argv: Sequence[str]) -> None:
    real = os.environ.get(PYTHON_ENV) or sys.executable
    os.execv(real, [real, *argv])


def client(argv: Sequence[str]) -> int:
    """``python <argv>`` through the server when possible, else the real interpreter (``exec``)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or warm_script(argv) is None:
        _exec_cold(argv)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        _send(sock, {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}, [0, 1, 2])
        reply, _ = _recv(sock)
    except OSError:  # no server (yet, or any more): run cold
        sock.close()
        _exec_cold(argv)
    if reply.get("cold"):
        sock.close()
        _exec_cold(argv)

    def relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(bytes([signum]))

    for sig in _RELAYED:
        signal.signal(sig, relay)
    while True:
        try:
            status, _ = _recv(sock)
            break
        except InterruptedError:
            continue
        except (ConnectionError, OSError):
            print("eqlab.warm: the stage server went away", file=sys.stderr)
            return 1
    if status.get("signal"):  # die as the child died, so DVC sees the same status
        signum = status["signal"]
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return int(status.get("exit", 1))


# ---------------------------------------------------------------- server

def _run_child(request: dict, fds: list[int]) -> None:
    """In the forked child: become ``python <argv>`` in the client's directory and environment."""
    code = 1
    die_by = 0
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.setsid()  # its own group, like the shim it stands in for
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import io
        import random
        import runpy

        sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False),
                                                       line_buffering=os.isatty(1), write_through=False)
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False),
                                                       errors="backslashreplace", line_buffering=True)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed()  # a fresh process draws new state; so does this one
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.seed()
        for name in [m for m in sys.modules if m == "eqlab" or m.startswith("eqlab.")]:
            del sys.modules[name]  # the stage's own code is read fresh, as a cold start would
        script = request["argv"][0]
        sys.argv = list(request["argv"])
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            import traceback

            traceback.print_exc()
            die_by = signal.SIGINT  # as CPython does: end by the signal itself
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        import atexit
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as exit does
        atexit._run_exitfuncs()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if die_by:
            signal.signal(die_by, signal.SIG_DFL)
            os.kill(os.getpid(), die_by)
        os._exit(code)


def _signal_group(pid: int, signum: int) -> None:
    """Signal the child's process group (it and what it started), or the child before its setsid."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _raise_peak(peak_file: str, kib: int) -> None:
    """Raise the peak in ``peak_file`` to ``kib`` (handlers of stages that run side by side share it)."""
    import fcntl

    with open(peak_file + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(peak_file, encoding="utf-8") as f:
                kib = max(kib, int(f.read() or 0))
        except (OSError, ValueError):
            pass
        with open(peak_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(str(kib))
        os.replace(peak_file + ".tmp", peak_file)


def _serve_one(conn: socket.socket, server_env: dict[str, str], peak: list[int], peak_file: str | None) -> None:
    request, fds = _recv(conn, maxfds=3)
    if len(fds) != 3 or import_env(request["env"]) != server_env:
        for fd in fds:
            os.close(fd)
        _send(conn, {"cold": True})
        return
    _send(conn, {"cold": False})
    pid = os.fork()
    if pid == 0:
        conn.close()
        _run_child(request, fds)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([conn, pidfd], [], [])
            if pidfd in ready:
                break
            data = conn.recv(64)
            if not data:  # the shim is gone (killed): so goes its stage
                _signal_group(pid, signal.SIGKILL)
                break
            for signum in data:
                _signal_group(pid, signum)
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(pidfd)
    peak[0] = max(peak[0], usage.ru_maxrss)
    if peak_file:
        _raise_peak(peak_file, peak[0])
    reply = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
    with contextlib.suppress(OSError):
        _send(conn, reply)


def _reap() -> None:
    """Collect the handlers that have finished (no zombies)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def serve(fd: int, parent: int) -> int:
    """Preload :data:`PRELOAD`, then serve the shims that connect to the listening UNIX socket ``fd``,
    each in a handler process forked from this one (which forks the stage, waits for it and reports its
    status), until the process ``parent`` is gone or SIGTERM arrives."""
    import importlib
    import threading

    listener = socket.socket(fileno=fd)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for name in PRELOAD:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        if threading.active_count() != 1:  # a Python thread would not survive the fork: refuse
            print(f"eqlab.warm: {threading.active_count()} Python threads after the imports; stages run cold",
                  file=sys.stderr)
            return 1
        server_env = import_env(dict(os.environ))
        peak = [0]
        peak_file = os.environ.get(PEAK_ENV)
        listener.settimeout(1.0)
        while os.getppid() == parent:
            _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            if os.fork():  # a handler process per shim, so stages run side by side (eqlab repro -j)
                conn.close()
                continue
            listener.close()
            code = 0
            try:
                with conn:
                    _serve_one(conn, server_env, peak, peak_file)
            except (ConnectionError, OSError, ValueError) as e:
                print(f"eqlab.warm: a request failed ({e}); the shim runs it cold", file=sys.stderr)
                code = 1
            finally:
                os._exit(code)
        return 0
    finally:
        listener.close()


class StageServer:
    """The environment to run DVC with (:attr:`env`: the shim first on ``PATH``) and the server behind
    it, started by :meth:`start` (idempotent; a no-op ``dvc repro`` need not import torch). The socket
    is bound at once, so a shim that connects before the server is up waits for it."""

    def __init__(self, env: dict[str, str], tmp: str) -> None:
        self._server_env = env
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket_path = os.path.join(tmp, "stages.sock")
        self._listener.bind(self.socket_path)
        self._listener.listen(16)
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        shim = os.path.join(bindir, "python")
        with open(shim, "w", encoding="utf-8") as f:
            f.write(f'#!/bin/sh\nexec "{sys.executable}" -IS "{os.path.abspath(__file__)}" client "$@"\n')
        os.chmod(shim, 0o755)
        self.env = {**env, SOCKET_ENV: self.socket_path, PYTHON_ENV: sys.executable,
                    "PATH": bindir + os.pathsep + env.get("PATH", "")}
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        if self._process is None:
            fd = self._listener.fileno()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "eqlab.warm", "serve", str(fd), str(os.getpid())],
                env=self._server_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=[fd],
                start_new_session=True)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._listener.close()


@contextlib.contextmanager
def stage_server(env: dict[str, str], start: bool = True) -> Iterator[StageServer]:
    """A :class:`StageServer` for stages run with environment ``env`` (started now unless ``start`` is
    false), stopped on exit. Its peak child memory (KiB) goes to the file ``env[PEAK_ENV]`` when set."""
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="eqlab-warm-")
    try:
        server = StageServer(env, tmp)
        try:
            if start:
                server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["client"]:
        return client(args[1:])
    if args[:1] == ["serve"] and len(args) == 3:
        return serve(int(args[1]), int(args[2]))
    print("usage: python -m eqlab.warm serve LISTENING_FD PARENT_PID | client PYTHON_ARGS…", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
