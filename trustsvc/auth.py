"""API keys of business systems and operators: stored as hashes, each with a list of roles.

A token looks like ``tsk_<prefix>_<secret>``: the prefix (48 random bits, shown in listings and audit
records) finds the key, the secret (256 random bits) proves possession. Only SM3(token) is stored.
A fast hash is enough because the token is random and long: there is no dictionary to try, and a
slow password hash (PBKDF2, scrypt) would only cost time on every request. SM3 rather than SHA-256
because the service's cryptography is the GM/T suite throughout (the audit chain uses SM3 too).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustsvc.db import Base, UTCDateTime, utc_now
from trustsvc.errors import InvalidInput, InvalidState, NotFound, Unauthorized
from trustsvc.keys.sm3 import sm3

TOKEN_PREFIX = "tsk_"  # noqa: S105 (a format marker, not a secret)
_TOKEN = re.compile(r"tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
MAX_NAME = 200


class Role(StrEnum):
    """What a key may do. Roles are separate duties: ``admin`` does not imply ``auditor``."""

    ADMIN = "admin"
    CA_OPERATOR = "ca-operator"
    SEAL_ADMIN = "seal-admin"
    AUDITOR = "auditor"
    BUSINESS_SYSTEM = "business-system"
    CLERK = "clerk"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def has_role(self, *roles: str) -> bool:
        """Return True when the key holds at least one of ``roles``."""
        return not set(roles).isdisjoint(self.roles)


def create_api_key(
    session: Session, name: str, roles: list[str] | tuple[str, ...], *, now: datetime | None = None
) -> tuple[ApiKey, str]:
    """Return the new key and its token; the token is shown once and never stored."""
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"API key name must be 1 to {MAX_NAME} characters")
    if not roles:
        raise InvalidInput("an API key needs at least one role")
    unknown = sorted(set(roles) - set(Role))
    if unknown:
        raise InvalidInput(
            f"unknown role(s): {', '.join(unknown)}; roles are {', '.join(r.value for r in Role)}"
        )
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        secret_hash=_token_hash(token),
        roles=sorted(set(roles)),
        created_at=now or utc_now(),
    )
    session.add(key)
    session.flush()
    return key, token


# Compared against when the prefix is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = "0" * 64


def authenticate(session: Session, token: str) -> ApiKey:
    """Return the active key that ``token`` belongs to; raise Unauthorized otherwise."""
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        raise Unauthorized("invalid API key")
    key = session.execute(select(ApiKey).where(ApiKey.prefix == match.group(1))).scalar_one_or_none()
    ok = hmac.compare_digest(_token_hash(token.strip()), key.secret_hash if key else _DUMMY_HASH)
    if key is None or not ok:
        raise Unauthorized("invalid API key")
    if key.revoked_at is not None:
        raise Unauthorized("API key revoked")
    return key


def revoke_api_key(session: Session, prefix: str, *, now: datetime | None = None) -> ApiKey:
    """Return the key with ``prefix`` after marking it revoked."""
    key = session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
    if key is None:
        raise NotFound(f"no API key with prefix {prefix}")
    if key.revoked_at is not None:
        raise InvalidState(f"API key {prefix} is already revoked")
    key.revoked_at = now or utc_now()
    session.flush()
    return key


def list_api_keys(session: Session) -> list[ApiKey]:
    """Return all keys, oldest first."""
    return list(session.execute(select(ApiKey).order_by(ApiKey.id)).scalars())


def _token_hash(token: str) -> str:
    return sm3(token.encode("utf-8")).hex()
