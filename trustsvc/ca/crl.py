"""CRL publication: complete and delta CRLs per CA, made lazily "on schedule" and after every status change.

What is served is always a stored CRL (table ``crls``); a new one is made when the newest stored one is
stale, at the moment someone asks for it (or :meth:`CrlPublisher.refresh` is called, as the authority does
right after each revocation, hold and release). A complete CRL is stale when

* it is ``crl_refresh_seconds`` old (default 1 h; its nextUpdate is ``crl_validity_seconds``, default 24 h,
  after its thisUpdate, so relying parties always find a successor long before it expires), or
* the CA's ``status_version`` moved past the one the CRL was made at: a certificate was revoked, held or
  released since. So a revoked certificate is in the very next CRL served, even if the refresh right after
  the revocation failed or another process made the previous CRL.

A delta CRL lists every certificate whose status changed after its base CRL was made: revoked and held
ones with their reason, released ones with removeFromCRL (RFC 5280 §5.3.1). Its base is the *oldest*
complete CRL that has not reached its nextUpdate, not the newest: since a complete CRL is re-made on every
status change, a delta against the newest one would be empty right after each change and useless to
anyone holding a slightly older complete CRL. Against the oldest unexpired one, any relying party holding
any complete CRL it may still use (RFC 5280 §5.2.4: CRL number ≥ BaseCRLNumber) brings it up to date with
the current delta — which therefore always shows a release as removeFromCRL while a complete CRL that
listed the hold is in circulation. A delta CRL is stale on the same conditions as a complete one or when
its base is no longer the oldest unexpired complete CRL (at the latest after ``crl_refresh_seconds``).

Complete and delta CRLs share one CRL number sequence per CA (RFC 5280 §5.2.3), allocated from the CA
row's counter under ``SELECT ... FOR UPDATE`` (on SQLite the write transaction already holds the database
lock); the unique constraint on (ca_id, crl_number) backs it up. Two processes finding the same stale CRL
queue on that lock and the second one re-checks and serves what the first one made, so a CRL is not made
twice.

Certificates stay on the CRL after they expire (no expiredCertsOnCRL pruning yet): lists stay short at the
volumes this service issues, and removing entries would need the extension to be honest.

Every CRL made is audited (``crl.issue``) and kept; old rows can be pruned by an operator later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustsvc.audit import AuditLog
from trustsvc.ca.models import CertificateAuthority, CertificateStatus, CrlRecord, IssuedCertificate
from trustsvc.ca.profiles import utc_seconds
from trustsvc.ca.x509 import RevocationReason, RevokedEntry, build_crl
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import NotFound
from trustsvc.keys.keystore import KeyStore

__all__ = ["CrlPublisher", "CrlSnapshot"]

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:crl"


@dataclass(frozen=True)
class CrlSnapshot:
    """A published CRL and what the HTTP layer needs to serve it."""

    ca_name: str
    crl_number: int
    is_delta: bool
    base_number: int | None
    this_update: datetime
    next_update: datetime
    entries: int
    der: bytes

    @classmethod
    def of(cls, ca_name: str, record: CrlRecord) -> CrlSnapshot:
        return cls(
            ca_name=ca_name,
            crl_number=record.crl_number,
            is_delta=record.is_delta,
            base_number=record.base_number,
            this_update=record.this_update,
            next_update=record.next_update,
            entries=record.entries,
            der=record.der,
        )


class CrlPublisher:
    """Makes, stores and hands out the CRLs of every CA (see the module docstring for when)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        keystore: Callable[[], KeyStore],
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        *,
        read_sessions: Callable[[], Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._keystore = keystore
        self._audit = audit
        self._clock = clock
        self._refresh = timedelta(seconds=settings.crl_refresh_seconds)
        self._validity = timedelta(seconds=settings.crl_validity_seconds)
        self._base_url = settings.public_base_url

    def current_crl(self, ca_name: str, *, delta: bool = False) -> bytes:
        """Return the DER of the CA's current complete (or delta) CRL, making a new one if it is stale."""
        return self.current(ca_name, delta=delta).der

    def current(self, ca_name: str, *, delta: bool = False) -> CrlSnapshot:
        """Return the CA's current complete (or delta) CRL, making a new one if it is stale."""
        # Fast path: a fresh CRL is read without any write lock.
        with self._read_sessions() as session, session.begin():
            ca = _ca(session, ca_name)
            found = self._fresh(session, ca, delta=delta)
            if found is not None:
                return CrlSnapshot.of(ca_name, found)
        with self._sessions() as session, session.begin():
            ca = _ca(session, ca_name, lock=True)
            found = self._fresh(session, ca, delta=delta)
            if found is None:
                found = self._make(session, ca, delta=delta, actor=SYSTEM_ACTOR)
            return CrlSnapshot.of(ca_name, found)

    def refresh(self, ca_name: str, *, actor: str = SYSTEM_ACTOR) -> tuple[CrlSnapshot, CrlSnapshot]:
        """Return a new complete CRL and a new delta CRL, made now whatever their freshness."""
        with self._sessions() as session, session.begin():
            ca = _ca(session, ca_name, lock=True)
            full = self._make(session, ca, delta=False, actor=actor)
            delta = self._make(session, ca, delta=True, actor=actor)
            return CrlSnapshot.of(ca_name, full), CrlSnapshot.of(ca_name, delta)

    # --- freshness ---------------------------------------------------------------------------------

    def _fresh(self, session: Session, ca: CertificateAuthority, *, delta: bool) -> CrlRecord | None:
        full = _latest(session, ca.id, delta=False)
        if full is None or not self._is_fresh(full, ca):
            return None
        if not delta:
            return full
        record = _latest(session, ca.id, delta=True)
        if record is None or not self._is_fresh(record, ca):
            return None
        base = _delta_base(session, ca.id, self._clock())
        if base is None or record.base_number != base.crl_number:
            return None
        return record

    def _is_fresh(self, record: CrlRecord, ca: CertificateAuthority) -> bool:
        now = self._clock()
        return (
            record.status_version == ca.status_version
            and now < record.this_update + self._refresh
            and now < record.next_update
        )

    # --- making --------------------------------------------------------------------------------------

    def _make(self, session: Session, ca: CertificateAuthority, *, delta: bool, actor: str) -> CrlRecord:
        """Return a new CRL of ``ca`` (locked by the caller), stored and audited in its transaction."""
        base: CrlRecord | None = None
        if delta:
            latest = _latest(session, ca.id, delta=False)
            if latest is None or not self._is_fresh(latest, ca):
                latest = self._make(session, ca, delta=False, actor=actor)
            base = _delta_base(session, ca.id, self._clock()) or latest
            entries = _delta_entries(session, ca.id, base.status_version)
        else:
            entries = _full_entries(session, ca.id)

        issuer = x509.Certificate.load(ca.certificate_der)
        signer = self._keystore().signer(ca.key_id)
        this_update = utc_seconds(self._clock())
        next_update = this_update + self._validity
        number = ca.crl_counter + 1
        certificate_list = build_crl(
            issuer,
            signer,
            entries,
            number,
            this_update,
            next_update,
            delta_base=base.crl_number if base is not None else None,
            base_url=self._base_url,
            ca_name=ca.name,
        )
        ca.crl_counter = number
        record = CrlRecord(
            ca_id=ca.id,
            crl_number=number,
            is_delta=delta,
            base_number=base.crl_number if base is not None else None,
            status_version=ca.status_version,
            this_update=this_update,
            next_update=next_update,
            entries=len(entries),
            der=certificate_list.dump(),
        )
        session.add(record)
        session.flush()
        self._audit.append(
            session,
            actor=actor,
            action="crl.issue",
            subject=f"crl:{ca.name}/{number}",
            details={
                "ca": ca.name,
                "crl_number": number,
                "delta": delta,
                "base_number": record.base_number,
                "entries": len(entries),
                "this_update": this_update.isoformat(),
                "next_update": next_update.isoformat(),
            },
        )
        log.info(
            "made %s CRL %d of %s (%d entries)",
            "delta" if delta else "complete",
            number,
            ca.name,
            len(entries),
        )
        return record


def _ca(session: Session, name: str, *, lock: bool = False) -> CertificateAuthority:
    query = select(CertificateAuthority).where(CertificateAuthority.name == name)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    ca = session.execute(query).scalar_one_or_none()
    if ca is None:
        raise NotFound(f"no certificate authority named {name[:64]!r}")
    return ca


def _latest(session: Session, ca_id: int, *, delta: bool) -> CrlRecord | None:
    newest = (
        select(func.max(CrlRecord.crl_number))
        .where(CrlRecord.ca_id == ca_id, CrlRecord.is_delta == delta)
        .scalar_subquery()
    )
    return session.execute(
        select(CrlRecord).where(CrlRecord.ca_id == ca_id, CrlRecord.crl_number == newest)
    ).scalar_one_or_none()


def _delta_base(session: Session, ca_id: int, now: datetime) -> CrlRecord | None:
    """Return the oldest complete CRL of the CA that has not reached its nextUpdate."""
    return session.execute(
        select(CrlRecord)
        .where(CrlRecord.ca_id == ca_id, CrlRecord.is_delta.is_(False), CrlRecord.next_update > now)
        .order_by(CrlRecord.crl_number)
        .limit(1)
    ).scalar_one_or_none()


def _entry(row: IssuedCertificate) -> RevokedEntry:
    if row.status == CertificateStatus.GOOD:
        # Released from hold: removeFromCRL, dated when it was released (delta CRLs only).
        assert row.status_changed_at is not None
        return RevokedEntry(
            serial=row.serial_number,
            revoked_at=row.status_changed_at,
            reason=RevocationReason.REMOVE_FROM_CRL,
        )
    assert row.revoked_at is not None
    return RevokedEntry(
        serial=row.serial_number,
        revoked_at=row.revoked_at,
        reason=RevocationReason(row.reason) if row.reason else None,
        invalidity_date=row.invalidity_date,
    )


def _full_entries(session: Session, ca_id: int) -> list[RevokedEntry]:
    rows = session.execute(
        select(IssuedCertificate).where(
            IssuedCertificate.ca_id == ca_id,
            IssuedCertificate.status.in_([CertificateStatus.REVOKED.value, CertificateStatus.HOLD.value]),
        )
    ).scalars()
    return [_entry(row) for row in rows]


def _delta_entries(session: Session, ca_id: int, since_version: int) -> list[RevokedEntry]:
    rows = session.execute(
        select(IssuedCertificate).where(
            IssuedCertificate.ca_id == ca_id, IssuedCertificate.status_version > since_version
        )
    ).scalars()
    return [_entry(row) for row in rows]
