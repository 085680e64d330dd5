"""A pyHanko ``Signer`` over trustsvc's :class:`~trustsvc.keys.signer.Signer`: SM2, ECDSA and RSA PDF seals.

pyHanko grows by plug-ins (STYLE.md §2): :class:`PdfCmsSigner` subclasses ``pyhanko.sign.signers.Signer`` and
implements its two documented extension points, nothing else:

* ``async_sign_raw(data, digest_algorithm)`` hands the bytes pyHanko wants signed (the DER ``SET OF`` signed
  attributes) to our ``Signer.sign``. The private key never leaves the key store (software or HSM): pyHanko
  sees a certificate and a ``sign(data)`` callable, nothing more.
* ``signed_attrs(...)`` lets pyHanko compute its signed attributes (contentType, messageDigest, signingTime,
  signingCertificateV2, CMSAlgorithmProtection, adbe-revocationInfoArchival — whatever the subfilter and level
  call for) and appends one of ours: the GB/T 38540 seal (below).

Algorithms (decisions, each with its reason):

* **SM2**: digest SM3 (1.2.156.10197.1.401), signatureAlgorithm **SM2-1 (1.2.156.10197.1.301.1)**, no
  parameters, SM2 signature with the GM/T 0009 default user ID ``1234567812345678`` over the DER ``SET OF`` of
  the signed attributes. 301.1 is what real GB/T 35275 SignedData carries (spec/standards.md §2.3, §5: the
  ofdpdfsigner/MuPDF PDF seals and the rail e-ticket OFD). The alternative, SM2-with-SM3
  (1.2.156.10197.1.501), is what ``signed_digest_algorithm`` writes into X.509/CRL/OCSP; both are accepted by
  :mod:`trustsvc.pdf.sm2_validation` (pyHanko validation) and by :func:`trustsvc.keys.algorithms
  .signature_algorithm_of`, and the OpenSSL 3.0 CLI cannot check a CMS SM2 signature under either OID
  (``openssl cms -verify`` has no way to pass the user ID and uses an empty one) — only the raw
  ``openssl dgst -sm3 -verify -sigopt distid:1234567812345678`` over the re-tagged attributes works, and that
  ignores the OID. So the OID follows the Chinese practice. Pass ``sm2_signature_oid=SM2_SM3_OID`` to write
  501 instead.
* **ECDSA P-256 / RSA**: SHA-256 and the AlgorithmIdentifier :func:`~trustsvc.keys.algorithms
  .signed_digest_algorithm` gives (ecdsa-with-SHA256; sha256WithRSAEncryption; RSASSA-PSS with SHA-256,
  MGF1-SHA-256, salt 32) — the ordinary pyHanko/PAdES path, only the key is ours.

The seal attribute. With ``seal_der`` given, the SIGNED attribute **id-aa-trustsvc-eSeal
(1.3.6.1.4.1.32473.3.1)** carries the DER ``SESeal`` (GB/T 38540) as its single value, byte for byte. Signed,
so the binding "this signature was made under this seal" is covered by the signer's signature and cannot be
swapped afterwards; a verifier parses it (:func:`seal_from_signer_info`), checks the maker's signature, that
the signer certificate is listed in the seal and that the seal was valid at signing time, and reads the esID.
The OID sits under the documentation arc 1.3.6.1.4.1.32473 (RFC 5612) that :mod:`trustsvc.ca.profiles`
uses for its placeholders (``.1.x`` policies, ``.2.1`` seal-making purpose); ``.3.x`` is this project's
CMS attributes. A deployment that owns an arc should move it there — one constant here, and verifiers
should then accept both. UNVERIFIED: whether the national platform's "C0119 统一电子印章 签章技术要求"
defines an attribute for this (spec §5); if it does, that OID should replace ours.
The attribute is written for ECDSA and RSA seals too: the seal binding is what makes a signature an
electronic seal, whatever the algorithm, and an unknown signed attribute is ignored by CMS/CAdES verifiers
(RFC 5652 §5.3; ETSI EN 319 122-1 allows further signed attributes), so pdfsig, pyHanko and others still
validate the signature.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asn1crypto import algos, cms, core, x509
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from trustsvc import errors
from trustsvc.keys.algorithms import SignatureAlgorithm, digest_algorithm, signed_digest_algorithm
from trustsvc.keys.signer import Signer

__all__ = [
    "SEAL_ATTRIBUTE_OID",
    "SM2_SIGN_OID",
    "SM2_SM3_OID",
    "PdfCmsSigner",
    "seal_attribute",
    "seal_from_signer_info",
]

#: id-aa-trustsvc-eSeal: signed CMS attribute whose single value is a DER GB/T 38540 ``SESeal``.
SEAL_ATTRIBUTE_OID = "1.3.6.1.4.1.32473.3.1"
#: SM2-1, the GB/T 35275 digestEncryptionAlgorithm; what trustsvc writes into PDF SignerInfos.
SM2_SIGN_OID = "1.2.156.10197.1.301.1"
#: SM2-with-SM3, as in certificates; accepted on validation, written on request.
SM2_SM3_OID = "1.2.156.10197.1.501"

_MAX_SEAL_SIZE = 1024 * 1024  # a seal holds a picture and certificates; real ones are a few tens of KiB


class PdfCmsSigner(signers.Signer):
    """A pyHanko signer that signs with a trustsvc :class:`~trustsvc.keys.signer.Signer`.

    ``signing_cert`` must hold ``signer``'s public key; ``chain`` (issuing CAs, optionally the root) goes into
    the CMS ``certificates`` so validators can build the path. ``seal_der`` (optional) is put into the signed
    attribute :data:`SEAL_ATTRIBUTE_OID`; it is carried as given — checking it against the signer is the
    caller's job (:func:`trustsvc.pdf.sealing.seal_pdf` does). Raises ``InvalidInput`` when the certificate
    does not fit the key, ``UnsupportedAlgorithm`` for a bad ``sm2_signature_oid``.
    """

    def __init__(
        self,
        signer: Signer,
        signing_cert: x509.Certificate,
        chain: Iterable[x509.Certificate] = (),
        *,
        seal_der: bytes | None = None,
        sm2_signature_oid: str = SM2_SIGN_OID,
        embed_roots: bool = True,
    ) -> None:
        algorithm = SignatureAlgorithm(signer.algorithm)
        cert_key = signing_cert.public_key["public_key"].dump()
        if cert_key != signer.public_key_info["public_key"].dump():
            raise errors.InvalidInput("the signer's key is not the key of the signer certificate")
        if algorithm is SignatureAlgorithm.SM2_SM3:
            if sm2_signature_oid not in (SM2_SIGN_OID, SM2_SM3_OID):
                raise errors.UnsupportedAlgorithm(
                    f"an SM2 PDF signature is written as {SM2_SIGN_OID} or {SM2_SM3_OID}"
                )
            mechanism = algos.SignedDigestAlgorithm({"algorithm": sm2_signature_oid})
        else:
            mechanism = signed_digest_algorithm(algorithm)
        if seal_der is not None and (
            not isinstance(seal_der, bytes) or not 0 < len(seal_der) <= _MAX_SEAL_SIZE
        ):
            raise errors.InvalidInput("seal_der must be the DER SESeal (non-empty bytes, at most 1 MiB)")
        self._signer = signer
        self._algorithm = algorithm
        self._digest = digest_algorithm(algorithm)
        self._seal_der = seal_der
        self._placeholder_size = _max_signature_size(signer)
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert, *chain]),
            signature_mechanism=mechanism,
            embed_roots=embed_roots,
        )

    @property
    def algorithm(self) -> SignatureAlgorithm:
        """The trustsvc signature algorithm (fixes the key type and the digest)."""
        return self._algorithm

    @property
    def digest_algorithm(self) -> str:
        """The message digest every signature of this signer uses: ``"sm3"`` or ``"sha256"``."""
        return self._digest

    @property
    def seal_der(self) -> bytes | None:
        return self._seal_der

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        """Return ``signer.sign(data)``; a maximum-size placeholder in pyHanko's dry run (size estimate)."""
        if digest_algorithm != self._digest:
            # pyHanko turns SigningError into its own failure; seal_pdf maps it to InvalidInput.
            raise SigningError(f"{self._algorithm.value} signs with {self._digest}, not {digest_algorithm}")
        if dry_run:
            return bytes(self._placeholder_size)
        return self._signer.sign(data)

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings: Any = None,
        content_type: str = "data",
        use_pades: bool = False,
        timestamper: Any = None,
        dry_run: bool = False,
        is_pdf_sig: bool = True,
    ) -> cms.CMSAttributes:
        """Return pyHanko's signed attributes, plus the seal attribute when a seal was given."""
        attrs = await super().signed_attrs(
            data_digest,
            digest_algorithm,
            attr_settings=attr_settings,
            content_type=content_type,
            use_pades=use_pades,
            timestamper=timestamper,
            dry_run=dry_run,
            is_pdf_sig=is_pdf_sig,
        )
        if self._seal_der is not None:
            attrs.append(seal_attribute(self._seal_der))  # in place: a copy would re-encode every attribute
        return attrs


def seal_attribute(seal_der: bytes) -> cms.CMSAttribute:
    """Return the CMS attribute id-aa-trustsvc-eSeal holding ``seal_der`` (one value, byte for byte)."""
    return cms.CMSAttribute({"type": SEAL_ATTRIBUTE_OID, "values": [core.Any.load(seal_der)]})


def seal_from_signer_info(signer_info: cms.SignerInfo) -> bytes | None:
    """Return the DER ``SESeal`` in ``signer_info``'s signed attributes, or None when there is none.

    Raises ``MalformedInput`` when the attribute occurs more than once or does not hold exactly one value.
    The bytes are returned as stored; parse them with :func:`trustsvc.seal.ses.parse_seal`.
    """
    try:
        attrs = signer_info["signed_attrs"]
        found = [a for a in attrs if a["type"].dotted == SEAL_ATTRIBUTE_OID]
        if not found:
            return None
        if len(found) != 1 or len(found[0]["values"]) != 1:
            raise errors.MalformedInput("the seal attribute must occur once, with one value")
        return bytes(found[0]["values"][0].dump())
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise errors.MalformedInput("the signed attributes could not be read") from exc


def _max_signature_size(signer: Signer) -> int:
    """Return the largest signature ``signer`` can produce, for pyHanko's dry-run size estimate."""
    info = signer.public_key_info
    if info.algorithm == "rsa":
        return (info.bit_size + 7) // 8
    # SM2 / ECDSA: SEQUENCE { INTEGER r, INTEGER s }, each up to the order's size plus a sign octet.
    n = (info.bit_size + 7) // 8 + 1
    return 2 + 2 * (2 + n)
