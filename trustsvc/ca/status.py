"""OCSP service (RFC 6960, RFC 5019 profile): one delegated responder per issuing CA, pre-signed responses.

:meth:`OcspService.respond` takes the bytes of an OCSP request and always returns an OCSP response — a
signed one, or an unsigned error status (``malformedRequest`` for anything that is not a well-formed
request, ``unauthorized`` for CAs we do not answer for, ``internalError`` when the database or the key store
fails). It never raises for what a client sent. How it answers:

* **Which CA.** Every issuing CA with an ``ocsp-responder`` service certificate (``trustsvc init`` issues one
  per hierarchy) gets an :class:`~trustsvc.ca.ocsp.OcspResponder`. A CertID is routed by its issuerKeyHash
  (for SHA-1 CertIDs that is ``cas.key_hash_sha1``; the responder computes it for the other hash algorithms)
  and checked with :meth:`~trustsvc.ca.ocsp.OcspResponder.serves` (issuerNameHash too). A process keeps the
  responders it built for :data:`RESPONDER_TTL` (so a renewed responder certificate is used everywhere within
  a minute), and reloads at most every :data:`RELOAD_ON_MISS` when a CertID names a CA it does not know (a
  hierarchy made by ``trustsvc init`` while the service runs).
* **Root CAs are not served** (decision): the embedded PKI issues no responder certificate under a root, and
  the OCSP core signs only as a delegated responder. A request about an issuing-CA certificate (issuer: the
  root) is answered ``unauthorized``, as RFC 5019 §2.2.3 has it for CAs a responder does not serve; relying
  parties get that status from the root's CRL (``/crl/<h>-root.crl``, in the issuing CA's CRL distribution
  point). A request naming certificates of two CAs is ``unauthorized`` as well: one responder's signature
  speaks for one CA.
* **Pre-signed, refreshed** (RFC 5019 §2.1.2 / §6): a request that may be answered from a cache
  (:attr:`~trustsvc.ca.ocsp.OcspRequest.cacheable`: one CertID, no nonce) is answered from the table
  ``ocsp_responses`` (:class:`~trustsvc.ca.status_models.OcspResponseRecord`, keyed by the SHA-256 of the
  CertID DER exactly as the client spelled it, since the response echoes it). A stored response is served
  while it is fresh: younger than ``ocsp_refresh_seconds`` (1 h), before its nextUpdate
  (``ocsp_validity_seconds``, 24 h, after producedAt), signed by the CA's current responder certificate,
  and made at the certificate's current ``status_version``. That version moves with every revocation, hold
  and release (:meth:`~trustsvc.ca.authority.CertificateAuthorityService.revoke` and friends), so the very
  next request after a status change gets a new response, in every process, without any hook or in-process
  cache to invalidate. A stale one is signed again and replaced in place (``INSERT ... ON CONFLICT DO
  UPDATE``, never replacing a row made at a newer status version); two processes doing so at once each sign
  once, and what is stored afterwards is right either way. The read of a fresh response takes no write
  lock. :meth:`OcspService.presign` (``trustsvc ca ocsp-refresh``) fills the table ahead of requests.
* **Per-process memory** holds only what cannot go stale: the responders (for :data:`RESPONDER_TTL`) and
  parsed requests keyed by their bytes (parsing is a pure function of them). Statuses and responses are
  read from the database on every request, in one query over two unique indexes. No response is cached in
  the process (decision): knowing it is still right takes reading the certificate's status version, which
  is the very round trip a cache would save. The per-request reads are SQLAlchemy Core statements on a
  connection of the read-only engine, not ORM sessions: half the Python per lookup (docs/PERFORMANCE.md).
* **Signed on demand, not stored**: requests with a nonce (the nonce must be echoed, RFC 9654) or several
  CertIDs, and ``unknown`` answers — a row per made-up serial would let anyone grow the table.
* **Degraded mode**: if re-signing fails (key store down) while the stored response still says the
  certificate's current status and has not reached its nextUpdate, that response is served (RFC 5019 lets a
  response be used until nextUpdate) and the failure logged; otherwise the answer is ``internalError``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from asn1crypto import x509
from sqlalchemy import Connection, Engine, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from trustsvc.ca.models import (
    CaRole,
    CertificateAuthority,
    CertificateStatus,
    IssuedCertificate,
    ServiceCertificate,
    ServiceRole,
    serial_hex,
)
from trustsvc.ca.ocsp import (
    MAX_REQUEST_SIZE,
    CertId,
    CertIdHash,
    CertStatus,
    OcspErrorStatus,
    OcspRequest,
    OcspResponder,
    error_response,
    error_response_for,
    parse_ocsp_request,
)
from trustsvc.ca.profiles import utc_seconds
from trustsvc.ca.status_models import OcspResponseRecord
from trustsvc.ca.x509 import RevocationReason
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import MalformedInput, NotFound, TrustsvcError
from trustsvc.keys.keystore import KeyStore

__all__ = [
    "RELOAD_ON_MISS",
    "RESPONDER_TTL",
    "OcspAnswer",
    "OcspService",
    "PresignReport",
    "decode_get_request",
]

log = logging.getLogger(__name__)

#: How long a process uses the responder certificates it loaded before looking again.
RESPONDER_TTL = 60.0
#: Shortest time between two reloads caused by a CertID that names no CA we know.
RELOAD_ON_MISS = 5.0
#: Certificates pre-signed per transaction by :meth:`OcspService.presign`.
PRESIGN_BATCH = 200
#: Parsed requests kept per process (RFC 5019 clients repeat the same bytes), and the largest one kept.
MEMO_REQUESTS, MEMO_REQUEST_SIZE = 4096, 512


@dataclass(frozen=True)
class OcspAnswer:
    """An OCSP response and what the HTTP layer needs to serve it.

    ``status`` is ``successful`` or the error status sent. ``cacheable``: the response may be kept by HTTP
    caches (signed, no nonce); then ``produced_at``, ``next_update`` and ``refresh_at`` (when a newer one
    will be made: producedAt + refresh interval, never after nextUpdate) are set.
    """

    der: bytes
    status: str = "successful"
    cacheable: bool = False
    produced_at: datetime | None = None
    next_update: datetime | None = None
    refresh_at: datetime | None = None

    @classmethod
    def error(cls, der: bytes, status: OcspErrorStatus) -> OcspAnswer:
        return cls(der=der, status=status.value)


@dataclass(frozen=True)
class PresignReport:
    """What :meth:`OcspService.presign` did for one CA."""

    ca_name: str
    certificates: int
    signed: int
    fresh: int


@dataclass(frozen=True)
class _Responder:
    """The delegated responder of one issuing CA, as loaded from the database."""

    ca_id: int
    ca_name: str
    certificate_id: int
    core: OcspResponder


@dataclass(frozen=True)
class _Certificate:
    """What the status of a certificate is made of (a row of ``certificates``, without its DER)."""

    id: int
    serial: str
    status: str
    status_version: int
    revoked_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class _Stored:
    """A stored response and what its freshness is judged by (a row of ``ocsp_responses``)."""

    certificate_id: int
    cert_status_version: int
    responder_certificate_id: int
    produced_at: datetime
    next_update: datetime
    der: bytes


_CERTIFICATE_COLUMNS = (
    IssuedCertificate.id,
    IssuedCertificate.serial,
    IssuedCertificate.status,
    IssuedCertificate.status_version,
    IssuedCertificate.revoked_at,
    IssuedCertificate.reason,
)
# The hot path of a cacheable request: the certificate by the unique index on (ca_id, serial) and its stored
# response by the unique index on cert_id_hash, in one round trip.
_LOOKUP = (
    select(
        *_CERTIFICATE_COLUMNS,
        OcspResponseRecord.certificate_id,
        OcspResponseRecord.cert_status_version,
        OcspResponseRecord.responder_certificate_id,
        OcspResponseRecord.produced_at,
        OcspResponseRecord.next_update,
        OcspResponseRecord.der,
    )
    .select_from(IssuedCertificate)
    .outerjoin(OcspResponseRecord, OcspResponseRecord.cert_id_hash == bindparam("cert_id_hash"))
    .where(IssuedCertificate.ca_id == bindparam("ca_id"), IssuedCertificate.serial == bindparam("serial"))
)
# The status alone, for answers signed on demand (nonce, several CertIDs, unknown serials).
_STATUS = select(*_CERTIFICATE_COLUMNS).where(
    IssuedCertificate.ca_id == bindparam("ca_id"), IssuedCertificate.serial == bindparam("serial")
)


class OcspService:
    """Answers OCSP requests for every issuing CA from pre-signed responses (see the module docstring)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        keystore: Callable[[], KeyStore],
        clock: Clock,
        settings: Settings,
        *,
        read_sessions: Callable[[], Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._keystore = keystore
        self._clock = clock
        self._refresh = timedelta(seconds=settings.ocsp_refresh_seconds)
        self._validity = timedelta(seconds=settings.ocsp_validity_seconds)
        self._lock = threading.Lock()
        self._by_key_hash: dict[tuple[CertIdHash, bytes], _Responder] = {}
        self._by_name: dict[str, _Responder] = {}
        self._loaded_at: float | None = None
        self._read_engine: Engine | None = None

    # --- answering ---------------------------------------------------------------------------------

    def respond(self, body: bytes) -> OcspAnswer:
        """Return the answer to the OCSP request ``body``: signed, or an OCSP error status; never raises."""
        try:
            request = _parse(body)
        except TrustsvcError as exc:
            return OcspAnswer.error(error_response_for(exc), OcspErrorStatus.MALFORMED_REQUEST)
        try:
            responder = self._responder_for(request)
            if responder is None:
                return OcspAnswer.error(
                    error_response(OcspErrorStatus.UNAUTHORIZED), OcspErrorStatus.UNAUTHORIZED
                )
            if request.cacheable:
                return self._cacheable(responder, request.cert_ids[0])
            return self._on_demand(responder, request)
        except Exception:
            # The client gets the protocol's own answer; the details go to the log only.
            log.exception("OCSP request could not be answered")
            return OcspAnswer.error(
                error_response(OcspErrorStatus.INTERNAL_ERROR), OcspErrorStatus.INTERNAL_ERROR
            )

    def respond_get(self, encoded: str) -> OcspAnswer:
        """Return the answer to an RFC 6960 Appendix A.1 GET whose path ends in ``encoded``; never raises."""
        try:
            body = decode_get_request(encoded)
        except TrustsvcError as exc:
            return OcspAnswer.error(error_response_for(exc), OcspErrorStatus.MALFORMED_REQUEST)
        return self.respond(body)

    def _cacheable(self, responder: _Responder, cert_id: CertId) -> OcspAnswer:
        now = self._clock()
        key = _cert_id_hash(cert_id)
        certificate, stored = self._read(responder.ca_id, cert_id.serial, key)
        if certificate is None:
            return self._sign_single(responder, cert_id, CertStatus.unknown(), now)
        if stored is not None and self._is_fresh(stored, certificate, responder, now):
            return self._answer(stored)
        status = _status_of(certificate)
        try:
            answer = self._sign_single(responder, cert_id, status, now)
        except (TrustsvcError, SQLAlchemyError):
            if (
                stored is not None
                and stored.cert_status_version == certificate.status_version
                and now < stored.next_update
            ):
                log.exception("re-signing the OCSP response failed; serving the stored one until it expires")
                return self._answer(stored)
            raise
        assert answer.produced_at is not None and answer.next_update is not None
        self._store(
            [
                OcspResponseRecord(
                    cert_id_hash=key,
                    ca_id=responder.ca_id,
                    serial=certificate.serial,
                    certificate_id=certificate.id,
                    cert_status_version=certificate.status_version,
                    responder_certificate_id=responder.certificate_id,
                    cert_status=status.state.value,
                    produced_at=answer.produced_at,
                    next_update=answer.next_update,
                    der=answer.der,
                )
            ]
        )
        return answer

    def _read(self, ca_id: int, serial: int, key: str) -> tuple[_Certificate | None, _Stored | None]:
        """Return the certificate's status and its stored response for CertID hash ``key``: one query."""
        try:
            serial_text = serial_hex(serial)
        except TrustsvcError:
            return None, None  # no serial we could have issued
        with self._reading() as connection:
            row = connection.execute(
                _LOOKUP, {"ca_id": ca_id, "serial": serial_text, "cert_id_hash": key}
            ).first()
        if row is None:
            return None, None
        values: tuple[Any, ...] = tuple(row)
        certificate = _Certificate(*values[: len(_CERTIFICATE_COLUMNS)])
        stored = values[len(_CERTIFICATE_COLUMNS) :]
        return certificate, _Stored(*stored) if stored[0] is not None else None

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """Yield a connection of the read-only engine in one read-only transaction (SQLite: BEGIN DEFERRED).

        The engine is the one ``read_sessions`` are bound to, found once: a Core connection costs about half
        of an ORM session, which is most of the Python time of a pre-signed answer.
        """
        engine = self._read_engine
        if engine is None:
            with self._read_sessions() as session:
                bind = session.get_bind()
            engine = bind if isinstance(bind, Engine) else bind.engine
            self._read_engine = engine
        with engine.connect() as connection, connection.begin():
            yield connection

    def _on_demand(self, responder: _Responder, request: OcspRequest) -> OcspAnswer:
        with self._reading() as connection:
            answers = [
                (cert_id, _status_of(_certificate(connection, responder.ca_id, cert_id.serial)))
                for cert_id in request.cert_ids
            ]
        now = utc_seconds(self._clock())
        der = responder.core.sign_response(
            answers, now=now, next_update=now + self._validity, nonce=request.nonce
        )
        # A nonce makes the response single-use; several CertIDs make it a poor cache entry.
        return OcspAnswer(der=der, cacheable=False, produced_at=now, next_update=now + self._validity)

    def _sign_single(
        self, responder: _Responder, cert_id: CertId, status: CertStatus, now: datetime
    ) -> OcspAnswer:
        produced_at = utc_seconds(now)
        next_update = produced_at + self._validity
        der = responder.core.sign_response([(cert_id, status)], now=produced_at, next_update=next_update)
        return OcspAnswer(
            der=der,
            cacheable=True,
            produced_at=produced_at,
            next_update=next_update,
            refresh_at=min(produced_at + self._refresh, next_update),
        )

    def _answer(self, stored: _Stored | OcspResponseRecord) -> OcspAnswer:
        return OcspAnswer(
            der=stored.der,
            cacheable=True,
            produced_at=stored.produced_at,
            next_update=stored.next_update,
            refresh_at=min(stored.produced_at + self._refresh, stored.next_update),
        )

    def _is_fresh(
        self,
        stored: _Stored | OcspResponseRecord,
        certificate: _Certificate | IssuedCertificate,
        responder: _Responder,
        now: datetime,
    ) -> bool:
        return (
            stored.certificate_id == certificate.id
            and stored.cert_status_version == certificate.status_version
            and stored.responder_certificate_id == responder.certificate_id
            and now < stored.produced_at + self._refresh
            and now < stored.next_update
        )

    def _store(self, records: Sequence[OcspResponseRecord]) -> None:
        """Insert or replace the stored responses, never over one made at a newer status version."""
        if not records:
            return
        columns = (
            "ca_id",
            "serial",
            "certificate_id",
            "cert_status_version",
            "responder_certificate_id",
            "cert_status",
            "produced_at",
            "next_update",
            "der",
        )
        values = [
            {"cert_id_hash": r.cert_id_hash, **{name: getattr(r, name) for name in columns}} for r in records
        ]
        with self._sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(OcspResponseRecord).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=[OcspResponseRecord.cert_id_hash],
                set_={name: statement.excluded[name] for name in columns},
                where=OcspResponseRecord.cert_status_version <= statement.excluded.cert_status_version,
            )
            session.execute(statement)

    # --- pre-signing -------------------------------------------------------------------------------

    def presign(
        self,
        ca_name: str,
        *,
        hash_algorithms: Sequence[CertIdHash | str] = (CertIdHash.SHA1,),
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PresignReport:
        """Return what was done making sure every certificate of ``ca_name`` has a fresh stored response.

        One response per certificate and hash algorithm, for the CertID spelling OpenSSL and most clients
        send (NULL hash parameters). ``force`` signs again even fresh ones. ``progress(done, total)`` is
        called after each batch of certificates.
        """
        responder = self._responder_named(ca_name)
        algorithms = [CertIdHash(a) for a in dict.fromkeys(hash_algorithms)]
        with self._read_sessions() as session, session.begin():
            total = session.execute(
                select(func.count())
                .select_from(IssuedCertificate)
                .where(IssuedCertificate.ca_id == responder.ca_id)
            ).scalar_one()
        done = signed = fresh = 0
        last_id = 0
        while True:
            now = self._clock()
            with self._read_sessions() as session, session.begin():
                certificates = list(
                    session.execute(
                        select(IssuedCertificate)
                        .where(IssuedCertificate.ca_id == responder.ca_id, IssuedCertificate.id > last_id)
                        .order_by(IssuedCertificate.id)
                        .limit(PRESIGN_BATCH)
                    ).scalars()
                )
                wanted = {
                    _cert_id_hash(cert_id): (cert_id, certificate)
                    for certificate in certificates
                    for algorithm in algorithms
                    for cert_id in [responder.core.cert_id(certificate.serial_number, algorithm)]
                }
                stored = {
                    row.cert_id_hash: row
                    for row in session.execute(
                        select(OcspResponseRecord).where(OcspResponseRecord.cert_id_hash.in_(list(wanted)))
                    ).scalars()
                }
            if not certificates:
                break
            records = []
            for key, (cert_id, certificate) in wanted.items():
                row = stored.get(key)
                if not force and row is not None and self._is_fresh(row, certificate, responder, now):
                    fresh += 1
                    continue
                status = _status_of(certificate)
                answer = self._sign_single(responder, cert_id, status, now)
                assert answer.produced_at is not None and answer.next_update is not None
                records.append(
                    OcspResponseRecord(
                        cert_id_hash=key,
                        ca_id=responder.ca_id,
                        serial=certificate.serial,
                        certificate_id=certificate.id,
                        cert_status_version=certificate.status_version,
                        responder_certificate_id=responder.certificate_id,
                        cert_status=status.state.value,
                        produced_at=answer.produced_at,
                        next_update=answer.next_update,
                        der=answer.der,
                    )
                )
            self._store(records)
            signed += len(records)
            done += len(certificates)
            last_id = certificates[-1].id
            if progress is not None:
                progress(done, max(total, done))
        log.info("pre-signed %d OCSP responses of %s (%d were fresh)", signed, ca_name, fresh)
        return PresignReport(ca_name=ca_name, certificates=done, signed=signed, fresh=fresh)

    def served_cas(self) -> list[str]:
        """Return the names of the CAs this service answers for (issuing CAs with a responder)."""
        self._load(force=False)
        return sorted(self._by_name)

    # --- responders --------------------------------------------------------------------------------

    def _responder_for(self, request: OcspRequest) -> _Responder | None:
        """Return the one responder serving every CertID of ``request``, or None (→ unauthorized)."""
        found: _Responder | None = None
        for cert_id in request.cert_ids:
            responder = self._lookup(cert_id)
            if responder is None or (found is not None and responder.ca_id != found.ca_id):
                return None
            found = responder
        return found

    def _lookup(self, cert_id: CertId) -> _Responder | None:
        self._load(force=False)
        responder = self._by_key_hash.get((cert_id.hash_algorithm, cert_id.issuer_key_hash))
        if responder is None and self._may_reload_on_miss(cert_id):
            self._load(force=True)
            responder = self._by_key_hash.get((cert_id.hash_algorithm, cert_id.issuer_key_hash))
        if responder is None or not responder.core.serves(cert_id):
            return None
        return responder

    def _may_reload_on_miss(self, cert_id: CertId) -> bool:
        if self._loaded_at is not None and time.monotonic() - self._loaded_at < RELOAD_ON_MISS:
            return False
        if cert_id.hash_algorithm is not CertIdHash.SHA1:
            return True
        # A SHA-1 issuerKeyHash is cas.key_hash_sha1: one indexed lookup says whether a reload can help.
        with self._read_sessions() as session, session.begin():
            return (
                session.execute(
                    select(CertificateAuthority.id).where(
                        CertificateAuthority.key_hash_sha1 == cert_id.issuer_key_hash.hex()
                    )
                ).scalar_one_or_none()
                is not None
            )

    def _responder_named(self, ca_name: str) -> _Responder:
        self._load(force=True)
        responder = self._by_name.get(ca_name)
        if responder is None:
            raise NotFound(
                f"{ca_name[:64]!r} is not an issuing CA with an OCSP responder certificate "
                "(root CAs are not served by OCSP: their CRL is)"
            )
        return responder

    def _load(self, *, force: bool) -> None:
        """Build the responders of every issuing CA, unless they were loaded under RESPONDER_TTL ago."""
        loaded_at = self._loaded_at
        if not force and loaded_at is not None and time.monotonic() - loaded_at < RESPONDER_TTL:
            return
        with self._lock:
            if self._loaded_at != loaded_at:
                return  # another thread loaded meanwhile
            with self._read_sessions() as session, session.begin():
                rows = session.execute(
                    select(CertificateAuthority, IssuedCertificate)
                    .join(ServiceCertificate, ServiceCertificate.ca_id == CertificateAuthority.id)
                    .join(IssuedCertificate, IssuedCertificate.id == ServiceCertificate.certificate_id)
                    .where(
                        CertificateAuthority.role == CaRole.ISSUING.value,
                        ServiceCertificate.role == ServiceRole.OCSP_RESPONDER.value,
                    )
                ).all()
            previous = self._by_name
            by_key_hash: dict[tuple[CertIdHash, bytes], _Responder] = {}
            by_name: dict[str, _Responder] = {}
            for ca, certificate in rows:
                responder = previous.get(ca.name)
                if responder is None or responder.certificate_id != certificate.id:
                    responder = self._build(ca, certificate)
                by_name[ca.name] = responder
                for algorithm in CertIdHash:
                    by_key_hash[(algorithm, responder.core.cert_id(1, algorithm).issuer_key_hash)] = responder
            self._by_key_hash, self._by_name = by_key_hash, by_name
            self._loaded_at = time.monotonic()

    def _build(self, ca: CertificateAuthority, certificate: IssuedCertificate) -> _Responder:
        if certificate.key_id is None:
            raise NotFound(f"the OCSP responder key of {ca.name} is not in the key store")
        core = OcspResponder(
            x509.Certificate.load(certificate.der),
            self._keystore().signer(certificate.key_id),
            x509.Certificate.load(ca.certificate_der),
        )
        log.info("OCSP responder of %s: certificate %s", ca.name, certificate.serial)
        return _Responder(ca_id=ca.id, ca_name=ca.name, certificate_id=certificate.id, core=core)


def decode_get_request(encoded: str) -> bytes:
    """Return the DER OCSP request carried in the path of an RFC 6960 Appendix A.1 GET.

    ``encoded`` is the path after ``/ocsp/`` as the server decoded it once. Accepted: standard base64 with
    or without padding, still percent-encoded (some clients encode twice), with a space where ``+`` was
    form-decoded, or base64url. MalformedInput for anything else.
    """
    text = unquote(encoded).replace(" ", "+").replace("-", "+").replace("_", "/").rstrip("=")
    if not text:
        raise MalformedInput("the OCSP GET request is empty")
    if len(text) > (MAX_REQUEST_SIZE + 2) // 3 * 4:
        raise MalformedInput(f"an OCSP request is limited to {MAX_REQUEST_SIZE} bytes")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise MalformedInput("the OCSP GET request is not base64") from exc


def _parse(body: bytes) -> OcspRequest:
    """Return the parsed request; small ones are memoised (parsing is a pure function of the bytes)."""
    if len(body) <= MEMO_REQUEST_SIZE:
        return _parse_memo(body)
    return parse_ocsp_request(body)


@functools.lru_cache(maxsize=MEMO_REQUESTS)
def _parse_memo(body: bytes) -> OcspRequest:
    return parse_ocsp_request(body)  # an error is raised, not cached


def _certificate(connection: Connection, ca_id: int, serial: int) -> _Certificate | None:
    """Return the status of certificate ``serial`` of CA ``ca_id`` (one unique-index lookup), or None."""
    try:
        serial_text = serial_hex(serial)
    except TrustsvcError:
        return None  # no serial we could have issued
    row = connection.execute(_STATUS, {"ca_id": ca_id, "serial": serial_text}).first()
    if row is None:
        return None
    values: tuple[Any, ...] = tuple(row)
    return _Certificate(*values)


def _cert_id_hash(cert_id: CertId) -> str:
    return hashlib.sha256(cert_id.der).hexdigest()


def _status_of(certificate: _Certificate | IssuedCertificate | None) -> CertStatus:
    if certificate is None:
        return CertStatus.unknown()
    if certificate.status == CertificateStatus.GOOD:
        return CertStatus.good()
    assert certificate.revoked_at is not None
    if certificate.status == CertificateStatus.HOLD:
        return CertStatus.revoked(certificate.revoked_at, RevocationReason.CERTIFICATE_HOLD)
    reason = RevocationReason(certificate.reason) if certificate.reason else None
    return CertStatus.revoked(certificate.revoked_at, reason)
