"""The verification result model: what :class:`~trustsvc.verify.engine.VerificationEngine` reports.

Vocabulary of ETSI EN 319 102-1 (§5.1.3): every signature ends in one :class:`Indication` —
``TOTAL_PASSED`` (reported as ``VALID``), ``TOTAL_FAILED`` (``INVALID``) or ``INDETERMINATE`` — with a
:class:`SubIndication` saying why when it is not VALID. A signature's result is built from
:class:`CheckResult` objects, one per small check of the pipeline (STYLE.md §2); the document's indication is
the worst of its signatures'. :meth:`VerificationResult.to_json` is the stable report documented in
docs/VERIFY-REPORT.md (``schema_version`` :data:`SCHEMA_VERSION`; fields are only ever added).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "CheckStatus",
    "Indication",
    "SignatureResult",
    "SubIndication",
    "VerificationResult",
    "worst",
]

#: Version of the JSON report (docs/VERIFY-REPORT.md). Bumped only for an incompatible change.
SCHEMA_VERSION: Final = 1


class Indication(StrEnum):
    """ETSI EN 319 102-1 main indication; :attr:`report` is the word shown to people (VALID/INVALID/...)."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"

    @property
    def report(self) -> str:
        return _REPORT[self]

    @property
    def severity(self) -> int:
        """0 passed, 1 indeterminate, 2 failed: the overall indication is the most severe."""
        return _SEVERITY[self]


_REPORT: Final = {
    Indication.TOTAL_PASSED: "VALID",
    Indication.TOTAL_FAILED: "INVALID",
    Indication.INDETERMINATE: "INDETERMINATE",
}
_SEVERITY: Final = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}


class SubIndication(StrEnum):
    """ETSI EN 319 102-1 sub-indications (the subset a GB/T 38540 / PDF verification can reach)."""

    # with TOTAL_FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # with INDETERMINATE
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    GENERIC = "GENERIC"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One check of the pipeline: ``name`` (stable, e.g. ``signer_chain``), its status, a readable ``detail``
    and — when it did not pass — the sub-indication it leads to."""

    name: str
    status: CheckStatus
    detail: str = ""
    sub_indication: SubIndication | None = None

    @classmethod
    def passed(cls, name: str, detail: str = "") -> CheckResult:
        return cls(name, CheckStatus.PASSED, detail)

    @classmethod
    def failed(cls, name: str, sub: SubIndication, detail: str) -> CheckResult:
        return cls(name, CheckStatus.FAILED, detail, sub)

    @classmethod
    def indeterminate(cls, name: str, sub: SubIndication, detail: str) -> CheckResult:
        return cls(name, CheckStatus.INDETERMINATE, detail, sub)

    @classmethod
    def skipped(cls, name: str, detail: str) -> CheckResult:
        return cls(name, CheckStatus.SKIPPED, detail)

    @property
    def indication(self) -> Indication:
        if self.status is CheckStatus.FAILED:
            return Indication.TOTAL_FAILED
        if self.status is CheckStatus.INDETERMINATE:
            return Indication.INDETERMINATE
        return Indication.TOTAL_PASSED

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "status": self.status.value, "detail": self.detail}
        if self.sub_indication is not None:
            body["sub_indication"] = self.sub_indication.value
        return body


def worst(checks: Iterable[CheckResult]) -> tuple[Indication, SubIndication | None]:
    """Return the indication of the most severe check (first of equals) and its sub-indication."""
    found: tuple[Indication, SubIndication | None] = (Indication.TOTAL_PASSED, None)
    for check in checks:
        if check.indication.severity > found[0].severity:
            found = (check.indication, check.sub_indication)
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SignatureResult:
    """The verdict on one signature and the checks it rests on."""

    index: int
    format: str  # "ofd-seal" | "ofd-sign" | "pdf" | "ses"
    type: str  # "seal" (an electronic seal) | "signature" (no seal)
    indication: Indication
    sub_indication: SubIndication | None
    checks: tuple[CheckResult, ...]
    signer_subject: str | None = None
    signer_serial: str | None = None
    signer_issuer: str | None = None
    seal_es_id: str | None = None
    seal_name: str | None = None
    seal_org: str | None = None
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None
    location: str | None = None  # the Signature.xml path or the PDF field name
    warnings: tuple[str, ...] = ()

    def check(self, name: str) -> CheckResult | None:
        """Return the check called ``name``, or None if it was not made."""
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "format": self.format,
            "type": self.type,
            "indication": self.indication.report,
            "etsi_indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "location": self.location,
            "signer": {
                "subject": self.signer_subject,
                "serial": self.signer_serial,
                "issuer": self.signer_issuer,
            },
            "seal": None
            if self.seal_es_id is None
            else {"es_id": self.seal_es_id, "name": self.seal_name, "organisation": self.seal_org},
            "signing_time": _iso(self.signing_time),
            "timestamp_time": _iso(self.timestamp_time),
            "checks": [c.to_json() for c in self.checks],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on one document: its digests, format, every signature and the overall indication."""

    sha256: str
    sm3: str
    format: str  # "pdf" | "ofd" | "ses"
    signatures: tuple[SignatureResult, ...]
    indication: Indication
    sub_indication: SubIndication | None
    verified_at: datetime
    warnings: tuple[str, ...] = ()
    trust_sources: tuple[str, ...] = field(default=())

    @property
    def report(self) -> str:
        """``VALID``, ``INVALID`` or ``INDETERMINATE``."""
        return self.indication.report

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (docs/VERIFY-REPORT.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "document": {"sha256": self.sha256, "sm3": self.sm3, "format": self.format},
            "indication": self.indication.report,
            "etsi_indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "verified_at": _iso(self.verified_at),
            "signatures": [s.to_json() for s in self.signatures],
            "warnings": list(self.warnings),
            "trust_sources": list(self.trust_sources),
        }
