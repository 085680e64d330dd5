"""E-licence identifiers (电子证照标识): ``1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>``.

Format (spec/standards.md §6.2; GB/T 36904):

============ ============================================================================================
root         fixed ``1.2.156.3005.2`` (电子证照根代码)
type code    21 characters: the USCC of the authority that *defines* the licence type + a 3-digit sequence
             (``11100000000013338W`` + ``011``)
issuer code  the 18-character USCC of the *issuing* authority
serial       our choice: 1–32 characters ``0-9A-Z`` (the longest form seen in practice is a 32-hex UUID;
             the standard allows "the licence number or any number the issuer chooses")
version      3 digits, ``001`` … ``999`` (``000`` is refused)
check        1 character, ISO/IEC 7064 MOD 37,36 over type‖issuer‖serial‖version (dots removed),
             alphabet ``0-9A-Z``
============ ============================================================================================

Worked example: ``1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U``.

Both USCCs are checked with :func:`trustsvc.license.uscc.validate`. Identifiers minted elsewhere do not
always follow that: a real Hefei identifier has the 6-digit division ``340100`` as issuer code, and early
pilot USCCs fail their check. :func:`parse` with ``allow_legacy=True`` accepts an issuer code of 1–18
characters ``0-9A-Z`` and USCCs that fail their check characters; the identifier's own check character is
always verified. :func:`build` has the same switch, for re-issuing a licence of a legacy issuer; new
identifiers are built strict.

Errors are :class:`~trustsvc.errors.InvalidInput` with ``field`` (``identifier`` for :func:`parse`, the
part name for :func:`build`), ``part`` (``root``, ``type_code``, ``issuer_code``, ``serial``, ``version``,
``check``) and ``rule``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trustsvc.errors import InvalidInput
from trustsvc.license import uscc

__all__ = [
    "MOD_37_36_ALPHABET",
    "ROOT",
    "SERIAL_MAX_LENGTH",
    "LicenceIdentifier",
    "build",
    "mod_37_36_check",
    "parse",
]

ROOT = "1.2.156.3005.2"
MOD_37_36_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_MAX_LENGTH = 32

_VALUES = {c: i for i, c in enumerate(MOD_37_36_ALPHABET)}
_SERIAL = re.compile(rf"[0-9A-Z]{{1,{SERIAL_MAX_LENGTH}}}")
_LEGACY_ISSUER = re.compile(r"[0-9A-Z]{1,18}")
_SEQUENCE = re.compile(r"[0-9]{3}")


def mod_37_36_check(body: str) -> str:
    """Return the ISO/IEC 7064 MOD 37,36 (hybrid) check character for ``body`` (characters ``0-9A-Z``)."""
    p = 36
    for c in body:
        try:
            v = _VALUES[c]
        except KeyError:
            raise InvalidInput(
                f"{c!r} is not in the MOD 37,36 alphabet 0-9A-Z",
                field="identifier",
                rule="identifier character set",
            ) from None
        t = (p + v) % 36 or 36
        p = (2 * t) % 37
    return MOD_37_36_ALPHABET[(37 - p) % 36]


def _fail(detail: str, *, field: str, part: str, rule: str) -> InvalidInput:
    return InvalidInput(detail, field=field, part=part, rule=rule)


def _check_parts(
    type_code: str, issuer_code: str, serial: str, version: int, *, allow_legacy: bool, field: str | None
) -> None:
    def name(part: str) -> str:
        return field or part

    if len(type_code) != 21:
        raise _fail(
            f"type code: 21 characters (defining authority USCC + 3-digit sequence), got {len(type_code)}",
            field=name("type_code"),
            part="type_code",
            rule="type code length",
        )
    try:
        uscc.validate(type_code[:18], allow_legacy=allow_legacy, field="type_code")
    except InvalidInput as exc:
        raise _fail(
            f"type code: defining authority {exc.detail}",
            field=name("type_code"),
            part="type_code",
            rule=exc.extra["rule"],
        ) from None
    if not _SEQUENCE.fullmatch(type_code[18:]):
        raise _fail(
            "type code: the last 3 characters are a digit sequence",
            field=name("type_code"),
            part="type_code",
            rule="type code sequence",
        )
    if allow_legacy and len(issuer_code) != 18:
        if not _LEGACY_ISSUER.fullmatch(issuer_code):
            raise _fail(
                "issuer code: 1-18 characters 0-9A-Z",
                field=name("issuer_code"),
                part="issuer_code",
                rule="issuer code format",
            )
    else:
        try:
            uscc.validate(issuer_code, allow_legacy=allow_legacy, field="issuer_code")
        except InvalidInput as exc:
            raise _fail(
                f"issuer code: {exc.detail}",
                field=name("issuer_code"),
                part="issuer_code",
                rule=exc.extra["rule"],
            ) from None
    if not _SERIAL.fullmatch(serial):
        raise _fail(
            f"serial: 1-{SERIAL_MAX_LENGTH} characters 0-9A-Z (upper case)",
            field=name("serial"),
            part="serial",
            rule="serial format",
        )
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
        raise _fail(
            "version: 1-999 (written 001-999)", field=name("version"), part="version", rule="version range"
        )


@dataclass(frozen=True)
class LicenceIdentifier:
    """One e-licence identifier; construct it with :func:`build` or :func:`parse`, which check every part.

    Direct construction checks formats and the check character but not the two USCCs' own check characters.
    """

    type_code: str
    issuer_code: str
    serial: str
    version: int
    check: str

    def __post_init__(self) -> None:
        _check_parts(
            self.type_code, self.issuer_code, self.serial, self.version, allow_legacy=True, field=None
        )
        expected = mod_37_36_check(self.body)
        if self.check != expected:
            raise _fail(
                "identifier check character does not match (MOD 37,36)",
                field="check",
                part="check",
                rule="identifier check character",
            )

    @property
    def body(self) -> str:
        """Return the string the check character is computed over: type‖issuer‖serial‖version."""
        return f"{self.type_code}{self.issuer_code}{self.serial}{self.version:03d}"

    @property
    def defining_authority(self) -> str:
        """Return the USCC of the authority that defines the licence type (first 18 of the type code)."""
        return self.type_code[:18]

    def next_version(self) -> LicenceIdentifier:
        """Return the identifier of the next version of the same licence (a change re-issues it)."""
        return build(self.type_code, self.issuer_code, self.serial, self.version + 1, allow_legacy=True)

    def __str__(self) -> str:
        return f"{ROOT}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check}"

    def to_json(self) -> dict[str, Any]:
        """Return the parts as a JSON object (plus the identifier text under ``identifier``)."""
        return {
            "identifier": str(self),
            "type_code": self.type_code,
            "issuer_code": self.issuer_code,
            "serial": self.serial,
            "version": f"{self.version:03d}",
            "check": self.check,
        }


def build(
    type_code: str, issuer_code: str, serial: str, version: int = 1, *, allow_legacy: bool = False
) -> LicenceIdentifier:
    """Return the identifier of these parts with its check character; raise InvalidInput on a bad part."""
    _check_parts(type_code, issuer_code, serial, version, allow_legacy=allow_legacy, field=None)
    body = f"{type_code}{issuer_code}{serial}{version:03d}"
    return LicenceIdentifier(type_code, issuer_code, serial, version, mod_37_36_check(body))


def parse(text: str, *, allow_legacy: bool = False) -> LicenceIdentifier:
    """Return the identifier written in ``text``; raise InvalidInput naming the part and rule that fail."""
    field = "identifier"
    if not isinstance(text, str):
        raise _fail("an identifier is text", field=field, part="root", rule="identifier structure")
    text = text.strip()
    if not text.startswith(ROOT + "."):
        raise _fail(
            f"an e-licence identifier starts with {ROOT}.", field=field, part="root", rule="identifier root"
        )
    parts = text[len(ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise _fail(
            "after the root an identifier has 5 dot-separated parts: type.issuer.serial.version.check",
            field=field,
            part="root",
            rule="identifier structure",
        )
    type_code, issuer_code, serial, version_text, check = parts
    if not _SEQUENCE.fullmatch(version_text):
        raise _fail("version: 3 digits", field=field, part="version", rule="version format")
    _check_parts(type_code, issuer_code, serial, int(version_text), allow_legacy=allow_legacy, field=field)
    if len(check) != 1 or check not in _VALUES:
        raise _fail(
            "check: one character 0-9A-Z", field=field, part="check", rule="identifier check character"
        )
    expected = mod_37_36_check(f"{type_code}{issuer_code}{serial}{version_text}")
    if check != expected:
        raise _fail(
            f"the check character is {check!r} but the identifier computes to {expected!r} (MOD 37,36)",
            field=field,
            part="check",
            rule="identifier check character",
        )
    return LicenceIdentifier(type_code, issuer_code, serial, int(version_text), check)
