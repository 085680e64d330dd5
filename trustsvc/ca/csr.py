"""PKCS#10 certificate requests: parse into :class:`CsrInfo` and check proof of possession.

A CSR is untrusted input. What trustsvc takes from it is the public key (after the request's signature
proves the requester holds the private key) and, after the profile's checks, subject values; requested
extensions are read and returned for display and auditing but are never copied into a certificate.

Proof of possession is the CSR's own signature over the DER ``CertificationRequestInfo``:

* SM2: SM2-with-SM3 (1.2.156.10197.1.501) with the GM/T 0009 default user ID ``1234567812345678``, the ID
  every GM-conformant tool uses (``openssl req -new -sm3 -sigopt distid:1234567812345678``). OpenSSL 3.0
  signs with an *empty* ID when ``-sigopt distid`` is left out; such a CSR is refused with a message
  saying so, since certificates we issue and everything downstream use the default ID.
* ECDSA P-256 with SHA-256; RSA (2048 bits or more) with PKCS#1 v1.5 or PSS and SHA-256.

Failures: bytes that are not a CSR → :class:`~trustsvc.errors.MalformedInput`; a key or signature
algorithm we do not accept → :class:`~trustsvc.errors.UnsupportedAlgorithm`; a signature that does not
verify → :class:`~trustsvc.errors.InvalidSignature` ("proof of possession failed ...").
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import csr, keys, pem, x509

from trustsvc.errors import InvalidSignature, MalformedInput, PayloadTooLarge
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.encoding import key_algorithm_of, load_public_key
from trustsvc.keys.signer import verify

__all__ = ["MAX_CSR_SIZE", "CsrInfo", "parse_csr", "verify_proof_of_possession"]

#: Largest CSR accepted, PEM or DER. Real requests are well under 4 KiB.
MAX_CSR_SIZE = 64 * 1024

_PEM_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")

_COMPATIBLE: dict[KeyAlgorithm, frozenset[SignatureAlgorithm]] = {
    KeyAlgorithm.SM2: frozenset({SignatureAlgorithm.SM2_SM3}),
    KeyAlgorithm.ECDSA_P256: frozenset({SignatureAlgorithm.ECDSA_SHA256}),
    KeyAlgorithm.RSA_3072: frozenset(
        {SignatureAlgorithm.RSA_PKCS1_SHA256, SignatureAlgorithm.RSA_PSS_SHA256}
    ),
}


@dataclass(frozen=True)
class CsrInfo:
    """What a parsed CSR says. ``requested_extensions`` are the requester's wishes, not to be trusted."""

    subject: x509.Name
    public_key_info: keys.PublicKeyInfo
    key_algorithm: KeyAlgorithm
    signature_algorithm: SignatureAlgorithm
    requested_extensions: tuple[x509.Extension, ...]
    der: bytes
    signed_bytes: bytes  # the DER CertificationRequestInfo, exactly as received
    signature: bytes


def parse_csr(data: bytes, *, check_pop: bool = True) -> CsrInfo:
    """Return the CSR in ``data`` (PEM or DER); its proof of possession is verified unless ``check_pop``."""
    if len(data) > MAX_CSR_SIZE:
        raise PayloadTooLarge(f"a CSR is limited to {MAX_CSR_SIZE} bytes")
    der = _unarmor(data)
    try:
        request = csr.CertificationRequest.load(der, strict=True)
        info = request["certification_request_info"]
        if info["version"].native != "v1":
            raise MalformedInput("CSR version must be v1 (0)")
        subject = x509.Name.load(info["subject"].dump())
        subject.native  # noqa: B018  -- force a full parse of the name now, not at first use
        spki = keys.PublicKeyInfo.load(info["subject_pk_info"].dump())
        requested = _requested_extensions(info)
        signed_bytes = info.dump()
        signature = request["signature"].native
        algorithm_id = request["signature_algorithm"]
        algorithm_id.native  # noqa: B018
    except MalformedInput:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise MalformedInput("not a well-formed PKCS#10 certificate request") from exc
    if not isinstance(signature, bytes) or not signature:
        raise MalformedInput("the CSR carries no signature")

    signature_algorithm = signature_algorithm_of(algorithm_id)
    key_algorithm = key_algorithm_of(load_public_key(spki.dump()))
    result = CsrInfo(
        subject=subject,
        public_key_info=spki,
        key_algorithm=key_algorithm,
        signature_algorithm=signature_algorithm,
        requested_extensions=requested,
        der=der,
        signed_bytes=signed_bytes,
        signature=signature,
    )
    if check_pop:
        verify_proof_of_possession(result)
    return result


def verify_proof_of_possession(info: CsrInfo) -> None:
    """Return None when the CSR's signature verifies under its own public key; raise InvalidSignature."""
    if info.signature_algorithm not in _COMPATIBLE[info.key_algorithm]:
        raise InvalidSignature(
            f"proof of possession failed: a {info.key_algorithm} key cannot make a "
            f"{info.signature_algorithm} signature"
        )
    try:
        verify(info.public_key_info, info.signature_algorithm, info.signed_bytes, info.signature)
    except (InvalidSignature, MalformedInput) as exc:
        if info.key_algorithm is KeyAlgorithm.SM2 and _verifies_with_empty_sm2_id(info):
            raise InvalidSignature(
                "proof of possession failed: the CSR was signed with an empty SM2 user ID; sign it with "
                "the default ID 1234567812345678 (openssl req ... -sm3 -sigopt distid:1234567812345678)"
            ) from exc
        raise InvalidSignature("proof of possession failed") from exc


def _verifies_with_empty_sm2_id(info: CsrInfo) -> bool:
    try:
        verify(info.public_key_info, info.signature_algorithm, info.signed_bytes, info.signature, uid=b"")
    except (InvalidSignature, MalformedInput):
        return False
    return True


def _unarmor(data: bytes) -> bytes:
    if not isinstance(data, bytes):
        raise MalformedInput("a CSR must be given as bytes")
    if pem.detect(data):
        try:
            label, _headers, der = pem.unarmor(data)
        except (ValueError, TypeError) as exc:
            raise MalformedInput("the CSR PEM block is damaged") from exc
        if label not in _PEM_LABELS:
            raise MalformedInput(f"expected a CERTIFICATE REQUEST PEM block, found {label!r}")
        return bytes(der)
    return data


def _requested_extensions(info: csr.CertificationRequestInfo) -> tuple[x509.Extension, ...]:
    requested: list[x509.Extension] = []
    for attribute in info["attributes"]:
        if attribute["type"].native != "extension_request":
            attribute.native  # noqa: B018  -- still parse it: a damaged attribute is a damaged CSR
            continue
        for extensions in attribute["values"]:
            for extension in extensions:
                extension.native  # noqa: B018
                requested.append(x509.Extension.load(extension.dump()))
    return tuple(requested)
