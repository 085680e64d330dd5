"""The human page behind a licence's QR code (trustsvc.routes.licence_page, routes/licenses.py): content
negotiation on the public status URL, the verdict for each status, no personal data, escaping, headers and
the 404 / 400 pages. Machine clients keep the signed JSON answer.

The clock is pinned far from the real time (tests/licences.py ``pinned_clock``): everything, PDF signing
times included, follows the service clock.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.licences import (
    FIELDS,
    HOLDER,
    ISSUER,
    ISSUER_NAME,
    OPERATIONS,
    OPERATIONS_FIELDS,
    Issuer,
    pinned_clock,
)
from tests.test_license_issuance import open_answer
from trustsvc.license.identifier import parse
from trustsvc.routes.licence_page import CONTENT_SECURITY_POLICY

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
CHINA = timezone(timedelta(hours=8))


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


def path(identifier: str) -> str:
    return f"/licenses/{identifier}/status"


def page(client: FlaskClient, identifier: str, query: str = "") -> TestResponse:
    return client.get(path(identifier) + query, headers={"Accept": BROWSER})


def text(response: TestResponse) -> str:
    assert response.mimetype == "text/html", response.data[:200]
    return response.get_data(as_text=True)


def verdict(body: str) -> str:
    """The verdict box's text, whitespace collapsed."""
    found = re.search(r'<div class="verdict[^"]*" id="verdict"[^>]*>(.*?)</div>', body, re.S)
    assert found is not None, body
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def assert_page_headers(response: TestResponse) -> None:
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Accept" in response.vary


# --- negotiation -------------------------------------------------------------------------------------------


def test_a_browser_gets_the_page_and_machine_clients_the_signed_answer(
    issuer: Issuer, client: FlaskClient
) -> None:
    record, _ = issuer.issue()

    for url in (path(record.identifier), f"/api/v1{path(record.identifier)}"):
        browser = client.get(url, headers={"Accept": BROWSER})
        assert browser.status_code == 200
        body = text(browser)
        assert_page_headers(browser)
        assert verdict(body) == "有效 Valid"
        assert record.identifier in body and "<script" not in body
        assert "营业执照" in body and ISSUER_NAME in body and ISSUER in body
        assert record.pdf_sm3 in body and record.ofd_sm3 in body
        assert "长期" in body  # a business licence is open-ended
        assert 'href="?format=json"' in body and "POST /api/v1/verify" in body and "trustsvc verify" in body

    curl = client.get(path(record.identifier), headers={"Accept": "*/*"})
    bare = client.get(path(record.identifier))
    json_asked = client.get(path(record.identifier), headers={"Accept": "application/json"})
    for response in (curl, bare, json_asked):
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert "Accept" in response.vary and "Content-Security-Policy" not in response.headers
        statement, _ = open_answer(response.data)
        assert statement["status"] == "valid" and statement["identifier"] == record.identifier
    assert curl.headers["Cache-Control"].startswith("public")
    not_modified = client.get(path(record.identifier), headers={"If-None-Match": curl.headers["ETag"]})
    assert not_modified.status_code == 304 and "Accept" in not_modified.vary


def test_format_overrides_the_accept_header(issuer: Issuer, client: FlaskClient) -> None:
    record, _ = issuer.issue()

    forced_json = page(client, record.identifier, "?format=json")
    assert forced_json.mimetype == "application/json" and "Accept" in forced_json.vary
    assert open_answer(forced_json.data)[0]["identifier"] == record.identifier
    forced_html = client.get(path(record.identifier) + "?format=html", headers={"Accept": "*/*"})
    assert verdict(text(forced_html)) == "有效 Valid"
    assert verdict(text(client.get(path(record.identifier) + "?format=html"))) == "有效 Valid"

    bad = client.get(path(record.identifier) + "?format=xml")
    assert bad.status_code == 400 and bad.get_json()["field"] == "format"


# --- what the page says ------------------------------------------------------------------------------------


def test_a_revoked_licence_shows_its_kind_and_time_but_not_the_reason(
    issuer: Issuer, client: FlaskClient, clock: FakeClock
) -> None:
    revoked, _ = issuer.issue("CASE-1")
    cancelled, _ = issuer.issue("CASE-2")
    clock.advance(minutes=7)
    licences = issuer.service.licences
    licences.revoke(revoked.identifier, "违法经营被处罚", kind="吊销", actor="user:admin")
    licences.revoke(cancelled.identifier, "企业自愿注销", kind="注销", actor="user:admin")

    body = text(page(client, revoked.identifier))
    assert verdict(body) == "已吊销 Revoked"
    assert clock.now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") in body
    assert clock.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") in body
    assert "违法经营被处罚" not in body and "有效 Valid" not in verdict(body)

    other = text(page(client, cancelled.identifier))
    assert verdict(other) == "已注销 Cancelled" and "企业自愿注销" not in other


def test_a_superseded_licence_links_to_its_newer_version(
    issuer: Issuer, client: FlaskClient, clock: FakeClock
) -> None:
    first, _ = issuer.issue()
    clock.advance(minutes=3)
    changed = {**FIELDS, "legal_representative": "王五"}
    new, _ = issuer.service.licences.change(
        first.identifier,
        issuer.system,
        "CHANGE-1",
        "M-002",
        changed,
        principal=issuer.principal,
        reason="变更",
    )

    old = text(page(client, first.identifier))
    assert verdict(old) == "已被新版本替代 Superseded by a newer version"
    newer_url = issuer.service.licences.status_url(new.identifier)
    assert f'<a href="{escape(newer_url)}" class="mono">{new.identifier}</a>' in old
    assert clock.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") in old

    latest = text(page(client, new.identifier))
    assert verdict(latest) == "有效 Valid" and 'id="newer"' not in latest
    assert re.search(r"<th>版本 <span class=\"en\">Version</span></th><td>2</td>", latest)
    assert "王五" not in latest and "法定代表人" not in latest


def test_an_expired_licence_says_so(issuer: Issuer, client: FlaskClient, clock: FakeClock) -> None:
    record, _ = issuer.issue("CASE-9", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert record.valid_to is not None
    before = text(page(client, record.identifier))
    assert verdict(before) == "有效 Valid" and record.valid_to.isoformat() in before and "长期" not in before

    clock.advance(timedelta(days=(record.valid_to - record.valid_from).days + 2))
    body = text(page(client, record.identifier))
    assert verdict(body) == "已过期 Expired" and "特种作业操作证" in body
    assert f"{record.valid_from.isoformat()} 至 {record.valid_to.isoformat()}" in body


def test_the_page_discloses_no_holder_data(issuer: Issuer, client: FlaskClient) -> None:
    business, _ = issuer.issue("CASE-1")
    person, _ = issuer.issue("CASE-2", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert business.holder_code == HOLDER and person.holder_code == OPERATIONS_FIELDS["citizen_id"]

    secrets: dict[str, list[Any]] = {
        business.identifier: [business.holder_name, business.holder_code, *business.fields.values()],
        person.identifier: [person.holder_name, person.holder_code, *person.fields.values()],
    }
    for identifier, values in secrets.items():
        body = text(page(client, identifier))
        for value in values:
            if value == ISSUER_NAME:  # the registration authority is the issuer, whose name is published
                continue
            shown = str(value)
            assert shown not in body and str(escape(shown)) not in body, shown
        assert "holder_token" not in body and "token=" not in body


def test_outside_text_is_escaped(issuer: Issuer, client: FlaskClient) -> None:
    hostile = '<script>alert("x")</script>局'
    made = issuer.service.seals.create_seal(ISSUER, hostile, 1, actor="test", authorised=[issuer.principal])
    record, _ = issuer.issue(es_id=made.seal.es_id)
    assert record.issuer_name == hostile

    body = text(page(client, record.identifier))
    assert "<script" not in body
    assert str(escape(hostile)) in body  # &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;局
    assert verdict(body) == "有效 Valid"


# --- errors ------------------------------------------------------------------------------------------------


def test_unknown_and_malformed_identifiers_get_pages_or_problems(issuer: Issuer, client: FlaskClient) -> None:
    record, _ = issuer.issue()
    unknown = str(parse(record.identifier).next_version())

    missing = page(client, unknown)
    assert missing.status_code == 404
    body = text(missing)
    assert_page_headers(missing)
    assert verdict(body) == "未找到该电子证照 No such licence" and unknown in body

    malformed = page(client, "1.2.156.3005.2.<b>x")
    assert malformed.status_code == 400
    assert verdict(text(malformed)) == "证照标识格式错误 Malformed licence identifier"
    assert "<b>" not in text(malformed) and "&lt;b&gt;" in text(malformed)

    for url, status in ((path(unknown), 404), (path("1.2.156.3005.2.x"), 400)):
        problem = client.get(url, headers={"Accept": "*/*"})
        assert problem.status_code == status and problem.mimetype == "application/problem+json"
        assert json.loads(problem.data)["status"] == status
