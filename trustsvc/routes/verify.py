"""Verifying documents over HTTP: ``POST /api/v1/verify`` (public).

The document comes as the request body (any content type) or as the ``multipart/form-data`` part ``file``;
``?strict=true`` turns off the tolerance for other vendors' known deviations. The answer is the JSON report
of :meth:`~trustsvc.verify.result.VerificationResult.to_json` (docs/VERIFY-REPORT.md) with status 200 whatever
the verdict; ``?format=html|pdf|signed`` (or the Accept header ``text/html``, ``application/pdf``,
``application/vnd.trustsvc.signed-report+json``) gives the human report or the report signed by the service
(trustsvc.verify.report; ``?lang=zh|en|zh-en`` for the human ones; 406 for another format). Failures are
problem+json 4xx: 413 over ``Settings.max_content_length``, 415 for what is not a PDF, an OFD or an
SES_Signature, 400 for an unreadable one, 429 when a client asks too often.

Rate limit: a token bucket per client address in this process (:class:`TokenBucket`, ``VERIFY_RATE`` requests
per second, bursts of ``VERIFY_BURST``). It protects a single instance from one noisy client; a production
deployment runs several processes and rate-limits at the reverse proxy (per real client IP), which this does
not replace — behind a proxy ``remote_addr`` is the proxy's address unless the WSGI server is configured to
trust ``X-Forwarded-For``.
"""

from __future__ import annotations

import threading
import time
from typing import Final, cast

from flask import Blueprint, Response, jsonify, request

from trustsvc.errors import InvalidInput, TrustsvcError
from trustsvc.routes.auth import current_service

bp = Blueprint("verify", __name__)

VERIFY_RATE: Final = 2.0
VERIFY_BURST: Final = 20
_TRUE: Final = ("true", "1", "yes", "on")


class TooManyRequests(TrustsvcError):
    status = 429
    problem = "too-many-requests"
    title = "Too many requests"


class NotAcceptable(TrustsvcError):
    status = 406
    problem = "not-acceptable"
    title = "Not acceptable"


#: Media type of a signed report (the ``trustsvc-signed-json/1`` envelope, trustsvc.verify.report).
SIGNED_REPORT: Final = "application/vnd.trustsvc.signed-report+json"
REPORT_FORMATS: Final = ("json", "html", "pdf", "signed")
_BY_MEDIA_TYPE: Final = {
    "application/json": "json",
    "text/html": "html",
    "application/pdf": "pdf",
    SIGNED_REPORT: "signed",
}


class TokenBucket:
    """Per-key token buckets: ``rate`` tokens per second, at most ``burst``; thread-safe, bounded in size."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``; return 0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # crude but bounded: a flood of addresses resets everyone
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0


limiter = TokenBucket(VERIFY_RATE, VERIFY_BURST)


@bp.post("/api/v1/verify")
def verify() -> Response:
    wait = limiter.take(request.remote_addr or "-")
    if wait > 0:
        from trustsvc.api import problem_response  # the app factory imports this module

        retry = int(wait) + 1
        error = TooManyRequests(f"too many verifications; retry in {retry} s")
        return problem_response(error.to_problem(), error.status, {"Retry-After": str(retry)})
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("the multipart request has no part named file", field="file")
        data = upload.read()
    else:
        data = request.get_data(cache=False)
    if not data:
        raise InvalidInput("no document: send it as the body or as the multipart part file")
    strict = request.args.get("strict", "").lower() in _TRUE
    kind = _report_format()
    lang = request.args.get("lang", "zh-en")
    if lang not in ("zh", "en", "zh-en"):
        raise InvalidInput(f"unknown report language {lang!r}; expected zh, en or zh-en", field="lang")
    service = current_service()
    result = service.verifier.verify(data, lenient=not strict)
    if kind == "json":
        response = jsonify(result.to_json())
    else:
        from trustsvc.verify import report

        if kind == "html":
            html = report.render_html(result, lang=cast("report.Lang", lang))
            response = Response(html, mimetype="text/html")
        elif kind == "pdf":
            pdf = report.render_pdf(result, lang=cast("report.Lang", lang))
            response = Response(pdf, mimetype="application/pdf")
        else:
            signer, chain = service.trust.service_signer()
            signed = report.sign_report(report.report_json(result), signer, chain)
            response = Response(signed, mimetype=SIGNED_REPORT)
        response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-store"
    return response


def _report_format() -> str:
    """Return json, html, pdf or signed: ``?format=`` first, else the Accept header, else json."""
    asked = request.args.get("format")
    if asked is not None:
        if asked not in REPORT_FORMATS:
            raise NotAcceptable(f"unknown report format {asked!r}; expected one of {sorted(REPORT_FORMATS)}")
        return asked
    if not request.accept_mimetypes:
        return "json"
    best = request.accept_mimetypes.best_match(list(_BY_MEDIA_TYPE))
    if best is None:
        raise NotAcceptable(f"the report is served as one of {sorted(_BY_MEDIA_TYPE)}")
    return _BY_MEDIA_TYPE[best]
