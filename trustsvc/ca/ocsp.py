"""OCSP responder core (RFC 6960, RFC 5019 profile): parse requests, sign responses. No database, no HTTP.

The pieces a deployment wires together::

    request = parse_ocsp_request(body)            # MalformedInput / InvalidInput / UnsupportedAlgorithm
    der = responder.respond(request, lookup, now=clock(), next_update=clock() + validity)
    # any TrustsvcError from the two calls above → error_response_for(exc) (malformedRequest / internalError)

* **Status source.** ``lookup(issuer_name_hash, issuer_key_hash, serial) -> CertStatus | None`` is called only
  for CertIDs that name the responder's own CA, always with the **SHA-1** issuerNameHash and issuerKeyHash of
  that CA whatever hash the client used (the key hash equals the CA's subjectKeyIdentifier, RFC 5280 method
  1, as trustsvc issues them), so a status table can be keyed on them. ``None`` means "this CA never issued
  that serial" and is answered ``unknown``. An exception from ``lookup`` propagates (→ internalError).
* **Pre-signing and caching (RFC 5019).** A response depends only on (CertID, status, times) unless the
  request carries a nonce. :attr:`OcspRequest.cacheable` says when a response may be served from a cache;
  :meth:`OcspResponder.cert_id` and :meth:`OcspResponder.sign_response` pre-sign one without any request.
  The CertID is echoed byte for byte as the client sent it (DER), including whether its hash
  AlgorithmIdentifier carries NULL parameters — OpenSSL compares those — so the cache key is
  :attr:`CertId.der`, not the serial alone.
* **Delegated responder only.** Responses are signed by a certificate of the ``ocsp-responder`` profile
  (id-kp-OCSPSigning, id-pkix-ocsp-nocheck) issued by the CA whose certificates it answers for (RFC 6960
  §4.2.2.2); our CA certificates carry no digitalSignature key usage, so the CA never signs OCSP itself.
  responderID is byKey (SHA-1 of the responder's public key bits, RFC 6960 §4.2.2.3); the responder
  certificate goes into ``certs``; producedAt = thisUpdate = ``now`` in whole seconds; nextUpdate always
  present (RFC 5019 §2.2.4); the signature algorithm is the signer's (SM2 → 1.2.156.10197.1.501, no
  parameters, default user ID 1234567812345678). Every signature is verified before it is returned.
* **Other issuers → unauthorized.** A request naming any CA this responder does not serve is answered with
  the unsigned ``unauthorized`` status (RFC 5019 §2.2.3), not a signed ``unknown``: a delegated responder's
  signature speaks only for its own CA, relying parties (OpenSSL among them) reject a response whose
  single responses name a CA other than the responder's issuer, and a multi-CA deployment routes each
  request to the right responder with :meth:`OcspResponder.serves` before calling it.
* **Request checks.** At most :data:`MAX_REQUEST_SIZE` bytes and :data:`MAX_CERT_IDS` CertIDs; CertID hash
  SHA-1, SHA-256, SHA-384, SHA-512 or SM3 with absent/NULL parameters and hashes of the right length;
  nonce per RFC 9654 (extnValue is the DER of an OCTET STRING of 1–128 octets, else malformedRequest).
  Request signatures are parsed but not verified (this responder never requires signed requests).
  Understood extensions: nonce, acceptable responses, preferred signature algorithms (noted, not acted
  on: we sign with our one key) and the per-request service locator (we are no proxy). Any other
  extension marked critical is refused (InvalidInput); non-critical unknown ones are ignored (RFC 6960 §4.4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from asn1crypto import core, ocsp, x509

from trustsvc import errors
from trustsvc.ca.profiles import utc_seconds
from trustsvc.ca.x509 import RevocationReason, key_identifier
from trustsvc.keys.algorithms import signature_algorithm_of, signed_digest_algorithm
from trustsvc.keys.signer import Signer, verify
from trustsvc.keys.sm3 import sm3

__all__ = [
    "MAX_CERT_IDS",
    "MAX_NONCE_OCTETS",
    "MAX_REQUEST_SIZE",
    "MIN_NONCE_OCTETS",
    "CertId",
    "CertIdHash",
    "CertState",
    "CertStatus",
    "OcspErrorStatus",
    "OcspRequest",
    "OcspResponder",
    "StatusLookup",
    "cert_id_for",
    "error_response",
    "error_response_for",
    "parse_ocsp_request",
]

#: Largest OCSP request accepted. Real ones are ~100 bytes, a few KiB when signed with certificates attached.
MAX_REQUEST_SIZE = 64 * 1024
#: Most CertIDs in one request (RFC 5019 clients send one; RFC 6960 allows a list).
MAX_CERT_IDS = 32
#: RFC 9654 bounds on the nonce value (the octets inside the OCTET STRING).
MIN_NONCE_OCTETS, MAX_NONCE_OCTETS = 1, 128

_NONCE = "1.3.6.1.5.5.7.48.1.2"
_ACCEPTABLE_RESPONSES = "1.3.6.1.5.5.7.48.1.4"
_PREFERRED_SIGNATURE_ALGORITHMS = "1.3.6.1.5.5.7.48.1.8"
_SERVICE_LOCATOR = "1.3.6.1.5.5.7.48.1.7"
_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"
_UNDERSTOOD_REQUEST_EXTENSIONS = frozenset({_NONCE, _ACCEPTABLE_RESPONSES, _PREFERRED_SIGNATURE_ALGORITHMS})
_UNDERSTOOD_SINGLE_EXTENSIONS = frozenset({_SERVICE_LOCATOR})

# What asn1crypto raises on bytes it cannot make sense of; anything in this list becomes MalformedInput.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)


class CertIdHash(StrEnum):
    """Hash algorithms accepted in a CertID, spelled as asn1crypto names them."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"
    SM3 = "sm3"


_HASH_OIDS = {
    "1.3.14.3.2.26": CertIdHash.SHA1,
    "2.16.840.1.101.3.4.2.1": CertIdHash.SHA256,
    "2.16.840.1.101.3.4.2.2": CertIdHash.SHA384,
    "2.16.840.1.101.3.4.2.3": CertIdHash.SHA512,
    "1.2.156.10197.1.401": CertIdHash.SM3,
}
_HASH_SIZES = {
    CertIdHash.SHA1: 20,
    CertIdHash.SHA256: 32,
    CertIdHash.SHA384: 48,
    CertIdHash.SHA512: 64,
    CertIdHash.SM3: 32,
}


def _digest(algorithm: CertIdHash, data: bytes) -> bytes:
    if algorithm is CertIdHash.SM3:
        return sm3(data)
    # SHA-1 only names a certificate here (RFC 5019 clients must use it); no security rests on it.
    return hashlib.new(algorithm.value, data, usedforsecurity=algorithm is not CertIdHash.SHA1).digest()


class OcspErrorStatus(StrEnum):
    """OCSPResponseStatus values answered without a signed response (RFC 6960 §4.2.1)."""

    MALFORMED_REQUEST = "malformed_request"
    INTERNAL_ERROR = "internal_error"
    TRY_LATER = "try_later"
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True)
class CertId:
    """One CertID: the certificate a client asks about, named by its issuer's hashes and its serial.

    ``der`` is the exact DER the response echoes (and the natural cache key of a pre-signed response).
    """

    hash_algorithm: CertIdHash
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes = field(repr=False)


@dataclass(frozen=True)
class OcspRequest:
    """A parsed OCSP request. ``nonce`` is the nonce value (the octets inside its OCTET STRING), if any."""

    cert_ids: tuple[CertId, ...]
    nonce: bytes | None
    der: bytes = field(repr=False)

    @property
    def cacheable(self) -> bool:
        """Return whether the response may come from (and go into) a cache: one CertID and no nonce."""
        return self.nonce is None and len(self.cert_ids) == 1


class CertState(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertStatus:
    """What the responder says about one certificate: :meth:`good`, :meth:`revoked` or :meth:`unknown`.

    A revoked status carries the revocation time and optionally the reason; reason None or UNSPECIFIED
    writes no revocationReason (as in our CRLs). removeFromCRL is not a certificate status and is refused.
    """

    state: CertState
    revoked_at: datetime | None = None
    reason: RevocationReason | None = None

    def __post_init__(self) -> None:
        state = CertState(self.state)
        if state is CertState.REVOKED:
            if self.revoked_at is None:
                raise errors.InvalidInput("a revoked status needs the revocation time")
            utc_seconds(self.revoked_at)  # refuses naive datetimes now rather than at signing time
            if self.reason is not None and RevocationReason(self.reason) is RevocationReason.REMOVE_FROM_CRL:
                raise errors.InvalidInput("removeFromCRL is not a revocation reason a certificate can have")
        elif self.revoked_at is not None or self.reason is not None:
            raise errors.InvalidInput(f"a {state} status has no revocation time or reason")

    @classmethod
    def good(cls) -> CertStatus:
        return cls(CertState.GOOD)

    @classmethod
    def revoked(cls, revoked_at: datetime, reason: RevocationReason | None = None) -> CertStatus:
        return cls(CertState.REVOKED, revoked_at, reason)

    @classmethod
    def unknown(cls) -> CertStatus:
        return cls(CertState.UNKNOWN)


#: ``lookup(sha1_issuer_name_hash, sha1_issuer_key_hash, serial)`` → the status, or None if never issued.
StatusLookup = Callable[[bytes, bytes, int], CertStatus | None]


# --- requests ------------------------------------------------------------------------------------


def parse_ocsp_request(der: bytes) -> OcspRequest:
    """Return the OCSP request in ``der``.

    Raises MalformedInput for anything that is not a well-formed OCSPRequest within our limits,
    UnsupportedAlgorithm for a CertID hash we do not know, InvalidInput for a critical extension we do not
    understand. Each of those is answered ``malformedRequest`` (see :func:`error_response_for`).
    """
    if not isinstance(der, bytes):
        raise errors.MalformedInput("an OCSP request must be given as bytes")
    if not der:
        raise errors.MalformedInput("the OCSP request is empty")
    if len(der) > MAX_REQUEST_SIZE:
        raise errors.MalformedInput(f"an OCSP request is limited to {MAX_REQUEST_SIZE} bytes")
    try:
        request = ocsp.OCSPRequest.load(der, strict=True)
        tbs = request["tbs_request"]
        if tbs["version"].native != "v1":
            raise errors.MalformedInput("OCSP request version must be v1 (0)")
        tbs["requestor_name"].native  # noqa: B018  -- parse now: a damaged field is a damaged request
        request["optional_signature"].native  # noqa: B018  -- parsed, not verified (see module docstring)
        requests = tbs["request_list"]
        if len(requests) == 0:
            raise errors.MalformedInput("the OCSP request names no certificate")
        if len(requests) > MAX_CERT_IDS:
            raise errors.MalformedInput(f"an OCSP request may name at most {MAX_CERT_IDS} certificates")
        cert_ids = tuple(_cert_id(single) for single in requests)
        nonce = _request_extensions(tbs)
    except errors.TrustsvcError:
        raise
    except _PARSE_ERRORS as exc:
        raise errors.MalformedInput("not a well-formed OCSP request") from exc
    return OcspRequest(cert_ids=cert_ids, nonce=nonce, der=der)


def _cert_id(single: ocsp.Request) -> CertId:
    raw = single["req_cert"]
    algorithm_id = raw["hash_algorithm"]
    oid = algorithm_id["algorithm"].dotted
    hash_algorithm = _HASH_OIDS.get(oid)
    if hash_algorithm is None:
        raise errors.UnsupportedAlgorithm(f"CertID hash algorithm {oid} is not supported")
    if not _absent_or_null(algorithm_id["parameters"]):
        raise errors.MalformedInput("CertID hash algorithm parameters must be absent or NULL")
    name_hash = raw["issuer_name_hash"].native
    key_hash = raw["issuer_key_hash"].native
    size = _HASH_SIZES[hash_algorithm]
    if len(name_hash) != size or len(key_hash) != size:
        raise errors.MalformedInput(f"CertID hashes must be {size} octets for {hash_algorithm}")
    serial = raw["serial_number"].native
    _check_extensions(single["single_request_extensions"], _UNDERSTOOD_SINGLE_EXTENSIONS, "request")
    # Re-encoded as DER so that what we sign is DER even if the client sent BER; values are unchanged.
    der = ocsp.CertId.load(raw.dump(force=True)).dump()
    return CertId(hash_algorithm, bytes(name_hash), bytes(key_hash), int(serial), der)


class _RawExtension(core.Sequence):
    _fields = [  # noqa: RUF012  -- asn1crypto's declaration style
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


def _request_extensions(tbs: ocsp.TBSRequest) -> bytes | None:
    extensions = _check_extensions(tbs["request_extensions"], _UNDERSTOOD_REQUEST_EXTENSIONS, "OCSP request")
    if _NONCE not in extensions:
        return None
    # Read as a plain OCTET STRING: asn1crypto would otherwise parse the value as it sees fit on first access.
    raw = _RawExtension.load(extensions[_NONCE].dump())["extn_value"].native
    try:
        value = core.OctetString.load(raw, strict=True).native
    except _PARSE_ERRORS as exc:
        raise errors.MalformedInput("the OCSP nonce must be a DER OCTET STRING (RFC 9654)") from exc
    if not isinstance(value, bytes) or not MIN_NONCE_OCTETS <= len(value) <= MAX_NONCE_OCTETS:
        raise errors.MalformedInput(
            f"the OCSP nonce must be {MIN_NONCE_OCTETS} to {MAX_NONCE_OCTETS} octets (RFC 9654)"
        )
    if core.OctetString(value).dump() != raw:
        raise errors.MalformedInput("the OCSP nonce is not DER-encoded")
    return value


def _check_extensions(
    extensions: core.SequenceOf, understood: frozenset[str], where: str
) -> dict[str, core.Sequence]:
    """Return the extensions by OID; refuse duplicates and critical extensions we do not understand."""
    seen: dict[str, core.Sequence] = {}
    for extension in extensions:
        oid = extension["extn_id"].dotted
        if oid in seen:
            raise errors.MalformedInput(f"{where} extension {oid} appears twice")
        critical = bool(extension["critical"].native)
        if oid in understood:
            if oid != _NONCE:  # the nonce gets its own, stricter check
                extension["extn_value"].native  # noqa: B018  -- parse the value: damaged is malformed
        elif critical:
            raise errors.InvalidInput(f"unsupported critical {where} extension {oid}")
        seen[oid] = extension
    return seen


def _absent_or_null(parameters: core.Asn1Value) -> bool:
    return isinstance(parameters, core.Void) or parameters.dump() == b"\x05\x00"


# --- CertIDs -------------------------------------------------------------------------------------


def cert_id_for(
    cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: CertIdHash | str = CertIdHash.SHA1
) -> CertId:
    """Return the CertID of ``cert`` (issued by ``issuer``) with ``hash_algorithm``, as OpenSSL writes it.

    The hash AlgorithmIdentifier carries NULL parameters, which is what OpenSSL and most clients send.
    """
    cert = x509.Certificate.load(cert.dump())
    issuer = x509.Certificate.load(issuer.dump())
    issuer_name = cert["tbs_certificate"]["issuer"].dump()
    if issuer_name != issuer["tbs_certificate"]["subject"].dump():
        raise errors.InvalidInput("the certificate's issuer name is not the issuer certificate's subject")
    return _make_cert_id(
        _hash_algorithm(hash_algorithm),
        issuer_name,
        _key_bits(issuer),
        cert.serial_number,
    )


def _make_cert_id(algorithm: CertIdHash, issuer_name: bytes, issuer_key_bits: bytes, serial: int) -> CertId:
    name_hash = _digest(algorithm, issuer_name)
    key_hash = _digest(algorithm, issuer_key_bits)
    der = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": algorithm.value, "parameters": core.Null()},
            "issuer_name_hash": name_hash,
            "issuer_key_hash": key_hash,
            "serial_number": serial,
        }
    ).dump()
    return CertId(algorithm, name_hash, key_hash, serial, der)


def _hash_algorithm(value: CertIdHash | str) -> CertIdHash:
    try:
        return CertIdHash(value)
    except ValueError:
        raise errors.UnsupportedAlgorithm(
            f"CertID hash algorithm {str(value)[:40]!r} is not supported"
        ) from None


def _key_bits(certificate: x509.Certificate) -> bytes:
    """Return the subjectPublicKey BIT STRING value without its unused-bits octet (RFC 6960 issuerKeyHash)."""
    return bytes(certificate["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])


# --- responses -----------------------------------------------------------------------------------


def error_response(status: OcspErrorStatus | str) -> bytes:
    """Return an unsigned OCSPResponse carrying only ``status`` (malformedRequest, tryLater, ...)."""
    try:
        chosen = OcspErrorStatus(status)
    except ValueError:
        raise errors.InvalidInput(f"{str(status)[:40]!r} is not an OCSP error status") from None
    return ocsp.OCSPResponse({"response_status": chosen.value}).dump()


def error_response_for(error: BaseException) -> bytes:
    """Return the error OCSPResponse answering ``error``: malformedRequest for input, else internalError."""
    if isinstance(error, errors.InvalidInput):
        return error_response(OcspErrorStatus.MALFORMED_REQUEST)
    return error_response(OcspErrorStatus.INTERNAL_ERROR)


class OcspResponder:
    """Signs OCSP responses for the certificates ``issuer_cert``'s CA issued, with a delegated responder key.

    ``responder_cert`` must be issued by ``issuer_cert`` (checked, signature included), carry
    id-kp-OCSPSigning, and hold the public key of ``signer``; otherwise InvalidInput.
    """

    def __init__(
        self, responder_cert: x509.Certificate, signer: Signer, issuer_cert: x509.Certificate
    ) -> None:
        self._responder_cert = x509.Certificate.load(responder_cert.dump())
        self._issuer_cert = x509.Certificate.load(issuer_cert.dump())
        self._signer = signer
        responder, issuer = self._responder_cert, self._issuer_cert
        responder_spki = responder["tbs_certificate"]["subject_public_key_info"]
        if bytes(signer.public_key_info["public_key"].contents) != bytes(
            responder_spki["public_key"].contents
        ):
            raise errors.InvalidInput("the signer's key is not the OCSP responder certificate's key")
        if responder.dump() == issuer.dump():
            raise errors.InvalidInput("the OCSP responder must be a delegated responder, not the CA itself")
        if responder["tbs_certificate"]["issuer"].dump() != issuer["tbs_certificate"]["subject"].dump():
            raise errors.InvalidInput(
                "the OCSP responder certificate was not issued by the issuer certificate"
            )
        try:
            verify(
                issuer.public_key,
                signature_algorithm_of(responder["signature_algorithm"]),
                responder["tbs_certificate"].dump(),
                responder.signature,
            )
        except (errors.InvalidSignature, errors.UnsupportedAlgorithm, errors.MalformedInput) as exc:
            raise errors.InvalidInput(
                "the OCSP responder certificate's signature does not verify under the issuer's key"
            ) from exc
        purposes = responder.extended_key_usage_value
        if purposes is None or _OCSP_SIGNING not in {p.dotted for p in purposes}:
            raise errors.InvalidInput("the OCSP responder certificate lacks id-kp-OCSPSigning")

        self._issuer_name = issuer["tbs_certificate"]["subject"].dump()
        self._issuer_key_bits = _key_bits(issuer)
        self._issuer_hashes = {
            algorithm: (_digest(algorithm, self._issuer_name), _digest(algorithm, self._issuer_key_bits))
            for algorithm in CertIdHash
        }
        self._responder_key_hash = key_identifier(responder_spki)

    @property
    def issuer_name_hash(self) -> bytes:
        """SHA-1 of the CA's subject Name: the first argument every ``lookup`` call gets."""
        return self._issuer_hashes[CertIdHash.SHA1][0]

    @property
    def issuer_key_hash(self) -> bytes:
        """SHA-1 of the CA's public key bits (= its subjectKeyIdentifier): the second ``lookup`` argument."""
        return self._issuer_hashes[CertIdHash.SHA1][1]

    def serves(self, cert_id: CertId) -> bool:
        """Return whether ``cert_id`` names this responder's CA."""
        name_hash, key_hash = self._issuer_hashes[cert_id.hash_algorithm]
        return cert_id.issuer_name_hash == name_hash and cert_id.issuer_key_hash == key_hash

    def cert_id(self, serial: int, hash_algorithm: CertIdHash | str = CertIdHash.SHA1) -> CertId:
        """Return the CertID of serial ``serial`` of this CA (NULL hash parameters), e.g. for pre-signing."""
        return _make_cert_id(
            _hash_algorithm(hash_algorithm), self._issuer_name, self._issuer_key_bits, serial
        )

    def respond(
        self, request: OcspRequest, lookup: StatusLookup, *, now: datetime, next_update: datetime
    ) -> bytes:
        """Return the DER OCSPResponse answering ``request``: signed, or ``unauthorized`` for other CAs.

        The nonce is echoed when the request has one; without one the signed data depend only on the CertID,
        the status and the times, so the response may be cached (:attr:`OcspRequest.cacheable`).
        """
        if not all(self.serves(cert_id) for cert_id in request.cert_ids):
            return error_response(OcspErrorStatus.UNAUTHORIZED)
        answers = []
        for cert_id in request.cert_ids:
            status = lookup(self.issuer_name_hash, self.issuer_key_hash, cert_id.serial)
            if status is None:
                status = CertStatus.unknown()
            elif not isinstance(status, CertStatus):
                raise TypeError(f"lookup returned {type(status).__name__}, not CertStatus")
            answers.append((cert_id, status))
        return self.sign_response(answers, now=now, next_update=next_update, nonce=request.nonce)

    def sign_response(
        self,
        answers: Sequence[tuple[CertId, CertStatus]],
        *,
        now: datetime,
        next_update: datetime,
        nonce: bytes | None = None,
    ) -> bytes:
        """Return a signed, successful DER OCSPResponse with one SingleResponse per (CertID, status).

        Raises InvalidInput for a CertID of another CA, an empty list, or nextUpdate not after ``now``.
        """
        produced_at, following = utc_seconds(now), utc_seconds(next_update)
        if following <= produced_at:
            raise errors.InvalidInput("nextUpdate must be later than thisUpdate")
        if not answers:
            raise errors.InvalidInput("an OCSP response needs at least one certificate status")
        if nonce is not None and not MIN_NONCE_OCTETS <= len(nonce) <= MAX_NONCE_OCTETS:
            raise errors.InvalidInput(f"a nonce is {MIN_NONCE_OCTETS} to {MAX_NONCE_OCTETS} octets")
        singles = []
        for cert_id, status in answers:
            if not self.serves(cert_id):
                raise errors.InvalidInput("this responder does not answer for that certificate's issuer")
            singles.append(
                {
                    "cert_id": ocsp.CertId.load(cert_id.der),
                    "cert_status": _cert_status(status),
                    "this_update": core.GeneralizedTime(produced_at),
                    "next_update": core.GeneralizedTime(following),
                }
            )
        response_data: dict[str, object] = {
            "responder_id": ocsp.ResponderId(name="by_key", value=self._responder_key_hash),
            "produced_at": core.GeneralizedTime(produced_at),
            "responses": singles,
        }
        if nonce is not None:
            response_data["response_extensions"] = [
                {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
            ]
        tbs_der = ocsp.ResponseData(response_data).dump()
        signature = self._signer.sign(tbs_der)
        try:
            verify(self._signer.public_key_info, self._signer.algorithm, tbs_der, signature)
        except errors.InvalidSignature as exc:
            raise errors.InvalidSignature("the OCSP response signature just made does not verify") from exc
        basic = ocsp.BasicOCSPResponse(
            {
                "tbs_response_data": ocsp.ResponseData.load(tbs_der),
                "signature_algorithm": signed_digest_algorithm(self._signer.algorithm),
                "signature": signature,
                "certs": [self._responder_cert],
            }
        )
        return ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()


def _cert_status(status: CertStatus) -> ocsp.CertStatus:
    state = CertState(status.state)
    if state is CertState.GOOD:
        return ocsp.CertStatus(name="good", value=ocsp.StatusGood())
    if state is CertState.UNKNOWN:
        return ocsp.CertStatus(name="unknown", value=ocsp.StatusUnknown())
    assert status.revoked_at is not None  # checked in CertStatus.__post_init__
    revoked: dict[str, object] = {"revocation_time": core.GeneralizedTime(utc_seconds(status.revoked_at))}
    reason = RevocationReason(status.reason) if status.reason is not None else None
    if reason is not None and reason is not RevocationReason.UNSPECIFIED:
        revoked["revocation_reason"] = reason.value
    return ocsp.CertStatus(name="revoked", value=ocsp.RevokedInfo(revoked))
