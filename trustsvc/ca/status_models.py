"""Database models of the status services: pre-signed OCSP responses and the time-stamp token register.

* ``ocsp_responses`` — the newest signed OCSP response per CertID, exactly as clients send it. The key
  ``cert_id_hash`` is the SHA-256 of the CertID DER: the responder echoes the client's CertID (hash
  algorithm, NULL parameters or none), so two spellings of the same question are two rows (at most ten per
  certificate: five hash algorithms, two spellings). A row is served while it is fresh: younger than the
  refresh interval, before its nextUpdate, signed by the CA's current responder certificate, and the
  certificate's ``status_version`` (moved by every revocation, hold and release, see
  :mod:`trustsvc.ca.models`) still the one it was signed at; otherwise it is signed again and replaced in
  place. Only certificates the CA issued get rows: an ``unknown`` answer is signed on demand, so made-up
  serials cannot fill the table.
* ``timestamp_tokens`` — one row per time-stamp token handed out: its serial (random 128-bit, unique by
  constraint, so no process keeps a counter), time, TSA certificate, policy and message imprint: the record
  a TSA keeps to account for its tokens (see :mod:`trustsvc.ca.timestamping`). The token itself is not
  kept; its holder has it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from trustsvc.ca.models import MAX_SERIAL_HEX
from trustsvc.db import Base, UTCDateTime

__all__ = ["OcspResponseRecord", "TimestampTokenRecord"]


class OcspResponseRecord(Base):
    """A signed OCSP response about one certificate for one CertID spelling, served until it goes stale."""

    __tablename__ = "ocsp_responses"
    __table_args__ = (Index(None, "ca_id", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cert_id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the CertID DER
    ca_id: Mapped[int] = mapped_column(ForeignKey("cas.id"))
    serial: Mapped[str] = mapped_column(String(MAX_SERIAL_HEX))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    cert_status_version: Mapped[int] = mapped_column(BigInteger)
    responder_certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    cert_status: Mapped[str] = mapped_column(String(16))  # good / revoked, as answered
    produced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    der: Mapped[bytes] = mapped_column(LargeBinary)


class TimestampTokenRecord(Base):
    """A time-stamp token issued by one of our TSAs (what it stamped, when, with which certificate)."""

    __tablename__ = "timestamp_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(MAX_SERIAL_HEX), unique=True)
    gen_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    tsa_certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    policy: Mapped[str] = mapped_column(String(64))
    hash_algorithm: Mapped[str] = mapped_column(String(16))
    message_imprint: Mapped[str] = mapped_column(String(128))  # hex of the hashed message
