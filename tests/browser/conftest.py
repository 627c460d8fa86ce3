"""Registers the web UI fixtures (defined in ui_support.py, which the tests import helpers from)."""

from ui_support import browser, client, live_server, page, site  # noqa: F401
