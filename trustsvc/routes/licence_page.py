"""The human page behind a licence's QR code: ``GET /licenses/<identifier>/status`` for a browser.

The QR code on every licence carries the public status URL. Machine clients (curl sends ``*/*``, the SDK and
the verifier send ``application/json`` or nothing) keep getting the signed JSON answer; a client that
prefers ``text/html`` to ``application/json`` (a phone browser) gets this page, Chinese first, English
second. ``?format=json|html`` overrides the Accept header.

The page is a convenience, not evidence: it is unsigned, and says so, linking to the signed answer.

**Personal data** (decision): the URL is public and printed on the licence, so the page shows only what the
signed answer publishes — status, since when, type, issuer, identifier, validity and the files' SM3 — and
never the holder's name or code nor any field value (a citizen ID is personal information under PIPL). It
is built from :class:`~trustsvc.license.issuance.LicenceStatus`, which carries none of them. The revocation
reason is not published either.

**Caching** (decision): ``Cache-Control: no-cache``. The page shows the status *now* and the time it was
produced; a cached page could show 有效 after a revocation with nothing signed to tell the reader how old it
is, while the signed JSON answer carries its own ``produced_at``. Status look-ups are cheap reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from flask import Response, request

from trustsvc.errors import InvalidInput, TrustsvcError
from trustsvc.license.identifier import parse
from trustsvc.license.issuance import LicenceStatus
from trustsvc.license.models import LicenceState, RevocationKind
from trustsvc.verify.report import template_environment

TEMPLATE_NAME: Final = "licence_status.html"

#: No script, no frame, no form, nothing fetched: the page is one HTML document with an inline style.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_HTML: Final = "text/html"
_JSON: Final = "application/json"
_FORMATS: Final = ("json", "html")
_CHINA: Final = timezone(timedelta(hours=8))

_VERDICTS: Final[dict[str, tuple[str, str, str]]] = {
    LicenceState.VALID.value: ("有效", "Valid", "valid"),
    LicenceState.SUPERSEDED.value: ("已被新版本替代", "Superseded by a newer version", "superseded"),
    LicenceState.EXPIRED.value: ("已过期", "Expired", "expired"),
    RevocationKind.CANCELLED.value: ("已注销", "Cancelled", "revoked"),
    RevocationKind.REVOKED.value: ("已吊销", "Revoked", "revoked"),
}


def wants_html() -> bool:
    """Return whether to answer the page: ``?format=``, else the client prefers text/html to JSON.

    No Accept header and ``*/*`` rate both equally (or not at all), so they keep the JSON answer.
    """
    chosen = request.args.get("format")
    if chosen is not None:
        if chosen not in _FORMATS:
            raise InvalidInput("format must be json or html", field="format", rule="enum")
        return chosen == "html"
    accept = request.accept_mimetypes
    return accept.quality(_HTML) > accept.quality(_JSON)


def page_response(status: LicenceStatus, type_name: str | None, *, now: datetime, newer_url: str) -> Response:
    """Return the page for ``status``; ``newer_url``: the newer version's public URL when superseded."""
    context = {"licence": _licence(status, type_name, newer_url), "error": None, "produced": _times(now)}
    return _html(context, 200)


def error_page_response(error: TrustsvcError, identifier: str) -> Response:
    """Return the page for an unknown (404) or malformed (400) identifier."""
    context = {
        "licence": None,
        "error": {"status": error.status, "identifier": identifier[:128], "detail": error.detail},
        "produced": None,
    }
    return _html(context, error.status)


def _html(context: dict[str, Any], status: int) -> Response:
    body = template_environment().get_template(TEMPLATE_NAME).render(**context)
    response = Response(body, status=status, mimetype=_HTML)
    response.cache_control.no_cache = True
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.vary.add("Accept")
    return response


def _licence(status: LicenceStatus, type_name: str | None, newer_url: str) -> dict[str, Any]:
    kind = status.revocation_kind.value if status.revocation_kind is not None else None
    verdict = _VERDICTS[kind if status.status is LicenceState.REVOKED and kind else status.status.value]
    return {
        "identifier": status.identifier,
        "version": parse(status.identifier, allow_legacy=True).version,
        "state": status.status.value,
        "verdict_zh": verdict[0],
        "verdict_en": verdict[1],
        "css": verdict[2],
        "since": _times(status.since),
        "type_code": status.type_code,
        "type_name": type_name,
        "issuer_code": status.issuer_code,
        "issuer_name": status.issuer_name,
        "valid_from": status.valid_from.isoformat(),
        "valid_to": status.valid_to.isoformat() if status.valid_to is not None else None,
        "superseded_by": status.superseded_by,
        "superseded_url": newer_url if status.superseded_by is not None else None,
        "pdf_sm3": status.pdf_sm3,
        "ofd_sm3": status.ofd_sm3,
    }


def _times(moment: datetime) -> dict[str, str]:
    return {
        "china": moment.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "utc": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
