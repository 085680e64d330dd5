"""Unified social credit codes (统一社会信用代码, GB 32100-2015) and their organisation codes (GB 11714).

:func:`validate` returns the normalised 18-character code or raises :class:`~trustsvc.errors.InvalidInput`
whose ``rule`` names the check that failed. Structure (spec/standards.md §6.6):

====== ============================================ ==================================================
pos    content                                      checked here
====== ============================================ ==================================================
1      registration-authority code (登记管理部门码)  character set only (see below)
2      entity-type code (机构类别代码)                character set only
3–8    administrative division (行政区划码)           six digits — rule ``USCC administrative division``
9–17   organisation code (组织机构代码, GB 11714)     character set; its 9th character is the GB 11714
                                                    check over the first 8 — rule ``organisation code
                                                    check digit``
18     check character                              weights 3^(i−1) mod 31 — rule ``USCC check character``
====== ============================================ ==================================================

The alphabet is the 31 characters ``0-9`` and ``A-Y`` without I, O, S, V and Z (rule ``USCC character set``);
a code of another length fails rule ``USCC length``. Lower case and surrounding white space are
normalised away.

The code tables for positions 1 and 2 (which authority, which entity types it registers) are not in our
standards digest, so they are not enforced: positions 1–2 only have to be in the alphabet. This is looser
than python-stdnum, which requires digits there and so refuses codes whose authority or entity-type code is
a letter; it is stricter in checking the embedded organisation code.

Legacy escape hatch: some early pilot codes were issued with a wrong check character (Fujian's
``91350100M0001TGQXM`` is the known case). ``validate(code, allow_legacy=True)`` still insists on length,
alphabet and the division digits but accepts a failing organisation-code or USCC check. Use it only where an
administrator has confirmed the code against the registration authority's record; new input stays strict.
"""

from __future__ import annotations

from trustsvc.errors import InvalidInput

__all__ = [
    "ALPHABET",
    "WEIGHTS",
    "check_character",
    "is_valid",
    "organisation_code_check",
    "validate",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)  # 3^(i-1) mod 31
_VALUES = {c: i for i, c in enumerate(ALPHABET)}

# GB 11714: weights over the 8 body characters; letters count A=10 … Z=35 (base-36 value).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_DIGITS = frozenset("0123456789")


def check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in _VALUES for c in first17):
        raise InvalidInput(
            "a USCC body is 17 characters of 0-9 and A-Y without I, O, S, V, Z",
            field="uscc",
            rule="USCC character set",
        )
    total = sum(_VALUES[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def organisation_code_check(body8: str) -> str:
    """Return the GB 11714 check character (``0``-``9`` or ``X``) for an 8-character organisation code."""
    if len(body8) != 8 or not body8.isascii() or not body8.isalnum():
        raise InvalidInput(
            "an organisation code body is 8 characters 0-9 A-Z",
            field="organisation_code",
            rule="organisation code",
        )
    total = sum(int(c, 36) * w for c, w in zip(body8.upper(), _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def validate(code: str, *, allow_legacy: bool = False, field: str = "uscc") -> str:
    """Return ``code`` normalised (upper case, stripped) when it is a valid USCC, else raise InvalidInput.

    The error's ``field`` is ``field`` (so a caller can pass the form field's key) and its ``rule`` is one of
    ``USCC length``, ``USCC character set``, ``USCC administrative division``, ``organisation code check
    digit``, ``USCC check character``.
    """
    if not isinstance(code, str):
        raise InvalidInput(f"{field}: a USCC must be text", field=field, rule="USCC character set")
    norm = code.strip().upper()
    if len(norm) != 18:
        raise InvalidInput(
            f"{field}: a USCC has 18 characters, got {len(norm)}", field=field, rule="USCC length"
        )
    bad = sorted({c for c in norm if c not in _VALUES})
    if bad:
        raise InvalidInput(
            f"{field}: characters {''.join(bad)!r} are not in the USCC alphabet "
            "(0-9, A-Y without I, O, S, V, Z)",
            field=field,
            rule="USCC character set",
        )
    if not set(norm[2:8]) <= _DIGITS:
        raise InvalidInput(
            f"{field}: positions 3-8 of a USCC are the administrative division code, six digits",
            field=field,
            rule="USCC administrative division",
        )
    if allow_legacy:
        return norm
    org = norm[8:17]
    if organisation_code_check(org[:8]) != org[8]:
        raise InvalidInput(
            f"{field}: the embedded organisation code {org[:8]}-{org[8]} fails its GB 11714 check digit",
            field=field,
            rule="organisation code check digit",
        )
    if check_character(norm[:17]) != norm[17]:
        raise InvalidInput(
            f"{field}: the USCC check character does not match", field=field, rule="USCC check character"
        )
    return norm


def is_valid(code: str, *, allow_legacy: bool = False) -> bool:
    """Return True when :func:`validate` accepts ``code``."""
    try:
        validate(code, allow_legacy=allow_legacy)
    except InvalidInput:
        return False
    return True
