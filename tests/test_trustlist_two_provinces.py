"""Two provinces, two homes: B imports A's trust list over HTTP, follows A's changes, survives its outage.

Province A (甲省, 330000) and province B (乙省, 440000) each have their own home, database, key store and
CA. B pins A's trust-list signer certificate (handed over out of band) and imports A's list from A's
``/trust-list``; A changes (a new TSA certificate, a revocation) and B's refresh sees the new sequence;
A goes away and B's refresh fails with a typed error while B keeps the list it had.

The in-process variant serves A through its Flask test client (both databases on SQLite or both on
PostgreSQL, per ``db_url``); the live variant runs A as a real ``trustsvc serve`` on a loopback port and
drives B with the ``trustsvc trust`` commands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from asn1crypto import x509
from flask.testing import FlaskClient

from tests.conftest import CliRun, FakeClock, pg_schema_url
from tests.test_trustlist import ACTOR, issue_new_tsa, make_pki
from trustsvc.api import create_app
from trustsvc.ca.models import ServiceRole
from trustsvc.ca.profiles import ProfileKind, SubjectInfo
from trustsvc.config import Settings
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService
from trustsvc.verify.trustlist import Pin, TrustListFetchFailed
from trustsvc.verify.truststore import ListStatus, Purpose

A_BASE = "http://province-a.example"
A_ENV = {
    "TRUSTSVC_REGION_CODE": "330000",
    "TRUSTSVC_REGION_NAME": "甲省",
    "TRUSTSVC_ORG_NAME": "甲省大数据发展管理局",
    "TRUSTSVC_ORG_CODE": "11330105002500287C",
}


@pytest.fixture
def province_a(
    request: pytest.FixtureRequest, tmp_path: Path, db_kind: str, clock: FakeClock
) -> Iterator[TrustService]:
    """Province A: its own home and database (a second SQLite file, or a second PostgreSQL schema)."""
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'province-a.db'}"
    else:
        url = pg_schema_url(request.getfixturevalue("pg_database"))
    settings = Settings.from_env(
        {
            "TRUSTSVC_HOME": str(tmp_path / "province-a"),
            "TRUSTSVC_DATABASE_URL": url,
            "TRUSTSVC_PUBLIC_BASE_URL": A_BASE,
            **A_ENV,
        }
    )
    TrustService.init(settings, pki=["sm2"], clock=clock)
    service = TrustService.from_settings(settings, clock=clock)
    try:
        yield service
    finally:
        service.close()


def _serve_over(client: FlaskClient, up: list[bool]):  # type: ignore[no-untyped-def]
    """Return a fetcher that GETs from ``client`` what B would get from A's URL (while ``up[0]``)."""

    def fetch(url: str) -> bytes:
        parts = urlsplit(url)
        if not up[0] or f"{parts.scheme}://{parts.netloc}" != A_BASE:
            raise TrustListFetchFailed(f"{url}: connection refused")
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        if response.status_code != 200:
            raise TrustListFetchFailed(f"{url}: HTTP {response.status_code}")
        return response.data

    return fetch


def test_b_imports_a_over_http_follows_a_and_survives_its_outage(
    province_a: TrustService, service: TrustService, clock: FakeClock
) -> None:
    province_b = make_pki(service)
    assert province_a.settings.database_url != province_b.settings.database_url
    a_client = create_app(service=province_a).test_client()
    up = [True]
    province_b.trust.fetch = _serve_over(a_client, up)

    # the pin travels out of band: A's administrator exports the signer certificate
    pin = Pin.from_certificate(province_a.trust.signer_certificate())
    imported = province_b.trust.import_url("province-a", f"{A_BASE}/trust-list", pin=pin, actor=ACTOR)
    assert imported.outcome == "imported"
    listed = imported.list
    assert (listed.territory_code, listed.territory_name, listed.sequence) == ("330000", "甲省", 1)
    assert listed.operator_uscc == "11330105002500287C"

    store = province_b.trust.store()
    a_issuing = x509.Certificate.load(province_a.ca.ca("sm2-issuing").certificate_der)
    assert a_issuing.dump() in [c.dump() for c in store.anchors(Purpose.SIGNER_CA)]
    assert store.source_of(a_issuing) == ("province-a", "330000", 1, ListStatus.FRESH)
    # a certificate A issued: B asks A's OCSP responder and A's CRL
    leaf, _ = province_a.ca.issue_for_new_key(
        "sm2-issuing",
        ProfileKind.SEAL_SIGNER,
        SubjectInfo(common_name="甲市某局行政审批专用章", organization="甲市某局", uscc="91110000600037341L"),
        KeyAlgorithm.SM2,
        actor=ACTOR,
    )
    endpoints = store.endpoints_for(leaf.der)
    assert endpoints.ocsp == (f"{A_BASE}/ocsp",)
    assert endpoints.crl[0] == f"{A_BASE}/crl/sm2-issuing.crl"
    assert endpoints.seal_status_url("33010000000001") == f"{A_BASE}/seals/33010000000001/status"

    # A makes a new TSA certificate: B's refresh sees sequence 2 and the new TSA
    issue_new_tsa(province_a)
    refreshed = province_b.trust.refresh("province-a", actor=ACTOR)
    assert (refreshed.outcome, refreshed.previous_sequence, refreshed.list.sequence) == ("updated", 1, 2)
    new_tsa = province_a.ca.service_certificate(ServiceRole.TSA, "sm2-issuing").der
    assert [c.dump() for c in province_b.trust.store().anchors(Purpose.TSA) if c.dump() == new_tsa]

    # nothing changed at A: the refresh says so
    assert province_b.trust.refresh("province-a", actor=ACTOR).outcome == "unchanged"

    # A is unreachable: a typed error, and B keeps sequence 2 (usable until its nextUpdate)
    up[0] = False
    with pytest.raises(TrustListFetchFailed):
        province_b.trust.refresh("province-a", actor=ACTOR)
    kept = province_b.trust.get("province-a")
    assert (kept.sequence, kept.status) == (2, ListStatus.STALE)
    source = province_b.trust.store().source_of(a_issuing)
    assert source.status is ListStatus.STALE and not source.indeterminate

    # ... until A's nextUpdate passes: expired, anchors kept but INDETERMINATE
    clock.advance(days=8)
    source = province_b.trust.store().source_of(a_issuing)
    assert source.status is ListStatus.EXPIRED and source.sub_indication == "TRY_LATER"

    # A is back (and re-signs its list on request): B is fresh again, same sequence re-issued
    up[0] = True
    back = province_b.trust.refresh("province-a", actor=ACTOR)
    assert (back.outcome, back.list.sequence, back.list.status) == ("reissued", 2, ListStatus.FRESH)


def test_a_pin_of_b_does_not_accept_a(province_a: TrustService, service: TrustService) -> None:
    province_b = make_pki(service)
    up = [True]
    province_b.trust.fetch = _serve_over(create_app(service=province_a).test_client(), up)
    from trustsvc.errors import InvalidSignature

    wrong = Pin.from_certificate(province_b.trust.signer_certificate())
    with pytest.raises(InvalidSignature):
        province_b.trust.import_url("province-a", f"{A_BASE}/trust-list", pin=wrong, actor=ACTOR)
    assert province_b.trust.lists() == []


# --- the live variant: A is a running `trustsvc serve` ---------------------------------------------


def _trustsvc() -> list[str]:
    script = Path(sys.executable).with_name("trustsvc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trustsvc.cli"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*_trustsvc(), *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"trustsvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.mark.slow
def test_live_province_a_is_imported_refreshed_and_missed_over_real_http(
    tmp_path: Path, service: TrustService, run_cli: CliRun
) -> None:
    del service  # province B: the test home, initialised; driven through its command line
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env_a = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TRUSTSVC_HOME": str(tmp_path / "live-a"),
        "TRUSTSVC_PUBLIC_BASE_URL": base,
        **A_ENV,
    }
    _run(env_a, "init")
    signer = tmp_path / "a-signer.pem"
    _run(env_a, "trust", "export", "--out", str(tmp_path / "a-list.json"), "--signer-out", str(signer))

    server = subprocess.Popen(
        [*_trustsvc(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env_a,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "trustsvc serve exited"
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "trustsvc serve did not answer /health within 30 s"
            time.sleep(0.2)

        imported = run_cli(
            "trust", "import", "--name", "province-a", f"{base}/trust-list", "--signer-cert", str(signer)
        )
        assert imported.exit_code == 0, imported.output
        assert imported.stdout.startswith("imported province-a: 甲省 (甲省大数据发展管理局), sequence 1,")

        # A changes: its TSA certificate is revoked, so A's list withdraws it under a new sequence
        rows = [line.split() for line in _run(env_a, "ca", "list").splitlines()]
        tsa_serial = next(row[3] for row in rows if row[:2] == ["tsa", "service"])
        _run(env_a, "ca", "revoke", "--ca", "sm2-issuing", tsa_serial, "--reason", "superseded")
        refreshed = run_cli("trust", "refresh")
        assert refreshed.exit_code == 0, refreshed.output
        assert "province-a: updated, sequence 2" in refreshed.stdout
    finally:
        _stop(server)

    # A is gone: the refresh fails with a typed error, B keeps sequence 2
    failed = run_cli("trust", "refresh", "province-a")
    assert failed.exit_code == 1
    assert "province-a: failed:" in failed.stderr and "127.0.0.1" in failed.stderr
    listing = run_cli("trust", "list")
    row = next(line.split() for line in listing.stdout.splitlines() if line.startswith("province-a"))
    assert row[1:3] == ["甲省", "2"] and row[5] == "stale"
