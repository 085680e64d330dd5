"""Append-only audit log, hash-chained with SM3 and verifiable end to end.

Each record's hash is ``SM3(prev_hash || canonical record bytes)``; the canonical bytes are the record
as JSON with sorted keys, no whitespace, UTF-8 (see :func:`record_bytes`). A single ``audit_head``
row holds the last sequence number and hash. An append locks that row (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite every write transaction already holds the database write lock from ``BEGIN
IMMEDIATE``), so sequence numbers come from the database and the chain stays linear however many
processes write. Because the lock is held until the caller's transaction ends, append audit records
late in a unit of work.

The migration adds triggers that refuse UPDATE and DELETE of audit records; the chain is what shows
tampering by someone who gets past them. It cannot show a rewrite of the whole chain and the head
together: that needs the head hash kept elsewhere (signed checkpoints, a later addition).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustsvc.db import Base, Clock, UTCDateTime, utc_now
from trustsvc.errors import AuditChainBroken, ConfigurationError, InvalidInput
from trustsvc.keys.sm3 import sm3

GENESIS_HASH = "00" * 32
"""``prev_hash`` of the first record."""

MAX_ACTOR = 200
MAX_ACTION = 100
MAX_SUBJECT = 400
_VERIFY_BATCH = 1000


class AuditHead(Base):
    """The one row that holds the end of the chain; appends lock it."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    """One audit record: who did what to which object, when, chained to the record before it."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(MAX_ACTOR))
    action: Mapped[str] = mapped_column(String(MAX_ACTION))
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), index=True)
    # Stored as the canonical JSON text that was hashed, so no database re-formatting can change it.
    details_json: Mapped[str] = mapped_column("details", Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    @property
    def details(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.details_json)
        return value

    def compute_hash(self) -> str:
        """Return the hex SM3 chain hash this record should carry."""
        return chain_hash(
            self.prev_hash,
            record_bytes(self.seq, self.time, self.actor, self.action, self.subject, self.details_json),
        )


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no whitespace, non-ASCII kept, no NaN."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit details are not plain JSON: {exc}") from None


def format_time(value: datetime) -> str:
    """Return ``value`` as the fixed-width UTC text used in the hash (microseconds, ``Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_bytes(seq: int, time: datetime, actor: str, action: str, subject: str, details_json: str) -> bytes:
    """Return the canonical bytes of a record: the input to its chain hash after ``prev_hash``."""
    record = {
        "seq": seq,
        "time": format_time(time),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": json.loads(details_json),
    }
    return canonical_json(record).encode("utf-8")


def chain_hash(prev_hash: str, data: bytes) -> str:
    """Return hex ``SM3(prev_hash || data)``."""
    return sm3(bytes.fromhex(prev_hash) + data).hex()


class AuditLog:
    """Appends to and verifies the audit chain; time comes from the injected clock."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def append(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Return the new record, appended within the caller's transaction (flushed, not committed)."""
        for name, value, limit in (
            ("actor", actor, MAX_ACTOR),
            ("action", action, MAX_ACTION),
            ("subject", subject, MAX_SUBJECT),
        ):
            if not value or len(value) > limit:
                raise InvalidInput(f"audit {name} must be 1 to {limit} characters")
        details_json = canonical_json(details if details is not None else {})

        head = session.execute(
            select(AuditHead)
            .where(AuditHead.id == 1)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if head is None:
            raise ConfigurationError("the audit log has no head row: run `trustsvc init`")

        # Read the clock under the lock so that time does not go backwards along the chain.
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ConfigurationError("the clock returned a naive datetime")
        record = AuditRecord(
            seq=head.last_seq + 1,
            time=now.astimezone(UTC),
            actor=actor,
            action=action,
            subject=subject,
            details_json=details_json,
            prev_hash=head.last_hash,
        )
        record.hash = record.compute_hash()
        session.add(record)
        session.flush()
        head.last_seq = record.seq
        head.last_hash = record.hash
        session.flush()
        return record

    def verify(self, session: Session) -> int:
        """Return the number of records checked; raise AuditChainBroken naming the first bad record."""
        head = _read_head(session)
        last_seq, last_hash = head
        expected, prev_hash = 1, GENESIS_HASH
        rows = session.execute(
            select(
                AuditRecord.seq,
                AuditRecord.time,
                AuditRecord.actor,
                AuditRecord.action,
                AuditRecord.subject,
                AuditRecord.details_json,
                AuditRecord.prev_hash,
                AuditRecord.hash,
            )
            .where(AuditRecord.seq <= last_seq)
            .order_by(AuditRecord.seq),
            execution_options={"yield_per": _VERIFY_BATCH},
        )
        for seq, time, actor, action, subject, details_json, row_prev, row_hash in rows:
            if seq != expected:
                raise _broken(expected, f"is missing (the next record is {seq})")
            if row_prev != prev_hash:
                raise _broken(seq, f"does not link to record {seq - 1} (it or an earlier record was altered)")
            try:
                data = record_bytes(seq, time, actor, action, subject, details_json)
            except (ValueError, InvalidInput):
                raise _broken(seq, "has details that are not JSON") from None
            if chain_hash(row_prev, data) != row_hash:
                raise _broken(seq, "does not match its hash (its content was altered)")
            expected, prev_hash = seq + 1, row_hash
        checked = expected - 1
        if checked < last_seq:
            raise _broken(checked + 1, f"is missing (the log ends at {checked}, its head at {last_seq})")
        if prev_hash != last_hash:
            raise _broken(checked, "does not match the hash kept in the audit head")
        # Records past the head were not written by append(). Read max(seq) before the head again so
        # that appends committed meanwhile cannot look like strays.
        max_seq = session.execute(select(func.max(AuditRecord.seq))).scalar_one() or 0
        head_now, _ = _read_head(session)
        if max_seq > head_now:
            raise _broken(head_now + 1, "is not covered by the audit head (written outside the audit log)")
        return checked


def _read_head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1)
    ).one_or_none()
    if row is None:
        raise AuditChainBroken("the audit head row is missing", record=None)
    return int(row[0]), str(row[1])


def _broken(seq: int, what: str) -> AuditChainBroken:
    return AuditChainBroken(f"audit record {seq} {what}", record=seq)
