"""Concurrent issuance from several processes on PostgreSQL: distinct serials, all rows stored, one chain.

4 processes × 200 issuances through the service API (``CertificateAuthorityService.issue_from_csr``) against
one PostgreSQL database, all started together behind a barrier. Serials come from ``new_serial()`` and the
unique constraint (ca_id, serial), never from a counter, so nothing but the database coordinates them.

Runtime: each process makes one SM2 key and one CSR up front and sends that same CSR 200 times (each
issuance still parses it and checks its proof of possession, signs a new certificate with the CA key from
the key store and writes it with its audit record). Generating 800 keys would only measure key generation.
PostgreSQL only (set ``TRUSTSVC_TEST_DATABASE_URL``); on SQLite every write transaction holds the whole
database anyway.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from tests.conftest import pg_schema_url
from trustsvc.audit import AuditRecord
from trustsvc.ca.models import IssuedCertificate
from trustsvc.config import Settings
from trustsvc.service import TrustService

PROCESSES = 4
ISSUANCES = 200

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _issuer(settings: Settings, worker: int, barrier: Any, results: Any) -> None:
    from tests.pki import csr_from_signer, sm2_signer

    service = TrustService.from_settings(settings)
    try:
        csr = csr_from_signer(sm2_signer())
        authority = service.ca
        authority.ca("sm2-issuing")  # warm up: CA lookup and key store opened before the race starts
        barrier.wait(timeout=60)
        serials = [
            authority.issue_from_csr("sm2-issuing", csr, "tls-client", actor=f"worker:{worker}").serial
            for _ in range(ISSUANCES)
        ]
        results.put((worker, serials))
    finally:
        service.close()


@pytest.fixture
def pg_settings(pg_database: URL, tmp_path: Path) -> Settings:
    settings = Settings.from_env(
        {"TRUSTSVC_HOME": str(tmp_path / "home"), "TRUSTSVC_DATABASE_URL": pg_schema_url(pg_database)}
    )
    TrustService.init(settings, pki=["sm2"])
    return settings


def test_four_processes_issue_800_certificates_with_distinct_serials(pg_settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_issuer, args=(pg_settings, w, barrier, results)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    collected = dict(results.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    serials = [serial for worker in sorted(collected) for serial in collected[worker]]
    assert len(serials) == PROCESSES * ISSUANCES
    assert len(set(serials)) == PROCESSES * ISSUANCES
    assert all(int(serial, 16).bit_length() > 64 for serial in serials)

    service = TrustService.from_settings(pg_settings)
    try:
        issuing_id = service.ca.ca("sm2-issuing").id
        with service.session(read_only=True) as session, session.begin():
            stored = set(
                session.execute(
                    select(IssuedCertificate.serial).where(
                        IssuedCertificate.ca_id == issuing_id, IssuedCertificate.profile == "tls-client"
                    )
                ).scalars()
            )
            issue_records = session.execute(
                select(AuditRecord.actor, func.count())
                .where(AuditRecord.action == "certificate.issue", AuditRecord.actor.like("worker:%"))
                .group_by(AuditRecord.actor)
            ).all()
            checked = service.audit.verify(session)
        assert stored == set(serials)
        assert dict(issue_records) == {f"worker:{w}": ISSUANCES for w in range(PROCESSES)}
        assert checked >= PROCESSES * ISSUANCES + 5  # plus the PKI made by init
    finally:
        service.close()
