"""Licence types over HTTP: list and read them (any API key), add one without code (role admin).

* ``GET /api/v1/license-types``: ``{"types": [{code, name, name_en, defining_organisation {name, uscc},
  holder_kind, source shipped|added, created_at?}]}``.
* ``GET /api/v1/license-types/<code>``: the type's definition, the JSON document it was checked from.
* ``POST /api/v1/license-types`` (admin): the body is the definition (the shape of the shipped files,
  docs/LICENCES.md) → 201 with ``Location``; a taken code → 409; a wrong key → 400 whose ``key`` names it;
  over the size limit → 413. Types are never deleted: issued licences name them.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from trustsvc.auth import Role
from trustsvc.errors import UnsupportedMediaType
from trustsvc.license.catalog import LicenceType
from trustsvc.license.types import LicenceTypeEntry, TypeSource
from trustsvc.routes.auth import current_caller, current_service, require_api_key

bp = Blueprint("license_types", __name__)


@bp.get("/api/v1/license-types")
@require_api_key()
def list_types() -> Response:
    return jsonify({"types": [_summary(e) for e in current_service().licence_types.list()]})


@bp.get("/api/v1/license-types/<code>")
@require_api_key()
def get_type(code: str) -> Response:
    entry = current_service().licence_types.get(code)
    response = Response(entry.definition, mimetype="application/json")
    response.set_etag(entry.definition_sm3)
    return response


@bp.post("/api/v1/license-types")
@require_api_key(Role.ADMIN.value)
def add_type() -> tuple[Response, int, dict[str, str]]:
    if not request.is_json:
        raise UnsupportedMediaType("send the type definition as JSON (Content-Type: application/json)")
    licence_type = current_service().licence_types.add(request.get_data(), actor=current_caller().actor)
    location = url_for("license_types.get_type", code=licence_type.type_code)
    return jsonify(_type_json(licence_type, TypeSource.ADDED)), 201, {"Location": location}


def _summary(entry: LicenceTypeEntry) -> dict[str, Any]:
    body = _type_json(entry.licence_type, entry.source)
    if entry.created_at is not None:
        body["created_at"] = entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def _type_json(licence_type: LicenceType, source: TypeSource) -> dict[str, Any]:
    return {
        "code": licence_type.type_code,
        "name": licence_type.name,
        "name_en": licence_type.name_en,
        "defining_organisation": {
            "name": licence_type.defining_organisation_name,
            "uscc": licence_type.defining_organisation_uscc,
        },
        "holder_kind": licence_type.holder_kind.value,
        "source": source.value,
    }
