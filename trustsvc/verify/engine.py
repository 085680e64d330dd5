"""The verification engine: a document in, a :class:`~trustsvc.verify.result.VerificationResult` out.

:meth:`VerificationEngine.verify` recognises the format (PDF, OFD, or a detached GB/T 38540 ``SES_Signature``
DER; anything else is :class:`~trustsvc.errors.UnsupportedMediaType`), then runs, for every signature, a
pipeline of small checks (STYLE.md §2), each a function returning a :class:`CheckResult`:

* integrity — OFD: every check of :func:`trustsvc.ofd.verification.check_ofd_signatures` (References,
  dataHash, signature value, format, ...); PDF: pyHanko ``intact`` and ``valid`` (§7.3 b, g). Failure:
  INVALID HASH_FAILURE / SIG_CRYPTO_FAILURE / FORMAT_FAILURE.
* ``signer_chain`` — the signer certificate chains to a ``signer-ca`` anchor (pyhanko-certvalidator with
  the SM2 plug-in) at the signing time (§7.3 e, f). No chain: INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND;
  expired / not yet valid at the signing time: INVALID EXPIRED / NOT_YET_VALID.
* ``signer_revocation`` — every certificate of the path below the anchor: ours from our database, others'
  by OCSP then CRL. Revoked at or before the signing time: INVALID REVOKED. Revoked after: VALID with a
  warning when a time-stamp proves the signing time or in lenient mode, else INDETERMINATE REVOKED_NO_POE
  (decision, :class:`VerificationPolicy`). On hold: INDETERMINATE TRY_LATER. Unreachable: the revocation data
  the document carries (B-LT: DSS, adbe-revocationInfoArchival), verified like fetched answers, when a
  time-stamp proves the signing time and it was current then or issued later (docs/VERIFY-REPORT.md); else
  INDETERMINATE TRY_LATER.
* ``seal_signature`` — the maker's signature over the seal info (§6.3 step 2): INVALID SIG_CRYPTO_FAILURE.
* ``seal_maker_chain`` — the maker certificate is, or chains to, a ``seal-maker`` anchor (§6.3 step 3):
  INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND.
* ``signer_listed`` — the signer certificate is in the seal's list (§7.3 c): INVALID SIG_CONSTRAINTS_FAILURE.
* ``seal_validity`` — the seal's validity period contains the signing time (§7.3 d): INVALID
  SIG_CONSTRAINTS_FAILURE.
* ``seal_status`` — ours: the registry; others: the maker territory's seal-status URL from the trust store
  (a signed answer, its signer the maker certificate or a certificate of the maker's CA chaining to that
  territory's anchors). Suspended/revoked before the signing time: INVALID SIG_CONSTRAINTS_FAILURE; after:
  VALID with a warning; unreachable: INDETERMINATE TRY_LATER; no status service known: skipped with a
  warning (strict mode or ``require_seal_status``: INDETERMINATE TRY_LATER).
* ``timestamp`` — token signature and TSA chain to a ``tsa`` (or ``signer-ca``) anchor (§7.3 h); its time
  then replaces the claimed signing time. The TSA certificate's status is asked as the signer's: revoked at
  or before the token's time makes the token unusable; after is noted; unknown keeps the token with a
  warning (strict: ``tsa_revocation`` INDETERMINATE TRY_LATER). A token that cannot be used is ignored with a
  warning (EN 319 102-1: an unusable time-stamp proves nothing, and fails nothing).
* extension point — :attr:`VerificationPolicy.extra_checks`: callables ``(SignatureContext, signing_time) ->
  CheckResult | None``. The context carries what the signature covers (``pdf_signature`` /
  ``ofd_signature``) and a :class:`CheckEnvironment` (this verification's trust store, time, mode, document
  bytes, warnings, and issuers' signed answers fetched and checked like seal statuses). The e-licence status
  check (``licence_status``, :mod:`trustsvc.verify.licence`) is one; the service installs it.

A signature's indication is the worst of its checks; the document's the worst of its signatures'. A
document without any signature is INDETERMINATE SIGNED_DATA_NOT_FOUND. Tolerated deviations of other
vendors' files (the parsers' repairs) become warnings; ``lenient=False`` turns the repairs into a failed
``strict_format`` check (INVALID FORMAT_FAILURE: strict mode is what our own output passes).

Anchors of an expired trust list make the result INDETERMINATE TRY_LATER (trust store contract).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from asn1crypto import cms, tsp, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    ValidationError,
)

from trustsvc import errors
from trustsvc.errors import MalformedInput, PayloadTooLarge, UnsupportedMediaType
from trustsvc.keys.algorithms import signature_algorithm_of
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.verification import OfdSignatureCheck, check_ofd_signatures
from trustsvc.pdf.signer import seal_from_signer_info
from trustsvc.pdf.sm2_validation import sm2_validation_context
from trustsvc.seal import ses
from trustsvc.seal.status import VerifiedStatus
from trustsvc.verify.result import (
    CheckResult,
    CheckStatus,
    Indication,
    SignatureResult,
    SubIndication,
    VerificationResult,
    worst,
)
from trustsvc.verify.status import (
    CertificateStatusAnswer,
    EmbeddedRevocation,
    Fetcher,
    HttpFetcher,
    RemoteStatusResolver,
    SealStatusAnswer,
    StatusResolver,
    StatusUnavailable,
)
from trustsvc.verify.truststore import Purpose, TrustStore

if TYPE_CHECKING:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

__all__ = [
    "CheckEnvironment",
    "SignatureContext",
    "VerificationEngine",
    "VerificationPolicy",
    "detect_document_format",
    "quiet_validation_logs",
]

_PDF_WINDOW: Final = 1024
_NOTHING_EMBEDDED: Final = EmbeddedRevocation()
_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")

#: How each check of :func:`check_ofd_signatures` fails a signature.
_OFD_FAILURES: Final[dict[str, SubIndication]] = {
    "signature_xml": SubIndication.FORMAT_FAILURE,
    "references": SubIndication.HASH_FAILURE,
    "coverage": SubIndication.SIG_CONSTRAINTS_FAILURE,
    "signed_value": SubIndication.FORMAT_FAILURE,
    "format": SubIndication.FORMAT_FAILURE,
    "data_hash": SubIndication.HASH_FAILURE,
    "message_digest": SubIndication.HASH_FAILURE,
    "signature_value": SubIndication.SIG_CRYPTO_FAILURE,
    "seal_signature": SubIndication.SIG_CRYPTO_FAILURE,
    "signer_listed": SubIndication.SIG_CONSTRAINTS_FAILURE,
    "seal_validity": SubIndication.SIG_CONSTRAINTS_FAILURE,
    "seal_file": SubIndication.HASH_FAILURE,
}
_OFD_INDETERMINATE: Final[dict[str, SubIndication]] = {
    "signer_certificate": SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
}


#: pyHanko's validation loggers: they log what they could not validate (an untrusted TSA or chain, a broken
#: CMS) with a traceback, which the report already says as a check or a warning.
VALIDATION_LOGGERS: Final = ("pyhanko.sign.validation", "pyhanko_certvalidator")


def quiet_validation_logs() -> None:
    """Keep pyHanko's validation complaints (and their tracebacks) out of the log; idempotent.

    Called wherever an engine is built (the app's verifier, the CLI), so a relying party's garbage or
    untrusted documents do not fill a server log with tracebacks; the service's own line per verification
    stays. A logger an operator configured (a level set before) is left as configured.
    """
    for name in VALIDATION_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.CRITICAL)


def detect_document_format(data: bytes) -> str:
    """Return ``"pdf"``, ``"ofd"`` or ``"ses"`` (a DER ``SES_Signature``); UnsupportedMediaType otherwise."""
    if b"%PDF-" in data[:_PDF_WINDOW]:
        return "pdf"
    if data[:4] in _ZIP_MAGIC:
        return "ofd"
    if data[:1] == b"\x30":
        return "ses"
    raise UnsupportedMediaType("not a PDF, an OFD or a GB/T 38540 SES_Signature; nothing to verify")


# ==========================================================================================================
# Policy and the per-signature context
# ==========================================================================================================


@dataclass(frozen=True)
class SignatureContext:
    """What the checks of one signature work on (built from the format-specific parsers)."""

    index: int
    format: str
    signer_cert: x509.Certificate | None
    other_certs: tuple[x509.Certificate, ...]
    seal: ses.Seal | None
    claimed_signing_time: datetime | None
    timestamp_token: bytes | None
    location: str | None
    warnings: tuple[str, ...] = ()
    pdf_signature: EmbeddedPdfSignature | None = None  # PDF: pyHanko's view (its signed revision)
    ofd_signature: OfdSignatureCheck | None = None  # OFD: the checks, References included
    revocation_data: EmbeddedRevocation = field(default_factory=EmbeddedRevocation)  # B-LT OCSP/CRLs
    environment: CheckEnvironment | None = None  # set for the extra checks


class CheckEnvironment:
    """What an extra check may use of the verification it runs in (one per signature).

    ``store``/``now``/``lenient`` are the verification's; ``document`` its bytes; :meth:`warn` adds a
    warning to the signature's result; :meth:`signed_answer` fetches a ``trustsvc-signed-json/1`` answer
    through the engine's fetcher and cache and accepts it only from a certificate with the policy's
    seal-making purpose that chains to a ``signer-ca`` anchor of one trust list (a territory).
    """

    def __init__(self, run: _Run, warnings: list[str]) -> None:
        self._run = run
        self._warnings = warnings

    @property
    def store(self) -> TrustStore:
        return self._run.store

    @property
    def now(self) -> datetime:
        return self._run.now

    @property
    def lenient(self) -> bool:
        return self._run.lenient

    @property
    def document(self) -> bytes:
        return self._run.data

    @property
    def document_sm3(self) -> str:
        """Hex SM3 of the whole document (as the report's ``document.sm3``)."""
        return self._run.document_sm3()

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """Return ``make()``, computed once per verification for ``key`` (e.g. a parsed package)."""
        memo = self._run.memo
        if key not in memo:
            memo[key] = make()
        return memo[key]

    def warn(self, text: str) -> None:
        """Add ``text`` to the signature's warnings."""
        self._warnings.append(text)

    def note_source(self, name: str) -> None:
        """Name ``name`` among the report's trust sources."""
        self._run.sources.add(name)

    def signed_answer(self, url: str, *, statement_type: str, list_name: str) -> VerifiedStatus:
        """Return the verified statement at ``url``, signed for the territory of trust list ``list_name``.

        StatusUnavailable (AnswerNotFound for an HTTP 404) when none can be had or its signer is not allowed.
        """
        run = self._run
        return run.engine._remote.signed_answer(
            url,
            statement_type=statement_type,
            trusted_signer=lambda der, certs: run.signer_of_list(der, certs, list_name),
            required_purpose=run.engine.policy.seal_making_oid,
            signer_name=f"a seal-maker certificate of trust list {list_name}",
        )


#: An extra check (extension point): gets the context and the trusted signing time; None = nothing to say.
ExtraCheck = Callable[[SignatureContext, datetime | None], CheckResult | None]


@dataclass(frozen=True)
class VerificationPolicy:
    """Decisions a deployment may change.

    ``revoked_after_signing``: ``"warn"`` — a certificate revoked after the signing time leaves the signature
    VALID with a warning when the signing time is proven by a valid time-stamp, or always in lenient mode;
    in strict mode without a time-stamp it is INDETERMINATE REVOKED_NO_POE (EN 319 102-1: the claimed time
    proves nothing). ``require_seal_status``: a seal whose status service is unknown is INDETERMINATE
    (strict) instead of a warning. ``seal_making_oid``: the EKU a remote seal-status signer must carry
    (None: not checked). ``extra_checks``: more checks per signature — the licence-status hook goes here.
    """

    revoked_after_signing: str = "warn"
    require_seal_status: bool = False
    seal_making_oid: str | None = None
    extra_checks: tuple[ExtraCheck, ...] = ()


# ==========================================================================================================
# The engine
# ==========================================================================================================


class VerificationEngine:
    """Verifies PDF and OFD documents and detached seal signatures (see the module docstring)."""

    def __init__(
        self,
        trust_store: TrustStore | Callable[[], TrustStore],
        status_resolver: StatusResolver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fetcher: Fetcher | None = None,
        policy: VerificationPolicy | None = None,
        *,
        max_size: int | None = None,
    ) -> None:
        quiet_validation_logs()
        self._trust_store = trust_store
        self._local = status_resolver
        self._clock = clock
        self._remote = RemoteStatusResolver(fetcher or HttpFetcher(), clock)
        self.policy = policy or VerificationPolicy()
        self.max_size = max_size

    def store(self, anchors: Sequence[x509.Certificate | bytes] = ()) -> TrustStore:
        """Return the trust store for one verification, with ``anchors`` trusted for every purpose."""
        base = self._trust_store() if callable(self._trust_store) else self._trust_store
        return base.with_local_anchors(anchors) if anchors else base

    def verify(
        self, data: bytes, *, anchors: Sequence[x509.Certificate | bytes] = (), lenient: bool = True
    ) -> VerificationResult:
        """Return the verdict on ``data`` (PDF, OFD or DER SES_Signature).

        ``anchors`` are trusted for this verification only (every purpose). ``lenient`` tolerates the known
        deviations of other vendors' files with warnings; strict refuses them. Raises only for input that is
        not a document at all: UnsupportedMediaType, MalformedInput, PayloadTooLarge.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise errors.InvalidInput("the document must be bytes")
        data = bytes(data)
        if self.max_size is not None and len(data) > self.max_size:
            raise PayloadTooLarge(f"the document is {len(data)} bytes; the limit is {self.max_size}")
        kind = detect_document_format(data)
        store = self.store(anchors)
        now = self._clock()
        run = _Run(self, store, now, lenient, data)
        if kind == "ofd":
            results = [run.ofd(i, check) for i, check in enumerate(check_ofd_signatures(data))]
        elif kind == "pdf":
            results = run.pdf(data)
        else:
            results = [run.detached_ses(data)]
        warnings: list[str] = []
        if results:
            indication, sub = _overall(results)
        else:
            indication, sub = Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND
            warnings.append("the document carries no signature")
        return VerificationResult(
            sha256=hashlib.sha256(data).hexdigest(),
            sm3=sm3(data).hex(),
            format=kind,
            signatures=tuple(results),
            indication=indication,
            sub_indication=sub,
            verified_at=now,
            warnings=tuple(warnings),
            trust_sources=tuple(sorted(run.sources)),
        )


def _overall(results: Iterable[SignatureResult]) -> tuple[Indication, SubIndication | None]:
    found: tuple[Indication, SubIndication | None] = (Indication.TOTAL_PASSED, None)
    for result in results:
        if result.indication.severity > found[0].severity:
            found = (result.indication, result.sub_indication)
    return found


class _Run:
    """One verification: the trust store snapshot, the time, the mode, and the checks."""

    def __init__(
        self, engine: VerificationEngine, store: TrustStore, now: datetime, lenient: bool, data: bytes = b""
    ) -> None:
        self.engine = engine
        self.store = store
        self.now = now
        self.lenient = lenient
        self.data = data
        self.sources: set[str] = set()
        self.memo: dict[str, Any] = {}
        self._sm3: str | None = None

    def document_sm3(self) -> str:
        if self._sm3 is None:
            self._sm3 = sm3(self.data).hex()
        return self._sm3

    # --- formats --------------------------------------------------------------------------------------

    def ofd(self, index: int, found: OfdSignatureCheck) -> SignatureResult:
        checks: list[CheckResult] = []
        for check in found.checks:
            if check.name == "timestamp":
                continue  # the token is verified in full below
            if check.ok:
                checks.append(CheckResult.passed(check.name, check.detail))
            elif check.name in _OFD_INDETERMINATE:
                checks.append(
                    CheckResult.indeterminate(check.name, _OFD_INDETERMINATE[check.name], check.detail)
                )
            else:
                sub = _OFD_FAILURES.get(check.name, SubIndication.FORMAT_FAILURE)
                checks.append(CheckResult.failed(check.name, sub, check.detail or "does not hold"))
        tst_check = found.check("timestamp")
        warnings = list(found.warnings)
        if not self.lenient and found.warnings and found.seal_signature is not None:
            repairs = [w for w in found.seal_signature.all_warnings] + [
                w for w in found.warnings if "re-encoded" in w or "sign pad" in w or "unused bits" in w
            ]
            if repairs:
                checks.append(
                    CheckResult.failed(
                        "strict_format", SubIndication.FORMAT_FAILURE, "; ".join(dict.fromkeys(repairs))
                    )
                )
        token = found.timestamp_token
        if tst_check is not None and not tst_check.ok:
            warnings.append(f"time-stamp ignored: {tst_check.detail}")
            token = None
        context = SignatureContext(
            index=index,
            format="ofd-seal" if found.type == "Seal" else "ofd-sign",
            signer_cert=_load(found.signer_cert),
            other_certs=tuple(c for c in (_load(d) for d in found.certificates) if c is not None),
            seal=found.seal,
            claimed_signing_time=found.signing_time,
            timestamp_token=token,
            location=found.signature_xml_path,
            warnings=tuple(warnings),
            ofd_signature=found,
        )
        # listing and validity at signing time were checked by the OFD layer against the claimed time;
        # they are re-checked here against the trusted time (a time-stamp may move it).
        checks = [c for c in checks if c.name not in ("seal_validity",)]
        return self.finish(context, checks, seal_checked={"seal_signature", "signer_listed"})

    def detached_ses(self, data: bytes) -> SignatureResult:
        try:
            sig = ses.parse_signature(data, lenient=self.lenient)
        except MalformedInput as exc:
            raise UnsupportedMediaType(
                f"not a PDF, an OFD or a GB/T 38540 SES_Signature: {exc.detail}"
            ) from None
        checks: list[CheckResult] = []
        warnings = list(sig.all_warnings)
        try:
            warnings.extend(ses.verify_signature_value(sig))
            checks.append(CheckResult.passed("signature_value"))
        except errors.InvalidSignature as exc:
            checks.append(CheckResult.failed("signature_value", SubIndication.SIG_CRYPTO_FAILURE, exc.detail))
        checks.append(
            CheckResult.skipped("data_hash", "detached signature: the original data is not at hand")
        )
        context = SignatureContext(
            index=0,
            format="ses",
            signer_cert=_load(sig.signer_cert),
            other_certs=tuple(c for c in (_load(sig.seal.maker_cert),) if c is not None),
            seal=sig.seal,
            claimed_signing_time=sig.time_info,
            timestamp_token=sig.timestamp,
            location=sig.property_info,
            warnings=tuple(warnings),
        )
        return self.finish(context, checks, seal_checked=set())

    def pdf(self, data: bytes) -> list[SignatureResult]:
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            signatures = list(reader.embedded_signatures)
        except Exception as exc:  # pyHanko raises many types for broken files
            raise MalformedInput(f"the PDF cannot be read: {type(exc).__name__}") from None
        dss = _dss_revocation(reader)
        return [self._pdf_signature(i, sig, dss) for i, sig in enumerate(signatures)]

    def _pdf_signature(
        self, index: int, sig: EmbeddedPdfSignature, dss: EmbeddedRevocation
    ) -> SignatureResult:
        checks: list[CheckResult] = []
        warnings: list[str] = []
        context_no_trust = sm2_validation_context(trust_roots=[], revocation_mode="none")
        try:
            status = asyncio.run(
                async_validate_pdf_signature(sig, signer_validation_context=context_no_trust, skip_diff=False)
            )
            intact, valid = bool(status.intact), bool(status.valid)
            claimed = status.signer_reported_dt
            coverage = status.coverage.name if status.coverage is not None else "UNKNOWN"
            modification = status.modification_level
        except Exception as exc:
            intact = valid = False
            claimed, coverage, modification = None, "UNKNOWN", None
            warnings.append(f"pyHanko: {type(exc).__name__}: {str(exc)[:200]}")
        checks.append(
            CheckResult.passed("message_digest")
            if intact
            else CheckResult.failed(
                "message_digest", SubIndication.HASH_FAILURE, "the signed bytes were changed"
            )
        )
        if intact:
            checks.append(
                CheckResult.passed("signature_value")
                if valid
                else CheckResult.failed(
                    "signature_value", SubIndication.SIG_CRYPTO_FAILURE, "the CMS signature does not verify"
                )
            )
        if coverage not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
            checks.append(
                CheckResult.failed("coverage", SubIndication.SIG_CONSTRAINTS_FAILURE, f"coverage {coverage}")
            )
        elif coverage == "ENTIRE_REVISION":
            level = getattr(modification, "name", "UNKNOWN")
            if level in ("NONE", "LTA_UPDATES", "FORM_FILLING"):
                checks.append(CheckResult.passed("coverage", f"later revisions: {level}"))
            else:
                checks.append(
                    CheckResult.failed(
                        "coverage", SubIndication.SIG_CONSTRAINTS_FAILURE, f"later revisions changed: {level}"
                    )
                )
        else:
            checks.append(CheckResult.passed("coverage", "entire file"))

        seal: ses.Seal | None = None
        try:
            seal_der = seal_from_signer_info(sig.signer_info)
            if seal_der is not None:
                seal = ses.parse_seal(seal_der, lenient=self.lenient)
                warnings.extend(f"seal: {w}" for w in seal.warnings)
        except MalformedInput as exc:
            checks.append(CheckResult.failed("format", SubIndication.FORMAT_FAILURE, f"seal: {exc.detail}"))
        certs = []
        try:
            for choice in sig.signed_data["certificates"] or []:
                if choice.name == "certificate":
                    certs.append(choice.chosen)
        except (ValueError, TypeError, KeyError):
            pass
        token = None
        try:
            for attr in sig.signer_info["unsigned_attrs"] or []:
                if attr["type"].native == "signature_time_stamp_token":
                    token = attr["values"][0].dump()
        except (ValueError, TypeError, KeyError):
            pass
        signer_cert = None
        try:
            signer_cert = sig.signer_cert
        except Exception:
            checks.append(
                CheckResult.indeterminate(
                    "signer_certificate", SubIndication.NO_SIGNING_CERTIFICATE_FOUND, "no signer certificate"
                )
            )
        if seal is not None:
            try:
                warnings.extend(ses.verify_seal(seal))
                checks.append(CheckResult.passed("seal_signature"))
            except errors.InvalidSignature as exc:
                checks.append(
                    CheckResult.failed("seal_signature", SubIndication.SIG_CRYPTO_FAILURE, exc.detail)
                )
            if signer_cert is not None:
                checks.append(_signer_listed(seal, signer_cert))
        context = SignatureContext(
            index=index,
            format="pdf",
            signer_cert=signer_cert,
            other_certs=tuple(certs),
            seal=seal,
            claimed_signing_time=claimed,
            timestamp_token=token,
            location=sig.field_name,
            warnings=tuple(warnings),
            pdf_signature=sig,
            revocation_data=_archival_revocation(sig, dss),
        )
        return self.finish(context, checks, seal_checked={"seal_signature", "signer_listed"})

    # --- the common pipeline ----------------------------------------------------------------------------

    def finish(
        self, ctx: SignatureContext, checks: list[CheckResult], *, seal_checked: set[str]
    ) -> SignatureResult:
        warnings = list(ctx.warnings)
        tst_check, tst_time, tsa_path = self.timestamp(ctx)
        if tst_check is not None and tst_time is not None and tsa_path:
            tst_check, tst_time, tsa_unknown = self.tsa_revocation(
                tst_check, tst_time, tsa_path, ctx.revocation_data, warnings
            )
            if tsa_unknown is not None:
                checks.append(tsa_unknown)
        if tst_check is not None:
            if tst_check.status is not CheckStatus.PASSED:
                # EN 319 102-1: a time-stamp that cannot be used proves nothing, and fails nothing either
                warnings.append(f"time-stamp ignored: {tst_check.detail}")
                tst_check = CheckResult.skipped(tst_check.name, f"ignored: {tst_check.detail}")
            checks.append(tst_check)
        signing_time = tst_time or ctx.claimed_signing_time
        proven = tst_time is not None

        if ctx.signer_cert is None:
            if not any(c.name == "signer_certificate" for c in checks):
                checks.append(
                    CheckResult.indeterminate(
                        "signer_certificate",
                        SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                        "no signer certificate",
                    )
                )
        else:
            chain, path = self.signer_chain(ctx, signing_time)
            checks.append(chain)
            if path is not None:
                checks.append(self.revocation(path, signing_time, proven, warnings, ctx.revocation_data))
                if not proven and ctx.signer_cert.not_valid_after < self.now:
                    text = "the signer certificate has expired and no time-stamp proves the signing time"
                    if self.lenient:
                        warnings.append(text)
                    else:
                        checks.append(
                            CheckResult.indeterminate(
                                "signing_time_proof", SubIndication.OUT_OF_BOUNDS_NO_POE, text
                            )
                        )

        if ctx.seal is not None:
            seal = ctx.seal
            if "seal_signature" not in seal_checked:
                try:
                    warnings.extend(ses.verify_seal(seal))
                    checks.append(CheckResult.passed("seal_signature"))
                except errors.InvalidSignature as exc:
                    checks.append(
                        CheckResult.failed("seal_signature", SubIndication.SIG_CRYPTO_FAILURE, exc.detail)
                    )
            if "signer_listed" not in seal_checked and ctx.signer_cert is not None:
                checks.append(_signer_listed(seal, ctx.signer_cert))
            checks.append(self.seal_maker_chain(seal, signing_time))
            checks.append(_seal_validity(seal, signing_time))
            checks.append(self.seal_status(seal, signing_time, warnings))

        extra_ctx = replace(ctx, environment=CheckEnvironment(self, warnings))
        for extra in self.engine.policy.extra_checks:
            result = extra(extra_ctx, signing_time)
            if result is not None:
                checks.append(result)

        indication, sub = worst(checks)
        signer = ctx.signer_cert
        return SignatureResult(
            index=ctx.index,
            format=ctx.format,
            type="seal" if ctx.seal is not None else "signature",
            indication=indication,
            sub_indication=sub,
            checks=tuple(checks),
            signer_subject=signer.subject.human_friendly if signer is not None else None,
            signer_serial=format(signer.serial_number, "x") if signer is not None else None,
            signer_issuer=signer.issuer.human_friendly if signer is not None else None,
            seal_es_id=ctx.seal.es_id if ctx.seal is not None else None,
            seal_name=ctx.seal.name if ctx.seal is not None else None,
            seal_org=_seal_org(ctx.seal, signer),
            signing_time=signing_time,
            timestamp_time=tst_time,
            location=ctx.location,
            warnings=tuple(dict.fromkeys(warnings)),
        )

    # --- checks -----------------------------------------------------------------------------------------

    def _anchors(self, purpose: Purpose) -> list[x509.Certificate]:
        return self.store.anchors(purpose)

    def _note_source(self, anchor: x509.Certificate) -> CheckResult | None:
        try:
            source = self.store.source_of(anchor)
        except errors.NotFound:
            return None
        self.sources.add(source.list_name)
        if source.indeterminate:
            return CheckResult.indeterminate(
                "trust_list",
                SubIndication.TRY_LATER,
                f"trust list {source.list_name} ({source.territory}) is past its next update",
            )
        return None

    def _validate_path(
        self,
        certificate: x509.Certificate,
        anchors: list[x509.Certificate],
        others: Iterable[x509.Certificate],
        moment: datetime | None,
    ) -> Any:
        context = sm2_validation_context(
            trust_roots=anchors, other_certs=list(others), revocation_mode="none", moment=moment
        )
        validator = CertificateValidator(certificate, validation_context=context)
        return asyncio.run(validator.async_validate_usage(set()))

    def signer_chain(
        self, ctx: SignatureContext, moment: datetime | None
    ) -> tuple[CheckResult, list[x509.Certificate] | None]:
        assert ctx.signer_cert is not None
        return self._chain(
            "signer_chain", ctx.signer_cert, self._anchors(Purpose.SIGNER_CA), ctx.other_certs, moment
        )

    def _chain(
        self,
        name: str,
        certificate: x509.Certificate,
        anchors: list[x509.Certificate],
        others: Iterable[x509.Certificate],
        moment: datetime | None,
    ) -> tuple[CheckResult, list[x509.Certificate] | None]:
        if not anchors:
            return (
                CheckResult.indeterminate(name, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no trust anchor"),
                None,
            )
        try:
            path = self._validate_path(certificate, anchors, others, moment)
        except PathBuildingError:
            return (
                CheckResult.indeterminate(
                    name, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no chain to a trust anchor"
                ),
                None,
            )
        except ExpiredError as exc:
            return CheckResult.failed(
                name, SubIndication.EXPIRED, f"expired at the signing time: {exc}"
            ), None
        except NotYetValidError as exc:
            return CheckResult.failed(
                name, SubIndication.NOT_YET_VALID, f"not yet valid at the signing time: {exc}"
            ), None
        except (InvalidCertificateError, PathValidationError, ValidationError) as exc:
            return (
                CheckResult.indeterminate(name, SubIndication.CHAIN_CONSTRAINTS_FAILURE, str(exc)[:300]),
                None,
            )
        except Exception as exc:
            return (
                CheckResult.indeterminate(
                    name,
                    SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                    f"{type(exc).__name__}: {str(exc)[:200]}",
                ),
                None,
            )
        certs = list(path)
        expired_list = self._note_source(certs[0])
        if expired_list is not None:
            return replace(expired_list, name=name), certs
        return CheckResult.passed(
            name, f"{len(certs)} certificate(s) to {certs[0].subject.human_friendly}"
        ), certs

    def revocation(
        self,
        path: list[x509.Certificate],
        signing_time: datetime | None,
        proven: bool,
        warnings: list[str],
        embedded: EmbeddedRevocation = _NOTHING_EMBEDDED,
    ) -> CheckResult:
        name = "signer_revocation"
        if len(path) < 2:
            return CheckResult.passed(name, "the certificate is itself a trust anchor")
        answers: list[str] = []
        for issuer, certificate in itertools.pairwise(path):
            try:
                answer = self._certificate_status(
                    certificate, issuer, embedded, signing_time if proven else None, warnings
                )
            except StatusUnavailable as exc:
                return CheckResult.indeterminate(name, SubIndication.TRY_LATER, exc.detail)
            subject = certificate.subject.human_friendly
            if answer.state == "good":
                answers.append(f"{subject}: good ({answer.source})")
                continue
            if answer.state == "unknown":
                return CheckResult.indeterminate(
                    name, SubIndication.TRY_LATER, f"{subject}: unknown to its issuer ({answer.source})"
                )
            when = answer.revoked_at
            what = "on hold" if answer.state == "hold" else "revoked"
            if when is None or signing_time is None or when <= signing_time:
                sub = SubIndication.REVOKED if answer.state == "revoked" else SubIndication.TRY_LATER
                detail = f"{subject}: {what} at {_iso(when)}, before the signing time {_iso(signing_time)}"
                if answer.state == "hold":
                    return CheckResult.indeterminate(name, sub, detail)
                return CheckResult.failed(name, sub, detail)
            text = f"{subject}: {what} at {_iso(when)}, after the signing time {_iso(signing_time)}"
            if proven or self.lenient or self.engine.policy.revoked_after_signing != "warn":
                warnings.append(text)
                answers.append(text)
                continue
            return CheckResult.indeterminate(
                name, SubIndication.REVOKED_NO_POE, text + "; no time-stamp proves the signing time"
            )
        return CheckResult.passed(name, "; ".join(answers))

    def _certificate_status(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        embedded: EmbeddedRevocation = _NOTHING_EMBEDDED,
        proven_time: datetime | None = None,
        warnings: list[str] | None = None,
    ) -> CertificateStatusAnswer:
        """Ours from the database; others' live (OCSP, then CRL); when the issuer cannot be asked, from the
        revocation data the document carries, if ``proven_time`` (a time-stamped signing time) is known.

        Live first because it can show a revocation recorded after the document was made but dated before
        its signing time (key compromise found later); the embedded data only says what the issuer knew
        then. See docs/VERIFY-REPORT.md, "Revocation data the document carries".
        """
        local = self.engine._local
        if local is not None:
            answer = local.certificate_status(certificate, issuer)
            if answer is not None:
                self.sources.add(answer.source.split(":", 1)[0])
                return answer
        endpoints = self.store.endpoints_for(certificate)
        remote = self.engine._remote
        try:
            answer = remote.certificate_status(
                certificate, issuer, ocsp_urls=endpoints.ocsp, crl_urls=endpoints.crl
            )
        except StatusUnavailable as live:
            if not embedded:
                raise
            if proven_time is None:
                raise StatusUnavailable(
                    f"{live.detail}; the revocation data the document carries is not used: "
                    "no time-stamp proves the signing time"
                ) from None
            try:
                answer = remote.embedded_certificate_status(certificate, issuer, embedded, proven_time)
            except StatusUnavailable as carried:
                raise StatusUnavailable(f"{live.detail}; {carried.detail}") from None
            if warnings is not None:
                warnings.append(
                    f"{certificate.subject.human_friendly}: the issuer's status service cannot be asked "
                    f"({live.detail[:200]}); the revocation data embedded in the document was used"
                )
        self.sources.add(answer.source.split(":", 1)[0])
        return answer

    def seal_maker_chain(self, seal: ses.Seal, moment: datetime | None) -> CheckResult:
        name = "seal_maker_chain"
        maker = _load(seal.maker_cert)
        if maker is None:
            return CheckResult.failed(
                name, SubIndication.FORMAT_FAILURE, "the maker certificate cannot be read"
            )
        if self.store.is_trusted(maker, Purpose.SEAL_MAKER):
            expired = self._note_source(maker)
            return (
                replace(expired, name=name)
                if expired
                else CheckResult.passed(name, "the maker is a seal-maker anchor")
            )
        result, _ = self._chain(name, maker, self._anchors(Purpose.SEAL_MAKER), (), moment)
        return result

    def seal_status(self, seal: ses.Seal, signing_time: datetime | None, warnings: list[str]) -> CheckResult:
        name = "seal_status"
        answer: SealStatusAnswer | None = None
        local = self.engine._local
        if local is not None:
            answer = local.seal_status(seal)
        if answer is None:
            maker = _load(seal.maker_cert)
            url = self.store.endpoints_for(maker).seal_status_url(seal.es_id) if maker is not None else None
            if url is None:
                text = "the seal's status cannot be checked: no seal-status service is known for its maker"
                if self.engine.policy.require_seal_status or not self.lenient:
                    return CheckResult.indeterminate(name, SubIndication.TRY_LATER, text)
                warnings.append(text)
                return CheckResult.skipped(name, text)
            try:
                answer = self.engine._remote.seal_status(
                    seal,
                    url,
                    trusted_signer=lambda der, certs: self._status_signer_trusted(seal, der, certs),
                    required_purpose=self.engine.policy.seal_making_oid,
                )
            except StatusUnavailable as exc:
                return CheckResult.indeterminate(name, SubIndication.TRY_LATER, exc.detail)
        self.sources.add(answer.source.split(":", 1)[0])
        at = signing_time or self.now
        if not answer.covers(seal.der, at):
            return CheckResult.failed(
                name,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                "the seal in the signature is no version the issuer knows for this esID at the signing time",
            )
        if answer.state in ("active", "expired"):
            return CheckResult.passed(name, f"{answer.state} ({answer.source})")
        if answer.since <= at:
            return CheckResult.failed(
                name,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                f"the seal was {answer.state} since {_iso(answer.since)}, before the signing time {_iso(at)}",
            )
        text = f"the seal was {answer.state} at {_iso(answer.since)}, after the signing time {_iso(at)}"
        warnings.append(text)
        return CheckResult.passed(name, text)

    def signer_of_list(self, signer_der: bytes, certificates: tuple[bytes, ...], list_name: str) -> bool:
        """Return whether ``signer_der`` chains (now) to a ``signer-ca`` anchor of the list ``list_name``."""
        signer = _load(signer_der)
        anchors = [
            e.certificate
            for e in self.store.entries(Purpose.SIGNER_CA)
            if e.source.list_name == list_name and e.certificate is not None
        ]
        if signer is None or not anchors:
            return False
        others = [c for c in (_load(d) for d in certificates[1:]) if c is not None]
        result, _ = self._chain("status_signer", signer, anchors, others, None)
        return result.status is CheckStatus.PASSED

    def _status_signer_trusted(
        self, seal: ses.Seal, signer_der: bytes, certificates: tuple[bytes, ...]
    ) -> bool:
        if signer_der == seal.maker_cert:
            return True
        signer = _load(signer_der)
        maker = _load(seal.maker_cert)
        if signer is None or maker is None or signer.issuer.dump() != maker.issuer.dump():
            return False
        others = [c for c in (_load(d) for d in certificates[1:]) if c is not None]
        result, _ = self._chain("status_signer", signer, self._anchors(Purpose.SIGNER_CA), others, None)
        return result.status is CheckStatus.PASSED

    def timestamp(
        self, ctx: SignatureContext
    ) -> tuple[CheckResult | None, datetime | None, list[x509.Certificate]]:
        """Return the token's check, its time when usable, and the TSA's path (anchor first) to check its
        revocation (:meth:`tsa_revocation`)."""
        if ctx.timestamp_token is None:
            return None, None, []
        name = "timestamp"
        try:
            info = cms.ContentInfo.load(ctx.timestamp_token)
            signed_data = info["content"]
            tst_info = signed_data["encap_content_info"]["content"].parsed
            assert isinstance(tst_info, tsp.TSTInfo)
            imprint = tst_info["message_imprint"]["hashed_message"].native
            gen_time = tst_info["gen_time"].native
            certs = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"]
        except (ValueError, TypeError, KeyError, AssertionError, AttributeError) as exc:
            return (
                CheckResult.indeterminate(name, SubIndication.FORMAT_FAILURE, f"unreadable token: {exc}"),
                None,
                [],
            )
        anchors = self._anchors(Purpose.TSA) + self._anchors(Purpose.SIGNER_CA)
        context = sm2_validation_context(trust_roots=anchors, other_certs=certs, revocation_mode="none")
        try:
            status = asyncio.run(validate_tst_signed_data(signed_data, context, lambda _alg: imprint))
        except Exception as exc:
            return (
                CheckResult.indeterminate(
                    name, SubIndication.GENERIC, f"{type(exc).__name__}: {str(exc)[:200]}"
                ),
                None,
                [],
            )
        if not (status.get("intact") and status.get("valid")):
            return (
                CheckResult.indeterminate(
                    name, SubIndication.SIG_CRYPTO_FAILURE, "the token's signature does not verify"
                ),
                None,
                [],
            )
        if status.get("trust_problem_indic") is not None:
            return (
                CheckResult.indeterminate(
                    name, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "the TSA does not chain to a tsa anchor"
                ),
                None,
                [],
            )
        path = status.get("validation_path")
        tsa_path = [c for c in path if isinstance(c, x509.Certificate)] if path is not None else []
        if len(tsa_path) == 1:
            # the TSA certificate is itself an anchor (a trust list names it): its status is still its
            # issuer's to tell, when the issuer is known
            issuer = _issuer_among(tsa_path[0], anchors + certs)
            tsa_path = [issuer, tsa_path[0]] if issuer is not None else tsa_path
        return CheckResult.passed(name, f"time-stamped at {_iso(gen_time)}"), gen_time, tsa_path

    def tsa_revocation(
        self,
        check: CheckResult,
        gen_time: datetime,
        path: list[x509.Certificate],
        embedded: EmbeddedRevocation,
        warnings: list[str],
    ) -> tuple[CheckResult, datetime | None, CheckResult | None]:
        """Return the time-stamp check, its time and a ``tsa_revocation`` check once the status of every
        certificate of the TSA's path below the anchor is known (same sources as the signer's).

        Revoked or on hold at or before the token's time: the token proves nothing (an indeterminate check,
        which the caller ignores with a warning: the claimed time stands). Revoked after: fine, said in the
        detail. Unknown / unreachable: the token is kept with a warning — its signature and chain hold, and
        dropping a proven time over a network failure would turn a good document INDETERMINATE elsewhere;
        strict mode makes it INDETERMINATE TRY_LATER (as a seal status that cannot be had).
        """
        notes: list[str] = []
        for issuer, certificate in itertools.pairwise(path):
            subject = certificate.subject.human_friendly
            try:
                answer = self._certificate_status(certificate, issuer, embedded, gen_time, warnings)
            except StatusUnavailable as exc:
                text = f"the TSA certificate's status cannot be checked: {exc.detail}"
                if not self.lenient:
                    return (
                        check,
                        gen_time,
                        CheckResult.indeterminate("tsa_revocation", SubIndication.TRY_LATER, text),
                    )
                warnings.append(f"{text}; the time-stamp is used all the same")
                notes.append(f"{subject}: status unknown")
                continue
            if answer.state == "unknown":
                text = f"the TSA certificate {subject} is unknown to its issuer ({answer.source})"
                if not self.lenient:
                    return (
                        check,
                        gen_time,
                        CheckResult.indeterminate("tsa_revocation", SubIndication.TRY_LATER, text),
                    )
                warnings.append(f"{text}; the time-stamp is used all the same")
                notes.append(f"{subject}: unknown")
                continue
            if answer.state == "good":
                notes.append(f"{subject}: good ({answer.source})")
                continue
            what = "on hold" if answer.state == "hold" else "revoked"
            when = answer.revoked_at
            if when is None or when <= gen_time:
                detail = (
                    f"the TSA certificate {subject} was {what} at {_iso(when)}, "
                    f"before the token's time {_iso(gen_time)} ({answer.source})"
                )
                return CheckResult.indeterminate(check.name, SubIndication.REVOKED, detail), None, None
            notes.append(f"{subject}: {what} at {_iso(when)}, after the token's time ({answer.source})")
        detail = check.detail + (f"; TSA status: {'; '.join(notes)}" if notes else "")
        return replace(check, detail=detail), gen_time, None


# --- small helpers --------------------------------------------------------------------------------------


def _issuer_among(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """Return the candidate that issued ``certificate`` (name, key identifier and signature); None if none."""
    if certificate.self_signed != "no":
        return None
    for candidate in candidates:
        if candidate.subject.dump() != certificate.issuer.dump():
            continue
        if certificate.authority_key_identifier not in (None, candidate.key_identifier):
            continue
        try:
            verify_signature(
                candidate.public_key,
                signature_algorithm_of(certificate["signature_algorithm"]),
                certificate["tbs_certificate"].dump(),
                certificate["signature_value"].native,
            )
        except errors.TrustsvcError:
            continue
        return candidate
    return None


def _archival_revocation(sig: EmbeddedPdfSignature, dss: EmbeddedRevocation) -> EmbeddedRevocation:
    """Return the document's DSS data plus the signature's signed adbe-revocationInfoArchival attribute."""
    ocsps, crls = list(dss.ocsps), list(dss.crls)
    try:
        for attr in sig.signer_info["signed_attrs"] or []:
            if attr["type"].native != "adobe_revocation_info_archival":
                continue
            for archival in attr["values"]:
                ocsps.extend(item.dump() for item in archival["ocsp"] or [])
                crls.extend(item.dump() for item in archival["crl"] or [])
    except (ValueError, TypeError, KeyError):
        pass  # unreadable: nothing embedded (the status is then fetched, or TRY_LATER)
    return EmbeddedRevocation(tuple(ocsps), tuple(crls))


def _dss_revocation(reader: PdfFileReader) -> EmbeddedRevocation:
    """Return the OCSP responses and CRLs of the PDF's Document Security Store (none if it has none)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        ocsps = tuple(ref.get_object().data for ref in dss.ocsps)
        crls = tuple(ref.get_object().data for ref in dss.crls)
    except Exception:  # no DSS, or one pyHanko cannot read: nothing embedded
        return EmbeddedRevocation()
    return EmbeddedRevocation(ocsps, crls)


def _load(der: bytes | None) -> x509.Certificate | None:
    if not der:
        return None
    try:
        certificate = x509.Certificate.load(der)
        certificate.native  # noqa: B018 - parse now
    except (ValueError, TypeError):
        return None
    return certificate


def _signer_listed(seal: ses.Seal, signer: x509.Certificate) -> CheckResult:
    if ses.signer_is_listed(seal, signer.dump()):
        return CheckResult.passed("signer_listed")
    return CheckResult.failed(
        "signer_listed",
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        "the signer certificate is not listed in the seal",
    )


def _seal_validity(seal: ses.Seal, at: datetime | None) -> CheckResult:
    name = "seal_validity"
    if at is None:
        return CheckResult.indeterminate(name, SubIndication.SIG_CONSTRAINTS_FAILURE, "no signing time")
    if seal.valid_start <= at <= seal.valid_end:
        return CheckResult.passed(name, f"valid {_iso(seal.valid_start)} to {_iso(seal.valid_end)}")
    return CheckResult.failed(
        name,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
        f"the seal is valid {_iso(seal.valid_start)} to {_iso(seal.valid_end)}, "
        f"not at the signing time {_iso(at)}",
    )


def _seal_org(seal: ses.Seal | None, signer: x509.Certificate | None) -> str | None:
    """Return the organisation the seal belongs to, as the signer certificate names it (O=)."""
    if seal is None or signer is None:
        return None
    value = signer.subject.native.get("organization_name")
    return str(value) if value else None


def _iso(moment: datetime | None) -> str:
    return "(unknown)" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
