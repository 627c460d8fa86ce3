"""Running the `allmende` command in tests: in this process (the default: no interpreter start,
no imports, about 100× cheaper) or as a process of its own where the process boundary is what
a test is about (forked from the zygote, tests/zygote.py; the real console script where its
start is the subject). All return a subprocess.CompletedProcess."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from unittest import mock

import pytest

import zygote
from allmende import cli
from allmende.config import Settings
from allmende.platform import Platform
from zygote import CLI

TRACEBACK = "Traceback (most recent call last)"


def process_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any ALLMENDE_* setting of the machine running the tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLMENDE_")}
    env.update(extra or {})
    return env


def run_process(*args: str | Path, cwd: Path, env: Mapping[str, str] | None = None,
                timeout: float = 300, fresh: bool = False) -> subprocess.CompletedProcess:
    """The console script as a process (forked by the zygote; with ``fresh`` started anew),
    in cwd, with env (else without ALLMENDE_* variables) as its ALLMENDE_* settings; nothing
    it prints may be a traceback."""
    assert CLI.exists(), f"{CLI} is missing: run `make install`"
    result = zygote.run([CLI, *args], capture_output=True, text=True, cwd=cwd,
                        env=process_env(env), timeout=timeout, fresh=fresh)
    assert TRACEBACK not in result.stdout + result.stderr, result.stderr
    return result


class InProcess:
    """`allmende.cli.main()` in this process with its own argv, ALLMENDE_* environment and
    working directory. Output is captured at the file descriptors (capfd), so what libraries
    write there below Python counts as it would in a process; the exit status is that of
    SystemExit. An uncaught exception is raised into the test, where a process would print a
    traceback."""

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        self.capfd = capfd

    def __call__(self, *args: str | Path, cwd: Path,
                 env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = ["allmende", *map(str, args)]
        self.capfd.readouterr()  # output of the test so far is not the command's
        with _environment(env or {}), contextlib.chdir(cwd), \
                mock.patch.object(sys, "argv", argv), \
                mock.patch.object(sys, "excepthook", sys.excepthook):  # typer replaces it
            returncode = _exit_status(cli.main)
        out, err = self.capfd.readouterr()
        assert TRACEBACK not in out + err, err
        return subprocess.CompletedProcess(argv, returncode, out, err)


def _exit_status(main: object) -> int:
    try:
        main()  # type: ignore[operator]
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)  # what the interpreter does with sys.exit("…")
        return 1
    return 0


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ with exactly these ALLMENDE_* variables, restored afterwards."""
    with mock.patch.dict(os.environ):
        for key in [k for k in os.environ if k.startswith("ALLMENDE_")]:
            del os.environ[key]
        os.environ.update(variables)
        yield


def one_json_object(stdout: str) -> dict:
    """stdout holds exactly one JSON object and nothing else."""
    text = stdout.strip()
    assert text, "nothing on stdout"
    value, end = json.JSONDecoder().raw_decode(text)
    assert text[end:].strip() == "", f"more than one JSON value on stdout: {stdout!r}"
    assert isinstance(value, dict)
    return value


class Cli:
    """`allmende --data-dir DATA …` (with ALLMENDE_DATABASE_URL when given) in this process,
    or with process=True as the console script."""

    def __init__(self, allmende: InProcess, data: Path, database_url: str | None = None) -> None:
        self.allmende = allmende
        self.data = data
        self.env = {"ALLMENDE_DATABASE_URL": database_url} if database_url else {}
        self.database_url = database_url

    def __call__(self, *args: str | Path, process: bool = False) -> subprocess.CompletedProcess:
        run = run_process if process else self.allmende
        return run("--data-dir", self.data, *args, cwd=self.data.parent, env=self.env)

    def ingest(self, path: Path, *args: str, org: str = "dortmund", dataset: str = "daten",
               process: bool = False) -> subprocess.CompletedProcess:
        return self("ingest", path, "--org", org, "--dataset", dataset, *args, "--json",
                    process=process)

    def ok(self, path: Path, *args: str, **kwargs: str | bool) -> dict:
        result = self.ingest(path, *args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, result.stderr + result.stdout
        return one_json_object(result.stdout)

    def platform(self) -> Platform:
        return Platform(Settings(data_dir=self.data, database_url=self.database_url,
                                 secret_key="x"))
