"""The documentation keeps up with the code: every REST operation is in docs/api.md, every
command in docs/cli.md, every setting in the README (datasette's habit: a test fails when
something is added undocumented)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from allmende.cli import app as cli_app
from allmende.config import Settings
from allmende.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def _text(relative: str) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def _operations(platform) -> list[tuple[str, str]]:
    spec = create_app(platform).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")]


def _documented_form(path: str) -> str:
    """/api/v1/resources/{resource_id}/rows as docs/api.md writes it: ids as {id}."""
    return re.sub(r"\{[^}]+\}", "{id}", path)


def test_every_api_operation_is_in_the_api_docs(platform):
    docs = re.sub(r"\{[^}]+\}", "{id}", _text("docs/api.md"))
    missing = [(method, path) for method, path in _operations(platform)
               if _documented_form(path) not in docs]
    assert not missing, f"add these to docs/api.md: {missing}"


def test_every_command_is_in_the_cli_docs():
    docs = _text("docs/cli.md")
    command = typer.main.get_command(cli_app)
    names = []
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        children = getattr(sub, "commands", None)
        names += [f"{name} {child}" for child in children] if children else [name]
    missing = [name for name in names if f"allmende {name}" not in docs]
    assert not missing, f"add these to docs/cli.md: {missing}"


def test_every_setting_is_in_the_readme():
    readme = _text("README.md")
    internal = {"pause_at"}  # test-only
    missing = [name for name in Settings.model_fields if name not in internal
               and f"ALLMENDE_{name.upper()}" not in readme
               and f"--{name.replace('_', '-')}" not in readme]
    assert not missing, f"add these settings to the README: {missing}"
