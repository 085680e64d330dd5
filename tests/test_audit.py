"""The audit log: append, verify, and tampering found and named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import PINNED_TIME, CliRun, FakeClock
from trustsvc.audit import GENESIS_HASH, AuditHead, AuditLog, AuditRecord, canonical_json, record_bytes
from trustsvc.errors import AuditChainBroken, ConfigurationError, InvalidInput
from trustsvc.service import TrustService


def _append(service: TrustService, n: int, clock: FakeClock | None = None) -> list[AuditRecord]:
    records = []
    for i in range(n):
        with service.session() as session, session.begin():
            records.append(
                service.audit.append(
                    session,
                    actor="cli:alice",
                    action="seal.create",
                    subject=f"seal:{i + 1}",
                    details={"n": i + 1, "名称": "测试专用章", "list": [1, "a"]},
                )
            )
        if clock is not None:
            clock.advance(seconds=1)
    return records


def _verify(service: TrustService) -> int:
    with service.session(read_only=True) as session, session.begin():
        return service.audit.verify(session)


def _tamper(service: TrustService, *statements: str) -> None:
    """Change audit rows the way someone with database access could (past the append-only triggers)."""
    with service.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for trigger in ("audit_records_no_update", "audit_records_no_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            conn.exec_driver_sql(statement)


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def test_records_are_numbered_chained_and_timed_by_the_clock(service: TrustService, clock: FakeClock) -> None:
    records = _append(service, 3, clock)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert [r.time for r in records] == [PINNED_TIME + timedelta(seconds=i) for i in range(3)]
    assert records[0].details == {"n": 1, "名称": "测试专用章", "list": [1, "a"]}
    assert records[0].details_json == '{"list":[1,"a"],"n":1,"名称":"测试专用章"}'
    with service.session() as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        assert (head.last_seq, head.last_hash) == (3, records[-1].hash)
    assert _verify(service) == 3


def test_hash_is_sm3_of_previous_hash_and_canonical_record(service: TrustService) -> None:
    (record,) = _append(service, 1)
    canonical = (
        '{"action":"seal.create","actor":"cli:alice","details":{"list":[1,"a"],"n":1,"名称":"测试专用章"},'
        '"seq":1,"subject":"seal:1","time":"2026-01-02T03:04:05.123456Z"}'
    ).encode()
    assert (
        record_bytes(1, PINNED_TIME, "cli:alice", "seal.create", "seal:1", record.details_json) == canonical
    )
    assert record.hash == _sm3(bytes(32) + canonical).hex()


def test_stored_records_read_back_and_verify(service: TrustService) -> None:
    _append(service, 2)
    with service.session() as session:
        stored = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
        assert [r.compute_hash() == r.hash for r in stored] == [True, True]
        assert stored[0].time == PINNED_TIME


def test_empty_log_verifies(service: TrustService) -> None:
    assert _verify(service) == 0


def test_appends_in_one_transaction_and_rolled_back_appends(service: TrustService) -> None:
    with service.session() as session, session.begin():
        for i in range(3):
            service.audit.append(session, actor="a", action="x", subject=f"s{i}")
    with service.session() as session, session.begin():
        service.audit.append(session, actor="a", action="x", subject="rolled back")
        session.rollback()
    (record,) = _append(service, 1)
    assert record.seq == 4
    assert _verify(service) == 4


def test_a_long_lived_session_sees_appends_made_by_others(service: TrustService) -> None:
    mine = service.session()
    with mine.begin():
        service.audit.append(mine, actor="a", action="x", subject="1")
    _append(service, 2)  # other sessions move the head on
    with mine.begin():
        record = service.audit.append(mine, actor="a", action="x", subject="4")
    mine.close()
    assert record.seq == 4
    assert _verify(service) == 4


def test_changed_details_are_found(service: TrustService) -> None:
    _append(service, 5)
    _tamper(service, """UPDATE audit_records SET details = '{"n":99}' WHERE seq = 3""")
    with pytest.raises(AuditChainBroken, match=r"audit record 3 does not match its hash") as info:
        _verify(service)
    assert info.value.extra["record"] == 3
    assert info.value.to_problem()["record"] == 3


@pytest.mark.parametrize("column", ["actor", "action", "subject"])
def test_changed_fields_are_found(service: TrustService, column: str) -> None:
    _append(service, 4)
    _tamper(service, f"UPDATE audit_records SET {column} = 'mallory' WHERE seq = 2")
    with pytest.raises(AuditChainBroken, match="audit record 2 "):
        _verify(service)


def test_changed_time_is_found(service: TrustService) -> None:
    _append(service, 4)
    with service.engine.connect() as conn:
        original = conn.execute(select(AuditRecord.time).where(AuditRecord.seq == 4)).scalar_one()
    with service.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_records_no_update")
        conn.execute(
            AuditRecord.__table__.update()
            .where(AuditRecord.__table__.c.seq == 4)
            .values(time=original - timedelta(days=1))
        )
    with pytest.raises(AuditChainBroken, match="audit record 4 "):
        _verify(service)


def test_rehashed_record_breaks_the_link_to_the_next(service: TrustService) -> None:
    _append(service, 5)
    with service.session() as session:
        r3 = session.get(AuditRecord, 3)
        assert r3 is not None
        forged = AuditRecord(**{c: getattr(r3, c) for c in ("seq", "time", "actor", "action", "subject")})
        forged.details_json, forged.prev_hash = '{"n":99}', r3.prev_hash
        new_hash = forged.compute_hash()
    _tamper(service, f"UPDATE audit_records SET details = '{{\"n\":99}}', hash = '{new_hash}' WHERE seq = 3")
    with pytest.raises(AuditChainBroken, match="audit record 4 does not link to record 3"):
        _verify(service)


def test_deleted_record_is_found(service: TrustService) -> None:
    _append(service, 5)
    _tamper(service, "DELETE FROM audit_records WHERE seq = 3")
    with pytest.raises(AuditChainBroken, match=r"audit record 3 is missing \(the next record is 4\)") as info:
        _verify(service)
    assert info.value.extra["record"] == 3


def test_swapped_records_are_found(service: TrustService) -> None:
    _append(service, 5)
    _tamper(
        service,
        "UPDATE audit_records SET seq = -1 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = 4",
        "UPDATE audit_records SET seq = 4 WHERE seq = -1",
    )
    with pytest.raises(AuditChainBroken, match="audit record 3 does not link to record 2"):
        _verify(service)


def test_truncated_tail_is_found_against_the_head(service: TrustService) -> None:
    _append(service, 5)
    _tamper(service, "DELETE FROM audit_records WHERE seq >= 4")
    with pytest.raises(
        AuditChainBroken, match=r"audit record 4 is missing \(the log ends at 3, its head at 5\)"
    ):
        _verify(service)


def test_records_written_past_the_head_are_found(service: TrustService) -> None:
    (r1,) = _append(service, 1)
    _tamper(
        service,
        "INSERT INTO audit_records (seq, time, actor, action, subject, details, prev_hash, hash) "
        f"VALUES (2, '2026-01-01 00:00:00', 'x', 'x', 'x', '{{}}', '{r1.hash}', '{'0' * 64}')",
    )
    with pytest.raises(AuditChainBroken, match="audit record 2 is not covered by the audit head"):
        _verify(service)


def test_database_refuses_update_and_delete_of_audit_records(service: TrustService) -> None:
    _append(service, 2)
    for statement in (
        "UPDATE audit_records SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 2",
        "DELETE FROM audit_head",
    ):
        with pytest.raises(DBAPIError, match="append-only"), service.engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(service) == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"actor": "", "action": "x", "subject": "s"}, "actor"),
        ({"actor": "a", "action": "x" * 101, "subject": "s"}, "action"),
        ({"actor": "a", "action": "x", "subject": "s", "details": {"when": object()}}, "not plain JSON"),
        ({"actor": "a", "action": "x", "subject": "s", "details": {"nan": float("nan")}}, "not plain JSON"),
    ],
)
def test_bad_records_are_refused(service: TrustService, kwargs: dict, error: str) -> None:
    with pytest.raises(InvalidInput, match=error), service.session() as session, session.begin():
        service.audit.append(session, **kwargs)


def test_a_naive_clock_is_refused(service: TrustService) -> None:
    log = AuditLog(clock=lambda: PINNED_TIME.replace(tzinfo=None))
    with pytest.raises(ConfigurationError, match="naive"), service.session() as session, session.begin():
        log.append(session, actor="a", action="x", subject="s")


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "章"}}) == '{"a":{"c":"章","d":[1,2]},"b":1}'


# --- through the command line ----------------------------------------------------------------------


def test_cli_audit_verify_reports_ok(service: TrustService, run_cli: CliRun) -> None:
    _append(service, 3)
    result = run_cli("audit", "verify")
    assert result.exit_code == 0
    assert result.stdout.strip() == "audit chain OK: 3 records"


def test_cli_audit_verify_names_the_bad_record(service: TrustService, run_cli: CliRun) -> None:
    _append(service, 5)
    _tamper(service, """UPDATE audit_records SET details = '{"n":99}' WHERE seq = 2""")
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr.strip()
        == "trustsvc: error: audit record 2 does not match its hash (its content was altered)"
    )


def test_installed_console_script_reports_a_broken_chain(
    service: TrustService, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _append(service, 4)
    _tamper(service, "DELETE FROM audit_records WHERE seq = 3")
    script = Path(sys.executable).parent / "trustsvc"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **cli_env}
    done = subprocess.run([script, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "audit record 3 is missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.dumps(done.stdout) == '""'
