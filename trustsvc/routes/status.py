"""OCSP and time-stamping over HTTP (RFC 6960 Appendix A, RFC 5019 §5–6, RFC 3161 §3.4). Public, no key.

* ``POST /ocsp`` (``application/ocsp-request``) and ``GET /ocsp/<base64 of the DER request>`` answer
  ``application/ocsp-response``. The GET path is the standard base64 of RFC 6960 Appendix A.1, URL-encoded
  or not (``%2F``/``/``, ``%2B``/``+``, ``%3D``/``=``, a space where a proxy turned ``+`` into one, missing
  padding) and base64url; slashes are never merged or redirected.
* **Errors speak OCSP**: a request that is not a well-formed OCSP request, by POST or by GET, gets HTTP 200
  with the unsigned ``malformedRequest`` OCSPResponse; a CA we do not answer for ``unauthorized``; a failure
  of ours ``internalError``. RFC 6960 §2.3 defines these as the responder's answers and Appendix A.1 gives
  no HTTP status for them; the HTTP clients of OCSP (OpenSSL's among them) read an OCSP status only from a
  200 answer and report anything else as a transport failure. Only what is not OCSP at all is refused in
  HTTP terms, as problem+json: another Content-Type on POST (415), a body over the request size limit (413).
* **Caching (RFC 5019 §6.2)**: a response without nonce carries ``Cache-Control: max-age=<until the
  service will have re-signed it, never past nextUpdate>, public, no-transform, must-revalidate``,
  ``ETag`` (SHA-1 of the response, as RFC 5019 suggests: a validator, no security rests on it),
  ``Last-Modified`` (producedAt) and ``Expires`` (nextUpdate); ``If-None-Match`` on GET gets 304. A
  response echoing a nonce is ``no-cache``; error statuses are ``no-store``.
* ``POST /tsa`` (SM2) and ``POST /tsa/<hierarchy>`` (``ecdsa``, ``rsa``; ``sm2`` too) take
  ``application/timestamp-query`` and answer ``application/timestamp-reply``, ``no-store``: granted, or a
  rejection with the PKIFailureInfo (badDataFormat for bytes that are not a request), HTTP 200 either way
  (RFC 3161 §3.4: the status is in the TimeStampResp). Wrong Content-Type 415, oversized 413, a hierarchy
  with no TSA 404 (problem+json).
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request
from werkzeug.http import http_date, quote_etag
from werkzeug.routing import BaseConverter

from trustsvc.ca.ocsp import MAX_REQUEST_SIZE as MAX_OCSP_REQUEST_SIZE
from trustsvc.ca.status import OcspAnswer
from trustsvc.ca.tsa import MAX_REQUEST_SIZE as MAX_TSA_REQUEST_SIZE
from trustsvc.errors import PayloadTooLarge, UnsupportedMediaType
from trustsvc.routes.auth import current_service

bp = Blueprint("status", __name__)

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"


class _AnyPath(BaseConverter):
    """The rest of the path, slashes included, even leading or doubled ones (base64 has '/')."""

    regex = ".*"
    part_isolating = False


@bp.record_once
def _register_converter(state: object) -> None:
    state.app.url_map.converters.setdefault("anypath", _AnyPath)  # type: ignore[attr-defined]


# --- OCSP ----------------------------------------------------------------------------------------


@bp.post("/ocsp")
def ocsp_post() -> Response:
    body = _body(OCSP_REQUEST, MAX_OCSP_REQUEST_SIZE)
    return _ocsp_response(current_service().ocsp.respond(body), conditional=False)


@bp.get("/ocsp/<anypath:encoded>", merge_slashes=False)
def ocsp_get(encoded: str) -> Response:
    return _ocsp_response(current_service().ocsp.respond_get(encoded), conditional=True)


def _ocsp_response(answer: OcspAnswer, *, conditional: bool) -> Response:
    if answer.status != "successful":
        return _response(answer.der, "no-store")
    if not answer.cacheable or answer.refresh_at is None or answer.next_update is None:
        return _response(answer.der, "no-cache")
    now = current_service().clock()
    max_age = max(0, int((answer.refresh_at - now).total_seconds()))
    etag = hashlib.sha1(answer.der, usedforsecurity=False).hexdigest()
    # One header list, handed to the Response: a few µs less than Werkzeug's per-header setters.
    headers = [
        ("Cache-Control", f"max-age={max_age}, public, no-transform, must-revalidate"),
        ("ETag", quote_etag(etag)),
        ("Last-Modified", http_date(answer.produced_at)),
        ("Expires", http_date(answer.next_update)),
    ]
    if conditional and "HTTP_IF_NONE_MATCH" in request.environ and request.if_none_match.contains(etag):
        # A 304 carries the validators and caching headers of the full answer, not its body.
        not_modified = Response(status=304, headers=headers)
        not_modified.headers.pop("Content-Type", None)
        return not_modified
    return Response(answer.der, headers=headers, mimetype=OCSP_RESPONSE)


def _response(der: bytes, cache_control: str) -> Response:
    return Response(der, headers=[("Cache-Control", cache_control)], mimetype=OCSP_RESPONSE)


# --- time-stamps ---------------------------------------------------------------------------------


@bp.post("/tsa")
def tsa() -> Response:
    return _tsa_response("sm2")


@bp.post("/tsa/<hierarchy>")
def tsa_of(hierarchy: str) -> Response:
    return _tsa_response(hierarchy)


def _tsa_response(hierarchy: str) -> Response:
    body = _body(TIMESTAMP_QUERY, MAX_TSA_REQUEST_SIZE)
    result = current_service().tsa.respond(body, hierarchy=hierarchy)
    response = Response(result.der, mimetype=TIMESTAMP_REPLY)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- plumbing ------------------------------------------------------------------------------------


def _body(mimetype: str, limit: int) -> bytes:
    """Return the request body; 415 for another Content-Type, 413 past ``limit`` bytes."""
    if request.mimetype != mimetype:
        raise UnsupportedMediaType(f"send the request as {mimetype}")
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"a request is limited to {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"a request is limited to {limit} bytes")
    return body
