"""Database models of the certificate authority: CAs, issued certificates, CRLs, service certificates.

Layout and the questions each table answers cheaply:

* ``cas`` — one row per CA (``sm2-root``, ``sm2-issuing``, ``ecdsa-root``, ...): its certificate, the id of
  its key in the key store, its parent. ``key_hash_sha1`` is the SHA-1 of the CA's subjectPublicKey bits,
  which is both its subjectKeyIdentifier (RFC 5280 method 1) and the ``issuerKeyHash`` of an RFC 6960 CertID
  with SHA-1, so an OCSP responder finds the CA of a request with one indexed lookup. The row also holds
  the two per-CA counters the database allocates under a row lock (``SELECT ... FOR UPDATE``):
  ``crl_counter`` (last CRL number handed out; complete and delta CRLs share one sequence, RFC 5280
  §5.2.3) and ``status_version`` (bumped by every revocation, hold and release).
* ``certificates`` — every certificate a CA issued. The serial is lowercase hex without leading zeros
  (:func:`serial_hex`) and unique per CA by constraint ``uq_certificates_ca_id_serial``: issuance inserts
  a random serial and retries on conflict, so no process keeps a counter. The same constraint's index
  serves "status of (issuer, serial)". ``status_version`` is the CA's ``status_version`` at the last status
  change of the certificate (0 if never changed): a delta CRL lists exactly the certificates whose
  ``status_version`` is above the one its base CRL was made at.
* ``crls`` — every CRL made, complete and delta, with the ``status_version`` it reflects; the newest row of a
  kind is what is served while it is fresh.
* ``ca_service_certificates`` — which certificate currently acts in a service role (OCSP responder, TSA,
  seal maker) for a CA: one row per (CA, role), pointing at a ``certificates`` row whose ``key_id`` names
  the key in the key store. Replaced in place when the certificate is renewed (the audit log keeps the
  history).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustsvc.db import Base, UTCDateTime
from trustsvc.errors import InvalidInput

__all__ = [
    "CaRole",
    "CertificateAuthority",
    "CertificateStatus",
    "CrlRecord",
    "IssuedCertificate",
    "ServiceCertificate",
    "ServiceRole",
    "find_certificate",
    "parse_serial",
    "serial_hex",
]

MAX_SERIAL_HEX = 40  # 20 octets (RFC 5280 §4.1.2.2)


class CaRole(StrEnum):
    """Where a CA sits in its hierarchy."""

    ROOT = "root"
    ISSUING = "issuing"


class CertificateStatus(StrEnum):
    """Revocation status of an issued certificate. ``hold`` is revocation with reason certificateHold."""

    GOOD = "good"
    REVOKED = "revoked"
    HOLD = "hold"


class ServiceRole(StrEnum):
    """Roles the service itself plays with a certificate of its own CA."""

    OCSP_RESPONDER = "ocsp-responder"
    TSA = "tsa"
    SEAL_MAKER = "seal-maker"


class CertificateAuthority(Base):
    """A CA run by this service: its certificate, its key (by id) and its counters."""

    __tablename__ = "cas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # CaRole
    algorithm: Mapped[str] = mapped_column(String(16))  # KeyAlgorithm of the CA key (names the hierarchy)
    key_id: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cas.id"), default=None)
    subject: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(String(MAX_SERIAL_HEX))
    key_hash_sha1: Mapped[str] = mapped_column(String(40), unique=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    crl_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    status_version: Mapped[int] = mapped_column(BigInteger, default=0)


class IssuedCertificate(Base):
    """A certificate issued by one of our CAs, with its current revocation status."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("ca_id", "serial"),
        Index(None, "ca_id", "status"),
        Index(None, "ca_id", "status_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("cas.id"))
    serial: Mapped[str] = mapped_column(String(MAX_SERIAL_HEX))
    profile: Mapped[str] = mapped_column(String(32))  # ProfileKind
    subject: Mapped[str] = mapped_column(Text)
    org_uscc: Mapped[str | None] = mapped_column(String(18), index=True, default=None)
    key_algorithm: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)  # only when the key is in our store
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    der: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.GOOD.value)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str | None] = mapped_column(String(32), default=None)  # RevocationReason value
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    status_version: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)


class CrlRecord(Base):
    """A CRL as published: complete (``is_delta`` false) or delta against ``base_number``."""

    __tablename__ = "crls"
    __table_args__ = (
        UniqueConstraint("ca_id", "crl_number"),
        Index(None, "ca_id", "is_delta", "crl_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("cas.id"))
    crl_number: Mapped[int] = mapped_column(BigInteger)
    is_delta: Mapped[bool] = mapped_column(Boolean)
    base_number: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status_version: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    entries: Mapped[int] = mapped_column(Integer)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class ServiceCertificate(Base):
    """The certificate currently acting in ``role`` for the CA ``ca_id`` (its issuer)."""

    __tablename__ = "ca_service_certificates"
    __table_args__ = (UniqueConstraint("ca_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ca_id: Mapped[int] = mapped_column(ForeignKey("cas.id"))
    role: Mapped[str] = mapped_column(String(32))  # ServiceRole
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime())


def serial_hex(serial: int) -> str:
    """Return the stored form of a serial number: lowercase hex, no leading zeros."""
    if serial <= 0 or serial.bit_length() > 159:
        raise InvalidInput("a serial number is positive and at most 20 octets")
    return format(serial, "x")


def parse_serial(text: str) -> int:
    """Return the serial number written as hex in ``text`` (``0x`` prefix, colons and case tolerated)."""
    cleaned = text.strip().lower().replace(":", "")
    cleaned = cleaned.removeprefix("0x")
    if not cleaned or len(cleaned) > 2 * MAX_SERIAL_HEX or any(c not in "0123456789abcdef" for c in cleaned):
        raise InvalidInput("a serial number is written in hexadecimal")
    value = int(cleaned, 16)
    serial_hex(value)  # range check
    return value


def find_certificate(session: Session, ca_id: int, serial: int) -> IssuedCertificate | None:
    """Return the certificate ``serial`` of CA ``ca_id`` (one unique-index lookup), or None."""
    try:
        key = serial_hex(serial)
    except InvalidInput:
        return None
    return session.execute(
        select(IssuedCertificate).where(IssuedCertificate.ca_id == ca_id, IssuedCertificate.serial == key)
    ).scalar_one_or_none()
