"""Time-stamp authority core (RFC 3161, with RFC 5816 ESSCertIDv2): parse requests, make tokens. No database,
no HTTP.

The pieces a deployment wires together::

    try:
        request = parse_timestamp_request(body)    # MalformedInput / UnsupportedAlgorithm / InvalidInput
        authority.check(request)                   # unacceptable policy → InvalidInput
        serial = <allocated by the database>       # uniqueness is the database's job
        der = authority.stamp(request, serial=serial, now=clock())
    except TrustsvcError as exc:
        der = rejection(fail_info_for(exc))        # PKIStatus rejection with the matching failInfo

Every refusal is a :class:`~trustsvc.errors.TrustsvcError` and :func:`fail_info_for` names its failInfo:
an unknown hash algorithm is UnsupportedAlgorithm (badAlg); bytes that are not a TimeStampReq, a wrong
version, a digest of the wrong length or an oversized nonce are MalformedInput (badDataFormat); a request
policy other than ours is InvalidInput tagged unacceptedPolicy; any request extension is InvalidInput
tagged unacceptedExtension (RFC 3161 §2.4.1: we recognise none, critical or not, so we issue no token).

What a token contains (decisions, each with its reason):

* TSTInfo: version 1; our policy; the request's messageImprint copied (re-encoded as DER; hash SHA-256,
  SHA-384, SHA-512 or SM3 with absent/NULL parameters); the serial the caller allocated (positive, at most 160
  bits: what RFC 3161 §2.4.2 requires clients to accommodate); genTime in UTC, whole seconds unless the stated
  accuracy is below one second, then with just enough fraction digits (milliseconds or microseconds, no
  trailing zeros, as RFC 3161 §2.4.2 requires); accuracy when configured; ordering left at its DEFAULT FALSE
  (so absent in DER); the nonce echoed; tsa = directoryName of the TSA certificate's subject (OpenSSL checks
  that it names the signer, so it can only help a relying party); no extensions.
* CMS SignedData v3 (eContentType is not id-data), eContentType id-ct-TSTInfo, one SignerInfo v1 naming the
  TSA certificate by issuerAndSerialNumber. Digest SHA-256 for ECDSA/RSA and SM3 for SM2 (the digest the
  signature algorithm itself uses: GB/T 35275 pairs SM2 with SM3), written without parameters (RFC 5754).
  signatureAlgorithm as everywhere in trustsvc (SM2: 1.2.156.10197.1.501, user ID 1234567812345678).
* Signed attributes: contentType, messageDigest and signingCertificateV2 with one ESSCertIDv2 — SHA-256 of the
  TSA certificate (hash algorithm left at its DEFAULT, so absent) plus issuerSerial. SHA-256 for SM2 TSAs
  too: the ESSCertIDv2 only names a certificate (no security rests on it), SHA-256 is the default every
  RFC 5816 verifier supports (OpenSSL's ``ts -verify`` checks it), and SM3 there would only risk verifiers
  without SM3 failing to find the signer. UNVERIFIED: whether a GB/T 20520 verifier insists on SM3 here.
  No signingTime: genTime inside the signed TSTInfo is the time, and a second clock reading could disagree.
  The signature is over the DER SET OF the attributes (RFC 5652 §5.4).
* certificates: the TSA certificate (and ``chain``, if configured) only when the request sets certReq
  (RFC 3161 §2.4.1); otherwise none, keeping responses small.
* Before returning, the token is parsed back and its messageDigest and signature are verified.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from asn1crypto import algos, cms, core, tsp, x509

from trustsvc import errors
from trustsvc.ca.profiles import utc_seconds
from trustsvc.keys.algorithms import digest_algorithm, signed_digest_algorithm
from trustsvc.keys.signer import Signer, verify
from trustsvc.keys.sm3 import sm3

__all__ = [
    "MAX_NONCE_OCTETS",
    "MAX_REQUEST_SIZE",
    "FailureInfo",
    "ImprintHash",
    "TimeStampAuthority",
    "TimeStampRequest",
    "fail_info_for",
    "parse_timestamp_request",
    "rejection",
]

#: Largest TimeStampReq accepted; a real one is under 200 bytes.
MAX_REQUEST_SIZE = 16 * 1024
#: Largest nonce accepted (OpenSSL sends 8 octets, most clients at most 20).
MAX_NONCE_OCTETS = 64
_MAX_SERIAL = 1 << 160

_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError)
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"


class ImprintHash(StrEnum):
    """Hash algorithms accepted in a messageImprint, spelled as asn1crypto names them."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"
    SM3 = "sm3"


_IMPRINT_OIDS = {
    "2.16.840.1.101.3.4.2.1": ImprintHash.SHA256,
    "2.16.840.1.101.3.4.2.2": ImprintHash.SHA384,
    "2.16.840.1.101.3.4.2.3": ImprintHash.SHA512,
    "1.2.156.10197.1.401": ImprintHash.SM3,
}
_IMPRINT_SIZES = {ImprintHash.SHA256: 32, ImprintHash.SHA384: 48, ImprintHash.SHA512: 64, ImprintHash.SM3: 32}


class FailureInfo(StrEnum):
    """RFC 3161 PKIFailureInfo bits, spelled as asn1crypto names them."""

    BAD_ALG = "bad_alg"
    BAD_REQUEST = "bad_request"
    BAD_DATA_FORMAT = "bad_data_format"
    TIME_NOT_AVAILABLE = "time_not_available"
    UNACCEPTED_POLICY = "unaccepted_policy"
    UNACCEPTED_EXTENSION = "unaccepted_extensions"
    ADD_INFO_NOT_AVAILABLE = "add_info_not_available"
    SYSTEM_FAILURE = "system_failure"


# statusString of a rejection: fixed texts, never anything taken from the request.
_FAILURE_TEXT = {
    FailureInfo.BAD_ALG: "unrecognized or unsupported algorithm",
    FailureInfo.BAD_REQUEST: "transaction not permitted or supported",
    FailureInfo.BAD_DATA_FORMAT: "the data submitted has the wrong format",
    FailureInfo.TIME_NOT_AVAILABLE: "the TSA's time source is not available",
    FailureInfo.UNACCEPTED_POLICY: "the requested TSA policy is not supported by the TSA",
    FailureInfo.UNACCEPTED_EXTENSION: "the requested extension is not supported by the TSA",
    FailureInfo.ADD_INFO_NOT_AVAILABLE: "the additional information requested is not available",
    FailureInfo.SYSTEM_FAILURE: "the request cannot be handled due to system failure",
}


@dataclass(frozen=True)
class TimeStampRequest:
    """A parsed TimeStampReq. ``message_imprint`` is the DER MessageImprint copied into the token."""

    hash_algorithm: ImprintHash
    hashed_message: bytes
    policy: str | None
    nonce: int | None
    cert_req: bool
    message_imprint: bytes = field(repr=False)
    der: bytes = field(repr=False)


def parse_timestamp_request(der: bytes) -> TimeStampRequest:
    """Return the TimeStampReq in ``der``; refusals as listed in the module docstring."""
    if not isinstance(der, bytes):
        raise errors.MalformedInput("a time-stamp request must be given as bytes")
    if not der:
        raise errors.MalformedInput("the time-stamp request is empty")
    if len(der) > MAX_REQUEST_SIZE:
        raise errors.MalformedInput(f"a time-stamp request is limited to {MAX_REQUEST_SIZE} bytes")
    try:
        request = tsp.TimeStampReq.load(der, strict=True)
        if request["version"].native != "v1":
            raise errors.MalformedInput("time-stamp request version must be 1")
        imprint = request["message_imprint"]
        algorithm_id = imprint["hash_algorithm"]
        oid = algorithm_id["algorithm"].dotted
        hash_algorithm = _IMPRINT_OIDS.get(oid)
        if hash_algorithm is None:
            raise errors.UnsupportedAlgorithm(f"message imprint hash algorithm {oid} is not supported")
        parameters = algorithm_id["parameters"]
        if not (isinstance(parameters, core.Void) or parameters.dump() == b"\x05\x00"):
            raise errors.UnsupportedAlgorithm("message imprint hash parameters must be absent or NULL")
        hashed_message = imprint["hashed_message"].native
        if len(hashed_message) != _IMPRINT_SIZES[hash_algorithm]:
            raise errors.MalformedInput(
                f"the message imprint must be {_IMPRINT_SIZES[hash_algorithm]} octets for {hash_algorithm}"
            )
        policy = request["req_policy"].dotted if request["req_policy"].native is not None else None
        nonce = request["nonce"].native
        if nonce is not None and len(request["nonce"].contents) > MAX_NONCE_OCTETS:
            raise errors.MalformedInput(f"the nonce is limited to {MAX_NONCE_OCTETS} octets")
        cert_req = bool(request["cert_req"].native)
        extensions = request["extensions"]
        if extensions.native:
            raise errors.InvalidInput(
                "this TSA accepts no request extensions", fail_info=FailureInfo.UNACCEPTED_EXTENSION.value
            )
        # Re-encoded as DER so that the token is DER even if the client sent BER; values are unchanged.
        message_imprint = tsp.MessageImprint.load(imprint.dump(force=True)).dump()
    except errors.TrustsvcError:
        raise
    except _PARSE_ERRORS as exc:
        raise errors.MalformedInput("not a well-formed time-stamp request") from exc
    return TimeStampRequest(
        hash_algorithm=hash_algorithm,
        hashed_message=bytes(hashed_message),
        policy=policy,
        nonce=nonce,
        cert_req=cert_req,
        message_imprint=message_imprint,
        der=der,
    )


def fail_info_for(error: BaseException) -> FailureInfo:
    """Return the PKIFailureInfo that answers ``error`` (anything unforeseen is systemFailure)."""
    if isinstance(error, errors.TrustsvcError):
        named = error.extra.get("fail_info")
        if named is not None:
            return FailureInfo(named)
        if isinstance(error, errors.UnsupportedAlgorithm):
            return FailureInfo.BAD_ALG
        if isinstance(error, errors.MalformedInput):
            return FailureInfo.BAD_DATA_FORMAT
        if isinstance(error, errors.InvalidInput):
            return FailureInfo.BAD_REQUEST
    return FailureInfo.SYSTEM_FAILURE


class _TimeStampResp(core.Sequence):
    # asn1crypto's TimeStampResp makes timeStampToken mandatory; RFC 3161 §2.4.2 has it OPTIONAL.
    _fields = [  # noqa: RUF012  -- asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def rejection(fail_info: FailureInfo | str, *, text: str | None = None) -> bytes:
    """Return a TimeStampResp with PKIStatus rejection and ``fail_info`` (no token).

    ``text`` replaces the standard statusString; never put request data or secrets in it.
    """
    try:
        chosen = FailureInfo(fail_info)
    except ValueError:
        raise errors.InvalidInput(f"{str(fail_info)[:40]!r} is not a PKIFailureInfo") from None
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text if text is not None else _FAILURE_TEXT[chosen]],
            "fail_info": {chosen.value},
        }
    )
    return _TimeStampResp({"status": status}).dump()


class TimeStampAuthority:
    """Makes RFC 3161 time-stamp tokens with ``signer``, whose certificate is ``tsa_cert``.

    ``tsa_cert`` must hold the signer's key and have the critical id-kp-timeStamping extended key usage and
    nothing else (RFC 3161 §2.3). ``accuracy`` is what the token states (None or zero: no accuracy field);
    ``chain`` are extra certificates (e.g. the issuing CA) added to the token next to the TSA certificate
    when the request asks for certificates.
    """

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        signer: Signer,
        *,
        policy_oid: str,
        accuracy: timedelta | None,
        include_tsa_name: bool = True,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        self._cert = x509.Certificate.load(tsa_cert.dump())
        self._chain = tuple(x509.Certificate.load(c.dump()) for c in chain)
        self._signer = signer
        cert = self._cert
        spki = cert["tbs_certificate"]["subject_public_key_info"]
        if bytes(signer.public_key_info["public_key"].contents) != bytes(spki["public_key"].contents):
            raise errors.InvalidInput("the signer's key is not the TSA certificate's key")
        eku = next(
            (e for e in cert["tbs_certificate"]["extensions"] if e["extn_id"].native == "extended_key_usage"),
            None,
        )
        if (
            eku is None
            or not eku["critical"].native
            or [p.dotted for p in eku["extn_value"].parsed] != [_TIME_STAMPING]
        ):
            raise errors.InvalidInput(
                "the TSA certificate must have id-kp-timeStamping as its only, critical, extended key usage"
            )
        if not isinstance(policy_oid, str) or not _OID_RE.match(policy_oid):
            raise errors.InvalidInput("the TSA policy must be a dotted OID")
        self._policy = policy_oid
        self._accuracy = _accuracy(accuracy)
        self._fraction_digits = _fraction_digits(accuracy)
        self._include_tsa_name = include_tsa_name
        self._digest = digest_algorithm(signer.algorithm)  # "sha256" | "sm3"
        # ESSCertIDv2: SHA-256 of the certificate, hash algorithm at its DEFAULT (see module docstring).
        self._signing_certificate = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": hashlib.sha256(cert.dump()).digest(),
                        "issuer_serial": {
                            "issuer": [x509.GeneralName(name="directory_name", value=cert.issuer)],
                            "serial_number": cert.serial_number,
                        },
                    }
                ]
            }
        )

    @property
    def policy_oid(self) -> str:
        return self._policy

    def check(self, request: TimeStampRequest) -> None:
        """Return None if this TSA will stamp ``request``; InvalidInput (unacceptedPolicy) otherwise."""
        if request.policy is not None and request.policy != self._policy:
            raise errors.InvalidInput(
                "the requested TSA policy is not this TSA's policy",
                fail_info=FailureInfo.UNACCEPTED_POLICY.value,
            )

    def stamp(self, request: TimeStampRequest, *, serial: int, now: datetime) -> bytes:
        """Return a granted DER TimeStampResp with a token over ``request``'s imprint at time ``now``.

        ``serial`` must be unique for this TSA (the caller's database allocates it), positive and at most 160
        bits. Raises InvalidInput for a request :meth:`check` refuses or a bad serial/time.
        """
        self.check(request)
        if isinstance(serial, bool) or not isinstance(serial, int) or not 0 < serial < _MAX_SERIAL:
            raise errors.InvalidInput("a time-stamp serial number must be positive and at most 160 bits")
        tst_info: dict[str, object] = {
            "version": "v1",
            "policy": self._policy,
            "message_imprint": tsp.MessageImprint.load(request.message_imprint),
            "serial_number": serial,
            "gen_time": core.GeneralizedTime(self._gen_time(now)),
        }
        if self._accuracy is not None:
            tst_info["accuracy"] = self._accuracy
        if request.nonce is not None:
            tst_info["nonce"] = request.nonce
        if self._include_tsa_name:
            tst_info["tsa"] = x509.GeneralName(name="directory_name", value=self._cert.subject)
        tst_der = tsp.TSTInfo(tst_info).dump()

        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [self._hash(tst_der)]},
                {"type": "signing_certificate_v2", "values": [self._signing_certificate]},
            ]
        )
        signed_attrs_der = signed_attrs.dump()  # the DER SET OF: what RFC 5652 §5.4 signs
        signature = self._signer.sign(signed_attrs_der)
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={"issuer": self._cert.issuer, "serial_number": self._cert.serial_number},
                ),
                "digest_algorithm": _digest_algorithm_id(self._digest),
                "signed_attrs": cms.CMSAttributes.load(signed_attrs_der),
                "signature_algorithm": signed_digest_algorithm(self._signer.algorithm),
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [_digest_algorithm_id(self._digest)],
            "encap_content_info": {"content_type": "tst_info", "content": tsp.TSTInfo.load(tst_der)},
            "signer_infos": [signer_info],
        }
        if request.cert_req:
            signed_data["certificates"] = [self._cert, *self._chain]
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
        response = _TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
        self._self_check(response, tst_der)
        return response

    def rejection(self, fail_info: FailureInfo | str, *, text: str | None = None) -> bytes:
        """Return a rejection TimeStampResp (see the module-level :func:`rejection`)."""
        return rejection(fail_info, text=text)

    def _hash(self, data: bytes) -> bytes:
        return sm3(data) if self._digest == "sm3" else hashlib.sha256(data).digest()

    def _gen_time(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise errors.InvalidInput("datetimes must be timezone-aware")
        if self._fraction_digits == 0:
            return utc_seconds(now)
        unit = 10 ** (6 - self._fraction_digits)
        moment = utc_seconds(now).replace(microsecond=now.microsecond)
        return moment.replace(microsecond=moment.microsecond // unit * unit)

    def _self_check(self, response: bytes, tst_der: bytes) -> None:
        """Return if the response, parsed back, carries ``tst_der``, its digest and a good signature."""
        token = _TimeStampResp.load(response)["time_stamp_token"]
        content = token["content"]
        signer_info = content["signer_infos"][0]
        e_content = content["encap_content_info"]["content"]
        signed_attrs = signer_info["signed_attrs"]
        digests = [a["values"][0].native for a in signed_attrs if a["type"].native == "message_digest"]
        if bytes(e_content.contents) != tst_der or digests != [self._hash(tst_der)]:
            raise errors.InvalidSignature("the time-stamp token just made does not carry its own digest")
        signed_der = cms.CMSAttributes.load(signed_attrs.untag().dump()).dump()
        try:
            verify(
                self._signer.public_key_info,
                self._signer.algorithm,
                signed_der,
                signer_info["signature"].native,
            )
        except errors.InvalidSignature as exc:
            raise errors.InvalidSignature("the time-stamp token signature just made does not verify") from exc


def _digest_algorithm_id(name: str) -> algos.DigestAlgorithm:
    """Return the AlgorithmIdentifier of digest ``name`` with absent parameters (RFC 5754 §2: MUST generate).

    Built from DER because asn1crypto insists on writing NULL parameters for the SHA-2 family.
    """
    oid = core.ObjectIdentifier(algos.DigestAlgorithmId.unmap(name)).dump()
    return algos.DigestAlgorithm.load(b"\x30" + bytes([len(oid)]) + oid)


def _accuracy(accuracy: timedelta | None) -> tsp.Accuracy | None:
    if accuracy is not None and not isinstance(accuracy, timedelta):
        raise errors.InvalidInput("accuracy must be a timedelta or None")
    if accuracy is None or accuracy == timedelta(0):
        return None
    if accuracy < timedelta(0):
        raise errors.InvalidInput("accuracy must not be negative")
    micros_total = accuracy // timedelta(microseconds=1)
    seconds, rest = divmod(micros_total, 1_000_000)
    millis, micros = divmod(rest, 1000)
    fields: dict[str, int] = {}
    if seconds:
        fields["seconds"] = seconds
    if millis:
        fields["millis"] = millis
    if micros:
        fields["micros"] = micros
    return tsp.Accuracy(fields)


def _fraction_digits(accuracy: timedelta | None) -> int:
    """Return how many fraction-of-second digits genTime needs: 0 unless the accuracy is below 1 s."""
    if accuracy is None or accuracy == timedelta(0) or accuracy >= timedelta(seconds=1):
        return 0
    return 3 if accuracy.microseconds % 1000 == 0 else 6
