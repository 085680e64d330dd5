"""Certificate authority over HTTP: public CA certificates and CRLs, authenticated issuance and revocation.

Public (no key): ``GET /ca/<name>.crt`` (DER, ``application/pkix-cert``), ``GET /crl/<name>.crl`` and
``GET /crl/<name>-delta.crl`` (DER, ``application/pkix-crl``) with ETag, Last-Modified (thisUpdate) and a
Cache-Control max-age that ends at the CRL's refresh time (never after its nextUpdate), so HTTP caches and
CDNs serve them without holding a CRL past the moment a newer one is made on schedule.

Authenticated (API key): ``POST /api/v1/certificates`` issues from a PKCS#10 request (roles ca-operator,
admin); ``GET /api/v1/certificates/<ca>/<serial>`` (also auditor); ``POST .../revoke``, ``.../hold``,
``.../release`` (ca-operator, admin).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import pem
from flask import Blueprint, Response, jsonify, request, url_for

from trustsvc.auth import Role
from trustsvc.ca.authority import parse_reason, reason_name
from trustsvc.ca.models import IssuedCertificate, parse_serial
from trustsvc.errors import InvalidInput
from trustsvc.routes.auth import current_caller, current_service, require_api_key
from trustsvc.routes.body import json_object, required_string

bp = Blueprint("ca", __name__)

PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"
_CA_CERT_MAX_AGE = 24 * 3600
_OPERATORS = (Role.CA_OPERATOR.value, Role.ADMIN.value)
_READERS = (Role.CA_OPERATOR.value, Role.ADMIN.value, Role.AUDITOR.value)


# --- public ----------------------------------------------------------------------------------------


@bp.get("/ca/<name>.crt")
def ca_certificate(name: str) -> Response:
    der = current_service().ca.ca(name).certificate_der
    return _der_response(der, PKIX_CERT, max_age=_CA_CERT_MAX_AGE, last_modified=None)


@bp.get("/crl/<name>.crl")
def crl(name: str) -> Response:
    return _crl_response(name, delta=False)


@bp.get("/crl/<name>-delta.crl")
def delta_crl(name: str) -> Response:
    return _crl_response(name, delta=True)


def _crl_response(name: str, *, delta: bool) -> Response:
    service = current_service()
    snapshot = service.crls.current(name, delta=delta)
    # Cacheable until the CRL is due to be re-made on schedule, and never beyond its nextUpdate.
    refresh_at = snapshot.this_update + timedelta(seconds=service.settings.crl_refresh_seconds)
    expires = min(refresh_at, snapshot.next_update)
    max_age = max(0, int((expires - service.clock()).total_seconds()))
    return _der_response(snapshot.der, PKIX_CRL, max_age=max_age, last_modified=snapshot.this_update)


def _der_response(der: bytes, mimetype: str, *, max_age: int, last_modified: datetime | None) -> Response:
    etag = hashlib.sha256(der).hexdigest()[:32]
    response = Response(der, mimetype=mimetype)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    if last_modified is not None:
        response.last_modified = last_modified
    if request.if_none_match.contains(etag):
        response.status_code = 304
        response.set_data(b"")
        # A 304 carries the validators and caching headers of the full answer, not its body.
        response.headers.pop("Content-Type", None)
    return response


# --- authenticated -------------------------------------------------------------------------------


@bp.post("/api/v1/certificates")
@require_api_key(*_OPERATORS)
def issue_certificate() -> tuple[Response, int, dict[str, str]]:
    body = json_object()
    ca_name = required_string(body, "ca")
    profile = required_string(body, "profile")
    csr = required_string(body, "csr")
    subject = body.get("subject")
    if subject is not None and not isinstance(subject, dict):
        raise InvalidInput("subject must be an object of attribute values")
    issued = current_service().ca.issue_from_csr(
        ca_name, csr.encode("utf-8"), profile, subject=subject, actor=current_caller().actor
    )
    location = url_for("ca.get_certificate", ca=ca_name, serial=issued.serial)
    return jsonify(_certificate_json(ca_name, issued)), 201, {"Location": location}


@bp.get("/api/v1/certificates/<ca>/<serial>")
@require_api_key(*_READERS)
def get_certificate(ca: str, serial: str) -> Response:
    issued = current_service().ca.get(ca, parse_serial(serial))
    return jsonify(_certificate_json(ca, issued))


@bp.post("/api/v1/certificates/<ca>/<serial>/revoke")
@require_api_key(*_OPERATORS)
def revoke_certificate(ca: str, serial: str) -> Response:
    body = json_object(optional=True)
    reason = parse_reason(required_string(body, "reason", default="unspecified"))
    invalidity = body.get("invalidity_date")
    if invalidity is not None and not isinstance(invalidity, str):
        raise InvalidInput("invalidity_date must be an ISO 8601 date-time string")
    issued = current_service().ca.revoke(
        ca,
        parse_serial(serial),
        reason,
        _datetime(invalidity) if invalidity else None,
        actor=current_caller().actor,
    )
    return jsonify(_certificate_json(ca, issued))


@bp.post("/api/v1/certificates/<ca>/<serial>/hold")
@require_api_key(*_OPERATORS)
def hold_certificate(ca: str, serial: str) -> Response:
    issued = current_service().ca.hold(ca, parse_serial(serial), actor=current_caller().actor)
    return jsonify(_certificate_json(ca, issued))


@bp.post("/api/v1/certificates/<ca>/<serial>/release")
@require_api_key(*_OPERATORS)
def release_certificate(ca: str, serial: str) -> Response:
    issued = current_service().ca.release(ca, parse_serial(serial), actor=current_caller().actor)
    return jsonify(_certificate_json(ca, issued))


# --- plumbing ------------------------------------------------------------------------------------


def _certificate_json(ca_name: str, issued: IssuedCertificate) -> dict[str, Any]:
    return {
        "ca": ca_name,
        "serial": issued.serial,
        "profile": issued.profile,
        "subject": issued.subject,
        "not_before": _iso(issued.not_before),
        "not_after": _iso(issued.not_after),
        "status": issued.status,
        "revoked_at": _iso(issued.revoked_at),
        "reason": reason_name(issued.reason),
        "invalidity_date": _iso(issued.invalidity_date),
        "key_id": issued.key_id,
        "certificate": pem.armor("CERTIFICATE", issued.der).decode("ascii"),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("invalidity_date must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInput("invalidity_date must carry a time zone (e.g. 2026-01-02T03:04:05Z)")
    return moment
