"""Database templates for the tests: migrate (and seed) once per session and backend, then give
every test a copy in a few milliseconds.

A template is a data directory in a known state. On SQLite its database file lies inside it, so
copying the directory copies the database. On PostgreSQL the database is this worker's own; the
template keeps a binary COPY of every table that has rows and the positions of the sequences,
and installing it puts them back in three round trips (DELETE and COPY: far cheaper than
TRUNCATE, CREATE DATABASE … TEMPLATE or a migration; the "world" template in 7 ms, against
100–400 ms, and 33 ms with a statement per table).

The xdist workers of a run share their seeded templates: the first worker to need one builds it
into a folder they all see (holding a lock on it) and writes the snapshot and what the seeds
returned beside it; the others wait for it and restore that instead of seeding again (the demo
region takes 10–20 s to seed). Only the empty "migrated" template is each worker's own: it
creates the tables in the worker's database, which the shared snapshots are restored into."""

from __future__ import annotations

import fcntl
import json
import pickle
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from allmende.config import Settings
from allmende.db.models import Base
from allmende.platform import Platform

SECRET_KEY = "test-secret"
DONE = "complete"  # written last into a shared template's folder
# A seed writes into a platform and returns what tests need to know about it (e.g. the API
# tokens of the users it made), given what the seeds of its base templates returned.
Seed = Callable[[Platform, dict[str, Any]], dict[str, Any]]


@dataclass
class Installation:
    """A data directory and its database, ready for a Platform in this process or for
    `allmende` processes started with env()."""

    backend: str
    data_dir: Path
    database_url: str | None  # None: SQLite in the data directory
    seeded: dict[str, Any] = field(default_factory=dict)  # what the seeds returned

    def settings(self, **extra: Any) -> Settings:
        # jobs run inline (a child process per job costs a second); the isolation and the
        # concurrency tests start real worker processes, which isolate as in production
        return Settings(data_dir=self.data_dir, database_url=self.database_url,
                        secret_key=SECRET_KEY, **{"job_isolation": "inline", **extra})

    def platform(self, **extra: Any) -> Platform:
        return Platform(self.settings(**extra))

    def env(self) -> dict[str, str]:
        """The ALLMENDE_* variables that point a process at this installation."""
        variables = {"ALLMENDE_DATA_DIR": str(self.data_dir), "ALLMENDE_SECRET_KEY": SECRET_KEY}
        if self.database_url:
            variables["ALLMENDE_DATABASE_URL"] = self.database_url
        return variables


@dataclass
class Snapshot:
    """The rows of every table of a PostgreSQL database that has any (binary COPY) and the
    positions of its sequences."""

    tables: dict[str, bytes] = field(default_factory=dict)
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)

    @classmethod
    def take(cls, engine: Engine) -> Snapshot:
        snapshot = cls()
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()
            for table in Base.metadata.sorted_tables:
                statement = sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(
                    sql.Identifier(table.name))
                with cursor.copy(statement) as copy:
                    rows = b"".join(bytes(block) for block in copy)
                if cursor.rowcount:
                    snapshot.tables[table.name] = rows
            for name, last, start in connection.execute(text(
                    "SELECT quote_ident(sequencename), last_value, start_value "
                    "FROM pg_sequences WHERE schemaname = current_schema()")):
                # last_value is NULL while the sequence was never used
                snapshot.sequences.append((name, start if last is None else last,
                                           last is not None))
        return snapshot

    def restore(self, engine: Engine) -> None:
        """Three round trips, whatever the number of tables: the deletes, the copies of the
        tables that have rows, the sequences (a statement per table took 30 ms)."""
        deletes = sql.SQL("; ").join(sql.SQL("DELETE FROM {}").format(sql.Identifier(t.name))
                                     for t in reversed(Base.metadata.sorted_tables))
        positions = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
            sql.SQL("setval({}, {}, {})").format(sql.Literal(name), value, called)
            for name, value, called in self.sequences))
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()
            cursor.execute(deletes)
            for table in Base.metadata.sorted_tables:
                if table.name in self.tables:
                    statement = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
                        sql.Identifier(table.name))
                    with cursor.copy(statement) as copy:
                        copy.write(self.tables[table.name])
            if self.sequences:
                cursor.execute(positions)


@dataclass
class Template:
    """A data directory (holding the SQLite database) and, on PostgreSQL, a snapshot."""

    backend: str
    data_dir: Path
    database_url: str | None
    snapshot: Snapshot | None
    seeded: dict[str, Any]

    def install(self, data_dir: Path, engine: Engine | None) -> Installation:
        shutil.copytree(self.data_dir, data_dir)
        if self.snapshot is not None:
            assert engine is not None
            self.snapshot.restore(engine)
        return Installation(self.backend, data_dir, self.database_url, dict(self.seeded))


class Templates:
    """This session's templates per backend, built on first use: "migrated" (an empty
    database at the newest migration) and every seeded one registered with add()."""

    def __init__(self, root: Path, postgres_url: str | None, shared: Path | None = None) -> None:
        """Templates of this worker in ``root``; seeded ones in ``shared`` (a folder every worker
        of the run sees) when given, else in ``root``."""
        self.root = root
        self.shared = shared or root
        self.postgres_url = postgres_url
        # one engine for every restore: a Platform per test brings its own
        self.engine = create_engine(postgres_url) if postgres_url else None
        self.seeds: dict[str, tuple[Seed, str]] = {}
        self.built: dict[tuple[str, str], Template] = {}

    def add(self, name: str, seed: Seed, base: str = "migrated") -> None:
        """Template `name`: template `base` plus what seed(platform, seeded) writes, where
        `seeded` holds what the seeds of the bases returned (e.g. API tokens); the seed returns
        its own additions. Keep absolute paths out of the data directory: copies live
        elsewhere. Adding the same template again changes nothing."""
        known = self.seeds.setdefault(name, (seed, base))
        assert known == (seed, base), f"two different templates are called {name!r}"

    def choose(self, fixturenames: Iterable[str]) -> str:
        """Of the templates named like fixtures of a test, the one built on most others."""
        names = [n for n in fixturenames if n in self.seeds]
        return max(names, key=self._depth, default="migrated")

    def install(self, backend: str, name: str, data_dir: Path) -> Installation:
        """A copy of template `name` in data_dir (which must not exist yet). On PostgreSQL the
        database is this worker's: one installation at a time."""
        key = (backend, name)
        if key not in self.built:
            self.built[key] = self._build(backend, name)
        return self.built[key].install(data_dir, self.engine)

    def _depth(self, name: str) -> int:
        return 0 if name == "migrated" else 1 + self._depth(self.seeds[name][1])

    def _build(self, backend: str, name: str) -> Template:
        if name == "migrated":
            scratch = self.root / f"{backend}-{name}"
            installation = self._empty(backend, scratch)
            platform = installation.platform()
            try:
                platform.upgrade()
            finally:
                platform.close()
            return self._template(installation)
        if backend == "postgresql" and (backend, "migrated") not in self.built:
            # this worker's database gets the tables the shared snapshot is restored into
            self.built[(backend, "migrated")] = self._build(backend, "migrated")
        folder = self.shared / f"{backend}-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        seed, base = self.seeds[name]
        made_by = f"{seed.__module__}.{seed.__qualname__} on {base}"
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it
            if not (folder / DONE).exists():
                self._seed(backend, name, folder)
                (folder / "seed").write_text(made_by)
                (folder / DONE).touch()
            found = (folder / "seed").read_text()
            assert found == made_by, f"two different templates are called {name!r}: {found}"
            return self._shared(backend, folder)

    def _seed(self, backend: str, name: str, folder: Path) -> None:
        """Builds template ``name`` into ``folder``: the data directory, the snapshot and what
        the seeds returned (the caller marks it DONE: a worker that died halfway left none)."""
        shutil.rmtree(folder / "data", ignore_errors=True)
        seed, base = self.seeds[name]
        installation = self.install(backend, base, folder / "data")
        platform = installation.platform()
        try:
            installation.seeded.update(seed(platform, dict(installation.seeded)))
        finally:
            platform.close()
        template = self._template(installation)
        (folder / "snapshot.pickle").write_bytes(pickle.dumps(template.snapshot))
        (folder / "seeded.json").write_text(json.dumps(template.seeded))

    def _shared(self, backend: str, folder: Path) -> Template:
        return Template(backend, folder / "data",
                        self.postgres_url if backend == "postgresql" else None,
                        pickle.loads((folder / "snapshot.pickle").read_bytes()),
                        json.loads((folder / "seeded.json").read_text()))

    def _template(self, installation: Installation) -> Template:
        leftovers = [p.name for p in installation.data_dir.glob("*.db-*")]
        assert not leftovers, f"SQLite left {leftovers}: the template would be incomplete"
        backend = installation.backend
        snapshot = Snapshot.take(self.engine) if backend == "postgresql" and self.engine else None
        return Template(backend, installation.data_dir, installation.database_url, snapshot,
                        installation.seeded)

    def _empty(self, backend: str, data_dir: Path) -> Installation:
        if backend == "postgresql":
            if not self.postgres_url:
                raise RuntimeError("PostgreSQL tests need ALLMENDE_TEST_DATABASE_URL")
            with self.engine.begin() as connection:  # type: ignore[union-attr]
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        data_dir.mkdir(parents=True)
        return Installation(backend, data_dir, self.postgres_url if backend == "postgresql"
                            else None)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def create_worker_database(base_url: str, worker: str) -> str:
    """A new, empty database of its own for one xdist worker, named after the base URL's."""
    url = make_url(base_url)
    name = f"{url.database}_{worker}"
    with _admin(base_url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    name = make_url(database_url).database
    with _admin(database_url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _admin(url: str) -> Iterator[Connection]:
    """An autocommit connection to the server's `postgres` database."""
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
