"""The running platform: settings, the metadata database and the search index, built once per
process and shared by the web app and the CLI."""

from __future__ import annotations

from allmende.catalog.search import index_for
from allmende.config import Settings
from allmende.db.session import Database


class Platform:
    def __init__(self, settings: Settings | None = None) -> None:
        from allmende.wiring import wire

        wire()
        self.settings = settings or Settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.resolved_database_url,
                           self.settings.database_pool_size)
        self.search_index = index_for(self.db, self.settings.data_dir / "search",
                                      self.settings.search_snapshot_min_datasets)

    def upgrade(self) -> None:
        self.db.upgrade()

    def close(self) -> None:
        self.search_index.close()
        self.db.dispose()
