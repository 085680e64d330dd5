"""Database models of issued e-licences (电子证照): the licence rows and the serial counters.

* ``licences`` — one row per issued licence version: the identifier (unique), its parts (type code, issuer
  USCC, serial, version), who asked for it (``system``: the API key's name; ``case_id``, ``matter_code``),
  the holder, the validated fields (canonical JSON), the validity window, the sealed PDF and OFD bytes with
  their SM3 digests, the issuing seal (``es_id``) and the lifecycle: ``status`` is what was *set*
  (``valid`` or ``revoked``, with ``revocation_kind`` 注销/吊销, ``reason`` and ``status_changed_at``).
  **Expired and superseded are not stored**: expired is derived from ``valid_to`` and the clock, superseded
  from the existence of a later version of the same licence, whenever a status is asked.

  Idempotency: ``(system, case_id)`` is unique — an issuance and each change (变更) are cases of their
  own — so a business system that sends the same case twice (a retry after a timeout, two app processes
  racing) gets the one licence version; the database decides, not a process.
  ``holder_token`` is the holder's download capability (a random URL-safe string, compared in constant
  time): the issuing system hands the holder the download links carrying it. It is stored in clear on
  purpose — it only opens the files stored beside it in the same row, so a reader of the database learns
  nothing more from it. ``change_reason`` says why a version > 1 was issued (变更).
* ``licence_types`` — licence types an administrator added (the shipped ones live in
  ``trustsvc/data/license_types``): the type code and the JSON definition exactly as checked by
  :func:`trustsvc.license.catalog.parse_licence_type`, who added it and when. Types are never deleted once
  added (issued licences name them); a type code is unique across shipped and added types.
* ``licence_counters`` — one row per (type code, issuer USCC) holding the last serial handed out. Issuance
  locks it with ``SELECT ... FOR UPDATE`` (created on first use), so serials come from the database, never
  from a process. Serials are unique, not gapless: a serial whose rendering or sealing fails stays unused.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustsvc.db import Base, UTCDateTime

__all__ = [
    "MAX_CASE_ID",
    "MAX_IDENTIFIER",
    "Licence",
    "LicenceCounter",
    "LicenceState",
    "LicenceTypeRow",
    "RevocationKind",
    "StoredLicenceState",
]

MAX_IDENTIFIER = 128
MAX_CASE_ID = 128
MAX_MATTER_CODE = 64
MAX_SYSTEM = 200  # as trustsvc.auth.MAX_NAME
MAX_HOLDER_NAME = 200
MAX_REASON = 1000
MAX_HOLDER_TOKEN = 64
MAX_TYPE_DEFINITION = 256 * 1024  # bytes of JSON; the shipped definitions are about 10 KiB


class StoredLicenceState(StrEnum):
    """What an operator or the issuing system set."""

    VALID = "valid"
    REVOKED = "revoked"


class LicenceState(StrEnum):
    """What a status answer reports: the stored state, or expired / superseded derived at read time."""

    VALID = "valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class RevocationKind(StrEnum):
    """注销 (cancellation: the holder gives it up, the business ends) or 吊销 (revocation as a sanction)."""

    CANCELLED = "注销"
    REVOKED = "吊销"


class Licence(Base):
    __tablename__ = "licences"
    __table_args__ = (
        UniqueConstraint("system", "case_id"),
        UniqueConstraint("type_code", "issuer_code", "serial", "version"),
        CheckConstraint("status IN ('valid', 'revoked')", name="status"),
        CheckConstraint("version BETWEEN 1 AND 999", name="version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(MAX_IDENTIFIER), unique=True)
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    issuer_name: Mapped[str] = mapped_column(String(MAX_HOLDER_NAME))
    serial: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    system: Mapped[str] = mapped_column(String(MAX_SYSTEM))
    principal: Mapped[str] = mapped_column(String(200))  # as trustsvc.seal.models.MAX_PRINCIPAL
    case_id: Mapped[str] = mapped_column(String(MAX_CASE_ID))
    matter_code: Mapped[str] = mapped_column(String(MAX_MATTER_CODE))
    holder_name: Mapped[str] = mapped_column(String(MAX_HOLDER_NAME))
    holder_code: Mapped[str] = mapped_column(String(32), index=True)
    holder_code_type: Mapped[str] = mapped_column(String(3))
    fields_json: Mapped[str] = mapped_column("fields", Text)
    request_sm3: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revocation_kind: Mapped[str | None] = mapped_column(String(8), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)
    es_id: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sm3: Mapped[str] = mapped_column(String(64))
    ofd: Mapped[bytes] = mapped_column(LargeBinary)
    ofd_sm3: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    holder_token: Mapped[str | None] = mapped_column(String(MAX_HOLDER_TOKEN), default=None)
    change_reason: Mapped[str | None] = mapped_column(Text, default=None)


class LicenceTypeRow(Base):
    """A licence type an administrator added (its checked JSON definition)."""

    __tablename__ = "licence_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)
    definition_sm3: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LicenceCounter(Base):
    """The last serial handed out for one (type code, issuer USCC); issuance locks the row."""

    __tablename__ = "licence_counters"
    __table_args__ = (UniqueConstraint("type_code", "issuer_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    last_serial: Mapped[int] = mapped_column(BigInteger)
