"""Engines, migrations and the models agree, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text
from sqlalchemy.exc import DBAPIError, StatementError

from trustsvc import db
from trustsvc.config import Settings
from trustsvc.errors import ConfigurationError
from trustsvc.service import TrustService


def test_migrations_and_models_agree(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.load_models())
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_reaches_head(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        db.require_current_schema(engine)
    finally:
        engine.dispose()


def test_migrations_downgrade_to_nothing_and_back(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        _downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        db.upgrade(engine)
        assert {"audit_records", "audit_head", "api_keys"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _downgrade(engine: db.Engine, revision: str) -> None:
    from alembic import command

    cfg = db.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_constraints_follow_the_naming_convention(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        insp = inspect(engine)
        assert insp.get_unique_constraints("api_keys")[0]["name"] == "uq_api_keys_prefix"
        assert {ix["name"] for ix in insp.get_indexes("audit_records")} == {
            "ix_audit_records_subject",
            "ix_audit_records_time",
        }
        if engine.dialect.name == "postgresql":  # SQLite does not keep primary key names
            assert insp.get_pk_constraint("audit_records")["name"] == "pk_audit_records"
    finally:
        engine.dispose()


def test_unmigrated_database_is_refused_with_a_hint(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        with pytest.raises(ConfigurationError, match="run `trustsvc init`"):
            db.require_current_schema(engine)
    finally:
        engine.dispose()


def test_service_refuses_a_missing_sqlite_database(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRUSTSVC_HOME": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigurationError, match="does not exist: run `trustsvc init`"):
        TrustService.from_settings(settings)
    assert not (tmp_path / "nowhere").exists()


def test_postgresql_urls_use_psycopg_3() -> None:
    assert db.make_engine("postgresql://u@h/d").url.drivername == "postgresql+psycopg"
    assert db.normalize_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    assert db.normalize_url("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"
    with pytest.raises(ConfigurationError):
        db.normalize_url("mysql://u@h/d")


def test_sqlite_engine_uses_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_sqlite_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = db.make_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t"))  # only a read, yet it holds the write lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            conn.rollback()
        # Read-only work takes no write lock.
        with db.read_only(engine).connect() as conn:
            conn.execute(text("SELECT count(*) FROM t"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_utc_datetime_reads_back_aware_utc_and_refuses_naive(db_url: str) -> None:
    md = MetaData()
    t = Table("times", md, Column("id", Integer, primary_key=True), Column("at", db.UTCDateTime()))
    engine = db.make_engine(db_url)
    try:
        md.create_all(engine)
        beijing = timezone(timedelta(hours=8))
        with engine.begin() as conn:
            conn.execute(t.insert().values(id=1, at=datetime(2026, 3, 1, 8, 0, 0, 5, tzinfo=beijing)))
        with engine.connect() as conn:
            at = conn.execute(select(t.c.at)).scalar_one()
        assert at == datetime(2026, 3, 1, 0, 0, 0, 5, tzinfo=UTC)
        assert at.tzinfo is UTC
        with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
            conn.execute(t.insert().values(id=2, at=datetime(2026, 3, 1)))
    finally:
        engine.dispose()


def test_read_only_sessions_refuse_writes_on_postgresql(service: TrustService, db_kind: str) -> None:
    if db_kind != "postgresql":
        pytest.skip("SQLite has no read-only transactions")
    with pytest.raises(DBAPIError, match="read-only"), service.session(read_only=True) as s, s.begin():
        s.execute(text("UPDATE audit_head SET last_seq = last_seq"))


def test_a_schema_from_a_newer_trustsvc_is_named_as_such(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        with pytest.raises(ConfigurationError, match="upgraded by a newer trustsvc"):
            db.require_current_schema(engine)
    finally:
        engine.dispose()
