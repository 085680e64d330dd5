"""SM2-with-SM3 for pyHanko: path validation (certificates, CRLs, OCSP) and CMS/PDF signature validation.

pyHanko grows by plug-ins (STYLE.md §2); SM2 goes in at its documented extension points, not by copying its
code. Everything is wired by :func:`sm2_validation_context`:

1. :class:`SM2SignatureValidator` — a ``pyhanko_certvalidator.sig_validate.SignatureValidator``, installed
   with ``ValidationContext(signature_validator=...)``. Every signature check reads
   ``ValidationContext.sig_validator`` and calls its ``validate_signature``: certificates
   (``validate.PathValidationState.check_certificate_signature``), CRLs
   (``revinfo.validate_crl._verify_crl_signature``), OCSP responses
   (``revinfo.validate_ocsp._verify_ocsp_signature``) and CMS SignerInfos in pyHanko
   (``pyhanko.sign.validation.generic_cms.validate_sig_integrity``, also under PDF validation). The default
   validator ends in ``sig_validate._validate_raw``, which loads the key with ``cryptography`` — no SM2
   curve there, so it raises ``cryptography.exceptions.UnsupportedAlgorithm`` on any SM2 key.
2. :class:`SM2AlgorithmPolicy` — a ``pyhanko.sign.validation.utils.CMSAlgorithmUsagePolicy``, installed
   with ``ValidationContext(algorithm_usage_policy=...)``. certvalidator asks it before each certificate
   signature; pyHanko's ``generic_cms.cms_basic_validation`` takes it as-is
   (``CMSAlgorithmUsagePolicy.lift_policy``) for its CMS checks (``_enforce_algorithm_usage``). It allows
   SM2/SM3 explicitly (whatever the base policy thinks of unknown algorithms) and requires SM3 as the
   message digest of an SM2 signature: pyHanko's own ``digest_combination_allowed`` cannot tell for
   ``sm2_sign`` (1.2.156.10197.1.301.1), which names no digest.
3. SM3 digests need no hook. pyHanko hashes content, ByteRanges and signed attributes by asn1crypto name
   through ``pyhanko_certvalidator.util.get_pyca_cryptography_hash`` (``getattr(hashes, name.upper())``),
   and ``cryptography`` has ``hashes.SM3``. What it needs is that 1.2.156.10197.1.401 parses as ``"sm3"``:
   that is :func:`trustsvc.keys.algorithms.register_sm_oids`, run on import of :mod:`trustsvc.keys`
   (imported here).

One gap has no hook and is closed by :func:`_patch_ocsp_nocheck_responder_context` (see there): when an
OCSP response is signed by a delegated responder whose certificate carries id-pkix-ocsp-nocheck,
certvalidator checks that certificate in a fresh ``ValidationContext`` that does not inherit the signature
validator.

SM2 always uses the GM/T 0009 default user ID ``1234567812345678`` here (spec/standards.md §1.3, §1.6):
every real certificate, CRL, OCSP response and CMS signature uses it. OpenSSL's empty default is never tried.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from asn1crypto import algos, crl, keys, ocsp, x509
from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from pyhanko.sign.validation.utils import DEFAULT_WEAK_HASH_ALGORITHMS, CMSAlgorithmUsagePolicy
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.policy_decl import (
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    DisallowWeakAlgorithmsPolicy,
)
from pyhanko_certvalidator.revinfo import validate_ocsp
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from trustsvc import errors
from trustsvc.keys.algorithms import SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify

__all__ = ["SM2AlgorithmPolicy", "SM2SignatureValidator", "sm2_validation_context"]

_SM2_SM3 = "1.2.156.10197.1.501"  # SM2-with-SM3 (X.509, CRL, OCSP; also seen in CMS)
_SM2_SIGN = "1.2.156.10197.1.301.1"  # SM2-1, the GB/T 35275 digestEncryptionAlgorithm; digest named beside it
_SM2_SIGNATURE_OIDS = frozenset({_SM2_SM3, _SM2_SIGN})
_SM3 = "1.2.156.10197.1.401"


class SM2SignatureValidator(DefaultSignatureValidator):
    """Verifies SM2-with-SM3 signatures (default user ID); every other algorithm goes to pyHanko's default.

    Plugs into ``SignatureValidator.validate_signature`` (pyhanko_certvalidator.sig_validate), which
    certvalidator and pyHanko call with the raw signature value, the signed bytes (TBSCertificate,
    TBSCertList, ResponseData, or the signed attributes re-tagged as SET OF) and the signer's public key.
    Failures are raised as ``cryptography.exceptions.InvalidSignature`` (or its subclass
    ``AlgorithmNotSupported``), the only exception those callers turn into a validation result.

    ``sm2_sign`` names no digest: it is accepted with SM3 named beside it (the CMS digestAlgorithm, passed as
    ``context.contextual_md_algorithm``) or with nothing named (X.509, CRL, OCSP), since SM2 is defined over
    SM3 only. A precomputed digest (CMS without signed attributes) cannot be verified: SM2 hashes
    SM3(Z_A || message) itself.
    """

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        """Return if ``signature`` verifies; raise InvalidSignature (from cryptography) if it does not."""
        if signature_algorithm["algorithm"].dotted not in _SM2_SIGNATURE_OIDS:
            super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
            return
        try:
            signature_algorithm_of(signature_algorithm)  # parameters must be absent or NULL
        except errors.InvalidInput as exc:
            raise AlgorithmNotSupported(exc.detail) from exc
        if context.prehashed:
            # CMS without signed attributes hands over only H(content); SM2 signs SM3(Z_A || content).
            raise AlgorithmNotSupported("an SM2 signature cannot be verified from a precomputed digest")
        digest = context.contextual_md_algorithm
        if signature_algorithm["algorithm"].dotted == _SM2_SIGN and digest not in (None, "sm3"):
            raise AlgorithmNotSupported(f"SM2 signs with SM3, not {digest}")
        try:
            verify(public_key_info, SignatureAlgorithm.SM2_SM3, signed_data, signature)
        except errors.InvalidSignature as exc:
            raise _CryptographyInvalidSignature(exc.detail) from exc


class SM2AlgorithmPolicy(CMSAlgorithmUsagePolicy):
    """Allows SM2 signatures with SM3 and the SM3 digest; asks ``base`` about every other algorithm.

    Implements ``AlgorithmUsagePolicy.signature_algorithm_allowed``/``digest_algorithm_allowed`` (consulted by
    certvalidator and by pyHanko's ``generic_cms._enforce_algorithm_usage``) and
    ``CMSAlgorithmUsagePolicy.digest_combination_allowed`` (pyHanko's check that the message digest matches
    the signature's digest). ``base`` defaults to pyHanko's default policy (everything except MD2, MD5,
    SHA-1 and RSA under 2048 bits).
    """

    def __init__(self, base: AlgorithmUsagePolicy | None = None) -> None:
        self._base = CMSAlgorithmUsagePolicy.lift_policy(
            base if base is not None else DisallowWeakAlgorithmsPolicy(DEFAULT_WEAK_HASH_ALGORITHMS)
        )

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime | None
    ) -> AlgorithmUsageConstraint:
        if algo["algorithm"].dotted == _SM3:
            return AlgorithmUsageConstraint(allowed=True)
        return self._base.digest_algorithm_allowed(algo, moment)

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime | None,
        public_key: keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        if algo["algorithm"].dotted not in _SM2_SIGNATURE_OIDS:
            return self._base.signature_algorithm_allowed(algo, moment, public_key)
        try:
            signature_algorithm_of(algo)
        except errors.InvalidInput as exc:
            return AlgorithmUsageConstraint(allowed=False, failure_reason=exc.detail)
        return AlgorithmUsageConstraint(allowed=True)

    def digest_combination_allowed(
        self,
        signature_algo: algos.SignedDigestAlgorithm,
        message_digest_algo: algos.DigestAlgorithm,
        moment: datetime | None,
    ) -> AlgorithmUsageConstraint:
        if signature_algo["algorithm"].dotted not in _SM2_SIGNATURE_OIDS:
            return self._base.digest_combination_allowed(signature_algo, message_digest_algo, moment)
        if message_digest_algo["algorithm"].dotted == _SM3:
            return AlgorithmUsageConstraint(allowed=True)
        return AlgorithmUsageConstraint(
            allowed=False,
            failure_reason=(
                f"an SM2 signature needs an SM3 message digest, not {message_digest_algo['algorithm'].native}"
            ),
        )


def sm2_validation_context(
    *,
    trust_roots: Iterable[x509.Certificate],
    other_certs: Iterable[x509.Certificate] = (),
    crls: Iterable[crl.CertificateList | bytes] = (),
    ocsps: Iterable[ocsp.OCSPResponse | bytes] = (),
    allow_fetching: bool = False,
    moment: datetime | None = None,
    revocation_mode: str = "hard-fail",
    base_policy: AlgorithmUsagePolicy | None = None,
) -> ValidationContext:
    """Return a pyhanko-certvalidator ValidationContext that validates SM2 (and everything pyHanko validates).

    Pass it wherever pyHanko takes a ``ValidationContext``: ``CertificateValidator``,
    ``async_validate_detached_cms``, ``async_validate_pdf_signature(signer_validation_context=...)``.

    ``trust_roots`` are the only anchors (never the operating system's TLS list). ``moment`` fixes the
    validation time (default: now); for a past moment pass the revocation data in ``crls``/``ocsps``, since
    fetched answers speak about the present (certvalidator documents the two as exclusive).
    ``revocation_mode`` is certvalidator's: ``"hard-fail"`` (the default here: a certificate that names a
    CRL or OCSP location must have its status checked), ``"require"``, ``"soft-fail"`` or ``"none"``.
    ``base_policy`` decides about algorithms other than SM2/SM3.
    """
    return ValidationContext(
        trust_roots=list(trust_roots),
        other_certs=list(other_certs),
        crls=list(crls),
        ocsps=list(ocsps),
        allow_fetching=allow_fetching,
        revocation_mode=revocation_mode,
        algorithm_usage_policy=SM2AlgorithmPolicy(base_policy),
        signature_validator=SM2SignatureValidator(),
        moment=moment,
    )


_PATCHED_MARK = "_trustsvc_sm2_responder_context"


def _patch_ocsp_nocheck_responder_context() -> None:
    """Make the context certvalidator builds for ocsp-nocheck responders verify SM2; idempotent.

    Why a patch: ``pyhanko_certvalidator.revinfo.validate_ocsp._validate_delegated_ocsp_provenance`` (0.33)
    checks a delegated responder certificate that has id-pkix-ocsp-nocheck in a *new* ``ValidationContext``
    made from the caller's trust anchor, moment, time tolerance and algorithm policy — but not its
    ``sig_validator``. That context falls back to ``DefaultSignatureValidator``, which cannot load an SM2 key,
    so every SM2 OCSP response from a delegated responder (our ``ocsp-responder`` profile has nocheck) ends
    the whole validation with ``cryptography.exceptions.UnsupportedAlgorithm``. No parameter reaches that
    constructor, so there is no hook.

    The narrowest change: the module-level name ``ValidationContext`` *in validate_ocsp only* becomes a
    subclass whose ``signature_validator`` defaults to :class:`SM2SignatureValidator` (which defers every
    non-SM2 algorithm to the default, so nothing else changes). Contexts built anywhere else are untouched.
    ``tests/test_sm2_validation.py`` checks the upstream code still has this shape and fails once it passes
    the validator itself, so this can then be deleted. Upstream fix: pass
    ``signature_validator=validation_context.sig_validator`` in that constructor call.
    """
    current: Any = validate_ocsp.ValidationContext
    if getattr(current, _PATCHED_MARK, False):
        return

    class _ResponderValidationContext(current):
        def __init__(self, *args: Any, signature_validator: Any = None, **kwargs: Any) -> None:
            super().__init__(
                *args, signature_validator=signature_validator or SM2SignatureValidator(), **kwargs
            )

    setattr(_ResponderValidationContext, _PATCHED_MARK, True)
    validate_ocsp.ValidationContext = _ResponderValidationContext  # type: ignore[misc]


_patch_ocsp_nocheck_responder_context()
