"""Engine and session handling for both backends (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

import fcntl
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)
#: ``Session.info``: what to keep should the unit of work fail (:func:`on_failure`)
ON_FAILURE = "allmende.on_failure"

MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant that names allmende's migration lock among PostgreSQL advisory locks.
MIGRATION_LOCK_KEY = 0x616C6D64
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=(.*)$", re.MULTILINE)


@cache
def _head_revisions() -> frozenset[str]:
    """The newest migrations (those no other migration revises), read from the files once per
    process (they are part of the installed package)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else revised).update(
                re.findall(r"[\"']([^\"']+)[\"']", value))
    return frozenset(revisions - revised)


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if pool_size == 0:
        return create_engine(url, poolclass=NullPool)
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=2 * pool_size)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: The database systems allmende runs on (SQLAlchemy URL schemes).
SUPPORTED = ("sqlite", "postgresql", "postgresql+psycopg")


class UnsupportedDatabase(ValueError):
    """A database URL allmende cannot use; the message says why, in German."""


def check_url(url: str) -> None:
    scheme = url.partition(":")[0]
    if scheme not in SUPPORTED:
        raise UnsupportedDatabase(
            f"„{scheme}“ wird nicht unterstützt: allmende läuft auf SQLite (Vorgabe) und "
            "PostgreSQL (postgresql+psycopg://benutzer@host/datenbank).")
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise UnsupportedDatabase(f"Das Verzeichnis {folder} für die SQLite-Datenbank gibt "
                                      "es nicht; legen Sie es an oder nennen Sie ein anderes.")


class Database:
    """The metadata database: an engine and its session factory."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        check_url(url)
        self.url = url
        self.engine = make_engine(url, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException as error:
                records = session.info.pop(ON_FAILURE, [])
                session.rollback()
                self._record_failure(error, records)
                raise

    def _record_failure(self, error: BaseException,
                        records: list[Callable[[Session, BaseException], None]]) -> None:
        """What the unit of work asked to keep should it fail (:func:`on_failure`), each in a
        unit of work of its own; a failure here is logged and never hides the error itself."""
        for record in records:
            try:
                with self.session() as session:
                    record(session, error)
            except Exception:
                log.exception("could not record after the rollback of %r", error)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent). Processes starting together
        (several web workers, a CLI beside a server) migrate one after the other."""
        if self._at_head():
            return
        # Imported here: alembic brings mako and pygments along (a fifth of a second), and
        # nearly every start finds the schema current.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._migration_lock(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _at_head(self) -> bool:
        """Whether the database already carries the newest migrations."""
        heads = _head_revisions()
        try:
            with self.engine.connect() as connection:
                current = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
        except SQLAlchemyError:  # no schema yet
            return False
        return bool(heads) and current == heads

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """On SQLite, an exclusive lock on a file beside the database."""
        if not self.url.startswith("sqlite:///"):
            yield
            return
        lock_path = Path(self.url.removeprefix("sqlite:///") + ".migrate.lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()


def on_failure(session: Session, record: Callable[[Session, BaseException], None]) -> None:
    """Keep something should this unit of work fail (e.g. that a read under an agreement was
    refused): ``record(new_session, error)`` runs after the rollback (see
    :meth:`Database.session`); a commit forgets it."""
    session.info.setdefault(ON_FAILURE, []).append(record)


@event.listens_for(Session, "after_commit")
def _forget_failure_records(session: Session) -> None:
    session.info.pop(ON_FAILURE, None)
