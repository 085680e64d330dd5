"""Shared fixtures: a throw-away service home per test, on SQLite and (when configured) PostgreSQL.

- ``db_url``: parameterised; ``sqlite`` always, ``postgresql`` when ``TRUSTSVC_TEST_DATABASE_URL`` is set
  (e.g. ``postgresql://postgres@127.0.0.1:5432/test``). Each pytest session creates its own database
  there (dropped at the end) and each test gets its own schema in it, so runs and tests never collide.
- ``clock``: a pinned clock (:class:`FakeClock`); ``clock.advance(...)`` moves it.
- ``settings``: Settings for a fresh home under ``tmp_path`` (not yet initialised).
- ``service``: an initialised TrustService on ``settings`` with ``clock``.
- ``app`` / ``client``: the Flask app over ``service`` and its test client.
- ``cli_env`` / ``run_cli``: environment and a CliRunner wrapper for ``trustsvc`` commands on that home.
- ``openssl``: the openssl CLI (:class:`tests.tools.OpenSSL`) working in ``tmp_path``; skips if missing.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from tests.tools import OpenSSL, require_tool
from trustsvc.config import Settings
from trustsvc.service import TrustService

PG_ENV = "TRUSTSVC_TEST_DATABASE_URL"
PINNED_TIME = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_trustsvc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own TRUSTSVC_* settings out of tests (test-only variables stay)."""
    for name in list(os.environ):
        if name.startswith("TRUSTSVC_") and not name.startswith("TRUSTSVC_TEST_"):
            monkeypatch.delenv(name)


# --- independent tools -----------------------------------------------------------------------------

REQUIRE_TOOLS_ENV = "TRUSTSVC_TEST_REQUIRE_TOOLS"
#: Tools the interop tests drive; a skip naming one of them is a failure when REQUIRE_TOOLS_ENV=1 (CI).
INTEROP_TOOLS = ("openssl", "softhsm2", "pdfsig", "pdftoppm", "pdftotext", "pdffonts", "wrk")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Turn "tool missing" skips into failures in CI, so a green run has really run the interop tests."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get(REQUIRE_TOOLS_ENV) != "1":
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if any(tool in reason for tool in INTEROP_TOOLS):
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_TOOLS_ENV}=1 but the test was skipped: {reason}"


@pytest.fixture
def openssl(tmp_path: Path) -> OpenSSL:
    """The openssl CLI working in ``tmp_path``; skips (naming openssl) when it is not installed."""
    return OpenSSL(require_tool("openssl"), tmp_path)


# --- time ----------------------------------------------------------------------------------------


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime = PINNED_TIME) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.now += delta if delta is not None else timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- databases -----------------------------------------------------------------------------------


def _db_params() -> list[Any]:
    params = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(PG_ENV):
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(scope="session")
def pg_database() -> Iterator[URL]:
    """URL of a PostgreSQL database created for this pytest session (dropped at its end)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run PostgreSQL tests")
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"trustsvc_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        conn = admin.connect()
    except OperationalError:
        # The named database need not exist: the maintenance database will do for CREATE DATABASE.
        admin.dispose()
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        conn = admin.connect()
    with conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


_schemas = itertools.count(1)


def pg_schema_url(database: URL) -> str:
    """Return a URL of a new, empty schema in ``database`` (its search_path points there)."""
    schema = f"t{next(_schemas)}"
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    url = database.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=_db_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for one test: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        (tmp_path / "db").mkdir(exist_ok=True)
        return f"sqlite:///{tmp_path / 'db' / 'trustsvc.db'}"
    return pg_schema_url(request.getfixturevalue("pg_database"))


@pytest.fixture
def db_kind(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


# --- service -------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for a fresh, not yet initialised home under tmp_path."""
    return Settings.from_env({"TRUSTSVC_HOME": str(tmp_path / "home"), "TRUSTSVC_DATABASE_URL": db_url})


@pytest.fixture
def service(settings: Settings, clock: FakeClock) -> Iterator[TrustService]:
    """An initialised TrustService with a pinned clock."""
    TrustService.init(settings)
    svc = TrustService.from_settings(settings, clock=clock)
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture
def app(service: TrustService) -> Flask:
    from trustsvc.api import create_app

    application = create_app(service=service)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- command line --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment that points ``trustsvc`` commands at the ``settings`` home."""
    return {"TRUSTSVC_HOME": str(settings.home), "TRUSTSVC_DATABASE_URL": settings.database_url}


@dataclass
class CliRun:
    env: dict[str, str]

    def __call__(self, *args: str) -> Result:
        from trustsvc.cli import main

        return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> CliRun:
    """Run ``trustsvc ARGS...`` in-process on the test home; returns click's Result."""
    return CliRun(cli_env)


# The licence tests' issuing organisation (a fixture every licence test module uses); imported last because
# tests/licences.py needs FakeClock from this module.
from tests.licences import issuer  # noqa: E402, F401
