"""Licence issuance at case completion (办结出证), revocation (注销/吊销) and signed status answers.

:meth:`LicenceService.issue` is the one flow behind ``POST /api/v1/licenses``:

1. checks the request: ``system`` (the business system: its API key's name), ``case_id`` and
   ``matter_code`` (1–128 / 1–64 printable characters), the licence type (unknown: InvalidInput naming
   ``type_code``), the fields against the type's schema (:func:`~trustsvc.license.catalog.validate_fields`:
   InvalidInput naming the field and the rule) and the holder (``holder.code`` must be a valid USCC or citizen
   ID, as the type's holder kind asks, and equal the holder field; InvalidInput naming ``holder.code``);
2. **idempotency**: a licence already issued for ``(system, case_id)`` is returned as stored (files unchanged,
   ``created`` False) when the request is the same (same SM3 of its normalised matter code, type, holder
   and fields; the seal named is not part of it, so a retry may omit ``es_id``); a *different*
   request under a used case id is a Conflict naming ``case_id`` — a corrected case is a new version, not a
   silent replacement;
3. checks the issuing seal (``es_id``, or the one active seal of the type's seal kind the principal holds a
   ``sign`` grant on): its kind must be the type's ``seal_kind``, the principal must be granted it
   (Forbidden). The seal's organisation is the issuer (USCC and name);
4. allocates the serial from the database (``licence_counters``, locked ``FOR UPDATE``, in its own short
   transaction: rendering and sealing must not hold the lock) and builds the identifier;
5. renders PDF and OFD (:func:`~trustsvc.license.render.render_licence`; the QR code points at the public
   status URL) and seals both at the template's seal box, time-stamped (B-T), through the sealer it was given
   (``seal``: this package sits below :mod:`trustsvc.sealing` and may not import it; the
   :class:`~trustsvc.service.TrustService` passes an adapter). Each sealing writes its own ``seal.apply``
   audit record, as every sealing does;
6. stores the licence row (fields, both files and their SM3) and the ``licence.issue`` audit record in **one
   transaction**. Two racing requests for one case: the unique constraint lets one win; the other returns
   the winner's licence (its serial stays unused: serials are unique, not gapless).

Status (:meth:`status`): ``revoked`` (stored, with 注销/吊销 and since when), ``superseded`` (a later version
of the same licence exists; since its issuance), ``expired`` (derived from ``valid_to`` and the clock, in
China time; since the day after ``valid_to``), else ``valid`` (since issuance). :meth:`signed_status` wraps
it in the signed JSON envelope of seal status answers (:mod:`trustsvc.seal.status`), statement type
``trustsvc.licence-status``, signed by the seal-maker certificate of the CA that made the issuing seal (the
same authority that speaks for the seal's status). The free-text reason is not published.

:meth:`change` (变更) re-issues a licence as its next version through the same render, seal and store steps;
:meth:`holder_download_urls` and :meth:`holder_file` are the holder's capability links (a random token per
version, replaced by :meth:`rotate_holder_token`); :meth:`export` streams one GB/T 36903 catalogue record per
version, then a trailer, audited. Only the latest version can be revoked or changed, an expired one not
changed. docs/LICENCES.md has the rules.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Protocol

from sqlalchemy import Row, and_, exists, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from trustsvc.audit import AuditLog, canonical_json
from trustsvc.ca.models import ServiceRole
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotFound,
)
from trustsvc.keys.sm3 import sm3
from trustsvc.license import citizen_id, uscc
from trustsvc.license.catalog import Catalog, HolderKind, LicenceType, load_catalog, validate_fields
from trustsvc.license.identifier import build, parse
from trustsvc.license.models import (
    MAX_CASE_ID,
    MAX_HOLDER_NAME,
    MAX_HOLDER_TOKEN,
    MAX_MATTER_CODE,
    MAX_REASON,
    MAX_SYSTEM,
    Licence,
    LicenceCounter,
    LicenceState,
    RevocationKind,
    StoredLicenceState,
)
from trustsvc.license.render import OPEN_ENDED, licence_metadata, render_licence
from trustsvc.seal.status import ENVELOPE_FORMAT, iso, sign_statement

if TYPE_CHECKING:
    from trustsvc.ca.authority import CertificateAuthorityService
    from trustsvc.keys.keystore import KeyStore
    from trustsvc.seal.registry import SealRecord, SealRegistry

__all__ = [
    "AUDIT_CHANGE",
    "AUDIT_EXPORT",
    "AUDIT_HOLDER_TOKEN_ROTATE",
    "AUDIT_ISSUE",
    "AUDIT_REVOKE",
    "ENVELOPE_FORMAT",
    "STATEMENT_TYPE",
    "LicenceExport",
    "LicenceRecord",
    "LicenceSealer",
    "LicenceService",
    "LicenceStatus",
    "SealBox",
    "china_date",
    "export_line",
    "parse_revocation_kind",
    "parse_since",
    "status_statement",
]

log = logging.getLogger(__name__)

AUDIT_ISSUE: Final = "licence.issue"
AUDIT_REVOKE: Final = "licence.revoke"
AUDIT_CHANGE: Final = "licence.change"
AUDIT_HOLDER_TOKEN_ROTATE: Final = "licence.holder_token.rotate"  # noqa: S105  # an action name
AUDIT_EXPORT: Final = "licence.export"
#: How far before an export's start the next incremental export should begin (``next_since``): longer than
#: any issuance, change or revocation transaction, whose timestamps are taken before it commits.
EXPORT_MARGIN: Final = timedelta(minutes=10)
#: Licence versions read per database round trip by :meth:`LicenceService.export`.
EXPORT_BATCH: Final = 500
STATEMENT_TYPE: Final = "trustsvc.licence-status"
STATEMENT_VERSION: Final = 1
#: A status answer without nonce is re-signed at most this often (as seal status answers).
STATUS_REFRESH_SECONDS: Final = 60
STATUS_CACHE_ENTRIES: Final = 4096
MAX_NONCE: Final = 64
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9_\-.=+/]{1,64}")
_CHINA: Final = timezone(timedelta(hours=8))
_KIND_ALIASES: Final = {
    "注销": RevocationKind.CANCELLED,
    "cancel": RevocationKind.CANCELLED,
    "cancellation": RevocationKind.CANCELLED,
    "吊销": RevocationKind.REVOKED,
    "revoke": RevocationKind.REVOKED,
    "revocation": RevocationKind.REVOKED,
}

SealBox = tuple[int, float, float, float, float]  # page index (0-based), x, y, w, h in mm


class LicenceSealer(Protocol):
    """Seals one rendered file with ``es_id`` for ``principal`` in ``box``; returns the sealed bytes."""

    def __call__(
        self, data: bytes, *, format: str, es_id: str, principal: str, box: SealBox, actor: str
    ) -> bytes: ...


@dataclass(frozen=True)
class LicenceRecord:
    """An issued licence as stored (usable after the session has closed); ``status`` is the stored state."""

    identifier: str
    type_code: str
    type_name: str
    issuer_code: str
    issuer_name: str
    serial: str
    version: int
    system: str
    case_id: str
    matter_code: str
    holder_name: str
    holder_code: str
    holder_code_type: str
    fields: dict[str, Any]
    status: StoredLicenceState
    status_changed_at: datetime
    revocation_kind: RevocationKind | None
    reason: str | None
    issued_on: date
    valid_from: date
    valid_to: date | None
    es_id: str
    pdf: bytes
    pdf_sm3: str
    ofd: bytes
    ofd_sm3: str
    created_at: datetime
    holder_token: str | None = None  # the holder's download capability (per version); None: no links
    change_reason: str | None = None  # why this version was issued (变更); None for version 1


@dataclass(frozen=True)
class LicenceStatus:
    """The status of one licence at one moment (see the module docstring)."""

    identifier: str
    status: LicenceState
    since: datetime
    revocation_kind: RevocationKind | None
    reason: str | None  # not published in the signed answer
    type_code: str
    issuer_code: str
    issuer_name: str
    valid_from: date
    valid_to: date | None
    superseded_by: str | None
    pdf_sm3: str
    ofd_sm3: str
    es_id: str


def china_date(moment: datetime) -> date:
    """Return the calendar date of ``moment`` in China (UTC+8)."""
    return moment.astimezone(_CHINA).date()


def parse_revocation_kind(value: object) -> RevocationKind:
    """Return the revocation kind named by ``value`` (注销/cancel, 吊销/revoke); else InvalidInput."""
    kind = _KIND_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if kind is None:
        raise InvalidInput("kind must be 注销 (cancel) or 吊销 (revoke)", field="kind", rule="enum")
    return kind


def status_statement(status: LicenceStatus, *, produced_at: datetime, nonce: str | None = None) -> bytes:
    """Return the canonical JSON statement bytes for ``status`` (what the signed answer carries)."""
    body: dict[str, Any] = {
        "type": STATEMENT_TYPE,
        "version": STATEMENT_VERSION,
        "identifier": status.identifier,
        "status": status.status.value,
        "since": iso(status.since),
        "type_code": status.type_code,
        "issuer_code": status.issuer_code,
        "issuer_name": status.issuer_name,
        "valid_from": status.valid_from.isoformat(),
        "valid_to": status.valid_to.isoformat() if status.valid_to is not None else OPEN_ENDED,
        "files": {"pdf_sm3": status.pdf_sm3, "ofd_sm3": status.ofd_sm3},
        "produced_at": iso(produced_at),
    }
    if status.revocation_kind is not None and status.status is LicenceState.REVOKED:
        body["revocation_kind"] = status.revocation_kind.value
    if status.superseded_by is not None:
        body["superseded_by"] = status.superseded_by
    if nonce is not None:
        body["nonce"] = nonce
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class LicenceService:
    """Issues, changes, revokes, exports and answers the status of e-licences (see the module docstring)."""

    def __init__(
        self,
        *,
        sessions: Callable[[], Session],
        read_sessions: Callable[[], Session],
        seals: SealRegistry,
        ca: CertificateAuthorityService,
        keystore: Callable[[], KeyStore],
        seal: LicenceSealer,
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
        catalog: Callable[[], Catalog] = load_catalog,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._seals = seals
        self._ca = ca
        self._keystore = keystore
        self._seal = seal
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._catalog = catalog
        self._answers: OrderedDict[str, tuple[tuple[Any, ...], datetime, bytes]] = OrderedDict()
        self._answers_lock = threading.Lock()

    # --- URLs ----------------------------------------------------------------------------------------

    def status_url(self, identifier: str) -> str:
        """The public status URL of a licence (what the trust list advertises and the QR code carries)."""
        return f"{self._settings.public_base_url}/licenses/{identifier}/status"

    def type_name(self, type_code: str) -> str | None:
        """Return the catalogue name of licence type ``type_code``; None when the catalogue lacks it."""
        try:
            return self._catalog().get(type_code).name
        except NotFound:
            return None

    # --- issuance ------------------------------------------------------------------------------------

    def issue(
        self,
        system: str,
        case_id: str,
        matter_code: str,
        type_code: str,
        holder: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
        es_id: str | None = None,
        *,
        principal: str,
        actor: str | None = None,
    ) -> tuple[LicenceRecord, bool]:
        """Return the licence issued for ``(system, case_id)`` and whether this call made it.

        ``principal`` (``apikey:<prefix>``) applies the seal and must hold its ``sign`` grant; ``actor`` is
        who acts when not the principal. Errors: InvalidInput naming the field (``type_code``, ``case_id``,
        ``matter_code``, ``holder.code``, ``holder.name``, ``es_id`` or a field key), Conflict (the case id
        was used for a different request), Forbidden (no grant), NotFound (no such seal), InvalidState (the
        seal is not usable), UpstreamUnavailable (our TSA failed).
        """
        system = _text(system, "system", MAX_SYSTEM)
        case_id = _text(case_id, "case_id", MAX_CASE_ID)
        matter_code = _text(matter_code, "matter_code", MAX_MATTER_CODE)
        licence_type = self._type(type_code)
        today = china_date(self._clock())
        normal = validate_fields(licence_type, fields, today=today)
        holder_name, holder_code = _holder(licence_type, holder, normal, today)
        request_sm3 = sm3(
            canonical_json(
                {
                    "matter_code": matter_code,
                    "type_code": licence_type.type_code,
                    "holder": [holder_name, holder_code],
                    "fields": normal,
                }
            ).encode("utf-8")
        ).hex()

        existing = self._find_case(system, case_id)
        if existing is not None:
            return self._same_request(existing, request_sm3), False

        seal = self._issuing_seal(licence_type, es_id, principal)
        valid_from, valid_to = licence_type.validity.period(normal, issued_on=today)
        serial = self._allocate_serial(licence_type.type_code, seal.org_uscc)
        draft = _Draft(
            licence_type=licence_type,
            fields=normal,
            identifier=str(build(licence_type.type_code, seal.org_uscc, serial, 1)),
            serial=serial,
            version=1,
            seal=seal,
            system=system,
            principal=principal,
            case_id=case_id,
            matter_code=matter_code,
            holder_name=holder_name,
            holder_code=holder_code,
            request_sm3=request_sm3,
            issued_on=today,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        who = actor or principal
        row = self._sealed_row(draft, actor=who)
        try:
            self._store(row, actor=who, action=AUDIT_ISSUE, details=_audit_details(draft, row))
        except IntegrityError:
            # Another request for the same case won the race; its licence is the answer.
            existing = self._find_case(system, case_id)
            if existing is None:
                raise
            return self._same_request(existing, request_sm3), False
        log.info("issued licence %s for %s case %s", row.identifier, system, case_id)
        return self._record(row), True

    def _type(self, type_code: object) -> LicenceType:
        if not isinstance(type_code, str) or not type_code.strip():
            raise InvalidInput("type_code is required: the 21-character licence type code", field="type_code")
        try:
            return self._catalog().get(type_code.strip())
        except NotFound:
            raise InvalidInput(
                f"unknown licence type {type_code.strip()[:32]!r}", field="type_code", rule="unknown type"
            ) from None

    def _same_request(self, row: Licence, request_sm3: str) -> LicenceRecord:
        if row.request_sm3 != request_sm3:
            raise Conflict(
                f"case {row.case_id!r} of {row.system} already has licence {row.identifier}, issued for "
                "different content; a changed licence is a new version",
                field="case_id",
                identifier=row.identifier,
            )
        return self._record(row)

    def _issuing_seal(self, licence_type: LicenceType, es_id: str | None, principal: str) -> Any:
        if es_id is None:
            candidates = self._seals.list(kind=licence_type.seal_kind, status="active", principal=principal)
            if len(candidates) != 1:
                raise InvalidInput(
                    f"name the issuing seal (es_id): this caller holds {len(candidates)} active seals of "
                    f"kind {int(licence_type.seal_kind)}",
                    field="es_id",
                )
            es_id = candidates[0].es_id
        if not isinstance(es_id, str):
            raise InvalidInput("es_id must be text", field="es_id")
        record = self._seals.get(es_id).seal
        if record.kind != licence_type.seal_kind:
            raise InvalidInput(
                f"licence type {licence_type.type_code} is sealed with a kind {int(licence_type.seal_kind)} "
                f"seal; {es_id} is kind {int(record.kind)}",
                field="es_id",
                rule="seal kind",
            )
        if not self._seals.is_granted(es_id, principal):
            raise Forbidden(f"{principal} may not apply seal {es_id}")
        return record

    def _allocate_serial(self, type_code: str, issuer_code: str) -> str:
        """Return the next serial of (type, issuer), from the locked counter row (its own transaction)."""
        for _ in range(2):
            with self._sessions() as session, session.begin():
                counter = session.execute(
                    select(LicenceCounter)
                    .where(LicenceCounter.type_code == type_code, LicenceCounter.issuer_code == issuer_code)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                ).scalar_one_or_none()
                if counter is not None:
                    counter.last_serial += 1
                    return f"{counter.last_serial:011d}"
                try:
                    with session.begin_nested():
                        session.add(
                            LicenceCounter(type_code=type_code, issuer_code=issuer_code, last_serial=1)
                        )
                except IntegrityError:
                    continue  # created meanwhile by another process: lock it on the next round
                return f"{1:011d}"
        raise ConfigurationError("could not allocate a licence serial")  # pragma: no cover

    def _sealed_row(self, draft: _Draft, *, actor: str) -> Licence:
        """Return the licence row of ``draft``: rendered to PDF and OFD, both sealed, not yet stored."""
        rendered = render_licence(
            draft.licence_type,
            draft.fields,
            identifier=draft.identifier,
            issuer_name=draft.seal.org_name,
            issuer_code=draft.seal.org_uscc,
            issue_date=draft.issued_on,
            valid_from=draft.valid_from,
            valid_to=draft.valid_to,
            verify_url=self.status_url(draft.identifier),
        )
        if rendered.seal_box is None:  # the catalogue requires one; guard against a hand-made type
            raise ConfigurationError(f"licence type {draft.licence_type.type_code} has no seal box")
        pdf, ofd = (
            self._seal(
                data,
                format=fmt,
                es_id=draft.seal.es_id,
                principal=draft.principal,
                box=rendered.seal_box,
                actor=actor,
            )
            for data, fmt in ((rendered.pdf, "pdf"), (rendered.ofd, "ofd"))
        )
        now = self._clock()
        return Licence(
            identifier=draft.identifier,
            type_code=draft.licence_type.type_code,
            issuer_code=draft.seal.org_uscc,
            issuer_name=draft.seal.org_name,
            serial=draft.serial,
            version=draft.version,
            system=draft.system,
            principal=draft.principal,
            case_id=draft.case_id,
            matter_code=draft.matter_code,
            holder_name=draft.holder_name,
            holder_code=draft.holder_code,
            holder_code_type=draft.licence_type.holder_code_type,
            fields_json=canonical_json(draft.fields),
            request_sm3=draft.request_sm3,
            status=StoredLicenceState.VALID.value,
            status_changed_at=now,
            issued_on=draft.issued_on,
            valid_from=draft.valid_from,
            valid_to=draft.valid_to,
            es_id=draft.seal.es_id,
            pdf=pdf,
            pdf_sm3=sm3(pdf).hex(),
            ofd=ofd,
            ofd_sm3=sm3(ofd).hex(),
            created_at=now,
            holder_token=secrets.token_urlsafe(24),
            change_reason=draft.change_reason,
        )

    def _store(
        self,
        row: Licence,
        *,
        actor: str,
        action: str,
        details: dict[str, Any],
        check: Callable[[Session], None] | None = None,
    ) -> None:
        """Store ``row`` and its audit record in one transaction, after ``check`` passed in it.

        IntegrityError: the unique constraints refused the row (a racing request won).
        """
        with self._sessions() as session, session.begin():
            if check is not None:
                check(session)
            session.add(row)
            session.flush()
            self._audit.append(
                session, actor=actor, action=action, subject=f"licence:{row.identifier}", details=details
            )

    # --- reading -------------------------------------------------------------------------------------

    def get(self, identifier: str) -> LicenceRecord:
        """Return the licence ``identifier``; InvalidInput when malformed, NotFound when unknown."""
        with self._read_sessions() as session, session.begin():
            return self._record(self._find(session, identifier))

    def files_for(self, identifier: str, system: str) -> LicenceRecord:
        """Return the licence with its files for the issuing ``system`` only (Forbidden for another)."""
        record = self.get(identifier)
        if record.system != system:
            raise Forbidden(f"licence {record.identifier} was issued to another system")
        return record

    def _find_case(self, system: str, case_id: str) -> Licence | None:
        """Return the licence version made for ``(system, case_id)``: an issuance or a change case."""
        with self._read_sessions() as session, session.begin():
            return (
                session.execute(
                    select(Licence)
                    .where(Licence.system == system, Licence.case_id == case_id)
                    .order_by(Licence.version)
                    .limit(1)
                )
                .scalars()
                .first()
            )

    def _find(self, session: Session, identifier: str, *, lock: bool = False) -> Licence:
        text = str(parse(identifier, allow_legacy=True))
        query = select(Licence).where(Licence.identifier == text)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no licence {text}", field="identifier")
        return row

    def _record(self, row: Licence) -> LicenceRecord:
        try:
            type_name = self._catalog().get(row.type_code).name
        except NotFound:
            type_name = ""
        return LicenceRecord(
            identifier=row.identifier,
            type_code=row.type_code,
            type_name=type_name,
            issuer_code=row.issuer_code,
            issuer_name=row.issuer_name,
            serial=row.serial,
            version=row.version,
            system=row.system,
            case_id=row.case_id,
            matter_code=row.matter_code,
            holder_name=row.holder_name,
            holder_code=row.holder_code,
            holder_code_type=row.holder_code_type,
            fields=json.loads(row.fields_json),
            status=StoredLicenceState(row.status),
            status_changed_at=row.status_changed_at,
            revocation_kind=RevocationKind(row.revocation_kind) if row.revocation_kind else None,
            reason=row.reason,
            issued_on=row.issued_on,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            es_id=row.es_id,
            pdf=row.pdf,
            pdf_sm3=row.pdf_sm3,
            ofd=row.ofd,
            ofd_sm3=row.ofd_sm3,
            created_at=row.created_at,
            holder_token=row.holder_token,
            change_reason=row.change_reason,
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    def revoke(
        self,
        identifier: str,
        reason: str,
        *,
        kind: RevocationKind | str,
        actor: str,
        system: str | None = None,
    ) -> LicenceRecord:
        """Revoke (吊销) or cancel (注销) the licence ``identifier`` with ``reason``; audited.

        With ``system`` only the issuing system may (Forbidden for another). A licence revoked already is an
        InvalidState naming since when; so is a superseded version (naming ``latest``): revoking it would
        leave the current version in force, so the caller must revoke the version it names.
        """
        revocation = parse_revocation_kind(kind) if not isinstance(kind, RevocationKind) else kind
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidInput(f"a reason of 1 to {MAX_REASON} characters is required", field="reason")
        reason = reason.strip()
        now = self._clock()
        with self._sessions() as session, session.begin():
            row = self._find(session, identifier, lock=True)
            if system is not None and row.system != system:
                raise Forbidden(f"licence {row.identifier} was issued to another system")
            if row.status == StoredLicenceState.REVOKED.value:
                raise InvalidState(
                    f"licence {row.identifier} is revoked ({row.revocation_kind}) since "
                    f"{iso(row.status_changed_at)}",
                    status=row.status,
                    since=iso(row.status_changed_at),
                )
            if self._later(session, row) is not None:
                latest = self._latest_in(session, row)
                raise InvalidState(
                    f"licence {row.identifier} is superseded: revoke its latest version {latest}",
                    field="identifier",
                    latest=latest,
                )
            row.status = StoredLicenceState.REVOKED.value
            row.status_changed_at = now
            row.revocation_kind = revocation.value
            row.reason = reason
            self._audit.append(
                session,
                actor=actor,
                action=AUDIT_REVOKE,
                subject=f"licence:{row.identifier}",
                details={"identifier": row.identifier, "kind": revocation.value, "reason": reason},
            )
            session.flush()
            record = self._record(row)
        log.info("licence %s: %s", record.identifier, revocation.value)
        return record

    # --- change (变更) -------------------------------------------------------------------------------

    def change(
        self,
        identifier: str,
        system: str,
        case_id: str,
        matter_code: str,
        fields: Mapping[str, Any],
        holder: Mapping[str, Any] | None = None,
        *,
        reason: str,
        principal: str,
        actor: str | None = None,
        es_id: str | None = None,
    ) -> tuple[LicenceRecord, bool]:
        """Return the next version of licence ``identifier`` (new ``fields``) and whether this call made it.

        The new version keeps the type, issuer, serial and holder code; it is validated, rendered, sealed
        and stored as :meth:`issue` does, with ``reason`` as its change reason. ``es_id`` defaults to the
        seal of the version changed and must belong to the same issuer. Idempotent on ``(system, case_id)``
        like :meth:`issue`. Errors: InvalidInput (a field, ``reason``, ``holder.code`` with rule ``holder
        change``), NotFound (no such licence), Forbidden (another system's licence), InvalidState (not the
        latest version: names the latest; revoked: names since when), Conflict (the case id was used for
        another request, or a concurrent change won: names the winner).
        """
        system = _text(system, "system", MAX_SYSTEM)
        case_id = _text(case_id, "case_id", MAX_CASE_ID)
        matter_code = _text(matter_code, "matter_code", MAX_MATTER_CODE)
        reason = _reason(reason)
        previous = self.get(identifier)
        if previous.system != system:
            raise Forbidden(f"licence {previous.identifier} was issued to another system")
        licence_type = self._type(previous.type_code)
        if not isinstance(fields, Mapping):
            raise InvalidInput("fields is required: an object of the licence type's fields", field="fields")
        today = china_date(self._clock())
        normal = validate_fields(licence_type, fields, today=today)
        if str(normal[licence_type.holder_field]) != previous.holder_code:
            raise InvalidInput(
                f"the holder code of licence {previous.identifier} is {previous.holder_code}; a licence for "
                "another holder is a new licence, not a change",
                field="holder.code",
                rule="holder change",
            )
        holder_name, holder_code = _holder(licence_type, holder, normal, today)
        request = {
            "change_of": previous.identifier,
            "matter_code": matter_code,
            "holder": [holder_name, holder_code],
            "fields": normal,
            "reason": reason,
        }
        request_sm3 = sm3(canonical_json(request).encode("utf-8")).hex()

        existing = self._find_case(system, case_id)
        if existing is not None:
            return self._same_request(existing, request_sm3), False
        latest = self._latest_identifier(previous)
        if latest != previous.identifier:
            raise InvalidState(
                f"licence {previous.identifier} is superseded: change its latest version {latest}",
                field="identifier",
                latest=latest,
            )
        if previous.status is StoredLicenceState.REVOKED:
            raise _revoked(previous.identifier, previous.revocation_kind, previous.status_changed_at)
        if previous.valid_to is not None and today > previous.valid_to:
            raise _expired(previous.identifier, previous.valid_to)

        seal = self._issuing_seal(licence_type, es_id if es_id is not None else previous.es_id, principal)
        if seal.org_uscc != previous.issuer_code:
            raise InvalidInput(
                f"seal {seal.es_id} belongs to {seal.org_uscc}; licence {previous.identifier} was issued by "
                f"{previous.issuer_code}",
                field="es_id",
                rule="issuer",
            )
        # A change corrects the content, not the term: a validity counted from the issue date (fixed years,
        # open-ended) keeps counting from the first version's start; one taken from fields follows them.
        valid_from, valid_to = licence_type.validity.period(normal, issued_on=previous.valid_from)
        draft = _Draft(
            licence_type=licence_type,
            fields=normal,
            identifier=str(parse(previous.identifier, allow_legacy=True).next_version()),
            serial=previous.serial,
            version=previous.version + 1,
            seal=seal,
            system=system,
            principal=principal,
            case_id=case_id,
            matter_code=matter_code,
            holder_name=holder_name,
            holder_code=holder_code,
            request_sm3=request_sm3,
            issued_on=today,
            valid_from=valid_from,
            valid_to=valid_to,
            change_reason=reason,
        )
        who = actor or principal
        row = self._sealed_row(draft, actor=who)
        details = {**_audit_details(draft, row), "previous": previous.identifier, "change_reason": reason}

        def still_latest(session: Session) -> None:
            # Rendering and sealing ran outside any transaction: look again, holding the row revoke locks.
            locked = self._find(session, previous.identifier, lock=True)
            if locked.status == StoredLicenceState.REVOKED.value:
                kind = RevocationKind(locked.revocation_kind) if locked.revocation_kind else None
                raise _revoked(locked.identifier, kind, locked.status_changed_at)
            if self._later(session, locked) is not None:
                raise _LostRace

        try:
            self._store(row, actor=who, action=AUDIT_CHANGE, details=details, check=still_latest)
        except (IntegrityError, _LostRace):
            # A racing request won: the same case (its version is the answer) or another change (Conflict).
            existing = self._find_case(system, case_id)
            if existing is not None:
                return self._same_request(existing, request_sm3), False
            winner = self._latest_identifier(previous)
            if winner == previous.identifier:
                raise
            raise Conflict(
                f"licence {previous.identifier} was changed meanwhile: its latest version is {winner}",
                field="identifier",
                latest=winner,
            ) from None
        log.info(
            "changed licence %s to %s for %s case %s", previous.identifier, row.identifier, system, case_id
        )
        return self._record(row), True

    def _later(self, session: Session, row: Any) -> Row[str, datetime] | None:
        """Return (identifier, created_at) of the next stored version of ``row``'s licence, if any."""
        return session.execute(
            select(Licence.identifier, Licence.created_at)
            .where(
                Licence.type_code == row.type_code,
                Licence.issuer_code == row.issuer_code,
                Licence.serial == row.serial,
                Licence.version > row.version,
            )
            .order_by(Licence.version)
            .limit(1)
        ).first()

    def _latest_in(self, session: Session, row: Licence) -> str:
        """Return the identifier of the latest stored version of ``row``'s licence (within ``session``)."""
        return session.execute(
            select(Licence.identifier)
            .where(
                Licence.type_code == row.type_code,
                Licence.issuer_code == row.issuer_code,
                Licence.serial == row.serial,
            )
            .order_by(Licence.version.desc())
            .limit(1)
        ).scalar_one()

    def _latest_identifier(self, record: LicenceRecord) -> str:
        """Return the identifier of the latest stored version of ``record``'s licence."""
        with self._read_sessions() as session, session.begin():
            return session.execute(
                select(Licence.identifier)
                .where(
                    Licence.type_code == record.type_code,
                    Licence.issuer_code == record.issuer_code,
                    Licence.serial == record.serial,
                )
                .order_by(Licence.version.desc())
                .limit(1)
            ).scalar_one()

    # --- holder links --------------------------------------------------------------------------------

    def holder_download_urls(self, record: LicenceRecord) -> dict[str, str]:
        """Return the holder's download links of ``record`` (``pdf``, ``ofd``); empty without a token.

        The token in them is the capability: whoever has a link has the file, so the issuing system hands
        them to the holder only. Each version has its own token.
        """
        if record.holder_token is None:
            return {}
        base = f"{self._settings.public_base_url}/licenses/{record.identifier}"
        return {fmt: f"{base}/licence.{fmt}?token={record.holder_token}" for fmt in ("pdf", "ofd")}

    def holder_file(self, identifier: str, token: str | None) -> LicenceRecord:
        """Return the licence ``identifier`` with its files when ``token`` is its holder token.

        An unknown identifier and a wrong or missing token are the same NotFound, so a guesser learns
        nothing; a malformed identifier is InvalidInput. A revoked or superseded version stays
        downloadable: the file is the holder's record, its status answer tells what it is worth now.
        """
        unknown = NotFound("no such licence file (unknown identifier or wrong token)")
        text = str(parse(identifier, allow_legacy=True))
        with self._read_sessions() as session, session.begin():
            # The identifier is public (QR code): compare the token before reading the files.
            stored = session.execute(
                select(Licence.id, Licence.holder_token).where(Licence.identifier == text)
            ).first()
            if stored is None or not _token_matches(stored.holder_token, token):
                raise unknown
            row = session.execute(select(Licence).where(Licence.id == stored.id)).scalar_one()
            return self._record(row)

    def rotate_holder_token(self, identifier: str, *, system: str | None, actor: str) -> LicenceRecord:
        """Give version ``identifier`` a new holder token, so its old links (leaked, say) stop working.

        With ``system`` only the issuing system may (Forbidden for another); None: an administrator. Any
        version may be rotated (a revoked or superseded one stays downloadable). Audited, without the token.
        """
        with self._sessions() as session, session.begin():
            row = self._find(session, identifier, lock=True)
            if system is not None and row.system != system:
                raise Forbidden(f"licence {row.identifier} was issued to another system")
            row.holder_token = secrets.token_urlsafe(24)
            self._audit.append(
                session,
                actor=actor,
                action=AUDIT_HOLDER_TOKEN_ROTATE,
                subject=f"licence:{row.identifier}",
                details={"identifier": row.identifier, "system": row.system},
            )
            session.flush()
            record = self._record(row)
        log.info("licence %s: holder token rotated", record.identifier)
        return record

    # --- export for the national catalogue -----------------------------------------------------------

    def export(
        self, *, actor: str, since: datetime | None = None, type_code: str | None = None
    ) -> LicenceExport:
        """Return an iterator of one catalogue record per licence version, in id order (see docs/LICENCES.md).

        Each record is the GB/T 36903 metadata embedded in the files plus our derived status. Rows are read
        in batches of :data:`EXPORT_BATCH`, metadata columns only (never the files), each batch in its own
        short read transaction. ``since`` keeps the versions created, revoked, superseded or expired at or
        after it (a record may repeat: consumers upsert by ``ZZBS``; the next export should use
        :attr:`LicenceExport.next_since`). Arguments are checked here, before the first record is read
        (InvalidInput naming ``since`` or ``type_code``). The records carry holders' personal data, so the
        export is audited (``licence.export``, naming ``actor``) when it ends, completed or not.
        """
        if since is not None and (not isinstance(since, datetime) or since.utcoffset() is None):
            raise InvalidInput("since: a date-time with its UTC offset", field="since", rule="date-time")
        code = None if type_code is None else self._type(type_code).type_code
        started_at = self._clock()

        def audit(count: int, complete: bool) -> None:
            details = {
                "since": iso(since) if since is not None else None,
                "type_code": code,
                "count": count,
                "complete": complete,
                "started_at": iso(started_at),
            }
            with self._sessions() as session, session.begin():
                self._audit.append(
                    session, actor=actor, action=AUDIT_EXPORT, subject="licences", details=details
                )

        return LicenceExport(self._export(since, code, started_at), started_at, audit)

    def _export(
        self, since: datetime | None, type_code: str | None, now: datetime
    ) -> Iterator[dict[str, Any]]:
        types: dict[str, LicenceType | None] = {}
        last_id = 0
        while True:
            with self._read_sessions() as session, session.begin():
                query = select(*_EXPORT_COLUMNS).where(Licence.id > last_id)
                if type_code is not None:
                    query = query.where(Licence.type_code == type_code)
                if since is not None:
                    query = query.where(_changed_since(since, now))
                rows = session.execute(query.order_by(Licence.id).limit(EXPORT_BATCH)).all()
                later = _later_versions(session, rows)
            if not rows:
                return
            for row in rows:
                key = (row.type_code, row.issuer_code, row.serial, row.version)
                yield self._export_record(row, later.get(key), now, types)
            last_id = rows[-1].id

    def _export_record(
        self,
        row: Any,  # a row of _EXPORT_COLUMNS
        later: tuple[str, datetime] | None,
        now: datetime,
        types: dict[str, LicenceType | None],
    ) -> dict[str, Any]:
        if row.type_code not in types:
            try:
                types[row.type_code] = self._catalog().get(row.type_code)
            except NotFound:
                types[row.type_code] = None
        state, since = _derived_state(row.status, row.status_changed_at, row.valid_to, later, now)
        return {
            **_metadata(types[row.type_code], row),
            "version": row.version,
            "status": state.value,
            "since": iso(since),
            "revocation_kind": row.revocation_kind if state is LicenceState.REVOKED else None,
            "superseded_by": later[0] if later is not None else None,
            "pdf_sm3": row.pdf_sm3,
            "ofd_sm3": row.ofd_sm3,
            "status_url": self.status_url(row.identifier),
        }

    # --- status --------------------------------------------------------------------------------------

    def status(self, identifier: str) -> LicenceStatus:
        """Return the status of the licence ``identifier`` now (see the module docstring)."""
        now = self._clock()
        text = str(parse(identifier, allow_legacy=True))
        with self._read_sessions() as session, session.begin():
            # Metadata columns only: every public status request and verification comes here.
            row = session.execute(select(*_STATUS_COLUMNS).where(Licence.identifier == text)).first()
            if row is None:
                raise NotFound(f"no licence {text}", field="identifier")
            later = self._later(session, row)
        superseded_by = later[0] if later is not None else None
        state, since = _derived_state(
            row.status,
            row.status_changed_at,
            row.valid_to,
            (later[0], later[1]) if later is not None else None,
            now,
        )
        return LicenceStatus(
            identifier=row.identifier,
            status=state,
            since=since,
            revocation_kind=RevocationKind(row.revocation_kind) if row.revocation_kind else None,
            reason=row.reason,
            type_code=row.type_code,
            issuer_code=row.issuer_code,
            issuer_name=row.issuer_name,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            superseded_by=superseded_by,
            pdf_sm3=row.pdf_sm3,
            ofd_sm3=row.ofd_sm3,
            es_id=row.es_id,
        )

    def signed_status(self, identifier: str, *, nonce: str | None = None) -> tuple[bytes, datetime]:
        """Return the signed status answer of ``identifier`` (JSON bytes) and the time it was produced.

        Without ``nonce`` an answer made less than :data:`STATUS_REFRESH_SECONDS` ago is reused while nothing
        in it changed; with one (as for seal status answers) a fresh answer carrying it is signed.
        """
        if nonce is not None and not _NONCE_RE.fullmatch(nonce):
            raise InvalidInput(
                f"a nonce is 1 to {MAX_NONCE} characters of A-Z a-z 0-9 _ - . = + /", field="nonce"
            )
        current = self.status(identifier)
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        key = (current.status, current.since, current.superseded_by)
        if nonce is None:
            with self._answers_lock:
                cached = self._answers.get(current.identifier)
            fresh = cached is not None and cached[0] == key
            if (
                cached is not None
                and fresh
                and timedelta(0) <= now - cached[1] < timedelta(seconds=STATUS_REFRESH_SECONDS)
            ):
                return cached[2], cached[1]
        maker_ca = self._seals.status(current.es_id).maker_ca
        maker = self._ca.service_certificate(ServiceRole.SEAL_MAKER, maker_ca)
        if maker.key_id is None:
            raise ConfigurationError(f"the seal-maker certificate of {maker_ca} has no key in the key store")
        signer = self._keystore().signer(maker.key_id)
        payload = status_statement(current, produced_at=now, nonce=nonce)
        answer = sign_statement(payload, signer, (maker.der, self._ca.ca(maker_ca).certificate_der))
        if nonce is None:
            with self._answers_lock:
                self._answers[current.identifier] = (key, now, answer)
                self._answers.move_to_end(current.identifier)
                while len(self._answers) > STATUS_CACHE_ENTRIES:
                    self._answers.popitem(last=False)
        return answer, now

    def issuing_organisations(self) -> list[tuple[str, str]]:
        """Return (USCC, name) of every organisation that issued a licence here, ordered by USCC.

        The trust list names them as issuing organisations, so another province finds the licence-status
        service of a licence by its issuer code. A renamed organisation appears under its latest name.
        """
        latest = select(func.max(Licence.id)).group_by(Licence.issuer_code).scalar_subquery()
        with self._read_sessions() as session, session.begin():
            rows = session.execute(
                select(Licence.issuer_code, Licence.issuer_name)
                .where(Licence.id.in_(latest))
                .order_by(Licence.issuer_code)
            ).all()
        return [(code, name) for code, name in rows]

    def count(self) -> int:
        """Return how many licence versions are stored."""
        with self._read_sessions() as session, session.begin():
            return int(session.execute(select(func.count(Licence.id))).scalar_one())


class LicenceExport(Iterator[dict[str, Any]]):
    """A running export (:meth:`LicenceService.export`): iterate for the records; then :meth:`trailer`.

    When the records run out, fail or the export is closed early, ``on_end(count, complete)`` runs once
    (the audit record). ``next_since`` is where the next incremental export should start: this one's start
    less :data:`EXPORT_MARGIN`, so a version stamped before the start but committed after it is not missed.
    """

    def __init__(
        self,
        records: Iterator[dict[str, Any]],
        started_at: datetime,
        on_end: Callable[[int, bool], None],
    ) -> None:
        self._records = records
        self.started_at = started_at
        self.next_since = started_at - EXPORT_MARGIN
        self.count = 0
        self._on_end: Callable[[int, bool], None] | None = on_end

    def __next__(self) -> dict[str, Any]:
        try:
            record = next(self._records)
        except StopIteration:
            self._end(complete=True)
            raise
        except BaseException:
            self._end(complete=False)
            raise
        self.count += 1
        return record

    def close(self) -> None:
        """Stop early (a client went away); the audit record says how many records went out."""
        close = getattr(self._records, "close", None)
        if close is not None:
            close()
        self._end(complete=False)

    def trailer(self) -> dict[str, Any]:
        """The last line of an export file or stream: without it, a consumer knows the export was cut off."""
        return {
            "export_end": True,
            "count": self.count,
            "started_at": iso(self.started_at),
            "next_since": iso(self.next_since),
        }

    def _end(self, *, complete: bool) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is None:
            return
        if complete:
            on_end(self.count, complete)  # a failure here withholds the trailer: the export is incomplete
            return
        try:
            on_end(self.count, complete)
        except Exception:  # already failing or closing: keep the first error, note this one
            log.exception("could not audit an interrupted licence export")


# --- change and export helpers --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    """One licence version to render, seal and store: what :meth:`LicenceService.issue` and
    :meth:`LicenceService.change` share."""

    licence_type: LicenceType
    fields: dict[str, Any]
    identifier: str
    serial: str
    version: int
    seal: SealRecord
    system: str
    principal: str
    case_id: str
    matter_code: str
    holder_name: str
    holder_code: str
    request_sm3: str
    issued_on: date
    valid_from: date
    valid_to: date | None
    change_reason: str | None = None


class _LostRace(Exception):
    """A later version was stored while this change was being sealed."""


def _audit_details(draft: _Draft, row: Licence) -> dict[str, Any]:
    """Return the details an issuance or change audit record carries."""
    return {
        "identifier": draft.identifier,
        "type_code": draft.licence_type.type_code,
        "issuer_code": draft.seal.org_uscc,
        "system": draft.system,
        "principal": draft.principal,
        "case_id": draft.case_id,
        "matter_code": draft.matter_code,
        "holder_code": draft.holder_code,
        "es_id": draft.seal.es_id,
        "valid_from": draft.valid_from.isoformat(),
        "valid_to": draft.valid_to.isoformat() if draft.valid_to else None,
        "pdf_sm3": row.pdf_sm3,
        "ofd_sm3": row.ofd_sm3,
        "request_sm3": draft.request_sm3,
    }


def _reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_REASON:
        raise InvalidInput(
            f"a reason of 1 to {MAX_REASON} characters is required", field="reason", rule="required"
        )
    return value.strip()


def _revoked(identifier: str, kind: RevocationKind | None, since: datetime) -> InvalidState:
    kind_text = f" ({kind.value})" if kind is not None else ""
    return InvalidState(
        f"licence {identifier} is revoked{kind_text} since {iso(since)}: a revoked licence cannot be changed",
        field="identifier",
        status=StoredLicenceState.REVOKED.value,
        since=iso(since),
    )


def _expired(identifier: str, valid_to: date) -> InvalidState:
    """A change of an expired licence: its new version would be issued expired (the term is kept)."""
    day = valid_to + timedelta(days=1)
    return InvalidState(
        f"licence {identifier} expired since {day.isoformat()} (valid to {valid_to.isoformat()}): an expired "
        "licence cannot be changed; issue a new licence",
        field="identifier",
        status=LicenceState.EXPIRED.value,
        since=iso(datetime.combine(day, time(), _CHINA)),
        valid_to=valid_to.isoformat(),
    )


def _derived_state(
    stored: str,
    changed_at: datetime,
    valid_to: date | None,
    later: tuple[str, datetime] | None,
    now: datetime,
) -> tuple[LicenceState, datetime]:
    """Return (state, since) as a status answer reports them (see the module docstring)."""
    if stored == StoredLicenceState.REVOKED.value:
        return LicenceState.REVOKED, changed_at
    if later is not None:
        return LicenceState.SUPERSEDED, later[1]
    if valid_to is not None and china_date(now) > valid_to:
        midnight = datetime.combine(valid_to + timedelta(days=1), time(), _CHINA)
        return LicenceState.EXPIRED, midnight.astimezone(UTC)
    return LicenceState.VALID, changed_at


def parse_since(text: str | None) -> datetime | None:
    """Return the ISO 8601 date-time ``text`` (no offset: UTC; a date alone: its midnight UTC), or None.

    Outside input (query string, command line): InvalidInput naming ``since``.
    """
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"since: an ISO 8601 date-time such as 2026-01-02T08:00:00Z, not {text.strip()[:40]!r}",
            field="since",
            rule="date-time",
        ) from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def export_line(record: Mapping[str, Any]) -> str:
    """Return one export record as a JSON line (UTF-8 text, Chinese kept as is, newline-terminated)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


#: What the export reads of a licence row: everything but the files.
_EXPORT_COLUMNS: Final = (
    Licence.id,
    Licence.identifier,
    Licence.type_code,
    Licence.issuer_code,
    Licence.issuer_name,
    Licence.serial,
    Licence.version,
    Licence.holder_name,
    Licence.holder_code,
    Licence.holder_code_type,
    Licence.fields_json,
    Licence.status,
    Licence.status_changed_at,
    Licence.revocation_kind,
    Licence.issued_on,
    Licence.valid_from,
    Licence.valid_to,
    Licence.pdf_sm3,
    Licence.ofd_sm3,
    Licence.created_at,
)


#: What a status answer reads of a licence row: no files, no personal data beyond the stored reason.
_STATUS_COLUMNS: Final = (
    Licence.identifier,
    Licence.type_code,
    Licence.issuer_code,
    Licence.issuer_name,
    Licence.serial,
    Licence.version,
    Licence.status,
    Licence.status_changed_at,
    Licence.revocation_kind,
    Licence.reason,
    Licence.valid_from,
    Licence.valid_to,
    Licence.pdf_sm3,
    Licence.ofd_sm3,
    Licence.es_id,
)


def _token_matches(stored: str | None, given: object) -> bool:
    """Whether ``given`` is the holder token ``stored`` (constant time; anything odd is simply no)."""
    if stored is None or not isinstance(given, str) or len(given) > MAX_HOLDER_TOKEN:
        return False
    return hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8"))


def _changed_since(since: datetime, now: datetime) -> Any:
    """Return the filter of versions created, revoked, superseded or expired at or after ``since``."""
    later = aliased(Licence)
    superseded = exists().where(
        later.type_code == Licence.type_code,
        later.issuer_code == Licence.issuer_code,
        later.serial == Licence.serial,
        later.version > Licence.version,
        later.created_at >= since,
    )
    # Expired at the first midnight (China time) after valid_to; a day early at worst, never missed.
    expired = and_(
        Licence.valid_to.is_not(None),
        Licence.valid_to >= china_date(since) - timedelta(days=1),
        Licence.valid_to < china_date(now),
    )
    return or_(Licence.created_at >= since, Licence.status_changed_at >= since, superseded, expired)


def _later_versions(
    session: Session, rows: Sequence[Any]
) -> dict[tuple[str, str, str, int], tuple[str, datetime]]:
    """Return, for each of ``rows`` that has one, (identifier, created_at) of its licence's next version."""
    keys = sorted({(r.type_code, r.issuer_code, r.serial) for r in rows})
    if not keys:
        return {}
    versions = session.execute(
        select(
            Licence.type_code,
            Licence.issuer_code,
            Licence.serial,
            Licence.version,
            Licence.identifier,
            Licence.created_at,
        )
        .where(tuple_(Licence.type_code, Licence.issuer_code, Licence.serial).in_(keys))
        .order_by(Licence.version.desc())
    ).all()
    following: dict[tuple[str, str, str], tuple[str, datetime]] = {}
    answer: dict[tuple[str, str, str, int], tuple[str, datetime]] = {}
    for v in versions:  # newest first: each version's successor is the one seen just before it
        key = (v.type_code, v.issuer_code, v.serial)
        if key in following:
            answer[(*key, v.version)] = following[key]
        following[key] = (v.identifier, v.created_at)
    return answer


def _metadata(licence_type: LicenceType | None, row: Any) -> dict[str, str]:
    """Return the GB/T 36903 metadata of a stored version, as embedded in its files."""
    fields = json.loads(row.fields_json)
    if licence_type is not None and licence_type.holder_field in fields:
        return licence_metadata(
            licence_type,
            fields,
            identifier=row.identifier,
            issuer_name=row.issuer_name,
            issuer_code=row.issuer_code,
            issue_date=row.issued_on,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )
    # A type no longer in the catalogue (or fields not of it): what the row itself says.
    return {
        "ZZMC": "",
        "ZZLXDM": row.type_code,
        "ZZBH": row.holder_code,
        "ZZBS": row.identifier,
        "ZZBFJG": row.issuer_name,
        "ZZBFJGDM": row.issuer_code,
        "ZZBFRQ": row.issued_on.isoformat(),
        "CZZT": row.holder_name,
        "CZZTDM": row.holder_code,
        "CZZTDMLXDM": row.holder_code_type,
        "ZZYXQQSRQ": row.valid_from.isoformat(),
        "ZZYXQJZRQ": OPEN_ENDED if row.valid_to is None else row.valid_to.isoformat(),
    }


# --- request checks ------------------------------------------------------------------------------------


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", field=field, rule="required")
    value = value.strip()
    if len(value) > limit or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidInput(
            f"{field}: at most {limit} characters without control characters", field=field, rule="format"
        )
    return value


def _holder(
    licence_type: LicenceType, holder: Mapping[str, Any] | None, fields: Mapping[str, Any], today: date
) -> tuple[str, str]:
    """Return (holder name, holder code): the code is the type's holder field; ``holder`` may restate it."""
    code = str(fields[licence_type.holder_field])
    name = licence_metadata(
        licence_type,
        fields,
        identifier="",
        issuer_name="",
        issuer_code="",
        issue_date=today,
        valid_from=today,
        valid_to=None,
    )["CZZT"]
    if holder is None:
        return name[:MAX_HOLDER_NAME], code
    if not isinstance(holder, Mapping):
        raise InvalidInput("holder must be an object: {name, code}", field="holder", rule="type")
    unknown = sorted(str(k) for k in holder if k not in ("name", "code", "code_type"))
    if unknown:
        raise InvalidInput(f"holder.{unknown[0]} is not a holder field", field=f"holder.{unknown[0]}")
    given = holder.get("code")
    if given is not None:
        if not isinstance(given, str):
            raise InvalidInput("holder.code must be text", field="holder.code", rule="type")
        if licence_type.holder_kind is HolderKind.ORGANISATION:
            given = uscc.validate(given, field="holder.code")
        else:
            given = citizen_id.validate(given.strip().upper(), today=today, field="holder.code").number
        if given != code:
            raise InvalidInput(
                f"holder.code {given} is not the licence's {licence_type.holder_field} {code}",
                field="holder.code",
                rule="holder mismatch",
            )
    code_type = holder.get("code_type")
    if code_type is not None and code_type != licence_type.holder_code_type:
        raise InvalidInput(
            f"holder.code_type of this licence type is {licence_type.holder_code_type}",
            field="holder.code_type",
            rule="enum",
        )
    given_name = holder.get("name")
    if given_name is not None:
        name = _text(given_name, "holder.name", MAX_HOLDER_NAME)
    return name[:MAX_HOLDER_NAME], code
