"""Database models of the seal registry (电子印章登记): seals, their versions, signers, grants, history.

Layout and the questions each table answers cheaply:

* ``seals`` — one row per electronic seal, keyed by its ``es_id`` (unique by constraint). It holds what the
  registry decides on (organisation by USCC, kind code, name, stored ``status``, validity window) and the
  current signed ``SESeal`` (``seal_der``, SM3 in ``seal_sm3``, ``version``). The picture is not stored a
  second time: it is inside the ``SESeal`` (``SES_ESPictrueInfo``) and read from there.

  ``status`` is the lifecycle state an administrator set: ``active``, ``suspended`` or ``revoked``.
  **Expired is not stored**: it is derived from ``valid_end`` and the clock whenever a status is asked
  (:func:`effective_status`), so no job has to run at midnight and no two processes can disagree about it.
  ``status_changed_at`` is the time of the last lifecycle change (creation, suspend, resume, revoke), the
  ``since`` of the public status answer.
* ``seal_versions`` — every ``SESeal`` ever made for a seal. A ``SESeal`` is a signed object and cannot be
  changed; when its signer list changes, the registry makes a new one under the same ``es_id`` (see
  :mod:`trustsvc.seal.registry`). The old bytes stay here, with ``superseded_at``, because documents
  sealed before the change carry them.
* ``seal_signers`` — the signer certificates (签章者证书) a seal lists, by SM3 of the DER: the
  ``certificates`` row when our CA issued it, and the ``key_id`` when its key is in our key store (only
  then can the service apply the seal itself). ``removed_at`` keeps removed signers as history.
* ``seal_grants`` — who may use a seal: a principal in audit-actor form (``apikey:<prefix>``,
  ``user:<name>``) and a role (:class:`GrantRole`); ``revoked_at`` keeps withdrawn grants as history.
* ``seal_status_events`` — every lifecycle change, with actor and reason (the audit log has them too;
  this table answers "history of this seal" without scanning the log).
* ``seal_counter`` — a single row holding the last serial handed out for an esID (see
  :func:`trustsvc.seal.registry.make_es_id`). It is locked with ``SELECT ... FOR UPDATE`` by the seal
  creation transaction, so serials come from the database, never from a process.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustsvc.db import Base, UTCDateTime

__all__ = [
    "MAX_ES_ID",
    "MAX_PRINCIPAL",
    "GrantRole",
    "Seal",
    "SealCounter",
    "SealGrant",
    "SealSigner",
    "SealState",
    "SealStatusEvent",
    "SealVersion",
    "StoredSealState",
    "effective_status",
]

MAX_ES_ID = 32
MAX_PRINCIPAL = 200
MAX_NAME = 200


class StoredSealState(StrEnum):
    """What an administrator set: active → suspended ⇄ active → revoked (final)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class SealState(StrEnum):
    """The status a seal is reported in: the stored state, or ``expired`` once ``valid_end`` has passed.

    ``revoked`` wins over ``expired`` (a revocation is a statement worth keeping after expiry);
    ``expired`` wins over ``suspended`` (an expired seal never becomes usable again).
    """

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class GrantRole(StrEnum):
    """What a grant allows: ``sign`` — apply the seal to documents; ``view`` — read the seal's record."""

    SIGN = "sign"
    VIEW = "view"


def effective_status(stored: str, valid_end: datetime, now: datetime) -> SealState:
    """Return the reported status of a seal stored as ``stored`` that is valid until ``valid_end``."""
    state = StoredSealState(stored)
    if state is StoredSealState.REVOKED:
        return SealState.REVOKED
    if now >= valid_end:
        return SealState.EXPIRED
    return SealState(state.value)


class Seal(Base):
    """An electronic seal of one organisation, with its current ``SESeal``."""

    __tablename__ = "seals"
    __table_args__ = (Index(None, "org_uscc", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    es_id: Mapped[str] = mapped_column(String(MAX_ES_ID), unique=True)
    org_uscc: Mapped[str] = mapped_column(String(18))
    org_name: Mapped[str] = mapped_column(String(MAX_NAME))
    kind: Mapped[int] = mapped_column(Integer)  # SealKind code, written into SES_ESPropertyInfo.type
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    status: Mapped[str] = mapped_column(String(16))  # StoredSealState
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # of the last suspend/resume/revoke
    valid_start: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cert_list_type: Mapped[int] = mapped_column(Integer)  # 1 certificates, 2 SM3 digests
    version: Mapped[int] = mapped_column(Integer)  # of the current SESeal, 1 for the first
    seal_der: Mapped[bytes] = mapped_column(LargeBinary)
    seal_sm3: Mapped[str] = mapped_column(String(64))
    maker_ca: Mapped[str] = mapped_column(String(64))  # the CA whose seal-maker certificate signed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(MAX_PRINCIPAL))
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SealVersion(Base):
    """One ``SESeal`` made for a seal; ``superseded_at`` is set when a newer one replaced it."""

    __tablename__ = "seal_versions"
    __table_args__ = (UniqueConstraint("seal_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    version: Mapped[int] = mapped_column(Integer)
    seal_der: Mapped[bytes] = mapped_column(LargeBinary)
    seal_sm3: Mapped[str] = mapped_column(String(64), unique=True)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class SealSigner(Base):
    """A signer certificate listed in a seal (current while ``removed_at`` is empty)."""

    __tablename__ = "seal_signers"
    __table_args__ = (UniqueConstraint("seal_id", "cert_sm3"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    cert_sm3: Mapped[str] = mapped_column(String(64))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"), default=None)
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)  # only when the key is ours
    subject: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(String(40))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(MAX_PRINCIPAL))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class SealGrant(Base):
    """A principal's right to use a seal in one role (current while ``revoked_at`` is empty)."""

    __tablename__ = "seal_grants"
    __table_args__ = (UniqueConstraint("seal_id", "principal", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    principal: Mapped[str] = mapped_column(String(MAX_PRINCIPAL), index=True)  # apikey:<prefix>, user:<name>
    role: Mapped[str] = mapped_column(String(16))  # GrantRole
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(MAX_PRINCIPAL))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class SealStatusEvent(Base):
    """One lifecycle change of a seal (``from_status`` is empty for its creation)."""

    __tablename__ = "seal_status_events"
    __table_args__ = (Index(None, "seal_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(MAX_PRINCIPAL))
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class SealCounter(Base):
    """The one row holding the last esID serial handed out; seal creation locks it."""

    __tablename__ = "seal_counter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_serial: Mapped[int] = mapped_column(BigInteger)
