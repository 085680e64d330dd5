"""Several processes appending at once keep one linear chain (sequence numbers come from the database)."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest
from sqlalchemy import select

from trustsvc.audit import AuditRecord
from trustsvc.service import TrustService

PROCESSES = 4
APPENDS = 50


def _writer(database_url: str, worker: int, barrier: Any) -> None:
    from trustsvc import db
    from trustsvc.audit import AuditLog

    engine = db.make_engine(database_url)
    sessions = db.session_factory(engine)
    log = AuditLog()
    try:
        barrier.wait(timeout=60)
        for i in range(APPENDS):
            with sessions() as session, session.begin():
                log.append(session, actor=f"worker:{worker}", action="test.append", subject=f"item:{i}")
    finally:
        engine.dispose()


def _run_writers(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_writer, args=(database_url, w, barrier)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    for p in procs:
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * PROCESSES


@pytest.mark.slow
def test_concurrent_appends_from_several_processes_stay_one_chain(service: TrustService) -> None:
    _run_writers(service.settings.database_url)

    with service.session(read_only=True) as session, session.begin():
        assert service.audit.verify(session) == PROCESSES * APPENDS
        rows = session.execute(select(AuditRecord.seq, AuditRecord.actor).order_by(AuditRecord.seq)).all()
    assert [seq for seq, _ in rows] == list(range(1, PROCESSES * APPENDS + 1))
    per_worker = {f"worker:{w}": 0 for w in range(PROCESSES)}
    for _, actor in rows:
        per_worker[actor] += 1
    assert per_worker == {f"worker:{w}": APPENDS for w in range(PROCESSES)}
