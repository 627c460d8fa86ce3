"""The zygote (tests/zygote.py) hands the tests processes that behave like subprocess's own:
many tests judge an exit status, a kill or what a process printed, and a fork that got any of
these wrong would let them pass for the wrong reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zygote


def _code(source: str, *args: str, timeout: float = 60, **kwargs: object
          ) -> subprocess.CompletedProcess:
    return zygote.run([sys.executable, "-c", source, *args], capture_output=True, text=True,
                      timeout=timeout, **kwargs)


def test_exit_statuses_and_output_are_the_interpreters():
    assert _code("print('a'); import sys; sys.exit(3)").returncode == 3
    said = _code("import sys; sys.exit('Abbruch')")
    assert (said.returncode, said.stderr) == (1, "Abbruch\n")
    crashed = _code("raise ValueError('kaputt')")
    assert crashed.returncode == 1
    assert "Traceback (most recent call last)" in crashed.stderr
    assert "ValueError: kaputt" in crashed.stderr
    ran = _code("import sys; print(__name__, sys.argv[1:])", "x", "y")
    assert (ran.returncode, ran.stdout) == (0, "__main__ ['x', 'y']\n")


def test_environment_working_directory_and_input_are_the_callers(tmp_path: Path):
    source = "import os, sys; print(os.environ.get('WERT'), os.getcwd(), sys.stdin.read())"
    result = _code(source, env={"WERT": "42"}, cwd=tmp_path, input="eingabe")
    assert result.stdout == f"42 {tmp_path} eingabe\n"
    assert "WERT" not in _code("import os; print(dict(os.environ))", env={}).stdout


def test_a_killed_process_reports_the_signal_and_a_wait_can_time_out():
    process = zygote.popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.1)
    os.kill(process.pid, signal.SIGKILL)  # as the kill tests do, by pid
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert process.poll() == -signal.SIGKILL


def test_a_run_past_its_timeout_is_killed():
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        _code("import time; time.sleep(60)", timeout=0.5)
    assert time.monotonic() - started < 30


def test_threads_are_joined_and_atexit_runs_before_the_exit():
    source = ("import atexit, threading, time\n"
              "atexit.register(print, 'atexit')\n"
              "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n")
    assert _code(source).stdout == "thread\natexit\n"


def test_the_console_script_runs_as_allmende(tmp_path: Path):
    forked = zygote.run([zygote.CLI, "--data-dir", tmp_path / "d", "org", "create", "herne",
                         "--json"], capture_output=True, text=True, timeout=60)
    fresh = zygote.run([zygote.CLI, "--data-dir", tmp_path / "d", "org", "create", "herne",
                        "--json"], capture_output=True, text=True, timeout=60, fresh=True)
    assert forked.returncode == fresh.returncode == 2
    assert forked.stdout == fresh.stdout == ""
    assert "--name" in forked.stderr and "--name" in fresh.stderr
