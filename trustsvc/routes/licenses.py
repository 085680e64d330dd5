"""E-licences over HTTP: issuance at case completion, files, revocation (API key), and public status.

Authenticated (API key):

* ``POST /api/v1/licenses`` (role business-system): ``{"case_id", "matter_code", "type_code", "holder":
  {"name"?, "code"?}?, "fields": {…}, "es_id"?}`` → 201 with the identifier, status URL and download URLs;
  the same case again → 200 with the same licence (idempotent on the API key's name and the case id); a
  different request under a used case id → 409. A bad field → 400 naming it (``field``, ``rule``).
* ``GET /api/v1/licenses/<identifier>/licence.pdf`` and ``.../licence.ofd``: the sealed files, for the issuing
  system only (the API key's name that issued them; 403 for another).
* ``POST /api/v1/licenses/<identifier>/revoke`` (business-system, the issuing system only; or admin):
  ``{"kind": "注销" | "吊销", "reason": "…"}``; a superseded version is 409 naming ``latest``.
* ``POST /api/v1/licenses/<identifier>/change`` (business-system, the issuing system only): ``{"case_id",
  "matter_code", "fields", "holder"?, "reason", "es_id"?}`` → 201 with the next version (变更); the same
  change case again → 200. Issuance and change answers carry ``holder_downloads``: the holder's links.
* ``POST /api/v1/licenses/<identifier>/holder-token`` (business-system, the issuing system only; or admin):
  a new holder token for that version (the old links stop working) → 200 with the new ``holder_downloads``.
* ``GET /api/v1/licenses/export?since=&type_code=`` (admin or auditor): every licence version's catalogue
  record as JSON lines (``application/x-ndjson``), streamed, ending with the trailer line ``{"export_end":
  true, "count", "started_at", "next_since"}`` (missing: the export was cut off); audited.

Public, holder capability: ``GET /licenses/<identifier>/licence.pdf|.ofd?token=…`` — the file when the token
is the version's holder token; an unknown identifier and a wrong or missing token are the same 404.

Public: ``GET /licenses/<identifier>/status`` (the path the trust list advertises) and its alias
``GET /api/v1/licenses/<identifier>/status`` — the signed status answer
(:mod:`trustsvc.license.issuance`), cacheable for at most
:data:`~trustsvc.license.issuance.STATUS_REFRESH_SECONDS` with an ETag; ``?nonce=`` gets a fresh, uncached
answer. An unknown identifier is a 404 problem, a malformed one a 400 naming the part. A client preferring
``text/html`` (a browser that scanned the QR code) or ``?format=html`` gets the human page instead
(:mod:`trustsvc.routes.licence_page`; 404 / 400 pages likewise); both answers vary on Accept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context, url_for

from trustsvc.auth import Role
from trustsvc.errors import InvalidInput, NotFound
from trustsvc.license.issuance import (
    STATUS_REFRESH_SECONDS,
    LicenceExport,
    LicenceRecord,
    export_line,
    parse_since,
)
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.routes.body import json_object
from trustsvc.routes.licence_page import error_page_response, page_response, wants_html
from trustsvc.routes.signed_answers import signed_answer_response
from trustsvc.seal.status import iso

bp = Blueprint("licenses", __name__)

_ISSUE_FIELDS = frozenset({"case_id", "matter_code", "type_code", "holder", "fields", "es_id"})
_CHANGE_FIELDS = frozenset({"case_id", "matter_code", "holder", "fields", "reason", "es_id"})
_FILES = {"pdf": "application/pdf", "ofd": "application/ofd"}


# --- public --------------------------------------------------------------------------------------


@bp.get("/licenses/<identifier>/status")
@bp.get("/api/v1/licenses/<identifier>/status")
def licence_status(identifier: str) -> Response:
    if wants_html():
        return _status_page(identifier)
    service = current_service()
    nonce = request.args.get("nonce")
    answer, produced = service.licences.signed_status(identifier, nonce=nonce)
    response = signed_answer_response(
        answer, produced, now=service.clock(), refresh_seconds=STATUS_REFRESH_SECONDS, nonce=nonce
    )
    response.vary.add("Accept")
    return response


def _status_page(identifier: str) -> Response:
    """The human page (trustsvc.routes.licence_page); an unknown or malformed identifier is a page too."""
    service = current_service()
    try:
        status = service.licences.status(identifier)
    except (NotFound, InvalidInput) as error:
        return error_page_response(error, identifier)
    newer = service.licences.status_url(status.superseded_by) if status.superseded_by is not None else ""
    type_name = service.licences.type_name(status.type_code)
    return page_response(status, type_name, now=service.clock(), newer_url=newer)


@bp.get("/licenses/<identifier>/licence.pdf", defaults={"fmt": "pdf"})
@bp.get("/licenses/<identifier>/licence.ofd", defaults={"fmt": "ofd"})
def holder_licence_file(identifier: str, fmt: str) -> Response:
    record = current_service().licences.holder_file(identifier, request.args.get("token"))
    response = _file_response(record, fmt)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL: never pass it on
    return response


# --- issuing systems -----------------------------------------------------------------------------


@bp.post("/api/v1/licenses")
@require_api_key(Role.BUSINESS_SYSTEM.value)
def issue_licence() -> tuple[Response, int, dict[str, str]]:
    body = _request_body(_ISSUE_FIELDS)
    fields, holder = _fields_and_holder(body)
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
    return _made(record, created)


@bp.post("/api/v1/licenses/<identifier>/change")
@require_api_key(Role.BUSINESS_SYSTEM.value)
def change_licence(identifier: str) -> tuple[Response, int, dict[str, str]]:
    body = _request_body(_CHANGE_FIELDS)
    fields, holder = _fields_and_holder(body)
    caller = current_caller()
    record, created = current_service().licences.change(
        identifier,
        caller.name,
        body.get("case_id"),  # type: ignore[arg-type]  # checked by the service, naming the field
        body.get("matter_code"),  # type: ignore[arg-type]
        fields,
        holder,
        reason=body.get("reason"),  # type: ignore[arg-type]
        principal=caller.actor,
        es_id=body.get("es_id"),
    )
    return _made(record, created)


@bp.get("/api/v1/licenses/export")
@require_api_key(Role.ADMIN.value, Role.AUDITOR.value)
def export_licences() -> Response:
    records = current_service().licences.export(
        actor=current_caller().actor,
        since=parse_since(request.args.get("since")),
        type_code=request.args.get("type_code") or None,
    )
    response = Response(stream_with_context(_export_lines(records)), mimetype="application/x-ndjson")
    response.headers["Cache-Control"] = "no-store"
    return response


def _export_lines(records: LicenceExport) -> Iterator[str]:
    """The records as JSON lines, then the trailer line (a stream cut off by an error has none)."""
    try:
        for record in records:
            yield export_line(record)
        yield export_line(records.trailer())
    finally:
        records.close()  # a client that went away: the audit record counts what was sent


@bp.get("/api/v1/licenses/<identifier>/licence.pdf", defaults={"fmt": "pdf"})
@bp.get("/api/v1/licenses/<identifier>/licence.ofd", defaults={"fmt": "ofd"})
@require_api_key()
def licence_file(identifier: str, fmt: str) -> Response:
    record = current_service().licences.files_for(identifier, current_caller().name)
    return _file_response(record, fmt)


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


@bp.post("/api/v1/licenses/<identifier>/holder-token")
@require_api_key(Role.BUSINESS_SYSTEM.value, Role.ADMIN.value)
def rotate_holder_token(identifier: str) -> Response:
    caller = current_caller()
    licences = current_service().licences
    record = licences.rotate_holder_token(
        identifier,
        system=None if Role.ADMIN.value in caller.roles else caller.name,
        actor=caller.actor,
    )
    body = _licence_json(record)
    body["holder_downloads"] = licences.holder_download_urls(record)
    return jsonify(body)


# --- plumbing ------------------------------------------------------------------------------------


def _request_body(known: frozenset[str]) -> dict[str, Any]:
    """Return the JSON body; a key not in ``known`` is a 400 naming it (a typo must not drop a value)."""
    body = json_object()
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field=unknown[0],
            rule="unknown field",
        )
    return body


def _fields_and_holder(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise InvalidInput("fields is required: an object of the licence type's fields", field="fields")
    holder = body.get("holder")
    if holder is not None and not isinstance(holder, dict):
        raise InvalidInput("holder must be an object: {name, code}", field="holder", rule="type")
    return fields, holder


def _made(record: LicenceRecord, created: bool) -> tuple[Response, int, dict[str, str]]:
    """The issuance / change answer: the licence with the holder's links, 201 when made now, else 200."""
    body = _licence_json(record, created=created)
    body["holder_downloads"] = current_service().licences.holder_download_urls(record)
    location = url_for("licenses.licence_status", identifier=record.identifier)
    return jsonify(body), 201 if created else 200, {"Location": location}


def _file_response(record: LicenceRecord, fmt: str) -> Response:
    data = record.pdf if fmt == "pdf" else record.ofd
    response = Response(data, mimetype=_FILES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{record.identifier}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.set_etag(record.pdf_sm3 if fmt == "pdf" else record.ofd_sm3)
    return response


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _licence_json(record: LicenceRecord, *, created: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identifier": record.identifier,
        "version": record.version,
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
        "status_changed_at": iso(record.status_changed_at),
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
    if record.change_reason is not None:
        body["change_reason"] = record.change_reason
    if created is not None:
        body["created"] = created
    return body
