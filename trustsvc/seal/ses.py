"""Electronic seal data (电子印章) and seal signatures (电子签章): GB/T 38540-2020 ("V4") encode, parse, sign
and verify; GM/T 0031-2014 ("V1") and the OFDRW "V5" layout parse and verify.

Two layers:

* The ASN.1 layer keeps the standards' names (``SESeal``, ``SES_SealInfo``, ``TBS_Sign``, ``esID``,
  ``dataHash``, the standard's own typo ``SES_ESPictrueInfo`` included) as asn1crypto classes
  (spec/standards.md §3.1, §3.5, §3.6).
* Above it, plain Python: frozen dataclasses :class:`Seal` and :class:`SealSignature`, and the functions
  :func:`parse_seal`, :func:`parse_signature`, :func:`verify_seal`, :func:`verify_signature_value`,
  :func:`build_seal_info`, :func:`make_seal`, :func:`make_signature`, :func:`signer_is_listed`.

What is signed (spec §3.2, §3.5; confirmed on real seals): the V4/V5 maker signature covers the raw TLV of
``SES_SealInfo`` as it sits in the file; the V1 maker signature covers ``SEQUENCE { esealInfo, cert,
signatureAlgorithm }``; the document signature covers the raw TLV of ``TBS_Sign``. Real files are not always
DER, so verification always uses the ORIGINAL bytes sliced from the input, never a re-encoding.

Lenient and strict parsing. Real seals deviate from the standard in known ways (spec §3.7, §1.4). With
``lenient=True`` (the default, for verifying other vendors' files) each known deviation is tolerated and
reported as one warning string on the parsed object; signature-value repairs (raw 64-byte r||s, INTEGERs
without their sign pad) are made at verify time and returned by the verify functions. With ``lenient=False``
every such deviation is refused with ``MalformedInput`` naming it: strict mode is what our own output must
pass. Anything else that is not the standard structure is ``MalformedInput`` in both modes; no other
exception type leaves the parsers.

Decisions where the standard is silent or unverified (spec §3.1, §3.7):

* A GeneralizedTime without ``Z`` (e.g. ``20220318213217``) is read as China Standard Time (UTC+8), the local
  time of every vendor seen; a 12-digit ``YYMMDDHHMMSSZ`` in a GeneralizedTime tag is read as UTCTime
  syntax. We always emit ``YYYYMMDDHHMMSSZ`` in UTC.
* ``timeStamp [0]`` and ``TBS_Sign.extDatas [0]`` are emitted EXPLICIT, as OFDRW writes them (the standard
  text does not say IMPLICIT or EXPLICIT); on parse both forms are accepted without a warning, because
  neither is known to be wrong.
* ``ExtData.critical`` is ``DEFAULT FALSE`` but is always written, FALSE included: OFDRW's reader expects
  exactly three elements. This is the one deliberate DER deviation in our output, and only when extensions
  are given.
* Certificate digests (certListType 2) are written with ``ObjType`` = ``"SM3"`` and the SM3 digest of the
  certificate DER; :func:`signer_is_listed` also understands ``sm3``, the SM3 OID text, texts like
  ``certificate SM3 digest``, and SHA-256.
"""

# asn1crypto declares structures as mutable class attributes (_fields, _alternatives, ...).
# ruff: noqa: RUF012

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from asn1crypto import algos, cms, core, x509

from trustsvc import errors
from trustsvc.errors import InvalidInput, InvalidSignature, MalformedInput, UnsupportedAlgorithm
from trustsvc.keys.algorithms import SignatureAlgorithm, signature_algorithm_of, signed_digest_algorithm
from trustsvc.keys.signer import Signer
from trustsvc.keys.signer import verify as _signer_verify
from trustsvc.keys.sm2 import SM2PublicKey, decode_signature
from trustsvc.keys.sm3 import sm3

__all__ = [
    "CERT_LIST_CERTS",
    "CERT_LIST_DIGESTS",
    "CHINA_STANDARD_TIME",
    "SM3_OBJ_TYPE",
    "CertDigest",
    "CertDigestList",
    "CertDigestObj",
    "CertInfoList",
    "ExtData",
    "ExtensionDatas",
    "SES_CertList",
    "SES_ESPictrueInfo",
    "SES_ESPropertyInfo",
    "SES_ESPropertyInfoV1",
    "SES_Header",
    "SES_SealInfo",
    "SES_SealInfoV1",
    "SES_SignInfo",
    "SES_Signature",
    "SES_SignatureV1",
    "SES_SignatureV5",
    "SESeal",
    "SESealV1",
    "SESealV5",
    "Seal",
    "SealExtension",
    "SealInfoFields",
    "SealPicture",
    "SealSignature",
    "TBS_Sign",
    "TBS_SignV1",
    "TBS_SignV5",
    "build_seal_info",
    "make_seal",
    "make_signature",
    "parse_seal",
    "parse_signature",
    "signer_is_listed",
    "verify_seal",
    "verify_signature_value",
]

CERT_LIST_CERTS: Final = 1
"""certListType: certList holds the signer certificates (DER)."""
CERT_LIST_DIGESTS: Final = 2
"""certListType: certList holds digests of the signer certificates."""
SM3_OBJ_TYPE: Final = "SM3"
"""The ``ObjType`` we write for certificate digests (the standard leaves the text open; spec §3.1)."""
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
"""How a time without a zone designator is read (spec §3.7: vendors write local time)."""

_SEAL_ID: Final = "ES"
_V1, _V4, _V5 = 1, 4, 5
_V1_HEADER_VERSIONS: Final = frozenset({1, 2, 3})  # GM/T 0031 header version is UNVERIFIED (spec §3.5)
_MAX_DEPTH: Final = 32  # SES nests about 8 deep; a deeper input is an attack, not a seal
_MAX_LENGTH_OCTETS: Final = 4
_SM3_OID: Final = "1.2.156.10197.1.401"
_SHA256_OID: Final = "2.16.840.1.101.3.4.2.1"
_HASH_LEN: Final = 32

# Errors asn1crypto (and int/str/datetime conversions) raise on bad input; the parsers turn them into
# MalformedInput. asn1crypto parses lazily, so every exposed field is read inside the guarded block.
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    UnicodeError,
)


# ==========================================================================================================
# ASN.1 — GB/T 38540-2020 (V4), transcribed in spec/standards.md §3.1
# ==========================================================================================================

# Class names follow the standard, hence the underscores.


class SES_Header(core.Sequence):
    _fields = [("ID", core.IA5String), ("version", core.Integer), ("Vid", core.IA5String)]


class Cert(core.OctetString):
    """A DER X.509 certificate (GB/T 20518)."""


class CertInfoList(core.SequenceOf):
    _child_spec = Cert


class ObjType(core.PrintableString):
    pass


class CertDigestValue(core.OctetString):
    pass


class CertDigestObj(core.Sequence):
    _fields = [("type", ObjType), ("value", CertDigestValue)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


class SES_CertList(core.Choice):
    """``CHOICE { certs CertInfoList, certDigestList CertDigestList }``.

    Both alternatives are ``SEQUENCE OF`` with the same outer tag, so the tag cannot choose: the enclosing
    ``SES_ESPropertyInfo`` picks the branch from ``certListType`` (a spec callback), and a parsed ``certList``
    field is therefore a :class:`CertInfoList` or a :class:`CertDigestList`, never this wrapper.
    """

    _alternatives = [("certs", CertInfoList), ("certDigestList", CertDigestList)]


def _cert_list_branch(prop: Any) -> tuple[type, None]:
    # certListType 2 ⇒ digests; 1 (and the vendor value 3, see spec §3.7) ⇒ certificates.
    branch = CertDigestList if prop["certListType"].native == CERT_LIST_DIGESTS else CertInfoList
    return (branch, None)


class SES_ESPropertyInfo(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("certListType", core.Integer),
        ("certList", SES_CertList),
        ("createDate", core.GeneralizedTime),
        ("validStart", core.GeneralizedTime),
        ("validEnd", core.GeneralizedTime),
    ]
    _spec_callbacks = {"certList": _cert_list_branch}


class SES_ESPictrueInfo(core.Sequence):
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class ExtData(core.Sequence):
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extnValue", core.OctetString),
    ]


class _ExtDataCriticalAlwaysWritten(ExtData):
    # OFDRW interop (spec §3.7): its ExtData reader takes exactly three elements, so `critical` is written
    # even when FALSE. Same tag and fields as ExtData, only without the DEFAULT that makes DER omit it.
    _fields = [
        ("extnID", core.ObjectIdentifier),
        ("critical", core.Boolean),
        ("extnValue", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SES_SealInfo(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("esID", core.IA5String),
        ("property", SES_ESPropertyInfo),
        ("picture", SES_ESPictrueInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):
    _fields = [
        ("eSealInfo", SES_SealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.OctetBitString),
    ]


class TBS_Sign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESeal),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SES_Signature(core.Sequence):
    _fields = [
        ("toSign", TBS_Sign),
        ("cert", core.OctetString),
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        # EXPLICIT as OFDRW writes it (spec §3.7); the parser also reads the IMPLICIT form from the raw bytes.
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- "V5" (OFDRW ses/v5; spec §3.6, UNVERIFIED): V4 plus an optional timeStamp [0] in SESeal ----------------


class SESealV5(core.Sequence):
    _fields = [
        ("eSealInfo", SES_SealInfo),
        ("cert", core.OctetString),
        ("signAlgID", core.ObjectIdentifier),
        ("signedValue", core.OctetBitString),
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


class TBS_SignV5(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESealV5),
        ("timeInfo", core.GeneralizedTime),
        ("dataHash", core.OctetBitString),
        ("propertyInfo", core.IA5String),
        ("extDatas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SES_SignatureV5(core.Sequence):
    _fields = [
        ("toSign", TBS_SignV5),
        ("cert", core.OctetString),
        ("signatureAlgID", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("timeStamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- GM/T 0031-2014 "V1" (spec §3.5: from OFDRW ses/v1 and CHL; standard text not seen) ---------------------


class _TimeV1(core.Choice):
    # The standard has UTCTime; OFDRW accepts GeneralizedTime too ("兼容非标签章"), reported as a deviation.
    _alternatives = [("utcTime", core.UTCTime), ("generalTime", core.GeneralizedTime)]


class _BitsV1(core.Choice):
    # The standard has BIT STRING; OFDRW accepts OCTET STRING for timeInfo and dataHash, reported as a
    # deviation.
    _alternatives = [("bitString", core.OctetBitString), ("octetString", core.OctetString)]


class SES_ESPropertyInfoV1(core.Sequence):
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("certList", CertInfoList),
        ("createDate", _TimeV1),
        ("validStart", _TimeV1),
        ("validEnd", _TimeV1),
    ]


class SES_SealInfoV1(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("esID", core.IA5String),
        ("property", SES_ESPropertyInfoV1),
        ("picture", SES_ESPictrueInfo),
        ("extDatas", ExtensionDatas, {"optional": True}),
    ]


class SES_SignInfo(core.Sequence):
    _fields = [
        ("cert", core.OctetString),
        ("signatureAlgorithm", core.ObjectIdentifier),
        ("signData", core.OctetBitString),
    ]


class SESealV1(core.Sequence):
    _fields = [("esealInfo", SES_SealInfoV1), ("signInfo", SES_SignInfo)]


class TBS_SignV1(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESealV1),
        ("timeInfo", _BitsV1),  # "a time-stamp or a UTCTime" (OFDRW comment)
        ("dataHash", _BitsV1),
        ("propertyInfo", core.IA5String),
        ("cert", core.OctetString),
        ("signatureAlgorithm", core.ObjectIdentifier),
    ]


class SES_SignatureV1(core.Sequence):
    _fields = [("toSign", TBS_SignV1), ("signature", core.OctetBitString)]


# ==========================================================================================================
# Plain Python layer
# ==========================================================================================================


@dataclass(frozen=True)
class SealPicture:
    """The seal image: ``type`` upper case (``PNG``, ``BMP``, ...), image bytes, display size in mm."""

    type: str
    data: bytes
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class SealExtension:
    """One ``ExtData``: OID, critical flag, raw ``extnValue`` octets."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertDigest:
    """One ``CertDigestObj``: the ``ObjType`` text as written and the digest octets."""

    algorithm: str
    value: bytes


@dataclass(frozen=True)
class Seal:
    """A parsed electronic seal (``SESeal``), any version.

    ``version`` is the structure: 1 (GM/T 0031), 4 (GB/T 38540) or 5 (OFDRW V5); ``header_version`` is what
    ``SES_Header.version`` says. ``cert_list_type`` is the effective type, 1 (certificates in
    ``signer_certs``) or 2 (digests in ``signer_cert_digests``); a vendor value 3 is read as 1 with a
    warning. Times are timezone-aware UTC. ``name`` has trailing spaces removed (with a warning).

    Bytes as found in the input: ``der`` (the whole ``SESeal``), ``seal_info`` (the ``SES_SealInfo`` TLV) and
    ``signed_data`` — exactly what the maker signed: ``seal_info`` for V4/V5, and for V1 a new SEQUENCE header
    followed by the original ``esealInfo``, ``cert`` and ``signatureAlgorithm`` TLVs. ``signed_value`` is the
    maker's signature as stored (possibly mis-encoded; :func:`verify_seal` repairs in lenient mode).
    ``timestamp`` is the V5 ``timeStamp`` token, else None. ``lenient`` records the mode it was parsed in,
    which :func:`verify_seal` follows unless told otherwise; ``warnings`` names each tolerated deviation.
    """

    version: int
    header_version: int
    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    cert_list_type: int
    signer_certs: tuple[bytes, ...]
    signer_cert_digests: tuple[CertDigest, ...]
    create_date: datetime
    valid_start: datetime
    valid_end: datetime
    picture: SealPicture
    extensions: tuple[SealExtension, ...]
    maker_cert: bytes
    sign_alg: str
    signed_value: bytes
    timestamp: bytes | None
    der: bytes
    seal_info: bytes
    signed_data: bytes
    lenient: bool
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SealSignature:
    """A parsed seal signature (``SES_Signature``), any version.

    ``tbs_sign`` is the original ``TBS_Sign`` TLV (what the signer signed); ``seal`` the embedded seal,
    parsed in the same mode (its own warnings are on ``seal.warnings``; :attr:`all_warnings` joins both).
    ``time_info`` is timezone-aware UTC. ``timestamp`` is the token of ``timeStamp [0]`` (V4/V5) or, for V1,
    the token found in ``timeInfo``; else None. ``data_hash`` is the octets of the ``dataHash`` BIT STRING.
    """

    version: int
    seal: Seal
    time_info: datetime
    data_hash: bytes
    property_info: str
    extensions: tuple[SealExtension, ...]
    signer_cert: bytes
    signature_alg: str
    signature: bytes
    timestamp: bytes | None
    der: bytes
    tbs_sign: bytes
    lenient: bool
    warnings: tuple[str, ...]

    @property
    def all_warnings(self) -> tuple[str, ...]:
        """Return the embedded seal's warnings (prefixed ``seal: ``) followed by this signature's."""
        return tuple(f"seal: {w}" for w in self.seal.warnings) + self.warnings


@dataclass(frozen=True)
class SealInfoFields:
    """What goes into a new V4 ``SES_SealInfo`` (see :func:`build_seal_info`).

    ``signer_certs`` are DER certificates; with ``cert_list_type`` 2 their SM3 digests are written instead.
    Datetimes must be timezone-aware; they are written as UTC to the second.
    """

    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    signer_certs: tuple[bytes, ...]
    create_date: datetime
    valid_start: datetime
    valid_end: datetime
    picture: SealPicture
    cert_list_type: int = CERT_LIST_CERTS
    extensions: tuple[SealExtension, ...] = ()


# ==========================================================================================================
# Parsing
# ==========================================================================================================


class _Notes:
    """Collects tolerated deviations (lenient) or refuses them (strict)."""

    __slots__ = ("lenient", "warnings")

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.warnings: list[str] = []

    def deviation(self, message: str) -> None:
        if not self.lenient:
            raise MalformedInput(f"{message} (refused in strict mode)")
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int  # the identifier octet
    start: int  # offset of the identifier octet
    body: int  # offset of the first content octet
    end: int  # offset just past the last content octet

    def slice(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def content(self, data: bytes) -> bytes:
        return data[self.body : self.end]


# Universal types that DER (and every SES structure) encodes primitively.
_PRIMITIVE_ONLY: Final = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x16, 0x17, 0x18})


def _read_tlv(data: bytes, pos: int, limit: int, notes: _Notes | None = None) -> _Tlv:
    """Return the TLV at ``pos``, which must end by ``limit``; definite lengths only."""
    if pos + 2 > limit:
        raise MalformedInput(f"truncated: no room for a TLV header at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedInput(f"high-tag-number form at offset {pos} (not used by SES structures)")
    first = data[pos + 1]
    body = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise MalformedInput(f"indefinite length at offset {pos} (BER only; not allowed here)")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS:
            raise MalformedInput(f"length field of {count} octets at offset {pos} is too large")
        if body + count > limit:
            raise MalformedInput(f"truncated length field at offset {pos}")
        length = int.from_bytes(data[body : body + count], "big")
        if notes is not None and (length < 0x80 or data[body] == 0):
            notes.deviation("length fields use a non-minimal (BER) encoding")
        body += count
    end = body + length
    if end > limit:
        raise MalformedInput(
            f"the TLV at offset {pos} claims {length} content bytes but only {limit - body} are there"
        )
    return _Tlv(tag, pos, body, end)


def _children(data: bytes, node: _Tlv) -> list[_Tlv]:
    out = []
    pos = node.body
    while pos < node.end:
        child = _read_tlv(data, pos, node.end)
        out.append(child)
        pos = child.end
    return out


def _scan(data: bytes, notes: _Notes, what: str) -> _Tlv:
    """Return the root TLV after checking the whole tree: one SEQUENCE, definite lengths, sane nesting.

    Guarantees the rest of the parser relies on: every constructed node's content is a well-formed run of TLVs
    (so slices are exact and asn1crypto's ``dump()`` of a parsed value is its original bytes), and no input
    nests deeper than :data:`_MAX_DEPTH`.
    """
    root = _read_tlv(data, 0, len(data), notes)
    if root.tag != 0x30:
        raise MalformedInput(f"{what} must be a DER SEQUENCE (tag 0x30), found tag 0x{root.tag:02x}")
    if root.end != len(data):
        raise MalformedInput(f"{len(data) - root.end} bytes of trailing data after the {what}")
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise MalformedInput("structure nested too deeply")
        pos = node.body
        while pos < node.end:
            child = _read_tlv(data, pos, node.end, notes)
            if child.tag & 0xC0 == 0 and child.tag & 0x20 and child.tag & 0x1F in _PRIMITIVE_ONLY:
                raise MalformedInput(f"constructed encoding of a primitive type at offset {child.start}")
            if child.tag == 0x10:
                raise MalformedInput(f"primitive SEQUENCE at offset {child.start}")
            if child.tag & 0x20:
                stack.append((child, depth + 1))
            pos = child.end
    return root


def _as_input(der: object, what: str) -> bytes:
    if isinstance(der, bytes | bytearray | memoryview):
        return bytes(der)
    raise MalformedInput(f"{what} must be bytes, not {type(der).__name__}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# --- field readers ------------------------------------------------------------------------------------------


def _present(value: Any, field: str) -> Any:
    if value is None or isinstance(value, core.Void):
        raise MalformedInput(f"{field} is missing")
    return value


def _int(value: Any, field: str, notes: _Notes) -> int:
    raw = _present(value, field).contents
    if not raw:
        raise MalformedInput(f"{field}: empty INTEGER")
    if len(raw) > 1 and ((raw[0] == 0 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)):
        notes.deviation(f"{field}: INTEGER is not minimally encoded")
    return int.from_bytes(raw, "big", signed=True)


def _small_int(value: Any, field: str, notes: _Notes, low: int = 0, high: int = 2**31 - 1) -> int:
    number = _int(value, field, notes)
    if not low <= number <= high:
        raise MalformedInput(f"{field}: {number if abs(number) < 10**12 else 'huge value'} is out of range")
    return number


def _ascii(value: Any, field: str) -> str:
    raw = _present(value, field).contents
    if any(b > 0x7F for b in raw):
        raise MalformedInput(f"{field}: non-ASCII octets in an IA5String/PrintableString")
    return str(raw.decode("ascii"))


def _octets(value: Any, field: str) -> bytes:
    return bytes(_present(value, field).contents)


def _oid(value: Any, field: str) -> str:
    return str(_present(value, field).dotted)


def _bits(value: Any, field: str, notes: _Notes) -> bytes:
    """Return the octets of an octet-aligned BIT STRING (signature, hash, token)."""
    raw = _present(value, field).contents
    if not raw:
        raise MalformedInput(f"{field}: empty BIT STRING")
    unused = raw[0]
    if unused > 7 or (unused and len(raw) == 1):
        raise MalformedInput(f"{field}: BIT STRING has an invalid unused-bits count")
    if unused:
        notes.deviation(
            f"{field}: BIT STRING declares {unused} unused bits; read as {len(raw) - 1} whole octets"
        )
    return bytes(raw[1:])


def _boolean(value: Any, field: str, notes: _Notes) -> bool:
    if isinstance(value, core.Void):
        return False
    raw = value.contents
    if len(raw) != 1:
        raise MalformedInput(f"{field}: BOOLEAN must be one octet")
    if raw not in (b"\x00", b"\xff"):
        notes.deviation(f"{field}: BOOLEAN TRUE is not encoded as 0xFF")
    return raw != b"\x00"


def _name(value: Any, notes: _Notes) -> str:
    raw = _present(value, "name").contents
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            name = raw.decode("gbk")
        except UnicodeDecodeError:
            raise MalformedInput("name: UTF8String is neither UTF-8 nor GBK") from None
        notes.deviation("name: UTF8String is not valid UTF-8; decoded as GBK")
    # Fixed-size buffers leave trailing NULs (Baiwang) or spaces; `openssl asn1parse` shows both as spaces.
    unpadded = name.rstrip("\x00")
    if unpadded != name:
        padding = len(name) - len(unpadded)
        notes.deviation(f"name {unpadded!r} is padded with {padding} NUL characters (removed)")
    stripped = unpadded.rstrip()
    if stripped != unpadded:
        notes.deviation(f"name {stripped!r} has trailing spaces (removed)")
    return stripped


# --- times --------------------------------------------------------------------------------------------------

_GT_Z = re.compile(r"(\d{14})(?:\.(\d*[1-9]))?Z")
_GT_LOCAL = re.compile(r"(\d{14})")
_GT_OFFSET = re.compile(r"(\d{14})([+-])(\d{2})(\d{2})")
_UTC_Z = re.compile(r"(\d{12})Z")
_UTC_LOCAL = re.compile(r"(\d{12})")
_UTC_OFFSET = re.compile(r"(\d{12})([+-])(\d{2})(\d{2})")
_DASHED_LOCAL = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})")


def _moment(digits: str, field: str, text: str, tz: timezone, fraction: str | None = None) -> datetime:
    if len(digits) == 12:  # UTCTime: YY of 50..99 is 19YY (RFC 5280 §4.1.2.5.1)
        yy = int(digits[:2])
        digits = str(1900 + yy if yy >= 50 else 2000 + yy) + digits[2:]
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        raise MalformedInput(f"{field}: {text!r} is not a valid date and time") from None
    return moment.astimezone(UTC)


def _offset(sign: str, hours: str, minutes: str, field: str) -> timezone:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise MalformedInput(f"{field}: invalid UTC offset")
    delta = timedelta(hours=h, minutes=m)
    return timezone(-delta if sign == "-" else delta)


def _read_time(raw: bytes, field: str, notes: _Notes, *, tag: str) -> datetime:
    """Return the UTC moment of a time value; ``tag`` is what encodes it: GeneralizedTime, UTCTime or text."""
    if any(b > 0x7F for b in raw) or len(raw) > 40:
        raise MalformedInput(f"{field}: not a time value")
    text = raw.decode("ascii")
    if tag in ("GeneralizedTime", "text"):
        if m := _GT_Z.fullmatch(text):
            return _moment(m[1], field, text, UTC, m[2])
        if m := _GT_LOCAL.fullmatch(text):
            notes.deviation(f"{field}: {tag} {text!r} has no time zone; read as UTC+8 (China Standard Time)")
            return _moment(m[1], field, text, CHINA_STANDARD_TIME)
        if m := _GT_OFFSET.fullmatch(text):
            notes.deviation(f"{field}: {tag} {text!r} has a UTC offset instead of Z")
            return _moment(m[1], field, text, _offset(m[2], m[3], m[4], field))
        if m := _UTC_Z.fullmatch(text):
            if tag == "GeneralizedTime":
                notes.deviation(
                    f"{field}: {text!r} is UTCTime syntax (2-digit year) inside a GeneralizedTime tag"
                )
            return _moment(m[1], field, text, UTC)
        if tag == "text" and (m := _DASHED_LOCAL.fullmatch(text)):
            notes.deviation(f"{field}: {text!r} has no time zone; read as UTC+8 (China Standard Time)")
            return _moment("".join(m.groups()), field, text, CHINA_STANDARD_TIME)
    elif tag == "UTCTime":
        if m := _UTC_Z.fullmatch(text):
            return _moment(m[1], field, text, UTC)
        if m := _UTC_LOCAL.fullmatch(text):
            notes.deviation(
                f"{field}: UTCTime {text!r} has no time zone; read as UTC+8 (China Standard Time)"
            )
            return _moment(m[1], field, text, CHINA_STANDARD_TIME)
        if m := _UTC_OFFSET.fullmatch(text):
            notes.deviation(f"{field}: UTCTime {text!r} has a UTC offset instead of Z")
            return _moment(m[1], field, text, _offset(m[2], m[3], m[4], field))
    raise MalformedInput(f"{field}: {text!r} is not a {tag} this parser knows")


def _generalized_time(value: Any, field: str, notes: _Notes) -> datetime:
    return _read_time(_present(value, field).contents, field, notes, tag="GeneralizedTime")


def _time_v1(value: Any, field: str, notes: _Notes) -> datetime:
    choice = _present(value, field)
    if choice.name == "generalTime":
        notes.deviation(f"{field}: GeneralizedTime where GM/T 0031 has UTCTime")
        return _read_time(choice.chosen.contents, field, notes, tag="GeneralizedTime")
    return _read_time(choice.chosen.contents, field, notes, tag="UTCTime")


def _bits_v1(value: Any, field: str, notes: _Notes) -> bytes:
    choice = _present(value, field)
    if choice.name == "octetString":
        notes.deviation(f"{field}: OCTET STRING where GM/T 0031 has BIT STRING")
        return bytes(choice.chosen.contents)
    return _bits(choice.chosen, field, notes)


# --- shared pieces ------------------------------------------------------------------------------------------


def _extensions(ext_datas: Any, notes: _Notes) -> tuple[SealExtension, ...]:
    if isinstance(ext_datas, core.Void):
        return ()
    out = []
    for index, ext in enumerate(ext_datas):
        field = f"extDatas[{index}]"
        out.append(
            SealExtension(
                oid=_oid(ext["extnID"], f"{field}.extnID"),
                critical=_boolean(ext["critical"], f"{field}.critical", notes),
                value=_octets(ext["extnValue"], f"{field}.extnValue"),
            )
        )
    return tuple(out)


def _tagged_ext_datas(data: bytes, node: _Tlv, notes: _Notes) -> tuple[SealExtension, ...]:
    """Return the extensions in ``extDatas [0]``: EXPLICIT (``A0 30 …``) or IMPLICIT (``A0 <content>``)."""
    if node.tag != 0xA0:
        raise MalformedInput(f"TBS_Sign: unexpected element with tag 0x{node.tag:02x} after propertyInfo")
    inner = _children(data, node)
    explicit = (
        len(inner) == 1 and inner[0].tag == 0x30 and all(c.tag == 0x30 for c in _children(data, inner[0]))
    )
    content = (
        inner[0].slice(data) if explicit else b"\x30" + _der_length(node.end - node.body) + node.content(data)
    )
    return _extensions(ExtensionDatas.load(content, strict=True), notes)


def _tagged_bit_string(data: bytes, node: _Tlv, field: str, notes: _Notes) -> bytes:
    """Return the octets of ``[0] BIT STRING``, EXPLICIT (``A0 03 …``) or IMPLICIT (``80 …``)."""
    if node.tag == 0xA0:
        inner = _children(data, node)
        if len(inner) != 1 or inner[0].tag != 0x03:
            raise MalformedInput(f"{field}: [0] does not hold one BIT STRING")
        raw = inner[0].slice(data)
    elif node.tag == 0x80:
        raw = b"\x03" + _der_length(node.end - node.body) + node.content(data)
    else:
        raise MalformedInput(f"{field}: unexpected element with tag 0x{node.tag:02x}")
    return _bits(core.OctetBitString.load(raw, strict=True), field, notes)


def _check_certificate(der: bytes, field: str) -> None:
    """Refuse bytes that are not an X.509 certificate with a readable key (full checks come later)."""
    try:
        cert = x509.Certificate.load(der, strict=True)
        spki = cert["tbs_certificate"]["subject_public_key_info"]
        spki["algorithm"]["algorithm"].dotted  # noqa: B018 — forces asn1crypto's lazy parse
        spki["public_key"].contents  # noqa: B018
    except _PARSE_ERRORS:
        raise MalformedInput(f"{field} is not a DER X.509 certificate") from None


def _check_signature_encoding(signature: bytes, algorithm_oid: str, field: str, notes: _Notes) -> None:
    """Strict mode: an SM2 signature value must be canonical DER (lenient mode repairs at verify time)."""
    if notes.lenient or _algorithm(algorithm_oid) is not SignatureAlgorithm.SM2_SM3:
        return
    try:
        decode_signature(signature)
    except MalformedInput as exc:
        kind = "raw 64-byte r||s" if len(signature) == 64 else exc.detail
        raise MalformedInput(
            f"{field} is not a DER SEQUENCE{{r, s}}: {kind} (refused in strict mode)"
        ) from None


def _algorithm(oid: str) -> SignatureAlgorithm | None:
    try:
        return signature_algorithm_of(algos.SignedDigestAlgorithm({"algorithm": oid}))
    except (errors.TrustsvcError, ValueError, TypeError):
        return None


def _picture(value: Any, notes: _Notes) -> SealPicture:
    pic = _present(value, "picture")
    kind = _ascii(pic["type"], "picture.type")
    if kind != kind.upper():
        notes.deviation(f"picture type {kind!r} is not upper case (read as {kind.upper()!r})")
    return SealPicture(
        type=kind.upper(),
        data=_octets(pic["data"], "picture.data"),
        width_mm=_small_int(pic["width"], "picture.width", notes),
        height_mm=_small_int(pic["height"], "picture.height", notes),
    )


def _header(info: Any, notes: _Notes) -> tuple[int, str]:
    header = _present(info["header"], "header")
    ident = _ascii(header["ID"], "header.ID")
    if ident != _SEAL_ID:
        raise MalformedInput(f"header.ID is {ident[:10]!r}, not 'ES'")
    return _small_int(header["version"], "header.version", notes), _ascii(header["Vid"], "header.Vid")


def _header_version(data: bytes, info_node: _Tlv) -> int:
    """Return SES_Header.version without a full parse (version detection, spec §3.5)."""
    parts = _children(data, info_node) if info_node.tag == 0x30 else []
    if not parts or parts[0].tag != 0x30:
        raise MalformedInput("SES_SealInfo does not start with an SES_Header")
    header = parts[0]
    fields = _children(data, header)
    if len(fields) < 2 or fields[1].tag != 0x02 or not 0 < fields[1].end - fields[1].body <= 4:
        raise MalformedInput("SES_Header has no readable version")
    return int.from_bytes(fields[1].content(data), "big", signed=True)


# --- seals --------------------------------------------------------------------------------------------------


def parse_seal(der: bytes, *, lenient: bool = True) -> Seal:
    """Return the :class:`Seal` in a DER ``SESeal`` (V4, V1 or V5, detected per spec §3.5).

    ``lenient=True`` tolerates the real-world deviations of spec §3.7 and lists them in ``Seal.warnings``;
    ``lenient=False`` refuses them. Raises ``MalformedInput`` for anything that is not a seal.
    """
    data = _as_input(der, "SESeal")
    try:
        return _parse_seal(data, lenient)
    except _PARSE_ERRORS as exc:
        raise MalformedInput(f"SESeal could not be parsed: {_reason(exc)}") from None


def _parse_seal(data: bytes, lenient: bool) -> Seal:
    notes = _Notes(lenient)
    root = _scan(data, notes, "SESeal")
    kids = _children(data, root)
    if len(kids) == 2:
        return _parse_seal_v1(data, kids, notes)
    if len(kids) not in (4, 5):
        raise MalformedInput(f"SESeal has {len(kids)} elements; expected 2 (GM/T 0031) or 4 (GB/T 38540)")
    version = _header_version(data, kids[0])
    if version not in (_V4, _V5):
        raise MalformedInput(f"a 4-element SESeal has header version {version}; expected 4 (or 5)")
    if len(kids) == 5 and version != _V5:
        raise MalformedInput("a GB/T 38540 SESeal has 4 elements; a 5th (timeStamp) needs header version 5")

    seal = (SESealV5 if version == _V5 else SESeal).load(data, strict=True)
    info = _present(seal["eSealInfo"], "eSealInfo")
    header_version, vendor = _header(info, notes)
    prop = _present(info["property"], "property")
    list_type = _small_int(prop["certListType"], "certListType", notes, -(2**31), 2**31 - 1)
    if list_type == 3:
        notes.deviation("certListType 3 is not defined by GB/T 38540; the list holds certificates, read as 1")
        list_type = CERT_LIST_CERTS
    elif list_type not in (CERT_LIST_CERTS, CERT_LIST_DIGESTS):
        raise MalformedInput(f"certListType {list_type} is neither 1 (certificates) nor 2 (digests)")
    cert_list = _present(prop["certList"], "certList")
    if list_type == CERT_LIST_CERTS:
        certs = tuple(_octets(c, f"certList[{i}]") for i, c in enumerate(cert_list))
        digests: tuple[CertDigest, ...] = ()
    else:
        certs = ()
        digests = tuple(
            CertDigest(_ascii(d["type"], f"certList[{i}].type"), _octets(d["value"], f"certList[{i}].value"))
            for i, d in enumerate(cert_list)
        )

    maker_cert = _octets(seal["cert"], "cert")
    _check_certificate(maker_cert, "the maker certificate (SESeal.cert)")
    sign_alg = _oid(seal["signAlgID"], "signAlgID")
    signed_value = _bits(seal["signedValue"], "signedValue", notes)
    _check_signature_encoding(signed_value, sign_alg, "signedValue", notes)
    timestamp = _tagged_bit_string(data, kids[4], "timeStamp", notes) if len(kids) == 5 else None
    info_bytes = kids[0].slice(data)
    return Seal(
        version=version,
        header_version=header_version,
        vendor_id=vendor,
        es_id=_ascii(info["esID"], "esID"),
        seal_type=_small_int(prop["type"], "property.type", notes, -(2**31)),
        name=_name(prop["name"], notes),
        cert_list_type=list_type,
        signer_certs=certs,
        signer_cert_digests=digests,
        create_date=_generalized_time(prop["createDate"], "createDate", notes),
        valid_start=_generalized_time(prop["validStart"], "validStart", notes),
        valid_end=_generalized_time(prop["validEnd"], "validEnd", notes),
        picture=_picture(info["picture"], notes),
        extensions=_extensions(info["extDatas"], notes),
        maker_cert=maker_cert,
        sign_alg=sign_alg,
        signed_value=signed_value,
        timestamp=timestamp,
        der=data,
        seal_info=info_bytes,
        signed_data=info_bytes,
        lenient=notes.lenient,
        warnings=tuple(notes.warnings),
    )


def _parse_seal_v1(data: bytes, kids: list[_Tlv], notes: _Notes) -> Seal:
    seal = SESealV1.load(data, strict=True)
    info = _present(seal["esealInfo"], "esealInfo")
    header_version, vendor = _header(info, notes)
    if header_version not in _V1_HEADER_VERSIONS:
        raise MalformedInput(f"a 2-element (GM/T 0031) SESeal has header version {header_version}")
    prop = _present(info["property"], "property")
    sign_info = _present(seal["signInfo"], "signInfo")
    sign_kids = _children(data, kids[1])
    if len(sign_kids) != 3:
        raise MalformedInput("SES_SignInfo must have 3 elements")
    maker_cert = _octets(sign_info["cert"], "signInfo.cert")
    _check_certificate(maker_cert, "the maker certificate (SES_SignInfo.cert)")
    sign_alg = _oid(sign_info["signatureAlgorithm"], "signInfo.signatureAlgorithm")
    signed_value = _bits(sign_info["signData"], "signInfo.signData", notes)
    _check_signature_encoding(signed_value, sign_alg, "signInfo.signData", notes)

    info_bytes = kids[0].slice(data)
    # V1 signs SEQUENCE { esealInfo, cert, signatureAlgorithm } (spec §3.5): the original TLVs under a new
    # header.
    body = info_bytes + sign_kids[0].slice(data) + sign_kids[1].slice(data)
    return Seal(
        version=_V1,
        header_version=header_version,
        vendor_id=vendor,
        es_id=_ascii(info["esID"], "esID"),
        seal_type=_small_int(prop["type"], "property.type", notes, -(2**31)),
        name=_name(prop["name"], notes),
        cert_list_type=CERT_LIST_CERTS,
        signer_certs=tuple(_octets(c, f"certList[{i}]") for i, c in enumerate(prop["certList"])),
        signer_cert_digests=(),
        create_date=_time_v1(prop["createDate"], "createDate", notes),
        valid_start=_time_v1(prop["validStart"], "validStart", notes),
        valid_end=_time_v1(prop["validEnd"], "validEnd", notes),
        picture=_picture(info["picture"], notes),
        extensions=_extensions(info["extDatas"], notes),
        maker_cert=maker_cert,
        sign_alg=sign_alg,
        signed_value=signed_value,
        timestamp=None,
        der=data,
        seal_info=info_bytes,
        signed_data=b"\x30" + _der_length(len(body)) + body,
        lenient=notes.lenient,
        warnings=tuple(notes.warnings),
    )


# --- signatures ---------------------------------------------------------------------------------------------


def parse_signature(der: bytes, *, lenient: bool = True) -> SealSignature:
    """Return the :class:`SealSignature` in a DER ``SES_Signature`` (V4, V1 or V5, detected per spec §3.5).

    The embedded seal is parsed in the same mode. Raises ``MalformedInput`` for anything that is not a seal
    signature (a GB/T 35275 ``ContentInfo`` included).
    """
    data = _as_input(der, "SES_Signature")
    try:
        return _parse_signature(data, lenient)
    except _PARSE_ERRORS as exc:
        raise MalformedInput(f"SES_Signature could not be parsed: {_reason(exc)}") from None


def _parse_signature(data: bytes, lenient: bool) -> SealSignature:
    notes = _Notes(lenient)
    root = _scan(data, notes, "SES_Signature")
    kids = _children(data, root)
    if len(kids) == 2:
        return _parse_signature_v1(data, kids, notes)
    if len(kids) not in (4, 5):
        raise MalformedInput(
            f"SES_Signature has {len(kids)} elements; expected 4 or 5 (GB/T 38540) or 2 (V1)"
        )
    if kids[0].tag != 0x30:
        raise MalformedInput("SES_Signature does not start with a TBS_Sign SEQUENCE")
    tbs_kids = _children(data, kids[0])
    if len(tbs_kids) not in (5, 6):
        raise MalformedInput(f"TBS_Sign has {len(tbs_kids)} elements; expected 5 or 6")
    if tbs_kids[1].tag != 0x30:
        raise MalformedInput("TBS_Sign.eseal is not a SEQUENCE")
    seal = _parse_seal(tbs_kids[1].slice(data), lenient)
    if seal.version == _V1:
        raise MalformedInput("a GB/T 38540 SES_Signature embeds a GM/T 0031 (V1) seal")

    sig = (SES_SignatureV5 if seal.version == _V5 else SES_Signature).load(data, strict=True)
    tbs = _present(sig["toSign"], "toSign")
    version = _small_int(tbs["version"], "TBS_Sign.version", notes)
    if version != seal.version:
        notes.deviation(f"TBS_Sign.version {version} differs from the seal's version {seal.version}")
    signer_cert = _octets(sig["cert"], "cert")
    _check_certificate(signer_cert, "the signer certificate (SES_Signature.cert)")
    signature_alg = _oid(sig["signatureAlgID"], "signatureAlgID")
    signature = _bits(sig["signature"], "signature", notes)
    _check_signature_encoding(signature, signature_alg, "signature", notes)
    return SealSignature(
        version=seal.version,
        seal=seal,
        time_info=_generalized_time(tbs["timeInfo"], "timeInfo", notes),
        data_hash=_bits(tbs["dataHash"], "dataHash", notes),
        property_info=_ascii(tbs["propertyInfo"], "propertyInfo"),
        extensions=_tagged_ext_datas(data, tbs_kids[5], notes) if len(tbs_kids) == 6 else (),
        signer_cert=signer_cert,
        signature_alg=signature_alg,
        signature=signature,
        timestamp=_tagged_bit_string(data, kids[4], "timeStamp", notes) if len(kids) == 5 else None,
        der=data,
        tbs_sign=kids[0].slice(data),
        lenient=notes.lenient,
        warnings=tuple(notes.warnings),
    )


def _parse_signature_v1(data: bytes, kids: list[_Tlv], notes: _Notes) -> SealSignature:
    if kids[0].tag != 0x30:
        raise MalformedInput("SES_Signature does not start with a TBS_Sign SEQUENCE")
    tbs_kids = _children(data, kids[0])
    if len(tbs_kids) != 7:
        raise MalformedInput(f"a GM/T 0031 TBS_Sign has 7 elements, not {len(tbs_kids)}")
    if tbs_kids[1].tag != 0x30:
        raise MalformedInput("TBS_Sign.eseal is not a SEQUENCE")
    seal = _parse_seal(tbs_kids[1].slice(data), notes.lenient)
    if seal.version != _V1:
        raise MalformedInput("a GM/T 0031 SES_Signature embeds a GB/T 38540 seal")

    sig = SES_SignatureV1.load(data, strict=True)
    tbs = _present(sig["toSign"], "toSign")
    version = _small_int(tbs["version"], "TBS_Sign.version", notes)
    if version != seal.header_version:
        notes.deviation(
            f"TBS_Sign.version {version} differs from the seal's header version {seal.header_version}"
        )
    time_info, token = _time_info_v1(_bits_v1(tbs["timeInfo"], "timeInfo", notes), notes)
    signer_cert = _octets(tbs["cert"], "TBS_Sign.cert")
    _check_certificate(signer_cert, "the signer certificate (TBS_Sign.cert)")
    signature_alg = _oid(tbs["signatureAlgorithm"], "TBS_Sign.signatureAlgorithm")
    signature = _bits(sig["signature"], "signature", notes)
    _check_signature_encoding(signature, signature_alg, "signature", notes)
    return SealSignature(
        version=_V1,
        seal=seal,
        time_info=time_info,
        data_hash=_bits_v1(tbs["dataHash"], "dataHash", notes),
        property_info=_ascii(tbs["propertyInfo"], "propertyInfo"),
        extensions=(),
        signer_cert=signer_cert,
        signature_alg=signature_alg,
        signature=signature,
        timestamp=token,
        der=data,
        tbs_sign=kids[0].slice(data),
        lenient=notes.lenient,
        warnings=tuple(notes.warnings),
    )


def _time_info_v1(raw: bytes, notes: _Notes) -> tuple[datetime, bytes | None]:
    """Return (signing time, token or None) from a V1 ``timeInfo``: "a time-stamp or a UTCTime" (spec §3.5).

    The encoding inside the BIT STRING is UNVERIFIED. Read: a DER UTCTime/GeneralizedTime TLV (no warning), an
    RFC 3161 token (time from its TSTInfo), or bare text such as OFDRW's ``yyyy-MM-dd HH:mm:ss`` (warning).
    """
    if raw[:1] in (b"\x17", b"\x18"):
        value = (core.UTCTime if raw[0] == 0x17 else core.GeneralizedTime).load(raw, strict=True)
        return _read_time(value.contents, "timeInfo", notes, tag=type(value).__name__), None
    if raw[:1] == b"\x30":
        try:
            info = cms.ContentInfo.load(raw, strict=True)["content"]["encap_content_info"]["content"].parsed
            moment = info["gen_time"].native
        except _PARSE_ERRORS:
            raise MalformedInput(
                "timeInfo holds a SEQUENCE that is not a readable time-stamp token"
            ) from None
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise MalformedInput("timeInfo time-stamp token has no usable genTime")
        return moment.astimezone(UTC), raw
    notes.deviation("timeInfo holds a bare time text, not a DER time or a time-stamp token")
    return _read_time(raw, "timeInfo", notes, tag="text"), None


# ==========================================================================================================
# Verification
# ==========================================================================================================


def verify_seal(seal: Seal, *, lenient: bool | None = None) -> tuple[str, ...]:
    """Return the repairs made (empty if none) after verifying the maker's signature over ``signed_data``.

    The key is the maker certificate's; the algorithm is ``signAlgID`` (SM2-SM3 with the default user ID,
    ECDSA-SHA256, RSA-PKCS1-SHA256). ``lenient`` defaults to the mode the seal was parsed in; lenient SM2
    verification repairs mis-encoded signature values (spec §1.4) and names each repair. Raises
    ``InvalidSignature``. Certificate trust, validity and key usage are not checked here.
    """
    return _verify(
        seal.maker_cert,
        seal.sign_alg,
        seal.signed_data,
        seal.signed_value,
        seal.lenient if lenient is None else lenient,
        "seal maker signature",
    )


def verify_signature_value(sig: SealSignature, *, lenient: bool | None = None) -> tuple[str, ...]:
    """Return the repairs made (empty if none) after verifying the signer's signature over ``sig.tbs_sign``.

    As :func:`verify_seal`, with the signer certificate and ``signatureAlgID``. Raises ``InvalidSignature``.
    It does not check the seal, the data hash or the signer's listing: see :func:`verify_seal`,
    :func:`signer_is_listed`.
    """
    return _verify(
        sig.signer_cert,
        sig.signature_alg,
        sig.tbs_sign,
        sig.signature,
        sig.lenient if lenient is None else lenient,
        "document signature",
    )


def _verify(
    cert_der: bytes, oid: str, data: bytes, signature: bytes, lenient: bool, what: str
) -> tuple[str, ...]:
    algorithm = _algorithm(oid)
    if algorithm is None:
        raise InvalidSignature(f"{what}: signature algorithm {oid[:64]} is not supported")
    try:
        spki = x509.Certificate.load(cert_der, strict=True)["tbs_certificate"][
            "subject_public_key_info"
        ].dump()
    except _PARSE_ERRORS:
        raise InvalidSignature(f"{what}: the certificate cannot be read") from None
    if algorithm is not SignatureAlgorithm.SM2_SM3:
        _signer_verify(spki, algorithm, data, signature)
        return ()
    try:
        key = SM2PublicKey.from_der(spki)
    except errors.TrustsvcError:
        raise InvalidSignature(f"{what}: the certificate does not hold an SM2 key") from None
    if lenient:
        return tuple(f"{what}: {repair}" for repair in key.verify_lenient(signature, data))
    key.verify(signature, data)
    return ()


def signer_is_listed(seal: Seal, signer_cert_der: bytes) -> bool:
    """Return True if ``signer_cert_der`` is one of the seal's signer certificates (spec §3.4 c).

    certListType 1: byte comparison with a listed certificate. Type 2: the certificate's digest, computed
    with the algorithm ``ObjType`` names (SM3 as ``SM3``/``sm3``/its OID/a text containing the word ``SM3``;
    SHA-256 the same way), compared with the listed value; a digest whose algorithm is not recognised never
    matches.
    """
    cert = bytes(signer_cert_der)
    if seal.cert_list_type == CERT_LIST_CERTS:
        return any(hmac.compare_digest(listed, cert) for listed in seal.signer_certs)
    for digest in seal.signer_cert_digests:
        algorithm = _digest_of_obj_type(digest.algorithm)
        if algorithm is not None and hmac.compare_digest(algorithm(cert), digest.value):
            return True
    return False


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _digest_of_obj_type(text: str) -> Callable[[bytes], bytes] | None:
    name = text.strip().lower()
    if name == _SM3_OID or re.search(r"(?<![a-z0-9])sm3(?![a-z0-9])", name):
        return sm3
    if name == _SHA256_OID or re.search(r"(?<![a-z0-9])sha-?256(?![a-z0-9])", name):
        return _sha256
    return None


# ==========================================================================================================
# Generation (V4, strict DER)
# ==========================================================================================================


def build_seal_info(fields: SealInfoFields) -> bytes:
    """Return the DER ``SES_SealInfo`` (header ``ES``, version 4) of ``fields``; InvalidInput if bad."""
    return bytes(_seal_info(fields).dump())


def _seal_info(fields: SealInfoFields) -> SES_SealInfo:
    _require_text(fields.vendor_id, "vendor_id")
    _require_text(fields.es_id, "es_id")
    if not isinstance(fields.name, str) or not fields.name or fields.name != fields.name.strip():
        raise InvalidInput("name must be non-empty text without leading or trailing spaces")
    if not isinstance(fields.seal_type, int) or not 0 <= fields.seal_type < 2**31:
        raise InvalidInput("seal_type must be a non-negative integer")
    if not fields.signer_certs or not all(isinstance(c, bytes) and c for c in fields.signer_certs):
        raise InvalidInput("signer_certs must hold at least one DER certificate")
    for index, cert in enumerate(fields.signer_certs):
        try:
            _check_certificate(cert, f"signer_certs[{index}]")
        except MalformedInput as exc:
            raise InvalidInput(exc.detail) from None
    if fields.cert_list_type == CERT_LIST_CERTS:
        cert_list: Any = CertInfoList([Cert(c) for c in fields.signer_certs])
    elif fields.cert_list_type == CERT_LIST_DIGESTS:
        cert_list = CertDigestList(
            [CertDigestObj({"type": SM3_OBJ_TYPE, "value": sm3(c)}) for c in fields.signer_certs]
        )
    else:
        raise InvalidInput("cert_list_type must be 1 (certificates) or 2 (digests)")
    if not fields.valid_start < fields.valid_end:
        raise InvalidInput("valid_start must be before valid_end")
    picture = fields.picture
    if not (isinstance(picture.type, str) and picture.type.isascii() and picture.type.isalnum()):
        raise InvalidInput("picture type must be a short ASCII name such as PNG")
    if not isinstance(picture.data, bytes) or not picture.data:
        raise InvalidInput("picture data must be non-empty bytes")
    if not all(isinstance(v, int) and 0 < v < 10_000 for v in (picture.width_mm, picture.height_mm)):
        raise InvalidInput("picture width and height are whole millimetres")

    prop = SES_ESPropertyInfo()
    prop["type"] = fields.seal_type
    prop["name"] = fields.name
    prop["certListType"] = fields.cert_list_type  # before certList: it picks certList's branch
    prop["certList"] = cert_list
    prop["createDate"] = _time_value(fields.create_date, "create_date")
    prop["validStart"] = _time_value(fields.valid_start, "valid_start")
    prop["validEnd"] = _time_value(fields.valid_end, "valid_end")
    info = SES_SealInfo(
        {
            "header": SES_Header({"ID": _SEAL_ID, "version": _V4, "Vid": fields.vendor_id}),
            "esID": fields.es_id,
            "property": prop,
            "picture": SES_ESPictrueInfo(
                {
                    "type": picture.type.upper(),
                    "data": picture.data,
                    "width": picture.width_mm,
                    "height": picture.height_mm,
                }
            ),
        }
    )
    if fields.extensions:
        info["extDatas"] = ExtensionDatas([_ext_data(e) for e in fields.extensions])
    return info


def _ext_data(ext: SealExtension) -> ExtData:
    if not isinstance(ext.value, bytes) or not isinstance(ext.critical, bool):
        raise InvalidInput("an extension needs bytes for its value and a bool for critical")
    try:
        # `critical` written even when FALSE — a deliberate DER deviation for OFDRW interop (spec §3.7).
        return _ExtDataCriticalAlwaysWritten(
            {"extnID": ext.oid, "critical": ext.critical, "extnValue": ext.value}
        )
    except (ValueError, TypeError):
        raise InvalidInput(f"extension OID {str(ext.oid)[:64]!r} is not a dotted OID") from None


def _require_text(value: object, field: str) -> None:
    if not isinstance(value, str) or not value or not value.isascii() or not value.isprintable():
        raise InvalidInput(f"{field} must be non-empty printable ASCII (IA5String)")


def _time_value(moment: datetime, field: str) -> core.GeneralizedTime:
    """Return ``YYYYMMDDHHMMSSZ`` for ``moment`` in UTC, truncated to the second (spec §3.7: what we emit)."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime")
    return core.GeneralizedTime(moment.astimezone(UTC).replace(microsecond=0))


def _sign_alg_oid(algorithm: SignatureAlgorithm) -> str:
    try:
        algorithm = SignatureAlgorithm(algorithm)
    except ValueError:
        raise UnsupportedAlgorithm(f"unknown signature algorithm {str(algorithm)[:40]!r}") from None
    if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
        # signAlgID is a bare OID: it cannot carry the PSS parameters.
        raise UnsupportedAlgorithm("RSA-PSS cannot be named by a bare signAlgID OID")
    return str(signed_digest_algorithm(algorithm)["algorithm"].dotted)


def _certificate_for(cert_der: bytes, signer: Signer, role: str) -> bytes:
    """Return ``cert_der`` after checking it is a certificate for ``signer``'s key; else InvalidInput."""
    if not isinstance(cert_der, bytes):
        raise InvalidInput(f"the {role} certificate must be DER bytes")
    try:
        cert = x509.Certificate.load(cert_der, strict=True)
        cert_key = cert["tbs_certificate"]["subject_public_key_info"]["public_key"].dump()
    except _PARSE_ERRORS:
        raise InvalidInput(f"the {role} certificate is not a DER X.509 certificate") from None
    if cert_key != signer.public_key_info["public_key"].dump():
        raise InvalidInput(f"the {role} signer's key is not the key of the {role} certificate")
    return cert_der


def make_seal(fields: SealInfoFields, maker_cert_der: bytes, maker_signer: Signer) -> bytes:
    """Return a DER V4 ``SESeal``: ``SES_SealInfo`` from ``fields`` signed by the seal maker (spec §3.3).

    ``maker_signer`` holds the key of ``maker_cert_der``; ``signAlgID`` follows its algorithm (SM2 →
    1.2.156.10197.1.501). The result is parsed back strictly and its signature verified before it is returned.
    Raises ``InvalidInput`` for bad fields or a certificate/key mismatch, ``UnsupportedAlgorithm`` for
    RSA-PSS.
    """
    info_der = build_seal_info(fields)
    cert_der = _certificate_for(maker_cert_der, maker_signer, "maker")
    oid = _sign_alg_oid(maker_signer.algorithm)
    seal = SESeal(
        {
            "eSealInfo": SES_SealInfo.load(info_der),
            "cert": cert_der,
            "signAlgID": oid,
            "signedValue": core.OctetBitString(maker_signer.sign(info_der)),
        }
    )
    der = bytes(seal.dump())
    verify_seal(parse_seal(der, lenient=False))  # self-check, as the CA does for certificates
    return der


def make_signature(
    seal_der: bytes,
    data_hash: bytes,
    property_info: str,
    signer_cert_der: bytes,
    signer: Signer,
    *,
    time_info: datetime,
    timestamp: bytes | Callable[[bytes], bytes] | None = None,
) -> bytes:
    """Return a DER V4 ``SES_Signature`` over ``data_hash``, ``seal_der`` embedded byte for byte (§3.3).

    Before signing, as GB/T 38540 §7.2 a) asks: the seal must be a V4 seal whose maker signature verifies, and
    ``signer_cert_der`` must be listed in it (InvalidInput otherwise). ``data_hash`` is the 32-byte digest
    of the original data (SM3 for SM2; for OFD, of the raw ``Signature.xml``); ``property_info`` the IA5
    locator; ``time_info`` the signing time (aware; written ``YYYYMMDDHHMMSSZ`` in UTC).

    ``timestamp`` goes into ``timeStamp [0]``, EXPLICIT as OFDRW writes it (spec §3.7; the standard's
    tagging is unverified). The token must cover the signature value, which exists only once this function
    has signed, so pass a callable (signature value → token DER, e.g. a TSA client); plain bytes are for a
    token obtained beforehand for exactly this value (re-assembly, tests).
    """
    if not isinstance(seal_der, bytes):
        raise InvalidInput("seal_der must be bytes")
    try:
        seal = parse_seal(seal_der)
        verify_seal(seal)
    except (MalformedInput, InvalidSignature) as exc:
        raise InvalidInput(f"the seal cannot be used: {exc.detail}") from None
    if seal.version != _V4:
        raise InvalidInput(f"only GB/T 38540 (V4) seals are used for signing, not V{seal.version}")
    if not isinstance(data_hash, bytes) or len(data_hash) != _HASH_LEN:
        raise InvalidInput("data_hash must be the 32-byte SM3 (or SHA-256) digest of the original data")
    _require_text(property_info, "property_info")
    cert_der = _certificate_for(signer_cert_der, signer, "signer")
    if not signer_is_listed(seal, cert_der):
        raise InvalidInput("the signer certificate is not listed in the seal")
    oid = _sign_alg_oid(signer.algorithm)

    tbs = TBS_Sign(
        {
            "version": _V4,
            "eseal": SESeal.load(seal_der),
            "timeInfo": _time_value(time_info, "time_info"),
            "dataHash": core.OctetBitString(data_hash),
            "propertyInfo": property_info,
        }
    )
    tbs_der = bytes(tbs.dump())
    signature = signer.sign(tbs_der)
    value = SES_Signature(
        {
            "toSign": TBS_Sign.load(tbs_der),
            "cert": cert_der,
            "signatureAlgID": oid,
            "signature": core.OctetBitString(signature),
        }
    )
    token = timestamp(signature) if callable(timestamp) else timestamp
    if token is not None:
        if not isinstance(token, bytes) or not token:
            raise InvalidInput("the time-stamp token must be non-empty DER bytes")
        value["timeStamp"] = core.OctetBitString(token)
    der = bytes(value.dump())
    # Self-check. Lenient parse because the embedded seal may be another vendor's (its deviations are its
    # own); our part must have no deviation and a canonical signature value.
    parsed = parse_signature(der)
    if parsed.warnings or parsed.seal.der != seal_der:
        raise MalformedInput("self-check failed: the SES_Signature made does not parse back as written")
    verify_signature_value(parsed, lenient=False)
    return der


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw
