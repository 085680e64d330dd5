"""The WSGI application factory.

Every error leaves as ``application/problem+json`` (RFC 9457): a :class:`TrustsvcError` with its own
status and body, an HTTP error from routing or Werkzeug with its code, anything else as a bare 500
that is logged in full here and says nothing about internals to the caller.
"""

from __future__ import annotations

import copy
import json
import logging
from functools import cache
from importlib import resources
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from trustsvc.config import Settings
from trustsvc.errors import PayloadTooLarge, TrustsvcError, Unauthorized
from trustsvc.routes import ca, documents, health, license_types, licenses, seals, status, trustlist, verify
from trustsvc.service import TrustService

log = logging.getLogger("trustsvc.api")

PROBLEM_JSON = "application/problem+json"


def create_app(settings: Settings | None = None, *, service: TrustService | None = None) -> Flask:
    """Return the trustsvc Flask application over ``service`` (built from ``settings`` if not given)."""
    if service is None:
        service = TrustService.from_settings(settings or Settings.from_env())
    app = Flask(__name__, static_folder="web/static", template_folder="web/templates")
    app.config["MAX_CONTENT_LENGTH"] = service.settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["trustsvc"] = service
    service.warn_placeholders()

    app.before_request(_refuse_oversized_body)
    app.register_error_handler(TrustsvcError, _trustsvc_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    app.register_blueprint(health.bp)
    app.register_blueprint(ca.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(seals.bp)
    app.register_blueprint(trustlist.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(licenses.bp)
    app.register_blueprint(license_types.bp)
    app.add_url_rule("/openapi.json", "openapi", _openapi)
    return app


def problem_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    """Return a problem+json response."""
    response = Response(
        json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=PROBLEM_JSON
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _refuse_oversized_body() -> None:
    # Werkzeug enforces the limit only when a view reads the body; refuse early for every route.
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _trustsvc_error(exc: TrustsvcError) -> Response:
    if exc.status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.detail, exc_info=exc)
    headers = {"WWW-Authenticate": 'Bearer realm="trustsvc"'} if isinstance(exc, Unauthorized) else None
    return problem_response(exc.to_problem(), exc.status, headers)


def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return _trustsvc_error(PayloadTooLarge(f"request body is over the limit of {limit} bytes"))
    status = exc.code or 500
    body = {"type": "about:blank", "title": exc.name, "status": status, "detail": exc.description or exc.name}
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return problem_response(body, status, headers)


def _unexpected_error(exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.path)
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server could not complete the request; the error has been logged.",
    }
    return problem_response(body, 500)


@cache
def openapi_document() -> dict[str, Any]:
    """Return the packaged OpenAPI document (``trustsvc/web/openapi.json``)."""
    text = resources.files("trustsvc").joinpath("web/openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _openapi() -> Response:
    document = copy.deepcopy(openapi_document())
    service: TrustService = current_app.extensions["trustsvc"]
    document["servers"] = [{"url": service.settings.public_base_url}]
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/json")
