"""One typed error hierarchy for trustsvc.

Every failure a caller can act on is a subclass of :class:`TrustsvcError`. Each class carries the HTTP
status and the RFC 9457 problem type the web layer answers with, so routes never choose status codes
themselves and a parser failure can never surface as a 500.

Messages must never contain key material: they are shown to callers and written to logs.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://trustsvc.example/problems/"


class TrustsvcError(Exception):
    """Base of every error trustsvc raises on purpose."""

    status: ClassVar[int] = 500
    problem: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem+json body for this error."""
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.problem,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


# --- input ---------------------------------------------------------------------------------------


class InvalidInput(TrustsvcError):
    """The request or file is not acceptable (bad field, wrong value, unknown option)."""

    status = 400
    problem = "invalid-input"
    title = "Invalid input"


class MalformedInput(InvalidInput):
    """Bytes from outside (DER, PEM, PDF, OFD, CSR, OCSP/TSA request) could not be parsed."""

    problem = "malformed-input"
    title = "Malformed input"


class UnsupportedAlgorithm(InvalidInput):
    """An algorithm, curve or key type that trustsvc does not support here."""

    problem = "unsupported-algorithm"
    title = "Unsupported algorithm"


class PayloadTooLarge(InvalidInput):
    """An upload, archive or archive member is over its configured limit."""

    status = 413
    problem = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(InvalidInput):
    status = 415
    problem = "unsupported-media-type"
    title = "Unsupported media type"


# --- cryptography --------------------------------------------------------------------------------


class InvalidSignature(TrustsvcError):
    """A signature does not verify (wrong key, wrong data, wrong user ID, or malformed value)."""

    status = 422
    problem = "invalid-signature"
    title = "Signature does not verify"


class CryptoBackendUnavailable(TrustsvcError):
    """The system crypto library lacks something trustsvc needs (e.g. an OpenSSL without SM2)."""

    status = 503
    problem = "crypto-backend-unavailable"
    title = "Crypto backend unavailable"


# --- keys ----------------------------------------------------------------------------------------


class KeyStoreError(TrustsvcError):
    status = 500
    problem = "key-store-error"
    title = "Key store error"


class KeyNotFound(KeyStoreError):
    status = 404
    problem = "key-not-found"
    title = "Key not found"


class WrongMasterKey(KeyStoreError):
    """The software key store's master key does not open the stored keys."""

    status = 503
    problem = "wrong-master-key"
    title = "Key store master key is wrong"


# --- resources and access ------------------------------------------------------------------------


class NotFound(TrustsvcError):
    status = 404
    problem = "not-found"
    title = "Not found"


class Conflict(TrustsvcError):
    status = 409
    problem = "conflict"
    title = "Conflict"


class InvalidState(Conflict):
    """The object exists but its lifecycle state forbids the operation (e.g. a suspended seal)."""

    problem = "invalid-state"
    title = "Operation not allowed in the current state"


class Unauthorized(TrustsvcError):
    status = 401
    problem = "unauthorized"
    title = "Authentication required"


class Forbidden(TrustsvcError):
    status = 403
    problem = "forbidden"
    title = "Not allowed"


class UpstreamUnavailable(TrustsvcError):
    """A service we depend on (a TSA, an OCSP responder, another province's endpoint) did not answer."""

    status = 503
    problem = "upstream-unavailable"
    title = "Upstream service unavailable"


class ConfigurationError(TrustsvcError):
    status = 500
    problem = "configuration-error"
    title = "Configuration error"


class AuditChainBroken(TrustsvcError):
    """The audit log's hash chain does not verify; ``record`` names the first bad record."""

    status = 500
    problem = "audit-chain-broken"
    title = "Audit chain broken"
