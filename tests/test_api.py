"""The application factory: health, problem+json for every error, the OpenAPI document."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from trustsvc.api import openapi_document
from trustsvc.errors import PROBLEM_BASE, MalformedInput
from trustsvc.service import TrustService, version

PROBLEM_JSON = "application/problem+json"


def _add_test_routes(app: Flask) -> None:
    @app.post("/_test/malformed")
    def malformed() -> str:
        raise MalformedInput("the CSR is not DER")

    @app.get("/_test/boom")
    def boom() -> str:
        raise RuntimeError("secret internals: /etc/trustsvc password=hunter2")

    @app.post("/_test/echo")
    def echo() -> str:
        return str(len(request.get_data()))


@pytest.fixture
def test_client(app: Flask) -> FlaskClient:
    _add_test_routes(app)
    return app.test_client()


def test_health_reports_ok_version_and_database(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "version": version(), "database": "ok"}


def test_health_reports_a_database_that_does_not_answer(
    client: FlaskClient, service: TrustService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "database_ok", lambda: False)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"


def test_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["type"] == "about:blank"


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM_JSON
    assert "GET" in response.headers["Allow"]


def test_trustsvc_error_is_a_problem_with_its_status(test_client: FlaskClient) -> None:
    response = test_client.post("/_test/malformed", data=b"x")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json() == {
        "type": PROBLEM_BASE + "malformed-input",
        "title": "Malformed input",
        "status": 400,
        "detail": "the CSR is not DER",
    }


def test_oversized_body_is_a_413_problem(app: Flask, test_client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024
    assert test_client.post("/_test/echo", data=b"x" * 1024).status_code == 200
    for path in ("/_test/echo", "/health", "/nowhere"):
        response = test_client.post(path, data=b"x" * 1025)
        assert response.status_code == 413, path
        assert response.mimetype == PROBLEM_JSON
        assert response.get_json()["type"] == PROBLEM_BASE + "payload-too-large"


def test_max_content_length_comes_from_settings(app: Flask, service: TrustService) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == service.settings.max_content_length


def test_unexpected_exception_is_a_bare_500_problem(
    test_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="trustsvc.api"):
        response = test_client.get("/_test/boom")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM_JSON
    body = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret internals", "/etc/trustsvc"):
        assert leak not in body
    assert response.get_json()["status"] == 500
    assert "hunter2" in caplog.text  # logged in full for the operator


def test_openapi_document_is_served_with_our_base_url(client: FlaskClient, service: TrustService) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": service.settings.public_base_url}]


def test_every_route_is_documented_and_every_documented_path_exists(app: Flask) -> None:
    paths = openapi_document()["paths"]
    routed: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routed.add((path, method.lower()))
    documented = {
        (path, method)
        for path, item in paths.items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }
    assert routed - documented == set(), "routes missing from trustsvc/web/openapi.json"
    assert documented - routed == set(), "documented paths with no route"
