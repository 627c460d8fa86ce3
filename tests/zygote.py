"""The `allmende` processes and Python one-liners the tests start, forked from a process that
has imported allmende already (a "zygote", as Android and the job fork server do it).

A test starts a server, workers, a command or a racing Python process because the process
boundary is its subject: several processes sharing a database and data directory, kill -9,
limits around a hostile input. The interpreter start and the imports are not: at 1.5 s of CPU
for each of the hundred-odd processes of a run, they were a fifth of the whole suite's CPU,
and they lay on the path of every test that waits for a server to answer. Here each test
process has one zygote that imports allmende, its web app, the job handlers and the server
once; each process a test starts is a fork of it, with the argv, environment, working directory
and standard streams the test gave, run as the console script or `python -c` would run it
(its own `__main__`, SystemExit, tracebacks, threads joined and atexit at the end).

What the test holds is a subprocess.Popen: pipes, poll(), wait(timeout), kill(), returncode
and communicate() behave as for a child of its own. The process is the zygote's child, so the
zygote reaps it and passes the wait status through a pipe (no zombie, no lost status).

What a fork does not check - that the real console script starts, imports in its own order and
exits - the tests that start `allmende` with ``fresh=True`` (a real exec) keep checking."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).parent / "allmende"
#: What the zygote imports before it forks: what `allmende serve`, `allmende worker`, the
#: commands and the job handlers import (the uvicorn parts `serve` loads at start too).
PRELOAD = ("allmende.cli", "allmende.web.app", "allmende.jobs.isolation", "uvicorn",
           "uvicorn.lifespan.on", "uvicorn.protocols.http.h11_impl",
           "uvicorn.protocols.websockets.auto", "uvicorn.loops.auto")
_MESSAGE = 1 << 20  # a request: argv and environment, far below this


# --- in the test process -----------------------------------------------------------------------

def popen(args: Sequence[str | Path], *, fresh: bool = False, **kwargs: Any) -> subprocess.Popen:
    """subprocess.Popen(args, **kwargs), forked by the zygote when args run the `allmende`
    console script or `python -c`; anything else, or ``fresh=True``, is a real new process."""
    argv = [str(a) for a in args]
    return subprocess.Popen(argv, **kwargs) if fresh or not _forkable(argv) \
        else _Forked(argv, **kwargs)


def run(args: Sequence[str | Path], *, input: str | bytes | None = None,
        capture_output: bool = False, timeout: float | None = None, check: bool = False,
        fresh: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
    """subprocess.run(args, ...) with the process from popen()."""
    if capture_output:
        kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with popen(args, fresh=fresh, **kwargs) as process:
        try:
            out, err = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    if check:
        result.check_returncode()
    return result


def _forkable(argv: list[str]) -> bool:
    return argv[0] == str(CLI) or (argv[0] == sys.executable and argv[1:2] == ["-c"])


class _Forked(subprocess.Popen):
    """A Popen whose process the zygote forks; the exit status comes through a pipe."""

    _status = -1

    def _execute_child(self, args: list[str], executable: Any, preexec_fn: Any,
                       close_fds: bool, pass_fds: Sequence[int], cwd: Any,
                       env: Mapping[str, str] | None, startupinfo: Any, creationflags: int,
                       shell: bool, p2cread: int, p2cwrite: int, c2pread: int, c2pwrite: int,
                       errread: int, errwrite: int, *_rest: Any) -> None:
        assert not shell and preexec_fn is None and not pass_fds, "not for a forked process"
        streams = [p2cread, c2pwrite, errwrite]
        streams = [fd if fd != -1 else default for fd, default in zip(streams, (0, 1, 2))]
        try:
            self.pid, self._status = _zygote().start(
                args, dict(os.environ if env is None else env),
                None if cwd is None else os.fsdecode(cwd), streams)
            self._child_created = True
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)

    def _internal_poll(self, _deadstate: Any = None, **_ignored: Any) -> int | None:
        if self.returncode is None and self._waitpid_lock.acquire(False):
            try:
                if self.returncode is None and _readable(self._status, 0):
                    self._collect()
            finally:
                self._waitpid_lock.release()
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        with self._waitpid_lock:
            if self.returncode is None:
                if not _readable(self._status, timeout):
                    raise subprocess.TimeoutExpired(self.args, timeout)
                self._collect()
        return self.returncode

    def _collect(self) -> None:
        chunks = []
        while chunk := os.read(self._status, 64):
            chunks.append(chunk)
        os.close(self._status)
        self._status = -1
        if not chunks:
            raise RuntimeError(f"the zygote ended before process {self.pid}: {_ZYGOTE.log()}")
        self._handle_exitstatus(int(b"".join(chunks)))


def _readable(fd: int, timeout: float | None) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


class _Zygote:
    """This process's zygote and the socket it takes requests on (one at a time)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - the zygote's, as long as it lives
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
            env=env, stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output)
        theirs.close()
        self.control = ours
        self.lock = threading.Lock()
        atexit.register(self.close)

    def start(self, argv: list[str], env: dict[str, str], cwd: str | None,
              streams: list[int]) -> tuple[int, int]:
        """The pid of a new process and the read end of the pipe its wait status comes by."""
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd,
                              "code": argv[0] != str(CLI)}).encode()
        with self.lock:
            socket.send_fds(self.control, [request], streams)
            answer, fds, _flags, _address = socket.recv_fds(self.control, 1024, 1)
        if not answer:
            raise RuntimeError(f"the zygote is gone: {self.log()}")
        reply = json.loads(answer)
        if "error" in reply:
            raise OSError(reply["error"])
        return reply["pid"], fds[0]

    def log(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        self.control.close()  # the zygote ends at the end of its socket
        self.process.wait(timeout=30)


_ZYGOTE: _Zygote | None = None
_STARTING = threading.Lock()


def _zygote() -> _Zygote:
    global _ZYGOTE
    with _STARTING:
        if _ZYGOTE is None or _ZYGOTE.process.poll() is not None:
            _ZYGOTE = _Zygote()
        return _ZYGOTE


# --- in the zygote ------------------------------------------------------------------------------

def _serve(control: socket.socket) -> None:
    """Fork a process for each request until the socket ends; reap each and pass its wait
    status on. One thread: a fork copies no other thread's half-done work."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    from allmende.jobs import registry
    for module in registry.handler_modules():
        importlib.import_module(module)

    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    children: dict[int, tuple[int, int]] = {}  # pidfd: (pid, write end of its status pipe)
    while True:
        for key, _events in selector.select():
            if key.fileobj is not control:
                _reap(key.fd, children, selector)
                continue
            request, streams, _flags, _address = socket.recv_fds(control, _MESSAGE, 3)
            if not request:
                return
            try:
                pid, status = _fork(json.loads(request), streams, control, selector, children)
            except OSError as error:
                socket.send_fds(control, [json.dumps({"error": str(error)}).encode()], [])
                continue
            finally:
                for fd in streams:
                    os.close(fd)
            socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [status])
            os.close(status)


def _fork(request: dict[str, Any], streams: list[int], control: socket.socket,
          selector: selectors.BaseSelector, children: dict[int, tuple[int, int]]
          ) -> tuple[int, int]:
    status_read, status_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # nothing of the zygote's stays open in the child
            selector.close()
            control.close()
            for pidfd, (_pid, write) in children.items():
                os.close(pidfd)
                os.close(write)
            os.close(status_read)
            os.close(status_write)
            code = _become(request, streams)
        finally:
            os._exit(code)
    pidfd = os.pidfd_open(pid)  # readable when the child has ended (a zombie included)
    children[pidfd] = (pid, status_write)
    selector.register(pidfd, selectors.EVENT_READ)
    return pid, status_read


def _reap(pidfd: int, children: dict[int, tuple[int, int]],
          selector: selectors.BaseSelector) -> None:
    pid, status = children.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    _pid, wait_status = os.waitpid(pid, 0)
    with contextlib.suppress(BrokenPipeError):  # nobody waits for it any more
        os.write(status, str(wait_status).encode())
    os.close(status)


def _become(request: dict[str, Any], streams: list[int]) -> int:
    """In the child: the process the request describes; its exit status."""
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    for fd in set(streams):
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    if request["cwd"] is not None:
        os.chdir(request["cwd"])
    return _finalize(_main(request["argv"], request["code"]))


def _main(argv: list[str], code: bool) -> int:
    """Run argv as the interpreter would: `python -c CODE ARGS` or the console script."""
    import builtins
    import runpy
    import traceback
    import types

    try:
        if code:
            sys.argv = ["-c", *argv[3:]]
            sys.path[0] = ""
            main = types.ModuleType("__main__")
            main.__builtins__ = builtins
            sys.modules["__main__"] = main
            exec(compile(argv[2], "<string>", "exec"), main.__dict__)
        else:
            sys.argv = list(argv)
            sys.path[0] = str(Path(argv[0]).parent)
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finalize(code: int) -> int:
    """What the interpreter does before it exits: join the threads, run atexit, flush."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    return code


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))
