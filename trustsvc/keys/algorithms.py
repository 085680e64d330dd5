"""Algorithm names and OIDs; teaches asn1crypto the Chinese commercial-cryptography (SM) OIDs.

After :func:`register_sm_oids` (run on import of :mod:`trustsvc.keys`) asn1crypto parses and dumps SM2
certificates, CSRs, CRLs, OCSP and GB/T 35275 CMS with these names:

=========================  ================================  ==========================================
OID                        asn1crypto class                  name
=========================  ================================  ==========================================
1.2.156.10197.1.301        ``keys.NamedCurve``               ``sm2p256v1`` (32-byte keys)
1.2.156.10197.1.301.1      ``algos.SignedDigestAlgorithmId`` ``sm2_sign`` (SM2-1; digest named elsewhere)
1.2.156.10197.1.301.2      ``algos.KeyExchangeAlgorithmId``  ``sm2_exchange`` (SM2-2)
1.2.156.10197.1.301.3      ``cms.KeyEncryptionAlgorithmId``  ``sm2_encrypt`` (SM2-3)
1.2.156.10197.1.401        ``algos.DigestAlgorithmId``       ``sm3``
1.2.156.10197.1.401.2      ``algos.HmacAlgorithmId``         ``sm3`` (HMAC-SM3, named as asn1crypto does)
1.2.156.10197.1.501        ``algos.SignedDigestAlgorithmId`` ``sm2_sm3``
1.2.156.10197.1.104[.n]    ``algos.EncryptionAlgorithmId``   ``sm4``, ``sm4_ecb`` ... ``sm4_xts``
1.2.156.10197.6.1.4.2.1-6  ``cms.ContentType``               ``gm_data`` ... ``gm_key_agreement_info``
=========================  ================================  ==========================================

``SignedDigestAlgorithm.signature_algo`` answers ``"sm2"`` for ``sm2_sm3`` and ``sm2_sign``, and ``hash_algo``
answers ``"sm3"`` for ``sm2_sm3`` (``sm2_sign`` names no digest, like ``ecdsa``, so ``hash_algo`` raises
``ValueError`` there as asn1crypto does). ``cms.ContentInfo`` parses ``gm_signed_data`` as ``SignedData`` and
``gm_data`` as ``OctetString``. Code that compares OIDs should use ``.dotted``, not the names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from asn1crypto import algos, cms, core, keys

from trustsvc import errors

__all__ = [
    "KeyAlgorithm",
    "SignatureAlgorithm",
    "digest_algorithm",
    "register_sm_oids",
    "signature_algorithm_of",
    "signed_digest_algorithm",
]


class KeyAlgorithm(StrEnum):
    """Key types trustsvc creates and accepts. ``RSA_3072`` is the RSA family (generated at 3072 bits)."""

    SM2 = "sm2"
    ECDSA_P256 = "ecdsa-p256"
    RSA_3072 = "rsa-3072"


class SignatureAlgorithm(StrEnum):
    """Signature schemes; each fixes key type, digest and padding."""

    SM2_SM3 = "sm2-sm3"
    ECDSA_SHA256 = "ecdsa-sha256"
    RSA_PKCS1_SHA256 = "rsa-pkcs1-sha256"
    RSA_PSS_SHA256 = "rsa-pss-sha256"


_SM2_CURVE = "1.2.156.10197.1.301"
_SM2_SIGN = "1.2.156.10197.1.301.1"
_SM2_EXCHANGE = "1.2.156.10197.1.301.2"
_SM2_ENCRYPT = "1.2.156.10197.1.301.3"
_SM3 = "1.2.156.10197.1.401"
_HMAC_SM3 = "1.2.156.10197.1.401.2"
_SM2_SM3 = "1.2.156.10197.1.501"
_SM4 = "1.2.156.10197.1.104"
_GM_CMS = "1.2.156.10197.6.1.4.2"

_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
_SHA256_RSA = "1.2.840.113549.1.1.11"
_RSASSA_PSS = "1.2.840.113549.1.1.10"

_PSS_SALT_LENGTH = 32

_SM4_MODES = {
    "": "sm4",
    ".1": "sm4_ecb",
    ".2": "sm4_cbc",
    ".3": "sm4_ofb",
    ".4": "sm4_cfb",
    ".7": "sm4_ctr",
    ".8": "sm4_gcm",
    ".9": "sm4_ccm",
    ".10": "sm4_xts",
}

_GM_CONTENT_TYPES = {
    ".1": "gm_data",
    ".2": "gm_signed_data",
    ".3": "gm_enveloped_data",
    ".4": "gm_signed_and_enveloped_data",
    ".5": "gm_encrypted_data",
    ".6": "gm_key_agreement_info",
}

# What asn1crypto's SignedDigestAlgorithm.signature_algo / .hash_algo should answer for the SM OIDs.
# asn1crypto keeps its own tables as locals of those properties, so they cannot be extended in place.
_SM_SIGNATURE_ALGO = {_SM2_SM3: "sm2", _SM2_SIGN: "sm2"}
_SM_HASH_ALGO = {_SM2_SM3: "sm3"}

_PATCH_MARK = "_trustsvc_sm_patched"


def _register_oid(cls: Any, dotted: str, name: str) -> None:
    cls._map[dotted] = name
    # Some classes ship an explicit reverse map; others build it lazily from _map on first unmap().
    if cls._reverse_map is not None:
        cls._reverse_map[name] = dotted


def _patch_signed_digest_algorithm() -> None:
    cls: Any = algos.SignedDigestAlgorithm
    if getattr(cls, _PATCH_MARK, False):
        return
    original_signature_algo: property = cls.signature_algo
    original_hash_algo: property = cls.hash_algo

    def signature_algo(self: Any) -> str:
        name = _SM_SIGNATURE_ALGO.get(self["algorithm"].dotted)
        return name if name is not None else original_signature_algo.fget(self)  # type: ignore[misc]

    def hash_algo(self: Any) -> str:
        name = _SM_HASH_ALGO.get(self["algorithm"].dotted)
        return name if name is not None else original_hash_algo.fget(self)  # type: ignore[misc]

    cls.signature_algo = property(signature_algo, doc=original_signature_algo.__doc__)
    cls.hash_algo = property(hash_algo, doc=original_hash_algo.__doc__)
    setattr(cls, _PATCH_MARK, True)


def register_sm_oids() -> None:
    """Register the SM OIDs with asn1crypto; safe to call any number of times."""
    if _SM2_CURVE not in keys.NamedCurve._map:
        keys.NamedCurve.register("sm2p256v1", _SM2_CURVE, 32)

    _register_oid(algos.DigestAlgorithmId, _SM3, "sm3")
    _register_oid(algos.HmacAlgorithmId, _HMAC_SM3, "sm3")
    _register_oid(algos.SignedDigestAlgorithmId, _SM2_SM3, "sm2_sm3")
    _register_oid(algos.SignedDigestAlgorithmId, _SM2_SIGN, "sm2_sign")
    _register_oid(algos.KeyExchangeAlgorithmId, _SM2_EXCHANGE, "sm2_exchange")
    _register_oid(cms.KeyEncryptionAlgorithmId, _SM2_ENCRYPT, "sm2_encrypt")

    for suffix, name in _SM4_MODES.items():
        _register_oid(algos.EncryptionAlgorithmId, _SM4 + suffix, name)
    for name in ("sm4_cbc", "sm4_ofb", "sm4_cfb"):
        algos.EncryptionAlgorithm._oid_specs[name] = core.OctetString  # the IV, as for AES

    for suffix, name in _GM_CONTENT_TYPES.items():
        _register_oid(cms.ContentType, _GM_CMS + suffix, name)
    cms.ContentInfo._oid_specs["gm_data"] = core.OctetString
    cms.ContentInfo._oid_specs["gm_signed_data"] = cms.SignedData
    cms.EncapsulatedContentInfo._oid_specs["gm_signed_data"] = cms.SignedData

    _patch_signed_digest_algorithm()


def signed_digest_algorithm(alg: SignatureAlgorithm) -> algos.SignedDigestAlgorithm:
    """Return the AlgorithmIdentifier we write for ``alg`` in certificates, CRLs, OCSP and CMS."""
    alg = _coerce(alg)
    if alg is SignatureAlgorithm.SM2_SM3:
        # RFC 5758 style, as OpenSSL and GmSSL write it: no parameters (not even NULL).
        return algos.SignedDigestAlgorithm({"algorithm": _SM2_SM3})
    if alg is SignatureAlgorithm.ECDSA_SHA256:
        return algos.SignedDigestAlgorithm({"algorithm": _ECDSA_SHA256})
    if alg is SignatureAlgorithm.RSA_PKCS1_SHA256:
        return algos.SignedDigestAlgorithm({"algorithm": _SHA256_RSA, "parameters": core.Null()})
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": _RSASSA_PSS,
            "parameters": algos.RSASSAPSSParams(
                {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                    "salt_length": _PSS_SALT_LENGTH,
                }
            ),
        }
    )


def signature_algorithm_of(ident: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
    """Return the SignatureAlgorithm an AlgorithmIdentifier names; UnsupportedAlgorithm for anything else.

    SM2 is recognised as 1.2.156.10197.1.501 (SM2-with-SM3) and as 1.2.156.10197.1.301.1 (SM2-1, the
    GB/T 35275 digestEncryptionAlgorithm), each with absent or NULL parameters; both forms occur in the field.
    """
    try:
        oid = ident["algorithm"].dotted
        params = ident["parameters"]
        absent_or_null = isinstance(params, core.Void) or params.dump() == b"\x05\x00"
        if oid in (_SM2_SM3, _SM2_SIGN) and absent_or_null:
            return SignatureAlgorithm.SM2_SM3
        if oid == _ECDSA_SHA256 and absent_or_null:
            return SignatureAlgorithm.ECDSA_SHA256
        if oid == _SHA256_RSA and absent_or_null:
            return SignatureAlgorithm.RSA_PKCS1_SHA256
        if oid == _RSASSA_PSS and _is_our_pss(params):
            return SignatureAlgorithm.RSA_PSS_SHA256
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.MalformedInput("signature AlgorithmIdentifier could not be parsed") from exc
    raise errors.UnsupportedAlgorithm(f"signature algorithm {oid} with these parameters is not supported")


def _is_our_pss(params: Any) -> bool:
    if isinstance(params, core.Void):
        return False
    if not isinstance(params, algos.RSASSAPSSParams):
        params = algos.RSASSAPSSParams.load(params.dump())
    mgf = params["mask_gen_algorithm"]
    return bool(
        params["hash_algorithm"]["algorithm"].dotted == algos.DigestAlgorithmId.unmap("sha256")
        and mgf["algorithm"].native == "mgf1"
        and mgf["parameters"]["algorithm"].native == "sha256"
        and params["salt_length"].native == _PSS_SALT_LENGTH
        and params["trailer_field"].native == "trailer_field_bc"
    )


def digest_algorithm(alg: SignatureAlgorithm) -> str:
    """Return the asn1crypto name of the digest ``alg`` hashes with: ``"sm3"`` or ``"sha256"``."""
    return "sm3" if _coerce(alg) is SignatureAlgorithm.SM2_SM3 else "sha256"


def _coerce(alg: SignatureAlgorithm | str) -> SignatureAlgorithm:
    try:
        return SignatureAlgorithm(alg)
    except ValueError:
        raise errors.UnsupportedAlgorithm(f"unknown signature algorithm {str(alg)[:40]!r}") from None
