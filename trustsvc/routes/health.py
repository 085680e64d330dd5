"""Liveness and readiness: ``GET /health``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from trustsvc.routes.auth import current_service
from trustsvc.service import version

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    database_ok = current_service().database_ok()
    body = {
        "status": "ok" if database_ok else "degraded",
        "version": version(),
        "database": "ok" if database_ok else "unavailable",
    }
    return jsonify(body), 200 if database_ok else 503
