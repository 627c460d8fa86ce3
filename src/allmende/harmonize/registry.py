"""The shipped schemas and schemas given as files.

A schema is a Frictionless Table Schema descriptor (a plain ``dict``) with allmende's additions:
the field type ``geometry`` and the top-level keys ``name``, ``title``, ``version`` and
``description``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from allmende.errors import NotFound

SCHEMA_DIR = Path(__file__).parent / "schemas"


def shipped_names() -> list[str]:
    """Names of the schemas shipped with allmende, sorted."""
    return sorted(path.stem for path in SCHEMA_DIR.glob("*.json"))


def load_schema(name_or_path: str | Path) -> dict[str, Any]:
    """A shipped schema by name, or a Table Schema JSON file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = SCHEMA_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise NotFound(f"Das Schema „{name_or_path}“ gibt es nicht; vorhanden: "
                           f"{', '.join(shipped_names())}.", "schema_not_found")
    return json.loads(path.read_text(encoding="utf-8"))
