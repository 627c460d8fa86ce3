"""allmende processes for tests that need real ones: a web server and `allmende worker`s on a
test's platform (same database, same data directory), and waiting for them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from allmende.platform import Platform

BIN = Path(sys.executable).parent
CLI = BIN / "allmende"
#: Processes wait this long for each other; generous, because the machine may be loaded.
DEADLINE = 240.0


def measurements(rows: int) -> str:
    """A CSV of ``rows`` measurements, as a Dortmund office exports them."""
    return "Messstelle;Datum;Wert\n" + "".join(
        f"DO{n:03d};{1 + n % 28:02d}.01.2024;{n},5\n" for n in range(rows))


class Cluster:
    """allmende processes on the test's platform: same database, same data directory."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        settings = platform.settings
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
        self.env.update({
            "ALLMENDE_DATA_DIR": str(settings.data_dir),
            "ALLMENDE_DATABASE_URL": settings.resolved_database_url,
            "ALLMENDE_SECRET_KEY": "test-secret", "ALLMENDE_INPROCESS_WORKER": "false",
            "ALLMENDE_JOB_STALE_SECONDS": "2", "ALLMENDE_JOB_HEARTBEAT_SECONDS": "0.5"})
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        assert CLI.exists(), f"{CLI} is missing: run `make install`"
        process = subprocess.Popen([str(CLI), *args], env={**self.env, **env},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes.append(process)
        return process

    def worker(self, **env: str) -> subprocess.Popen:
        return self.start("worker", "--poll", "0.2", **env)

    def web(self, **env: str) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = self.start("serve", "--port", str(port), **env)
        base = f"http://127.0.0.1:{port}"
        wait(lambda: _answers(base), f"the web server on {base} did not start",
              process)
        return base

    def python(self, code: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", code], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes.append(process)
        return process

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait(condition: Callable[[], bool], failure: Callable[[], str] | str,
          process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{failure}: {process.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, failure if isinstance(failure, str) else failure()
        time.sleep(0.1)
