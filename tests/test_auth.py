"""API keys: created once, stored hashed, checked in constant time, roles enforced on routes."""

from __future__ import annotations

import re

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import PINNED_TIME
from trustsvc.auth import ApiKey, Role, authenticate, create_api_key, list_api_keys, revoke_api_key
from trustsvc.errors import PROBLEM_BASE, InvalidInput, InvalidState, NotFound, Unauthorized
from trustsvc.routes.auth import current_caller, require_api_key
from trustsvc.service import TrustService


def _create(service: TrustService, name: str = "审批系统", roles: tuple[str, ...] = ("business-system",)):
    with service.session() as session, session.begin():
        return create_api_key(session, name, list(roles), now=service.clock())


def _authenticate(service: TrustService, token: str) -> ApiKey:
    with service.session() as session, session.begin():
        return authenticate(session, token)


def test_created_key_has_a_token_shown_once_and_stored_only_as_a_hash(service: TrustService) -> None:
    key, token = _create(service, roles=("business-system", "clerk", "clerk"))
    assert re.fullmatch(r"tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    assert token.split("_")[1] == key.prefix
    assert key.roles == ["business-system", "clerk"]
    assert key.created_at == PINNED_TIME
    with service.session() as session:
        stored = session.execute(select(ApiKey)).scalar_one()
        row_text = repr([getattr(stored, c.key) for c in ApiKey.__table__.columns])
    secret = token.split("_", 2)[2]  # the secret itself may contain "_"
    assert len(secret) == 43
    assert secret not in row_text
    assert len(stored.secret_hash) == 64


def test_tokens_are_unique(service: TrustService) -> None:
    tokens = {_create(service)[1] for _ in range(5)}
    assert len(tokens) == 5


def test_authenticate_accepts_the_token(service: TrustService) -> None:
    key, token = _create(service)
    found = _authenticate(service, token)
    assert found.id == key.id
    assert found.has_role("business-system")
    assert not found.has_role("admin")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "tsk_000000000000_" + t.split("_", 2)[2],  # unknown prefix
        lambda t: t[:20],  # malformed
        lambda t: "",
        lambda t: t.upper(),
    ],
)
def test_authenticate_refuses_wrong_tokens(service: TrustService, mangle) -> None:
    _, token = _create(service)
    with pytest.raises(Unauthorized, match="invalid API key"):
        _authenticate(service, mangle(token))


def test_revoked_key_is_refused(service: TrustService) -> None:
    key, token = _create(service)
    with service.session() as session, session.begin():
        revoked = revoke_api_key(session, key.prefix, now=service.clock())
    assert revoked.revoked_at == PINNED_TIME
    with pytest.raises(Unauthorized, match="revoked"):
        _authenticate(service, token)
    with pytest.raises(InvalidState), service.session() as session, session.begin():
        revoke_api_key(session, key.prefix)
    with pytest.raises(NotFound), service.session() as session, session.begin():
        revoke_api_key(session, "ffffffffffff")


@pytest.mark.parametrize(
    ("name", "roles", "message"),
    [
        ("x", ["superuser"], "unknown role"),
        ("x", [], "at least one role"),
        ("", ["clerk"], "name"),
    ],
)
def test_bad_keys_are_refused(service: TrustService, name: str, roles: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message), service.session() as session, session.begin():
        create_api_key(session, name, roles)


def test_roles_are_the_documented_six() -> None:
    assert {r.value for r in Role} == {
        "admin",
        "ca-operator",
        "seal-admin",
        "auditor",
        "business-system",
        "clerk",
    }


def test_list_api_keys(service: TrustService) -> None:
    _create(service, "a")
    _create(service, "b")
    with service.session() as session:
        assert [k.name for k in list_api_keys(session)] == ["a", "b"]


# --- the route decorator ---------------------------------------------------------------------------


@pytest.fixture
def guarded(app: Flask) -> FlaskClient:
    @app.get("/_test/audit-only")
    @require_api_key("auditor", "admin")
    def audit_only():  # type: ignore[no-untyped-def]
        caller = current_caller()
        return jsonify(name=caller.name, roles=list(caller.roles), actor=caller.actor)

    return app.test_client()


def test_route_admits_a_key_with_one_of_the_roles(service: TrustService, guarded: FlaskClient) -> None:
    key, token = _create(service, "audit tool", ("auditor",))
    for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": token}):
        response = guarded.get("/_test/audit-only", headers=headers)
        assert response.status_code == 200
        assert response.get_json() == {
            "name": "audit tool",
            "roles": ["auditor"],
            "actor": f"apikey:{key.prefix}",
        }


def test_route_refuses_missing_and_bad_keys_with_401(service: TrustService, guarded: FlaskClient) -> None:
    _, token = _create(service, roles=("auditor",))
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"X-API-Key": token + "x"},
        {"Authorization": token},
    ):
        response = guarded.get("/_test/audit-only", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == PROBLEM_BASE + "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_route_refuses_a_key_without_the_role_with_403(service: TrustService, guarded: FlaskClient) -> None:
    _, token = _create(service, roles=("business-system", "clerk"))
    response = guarded.get("/_test/audit-only", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["type"] == PROBLEM_BASE + "forbidden"
