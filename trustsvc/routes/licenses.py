"""E-licences over HTTP: issuance at case completion, files, revocation (API key), and public status.

Authenticated (API key):

* ``POST /api/v1/licenses`` (role business-system): ``{"case_id", "matter_code", "type_code", "holder":
  {"name"?, "code"?}?, "fields": {…}, "es_id"?}`` → 201 with the identifier, status URL and download URLs;
  the same case again → 200 with the same licence (idempotent on the API key's name and the case id); a
  different request under a used case id → 409. A bad field → 400 naming it (``field``, ``rule``).
* ``GET /api/v1/licenses/<identifier>/licence.pdf`` and ``.../licence.ofd``: the sealed files, for the issuing
  system only (the API key's name that issued them; 403 for another).
* ``POST /api/v1/licenses/<identifier>/revoke`` (business-system, the issuing system only; or admin):
  ``{"kind": "注销" | "吊销", "reason": "…"}``.

Public: ``GET /licenses/<identifier>/status`` (the path the trust list advertises) and its alias
``GET /api/v1/licenses/<identifier>/status`` — the signed status answer
(:mod:`trustsvc.license.issuance`), cacheable for at most
:data:`~trustsvc.license.issuance.STATUS_REFRESH_SECONDS` with an ETag; ``?nonce=`` gets a fresh, uncached
answer. An unknown identifier is a 404 problem, a malformed one a 400 naming the part.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from trustsvc.auth import Role
from trustsvc.errors import InvalidInput
from trustsvc.license.issuance import STATUS_REFRESH_SECONDS, LicenceRecord
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.routes.body import json_object
from trustsvc.routes.signed_answers import signed_answer_response

bp = Blueprint("licenses", __name__)

_ISSUE_FIELDS = frozenset({"case_id", "matter_code", "type_code", "holder", "fields", "es_id"})
_FILES = {"pdf": "application/pdf", "ofd": "application/ofd"}


# --- public --------------------------------------------------------------------------------------


@bp.get("/licenses/<identifier>/status")
@bp.get("/api/v1/licenses/<identifier>/status")
def licence_status(identifier: str) -> Response:
    nonce = request.args.get("nonce")
    service = current_service()
    answer, produced = service.licences.signed_status(identifier, nonce=nonce)
    return signed_answer_response(
        answer, produced, now=service.clock(), refresh_seconds=STATUS_REFRESH_SECONDS, nonce=nonce
    )


# --- issuing systems -----------------------------------------------------------------------------


@bp.post("/api/v1/licenses")
@require_api_key(Role.BUSINESS_SYSTEM.value)
def issue_licence() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    unknown = sorted(set(body) - _ISSUE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_ISSUE_FIELDS))}",
            field=unknown[0],
            rule="unknown field",
        )
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise InvalidInput("fields is required: an object of the licence type's fields", field="fields")
    holder = body.get("holder")
    if holder is not None and not isinstance(holder, dict):
        raise InvalidInput("holder must be an object: {name, code}", field="holder", rule="type")
    caller = current_caller()
    record, created = current_service().licences.issue(
        caller.name,
        body.get("case_id"),  # type: ignore[arg-type]  # checked by the service, naming the field
        body.get("matter_code"),  # type: ignore[arg-type]
        body.get("type_code"),  # type: ignore[arg-type]
        holder,
        fields,
        body.get("es_id"),
        principal=caller.actor,
    )
    location = url_for("licenses.licence_status", identifier=record.identifier)
    return jsonify(_licence_json(record, created=created)), 201 if created else 200, {"Location": location}


@bp.get("/api/v1/licenses/<identifier>/licence.pdf", defaults={"fmt": "pdf"})
@bp.get("/api/v1/licenses/<identifier>/licence.ofd", defaults={"fmt": "ofd"})
@require_api_key()
def licence_file(identifier: str, fmt: str) -> Response:
    record = current_service().licences.files_for(identifier, current_caller().name)
    data = record.pdf if fmt == "pdf" else record.ofd
    response = Response(data, mimetype=_FILES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{record.identifier}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.set_etag(record.pdf_sm3 if fmt == "pdf" else record.ofd_sm3)
    return response


@bp.post("/api/v1/licenses/<identifier>/revoke")
@require_api_key(Role.BUSINESS_SYSTEM.value, Role.ADMIN.value)
def revoke_licence(identifier: str) -> Response:
    body = json_object()
    caller = current_caller()
    record = current_service().licences.revoke(
        identifier,
        body.get("reason"),  # type: ignore[arg-type]  # checked by the service
        kind=body.get("kind"),  # type: ignore[arg-type]
        actor=caller.actor,
        system=None if Role.ADMIN.value in caller.roles else caller.name,
    )
    return jsonify(_licence_json(record))


# --- plumbing ------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _licence_json(record: LicenceRecord, *, created: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identifier": record.identifier,
        "type_code": record.type_code,
        "type_name": record.type_name,
        "issuer_code": record.issuer_code,
        "issuer_name": record.issuer_name,
        "case_id": record.case_id,
        "matter_code": record.matter_code,
        "holder": {
            "name": record.holder_name,
            "code": record.holder_code,
            "code_type": record.holder_code_type,
        },
        "status": record.status.value,
        "status_changed_at": _iso(record.status_changed_at),
        "issued_on": _day(record.issued_on),
        "valid_from": _day(record.valid_from),
        "valid_to": _day(record.valid_to),
        "es_id": record.es_id,
        "status_url": current_service().licences.status_url(record.identifier),
        "downloads": {
            fmt: url_for("licenses.licence_file", identifier=record.identifier, fmt=fmt) for fmt in _FILES
        },
        "files": {"pdf_sm3": record.pdf_sm3, "ofd_sm3": record.ofd_sm3},
    }
    if record.revocation_kind is not None:
        body["revocation_kind"] = record.revocation_kind.value
        body["reason"] = record.reason
    if created is not None:
        body["created"] = created
    return body
