"""Citizen identity numbers (公民身份号码, GB 11643-1999): structure, birth date, sex and check character.

18 characters (spec/standards.md §6.7): a 6-digit address code (the county of first registration), an 8-digit
birth date ``YYYYMMDD``, a 3-digit order code (odd = male, even = female) and an ISO 7064 MOD 11-2 check
character (``0``-``9`` or ``X``). :func:`validate` raises :class:`~trustsvc.errors.InvalidInput` with ``rule``
one of:

- ``citizen ID length`` — not 18 characters;
- ``citizen ID character set`` — the first 17 are not all digits, or the last is not a digit or ``X``;
- ``citizen ID address code`` — the address code starts with ``0`` (no province code does);
- ``citizen ID birth date`` — not a real calendar date;
- ``citizen ID birth date in the future`` — after ``today``;
- ``citizen ID check character`` — the MOD 11-2 check does not match.

The address code is not looked up in a division table (python-stdnum does, with its own historical table):
divisions are renamed and merged and an old number stays valid, so we keep the code and do not judge it.
``today`` is a parameter so tests and the service clock decide what "the future" is; it defaults to the
date in China (UTC+8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum

from trustsvc.errors import InvalidInput

__all__ = ["CitizenId", "Sex", "check_character", "china_today", "validate"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_CHINA = timezone(timedelta(hours=8))


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        """Return the Chinese word (男 / 女) used on licence faces."""
        return "男" if self is Sex.MALE else "女"


@dataclass(frozen=True)
class CitizenId:
    """A validated citizen identity number and what it says about its holder."""

    number: str
    birth_date: date
    sex: Sex
    region: str  # the 6-digit address code


def china_today() -> date:
    """Return today's date in China (UTC+8)."""
    return datetime.now(UTC).astimezone(_CHINA).date()


def check_character(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidInput(
            "a citizen ID body is 17 digits", field="citizen_id", rule="citizen ID character set"
        )
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate(number: str, *, today: date | None = None, field: str = "citizen_id") -> CitizenId:
    """Return the :class:`CitizenId` when ``number`` is valid; else raise InvalidInput naming the rule."""
    if not isinstance(number, str):
        raise InvalidInput(
            f"{field}: a citizen ID must be text", field=field, rule="citizen ID character set"
        )
    norm = number.strip().upper()
    if len(norm) != 18:
        raise InvalidInput(
            f"{field}: a citizen ID has 18 characters, got {len(norm)}", field=field, rule="citizen ID length"
        )
    body, check = norm[:17], norm[17]
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        raise InvalidInput(
            f"{field}: a citizen ID is 17 digits and a check character 0-9 or X",
            field=field,
            rule="citizen ID character set",
        )
    if norm[0] == "0":
        raise InvalidInput(
            f"{field}: the address code {norm[:6]} is not a division code",
            field=field,
            rule="citizen ID address code",
        )
    try:
        birth = date(int(norm[6:10]), int(norm[10:12]), int(norm[12:14]))
    except ValueError:
        raise InvalidInput(
            f"{field}: {norm[6:14]} is not a calendar date", field=field, rule="citizen ID birth date"
        ) from None
    if birth > (today or china_today()):
        raise InvalidInput(
            f"{field}: the birth date {birth.isoformat()} is in the future",
            field=field,
            rule="citizen ID birth date in the future",
        )
    if check_character(body) != check:
        raise InvalidInput(
            f"{field}: the citizen ID check character does not match",
            field=field,
            rule="citizen ID check character",
        )
    return CitizenId(
        number=norm,
        birth_date=birth,
        sex=Sex.MALE if int(norm[14:17]) % 2 else Sex.FEMALE,
        region=norm[:6],
    )
