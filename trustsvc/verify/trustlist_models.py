"""Database models of the trust lists: our published list and the lists imported from other provinces.

Layout and the questions each table answers cheaply:

* ``trust_list_publications`` — every issue of *our* trust list, one row per (sequence, hierarchy): the
  exact payload bytes, the signed envelope served at ``GET /trust-list`` (``?alg=`` picks the hierarchy),
  the signer certificate and the hash of the content without its dates (``content_sha256``). All rows of
  one sequence carry the same payload. The unique constraint on (sequence, hierarchy) is how the database
  allocates sequence numbers: a process that wants to publish sequence *n* + 1 inserts it, and the one that
  loses the race re-reads and finds the content already published. Re-signing the same content (nextUpdate
  approaching) replaces the payload of the newest sequence in place, guarded by its old ``issued_at``; the
  audit log keeps every issue.
* ``trust_lists`` — one row per imported list, by the local ``name`` the administrator gave it: where it
  comes from (``source_url``, or none for a file), the pinned signer (SHA-256 of its SubjectPublicKeyInfo,
  and the whole certificate when pinned to an exact certificate), what the newest accepted issue says
  (territory, operator, sequence, issued_at, next_update, the envelope as received) and how the last refresh
  went (``last_attempt_at``, ``last_error``).
* ``trust_entries`` — the entries of the accepted issue of each imported list, in document order, with the
  columns the trust store indexes: certificate SHA-256, key identifier and organisation USCC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trustsvc.db import Base, UTCDateTime

__all__ = ["ImportedTrustList", "TrustEntryRecord", "TrustListPublication"]

MAX_LIST_NAME = 64
MAX_TEXT = 200
MAX_CODE = 32


class TrustListPublication(Base):
    """One hierarchy's signed issue of our trust list at one sequence number."""

    __tablename__ = "trust_list_publications"
    __table_args__ = (UniqueConstraint("sequence", "hierarchy"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hierarchy: Mapped[str] = mapped_column(String(16))  # "sm2", "ecdsa", "rsa"
    content_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    signer_certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    document: Mapped[bytes] = mapped_column(LargeBinary)


class ImportedTrustList(Base):
    """A trust list of another territory, imported under a pinned signer, and its newest accepted issue."""

    __tablename__ = "trust_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_LIST_NAME), unique=True)
    source_url: Mapped[str | None] = mapped_column(Text, default=None)
    pin_spki_sha256: Mapped[str] = mapped_column(String(64))
    pinned_certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    territory_code: Mapped[str] = mapped_column(String(MAX_CODE))
    territory_name: Mapped[str] = mapped_column(String(MAX_TEXT))
    operator_name: Mapped[str] = mapped_column(String(MAX_TEXT))
    operator_uscc: Mapped[str] = mapped_column(String(MAX_CODE))
    sequence: Mapped[int] = mapped_column(BigInteger)
    content_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    signature_algorithm: Mapped[str] = mapped_column(String(32))
    signer_sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # last successful import or refresh
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class TrustEntryRecord(Base):
    """One entry of an imported list's accepted issue: a certificate with its services, or an organisation."""

    __tablename__ = "trust_entries"
    __table_args__ = (UniqueConstraint("list_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("trust_lists.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(MAX_CODE))
    name: Mapped[str] = mapped_column(String(MAX_TEXT))
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    key_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    org_uscc: Mapped[str | None] = mapped_column(String(MAX_CODE), index=True, default=None)
    org_name: Mapped[str | None] = mapped_column(String(MAX_TEXT), default=None)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    services_json: Mapped[str] = mapped_column("services", Text)
