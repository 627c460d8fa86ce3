"""The German/English web UI: server-rendered Jinja2 pages, progressively enhanced with HTMX."""
