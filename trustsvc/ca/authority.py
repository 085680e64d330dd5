"""The certificate authority: the embedded PKI, issuance, revocation, hold and release, status.

:class:`CertificateAuthorityService` is built from a session factory, the key store, the audit log, a clock
and the settings (the :class:`~trustsvc.service.TrustService` wires them). Rules it keeps:

* **Hierarchies.** ``init_pki(algorithm)`` makes, once, a root CA ``<h>-root`` (self-signed), an issuing CA
  ``<h>-issuing`` under it, and three service certificates issued by the issuing CA for the platform
  operator: OCSP responder, TSA and seal maker (制章者), each with a key generated in the key store and
  recorded in ``ca_service_certificates`` so OCSP, TSA and seal code find them by role. ``<h>`` is ``sm2``,
  ``ecdsa`` or ``rsa``; hierarchies of different algorithms coexist. Running it again makes only what is
  missing. CA certificates are also rows of ``certificates`` under their issuer (the root's own under
  itself), so the root's CRL and OCSP can speak about the issuing CA.
* **What a certificate contains** comes from its profile (:mod:`trustsvc.ca.profiles`): extensions never
  come from a CSR (its requested extensions are only recorded in the audit record), the subject is rebuilt
  from the CSR's attribute values after the profile's checks, and a subject attribute the profiles do not
  know is refused rather than dropped. A CSR's proof of possession must verify
  (:func:`trustsvc.ca.csr.parse_csr`). Leaves are issued only by issuing CAs; CA certificates only by
  ``init_pki``.
* **Serials** are random (:func:`trustsvc.ca.x509.new_serial`, 159 bits). The row is inserted under the
  unique constraint (ca_id, serial); on a conflict the certificate is signed again with a new serial. No
  process keeps a counter, so any number of processes issue concurrently.
* **One transaction per state change, with its audit record**: issuance (``certificate.issue``),
  revocation (``certificate.revoke``), hold (``certificate.hold``), release (``certificate.release``),
  CA creation (``ca.create``). Status changes lock the CA row to take the next ``status_version`` (see
  :mod:`trustsvc.ca.models`) and then refresh the CA's CRLs; if that refresh fails the change still stands
  and the next CRL request makes the new CRL (a stale ``status_version`` forces it).
* **Status transitions**: good → revoked | hold; hold → revoked | good (release); revoked is final.
  Reasons are RFC 5280 CRLReason names (:func:`parse_reason`); certificateHold means hold, removeFromCRL
  is never a revocation reason (it is what a release shows in the delta CRL).
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from asn1crypto import keys, x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from trustsvc.audit import AuditLog
from trustsvc.ca.crl import CrlPublisher
from trustsvc.ca.csr import parse_csr
from trustsvc.ca.models import (
    CaRole,
    CertificateAuthority,
    CertificateStatus,
    IssuedCertificate,
    ServiceCertificate,
    ServiceRole,
    serial_hex,
)
from trustsvc.ca.profiles import (
    USCC_PREFIX,
    CertificateProfile,
    ProfileKind,
    SubjectInfo,
    get_profile,
    pseudonymous_person_id,
    uscc_of,
    utc_seconds,
)
from trustsvc.ca.x509 import RevocationReason, build_certificate, key_identifier, new_serial
from trustsvc.config import Settings, load_pseudonym_key
from trustsvc.db import Clock
from trustsvc.errors import Conflict, InvalidInput, InvalidState, NotFound, TrustsvcError
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.keystore import KeyStore

__all__ = [
    "CaInfo",
    "CertificateAuthorityService",
    "PkiReport",
    "hierarchy_names",
    "name_text",
    "parse_reason",
    "reason_name",
    "subject_from_name",
]

log = logging.getLogger(__name__)

#: Attempts at a fresh random serial before giving up (a collision of 159-bit serials is not expected).
SERIAL_ATTEMPTS = 5

_HIERARCHY_PREFIX = {KeyAlgorithm.SM2: "sm2", KeyAlgorithm.ECDSA_P256: "ecdsa", KeyAlgorithm.RSA_3072: "rsa"}
_ALGORITHM_LABEL = {KeyAlgorithm.SM2: "SM2", KeyAlgorithm.ECDSA_P256: "ECDSA", KeyAlgorithm.RSA_3072: "RSA"}
_SERVICE_PROFILES = {
    ServiceRole.OCSP_RESPONDER: ProfileKind.OCSP_RESPONDER,
    ServiceRole.TSA: ProfileKind.TSA,
    ServiceRole.SEAL_MAKER: ProfileKind.SEAL_MAKER,
}
_CA_PROFILES = frozenset({ProfileKind.ROOT, ProfileKind.ISSUING_CA})

_RFC5280_REASONS = {
    RevocationReason.UNSPECIFIED: "unspecified",
    RevocationReason.KEY_COMPROMISE: "keyCompromise",
    RevocationReason.CA_COMPROMISE: "cACompromise",
    RevocationReason.AFFILIATION_CHANGED: "affiliationChanged",
    RevocationReason.SUPERSEDED: "superseded",
    RevocationReason.CESSATION_OF_OPERATION: "cessationOfOperation",
    RevocationReason.CERTIFICATE_HOLD: "certificateHold",
    RevocationReason.REMOVE_FROM_CRL: "removeFromCRL",
    RevocationReason.PRIVILEGE_WITHDRAWN: "privilegeWithdrawn",
    RevocationReason.AA_COMPROMISE: "aACompromise",
}
_REASON_LOOKUP = {
    **{name.lower(): reason for reason, name in _RFC5280_REASONS.items()},
    **{reason.value.replace("_", ""): reason for reason in RevocationReason},
}

_NAME_LABELS = {
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "common_name": "CN",
    "organization_identifier": "organizationIdentifier",
    "serial_number": "serialNumber",
}
_SUBJECT_FIELDS = {
    "country_name": "country",
    "state_or_province_name": "state",
    "locality_name": "locality",
    "organization_name": "organization",
    "organizational_unit_name": "organizational_unit",
    "common_name": "common_name",
    "organization_identifier": "uscc",
    "serial_number": "person_pseudonym",
}
_OVERRIDE_KEYS = frozenset(
    {
        "common_name",
        "organization",
        "organizational_unit",
        "uscc",
        "state",
        "locality",
        "country",
        "citizen_id",
    }
)


# --- names and reasons ---------------------------------------------------------------------------


def hierarchy_names(algorithm: KeyAlgorithm | str) -> tuple[str, str]:
    """Return the names (root, issuing) of the CAs of the ``algorithm`` hierarchy."""
    prefix = _HIERARCHY_PREFIX[KeyAlgorithm(algorithm)]
    return f"{prefix}-root", f"{prefix}-issuing"


def parse_reason(text: str | RevocationReason) -> RevocationReason:
    """Return the revocation reason named ``text``: RFC 5280 (``keyCompromise``) or snake/kebab case."""
    if isinstance(text, RevocationReason):
        return text
    key = str(text).strip().lower().replace("_", "").replace("-", "")
    try:
        return _REASON_LOOKUP[key]
    except KeyError:
        raise InvalidInput(
            f"unknown revocation reason {str(text)[:40]!r}; reasons are "
            + ", ".join(n for r, n in _RFC5280_REASONS.items() if r is not RevocationReason.REMOVE_FROM_CRL)
        ) from None


def reason_name(reason: RevocationReason | str | None) -> str | None:
    """Return the RFC 5280 name of ``reason`` (``keyCompromise``), or None."""
    return None if reason is None else _RFC5280_REASONS[RevocationReason(reason)]


def name_text(name: x509.Name) -> str:
    """Return ``name`` as one line in certificate order: ``C=CN, O=…, CN=…``."""
    parts = []
    for rdn in name.chosen:
        for ava in rdn:
            label = _NAME_LABELS.get(ava["type"].native, ava["type"].dotted)
            parts.append(f"{label}={ava['value'].native}")
    return ", ".join(parts)


def subject_from_name(name: x509.Name) -> SubjectInfo:
    """Return the subject values of ``name`` (a CSR's subject); InvalidInput for what we never certify."""
    values: dict[str, str] = {}
    for rdn in name.chosen:
        for ava in rdn:
            attribute = ava["type"].native
            target = _SUBJECT_FIELDS.get(attribute)
            if target is None:
                raise InvalidInput(
                    f"the requested subject carries attribute {ava['type'].dotted} ({attribute}), which "
                    "trustsvc certificates do not contain"
                )
            if target in values:
                raise InvalidInput(f"the requested subject carries {attribute} more than once")
            value = ava["value"].native
            if not isinstance(value, str):
                raise InvalidInput(f"the requested subject's {attribute} is not a string")
            if target == "uscc":
                if not value.startswith(USCC_PREFIX):
                    raise InvalidInput(
                        f"organizationIdentifier must be {USCC_PREFIX}<unified social credit code>"
                    )
                value = value[len(USCC_PREFIX) :]
            values[target] = value
    common_name = values.pop("common_name", "")
    return SubjectInfo(common_name=common_name, **values)


# --- snapshots -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaInfo:
    """A CA as read from the database, usable after the session has closed."""

    id: int
    name: str
    role: CaRole
    algorithm: KeyAlgorithm
    key_id: str
    parent_id: int | None
    subject: str
    serial: str
    not_before: datetime
    not_after: datetime
    certificate_der: bytes

    @classmethod
    def of(cls, row: CertificateAuthority) -> CaInfo:
        return cls(
            id=row.id,
            name=row.name,
            role=CaRole(row.role),
            algorithm=KeyAlgorithm(row.algorithm),
            key_id=row.key_id,
            parent_id=row.parent_id,
            subject=row.subject,
            serial=row.serial,
            not_before=row.not_before,
            not_after=row.not_after,
            certificate_der=row.certificate_der,
        )

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.certificate_der)


@dataclass
class PkiReport:
    """What ``init_pki`` did: ``created`` names each new CA and service certificate; ``hierarchy`` all."""

    created: list[str] = field(default_factory=list)
    hierarchy: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Subject:
    name: x509.Name
    text: str
    uscc: str | None


# --- the service ---------------------------------------------------------------------------------


class CertificateAuthorityService:
    """Issues, revokes, holds and releases certificates of the CAs in the database (see module docstring)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        keystore: Callable[[], KeyStore],
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        *,
        crls: CrlPublisher | None = None,
        read_sessions: Callable[[], Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._keystore = keystore
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._crls = crls or CrlPublisher(
            sessions, keystore, audit, clock, settings, read_sessions=read_sessions
        )
        self._cas: dict[str, CaInfo] = {}

    @property
    def crls(self) -> CrlPublisher:
        return self._crls

    # --- the embedded PKI ------------------------------------------------------------------------

    def init_pki(
        self,
        algorithm: KeyAlgorithm | str = KeyAlgorithm.SM2,
        *,
        org_name: str | None = None,
        org_uscc: str | None = None,
        actor: str = "system:init",
    ) -> PkiReport:
        """Return what was made of the ``algorithm`` hierarchy (root, issuing CA, service certificates).

        Idempotent: what exists is kept. ``org_name``/``org_uscc`` default to the settings'
        (:attr:`Settings.pki_org_name`, :attr:`Settings.pki_org_uscc`).
        """
        algorithm = KeyAlgorithm(algorithm)
        org = org_name or self._settings.pki_org_name
        uscc = org_uscc or self._settings.pki_org_uscc
        label = _ALGORITHM_LABEL[algorithm]
        root_name, issuing_name = hierarchy_names(algorithm)
        report = PkiReport()

        root = self._find_ca(root_name)
        if root is None:
            root = self._create_ca(
                root_name, CaRole.ROOT, algorithm, _org_subject(org, uscc, f"{label}根CA"), None, actor
            )
            report.created.append(f"certificate authority {root_name}")
        issuing = self._find_ca(issuing_name)
        if issuing is None:
            issuing = self._create_ca(
                issuing_name,
                CaRole.ISSUING,
                algorithm,
                _org_subject(org, uscc, f"{label}签发CA"),
                root,
                actor,
            )
            report.created.append(f"certificate authority {issuing_name}")

        suffixes = {
            ServiceRole.OCSP_RESPONDER: f"{label} OCSP服务",
            ServiceRole.TSA: f"{label}时间戳服务",
            ServiceRole.SEAL_MAKER: f"{label}电子印章制作",
        }
        for role, suffix in suffixes.items():
            if self._service_row(issuing.id, role) is not None:
                continue
            try:
                self.issue_for_new_key(
                    issuing_name,
                    _SERVICE_PROFILES[role],
                    _org_subject(org, uscc, suffix),
                    algorithm,
                    actor=actor,
                    service_role=role,
                )
            except IntegrityError:
                # Another process assigned the role meanwhile; its certificate stands.
                if self._service_row(issuing.id, role) is None:
                    raise
                continue
            report.created.append(f"{role} certificate of {issuing_name}")

        for ca in (root, issuing):
            report.hierarchy.append(
                f"{ca.name}: {ca.role} CA, {ca.algorithm}, serial {ca.serial}, until "
                f"{ca.not_after:%Y-%m-%d}, {ca.subject}"
            )
        for role in ServiceRole:
            found = self.service_certificate(role, issuing_name)
            report.hierarchy.append(
                f"{issuing_name} {role}: serial {found.serial}, until {found.not_after:%Y-%m-%d}, "
                f"key {found.key_id}, {found.subject}"
            )
        return report

    def _create_ca(
        self,
        name: str,
        role: CaRole,
        algorithm: KeyAlgorithm,
        subject: SubjectInfo,
        parent: CaInfo | None,
        actor: str,
    ) -> CaInfo:
        kind = ProfileKind.ROOT if role is CaRole.ROOT else ProfileKind.ISSUING_CA
        profile = self._profile(kind)
        built = self._subject(profile, subject)
        key = self._keystore().generate(algorithm, label=f"CA {name}")
        spki = self._keystore().public_key_info(key.key_id)
        signer = self._keystore().signer(parent.key_id if parent else key.key_id)

        for _attempt in range(SERIAL_ATTEMPTS):
            now = self._clock()
            not_before, not_after = profile.validity(
                now, issuer_not_after=parent.not_after if parent else None
            )
            serial = new_serial()
            certificate = build_certificate(
                profile,
                built.name,
                spki,
                parent.certificate if parent else None,
                signer,
                serial=serial,
                not_before=not_before,
                not_after=not_after,
                base_url=self._settings.public_base_url,
                ca_name=parent.name if parent else name,
            )
            der = certificate.dump()
            try:
                with self._sessions() as session, session.begin():
                    row = CertificateAuthority(
                        name=name,
                        role=role.value,
                        algorithm=algorithm.value,
                        key_id=key.key_id,
                        parent_id=parent.id if parent else None,
                        subject=built.text,
                        serial=serial_hex(serial),
                        key_hash_sha1=key_identifier(spki).hex(),
                        not_before=not_before,
                        not_after=not_after,
                        certificate_der=der,
                        created_at=now,
                        crl_counter=0,
                        status_version=0,
                    )
                    session.add(row)
                    session.flush()
                    issuer_id = parent.id if parent else row.id
                    session.add(
                        _certificate_row(
                            issuer_id,
                            serial,
                            kind,
                            built,
                            algorithm,
                            key.key_id,
                            not_before,
                            not_after,
                            der,
                            now,
                        )
                    )
                    session.flush()
                    self._audit.append(
                        session,
                        actor=actor,
                        action="ca.create",
                        subject=f"ca:{name}",
                        details={
                            "name": name,
                            "role": role.value,
                            "algorithm": algorithm.value,
                            "key_id": key.key_id,
                            "parent": parent.name if parent else None,
                            "serial": serial_hex(serial),
                            "subject": built.text,
                            "not_after": not_after.isoformat(),
                        },
                    )
            except IntegrityError as exc:
                existing = self._find_ca(name)
                if existing is not None:
                    log.warning("CA %s was created by another process; key %s is unused", name, key.key_id)
                    return existing
                if not _is_serial_conflict(exc):
                    raise
                continue
            info = CaInfo.of(row)
            self._cas[name] = info
            log.info("created %s CA %s (%s)", role, name, algorithm)
            return info
        raise Conflict("could not allocate a unique certificate serial; try again")

    # --- issuance ----------------------------------------------------------------------------------

    def issue_from_csr(
        self,
        ca_name: str,
        csr_bytes: bytes,
        profile_kind: ProfileKind | str,
        *,
        subject: Mapping[str, Any] | None = None,
        actor: str,
    ) -> IssuedCertificate:
        """Return the certificate issued by ``ca_name`` for the key of a PKCS#10 request.

        The subject is the request's, with ``subject`` overriding single attributes (keys ``common_name``,
        ``organization``, ``organizational_unit``, ``uscc``, ``state``, ``locality``, ``country``; ``None``
        or ``""`` removes one; ``citizen_id`` sets the person pseudonym). Everything else comes from the
        profile. Raises MalformedInput / UnsupportedAlgorithm / InvalidSignature for the request,
        InvalidInput when the subject does not fit the profile.
        """
        ca = self._issuing_ca(ca_name)
        profile = self._leaf_profile(profile_kind)
        info = parse_csr(csr_bytes)
        subject_info = _apply_overrides(subject_from_name(info.subject), subject, self._pseudonym)
        built = self._subject(profile, subject_info)
        requested = sorted({ext["extn_id"].dotted for ext in info.requested_extensions})
        return self._issue(
            ca,
            profile,
            built,
            info.public_key_info,
            key_algorithm=info.key_algorithm,
            key_id=None,
            actor=actor,
            details={"source": "csr", "ignored_requested_extensions": requested},
        )

    def issue_for_new_key(
        self,
        ca_name: str,
        profile_kind: ProfileKind | str,
        subject: SubjectInfo,
        key_algorithm: KeyAlgorithm | str,
        *,
        actor: str,
        label: str = "",
        service_role: ServiceRole | None = None,
    ) -> tuple[IssuedCertificate, str]:
        """Return the certificate issued by ``ca_name`` for a key generated now in the key store, and its id.

        With ``service_role`` the certificate also becomes the CA's current one for that role, in the
        same transaction.
        """
        ca = self._issuing_ca(ca_name)
        profile = self._leaf_profile(profile_kind)
        built = self._subject(profile, subject)
        algorithm = KeyAlgorithm(key_algorithm)
        info = self._keystore().generate(
            algorithm, label=label or f"{profile.kind} {subject.common_name}"[:200]
        )
        spki = self._keystore().public_key_info(info.key_id)
        row = self._issue(
            ca,
            profile,
            built,
            spki,
            key_algorithm=algorithm,
            key_id=info.key_id,
            actor=actor,
            details={"source": "key-store"},
            service_role=service_role,
        )
        return row, info.key_id

    def _issue(
        self,
        ca: CaInfo,
        profile: CertificateProfile,
        subject: _Subject,
        spki: keys.PublicKeyInfo,
        *,
        key_algorithm: KeyAlgorithm,
        key_id: str | None,
        actor: str,
        details: dict[str, Any],
        service_role: ServiceRole | None = None,
    ) -> IssuedCertificate:
        signer = self._keystore().signer(ca.key_id)
        for _attempt in range(SERIAL_ATTEMPTS):
            now = self._clock()
            not_before, not_after = profile.validity(now, issuer_not_after=ca.not_after)
            serial = new_serial()
            certificate = build_certificate(
                profile,
                subject.name,
                spki,
                ca.certificate,
                signer,
                serial=serial,
                not_before=not_before,
                not_after=not_after,
                base_url=self._settings.public_base_url,
                ca_name=ca.name,
            )
            row = _certificate_row(
                ca.id,
                serial,
                profile.kind,
                subject,
                key_algorithm,
                key_id,
                not_before,
                not_after,
                certificate.dump(),
                now,
            )
            try:
                with self._sessions() as session, session.begin():
                    session.add(row)
                    session.flush()
                    if service_role is not None:
                        self._assign_role(session, ca.id, service_role, row.id, now)
                    self._audit.append(
                        session,
                        actor=actor,
                        action="certificate.issue",
                        subject=f"certificate:{ca.name}/{row.serial}",
                        details={
                            "ca": ca.name,
                            "serial": row.serial,
                            "profile": profile.kind.value,
                            "subject": subject.text,
                            "key_algorithm": key_algorithm.value,
                            "key_id": key_id,
                            "not_before": not_before.isoformat(),
                            "not_after": not_after.isoformat(),
                            "service_role": service_role.value if service_role else None,
                            **details,
                        },
                    )
            except IntegrityError as exc:
                if not _is_serial_conflict(exc):
                    raise
                log.warning(
                    "serial %s of CA %s is taken; signing again with a new serial", row.serial, ca.name
                )
                continue
            return row
        raise Conflict("could not allocate a unique certificate serial; try again")

    def _assign_role(
        self, session: Session, ca_id: int, role: ServiceRole, certificate_id: int, now: datetime
    ) -> None:
        current = session.execute(
            select(ServiceCertificate).where(
                ServiceCertificate.ca_id == ca_id, ServiceCertificate.role == role.value
            )
        ).scalar_one_or_none()
        if current is None:
            session.add(
                ServiceCertificate(ca_id=ca_id, role=role.value, certificate_id=certificate_id, since=now)
            )
        else:
            current.certificate_id = certificate_id
            current.since = now
        session.flush()

    def subject_info(self, values: Mapping[str, Any]) -> SubjectInfo:
        """Return subject values from ``values`` (the keys ``issue_from_csr`` accepts as overrides)."""
        return _apply_overrides(SubjectInfo(common_name=""), values, self._pseudonym)

    # --- status changes ----------------------------------------------------------------------------

    def revoke(
        self,
        ca_name: str,
        serial: int,
        reason: RevocationReason | str = RevocationReason.UNSPECIFIED,
        invalidity_date: datetime | None = None,
        *,
        actor: str,
    ) -> IssuedCertificate:
        """Return the certificate after revoking it (certificateHold puts it on hold); CRLs follow."""
        reason = parse_reason(reason)
        if reason is RevocationReason.REMOVE_FROM_CRL:
            raise InvalidInput(
                "removeFromCRL is not a revocation reason: release the held certificate instead"
            )
        if reason is RevocationReason.CERTIFICATE_HOLD:
            if invalidity_date is not None:
                raise InvalidInput("a certificate on hold has no invalidity date")
            return self.hold(ca_name, serial, actor=actor)
        return self._change(ca_name, serial, CertificateStatus.REVOKED, reason, invalidity_date, actor)

    def hold(self, ca_name: str, serial: int, *, actor: str) -> IssuedCertificate:
        """Return the certificate after putting it on hold (revoked with reason certificateHold)."""
        return self._change(
            ca_name, serial, CertificateStatus.HOLD, RevocationReason.CERTIFICATE_HOLD, None, actor
        )

    def release(self, ca_name: str, serial: int, *, actor: str) -> IssuedCertificate:
        """Return the certificate after releasing it from hold; the next delta CRL says removeFromCRL."""
        return self._change(ca_name, serial, CertificateStatus.GOOD, None, None, actor)

    def _change(
        self,
        ca_name: str,
        serial: int,
        status: CertificateStatus,
        reason: RevocationReason | None,
        invalidity_date: datetime | None,
        actor: str,
    ) -> IssuedCertificate:
        key = serial_hex(serial)
        now = self._clock()
        if invalidity_date is not None:
            invalidity_date = utc_seconds(invalidity_date)
            if invalidity_date > now:
                raise InvalidInput("the invalidity date lies in the future")
        with self._sessions() as session, session.begin():
            # Lock order CA row → certificate → audit head, as the CRL publisher does.
            ca = session.execute(
                select(CertificateAuthority)
                .where(CertificateAuthority.name == ca_name)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if ca is None:
                raise NotFound(f"no certificate authority named {ca_name[:64]!r}")
            row = session.execute(
                select(IssuedCertificate)
                .where(IssuedCertificate.ca_id == ca.id, IssuedCertificate.serial == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(f"CA {ca_name} issued no certificate with serial {key}")
            previous = CertificateStatus(row.status)
            action = _check_transition(row, previous, status)
            ca.status_version += 1
            row.status = status.value
            row.status_version = ca.status_version
            row.status_changed_at = now
            if status is CertificateStatus.GOOD:
                row.revoked_at = row.reason = row.invalidity_date = None
            else:
                row.revoked_at = now
                row.reason = reason.value if reason else None
                row.invalidity_date = invalidity_date
            session.flush()
            self._audit.append(
                session,
                actor=actor,
                action=action,
                subject=f"certificate:{ca_name}/{key}",
                details={
                    "ca": ca_name,
                    "serial": key,
                    "previous_status": previous.value,
                    "status": status.value,
                    "reason": reason_name(reason),
                    "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
                },
            )
        try:
            self._crls.refresh(ca_name, actor=actor)
        except (TrustsvcError, SQLAlchemyError) as exc:
            # The change stands; the next CRL request makes the CRL (its status_version is stale).
            log.error("CRL refresh of %s after %s failed: %s", ca_name, action, exc)
        return row

    # --- reading -----------------------------------------------------------------------------------

    def get(self, ca_name: str, serial: int) -> IssuedCertificate:
        """Return the certificate ``serial`` issued by ``ca_name``; NotFound otherwise."""
        ca = self.ca(ca_name)
        key = serial_hex(serial)
        with self._read_sessions() as session, session.begin():
            row = session.execute(
                select(IssuedCertificate).where(
                    IssuedCertificate.ca_id == ca.id, IssuedCertificate.serial == key
                )
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"CA {ca_name} issued no certificate with serial {key}")
        return row

    def list(
        self,
        ca_name: str | None = None,
        *,
        status: CertificateStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[IssuedCertificate]:
        """Return issued certificates, newest first, optionally of one CA and one status."""
        if not 0 < limit <= 10_000 or offset < 0:
            raise InvalidInput("limit must be 1 to 10000 and offset not negative")
        query = select(IssuedCertificate)
        if ca_name is not None:
            query = query.where(IssuedCertificate.ca_id == self.ca(ca_name).id)
        if status is not None:
            try:
                status = CertificateStatus(status)
            except ValueError:
                raise InvalidInput(
                    f"status is one of {', '.join(s.value for s in CertificateStatus)}"
                ) from None
            query = query.where(IssuedCertificate.status == status.value)
        query = query.order_by(IssuedCertificate.id.desc()).limit(limit).offset(offset)
        with self._read_sessions() as session, session.begin():
            return builtins.list(session.execute(query).scalars())

    def ca(self, name: str) -> CaInfo:
        """Return the CA named ``name``; NotFound otherwise."""
        found = self._find_ca(name)
        if found is None:
            raise NotFound(f"no certificate authority named {name[:64]!r}")
        return found

    def cas(self) -> builtins.list[CaInfo]:
        """Return every CA, in order of creation."""
        with self._read_sessions() as session, session.begin():
            rows = session.execute(select(CertificateAuthority).order_by(CertificateAuthority.id)).scalars()
            return [CaInfo.of(row) for row in rows]

    def ca_name_of(self, ca_id: int) -> str:
        """Return the name of the CA with database id ``ca_id``."""
        for info in self._cas.values():
            if info.id == ca_id:
                return info.name
        for info in self.cas():
            self._cas.setdefault(info.name, info)
            if info.id == ca_id:
                return info.name
        raise NotFound(f"no certificate authority with id {ca_id}")

    def service_certificate(self, role: ServiceRole | str, ca_name: str) -> IssuedCertificate:
        """Return the certificate currently acting in ``role`` for ``ca_name`` (its key is ``.key_id``)."""
        role = ServiceRole(role)
        ca = self.ca(ca_name)
        with self._read_sessions() as session, session.begin():
            row = session.execute(
                select(IssuedCertificate)
                .join(ServiceCertificate, ServiceCertificate.certificate_id == IssuedCertificate.id)
                .where(ServiceCertificate.ca_id == ca.id, ServiceCertificate.role == role.value)
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"CA {ca_name} has no {role} certificate: run `trustsvc init`")
        return row

    # --- helpers -----------------------------------------------------------------------------------

    def _find_ca(self, name: str) -> CaInfo | None:
        cached = self._cas.get(name)
        if cached is not None:
            return cached
        with self._read_sessions() as session, session.begin():
            row = session.execute(
                select(CertificateAuthority).where(CertificateAuthority.name == name)
            ).scalar_one_or_none()
            if row is None:
                return None
            info = CaInfo.of(row)
        self._cas[name] = info
        return info

    def _service_row(self, ca_id: int, role: ServiceRole) -> ServiceCertificate | None:
        with self._read_sessions() as session, session.begin():
            return session.execute(
                select(ServiceCertificate).where(
                    ServiceCertificate.ca_id == ca_id, ServiceCertificate.role == role.value
                )
            ).scalar_one_or_none()

    def _issuing_ca(self, name: str) -> CaInfo:
        ca = self.ca(name)
        if ca.role is not CaRole.ISSUING:
            raise InvalidInput(
                f"{name} is a root CA: it certifies issuing CAs only; issue from an issuing CA"
            )
        return ca

    def _profile(self, kind: ProfileKind | str) -> CertificateProfile:
        return get_profile(
            kind,
            policy_oid=self._settings.certificate_policy_oid,
            cps_uri=self._settings.cps_uri or None,
            seal_making_oid=self._settings.seal_making_oid,
        )

    def _leaf_profile(self, kind: ProfileKind | str) -> CertificateProfile:
        profile = self._profile(kind)
        if profile.kind in _CA_PROFILES:
            raise InvalidInput("CA certificates are made by `trustsvc init`, not issued on request")
        return profile

    def _subject(self, profile: CertificateProfile, info: SubjectInfo) -> _Subject:
        name = profile.build_subject(info)
        return _Subject(name=name, text=name_text(name), uscc=uscc_of(name))

    def _pseudonym(self, citizen_id: str) -> str:
        return pseudonymous_person_id(citizen_id, key=load_pseudonym_key(self._settings))


# --- module helpers ------------------------------------------------------------------------------


def _org_subject(org: str, uscc: str, suffix: str) -> SubjectInfo:
    # CN is "<organisation> <what>"; when that is over the 64-character bound, O still names the organisation.
    common_name = f"{org} {suffix}"
    if len(common_name) > 64:
        common_name = suffix
    return SubjectInfo(common_name=common_name, organization=org, uscc=uscc)


def _apply_overrides(
    info: SubjectInfo, overrides: Mapping[str, Any] | None, pseudonym: Callable[[str], str]
) -> SubjectInfo:
    if not overrides:
        return info
    if not isinstance(overrides, Mapping):
        raise InvalidInput("subject must be an object of attribute values")
    unknown = sorted(set(overrides) - _OVERRIDE_KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown subject attribute(s) {', '.join(unknown)}; known: {', '.join(sorted(_OVERRIDE_KEYS))}"
        )
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"subject attribute {key} must be a string")
        if key == "citizen_id":
            changes["person_pseudonym"] = pseudonym(value) if value else None
        elif key == "common_name":
            changes[key] = value or ""
        elif key == "country":
            changes[key] = value or "CN"
        else:
            changes[key] = value or None
    return dataclasses.replace(info, **changes)


def _certificate_row(
    ca_id: int,
    serial: int,
    kind: ProfileKind,
    subject: _Subject,
    key_algorithm: KeyAlgorithm,
    key_id: str | None,
    not_before: datetime,
    not_after: datetime,
    der: bytes,
    now: datetime,
) -> IssuedCertificate:
    return IssuedCertificate(
        ca_id=ca_id,
        serial=serial_hex(serial),
        profile=kind.value,
        subject=subject.text,
        org_uscc=subject.uscc,
        key_algorithm=key_algorithm.value,
        key_id=key_id,
        not_before=not_before,
        not_after=not_after,
        der=der,
        issued_at=now,
        status=CertificateStatus.GOOD.value,
        status_version=0,
    )


def _check_transition(row: IssuedCertificate, previous: CertificateStatus, status: CertificateStatus) -> str:
    """Return the audit action of the change from ``previous`` to ``status``; InvalidState if not allowed."""
    if row.profile == ProfileKind.ROOT.value:
        raise InvalidState("a root certificate is withdrawn from trust lists, not revoked")
    if previous is CertificateStatus.REVOKED:
        raise InvalidState(f"certificate {row.serial} is revoked; revocation is final")
    if status is CertificateStatus.GOOD:
        if previous is not CertificateStatus.HOLD:
            raise InvalidState(f"certificate {row.serial} is not on hold")
        return "certificate.release"
    if status is CertificateStatus.HOLD:
        if previous is CertificateStatus.HOLD:
            raise InvalidState(f"certificate {row.serial} is already on hold")
        return "certificate.hold"
    return "certificate.revoke"


def _is_serial_conflict(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_certificates_ca_id_serial" in text or "certificates.ca_id, certificates.serial" in text
