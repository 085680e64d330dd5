"""Licence issuance (trustsvc.license.issuance and POST /api/v1/licenses): identifier, rendering, sealing of
PDF and OFD with the issuing organisation's seal, one stored row, idempotency on (system, case id), field
errors naming the field, revocation (注销/吊销) and the signed, cacheable public status.

The clock is pinned far from the real time (tests/licences.py ``pinned_clock``): everything, PDF signing
times included, follows the service clock.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import pem, x509
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import FakeClock
from tests.licences import (
    BUSINESS,
    FIELDS,
    HOLDER,
    ISSUER,
    ISSUER_NAME,
    OPERATIONS,
    OPERATIONS_FIELDS,
    Issuer,
    api_key,
    body,
    pinned_clock,
)
from trustsvc.audit import AuditRecord
from trustsvc.ca.models import ServiceRole
from trustsvc.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound
from trustsvc.keys.algorithms import SignatureAlgorithm
from trustsvc.keys.signer import verify as verify_signature
from trustsvc.keys.sm2 import DEFAULT_SM2_ID
from trustsvc.license.identifier import mod_37_36_check, parse
from trustsvc.license.issuance import AUDIT_ISSUE, AUDIT_REVOKE, STATEMENT_TYPE, china_date
from trustsvc.license.models import Licence, LicenceCounter, LicenceState


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


def open_answer(answer: bytes) -> tuple[dict[str, Any], x509.Certificate]:
    """Verify a signed status answer as a relying party would and return its statement and signer."""
    envelope = json.loads(answer)
    payload = base64.b64decode(envelope["payload"])
    _, _, der = pem.unarmor(envelope["certificates"][0].encode("ascii"))
    signer = x509.Certificate.load(der)
    verify_signature(
        signer.public_key,
        SignatureAlgorithm.SM2_SM3,
        payload,
        base64.b64decode(envelope["signature"]),
        uid=DEFAULT_SM2_ID,
    )
    statement = json.loads(payload)
    assert statement["type"] == STATEMENT_TYPE
    return statement, signer


# --- issuance --------------------------------------------------------------------------------------


def test_issue_allocates_an_identifier_and_seals_both_files_valid(issuer: Issuer) -> None:
    service = issuer.service
    record, created = issuer.issue()

    assert created
    ident = parse(record.identifier)
    assert (ident.type_code, ident.issuer_code, ident.version) == (BUSINESS, ISSUER, 1)
    assert ident.check == mod_37_36_check(ident.body)
    assert record.issuer_name == ISSUER_NAME and record.holder_code == HOLDER
    assert record.holder_name == FIELDS["name"] and record.es_id == issuer.es_id
    assert record.issued_on == record.valid_from == china_date(issuer.service.clock())
    assert record.valid_to is None  # a business licence is open-ended

    for data, fmt in ((record.pdf, "pdf"), (record.ofd, "ofd")):
        result = service.verifier.verify(data)
        assert result.report == "VALID", [c for s in result.signatures for c in s.checks]
        assert result.format == fmt
        (signature,) = result.signatures
        assert signature.seal_es_id == issuer.es_id

    with service.session(read_only=True) as session, session.begin():
        row = session.execute(select(Licence)).scalar_one()
        assert row.identifier == record.identifier and row.system == issuer.system
        assert row.pdf == record.pdf and row.ofd == record.ofd
        (audit,) = session.execute(select(AuditRecord).where(AuditRecord.action == AUDIT_ISSUE)).scalars()
        assert audit.subject == f"licence:{record.identifier}"
        assert json.loads(audit.details_json)["pdf_sm3"] == row.pdf_sm3


def test_the_same_case_twice_returns_the_stored_licence_and_files(issuer: Issuer) -> None:
    first, created = issuer.issue()
    again, created_again = issuer.issue()

    assert created and not created_again
    assert again.identifier == first.identifier
    assert again.pdf == first.pdf and again.ofd == first.ofd
    assert issuer.service.licences.count() == 1


def test_a_different_request_under_a_used_case_id_is_a_conflict(issuer: Issuer) -> None:
    issuer.issue()
    with pytest.raises(Conflict) as caught:
        issuer.issue(fields={**FIELDS, "legal_representative": "王五"})
    assert caught.value.extra["field"] == "case_id"


def test_serials_come_from_the_per_type_and_issuer_counter(issuer: Issuer) -> None:
    one, _ = issuer.issue("CASE-1")
    two, _ = issuer.issue("CASE-2")
    person, _ = issuer.issue("CASE-3", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)

    assert [parse(r.identifier).serial for r in (one, two, person)] == [
        "00000000001",
        "00000000002",
        "00000000001",
    ]
    with issuer.service.session(read_only=True) as session, session.begin():
        counters = {
            (c.type_code, c.issuer_code): c.last_serial
            for c in session.execute(select(LicenceCounter)).scalars()
        }
    assert counters == {(BUSINESS, ISSUER): 2, (OPERATIONS, ISSUER): 1}
    assert person.holder_code == "11010519491231002X" and person.holder_code_type == "111"
    assert person.valid_to == person.valid_from.replace(year=person.valid_from.year + 6)


def test_invalid_requests_name_the_field(issuer: Issuer) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type_code": "11100000MB03271699999"}, "type_code"),
        ({"fields": {k: v for k, v in FIELDS.items() if k != "domicile"}}, "domicile"),
        ({"fields": {**FIELDS, "uscc": "91110000600037341X"}}, "uscc"),
        ({"holder": {"code": "91110000600037341X"}}, "holder.code"),
        ({"holder": {"code": "11430000006122244L"}}, "holder.code"),  # valid, but not the holder
        ({"matter_code": ""}, "matter_code"),
    ]
    for overrides, field in cases:
        with pytest.raises(InvalidInput) as caught:
            issuer.issue(**overrides)
        assert caught.value.extra["field"] == field, overrides
    assert issuer.service.licences.count() == 0


def test_a_seal_of_another_kind_or_without_grant_is_refused(issuer: Issuer) -> None:
    service = issuer.service
    contract = service.seals.create_seal(
        ISSUER, ISSUER_NAME, "contract", actor="test", authorised=[issuer.principal]
    )
    with pytest.raises(InvalidInput) as caught:
        issuer.issue(es_id=contract.seal.es_id)
    assert caught.value.extra["field"] == "es_id"
    other = service.seals.create_seal(ISSUER, ISSUER_NAME, 1, name="第二枚", actor="test")
    with pytest.raises(Forbidden):
        issuer.issue(es_id=other.seal.es_id)
    # Without es_id: the one active kind-1 seal this principal may apply.
    record, _ = issuer.issue(es_id=None)
    assert record.es_id == issuer.es_id


# --- status and revocation -------------------------------------------------------------------------


def test_status_is_valid_then_revoked_with_time_and_kind(issuer: Issuer, clock: FakeClock) -> None:
    licences = issuer.service.licences
    record, _ = issuer.issue()
    status = licences.status(record.identifier)
    assert status.status is LicenceState.VALID and status.since == record.created_at

    clock.advance(minutes=5)
    revoked = licences.revoke(record.identifier, "违法经营", kind="吊销", actor="user:admin")
    assert revoked.revocation_kind is not None and revoked.revocation_kind.value == "吊销"
    status = licences.status(record.identifier)
    assert status.status is LicenceState.REVOKED and status.since == clock.now

    statement, _ = open_answer(licences.signed_status(record.identifier)[0])
    assert statement["status"] == "revoked" and statement["revocation_kind"] == "吊销"
    assert statement["since"] == clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "reason" not in statement and "违法经营" not in json.dumps(statement, ensure_ascii=False)

    with pytest.raises(InvalidState):
        licences.revoke(record.identifier, "again", kind="注销", actor="user:admin")
    with issuer.service.session(read_only=True) as session, session.begin():
        actions = [r.action for r in session.execute(select(AuditRecord)).scalars()]
    assert actions.count(AUDIT_REVOKE) == 1


def test_expired_is_derived_from_valid_to(issuer: Issuer, clock: FakeClock) -> None:
    record, _ = issuer.issue("CASE-9", type_code=OPERATIONS, holder=None, fields=OPERATIONS_FIELDS)
    assert record.valid_to is not None
    clock.advance(timedelta(days=(record.valid_to - record.valid_from).days + 2))
    status = issuer.service.licences.status(record.identifier)
    assert status.status is LicenceState.EXPIRED
    assert status.since.astimezone(UTC) == datetime.combine(
        record.valid_to, datetime.min.time(), UTC
    ) + timedelta(days=1) - timedelta(hours=8)


def test_unknown_and_malformed_identifiers(issuer: Issuer) -> None:
    record, _ = issuer.issue()
    other = str(parse(record.identifier).next_version())
    with pytest.raises(NotFound):
        issuer.service.licences.status(other)
    with pytest.raises(InvalidInput) as caught:
        issuer.service.licences.status(
            record.identifier[:-1] + ("A" if record.identifier[-1] != "A" else "B")
        )
    assert caught.value.extra["field"] == "identifier"


# --- HTTP ------------------------------------------------------------------------------------------


def test_http_issue_is_idempotent_and_returns_urls(issuer: Issuer, client: FlaskClient) -> None:
    response = client.post("/api/v1/licenses", json=body(), headers=issuer.headers)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["created"] is True and parse(made["identifier"])
    assert made["status_url"].endswith(f"/licenses/{made['identifier']}/status")
    assert made["downloads"] == {
        "pdf": f"/api/v1/licenses/{made['identifier']}/licence.pdf",
        "ofd": f"/api/v1/licenses/{made['identifier']}/licence.ofd",
    }

    again = client.post("/api/v1/licenses", json=body(), headers=issuer.headers)
    assert again.status_code == 200 and again.get_json()["identifier"] == made["identifier"]
    assert again.get_json()["created"] is False

    pdf = client.get(made["downloads"]["pdf"], headers=issuer.headers)
    ofd = client.get(made["downloads"]["ofd"], headers=issuer.headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert ofd.status_code == 200 and ofd.mimetype == "application/ofd" and ofd.data.startswith(b"PK")
    stored = issuer.service.licences.get(made["identifier"])
    assert (pdf.data, ofd.data) == (stored.pdf, stored.ofd)

    other_headers, _ = api_key(issuer.service, "另一个系统", "business-system")
    assert client.get(made["downloads"]["pdf"], headers=other_headers).status_code == 403
    assert client.get(made["downloads"]["pdf"]).status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"type_code": "11100000MB03271699999"}, "type_code", "unknown type"),
        (
            {"fields": {k: v for k, v in FIELDS.items() if k != "legal_representative"}},
            "legal_representative",
            "required",
        ),
        ({"fields": {**FIELDS, "uscc": "91110000600037341X"}}, "uscc", "USCC check character"),
        ({"holder": {"code": "9111000060003734"}}, "holder.code", "USCC length"),
        ({"fields": {**FIELDS, "colour": "red"}}, "colour", "unknown field"),
        ({"case_id": None}, "case_id", "required"),
        ({"surprise": 1}, "surprise", "unknown field"),
    ],
)
def test_http_field_errors_are_400_naming_the_field(
    issuer: Issuer, client: FlaskClient, overrides: dict[str, Any], field: str, rule: str
) -> None:
    response = client.post("/api/v1/licenses", json=body(**overrides), headers=issuer.headers)
    assert response.status_code == 400
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert (problem["field"], problem["rule"]) == (field, rule), problem


def test_http_issue_needs_the_business_system_role(issuer: Issuer, client: FlaskClient) -> None:
    headers, _ = api_key(issuer.service, "审计", "auditor")
    assert client.post("/api/v1/licenses", json=body(), headers=headers).status_code == 403


def test_http_status_is_signed_cacheable_and_follows_revocation(
    issuer: Issuer, client: FlaskClient, clock: FakeClock
) -> None:
    made = client.post("/api/v1/licenses", json=body(), headers=issuer.headers).get_json()
    path = f"/licenses/{made['identifier']}/status"

    response = client.get(path)
    assert response.status_code == 200
    assert response.cache_control.public and response.cache_control.max_age == 60
    statement, signer = open_answer(response.data)
    assert statement["status"] == "valid" and statement["identifier"] == made["identifier"]
    assert statement["files"] == made["files"]
    maker_ca = issuer.service.seals.status(issuer.es_id).maker_ca
    assert signer.dump() == issuer.service.ca.service_certificate(ServiceRole.SEAL_MAKER, maker_ca).der
    etag = response.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    alias = client.get(f"/api/v1/licenses/{made['identifier']}/status")
    assert alias.status_code == 200 and alias.data == response.data
    fresh = client.get(path + "?nonce=abc123")
    assert fresh.cache_control.no_store and open_answer(fresh.data)[0]["nonce"] == "abc123"

    other_headers, _ = api_key(issuer.service, "另一个系统", "business-system")
    revoke_path = f"/api/v1/licenses/{made['identifier']}/revoke"
    refused = client.post(revoke_path, json={"kind": "注销", "reason": "x"}, headers=other_headers)
    assert refused.status_code == 403
    bad_kind = client.post(revoke_path, json={"kind": "撤销", "reason": "x"}, headers=issuer.headers)
    assert bad_kind.status_code == 400 and bad_kind.get_json()["field"] == "kind"

    clock.advance(seconds=2)
    revoked = client.post(
        revoke_path, json={"kind": "注销", "reason": "企业申请注销"}, headers=issuer.headers
    )
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["status"] == "revoked" and revoked.get_json()["revocation_kind"] == "注销"
    again = client.post(revoke_path, json={"kind": "注销", "reason": "again"}, headers=issuer.headers)
    assert again.status_code == 409

    after = client.get(path)
    statement, _ = open_answer(after.data)
    assert after.headers["ETag"] != etag  # the cached answer is not reused once the status changed
    assert (statement["status"], statement["since"]) == ("revoked", clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"))

    assert client.get("/licenses/1.2.156.3005.2.x/status").status_code == 400
    unknown = str(parse(made["identifier"]).next_version())
    assert client.get(f"/licenses/{unknown}/status").status_code == 404
