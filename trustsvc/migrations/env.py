"""Alembic environment of trustsvc.

Run programmatically by :func:`trustsvc.db.upgrade` (which hands over a connection in
``config.attributes["connection"]``). Developers writing a new migration can also use the alembic
command line: ``alembic -c trustsvc/migrations/alembic.ini revision -m "..."`` with
``TRUSTSVC_DATABASE_URL`` pointing at a scratch database, then edit the generated file by hand.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from trustsvc.db import load_models, make_engine

config = context.config
target_metadata = load_models()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("TRUSTSVC_DATABASE_URL")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("TRUSTSVC_DATABASE_URL")
    if not url:
        raise SystemExit("set TRUSTSVC_DATABASE_URL (or sqlalchemy.url) to the database to migrate")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
