"""Trust lists: our signed list of this territory's CAs, seal makers, TSAs and services, and other lists.

No public national trust-list format exists (spec/standards.md §7), so trustsvc publishes its own: a JSON
document any relying party can verify with the ``openssl`` command line, served at ``GET /trust-list``.
docs/TRUST-LIST.md is the reference for other implementers, with an example and the openssl commands.

**The payload** (``trustsvc-trust-list/1``, canonical JSON: UTF-8, keys sorted, no insignificant whitespace)
names the territory (GB/T 2260 ``region_code`` and ``region_name``) and the operator (name, USCC), carries a
``sequence`` number, ``issued_at`` and ``next_update``, and lists entries:

* ``ca`` — each root and issuing CA of every hierarchy (SM2, and ECDSA/RSA when made), with the OCSP, CRL
  (complete and delta) and caIssuers URLs that answer for the certificates it issued;
* ``seal-maker`` — the seal-maker (制章者) certificates, with the seal-status URL template ``{es_id}``;
* ``tsa`` — the time-stamp authorities, with their URL;
* ``ocsp-responder`` — the delegated responder certificates (informative: they chain to the CA);
* ``issuing-organisation`` — organisations whose documents this territory vouches for: the operator, and
  whatever the ``organisations`` hook adds (the licence module's issuing authorities). Seal-holding
  organisations are deliberately *not* listed — a province has up to millions; a seal's status is asked
  per seal at the seal-status URL.

Certificate entries carry the DER (base64) and SHA-256/SM3 fingerprints; a revoked or held CA or service
certificate is left out (a CA's certificate is withdrawn from the list, never revoked in place).

**The envelope** is the one :mod:`trustsvc.seal.status` answers use (``trustsvc-signed-json/1``): the payload
bytes in base64, the signature over exactly those bytes (DER; SM2 with user ID ``1234567812345678`` and SM3,
or ECDSA P-256 with SHA-256), the algorithm, and the signer's certificate followed by its issuing CA's
(PEM). Decision, JSON envelope rather than CMS SignedData: OpenSSL 3.0's ``cms -verify`` cannot pass an SM2
distinguishing ID (the same limit :mod:`trustsvc.ca.timestamping` works around), while ``openssl dgst
-sm3 -sigopt distid:1234567812345678`` verifies the envelope for SM2 and ``openssl dgst -sha256`` for
ECDSA; a verifier never re-serialises JSON, it verifies the decoded bytes and only then parses them.

**Signing.** A trust-list signer certificate (profile ``trust-list-signer``, EKU id-tsl-kp-tslSigning of
ETSI TS 119 612) is issued to the operator by each issuing CA at ``trustsvc init``
(:meth:`TrustListService.init_signers`); it is found by profile — the newest good, unexpired one of that
CA whose key is in our key store. ``GET /trust-list`` serves the SM2 issue, ``?alg=ecdsa`` (``rsa``) the
same payload signed by the other hierarchy's signer.

**Sequence and re-signing** (:meth:`TrustListService.current`). The content is rebuilt from the database on
every read (a handful of small queries) and compared by hash (``content_sha256``: the payload without
``sequence``, ``issued_at`` and ``next_update``) with the newest issue:

* content changed → a new issue with sequence + 1, allocated by the database (unique (sequence,
  hierarchy): the loser of a race re-reads and finds the content published);
* same content, older than ``trust_list_refresh_seconds`` (24 h) → re-signed under the *same* sequence with
  new ``issued_at``/``next_update`` (``trust_list_validity_seconds``, 7 days);
* a hierarchy whose signer changed or that has no issue yet → the current payload signed by it.

Every issue is audited (``trust-list.publish``: sequence, reason, hierarchies, payload hash).

**Imported lists** (:meth:`TrustListService.import_list`, :meth:`~TrustListService.refresh`): another
territory's list is accepted only when signed by the **pinned** signer — an exact certificate (its DER
must match) or the SHA-256 of a SubjectPublicKeyInfo (``sha256:<hex>``; survives a re-certification of the
same key). The pin is given at the first import and never changes silently: a key roll-over is an
out-of-band decision, done by removing the list and importing it again with the new pin (decision: no
in-band roll-over, so a stolen signer key cannot introduce its successor). An issue is accepted when its
signature verifies, the signer certificate was valid at ``issued_at``, it is not already past its
``next_update``, and it does not go back (:class:`TrustListRollback`): a lower sequence is refused; the
same sequence is accepted only as a re-issue of the same content with a later ``issued_at`` (an equal one
is "unchanged"); new content needs a higher sequence. Refresh fetches over HTTP(S) only
(:func:`http_fetch`: timeout, size limit, redirects to other schemes refused); any failure raises a typed
error (:class:`TrustListFetchFailed` when the list cannot be fetched) and keeps the stored issue, recording
the error (status ``stale``) and auditing it. Past its ``next_update`` a list is ``expired``: its anchors
remain in the trust store marked expired (see :mod:`trustsvc.verify.truststore`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from asn1crypto import pem, x509
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustsvc.audit import AuditLog
from trustsvc.ca.authority import CertificateAuthorityService, name_text
from trustsvc.ca.models import (
    CaRole,
    CertificateAuthority,
    CertificateStatus,
    IssuedCertificate,
    ServiceCertificate,
    ServiceRole,
)
from trustsvc.ca.profiles import ProfileKind, SubjectInfo, uscc_of, utc_seconds
from trustsvc.ca.x509 import ca_certificate_url, crl_url, delta_crl_url, ocsp_url
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import (
    Conflict,
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    TrustsvcError,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.keystore import KeyStore
from trustsvc.keys.signer import Signer
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.keys.sm2 import DEFAULT_SM2_ID
from trustsvc.keys.sm3 import sm3
from trustsvc.verify.status import HttpFetcher, StatusUnavailable
from trustsvc.verify.trustlist_models import (
    MAX_CODE,
    MAX_LIST_NAME,
    MAX_TEXT,
    ImportedTrustList,
    TrustEntryRecord,
    TrustListPublication,
)
from trustsvc.verify.truststore import (
    CERTIFICATE_KINDS,
    LOCAL_ANCHORS,
    OWN_LIST,
    AnchorSource,
    Entry,
    EntryKind,
    ListStatus,
    Purpose,
    Services,
    TrustStore,
    list_status,
    local_anchor_entries,
)

__all__ = [
    "DEFAULT_HIERARCHY",
    "ENVELOPE_FORMAT",
    "FORMAT",
    "ImportResult",
    "ImportedList",
    "Organisation",
    "Pin",
    "Publication",
    "SignedTrustList",
    "TrustListDocument",
    "TrustListExpired",
    "TrustListFetchFailed",
    "TrustListRollback",
    "TrustListService",
    "http_fetch",
    "verify_trust_list",
]

log = logging.getLogger(__name__)

FORMAT: Final = "trustsvc-trust-list/1"
ENVELOPE_FORMAT: Final = "trustsvc-signed-json/1"
DEFAULT_HIERARCHY: Final = "sm2"
SYSTEM_ACTOR: Final = "system:trust-list"
#: Largest envelope accepted from a file or over HTTP.
MAX_DOCUMENT: Final = 8 * 1024 * 1024
MAX_ENTRIES: Final = 10_000
MAX_URL: Final = 2000
#: Seconds allowed for a whole fetch (connect, redirects, body).
FETCH_TIMEOUT: Final = 15.0
MAX_REDIRECTS: Final = 3
#: How far in the future an imported issue's issued_at may lie (the other side's clock).
CLOCK_SKEW: Final = timedelta(minutes=5)
#: init_signers issues a new signer certificate when the current one expires within this time.
SIGNER_RENEW_BEFORE: Final = timedelta(days=30)
PUBLISH_ATTEMPTS: Final = 5

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_LIST_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_DATED_FIELDS = ("sequence", "issued_at", "next_update")
_RESERVED_NAMES = frozenset({OWN_LIST, LOCAL_ANCHORS})
_ENVELOPE_ALGORITHMS = frozenset(
    {SignatureAlgorithm.SM2_SM3, SignatureAlgorithm.ECDSA_SHA256, SignatureAlgorithm.RSA_PKCS1_SHA256}
)
_KIND_ORDER = {kind: index for index, kind in enumerate(EntryKind)}
_ALGORITHM_LABEL = {KeyAlgorithm.SM2: "SM2", KeyAlgorithm.ECDSA_P256: "ECDSA", KeyAlgorithm.RSA_3072: "RSA"}
_HIERARCHY_ALIASES = {
    "sm2-sm3": "sm2",
    "ecdsa-p256": "ecdsa",
    "ecdsa-sha256": "ecdsa",
    "rsa-3072": "rsa",
    "rsa-pkcs1-sha256": "rsa",
}
_SERVICE_KINDS = {
    ServiceRole.SEAL_MAKER.value: EntryKind.SEAL_MAKER,
    ServiceRole.TSA.value: EntryKind.TSA,
    ServiceRole.OCSP_RESPONDER.value: EntryKind.OCSP_RESPONDER,
}


# --- errors ----------------------------------------------------------------------------------------
# Typed like those of trustsvc.errors (status and problem type); candidates to move there.


class TrustListRollback(Conflict):
    """An issue that goes back: lower sequence, or different content under the same sequence."""

    problem = "trust-list-rollback"
    title = "Trust list would go back"


class TrustListExpired(Conflict):
    """An issue that is already past its nextUpdate is not imported."""

    problem = "trust-list-expired"
    title = "Trust list expired"


class TrustListFetchFailed(TrustsvcError):
    """The list could not be fetched (network, HTTP status, size, timeout); the stored issue is kept."""

    status = 502
    problem = "trust-list-unavailable"
    title = "Trust list unavailable"


# --- values --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """An organisation listed as ``issuing-organisation``."""

    name: str
    uscc: str


@dataclass(frozen=True)
class Pin:
    """The signer an imported list must be signed by: SPKI SHA-256, and the exact certificate if pinned so."""

    spki_sha256: str
    certificate_der: bytes | None = None

    @classmethod
    def from_certificate(cls, data: bytes) -> Pin:
        """Return a pin to exactly this certificate (PEM or DER)."""
        der = _certificate_der(data)
        try:
            certificate = x509.Certificate.load(der, strict=True)
            spki = certificate.public_key.dump()
        except (ValueError, TypeError) as exc:
            raise MalformedInput(f"the pinned signer is not an X.509 certificate: {exc}") from None
        return cls(hashlib.sha256(spki).hexdigest(), der)

    @classmethod
    def from_spki_sha256(cls, text: str) -> Pin:
        """Return a pin to a public key: ``sha256:<64 hex>`` (or the bare hex, colons allowed)."""
        value = text.strip().lower().removeprefix("sha256:").replace(":", "")
        if not _HEX64_RE.fullmatch(value):
            raise InvalidInput("an SPKI pin is sha256:<64 hexadecimal digits>")
        return cls(value)

    def matches(self, certificate_der: bytes) -> bool:
        if self.certificate_der is not None:
            return certificate_der == self.certificate_der
        certificate = x509.Certificate.load(certificate_der)
        return hashlib.sha256(certificate.public_key.dump()).hexdigest() == self.spki_sha256

    def describe(self) -> str:
        kind = "certificate" if self.certificate_der is not None else "key"
        return f"{kind} sha256:{self.spki_sha256}"


@dataclass(frozen=True)
class TrustListDocument:
    """A parsed payload: who publishes, which issue, and the entries (without a source yet)."""

    payload: bytes
    territory_code: str
    territory_name: str
    operator_name: str
    operator_uscc: str
    sequence: int
    issued_at: datetime
    next_update: datetime
    entries: tuple[dict[str, Any], ...]  # validated entry JSON, see _parse_entry
    pointers: dict[str, Any]
    content_sha256: str


@dataclass(frozen=True)
class SignedTrustList:
    """A trust list whose signature verified with a pinned signer."""

    document: TrustListDocument
    envelope: bytes
    signature_algorithm: SignatureAlgorithm
    certificates: tuple[bytes, ...]  # DER, the signer's first

    @property
    def signer_certificate(self) -> bytes:
        return self.certificates[0]


@dataclass(frozen=True)
class Publication:
    """One hierarchy's current issue of our list: what ``GET /trust-list`` serves."""

    hierarchy: str
    sequence: int
    issued_at: datetime
    next_update: datetime
    refresh_at: datetime  # when it will be re-signed (never after next_update)
    content_sha256: str
    payload: bytes
    document: bytes
    signer_certificate: bytes


@dataclass(frozen=True)
class ImportedList:
    """An imported list as stored, with its status at the time it was read."""

    name: str
    source_url: str | None
    territory_code: str
    territory_name: str
    operator_name: str
    operator_uscc: str
    sequence: int
    issued_at: datetime
    next_update: datetime
    imported_at: datetime
    refreshed_at: datetime
    last_attempt_at: datetime
    last_error: str | None
    pin: Pin
    signature_algorithm: str
    signer_sha256: str
    entries: int
    status: ListStatus

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source_url": self.source_url,
            "territory": {"code": self.territory_code, "name": self.territory_name},
            "operator": {"name": self.operator_name, "uscc": self.operator_uscc},
            "sequence": self.sequence,
            "issued_at": iso(self.issued_at),
            "next_update": iso(self.next_update),
            "status": self.status.value,
            "entries": self.entries,
            "imported_at": iso(self.imported_at),
            "refreshed_at": iso(self.refreshed_at),
            "last_attempt_at": iso(self.last_attempt_at),
            "last_error": self.last_error,
            "pin": self.pin.describe(),
            "signature_algorithm": self.signature_algorithm,
            "signer_sha256": self.signer_sha256,
        }


@dataclass(frozen=True)
class ImportResult:
    """What an import or refresh did: ``imported``, ``updated``, ``reissued`` or ``unchanged``."""

    outcome: str
    list: ImportedList
    previous_sequence: int | None


@dataclass(frozen=True)
class _SignerInfo:
    hierarchy: str
    certificate_id: int
    key_id: str
    certificate_der: bytes
    issuer_der: bytes


@dataclass(frozen=True)
class _Plan:
    sequence: int
    payload: bytes
    issued_at: datetime
    next_update: datetime
    reason: str  # "content-changed" | "refresh" | "new-signer"
    hierarchies: tuple[str, ...]
    guards: Mapping[str, TrustListPublication]  # existing rows to replace, by hierarchy


class _Raced(Exception):
    """Another process published meanwhile; read again."""


# --- format --------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """Return ``moment`` as UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def canonical_json(value: Any) -> bytes:
    """Return ``value`` as canonical JSON bytes: UTF-8, keys sorted, no whitespace, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def content_sha256(payload: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the payload's content: everything but sequence, issued_at, next_update."""
    content = {k: v for k, v in payload.items() if k not in _DATED_FIELDS}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def sign_envelope(payload: bytes, signer: Signer, certificates: Sequence[bytes]) -> bytes:
    """Return the ``trustsvc-signed-json/1`` envelope over ``payload`` (certificates DER, signer's first)."""
    algorithm = SignatureAlgorithm(signer.algorithm)
    if algorithm not in _ENVELOPE_ALGORITHMS:
        raise InvalidInput(f"trust lists are not signed with {algorithm}")
    envelope: dict[str, Any] = {
        "format": ENVELOPE_FORMAT,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signature_algorithm": algorithm.value,
    }
    if algorithm is SignatureAlgorithm.SM2_SM3:
        envelope["sm2_user_id"] = DEFAULT_SM2_ID.decode("ascii")
    envelope["signature"] = base64.b64encode(signer.sign(payload)).decode("ascii")
    envelope["certificates"] = [pem.armor("CERTIFICATE", der).decode("ascii") for der in certificates]
    return json.dumps(envelope, indent=2).encode("ascii") + b"\n"


def verify_trust_list(envelope: bytes, pin: Pin) -> SignedTrustList:
    """Return the trust list in ``envelope`` after checking it is signed by the pinned signer.

    Raises MalformedInput (not an envelope or not a trust list), PayloadTooLarge, InvalidSignature (signer
    not the pinned one, signature does not verify, signer certificate not valid at ``issued_at``).
    Freshness and rollback are the caller's checks.
    """
    if len(envelope) > MAX_DOCUMENT:
        raise PayloadTooLarge(f"a trust list is at most {MAX_DOCUMENT} bytes")
    try:
        body = json.loads(envelope)
        if not isinstance(body, dict) or body.get("format") != ENVELOPE_FORMAT:
            raise MalformedInput(f"not a {ENVELOPE_FORMAT} document")
        try:
            algorithm = SignatureAlgorithm(str(body.get("signature_algorithm")))
        except ValueError:
            raise MalformedInput("unsupported signature_algorithm") from None
        if algorithm not in _ENVELOPE_ALGORITHMS:
            raise MalformedInput(f"unsupported signature_algorithm {algorithm}")
        uid = DEFAULT_SM2_ID
        if algorithm is SignatureAlgorithm.SM2_SM3:
            uid = str(body["sm2_user_id"]).encode("ascii")
        payload = base64.b64decode(body["payload"], validate=True)
        signature = base64.b64decode(body["signature"], validate=True)
        pems = body["certificates"]
        if not isinstance(pems, list) or not pems:
            raise MalformedInput("the trust list carries no signer certificate")
        certificates = tuple(_certificate_der(str(text).encode("ascii")) for text in pems)
        signer = x509.Certificate.load(certificates[0], strict=True)
        spki = signer.public_key
        not_before, not_after = signer.not_valid_before, signer.not_valid_after
    except (MalformedInput, PayloadTooLarge):
        raise
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise MalformedInput("the trust list envelope is not well-formed") from None
    if not pin.matches(certificates[0]):
        signer_hash = hashlib.sha256(spki.dump()).hexdigest()
        raise InvalidSignature(
            f"the trust list is signed by key sha256:{signer_hash}, not by the pinned signer "
            f"({pin.describe()})"
        )
    verify_signature(spki, algorithm, payload, signature, uid=uid)
    document = parse_payload(payload)
    if not not_before <= document.issued_at <= not_after:
        raise InvalidSignature("the signer certificate was not valid when the trust list was issued")
    return SignedTrustList(
        document=document, envelope=envelope, signature_algorithm=algorithm, certificates=certificates
    )


def parse_payload(payload: bytes) -> TrustListDocument:
    """Return the checked contents of trust-list payload bytes; MalformedInput for anything amiss."""
    try:
        body = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeError):
        raise MalformedInput("the trust list payload is not UTF-8 JSON") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise MalformedInput(f"the signed payload is not a {FORMAT} document")
    territory = _object(body, "territory")
    operator = _object(body, "operator")
    sequence = body.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 < sequence < 2**63:
        raise MalformedInput("sequence must be a positive integer")
    issued_at = _time(body.get("issued_at"), "issued_at")
    next_update = _time(body.get("next_update"), "next_update")
    if next_update <= issued_at:
        raise MalformedInput("next_update must come after issued_at")
    entries = body.get("entries")
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise MalformedInput(f"entries must be a list of at most {MAX_ENTRIES}")
    parsed = tuple(e for e in (_parse_entry(item, index) for index, item in enumerate(entries)) if e)
    pointers = body.get("pointers", {})
    if not isinstance(pointers, dict):
        raise MalformedInput("pointers must be an object")
    return TrustListDocument(
        payload=payload,
        territory_code=_text(territory, "code", MAX_CODE, required=False),
        territory_name=_text(territory, "name", MAX_TEXT, required=False),
        operator_name=_text(operator, "name", MAX_TEXT),
        operator_uscc=_text(operator, "uscc", MAX_CODE, required=False),
        sequence=sequence,
        issued_at=issued_at,
        next_update=next_update,
        entries=parsed,
        pointers=pointers,
        content_sha256=content_sha256(body),
    )


def _parse_entry(item: Any, index: int) -> dict[str, Any] | None:
    """Return a checked entry (certificate DER decoded), or None for a kind this version does not know."""
    where = f"entry {index}"
    if not isinstance(item, dict):
        raise MalformedInput(f"{where} is not an object")
    try:
        kind = EntryKind(str(item.get("kind")))
    except ValueError:
        return None  # a later format's kind: it grants nothing here
    entry: dict[str, Any] = {"kind": kind, "name": _text(item, "name", MAX_TEXT, where=where)}
    organisation = item.get("organisation") or {}
    if not isinstance(organisation, dict):
        raise MalformedInput(f"{where}: organisation must be an object")
    entry["org_name"] = _text(organisation, "name", MAX_TEXT, required=False, where=where) or None
    entry["org_uscc"] = _text(organisation, "uscc", MAX_CODE, required=False, where=where) or None
    if entry["org_uscc"]:
        entry["org_uscc"] = entry["org_uscc"].upper()
    role = item.get("role")
    entry["role"] = role if isinstance(role, str) and role in ("root", "issuing") else None
    entry["services"] = _parse_services(item.get("services", {}), where)
    if kind in CERTIFICATE_KINDS:
        try:
            der = base64.b64decode(item["certificate"], validate=True)
            certificate = x509.Certificate.load(der, strict=True)
            subject = certificate.subject
            certificate.public_key.dump()
            not_before, not_after = certificate.not_valid_before, certificate.not_valid_after
        except (KeyError, ValueError, TypeError, binascii.Error):
            raise MalformedInput(f"{where}: certificate is not a base64 DER X.509 certificate") from None
        if item.get("sha256") != hashlib.sha256(der).hexdigest():
            raise MalformedInput(f"{where}: sha256 does not match the certificate")
        if "sm3" in item and item["sm3"] != sm3(der).hex():
            raise MalformedInput(f"{where}: sm3 does not match the certificate")
        entry["certificate_der"] = der
        entry["valid_from"], entry["valid_until"] = not_before, not_after
        if entry["org_uscc"] is None:
            entry["org_uscc"] = uscc_of(subject)
    return entry


def _parse_services(value: Any, where: str) -> Services:
    if not isinstance(value, dict):
        raise MalformedInput(f"{where}: services must be an object")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("ocsp", "crl", "ca_issuers"):
        urls = value.get(name, [])
        if not isinstance(urls, list) or len(urls) > 16:
            raise MalformedInput(f"{where}: services.{name} must be a list of URLs")
        lists[name] = tuple(_url(u, f"{where}: services.{name}") for u in urls)
    single: dict[str, str | None] = {}
    for name, placeholder in (("tsa", None), ("seal_status", "{es_id}"), ("licence_status", "{identifier}")):
        url = value.get(name)
        if url is None:
            single[name] = None
            continue
        checked = _url(url, f"{where}: services.{name}")
        if placeholder is not None and placeholder not in checked:
            raise MalformedInput(f"{where}: services.{name} must contain {placeholder}")
        single[name] = checked
    return Services(
        ocsp=lists["ocsp"],
        crl=lists["crl"],
        ca_issuers=lists["ca_issuers"],
        tsa=single["tsa"],
        seal_status=single["seal_status"],
        licence_status=single["licence_status"],
    )


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise MalformedInput(f"{where} must be an http(s) URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MalformedInput(f"{where} must be an http(s) URL")
    return value


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise MalformedInput(f"{name} must be an object")
    return value


def _text(
    body: Mapping[str, Any], name: str, limit: int, *, required: bool = True, where: str = "trust list"
) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise MalformedInput(f"{where}: {name} must be a string of {'1' if required else '0'} to {limit}")
    return value


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise MalformedInput(f"{name} must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise MalformedInput(f"{name} is not a valid time") from None


def _certificate_der(data: bytes) -> bytes:
    if pem.detect(data):
        try:
            kind, _, der = pem.unarmor(data)
        except ValueError:
            raise MalformedInput("malformed PEM certificate") from None
        if kind != "CERTIFICATE":
            raise MalformedInput(f"expected a CERTIFICATE, not {kind}")
        return bytes(der)
    return bytes(data)


def entry_from_json(item: Mapping[str, Any], source: AnchorSource) -> Entry:
    """Return the trust-store entry of a checked entry (from :func:`parse_payload`)."""
    return Entry(
        kind=item["kind"],
        name=item["name"],
        source=source,
        certificate_der=item.get("certificate_der"),
        organisation_name=item.get("org_name"),
        organisation_uscc=item.get("org_uscc"),
        services=item["services"],
        role=item.get("role"),
    )


# --- fetching ------------------------------------------------------------------------------------


Fetcher = Callable[[str], bytes]


def check_source_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL a list may be fetched from; InvalidInput otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        raise InvalidInput("a trust list is fetched from an http:// or https:// URL")
    return url


def http_fetch(url: str, *, timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_DOCUMENT) -> bytes:
    """Return the body of a GET of ``url``: http(s) only, at most ``max_bytes``, within ``timeout`` seconds.

    Every failure — DNS, connection, TLS, an HTTP status other than 200, a body over the limit, the time
    limit — raises TrustListFetchFailed naming the URL and the reason.
    """
    check_source_url(url)
    try:
        return HttpFetcher(timeout=timeout, max_bytes=max_bytes)(url)
    except StatusUnavailable as exc:
        raise TrustListFetchFailed(exc.detail) from None


# --- the service ---------------------------------------------------------------------------------


class TrustListService:
    """Our published trust list, imported lists of other territories, and the trust store built from both.

    ``fetch`` (default :func:`http_fetch`) is how refreshes get a list from its URL; ``organisations``
    returns extra ``issuing-organisation`` entries (the operator is always listed).
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        keystore: Callable[[], KeyStore],
        ca: CertificateAuthorityService,
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        *,
        read_sessions: Callable[[], Session] | None = None,
        fetch: Fetcher | None = None,
        organisations: Callable[[], Iterable[Organisation]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._keystore = keystore
        self._ca = ca
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._refresh = timedelta(seconds=settings.trust_list_refresh_seconds)
        self._validity = timedelta(seconds=settings.trust_list_validity_seconds)
        self._base = settings.public_base_url
        self.fetch: Fetcher = fetch or http_fetch
        self._organisations = organisations

    # --- signers -----------------------------------------------------------------------------------

    def init_signers(self, *, actor: str) -> tuple[list[str], list[str]]:
        """Return (what was made, one line per signer) after giving every issuing CA a trust-list signer.

        An issuing CA without one gets one (a new key in the key store), and so does one whose signer
        expires within :data:`SIGNER_RENEW_BEFORE`.
        """
        created: list[str] = []
        lines: list[str] = []
        now = self._clock()
        for ca in self._ca.cas():
            if ca.role is not CaRole.ISSUING:
                continue
            found = self._signer_row(ca.id, now + SIGNER_RENEW_BEFORE)
            if found is None:
                label = _ALGORITHM_LABEL[ca.algorithm]
                org, uscc = self._settings.pki_org_name, self._settings.pki_org_uscc
                common_name = f"{org} {label}信任列表签名"
                if len(common_name) > 64:
                    common_name = f"{label}信任列表签名"
                row, _ = self._ca.issue_for_new_key(
                    ca.name,
                    ProfileKind.TRUST_LIST_SIGNER,
                    SubjectInfo(common_name=common_name, organization=org, uscc=uscc),
                    ca.algorithm,
                    actor=actor,
                    label=f"trust-list signer {ca.name}",
                )
                created.append(f"{ProfileKind.TRUST_LIST_SIGNER} certificate of {ca.name}")
                found = row
            lines.append(
                f"{ca.name} {ProfileKind.TRUST_LIST_SIGNER}: serial {found.serial}, until "
                f"{found.not_after:%Y-%m-%d}, key {found.key_id}, {found.subject}"
            )
        return created, lines

    def signer_certificate(self, hierarchy: str = DEFAULT_HIERARCHY) -> bytes:
        """Return the DER of the certificate that signs ``hierarchy``'s issue (what other territories pin)."""
        hierarchy = _hierarchy(hierarchy)
        signer = self._signers(self._clock()).get(hierarchy)
        if signer is None:
            raise NotFound(f"no trust-list signer for hierarchy {hierarchy!r}: run `trustsvc init`")
        return signer.certificate_der

    def service_signer(self, hierarchy: str = DEFAULT_HIERARCHY) -> tuple[Signer, tuple[bytes, bytes]]:
        """Return the current trust-list signer of ``hierarchy`` and its chain (DER: its own, its CA's).

        Also the key that signs the service's own statements that are not about one seal (signed verification
        reports, :mod:`trustsvc.verify.report`): the service speaking about trust.
        """
        hierarchy = _hierarchy(hierarchy)
        signer = self._signers(self._clock()).get(hierarchy)
        if signer is None:
            raise NotFound(f"no trust-list signer for hierarchy {hierarchy!r}: run `trustsvc init`")
        return self._keystore().signer(signer.key_id), (signer.certificate_der, signer.issuer_der)

    def _signer_row(self, ca_id: int, valid_at: datetime) -> IssuedCertificate | None:
        with self._read_sessions() as session, session.begin():
            return session.execute(
                select(IssuedCertificate)
                .where(
                    IssuedCertificate.ca_id == ca_id,
                    IssuedCertificate.profile == ProfileKind.TRUST_LIST_SIGNER.value,
                    IssuedCertificate.status == CertificateStatus.GOOD.value,
                    IssuedCertificate.key_id.is_not(None),
                    IssuedCertificate.not_after > valid_at,
                )
                .order_by(IssuedCertificate.not_before.desc(), IssuedCertificate.id.desc())
                .limit(1)
            ).scalar_one_or_none()

    def _signers(self, now: datetime) -> dict[str, _SignerInfo]:
        with self._read_sessions() as session, session.begin():
            issuing = session.execute(
                select(CertificateAuthority).where(CertificateAuthority.role == CaRole.ISSUING.value)
            ).scalars()
            cas = {ca.id: (ca.name, ca.certificate_der) for ca in issuing}
            rows = session.execute(
                select(IssuedCertificate)
                .where(
                    IssuedCertificate.ca_id.in_(cas),
                    IssuedCertificate.profile == ProfileKind.TRUST_LIST_SIGNER.value,
                    IssuedCertificate.status == CertificateStatus.GOOD.value,
                    IssuedCertificate.key_id.is_not(None),
                    IssuedCertificate.not_before <= now,
                    IssuedCertificate.not_after > now,
                )
                .order_by(IssuedCertificate.not_before, IssuedCertificate.id)
            ).scalars()
            signers: dict[str, _SignerInfo] = {}
            for row in rows:  # ascending: the newest of each CA wins
                name, issuer_der = cas[row.ca_id]
                hierarchy = _hierarchy_of(name)
                assert row.key_id is not None  # filtered above
                signers[hierarchy] = _SignerInfo(hierarchy, row.id, row.key_id, row.der, issuer_der)
        return signers

    # --- our list ----------------------------------------------------------------------------------

    def hierarchies(self) -> list[str]:
        """Return the hierarchies our list is published in (those with a signer), SM2 first."""
        return sorted(self._signers(self._clock()), key=lambda h: (h != DEFAULT_HIERARCHY, h))

    def content(self) -> dict[str, Any]:
        """Return the content of our list as it stands in the database (payload without its dates)."""
        with self._read_sessions() as session, session.begin():
            cas = list(
                session.execute(select(CertificateAuthority).order_by(CertificateAuthority.id)).scalars()
            )
            by_id = {ca.id: ca for ca in cas}
            ca_rows = {
                (row.ca_id, row.serial): row.status
                for row in session.execute(
                    select(IssuedCertificate).where(
                        IssuedCertificate.profile.in_((ProfileKind.ROOT.value, ProfileKind.ISSUING_CA.value))
                    )
                ).scalars()
            }
            services = list(
                session.execute(
                    select(ServiceCertificate.ca_id, ServiceCertificate.role, IssuedCertificate).join(
                        IssuedCertificate, ServiceCertificate.certificate_id == IssuedCertificate.id
                    )
                ).all()
            )
        entries: list[dict[str, Any]] = []
        for ca in cas:
            issuer_id = ca.parent_id if ca.parent_id is not None else ca.id
            if (
                ca_rows.get((issuer_id, ca.serial), CertificateStatus.GOOD.value)
                != CertificateStatus.GOOD.value
            ):
                continue  # a CA withdrawn by its root is left out
            urls = {
                "crl": [crl_url(self._base, ca.name), delta_crl_url(self._base, ca.name)],
                "ca_issuers": [ca_certificate_url(self._base, ca.name)],
            }
            if ca.role == CaRole.ISSUING.value:
                urls = {"ocsp": [ocsp_url(self._base)], **urls}
            entries.append(
                _certificate_entry(
                    EntryKind.CA, ca.name, ca.certificate_der, ca.algorithm, urls, role=ca.role
                )
            )
        for ca_id, role, row in services:
            kind = _SERVICE_KINDS.get(role)
            if kind is None or row.status != CertificateStatus.GOOD.value or ca_id not in by_id:
                continue
            ca = by_id[ca_id]
            endpoints: dict[str, Any] = {}
            if kind is EntryKind.SEAL_MAKER:
                endpoints["seal_status"] = self._seal_status_template()
            elif kind is EntryKind.TSA:
                hierarchy = _hierarchy_of(ca.name)
                suffix = "" if hierarchy == DEFAULT_HIERARCHY else f"/{hierarchy}"
                endpoints["tsa"] = f"{self._base}/tsa{suffix}"
            elif kind is EntryKind.OCSP_RESPONDER:
                endpoints["ocsp"] = [ocsp_url(self._base)]
            entries.append(
                _certificate_entry(kind, f"{ca.name}/{role}", row.der, row.key_algorithm, endpoints)
            )
        organisations = {self._settings.pki_org_uscc: self._settings.pki_org_name}
        for organisation in self._organisations() if self._organisations else ():
            organisations.setdefault(organisation.uscc, organisation.name)
        for uscc, name in organisations.items():
            entries.append(
                {
                    "kind": EntryKind.ISSUING_ORGANISATION.value,
                    "name": name,
                    "organisation": {"name": name, "uscc": uscc},
                    "services": {
                        "seal_status": self._seal_status_template(),
                        "licence_status": f"{self._base}/licenses/{{identifier}}/status",
                    },
                }
            )
        entries.sort(key=lambda e: (_KIND_ORDER[EntryKind(e["kind"])], e["name"], e.get("sha256", "")))
        hierarchies = sorted(
            {_hierarchy_of(ca.name) for ca in cas if ca.role == CaRole.ISSUING.value},
            key=lambda h: (h != DEFAULT_HIERARCHY, h),
        )
        return {
            "format": FORMAT,
            "territory": {
                "code": self._settings.region_code,
                "name": self._settings.region_name,
            },
            "operator": {"name": self._settings.pki_org_name, "uscc": self._settings.pki_org_uscc},
            "entries": entries,
            "pointers": {
                "self": f"{self._base}/trust-list",
                "variants": {h: f"{self._base}/trust-list?alg={h}" for h in hierarchies},
            },
        }

    def _seal_status_template(self) -> str:
        return f"{self._base}/seals/{{es_id}}/status"

    def published(self, hierarchy: str = DEFAULT_HIERARCHY) -> Publication | None:
        """Return the newest stored issue for ``hierarchy`` without publishing anything, or None."""
        hierarchy = _hierarchy(hierarchy)
        with self._read_sessions() as session, session.begin():
            row = session.execute(
                select(TrustListPublication)
                .where(TrustListPublication.hierarchy == hierarchy)
                .order_by(TrustListPublication.sequence.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                return None
            signer = session.get(IssuedCertificate, row.signer_certificate_id)
            return self._publication(row, signer.der if signer is not None else b"")

    def current(self, hierarchy: str = DEFAULT_HIERARCHY, *, actor: str = SYSTEM_ACTOR) -> Publication:
        """Return the current issue of our list for ``hierarchy``, publishing a new one if it is due.

        NotFound when ``hierarchy`` has no trust-list signer (``trustsvc init`` makes them).
        """
        hierarchy = _hierarchy(hierarchy)
        for _attempt in range(PUBLISH_ATTEMPTS):
            now = self._clock()
            signers = self._signers(now)
            if hierarchy not in signers:
                raise NotFound(f"no trust list for hierarchy {hierarchy!r}: it has no trust-list signer")
            content = self.content()
            digest = content_sha256(content)
            newest = self._newest()
            plan = self._plan(content, digest, newest, signers, now)
            if plan is None:
                row = newest[hierarchy]
                return self._publication(row, signers[hierarchy].certificate_der)
            try:
                self._write(plan, signers, actor, entries=len(content["entries"]), digest=digest)
            except _Raced:
                continue
        raise Conflict("the trust list is being published by other processes; try again")

    def _newest(self) -> dict[str, TrustListPublication]:
        with self._read_sessions() as session, session.begin():
            top = select(func.max(TrustListPublication.sequence)).scalar_subquery()
            rows = session.execute(
                select(TrustListPublication).where(TrustListPublication.sequence == top)
            ).scalars()
            return {row.hierarchy: row for row in rows}

    def _plan(
        self,
        content: dict[str, Any],
        digest: str,
        newest: dict[str, TrustListPublication],
        signers: dict[str, _SignerInfo],
        now: datetime,
    ) -> _Plan | None:
        any_row = next(iter(newest.values()), None)
        if any_row is None or any_row.content_sha256 != digest:
            sequence = any_row.sequence + 1 if any_row is not None else 1
            return self._new_payload(content, sequence, now, "content-changed", tuple(signers), {})
        if now >= any_row.issued_at + self._refresh or now >= any_row.next_update:
            return self._new_payload(content, any_row.sequence, now, "refresh", tuple(signers), newest)
        stale = tuple(
            h
            for h, signer in signers.items()
            if h not in newest or newest[h].signer_certificate_id != signer.certificate_id
        )
        if not stale:
            return None
        return _Plan(
            sequence=any_row.sequence,
            payload=any_row.payload,
            issued_at=any_row.issued_at,
            next_update=any_row.next_update,
            reason="new-signer",
            hierarchies=stale,
            guards={h: newest[h] for h in stale if h in newest},
        )

    def _new_payload(
        self,
        content: dict[str, Any],
        sequence: int,
        now: datetime,
        reason: str,
        hierarchies: tuple[str, ...],
        guards: Mapping[str, TrustListPublication],
    ) -> _Plan:
        issued_at = utc_seconds(now)
        next_update = issued_at + self._validity
        payload = canonical_json(
            {**content, "sequence": sequence, "issued_at": iso(issued_at), "next_update": iso(next_update)}
        )
        return _Plan(sequence, payload, issued_at, next_update, reason, hierarchies, dict(guards))

    def _write(
        self, plan: _Plan, signers: dict[str, _SignerInfo], actor: str, *, entries: int, digest: str
    ) -> None:
        # Sign first, outside the transaction: an HSM round trip should not hold the write lock.
        documents = {
            h: sign_envelope(
                plan.payload,
                self._keystore().signer(signers[h].key_id),
                (signers[h].certificate_der, signers[h].issuer_der),
            )
            for h in plan.hierarchies
        }
        try:
            with self._sessions() as session, session.begin():
                for hierarchy, document in documents.items():
                    guard = plan.guards.get(hierarchy)
                    values = {
                        "content_sha256": digest,
                        "payload": plan.payload,
                        "issued_at": plan.issued_at,
                        "next_update": plan.next_update,
                        "signer_certificate_id": signers[hierarchy].certificate_id,
                        "document": document,
                    }
                    if guard is None:
                        session.add(
                            TrustListPublication(sequence=plan.sequence, hierarchy=hierarchy, **values)
                        )
                        session.flush()
                        continue
                    result = session.execute(
                        update(TrustListPublication)
                        .where(
                            TrustListPublication.id == guard.id,
                            TrustListPublication.issued_at == guard.issued_at,
                            TrustListPublication.signer_certificate_id == guard.signer_certificate_id,
                        )
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        raise _Raced
                self._audit.append(
                    session,
                    actor=actor,
                    action="trust-list.publish",
                    subject=f"trust-list:{OWN_LIST}",
                    details={
                        "sequence": plan.sequence,
                        "reason": plan.reason,
                        "hierarchies": sorted(documents),
                        "issued_at": iso(plan.issued_at),
                        "next_update": iso(plan.next_update),
                        "content_sha256": digest,
                        "payload_sha256": hashlib.sha256(plan.payload).hexdigest(),
                        "entries": entries,
                    },
                )
        except IntegrityError as exc:
            if "trust_list_publications" not in str(exc.orig):
                raise
            raise _Raced from None
        log.info("trust list sequence %s %s (%s)", plan.sequence, plan.reason, ", ".join(sorted(documents)))

    def _publication(self, row: TrustListPublication, signer_der: bytes) -> Publication:
        return Publication(
            hierarchy=row.hierarchy,
            sequence=row.sequence,
            issued_at=row.issued_at,
            next_update=row.next_update,
            refresh_at=min(row.issued_at + self._refresh, row.next_update),
            content_sha256=row.content_sha256,
            payload=row.payload,
            document=row.document,
            signer_certificate=signer_der,
        )

    # --- imported lists ----------------------------------------------------------------------------

    def import_url(self, name: str, url: str, *, pin: Pin, actor: str) -> ImportResult:
        """Return the result of importing the list at ``url`` (kept as its source for refreshes)."""
        name = _check_name(name)
        check_source_url(url)
        return self.import_list(name, self.fetch(url), pin=pin, source_url=url, actor=actor)

    def import_list(
        self, name: str, envelope: bytes, *, pin: Pin, source_url: str | None = None, actor: str
    ) -> ImportResult:
        """Return the result of importing ``envelope`` as list ``name`` under ``pin``.

        A new name is imported; an existing one is updated under the rules of a refresh, and only with the
        same pin (Conflict otherwise: remove the list to re-pin). ``source_url`` (when given) replaces the
        stored source.
        """
        name = _check_name(name)
        if source_url is not None:
            check_source_url(source_url)
        signed = self._accept(envelope, pin)
        now = self._clock()
        with self._sessions() as session, session.begin():
            row = self._row(session, name, lock=True, required=False)
            if row is None:
                row = ImportedTrustList(
                    name=name,
                    source_url=source_url,
                    pin_spki_sha256=pin.spki_sha256,
                    pinned_certificate_der=pin.certificate_der,
                    imported_at=now,
                )
                outcome, previous = "imported", None
                _store(session, row, signed, now)
            else:
                if (row.pin_spki_sha256, row.pinned_certificate_der) != (
                    pin.spki_sha256,
                    pin.certificate_der,
                ):
                    raise Conflict(
                        f"trust list {name} is pinned to another signer ({_row_pin(row).describe()}); "
                        "to re-pin, remove it and import it again"
                    )
                previous = row.sequence
                outcome = _compare(row, signed.document)
                if source_url is not None:
                    row.source_url = source_url
                _apply(session, row, signed, outcome, now)
            self._audit.append(
                session,
                actor=actor,
                action="trust-list.import",
                subject=f"trust-list:{name}",
                details=_audit_details(row, signed, outcome, previous),
            )
        return ImportResult(outcome, self.get(name), previous)

    def refresh(self, name: str, *, actor: str) -> ImportResult:
        """Return the result of fetching list ``name`` again from its URL.

        Any failure (fetch, signature, rollback, expiry) is recorded on the list (status ``stale``), audited
        as ``trust-list.refresh-failed`` and raised; the stored issue stays.
        """
        name = _check_name(name)
        with self._read_sessions() as session, session.begin():
            row = self._row(session, name)
            url, pin = row.source_url, _row_pin(row)
        if url is None:
            raise InvalidInput(f"trust list {name} was imported from a file: import a newer file instead")
        try:
            signed = self._accept(self.fetch(url), pin)
            now = self._clock()
            with self._sessions() as session, session.begin():
                row = self._row(session, name, lock=True)
                if _row_pin(row) != pin:
                    raise Conflict(f"trust list {name} was re-pinned meanwhile; refresh again")
                previous = row.sequence
                outcome = _compare(row, signed.document)
                _apply(session, row, signed, outcome, now)
                self._audit.append(
                    session,
                    actor=actor,
                    action="trust-list.refresh",
                    subject=f"trust-list:{name}",
                    details=_audit_details(row, signed, outcome, previous),
                )
        except TrustsvcError as exc:
            self._record_failure(name, url, exc, actor)
            raise
        return ImportResult(outcome, self.get(name), previous)

    def _accept(self, envelope: bytes, pin: Pin) -> SignedTrustList:
        signed = verify_trust_list(envelope, pin)
        document, now = signed.document, self._clock()
        if document.issued_at > now + CLOCK_SKEW:
            raise InvalidInput(f"the trust list is issued in the future ({iso(document.issued_at)})")
        if now >= document.next_update:
            raise TrustListExpired(
                f"this issue (sequence {document.sequence}) expired at {iso(document.next_update)}"
            )
        return signed

    def _record_failure(self, name: str, url: str, exc: TrustsvcError, actor: str) -> None:
        now = self._clock()
        message = f"{type(exc).__name__}: {exc.detail}"[:1000]
        with self._sessions() as session, session.begin():
            row = self._row(session, name, lock=True, required=False)
            if row is None:
                return
            row.last_attempt_at = now
            row.last_error = message
            self._audit.append(
                session,
                actor=actor,
                action="trust-list.refresh-failed",
                subject=f"trust-list:{name}",
                details={"name": name, "source_url": url, "sequence_kept": row.sequence, "error": message},
            )
        log.warning("refresh of trust list %s failed: %s", name, message)

    def remove(self, name: str, *, actor: str) -> None:
        """Remove imported list ``name`` and its entries (audited)."""
        name = _check_name(name)
        with self._sessions() as session, session.begin():
            row = self._row(session, name, lock=True)
            session.execute(delete(TrustEntryRecord).where(TrustEntryRecord.list_id == row.id))
            details = {
                "name": name,
                "sequence": row.sequence,
                "territory": row.territory_code,
                "pin": _row_pin(row).describe(),
            }
            session.delete(row)
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action="trust-list.remove",
                subject=f"trust-list:{name}",
                details=details,
            )

    def get(self, name: str) -> ImportedList:
        """Return imported list ``name``; NotFound otherwise."""
        name = _check_name(name)
        with self._read_sessions() as session, session.begin():
            row = self._row(session, name)
            count = session.execute(
                select(func.count()).select_from(TrustEntryRecord).where(TrustEntryRecord.list_id == row.id)
            ).scalar_one()
            return _imported(row, count, self._clock())

    def lists(self) -> list[ImportedList]:
        """Return every imported list, by name, with its status now."""
        now = self._clock()
        with self._read_sessions() as session, session.begin():
            counts = dict(
                session.execute(
                    select(TrustEntryRecord.list_id, func.count()).group_by(TrustEntryRecord.list_id)
                ).all()
            )
            rows = session.execute(select(ImportedTrustList).order_by(ImportedTrustList.name)).scalars()
            return [_imported(row, counts.get(row.id, 0), now) for row in rows]

    def entries(self, name: str) -> list[Entry]:
        """Return the entries of imported list ``name`` (its accepted issue), in document order."""
        self.get(name)  # NotFound for an unknown name
        return [e for e in self.store(include_own=False).entries() if e.source.list_name == name]

    def _row(
        self, session: Session, name: str, *, lock: bool = False, required: bool = True
    ) -> ImportedTrustList:
        query = select(ImportedTrustList).where(ImportedTrustList.name == name)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = session.execute(query).scalar_one_or_none()
        if row is None and required:
            raise NotFound(f"no trust list named {name!r}")
        return row  # type: ignore[return-value]  # None only when not required

    # --- the trust store ---------------------------------------------------------------------------

    def store(
        self,
        *,
        local_anchors: Sequence[x509.Certificate | bytes] = (),
        local_purposes: Iterable[Purpose | str] | None = None,
        include_own: bool = True,
    ) -> TrustStore:
        """Return a snapshot of all trust statements: local anchors, our own CAs and services, imported lists.

        ``local_anchors`` (the verify command's ``--anchor``) are trusted for ``local_purposes`` (every
        purpose when None).
        """
        now = self._clock()
        entries: list[Entry] = list(local_anchor_entries(local_anchors, local_purposes))
        if include_own:
            newest = self._newest()
            sequence = next(iter(newest.values())).sequence if newest else 0
            source = AnchorSource(OWN_LIST, self._settings.region_code, sequence, ListStatus.FRESH)
            for index, item in enumerate(self.content()["entries"]):
                parsed = _parse_entry(item, index)
                if parsed is not None:
                    entries.append(entry_from_json(parsed, source))
        with self._read_sessions() as session, session.begin():
            lists = {row.id: row for row in session.execute(select(ImportedTrustList)).scalars()}
            records = session.execute(
                select(TrustEntryRecord).order_by(TrustEntryRecord.list_id, TrustEntryRecord.position)
            ).scalars()
            for record in records:
                row = lists[record.list_id]
                source = AnchorSource(
                    row.name,
                    row.territory_code,
                    row.sequence,
                    list_status(row.next_update, now, last_error=row.last_error),
                )
                entries.append(
                    Entry(
                        kind=EntryKind(record.kind),
                        name=record.name,
                        source=source,
                        certificate_der=record.certificate_der,
                        organisation_name=record.org_name,
                        organisation_uscc=record.org_uscc,
                        services=_services_from_json(record.services_json),
                        role=_role_from(record),
                    )
                )
        return TrustStore(entries)


# --- helpers -------------------------------------------------------------------------------------


def _hierarchy(text: str) -> str:
    value = str(text).strip().lower()
    value = _HIERARCHY_ALIASES.get(value, value)
    if not re.fullmatch(r"[a-z0-9]{1,16}", value):
        raise InvalidInput("alg names a hierarchy: sm2, ecdsa or rsa")
    return value


def _hierarchy_of(ca_name: str) -> str:
    return ca_name.rsplit("-", 1)[0]


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _LIST_NAME_RE.fullmatch(name) or len(name) > MAX_LIST_NAME:
        raise InvalidInput(
            "a trust list name is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    if name in _RESERVED_NAMES:
        raise InvalidInput(f"{name!r} is reserved")
    return name


def _certificate_entry(
    kind: EntryKind,
    name: str,
    der: bytes,
    algorithm: str,
    services: dict[str, Any],
    *,
    role: str | None = None,
) -> dict[str, Any]:
    certificate = x509.Certificate.load(der)
    subject = certificate.subject
    org = subject.native.get("organization_name")
    entry: dict[str, Any] = {
        "kind": kind.value,
        "name": name,
        "algorithm": algorithm,
        "subject": name_text(subject),
        "certificate": base64.b64encode(der).decode("ascii"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "sm3": sm3(der).hex(),
        "valid_from": iso(certificate.not_valid_before),
        "valid_until": iso(certificate.not_valid_after),
        "services": services,
    }
    if role is not None:
        entry["role"] = role
    uscc = uscc_of(subject)
    if org or uscc:
        entry["organisation"] = {k: v for k, v in (("name", org), ("uscc", uscc)) if v}
    return entry


def _compare(row: ImportedTrustList, document: TrustListDocument) -> str:
    """Return ``updated``, ``reissued`` or ``unchanged``; TrustListRollback when the issue goes back."""
    if document.sequence > row.sequence:
        return "updated"
    if document.sequence < row.sequence:
        raise TrustListRollback(
            f"sequence {document.sequence} is lower than the stored sequence {row.sequence} "
            "(rollback refused)"
        )
    if document.content_sha256 != row.content_sha256:
        raise TrustListRollback(
            f"sequence {document.sequence} is already stored with different content; a change needs a higher "
            "sequence"
        )
    if document.issued_at < row.issued_at:
        raise TrustListRollback(
            f"an older issue of sequence {document.sequence} ({iso(document.issued_at)}) than the stored one "
            f"({iso(row.issued_at)})"
        )
    return "reissued" if document.issued_at > row.issued_at else "unchanged"


def _store(session: Session, row: ImportedTrustList, signed: SignedTrustList, now: datetime) -> None:
    document = signed.document
    row.territory_code = document.territory_code
    row.territory_name = document.territory_name
    row.operator_name = document.operator_name
    row.operator_uscc = document.operator_uscc
    row.sequence = document.sequence
    row.content_sha256 = document.content_sha256
    row.issued_at = document.issued_at
    row.next_update = document.next_update
    row.signature_algorithm = signed.signature_algorithm.value
    row.signer_sha256 = hashlib.sha256(signed.signer_certificate).hexdigest()
    row.document = signed.envelope
    row.refreshed_at = now
    row.last_attempt_at = now
    row.last_error = None
    session.add(row)
    session.flush()
    session.execute(delete(TrustEntryRecord).where(TrustEntryRecord.list_id == row.id))
    for position, item in enumerate(document.entries):
        der = item.get("certificate_der")
        entry = entry_from_json(
            item, AnchorSource(row.name, row.territory_code, row.sequence, ListStatus.FRESH)
        )
        session.add(
            TrustEntryRecord(
                list_id=row.id,
                position=position,
                kind=entry.kind.value,
                name=entry.name,
                certificate_der=der,
                sha256=entry.sha256,
                key_id=entry.key_id,
                org_uscc=entry.organisation_uscc,
                org_name=entry.organisation_name,
                valid_from=item.get("valid_from"),
                valid_until=item.get("valid_until"),
                services_json=json.dumps(
                    {**entry.services.to_json(), **({"role": entry.role} if entry.role else {})},
                    sort_keys=True,
                    ensure_ascii=False,
                ),
            )
        )
    session.flush()


def _apply(
    session: Session, row: ImportedTrustList, signed: SignedTrustList, outcome: str, now: datetime
) -> None:
    if outcome == "updated":
        _store(session, row, signed, now)
        return
    if outcome == "reissued":
        row.issued_at = signed.document.issued_at
        row.next_update = signed.document.next_update
        row.document = signed.envelope
        row.signature_algorithm = signed.signature_algorithm.value
        row.signer_sha256 = hashlib.sha256(signed.signer_certificate).hexdigest()
    row.refreshed_at = now
    row.last_attempt_at = now
    row.last_error = None


def _services_from_json(text: str) -> Services:
    body = json.loads(text)
    return Services(
        ocsp=tuple(body.get("ocsp", ())),
        crl=tuple(body.get("crl", ())),
        ca_issuers=tuple(body.get("ca_issuers", ())),
        tsa=body.get("tsa"),
        seal_status=body.get("seal_status"),
        licence_status=body.get("licence_status"),
    )


def _role_from(record: TrustEntryRecord) -> str | None:
    role = json.loads(record.services_json).get("role")
    return role if isinstance(role, str) else None


def _row_pin(row: ImportedTrustList) -> Pin:
    return Pin(row.pin_spki_sha256, row.pinned_certificate_der)


def _imported(row: ImportedTrustList, entries: int, now: datetime) -> ImportedList:
    return ImportedList(
        name=row.name,
        source_url=row.source_url,
        territory_code=row.territory_code,
        territory_name=row.territory_name,
        operator_name=row.operator_name,
        operator_uscc=row.operator_uscc,
        sequence=row.sequence,
        issued_at=row.issued_at,
        next_update=row.next_update,
        imported_at=row.imported_at,
        refreshed_at=row.refreshed_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        pin=_row_pin(row),
        signature_algorithm=row.signature_algorithm,
        signer_sha256=row.signer_sha256,
        entries=entries,
        status=list_status(row.next_update, now, last_error=row.last_error),
    )


def _audit_details(
    row: ImportedTrustList, signed: SignedTrustList, outcome: str, previous: int | None
) -> dict[str, Any]:
    document = signed.document
    return {
        "name": row.name,
        "outcome": outcome,
        "source_url": row.source_url,
        "previous_sequence": previous,
        "sequence": document.sequence,
        "issued_at": iso(document.issued_at),
        "next_update": iso(document.next_update),
        "territory": document.territory_code,
        "operator_uscc": document.operator_uscc,
        "entries": len(document.entries),
        "pin": _row_pin(row).describe(),
        "signer_sha256": hashlib.sha256(signed.signer_certificate).hexdigest(),
        "payload_sha256": hashlib.sha256(document.payload).hexdigest(),
    }
