"""Time-stamp service (RFC 3161): the TSA of each hierarchy, serials from the database, a register of tokens.

:meth:`TimeStampService.respond` takes the bytes of a TimeStampReq and returns a TimeStampResp: granted with
a token, or a rejection whose failInfo says why (:func:`trustsvc.ca.tsa.fail_info_for`: badDataFormat for
bytes that are not a request, badAlg, unacceptedPolicy, unacceptedExtension; systemFailure when the key
store or the database fails). It never raises for what a client sent; only a hierarchy that does not exist
is an error (NotFound), since there is no TSA to answer in its name.

* **Which TSA.** Each hierarchy (``sm2``, ``ecdsa``, ``rsa``) has the ``tsa`` service certificate its issuing
  CA issued at ``trustsvc init``; the key is in the key store. SM2 is the default (``POST /tsa``); the
  others are asked for by path (``POST /tsa/ecdsa``) — a separate URL per TSA, rather than a query
  parameter, because TSA clients are configured with one URL and some drop query strings. A process uses
  the certificate it loaded for :data:`AUTHORITY_TTL` seconds, so a renewed TSA certificate is used
  everywhere within a minute.
* **Token contents** are the core's (:mod:`trustsvc.ca.tsa`): policy ``tsa_policy_oid``, accuracy
  ``tsa_accuracy_ms``, nonce echoed, SM3 with SM2 and SHA-256 with ECDSA/RSA; with certReq the token
  carries the TSA certificate and the issuing CA's (so ``-untrusted`` needs nothing else).
* **Serials** are random 128-bit numbers, unique by the constraint on ``timestamp_tokens.serial``: the token
  is signed, then its row inserted; on a (never expected) conflict the token is discarded and signed again
  with a new serial. No process keeps a counter and signing holds no database lock. No token leaves
  without its row committed.
* **Accountability without the audit log.** Each token gets a row in ``timestamp_tokens`` (serial, genTime,
  TSA certificate, policy, hash algorithm, imprint) — the record that lets the operator answer "did our
  TSA issue this token" and find every token of a compromised TSA key. Tokens are not audit-log records:
  the SM3 hash chain serialises every append on one head row, and a TSA answers far more requests than the
  state changes the audit log is for; the TSA's own life (key, certificate, revocation) is audited where it
  happens, by the CA.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import tsp, x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustsvc.ca.models import (
    CertificateAuthority,
    IssuedCertificate,
    ServiceCertificate,
    ServiceRole,
    serial_hex,
)
from trustsvc.ca.status_models import TimestampTokenRecord
from trustsvc.ca.tsa import (
    FailureInfo,
    ImprintHash,
    TimeStampAuthority,
    TimeStampRequest,
    fail_info_for,
    parse_timestamp_request,
    rejection,
)
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import Conflict, NotFound, TrustsvcError
from trustsvc.keys.keystore import KeyStore
from trustsvc.keys.sm3 import sm3

__all__ = ["AUTHORITY_TTL", "HIERARCHIES", "TimeStampResult", "TimeStampService", "make_request"]

log = logging.getLogger(__name__)

#: How long a process uses the TSA certificate it loaded before looking again.
AUTHORITY_TTL = 60.0
#: Hierarchy names as they appear in URLs, and the issuing CA whose TSA certificate each uses.
HIERARCHIES = {"sm2": "sm2-issuing", "ecdsa": "ecdsa-issuing", "rsa": "rsa-issuing"}
DEFAULT_HIERARCHY = "sm2"
SERIAL_BITS = 128
SERIAL_ATTEMPTS = 5


@dataclass(frozen=True)
class TimeStampResult:
    """A TimeStampResp and what it says: ``serial`` and ``gen_time`` when granted, ``fail_info`` if not."""

    der: bytes
    granted: bool
    serial: int | None = None
    gen_time: datetime | None = None
    fail_info: FailureInfo | None = None


@dataclass(frozen=True)
class _Authority:
    certificate_id: int
    core: TimeStampAuthority
    loaded_at: float


class TimeStampService:
    """Stamps RFC 3161 requests with the TSA of a hierarchy (see the module docstring)."""

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
        self._policy = settings.tsa_policy_oid
        self._accuracy = timedelta(milliseconds=settings.tsa_accuracy_ms)
        self._lock = threading.Lock()
        self._authorities: dict[str, _Authority] = {}

    def respond(self, body: bytes, *, hierarchy: str = DEFAULT_HIERARCHY) -> TimeStampResult:
        """Return the TimeStampResp answering ``body``, granted or rejected; NotFound for no such TSA."""
        try:
            authority = self._authority(hierarchy)
        except NotFound:
            raise
        except Exception:
            log.exception("the %s time-stamp authority could not be loaded", hierarchy[:16])
            return _rejected(FailureInfo.SYSTEM_FAILURE)
        try:
            request = parse_timestamp_request(body)
            authority.core.check(request)
        except TrustsvcError as exc:
            return _rejected(fail_info_for(exc))
        try:
            return self._stamp(authority, request)
        except Exception:
            # The client gets the protocol's own answer; the details go to the log only.
            log.exception("time-stamp request could not be answered")
            return _rejected(FailureInfo.SYSTEM_FAILURE)

    def _stamp(self, authority: _Authority, request: TimeStampRequest) -> TimeStampResult:
        for _attempt in range(SERIAL_ATTEMPTS):
            serial = _new_serial()
            now = self._clock()
            der = authority.core.stamp(request, serial=serial, now=now)
            gen_time = _gen_time(der)
            record = TimestampTokenRecord(
                serial=serial_hex(serial),
                gen_time=gen_time,
                tsa_certificate_id=authority.certificate_id,
                policy=authority.core.policy_oid,
                hash_algorithm=request.hash_algorithm.value,
                message_imprint=request.hashed_message.hex(),
            )
            try:
                with self._sessions() as session, session.begin():
                    session.add(record)
            except IntegrityError:
                if self._serial_taken(record.serial):
                    log.warning("time-stamp serial %s is taken; signing again with a new one", record.serial)
                    continue
                raise
            return TimeStampResult(der=der, granted=True, serial=serial, gen_time=gen_time)
        raise Conflict("could not allocate a unique time-stamp serial")

    def _serial_taken(self, serial: str) -> bool:
        with self._read_sessions() as session, session.begin():
            found = session.execute(
                select(TimestampTokenRecord.id).where(TimestampTokenRecord.serial == serial)
            ).scalar_one_or_none()
        return found is not None

    def certificates(self, hierarchy: str = DEFAULT_HIERARCHY) -> tuple[x509.Certificate, x509.Certificate]:
        """Return the current TSA certificate of ``hierarchy`` and its issuing CA's certificate."""
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"no time-stamp authority {hierarchy[:16]!r}; there are {', '.join(HIERARCHIES)}")
        _, certificate, _, issuer = self._load_certificate(hierarchy)
        return certificate, issuer

    # --- authorities -------------------------------------------------------------------------------

    def _authority(self, hierarchy: str) -> _Authority:
        if hierarchy not in HIERARCHIES:
            raise NotFound(f"no time-stamp authority {hierarchy[:16]!r}; there are {', '.join(HIERARCHIES)}")
        current = self._authorities.get(hierarchy)
        if current is not None and time.monotonic() - current.loaded_at < AUTHORITY_TTL:
            return current
        with self._lock:
            current = self._authorities.get(hierarchy)
            if current is not None and time.monotonic() - current.loaded_at < AUTHORITY_TTL:
                return current
            certificate_id, certificate, key_id, issuer = self._load_certificate(hierarchy)
            if current is not None and current.certificate_id == certificate_id:
                fresh = _Authority(certificate_id, current.core, time.monotonic())
            else:
                core = TimeStampAuthority(
                    certificate,
                    self._keystore().signer(key_id),
                    policy_oid=self._policy,
                    accuracy=self._accuracy,
                    chain=[issuer],
                )
                fresh = _Authority(certificate_id, core, time.monotonic())
                log.info("TSA %s: certificate %s", hierarchy, format(certificate.serial_number, "x"))
            self._authorities[hierarchy] = fresh
            return fresh

    def _load_certificate(self, hierarchy: str) -> tuple[int, x509.Certificate, str, x509.Certificate]:
        ca_name = HIERARCHIES[hierarchy]
        with self._read_sessions() as session, session.begin():
            row = session.execute(
                select(IssuedCertificate, CertificateAuthority)
                .join(ServiceCertificate, ServiceCertificate.certificate_id == IssuedCertificate.id)
                .join(CertificateAuthority, CertificateAuthority.id == ServiceCertificate.ca_id)
                .where(CertificateAuthority.name == ca_name, ServiceCertificate.role == ServiceRole.TSA.value)
            ).one_or_none()
        if row is None:
            raise NotFound(
                f"there is no {hierarchy} time-stamp authority: its hierarchy was not made "
                f"(`trustsvc init{'' if hierarchy == 'sm2' else ' --algorithm ...'}`)"
            )
        certificate, ca = row
        if certificate.key_id is None:
            raise NotFound(f"the key of the {hierarchy} TSA certificate is not in the key store")
        return (
            certificate.id,
            x509.Certificate.load(certificate.der),
            certificate.key_id,
            x509.Certificate.load(ca.certificate_der),
        )


def make_request(
    data: bytes,
    *,
    hash_algorithm: ImprintHash | str = ImprintHash.SM3,
    nonce: bool = True,
    cert_req: bool = True,
) -> bytes:
    """Return a DER TimeStampReq over ``data``, as ``openssl ts -query`` makes one (for operators' tests)."""
    algorithm = ImprintHash(hash_algorithm)
    digest = sm3(data) if algorithm is ImprintHash.SM3 else hashlib.new(algorithm.value, data).digest()
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm.value}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce:
        fields["nonce"] = secrets.randbits(63) or 1
    return tsp.TimeStampReq(fields).dump()


def _gen_time(response: bytes) -> datetime:
    """Return the genTime of the token in a granted TimeStampResp (as the token states it)."""
    signed_data = tsp.TimeStampResp.load(response)["time_stamp_token"]["content"]
    gen_time: datetime = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    return gen_time


def _new_serial() -> int:
    """Return a random positive serial of :data:`SERIAL_BITS` bits (never zero)."""
    return secrets.randbits(SERIAL_BITS) or 1


def _rejected(fail_info: FailureInfo) -> TimeStampResult:
    return TimeStampResult(der=rejection(fail_info), granted=False, fail_info=fail_info)
