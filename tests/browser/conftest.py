"""Registers the web UI fixtures (defined in ui_support.py, which the tests import helpers from)
and keeps the browser tests together under `--dist loadgroup`: one worker starts chromium, seeds
the site and runs its server once for all of them."""

from pathlib import Path

import pytest
from ui_support import browser, client, live_server, page, site  # noqa: F401

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group("browser"))
