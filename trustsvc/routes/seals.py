"""Electronic seals over HTTP: making, reading and managing seals (API key), and their public status.

Authenticated (API key):

* ``POST /api/v1/seals`` makes a seal (roles seal-admin, admin); ``POST .../suspend``, ``.../resume``,
  ``.../revoke``, ``.../grants``, ``.../signers`` and ``DELETE .../grants/<principal>``,
  ``.../signers/<cert_sm3>`` manage it (seal-admin, admin).
* ``GET /api/v1/seals`` lists seals (seal-admin, admin, auditor: all; any other key: the seals it holds a
  grant on); ``GET /api/v1/seals/<es_id>`` (JSON, picture in base64), ``.../picture.png`` and
  ``.../seal.esl`` (the DER ``SESeal``) are readable by those roles and by keys granted the seal.

Public: ``GET /seals/<es_id>/status`` — the signed status answer (:mod:`trustsvc.seal.status`), cacheable
by any HTTP cache for at most :data:`~trustsvc.seal.registry.STATUS_REFRESH_SECONDS` with an ETag; with
``?nonce=`` a fresh answer carrying the nonce, not cacheable. An unknown esID is a 404 problem.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from asn1crypto import pem
from flask import Blueprint, Response, jsonify, request, url_for

from trustsvc.auth import Role
from trustsvc.errors import Forbidden, InvalidInput, MalformedInput
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.routes.body import json_object, optional_string, required_string
from trustsvc.routes.signed_answers import signed_answer_response
from trustsvc.seal.models import GrantRole
from trustsvc.seal.registry import STATUS_REFRESH_SECONDS, SealDetails, SealRecord

bp = Blueprint("seals", __name__)

_ADMINS = (Role.SEAL_ADMIN.value, Role.ADMIN.value)
_READERS = (Role.SEAL_ADMIN.value, Role.ADMIN.value, Role.AUDITOR.value)
_CREATE_FIELDS = frozenset(
    {
        "org_uscc",
        "org_name",
        "kind",
        "name",
        "department",
        "validity_days",
        "cert_list_type",
        "signer_certificate",
        "picture",
        "grants",
    }
)


# --- public --------------------------------------------------------------------------------------


@bp.get("/seals/<es_id>/status")
def seal_status(es_id: str) -> Response:
    nonce = request.args.get("nonce")
    service = current_service()
    answer, produced = service.seals.signed_status(es_id, nonce=nonce)
    return signed_answer_response(
        answer, produced, now=service.clock(), refresh_seconds=STATUS_REFRESH_SECONDS, nonce=nonce
    )


# --- making and managing -------------------------------------------------------------------------


@bp.post("/api/v1/seals")
@require_api_key(*_ADMINS)
def create_seal() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    unknown = sorted(set(body) - _CREATE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_CREATE_FIELDS))}"
        )
    picture = body.get("picture")
    if picture is not None and not isinstance(picture, dict):
        raise InvalidInput("picture must be an object of picture fields")
    grants = body.get("grants", [])
    if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
        raise InvalidInput("grants must be a list of principals (apikey:<prefix>, user:<name>)")
    kind = body.get("kind")
    if not isinstance(kind, str | int) or isinstance(kind, bool):
        raise InvalidInput("kind is required: a code (4) or name (contract)")
    made = current_service().seals.create_seal(
        required_string(body, "org_uscc"),
        required_string(body, "org_name"),
        kind,
        optional_string(body, "name"),
        actor=current_caller().actor,
        signer_cert=_certificate(body.get("signer_certificate")),
        department=optional_string(body, "department"),
        validity_days=_optional_int(body, "validity_days"),
        cert_list_type=_optional_int(body, "cert_list_type") or 1,
        picture=picture,
        authorised=grants,
    )
    location = url_for("seals.get_seal", es_id=made.seal.es_id)
    return jsonify(_details_json(made)), 201, {"Location": location}


@bp.post("/api/v1/seals/<es_id>/suspend")
@require_api_key(*_ADMINS)
def suspend_seal(es_id: str) -> Response:
    reason = required_string(json_object(), "reason")
    return jsonify(
        _details_json(current_service().seals.suspend(es_id, reason, actor=current_caller().actor))
    )


@bp.post("/api/v1/seals/<es_id>/resume")
@require_api_key(*_ADMINS)
def resume_seal(es_id: str) -> Response:
    reason = optional_string(json_object(optional=True), "reason")
    return jsonify(_details_json(current_service().seals.resume(es_id, reason, actor=current_caller().actor)))


@bp.post("/api/v1/seals/<es_id>/revoke")
@require_api_key(*_ADMINS)
def revoke_seal(es_id: str) -> Response:
    reason = required_string(json_object(), "reason")
    return jsonify(_details_json(current_service().seals.revoke(es_id, reason, actor=current_caller().actor)))


@bp.post("/api/v1/seals/<es_id>/grants")
@require_api_key(*_ADMINS)
def grant_seal(es_id: str) -> Response:
    body = json_object()
    details = current_service().seals.grant(
        es_id,
        required_string(body, "principal"),
        required_string(body, "role", default=GrantRole.SIGN.value),
        actor=current_caller().actor,
    )
    return jsonify(_details_json(details))


@bp.delete("/api/v1/seals/<es_id>/grants/<principal>")
@require_api_key(*_ADMINS)
def revoke_seal_grant(es_id: str, principal: str) -> Response:
    role = request.args.get("role", GrantRole.SIGN.value)
    details = current_service().seals.revoke_grant(es_id, principal, role, actor=current_caller().actor)
    return jsonify(_details_json(details))


@bp.post("/api/v1/seals/<es_id>/signers")
@require_api_key(*_ADMINS)
def add_seal_signer(es_id: str) -> Response:
    body = json_object(optional=True)
    details = current_service().seals.add_signer(
        es_id,
        actor=current_caller().actor,
        signer_cert=_certificate(body.get("certificate")),
        department=optional_string(body, "department"),
    )
    return jsonify(_details_json(details))


@bp.delete("/api/v1/seals/<es_id>/signers/<cert_sm3>")
@require_api_key(*_ADMINS)
def remove_seal_signer(es_id: str, cert_sm3: str) -> Response:
    revoke = request.args.get("revoke_certificate", "false").lower()
    if revoke not in ("true", "false"):
        raise InvalidInput("revoke_certificate is true or false")
    details = current_service().seals.remove_signer(
        es_id, cert_sm3, actor=current_caller().actor, revoke_certificate=revoke == "true"
    )
    return jsonify(_details_json(details))


# --- reading -------------------------------------------------------------------------------------


@bp.get("/api/v1/seals")
@require_api_key()
def list_seals() -> Response:
    caller = current_caller()
    principal = None if set(caller.roles) & set(_READERS) else caller.actor
    try:
        limit = int(request.args.get("limit", "100"))
        offset = int(request.args.get("offset", "0"))
    except ValueError:
        raise InvalidInput("limit and offset are whole numbers") from None
    seals = current_service().seals.list(
        org=request.args.get("org"),
        kind=request.args.get("kind"),
        status=request.args.get("status"),
        principal=principal,
        limit=limit,
        offset=offset,
    )
    return jsonify({"seals": [_record_json(s) for s in seals]})


@bp.get("/api/v1/seals/<es_id>")
@require_api_key()
def get_seal(es_id: str) -> Response:
    _require_reader(es_id)
    return jsonify(_details_json(current_service().seals.get(es_id), picture=True))


@bp.get("/api/v1/seals/<es_id>/picture.png")
@require_api_key()
def seal_picture(es_id: str) -> Response:
    _require_reader(es_id)
    kind, data = current_service().seals.picture(es_id)
    mimetype = {"PNG": "image/png", "GIF": "image/gif", "JPG": "image/jpeg", "BMP": "image/bmp"}.get(kind)
    return Response(data, mimetype=mimetype or "application/octet-stream")


@bp.get("/api/v1/seals/<es_id>/seal.esl")
@require_api_key()
def seal_der(es_id: str) -> Response:
    _require_reader(es_id)
    der = current_service().seals.get(es_id).seal.seal_der
    response = Response(der, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = f'attachment; filename="{es_id}.esl"'
    return response


# --- plumbing ------------------------------------------------------------------------------------


def _require_reader(es_id: str) -> None:
    caller = current_caller()
    if set(caller.roles) & set(_READERS):
        return
    if not current_service().seals.is_granted(es_id, caller.actor, GrantRole.VIEW):
        raise Forbidden(
            f"this API key holds no grant on seal {es_id} and lacks the role(s) {', '.join(_READERS)}"
        )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_json(seal: SealRecord) -> dict[str, Any]:
    return {
        "es_id": seal.es_id,
        "org_uscc": seal.org_uscc,
        "org_name": seal.org_name,
        "kind": int(seal.kind),
        "kind_name": seal.kind.name.lower().replace("_", "-"),
        "kind_label": seal.kind.label,
        "name": seal.name,
        "status": seal.status.value,
        "since": _iso(seal.since),
        "reason": seal.reason,
        "valid_start": _iso(seal.valid_start),
        "valid_end": _iso(seal.valid_end),
        "cert_list_type": seal.cert_list_type,
        "version": seal.version,
        "seal_sm3": seal.seal_sm3,
        "created_at": _iso(seal.created_at),
        "links": {
            "self": url_for("seals.get_seal", es_id=seal.es_id),
            "picture": url_for("seals.seal_picture", es_id=seal.es_id),
            "seal": url_for("seals.seal_der", es_id=seal.es_id),
            "status": url_for("seals.seal_status", es_id=seal.es_id),
        },
    }


def _details_json(details: SealDetails, *, picture: bool = False) -> dict[str, Any]:
    body = _record_json(details.seal)
    body["picture"] = {
        "type": details.picture_type,
        "width_mm": details.picture_width_mm,
        "height_mm": details.picture_height_mm,
    }
    if picture:
        body["picture"]["data"] = base64.b64encode(details.picture_data).decode("ascii")
    body["signers"] = [
        {
            "cert_sm3": s.cert_sm3,
            "subject": s.subject,
            "serial": s.serial,
            "not_after": _iso(s.not_after),
            "issued_by_us": s.issued_by_us,
            "key_in_store": s.key_in_store,
            "added_at": _iso(s.added_at),
            "certificate": pem.armor("CERTIFICATE", s.certificate_der).decode("ascii"),
        }
        for s in details.signers
        if s.removed_at is None
    ]
    body["grants"] = [
        {"principal": g.principal, "role": g.role.value, "granted_at": _iso(g.granted_at)}
        for g in details.grants
        if g.revoked_at is None
    ]
    body["versions"] = [
        {
            "version": v.version,
            "seal_sm3": v.seal_sm3,
            "made_at": _iso(v.made_at),
            "superseded_at": _iso(v.superseded_at),
        }
        for v in details.versions
    ]
    body["events"] = [
        {
            "at": _iso(e.at),
            "actor": e.actor,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "reason": e.reason,
        }
        for e in details.events
    ]
    return body


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number")
    return value


def _certificate(value: object) -> bytes | None:
    """Return the DER of a PEM certificate given in JSON (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str) or not pem.detect(value.encode("ascii", "replace")):
        raise InvalidInput("a certificate is given in PEM (-----BEGIN CERTIFICATE-----)")
    try:
        kind, _, der = pem.unarmor(value.encode("ascii"))
    except (ValueError, UnicodeError):
        raise MalformedInput("the PEM certificate cannot be read") from None
    if kind != "CERTIFICATE":
        raise InvalidInput(f"expected a CERTIFICATE, not {kind}")
    return bytes(der)
