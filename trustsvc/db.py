"""Database plumbing: declarative Base, engines for SQLite and PostgreSQL, sessions, Alembic upgrades.

The schema is owned by the hand-written migrations in ``trustsvc/migrations/versions``; the models
must agree with them (``tests/test_db.py`` checks with Alembic's ``compare_metadata``). Nothing here
creates tables from the models.

SQLite transactions start with ``BEGIN IMMEDIATE`` so that a unit of work that reads and then writes
holds the write lock from its first statement: writers from several processes queue on the busy
timeout instead of failing half-way with ``database is locked``. Work that only reads can ask for a
``BEGIN DEFERRED`` with the ``read_only`` execution option (see :func:`read_only`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from trustsvc.errors import ConfigurationError

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected so tests can pin time."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Every module that defines tables. Alembic's env.py and the models-versus-migrations test load these
# so they see the whole schema; add a module here when it gains models.
MODEL_MODULES: tuple[str, ...] = (
    "trustsvc.audit",
    "trustsvc.auth",
    "trustsvc.ca.models",
    "trustsvc.ca.status_models",
    "trustsvc.license.models",
    "trustsvc.seal.models",
    "trustsvc.verify.trustlist_models",
)

SQLITE_BUSY_TIMEOUT_MS = 30_000

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every trustsvc model; constraint names follow :data:`NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no time zone, PostgreSQL's ``timestamptz`` answers in the session's zone; both come
    back as UTC here. Naive datetimes are refused on the way in: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def normalize_url(url: str | URL) -> URL:
    """Return ``url`` with the driver trustsvc uses: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(f"unsupported database: {u.get_backend_name()}")
    return u


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Return an engine for ``url`` configured for trustsvc (see the module docstring)."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_engine(u, **kwargs)
        _configure_sqlite(engine, in_memory=u.database in (None, "", ":memory:"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(u, **kwargs)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the sqlite3 module (which skips it before SELECT and DDL) and emit it
        # ourselves in _on_begin, so every unit of work is one real transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("read_only") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def read_only(engine: Engine) -> Engine:
    """Return ``engine`` for work that only reads (SQLite: no write lock; PostgreSQL: READ ONLY)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(read_only=True, postgresql_readonly=True)
    return engine.execution_options(read_only=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory for ``engine``; use one ``with session.begin():`` per unit of work."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def load_models() -> MetaData:
    """Import every model module (:data:`MODEL_MODULES`) and return the complete metadata."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def alembic_config(engine: Engine | None = None) -> Config:
    """Return an Alembic configuration for the packaged migrations, bound to ``engine`` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def head_revision() -> str:
    """Return the revision the packaged migrations lead to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise ConfigurationError("no database migrations are packaged")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for a database Alembic never touched."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the packaged migrations on ``engine`` up to ``revision`` (idempotent at head)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def require_current_schema(engine: Engine) -> None:
    """Raise ConfigurationError unless the database schema is at the packaged head revision."""
    current, head = current_revision(engine), head_revision()
    if current is not None and current != head and not _is_known_revision(current):
        raise ConfigurationError(
            f"database schema is at {current}, which this trustsvc does not know (its newest is {head}): "
            "the database was upgraded by a newer trustsvc"
        )
    if current != head:
        raise ConfigurationError(
            f"database schema is at {current or 'nothing (empty database)'}, this trustsvc needs {head}: "
            "run `trustsvc init`"
        )


def _is_known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False
