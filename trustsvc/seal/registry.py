"""The seal registry (电子印章登记): making seals, their lifecycle, signers, grants and public status.

:class:`SealRegistry` is built from a session factory, the key store, the CA service, the audit log, a
clock and the settings (the :class:`~trustsvc.service.TrustService` wires them). Rules it keeps:

* **Making a seal** (GB/T 38540 §6.2): the picture is drawn from the seal's data
  (:mod:`trustsvc.seal.picture`); the signer certificate is the one given, or a ``seal-signer``
  certificate our CA issues now for a new SM2 key in the key store (subject: the organisation, its USCC,
  an optional department as OU); the ``SES_SealInfo`` (header ``ES``/4/``trustsvc``) is signed by the
  seal-maker certificate of the CA (``sm2-issuing`` unless told otherwise). The esID allocation, the
  ``SESeal``, its signer, grants, history row and the ``seal.create`` audit record are **one
  transaction**. Issuing a new signer certificate is the CA's own audited transaction before it; if the
  seal then cannot be stored, that certificate is revoked (cessationOfOperation) so that no unused
  signing certificate stays valid.
* **esID** (电子印章标识, :func:`make_es_id`): ``<region><serial><check>`` — the 6-digit GB/T 2260
  administrative division of the service (``Settings.region_code``; ``000000`` while unset), a serial of
  at least 8 digits allocated by the database (the ``seal_counter`` row, locked by the creating
  transaction: no process counts on its own), and one ISO 7064 MOD 11-2 check character (``0``–``9`` or
  ``X``, as in the citizen ID number). 15 characters, printable ASCII as ``IA5String`` wants; unique by
  the ``uq_seals_es_id`` constraint. The national 13-digit seal code (印章编码) of the public-security seal
  registration — customarily 6-digit division + 7-digit sequence, printed on physical seals — is assigned
  by the police, not by us; GB/T 38540 does not say the esID must be that code (UNVERIFIED whether any
  national rule does), so we do not pretend to allocate one. When an organisation has one, it can be
  drawn on the picture (``picture={"code": ...}``).
* **Lifecycle**: ``active → suspended ⇄ active``, ``active|suspended → revoked`` (final). Resume only from
  suspended; suspend only from active; an expired seal cannot be suspended or resumed but can still be
  revoked. ``expired`` is derived from ``valid_end`` and the clock, never stored
  (:func:`~trustsvc.seal.models.effective_status`). Each change locks the seal row, writes a
  ``seal_status_events`` row and an audit record (``seal.suspend``, ``seal.resume``, ``seal.revoke``) in
  one transaction; ``status_changed_at`` becomes the public ``since``.
* **Changing signers re-makes the seal under the same esID.** A ``SESeal`` is a signed, immutable object
  whose ``certList`` names its signers, so adding or removing one means signing a new ``SESeal``:
  same esID, kind, name, picture and validity window, a new ``createDate`` and signer list. The esID is
  the seal's identity (as a physical seal keeps its code when its keepers change), so grants and status
  carry over. The old ``SESeal`` stays in ``seal_versions`` with ``superseded_at``; the signed status
  answer lists superseded versions by SM3, so a verifier can refuse a signature made with an old version
  after it was superseded (e.g. by a removed signer who kept a copy). Removing a signer can also revoke
  that signer's certificate when our CA issued it (``revoke_certificate=True``).
* **Who may apply a seal**: principals named as in audit records — ``apikey:<prefix>`` for an API key,
  ``user:<name>`` for a person (clerk) — granted the ``sign`` role on that seal
  (:class:`~trustsvc.seal.models.GrantRole`). :meth:`SealRegistry.signing_key_for` is the one entry point
  the document sealing code uses; it refuses unknown principals with ``Forbidden`` and suspended, revoked,
  expired or not yet valid seals with ``InvalidState`` naming the status and since when.
* **Keys the service signs with**: only keys of ``seal-signer`` certificates our CA issued for a key in
  our key store (the certificate row records the key id). A certificate from elsewhere, or one of ours
  issued from a CSR, is listed in the seal but its holder signs with their own key (a UKey, an HSM of
  theirs); the service never uses a key merely because a caller named it.
* **Status** (:meth:`SealRegistry.status`, :meth:`SealRegistry.signed_status`): public, signed by the
  seal-maker certificate (format and reasoning in :mod:`trustsvc.seal.status`). Answers without a nonce
  are cached per process for :data:`STATUS_REFRESH_SECONDS` and re-signed as soon as anything in them
  changes (status, version, the derived expiry), so a public endpoint does not sign on every request.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from asn1crypto import x509
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from stdnum.cn import uscc as uscc_code
from stdnum.iso7064 import mod_11_2

from trustsvc.audit import AuditLog
from trustsvc.auth import ApiKey
from trustsvc.ca.authority import CertificateAuthorityService, hierarchy_names, name_text
from trustsvc.ca.models import CertificateStatus, IssuedCertificate, ServiceRole, serial_hex
from trustsvc.ca.profiles import ProfileKind, SubjectInfo
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    InvalidState,
    MalformedInput,
    NotFound,
    TrustsvcError,
)
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.keystore import KeyStore
from trustsvc.keys.signer import Signer
from trustsvc.keys.sm3 import sm3
from trustsvc.seal.kinds import SealKind
from trustsvc.seal.models import (
    MAX_ES_ID,
    MAX_NAME,
    MAX_PRINCIPAL,
    GrantRole,
    Seal,
    SealCounter,
    SealGrant,
    SealSigner,
    SealState,
    SealStatusEvent,
    SealVersion,
    StoredSealState,
    effective_status,
)
from trustsvc.seal.picture import SealPictureSpec, render_seal
from trustsvc.seal.ses import (
    CERT_LIST_CERTS,
    CERT_LIST_DIGESTS,
    SealInfoFields,
    SealPicture,
    make_seal,
    parse_seal,
)
from trustsvc.seal.status import SealStatus, SupersededVersion, sign_statement, statement

__all__ = [
    "DEFAULT_PICTURE_DPI",
    "DEFAULT_VALIDITY_DAYS",
    "STATUS_REFRESH_SECONDS",
    "VENDOR_ID",
    "GrantInfo",
    "SealDetails",
    "SealRecord",
    "SealRegistry",
    "SignerInfo",
    "SigningMaterial",
    "StatusEventInfo",
    "VersionInfo",
    "check_es_id",
    "make_es_id",
    "parse_kind",
    "parse_principal",
]

log = logging.getLogger(__name__)

VENDOR_ID: Final = "trustsvc"
"""``SES_Header.Vid`` of every seal we make."""
DEFAULT_VALIDITY_DAYS: Final = 3 * 365
"""Seal validity when none is asked for (capped at the seal-maker certificate's notAfter)."""
MAX_VALIDITY_DAYS: Final = 20 * 365
DEFAULT_PICTURE_DPI: Final = 300
"""The picture travels inside every signature made with the seal: 300 dpi (~40 kB) prints sharply."""
STATUS_REFRESH_SECONDS: Final = 60
"""How long a signed status answer without nonce is reused (and how long HTTP caches may keep it)."""
STATUS_CACHE_ENTRIES: Final = 4096
"""Signed answers kept per process (the most recently asked seals)."""
UNSET_REGION_CODE: Final = "000000"
MAX_REASON = 500
MAX_NONCE = 64
_SERIAL_DIGITS = 8
_ES_ID_RE = re.compile(r"[0-9]{6}[0-9]{8,}[0-9X]")
_NONCE_RE = re.compile(r"[A-Za-z0-9_\-.=+/]{1,64}")
_PRINCIPAL_RE = re.compile(r"(apikey):([0-9a-f]{12})|(user):([^\s:][^\x00-\x1f\x7f]{0,190})")
_SM3_HEX_RE = re.compile(r"[0-9a-f]{64}")
_PICTURE_KEYS = frozenset(
    {"name", "seal_name", "shape", "width_mm", "height_mm", "border_mm", "star", "code", "serial"}
)
_KIND_NAMES = {kind.name.lower().replace("_", "-"): kind for kind in SealKind}


# --- identifiers and inputs ----------------------------------------------------------------------


def make_es_id(region_code: str, serial: int) -> str:
    """Return the esID of ``serial`` in ``region_code``: region (6), serial (≥ 8 digits), MOD 11-2 check."""
    if not re.fullmatch(r"[0-9]{6}", region_code):
        raise ConfigurationError(f"region code must be 6 digits (GB/T 2260), not {region_code!r}")
    if serial <= 0:
        raise InvalidInput("an esID serial is positive")
    body = f"{region_code}{serial:0{_SERIAL_DIGITS}d}"
    return body + mod_11_2.calc_check_digit(body)


def check_es_id(es_id: str) -> bool:
    """Return True when ``es_id`` has our esID form and its check character is right."""
    return bool(_ES_ID_RE.fullmatch(es_id)) and mod_11_2.is_valid(es_id)


def parse_kind(value: SealKind | int | str) -> SealKind:
    """Return the seal kind named by its code (``4``) or name (``contract``, ``legal-representative``)."""
    if isinstance(value, SealKind):
        return value
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return SealKind(int(value))
        return _KIND_NAMES[str(value).strip().lower().replace("_", "-")]
    except (ValueError, KeyError):
        known = ", ".join(f"{kind.value} {name}" for name, kind in _KIND_NAMES.items())
        raise InvalidInput(f"unknown seal kind {str(value)[:40]!r}; kinds are {known}") from None


def parse_principal(text: str) -> str:
    """Return ``text`` if it names a principal: ``apikey:<12 hex prefix>`` or ``user:<name>``."""
    if not isinstance(text, str) or len(text) > MAX_PRINCIPAL or not _PRINCIPAL_RE.fullmatch(text):
        raise InvalidInput(
            "a principal is apikey:<prefix of the API key, 12 hex digits> or user:<name without spaces "
            "at the start or control characters>"
        )
    return text


def _reason(text: str | None, *, required: bool) -> str | None:
    if text is None or not text.strip():
        if required:
            raise InvalidInput("a reason is required")
        return None
    text = text.strip()
    if len(text) > MAX_REASON or any(ord(c) < 0x20 and c not in "\t\n" for c in text):
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters without control characters")
    return text


def _text(value: object, what: str, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidInput(f"{what} must be non-empty text without surrounding spaces")
    if len(value) > limit or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput(f"{what} is at most {limit} characters without control characters")
    return value


def _uscc(value: object) -> str:
    if not isinstance(value, str) or not uscc_code.is_valid(value):
        raise InvalidInput("the organisation's unified social credit code is not valid (GB 32100)")
    return uscc_code.compact(value)


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- snapshots -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealRecord:
    """A seal as read from the registry (usable after the session has closed).

    ``status`` is the reported state (expired derived at read time), ``stored_status`` what was set.
    """

    es_id: str
    org_uscc: str
    org_name: str
    kind: SealKind
    name: str
    status: SealState
    stored_status: StoredSealState
    since: datetime
    reason: str | None
    valid_start: datetime
    valid_end: datetime
    cert_list_type: int
    version: int
    seal_sm3: str
    seal_der: bytes
    maker_ca: str
    created_at: datetime
    created_by: str
    status_changed_at: datetime


@dataclass(frozen=True)
class SignerInfo:
    """A signer certificate listed in a seal; ``key_in_store``: the service can sign with it."""

    cert_sm3: str
    subject: str
    serial: str
    not_after: datetime
    certificate_der: bytes
    key_in_store: bool
    issued_by_us: bool
    added_at: datetime
    added_by: str
    removed_at: datetime | None


@dataclass(frozen=True)
class GrantInfo:
    principal: str
    role: GrantRole
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    seal_sm3: str
    made_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True)
class StatusEventInfo:
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str | None


@dataclass(frozen=True)
class SealDetails:
    """A seal with its current signers and grants and its history (versions, lifecycle events)."""

    seal: SealRecord
    signers: tuple[SignerInfo, ...]
    grants: tuple[GrantInfo, ...]
    versions: tuple[VersionInfo, ...]
    events: tuple[StatusEventInfo, ...]
    picture_type: str
    picture_data: bytes
    picture_width_mm: int
    picture_height_mm: int


class SigningMaterial(NamedTuple):
    """What the sealing code needs to apply a seal: the ``SESeal``, the signer certificate, its key."""

    seal_der: bytes
    certificate_der: bytes
    signer: Signer


@dataclass(frozen=True)
class _Signer:
    """A signer certificate resolved for listing (before any row exists)."""

    der: bytes
    sm3: str
    subject: str
    serial: str
    not_after: datetime
    certificate_id: int | None
    key_id: str | None


# --- the registry --------------------------------------------------------------------------------


class SealRegistry:
    """Makes seals and keeps their lifecycle, signers, grants and status (see the module docstring)."""

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
        ca_name: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._keystore = keystore
        self._ca = ca
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._ca_name = ca_name or hierarchy_names(KeyAlgorithm.SM2)[1]
        # es_id -> (what the answer says, produced_at, answer); least recently used first.
        self._answers: OrderedDict[str, tuple[tuple[Any, ...], datetime, bytes]] = OrderedDict()
        self._answers_lock = threading.Lock()

    @property
    def region_code(self) -> str:
        """The administrative division written at the head of new esIDs."""
        return self._settings.region_code or UNSET_REGION_CODE

    # --- making seals ------------------------------------------------------------------------------

    def create_seal(
        self,
        org_uscc: str,
        org_name: str,
        kind: SealKind | int | str,
        name: str | None = None,
        *,
        actor: str,
        signer_cert: bytes | None = None,
        department: str | None = None,
        validity_days: int | None = None,
        cert_list_type: int = CERT_LIST_CERTS,
        picture: Mapping[str, Any] | None = None,
        dpi: int = DEFAULT_PICTURE_DPI,
        authorised: Sequence[str] = (),
    ) -> SealDetails:
        """Return the new seal of ``org_name`` (``org_uscc``) of ``kind``, made, stored and audited.

        ``name`` defaults to the organisation name followed by the kind's label (北京某某有限公司合同专用章).
        ``signer_cert`` (DER) is the signer to list; without it a ``seal-signer`` certificate is issued now
        for a new SM2 key in our key store (``department`` becomes its OU). ``validity_days`` defaults to
        :data:`DEFAULT_VALIDITY_DAYS`, capped at the seal-maker certificate's notAfter (an explicit value
        beyond it is refused). ``picture`` overrides fields of the kind's customary picture
        (:class:`~trustsvc.seal.picture.SealPictureSpec`: ``name`` — the text on the seal, the
        organisation by default and the person's name for a legal representative's seal — ``seal_name``,
        ``shape``, ``width_mm``, ``height_mm``, ``border_mm``, ``star``, ``code``, ``serial``).
        ``authorised`` principals are granted the ``sign`` role.
        """
        org_uscc = _uscc(org_uscc)
        org_name = _text(org_name, "organisation name")
        seal_kind = parse_kind(kind)
        seal_name = _text(name if name is not None else f"{org_name}{seal_kind.label}", "seal name")
        if department is not None:
            department = _text(department, "department", 64)
        if cert_list_type not in (CERT_LIST_CERTS, CERT_LIST_DIGESTS):
            raise InvalidInput("cert_list_type must be 1 (certificates) or 2 (certificate digests)")
        principals = sorted({parse_principal(p) for p in authorised})
        self._check_principals_exist(principals)
        spec = self._picture_spec(seal_kind, org_name, picture)
        png = render_seal(spec, dpi=dpi)
        seal_picture = SealPicture("PNG", png, round(spec.width_mm), round(spec.height_mm))

        now = _seconds(self._clock())
        maker, maker_signer = self._maker(self._ca_name)
        valid_end = self._valid_end(now, validity_days, maker.not_after)

        if signer_cert is not None:
            signer = self._resolve_signer(signer_cert, now)
            issued_now = False
        else:
            signer = self._issue_signer(org_uscc, org_name, seal_kind, department, actor)
            issued_now = True

        try:
            return self._store_new_seal(
                org_uscc=org_uscc,
                org_name=org_name,
                kind=seal_kind,
                name=seal_name,
                signer=signer,
                now=now,
                valid_end=valid_end,
                cert_list_type=cert_list_type,
                picture=seal_picture,
                maker_der=maker.der,
                maker_signer=maker_signer,
                principals=principals,
                actor=actor,
            )
        except BaseException:
            if issued_now:
                self._withdraw_signer(signer, actor)
            raise

    def _store_new_seal(
        self,
        *,
        org_uscc: str,
        org_name: str,
        kind: SealKind,
        name: str,
        signer: _Signer,
        now: datetime,
        valid_end: datetime,
        cert_list_type: int,
        picture: SealPicture,
        maker_der: bytes,
        maker_signer: Signer,
        principals: Sequence[str],
        actor: str,
    ) -> SealDetails:
        with self._sessions() as session, session.begin():
            counter = session.execute(
                select(SealCounter)
                .where(SealCounter.id == 1)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if counter is None:
                raise ConfigurationError("the seal counter row is missing: run `trustsvc init`")
            counter.last_serial += 1
            es_id = make_es_id(self.region_code, counter.last_serial)
            fields = SealInfoFields(
                vendor_id=VENDOR_ID,
                es_id=es_id,
                seal_type=int(kind),
                name=name,
                signer_certs=(signer.der,),
                create_date=now,
                valid_start=now,
                valid_end=valid_end,
                picture=picture,
                cert_list_type=cert_list_type,
            )
            seal_der = make_seal(fields, maker_der, maker_signer)
            digest = sm3(seal_der).hex()
            row = Seal(
                es_id=es_id,
                org_uscc=org_uscc,
                org_name=org_name,
                kind=int(kind),
                name=name,
                status=StoredSealState.ACTIVE.value,
                reason=None,
                valid_start=now,
                valid_end=valid_end,
                cert_list_type=cert_list_type,
                version=1,
                seal_der=seal_der,
                seal_sm3=digest,
                maker_ca=self._ca_name,
                created_at=now,
                created_by=actor[:MAX_PRINCIPAL],
                status_changed_at=now,
            )
            session.add(row)
            session.flush()
            session.add(
                SealVersion(seal_id=row.id, version=1, seal_der=seal_der, seal_sm3=digest, made_at=now)
            )
            session.add(_signer_row(row.id, signer, now, actor))
            for principal in principals:
                session.add(_grant_row(row.id, principal, GrantRole.SIGN, now, actor))
            session.add(
                SealStatusEvent(
                    seal_id=row.id,
                    at=now,
                    actor=actor[:MAX_PRINCIPAL],
                    from_status=None,
                    to_status=StoredSealState.ACTIVE.value,
                )
            )
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action="seal.create",
                subject=f"seal:{es_id}",
                details={
                    "es_id": es_id,
                    "org_uscc": org_uscc,
                    "org_name": org_name,
                    "kind": int(kind),
                    "name": name,
                    "valid_start": _iso(now),
                    "valid_end": _iso(valid_end),
                    "cert_list_type": cert_list_type,
                    "seal_sm3": digest,
                    "maker_ca": self._ca_name,
                    "signers": [_signer_audit(signer)],
                    "grants": [{"principal": p, "role": GrantRole.SIGN.value} for p in principals],
                },
            )
            details = self._details(session, row, now)
        log.info("made seal %s (%s, %s) for %s", es_id, kind.label, name, org_uscc)
        return details

    def _picture_spec(
        self, kind: SealKind, org_name: str, overrides: Mapping[str, Any] | None
    ) -> SealPictureSpec:
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - _PICTURE_KEYS)
        if unknown:
            raise InvalidInput(
                f"unknown picture field(s) {', '.join(unknown)}; known: {', '.join(sorted(_PICTURE_KEYS))}"
            )
        text = overrides.pop("name", None)
        if kind is SealKind.LEGAL_REPRESENTATIVE and not text:
            raise InvalidInput("a legal representative's name seal needs picture name = the person's name")
        if "star" in overrides and not isinstance(overrides["star"], bool):
            raise InvalidInput("picture star must be true or false")
        base = SealPictureSpec.for_kind(kind, text or org_name)
        try:
            return dataclasses.replace(base, **overrides)
        except TypeError as exc:
            raise InvalidInput(f"bad picture field: {exc}") from None

    def _valid_end(self, now: datetime, validity_days: int | None, maker_not_after: datetime) -> datetime:
        if validity_days is None:
            end = min(now + timedelta(days=DEFAULT_VALIDITY_DAYS), _seconds(maker_not_after))
        else:
            if isinstance(validity_days, bool) or not isinstance(validity_days, int):
                raise InvalidInput("validity_days must be a whole number of days")
            if not 1 <= validity_days <= MAX_VALIDITY_DAYS:
                raise InvalidInput(f"validity_days must be 1 to {MAX_VALIDITY_DAYS}")
            end = now + timedelta(days=validity_days)
            if end > maker_not_after:
                raise InvalidInput(
                    f"the seal would outlive the seal-maker certificate (valid until "
                    f"{_iso(maker_not_after)}); ask for at most "
                    f"{(maker_not_after - now).days} days",
                    limit=_iso(maker_not_after),
                )
        if end <= now:
            raise InvalidState("the seal-maker certificate has expired: renew it before making seals")
        return end

    def _issue_signer(
        self, org_uscc: str, org_name: str, kind: SealKind, department: str | None, actor: str
    ) -> _Signer:
        common_name = f"{org_name} {kind.label}"
        if len(common_name) > 64:
            common_name = kind.label
        subject = SubjectInfo(
            common_name=common_name, organization=org_name, organizational_unit=department, uscc=org_uscc
        )
        issued, key_id = self._ca.issue_for_new_key(
            self._ca_name,
            ProfileKind.SEAL_SIGNER,
            subject,
            KeyAlgorithm.SM2,
            actor=actor,
            label=f"seal-signer {org_uscc} {kind.label}",
        )
        return _Signer(
            der=issued.der,
            sm3=sm3(issued.der).hex(),
            subject=issued.subject,
            serial=issued.serial,
            not_after=issued.not_after,
            certificate_id=issued.id,
            key_id=key_id,
        )

    def _withdraw_signer(self, signer: _Signer, actor: str) -> None:
        """Revoke a signer certificate issued for a seal that was then not made (best effort, logged)."""
        try:
            ca_name = self._ca_name_of_certificate(signer)
            if ca_name is not None:
                self._ca.revoke(ca_name, int(signer.serial, 16), "cessationOfOperation", actor=actor)
        except (TrustsvcError, SQLAlchemyError) as exc:
            log.error("could not revoke unused seal-signer certificate %s: %s", signer.serial, exc)

    def _ca_name_of_certificate(self, signer: _Signer) -> str | None:
        if signer.certificate_id is None:
            return None
        with self._read_sessions() as session, session.begin():
            row = session.get(IssuedCertificate, signer.certificate_id)
            ca_id = None if row is None else row.ca_id
        return None if ca_id is None else self._ca.ca_name_of(ca_id)

    def _resolve_signer(self, der: bytes, now: datetime) -> _Signer:
        """Return a signer certificate given by a caller, checked (and linked to our CA's row if ours)."""
        if not isinstance(der, bytes):
            raise InvalidInput("the signer certificate must be DER bytes")
        try:
            cert = x509.Certificate.load(der, strict=True)
            tbs = cert["tbs_certificate"]
            serial = int(tbs["serial_number"].native)
            subject = name_text(tbs["subject"])
            not_before = tbs["validity"]["not_before"].native
            not_after = tbs["validity"]["not_after"].native
            _ = tbs["subject_public_key_info"]["public_key"].dump()
        except (ValueError, TypeError, KeyError):
            raise InvalidInput("the signer certificate is not a DER X.509 certificate") from None
        if bytes(cert.dump()) != der:
            raise InvalidInput("the signer certificate is not DER-encoded")
        if not_after <= now:
            raise InvalidInput(f"the signer certificate expired at {_iso(not_after)}")
        if not_before > now + timedelta(minutes=5):
            raise InvalidInput(f"the signer certificate is valid only from {_iso(not_before)}")
        _check_signing_certificate(cert)
        certificate_id = key_id = None
        if serial > 0 and serial.bit_length() <= 159:
            with self._read_sessions() as session, session.begin():
                rows = session.execute(
                    select(IssuedCertificate).where(IssuedCertificate.serial == serial_hex(serial))
                ).scalars()
                ours = next((r for r in rows if r.der == der), None)
                if ours is not None:
                    if ours.status != CertificateStatus.GOOD.value:
                        raise InvalidState(f"the signer certificate {ours.serial} is {ours.status}")
                    if ours.profile not in _SIGNER_PROFILES:
                        raise InvalidInput(
                            f"the certificate {ours.serial} is our {ours.profile} certificate; a seal's "
                            f"signer must be one of {', '.join(sorted(_SIGNER_PROFILES))}",
                            field="signer_cert",
                            rule="signer profile",
                        )
                    certificate_id = ours.id
                    # Only keys our CA certified for seal signing are ever used by the service.
                    if ours.key_id is not None and ours.profile == ProfileKind.SEAL_SIGNER.value:
                        key_id = ours.key_id
        return _Signer(
            der=der,
            sm3=sm3(der).hex(),
            subject=subject,
            serial=format(serial, "x"),
            not_after=_seconds(not_after),
            certificate_id=certificate_id,
            key_id=key_id,
        )

    def _check_principals_exist(self, principals: Iterable[str]) -> None:
        prefixes = [p.split(":", 1)[1] for p in principals if p.startswith("apikey:")]
        if not prefixes:
            return
        with self._read_sessions() as session, session.begin():
            found = {
                prefix
                for prefix, revoked in session.execute(
                    select(ApiKey.prefix, ApiKey.revoked_at).where(ApiKey.prefix.in_(prefixes))
                )
                if revoked is None
            }
        missing = sorted(set(prefixes) - found)
        if missing:
            raise InvalidInput(f"no active API key with prefix {', '.join(missing)}")

    def principal_for(self, text: str) -> str:
        """Return the principal ``text`` names: ``apikey:…`` or ``user:…`` as is, else an API key."""
        if text.startswith(("apikey:", "user:")):
            return parse_principal(text)
        with self._read_sessions() as session, session.begin():
            keys = list(
                session.execute(
                    select(ApiKey).where(
                        or_(ApiKey.prefix == text, ApiKey.name == text), ApiKey.revoked_at.is_(None)
                    )
                ).scalars()
            )
        by_prefix = [k for k in keys if k.prefix == text]
        if by_prefix:
            return f"apikey:{by_prefix[0].prefix}"
        if len(keys) == 1:
            return f"apikey:{keys[0].prefix}"
        if len(keys) > 1:
            raise InvalidInput(f"several API keys are named {text!r}: give the prefix instead")
        raise InvalidInput(f"no active API key with prefix or name {text[:64]!r} (or use user:<name>)")

    # --- lifecycle ---------------------------------------------------------------------------------

    def suspend(self, es_id: str, reason: str, *, actor: str) -> SealDetails:
        """Return the seal after suspending it (only an active, unexpired seal)."""
        return self._change(es_id, StoredSealState.SUSPENDED, _reason(reason, required=True), actor)

    def resume(self, es_id: str, reason: str | None = None, *, actor: str) -> SealDetails:
        """Return the seal after resuming it (only a suspended, unexpired seal)."""
        return self._change(es_id, StoredSealState.ACTIVE, _reason(reason, required=False), actor)

    def revoke(self, es_id: str, reason: str, *, actor: str) -> SealDetails:
        """Return the seal after revoking it; final. An expired seal can still be revoked."""
        return self._change(es_id, StoredSealState.REVOKED, _reason(reason, required=True), actor)

    def _change(self, es_id: str, target: StoredSealState, reason: str | None, actor: str) -> SealDetails:
        with self._sessions() as session, session.begin():
            now = _seconds(self._clock())
            row = self._lock(session, es_id)
            previous = StoredSealState(row.status)
            action = _check_transition(row, previous, target, now)
            row.status = target.value
            row.reason = reason
            row.status_changed_at = now
            session.add(
                SealStatusEvent(
                    seal_id=row.id,
                    at=now,
                    actor=actor[:MAX_PRINCIPAL],
                    from_status=previous.value,
                    to_status=target.value,
                    reason=reason,
                )
            )
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action=action,
                subject=f"seal:{row.es_id}",
                details={
                    "es_id": row.es_id,
                    "previous_status": previous.value,
                    "status": target.value,
                    "reason": reason,
                },
            )
            details = self._details(session, row, now)
        self._forget_answer(es_id)
        return details

    # --- signers -----------------------------------------------------------------------------------

    def add_signer(
        self,
        es_id: str,
        *,
        actor: str,
        signer_cert: bytes | None = None,
        department: str | None = None,
    ) -> SealDetails:
        """Return the seal re-made with one more signer (given, or a new ``seal-signer`` certificate)."""
        current = self.get(es_id).seal
        _require_changeable(current, self._now())
        if signer_cert is not None:
            signer = self._resolve_signer(signer_cert, self._now())
            issued_now = False
        else:
            signer = self._issue_signer(current.org_uscc, current.org_name, current.kind, department, actor)
            issued_now = True
        try:
            return self._remake(es_id, actor, add=signer)
        except BaseException:
            if issued_now:
                self._withdraw_signer(signer, actor)
            raise

    def remove_signer(
        self, es_id: str, cert_sm3: str, *, actor: str, revoke_certificate: bool = False
    ) -> SealDetails:
        """Return the seal re-made without the signer whose certificate has SM3 ``cert_sm3`` (hex).

        With ``revoke_certificate`` the certificate is also revoked (affiliationChanged) when our CA
        issued it. The last signer cannot be removed: revoke the seal instead.
        """
        cert_sm3 = cert_sm3.strip().lower()
        if not _SM3_HEX_RE.fullmatch(cert_sm3):
            raise InvalidInput("name the signer by the SM3 of its certificate (64 hex digits)")
        details = self._remake(es_id, actor, remove=cert_sm3)
        if revoke_certificate:
            removed = next((s for s in self._signers_of(es_id) if s.cert_sm3 == cert_sm3), None)
            if removed is not None and removed.ca_id is not None:
                ca_name = self._ca.ca_name_of(removed.ca_id)
                self._ca.revoke(ca_name, int(removed.serial, 16), "affiliationChanged", actor=actor)
        return details

    def _remake(
        self, es_id: str, actor: str, *, add: _Signer | None = None, remove: str | None = None
    ) -> SealDetails:
        with self._read_sessions() as session, session.begin():
            maker_ca = self._find(session, es_id).maker_ca
        maker, maker_signer = self._maker(maker_ca)
        with self._sessions() as session, session.begin():
            now = _seconds(self._clock())
            row = self._lock(session, es_id)
            _require_changeable(_record(row, now), now)
            signers = {
                s.cert_sm3: s
                for s in session.execute(
                    select(SealSigner).where(SealSigner.seal_id == row.id).with_for_update()
                ).scalars()
            }
            active = [s for s in signers.values() if s.removed_at is None]
            if add is not None:
                existing = signers.get(add.sm3)
                if existing is not None and existing.removed_at is None:
                    raise InvalidState(f"the certificate is already a signer of seal {es_id}")
                if existing is not None:
                    existing.removed_at = None
                    existing.added_at = now
                    existing.added_by = actor[:MAX_PRINCIPAL]
                    existing.key_id = add.key_id
                    existing.certificate_id = add.certificate_id
                else:
                    session.add(_signer_row(row.id, add, now, actor))
                action, change = "seal.signer.add", _signer_audit(add)
            else:
                assert remove is not None
                target = signers.get(remove)
                if target is None or target.removed_at is not None:
                    raise NotFound(f"seal {es_id} lists no signer certificate with SM3 {remove}")
                if len(active) == 1:
                    raise InvalidState(
                        f"{target.subject} is the only signer of seal {es_id}: add another signer first, "
                        "or revoke the seal"
                    )
                target.removed_at = now
                action = "seal.signer.remove"
                change = {"cert_sm3": target.cert_sm3, "serial": target.serial, "subject": target.subject}
            session.flush()
            listed = list(
                session.execute(
                    select(SealSigner)
                    .where(SealSigner.seal_id == row.id, SealSigner.removed_at.is_(None))
                    .order_by(SealSigner.added_at, SealSigner.id)
                ).scalars()
            )
            old = parse_seal(row.seal_der, lenient=False)
            fields = SealInfoFields(
                vendor_id=VENDOR_ID,
                es_id=row.es_id,
                seal_type=row.kind,
                name=row.name,
                signer_certs=tuple(s.certificate_der for s in listed),
                create_date=now,
                valid_start=row.valid_start,
                valid_end=row.valid_end,
                picture=old.picture,
                cert_list_type=row.cert_list_type,
            )
            seal_der = make_seal(fields, maker.der, maker_signer)
            digest = sm3(seal_der).hex()
            previous = session.execute(
                select(SealVersion).where(SealVersion.seal_id == row.id, SealVersion.version == row.version)
            ).scalar_one()
            previous.superseded_at = now
            old_version, old_sm3 = row.version, row.seal_sm3
            row.version += 1
            row.seal_der = seal_der
            row.seal_sm3 = digest
            session.add(
                SealVersion(
                    seal_id=row.id, version=row.version, seal_der=seal_der, seal_sm3=digest, made_at=now
                )
            )
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action=action,
                subject=f"seal:{row.es_id}",
                details={
                    "es_id": row.es_id,
                    "signer": change,
                    "previous_version": old_version,
                    "previous_sm3": old_sm3,
                    "version": row.version,
                    "seal_sm3": digest,
                    "signers": [s.cert_sm3 for s in listed],
                },
            )
            details = self._details(session, row, now)
        self._forget_answer(es_id)
        return details

    # --- grants ------------------------------------------------------------------------------------

    def grant(
        self, es_id: str, principal: str, role: GrantRole | str = GrantRole.SIGN, *, actor: str
    ) -> SealDetails:
        """Return the seal after granting ``principal`` the ``role`` on it (a current grant is kept)."""
        principal = parse_principal(principal)
        grant_role = _role(role)
        self._check_principals_exist([principal])
        with self._sessions() as session, session.begin():
            now = _seconds(self._clock())
            row = self._lock(session, es_id)
            if row.status == StoredSealState.REVOKED.value:
                raise InvalidState(f"seal {es_id} is revoked since {_iso(row.status_changed_at)}")
            existing = session.execute(
                select(SealGrant).where(
                    SealGrant.seal_id == row.id,
                    SealGrant.principal == principal,
                    SealGrant.role == grant_role.value,
                )
            ).scalar_one_or_none()
            if existing is not None and existing.revoked_at is None:
                return self._details(session, row, now)
            if existing is None:
                session.add(_grant_row(row.id, principal, grant_role, now, actor))
            else:
                existing.revoked_at = None
                existing.granted_at = now
                existing.granted_by = actor[:MAX_PRINCIPAL]
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action="seal.grant",
                subject=f"seal:{row.es_id}",
                details={"es_id": row.es_id, "principal": principal, "role": grant_role.value},
            )
            return self._details(session, row, now)

    def revoke_grant(
        self, es_id: str, principal: str, role: GrantRole | str = GrantRole.SIGN, *, actor: str
    ) -> SealDetails:
        """Return the seal after withdrawing ``principal``'s ``role``; NotFound if it holds none."""
        principal = parse_principal(principal)
        grant_role = _role(role)
        with self._sessions() as session, session.begin():
            now = _seconds(self._clock())
            row = self._lock(session, es_id)
            existing = session.execute(
                select(SealGrant).where(
                    SealGrant.seal_id == row.id,
                    SealGrant.principal == principal,
                    SealGrant.role == grant_role.value,
                    SealGrant.revoked_at.is_(None),
                )
            ).scalar_one_or_none()
            if existing is None:
                raise NotFound(f"{principal} holds no {grant_role.value} grant on seal {es_id}")
            existing.revoked_at = now
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action="seal.grant.revoke",
                subject=f"seal:{row.es_id}",
                details={"es_id": row.es_id, "principal": principal, "role": grant_role.value},
            )
            return self._details(session, row, now)

    def is_granted(self, es_id: str, principal: str, role: GrantRole | str = GrantRole.SIGN) -> bool:
        """Return whether ``principal`` currently holds ``role`` on the seal (``sign`` implies ``view``)."""
        roles = {_role(role).value} | ({GrantRole.SIGN.value} if _role(role) is GrantRole.VIEW else set())
        with self._read_sessions() as session, session.begin():
            row = self._find(session, es_id)
            found = session.execute(
                select(SealGrant.id).where(
                    SealGrant.seal_id == row.id,
                    SealGrant.principal == principal,
                    SealGrant.role.in_(roles),
                    SealGrant.revoked_at.is_(None),
                )
            ).first()
        return found is not None

    # --- reading -----------------------------------------------------------------------------------

    def get(self, es_id: str) -> SealDetails:
        """Return the seal ``es_id`` with signers, grants and history; NotFound otherwise."""
        with self._read_sessions() as session, session.begin():
            return self._details(session, self._find(session, es_id), self._now())

    def list(
        self,
        *,
        org: str | None = None,
        kind: SealKind | int | str | None = None,
        status: SealState | str | None = None,
        principal: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[SealRecord]:
        """Return seals, newest first, filtered by organisation (USCC), kind, status or granted principal."""
        if not 0 < limit <= 1000 or offset < 0:
            raise InvalidInput("limit must be 1 to 1000 and offset not negative")
        now = self._now()
        query = select(Seal)
        if org is not None:
            query = query.where(Seal.org_uscc == _uscc(org))
        if kind is not None:
            query = query.where(Seal.kind == int(parse_kind(kind)))
        if status is not None:
            query = query.where(_status_condition(_state(status), now))
        if principal is not None:
            granted = select(SealGrant.seal_id).where(
                SealGrant.principal == principal, SealGrant.revoked_at.is_(None)
            )
            query = query.where(Seal.id.in_(granted))
        query = query.order_by(Seal.id.desc()).limit(limit).offset(offset)
        with self._read_sessions() as session, session.begin():
            return [_record(row, now) for row in session.execute(query).scalars()]

    def status(self, es_id: str) -> SealStatus:
        """Return the status of the seal ``es_id`` now; NotFound for an unknown esID."""
        now = self._now()
        with self._read_sessions() as session, session.begin():
            row = self._find(session, es_id)
            superseded = tuple(
                SupersededVersion(v.version, v.seal_sm3, v.superseded_at)
                for v in session.execute(
                    select(SealVersion)
                    .where(SealVersion.seal_id == row.id, SealVersion.superseded_at.is_not(None))
                    .order_by(SealVersion.version)
                ).scalars()
                if v.superseded_at is not None
            )
        record = _record(row, now)
        return SealStatus(
            es_id=record.es_id,
            status=record.status,
            since=record.since,
            reason=record.reason,
            valid_start=record.valid_start,
            valid_end=record.valid_end,
            org_uscc=record.org_uscc,
            org_name=record.org_name,
            kind=int(record.kind),
            name=record.name,
            version=record.version,
            seal_sm3=record.seal_sm3,
            superseded=superseded,
            maker_ca=record.maker_ca,
        )

    def signed_status(self, es_id: str, *, nonce: str | None = None) -> tuple[bytes, datetime]:
        """Return the signed status answer of ``es_id`` (JSON bytes, see :mod:`trustsvc.seal.status`) and
        the time it was produced.

        Without ``nonce`` an answer made less than :data:`STATUS_REFRESH_SECONDS` ago is reused as long as
        nothing in it changed; with one (1–64 of ``A-Za-z0-9_-.=+/``) a fresh answer carrying it is signed.
        """
        if nonce is not None and not _NONCE_RE.fullmatch(nonce):
            raise InvalidInput(f"a nonce is 1 to {MAX_NONCE} characters of A-Z a-z 0-9 _ - . = + /")
        current = self.status(es_id)
        now = self._now()
        key = (
            current.status,
            current.since,
            current.version,
            current.seal_sm3,
            len(current.superseded),
        )
        if nonce is None:
            with self._answers_lock:
                cached = self._answers.get(current.es_id)
                if cached is not None:
                    self._answers.move_to_end(current.es_id)
            if cached is not None and cached[0] == key:
                produced = cached[1]
                if timedelta(0) <= now - produced < timedelta(seconds=STATUS_REFRESH_SECONDS):
                    return cached[2], produced
        maker, maker_signer = self._maker(current.maker_ca)
        issuing = self._ca.ca(current.maker_ca).certificate_der
        payload = statement(current, produced_at=now, nonce=nonce)
        answer = sign_statement(payload, maker_signer, (maker.der, issuing))
        if nonce is None:
            with self._answers_lock:
                self._answers[current.es_id] = (key, now, answer)
                self._answers.move_to_end(current.es_id)
                while len(self._answers) > STATUS_CACHE_ENTRIES:
                    self._answers.popitem(last=False)
        return answer, now

    def signing_key_for(self, es_id: str, principal: str) -> SigningMaterial:
        """Return the ``SESeal``, signer certificate and key with which ``principal`` applies the seal.

        The principal must hold the ``sign`` grant (``Forbidden``); the seal must be active and within its
        validity (``InvalidState`` naming the status and since when, with ``extra`` ``seal_status`` and
        ``since``); a signer whose key is in our key store, whose certificate is valid now and not revoked
        or on hold, must be listed (``InvalidState`` otherwise). The newest such signer is used.
        """
        now = self._now()
        with self._read_sessions() as session, session.begin():
            row = self._find(session, es_id)
            granted = session.execute(
                select(SealGrant.id).where(
                    SealGrant.seal_id == row.id,
                    SealGrant.principal == principal,
                    SealGrant.role == GrantRole.SIGN.value,
                    SealGrant.revoked_at.is_(None),
                )
            ).first()
            if granted is None:
                raise Forbidden(f"{principal[:MAX_PRINCIPAL]} may not apply seal {row.es_id}")
            record = _record(row, now)
            _require_usable(record, now)
            candidates = list(
                session.execute(
                    select(SealSigner, IssuedCertificate.status)
                    .outerjoin(IssuedCertificate, IssuedCertificate.id == SealSigner.certificate_id)
                    .where(
                        SealSigner.seal_id == row.id,
                        SealSigner.removed_at.is_(None),
                        SealSigner.key_id.is_not(None),
                    )
                    .order_by(SealSigner.added_at.desc(), SealSigner.id.desc())
                )
            )
        problems = []
        for signer, cert_status in candidates:
            if signer.not_after <= now:
                problems.append(f"certificate {signer.serial} expired at {_iso(signer.not_after)}")
            elif cert_status is not None and cert_status != CertificateStatus.GOOD.value:
                problems.append(f"certificate {signer.serial} is {cert_status}")
            else:
                assert signer.key_id is not None
                return SigningMaterial(
                    record.seal_der, signer.certificate_der, self._keystore().signer(signer.key_id)
                )
        if not problems:
            raise InvalidState(
                f"seal {es_id} lists no signer whose key is in this service's key store: its signers sign "
                "with their own keys"
            )
        raise InvalidState(f"seal {es_id} has no usable signer: {'; '.join(problems)}")

    def picture(self, es_id: str) -> tuple[str, bytes]:
        """Return the picture of the seal's current ``SESeal``: (type such as ``PNG``, image bytes)."""
        details = self.get(es_id)
        return details.picture_type, details.picture_data

    # --- helpers -----------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _seconds(self._clock())

    def _maker(self, ca_name: str) -> tuple[IssuedCertificate, Signer]:
        """Return the current seal-maker certificate of ``ca_name`` and the signer of its key."""
        maker = self._ca.service_certificate(ServiceRole.SEAL_MAKER, ca_name)
        if maker.key_id is None:
            raise ConfigurationError(f"the seal-maker certificate of {ca_name} has no key in the key store")
        return maker, self._keystore().signer(maker.key_id)

    def _find(self, session: Session, es_id: str) -> Seal:
        row = None
        if isinstance(es_id, str) and 0 < len(es_id) <= MAX_ES_ID:
            row = session.execute(select(Seal).where(Seal.es_id == es_id)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no seal with esID {str(es_id)[:MAX_ES_ID]!r}")
        return row

    def _lock(self, session: Session, es_id: str) -> Seal:
        row = None
        if isinstance(es_id, str) and 0 < len(es_id) <= MAX_ES_ID:
            row = session.execute(
                select(Seal)
                .where(Seal.es_id == es_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no seal with esID {str(es_id)[:MAX_ES_ID]!r}")
        return row

    def _signers_of(self, es_id: str) -> builtins.list[_SignerRow]:
        with self._read_sessions() as session, session.begin():
            row = self._find(session, es_id)
            return [
                _SignerRow(s.cert_sm3, s.certificate_id, s.serial, ca_id)
                for s, ca_id in session.execute(
                    select(SealSigner, IssuedCertificate.ca_id)
                    .outerjoin(IssuedCertificate, IssuedCertificate.id == SealSigner.certificate_id)
                    .where(SealSigner.seal_id == row.id)
                )
            ]

    def _details(self, session: Session, row: Seal, now: datetime) -> SealDetails:
        signers = tuple(
            SignerInfo(
                cert_sm3=s.cert_sm3,
                subject=s.subject,
                serial=s.serial,
                not_after=s.not_after,
                certificate_der=s.certificate_der,
                key_in_store=s.key_id is not None,
                issued_by_us=s.certificate_id is not None,
                added_at=s.added_at,
                added_by=s.added_by,
                removed_at=s.removed_at,
            )
            for s in session.execute(
                select(SealSigner).where(SealSigner.seal_id == row.id).order_by(SealSigner.id)
            ).scalars()
        )
        grants = tuple(
            GrantInfo(g.principal, GrantRole(g.role), g.granted_at, g.granted_by, g.revoked_at)
            for g in session.execute(
                select(SealGrant).where(SealGrant.seal_id == row.id).order_by(SealGrant.id)
            ).scalars()
        )
        versions = tuple(
            VersionInfo(v.version, v.seal_sm3, v.made_at, v.superseded_at)
            for v in session.execute(
                select(SealVersion).where(SealVersion.seal_id == row.id).order_by(SealVersion.version)
            ).scalars()
        )
        events = tuple(
            StatusEventInfo(e.at, e.actor, e.from_status, e.to_status, e.reason)
            for e in session.execute(
                select(SealStatusEvent)
                .where(SealStatusEvent.seal_id == row.id)
                .order_by(SealStatusEvent.at, SealStatusEvent.id)
            ).scalars()
        )
        try:
            picture = parse_seal(row.seal_der, lenient=False).picture
        except MalformedInput as exc:  # our own output always parses strictly; this is a damaged row
            raise ConfigurationError(f"stored SESeal of {row.es_id} does not parse: {exc.detail}") from exc
        return SealDetails(
            seal=_record(row, now),
            signers=signers,
            grants=grants,
            versions=versions,
            events=events,
            picture_type=picture.type,
            picture_data=picture.data,
            picture_width_mm=picture.width_mm,
            picture_height_mm=picture.height_mm,
        )

    def _forget_answer(self, es_id: str) -> None:
        with self._answers_lock:
            self._answers.pop(es_id, None)


# --- module helpers ------------------------------------------------------------------------------


class _SignerRow(NamedTuple):
    cert_sm3: str
    certificate_id: int | None
    serial: str
    ca_id: int | None


def _record(row: Seal, now: datetime) -> SealRecord:
    state = effective_status(row.status, row.valid_end, now)
    since = row.valid_end if state is SealState.EXPIRED else row.status_changed_at
    return SealRecord(
        es_id=row.es_id,
        org_uscc=row.org_uscc,
        org_name=row.org_name,
        kind=SealKind(row.kind),
        name=row.name,
        status=state,
        stored_status=StoredSealState(row.status),
        since=since,
        reason=row.reason,
        valid_start=row.valid_start,
        valid_end=row.valid_end,
        cert_list_type=row.cert_list_type,
        version=row.version,
        seal_sm3=row.seal_sm3,
        seal_der=row.seal_der,
        maker_ca=row.maker_ca,
        created_at=row.created_at,
        created_by=row.created_by,
        status_changed_at=row.status_changed_at,
    )


def _signer_row(seal_id: int, signer: _Signer, now: datetime, actor: str) -> SealSigner:
    return SealSigner(
        seal_id=seal_id,
        cert_sm3=signer.sm3,
        certificate_der=signer.der,
        certificate_id=signer.certificate_id,
        key_id=signer.key_id,
        subject=signer.subject,
        serial=signer.serial,
        not_after=signer.not_after,
        added_at=now,
        added_by=actor[:MAX_PRINCIPAL],
    )


def _grant_row(seal_id: int, principal: str, role: GrantRole, now: datetime, actor: str) -> SealGrant:
    return SealGrant(
        seal_id=seal_id,
        principal=principal,
        role=role.value,
        granted_at=now,
        granted_by=actor[:MAX_PRINCIPAL],
    )


def _signer_audit(signer: _Signer) -> dict[str, Any]:
    return {
        "cert_sm3": signer.sm3,
        "serial": signer.serial,
        "subject": signer.subject,
        "issued_by_us": signer.certificate_id is not None,
        "key_in_store": signer.key_id is not None,
    }


def _role(value: GrantRole | str) -> GrantRole:
    try:
        return GrantRole(value)
    except ValueError:
        raise InvalidInput(
            f"unknown grant role {str(value)[:20]!r}; roles are {', '.join(r.value for r in GrantRole)}"
        ) from None


def _state(value: SealState | str) -> SealState:
    try:
        return SealState(value)
    except ValueError:
        raise InvalidInput(f"status is one of {', '.join(s.value for s in SealState)}") from None


def _status_condition(state: SealState, now: datetime) -> ColumnElement[bool]:
    if state is SealState.REVOKED:
        return Seal.status == StoredSealState.REVOKED.value
    if state is SealState.EXPIRED:
        return and_(Seal.status != StoredSealState.REVOKED.value, Seal.valid_end <= now)
    return and_(Seal.status == state.value, Seal.valid_end > now)


def _check_transition(row: Seal, previous: StoredSealState, target: StoredSealState, now: datetime) -> str:
    """Return the audit action of the change; InvalidState (naming status and since when) if not allowed."""
    since = _iso(row.status_changed_at)
    if previous is StoredSealState.REVOKED:
        raise InvalidState(
            f"seal {row.es_id} is revoked since {since}; revocation is final",
            seal_status=SealState.REVOKED.value,
            since=since,
        )
    if target is StoredSealState.REVOKED:
        return "seal.revoke"
    if now >= row.valid_end:
        raise InvalidState(
            f"seal {row.es_id} expired at {_iso(row.valid_end)}; it can only be revoked",
            seal_status=SealState.EXPIRED.value,
            since=_iso(row.valid_end),
        )
    if target is StoredSealState.SUSPENDED:
        if previous is StoredSealState.SUSPENDED:
            raise InvalidState(
                f"seal {row.es_id} is already suspended since {since}",
                seal_status=previous.value,
                since=since,
            )
        return "seal.suspend"
    if previous is not StoredSealState.SUSPENDED:
        raise InvalidState(
            f"seal {row.es_id} is not suspended (it is {previous.value} since {since}); only a suspended "
            "seal is resumed",
            seal_status=previous.value,
            since=since,
        )
    return "seal.resume"


def _require_usable(record: SealRecord, now: datetime) -> None:
    if record.status is not SealState.ACTIVE:
        since = _iso(record.since)
        verb = "expired at" if record.status is SealState.EXPIRED else f"{record.status.value} since"
        raise InvalidState(
            f"seal {record.es_id} cannot be applied: it is {verb} {since}",
            seal_status=record.status.value,
            since=since,
        )
    if now < record.valid_start:
        raise InvalidState(
            f"seal {record.es_id} cannot be applied: it is valid only from {_iso(record.valid_start)}",
            seal_status="not-yet-valid",
            since=_iso(record.valid_start),
        )


def _require_changeable(record: SealRecord, now: datetime) -> None:
    if record.status in (SealState.REVOKED, SealState.EXPIRED):
        verb = "expired at" if record.status is SealState.EXPIRED else "revoked since"
        raise InvalidState(
            f"seal {record.es_id} is {verb} {_iso(record.since)}: its signers can no longer change",
            seal_status=record.status.value,
            since=_iso(record.since),
        )


#: Profiles of our own certificates that may sign for a seal.
_SIGNER_PROFILES: Final = frozenset({ProfileKind.SEAL_SIGNER.value, ProfileKind.PERSON_SIGNER.value})


def _check_signing_certificate(cert: x509.Certificate) -> None:
    """Refuse a certificate that cannot sign documents: a CA, or one whose key usage excludes signing.

    A seal's signer list is what verifiers trust to sign under the seal (GB/T 38540 §7.3 c); a CA, OCSP or
    TLS certificate there would be a mistake at best. Other CAs' certificates are accepted when they are
    end-entity signing certificates (their holders sign with their own keys).
    """
    try:
        constraints = cert.basic_constraints_value
        key_usage = cert.key_usage_value
    except ValueError:
        raise InvalidInput(
            "the signer certificate's extensions cannot be read", field="signer_cert", rule="extensions"
        ) from None
    if constraints is not None and constraints["ca"].native:
        raise InvalidInput(
            "the signer certificate is a CA certificate; a seal's signer is an end entity",
            field="signer_cert",
            rule="end entity",
        )
    if key_usage is not None and not ({"digital_signature", "non_repudiation"} & set(key_usage.native)):
        raise InvalidInput(
            "the signer certificate's key usage allows no signing (digitalSignature or nonRepudiation)",
            field="signer_cert",
            rule="key usage",
        )
