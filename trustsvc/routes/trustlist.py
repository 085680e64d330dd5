"""Trust lists over HTTP: our signed list (public) and the lists imported from other territories (API key).

Public: ``GET /trust-list`` — our list, signed with SM2 (``trustsvc-signed-json/1``, ``application/json``);
``?alg=ecdsa`` (or ``rsa``) the same payload signed by that hierarchy's signer. ETag (SHA-256 of the
document), Last-Modified (issued_at), Expires (next_update) and a Cache-Control max-age that ends when the
service will re-sign it (never after next_update), so caches and CDNs may serve it; If-None-Match gets 304.

Authenticated: ``GET /api/v1/trust-lists`` and ``GET /api/v1/trust-lists/<name>`` (admin, auditor);
``POST /api/v1/trust-lists`` imports (admin): ``{"name", "url" | "document", "signer_certificate" (PEM) |
"signer_spki_sha256"}``; ``POST /api/v1/trust-lists/<name>/refresh`` (admin) fetches again — 502 when the
list cannot be fetched, the stored issue kept; ``DELETE /api/v1/trust-lists/<name>`` (admin).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from asn1crypto import pem
from flask import Blueprint, Response, jsonify, request, url_for

from trustsvc.auth import Role
from trustsvc.errors import InvalidInput
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.routes.body import json_object, required_string
from trustsvc.verify.trustlist import DEFAULT_HIERARCHY, ImportResult, Pin, Publication

bp = Blueprint("trustlist", __name__)

_ADMINS = (Role.ADMIN.value,)
_READERS = (Role.ADMIN.value, Role.AUDITOR.value)


@bp.get("/trust-list")
def trust_list() -> Response:
    service = current_service()
    publication = service.trust.current(request.args.get("alg", DEFAULT_HIERARCHY))
    return _publication_response(publication, service.clock())


def _publication_response(publication: Publication, now: datetime) -> Response:
    etag = hashlib.sha256(publication.document).hexdigest()[:32]
    response = Response(publication.document, mimetype="application/json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = max(0, int((publication.refresh_at - now).total_seconds()))
    response.last_modified = publication.issued_at
    response.expires = publication.next_update
    response.headers["X-Trust-List-Sequence"] = str(publication.sequence)
    if request.if_none_match.contains(etag):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
    return response


@bp.get("/api/v1/trust-lists")
@require_api_key(*_READERS)
def list_trust_lists() -> Response:
    trust = current_service().trust
    own = trust.published()
    return jsonify(
        {
            "own": None
            if own is None
            else {
                "sequence": own.sequence,
                "issued_at": _iso(own.issued_at),
                "next_update": _iso(own.next_update),
                "hierarchies": trust.hierarchies(),
            },
            "lists": [item.to_json() for item in trust.lists()],
        }
    )


@bp.get("/api/v1/trust-lists/<name>")
@require_api_key(*_READERS)
def get_trust_list(name: str) -> Response:
    trust = current_service().trust
    body = trust.get(name).to_json()
    body["entries_detail"] = [
        {
            "kind": entry.kind.value,
            "name": entry.name,
            "sha256": entry.sha256,
            "organisation": {"name": entry.organisation_name, "uscc": entry.organisation_uscc},
            "valid_until": _iso(entry.valid_until),
            "services": entry.services.to_json(),
        }
        for entry in trust.entries(name)
    ]
    return jsonify(body)


@bp.post("/api/v1/trust-lists")
@require_api_key(*_ADMINS)
def import_trust_list() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    name = required_string(body, "name")
    pin = _pin(body)
    url, document = body.get("url"), body.get("document")
    if (url is None) == (document is None):
        raise InvalidInput("give either url or document")
    trust, actor = current_service().trust, current_caller().actor
    if url is not None:
        result = trust.import_url(name, required_string(body, "url"), pin=pin, actor=actor)
    else:
        if isinstance(document, dict):
            data = json.dumps(document).encode("utf-8")
        elif isinstance(document, str):
            data = document.encode("utf-8")
        else:
            raise InvalidInput("document is the trust list envelope, as a JSON object or a string")
        result = trust.import_list(name, data, pin=pin, actor=actor)
    location = url_for("trustlist.get_trust_list", name=result.list.name)
    status = 201 if result.outcome == "imported" else 200
    return jsonify(_result_json(result)), status, {"Location": location}


@bp.post("/api/v1/trust-lists/<name>/refresh")
@require_api_key(*_ADMINS)
def refresh_trust_list(name: str) -> Response:
    result = current_service().trust.refresh(name, actor=current_caller().actor)
    return jsonify(_result_json(result))


@bp.delete("/api/v1/trust-lists/<name>")
@require_api_key(*_ADMINS)
def remove_trust_list(name: str) -> tuple[str, int]:
    current_service().trust.remove(name, actor=current_caller().actor)
    return "", 204


# --- plumbing ------------------------------------------------------------------------------------


def _result_json(result: ImportResult) -> dict[str, Any]:
    return {"outcome": result.outcome, "previous_sequence": result.previous_sequence, **result.list.to_json()}


def _pin(body: dict[str, Any]) -> Pin:
    certificate, spki = body.get("signer_certificate"), body.get("signer_spki_sha256")
    if (certificate is None) == (spki is None):
        raise InvalidInput("pin the signer with either signer_certificate (PEM) or signer_spki_sha256")
    if certificate is not None:
        if not isinstance(certificate, str) or not pem.detect(certificate.encode("utf-8")):
            raise InvalidInput("signer_certificate must be a PEM certificate")
        return Pin.from_certificate(certificate.encode("utf-8"))
    if not isinstance(spki, str):
        raise InvalidInput("signer_spki_sha256 must be a string")
    return Pin.from_spki_sha256(spki)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
