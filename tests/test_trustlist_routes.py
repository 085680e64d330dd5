"""Trust lists over HTTP: the public signed list with cache validators, and the admin API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import pem
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.test_trustlist import Crafter, crafter, issue_new_tsa, make_pki, signer_pin
from trustsvc.auth import create_api_key
from trustsvc.errors import PROBLEM_BASE
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService
from trustsvc.verify.trustlist import TrustListFetchFailed, verify_trust_list

__all__ = ["crafter"]  # the fixture, imported for this module's tests

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    return make_pki(service, KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256)


def _token(service: TrustService, *roles: str) -> dict[str, str]:
    with service.session() as session, session.begin():
        _, token = create_api_key(session, "test", list(roles))
    return {"Authorization": f"Bearer {token}"}


def _problem(response: object, status: int, problem: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM_JSON  # type: ignore[attr-defined]
    assert response.get_json()["type"] == PROBLEM_BASE + problem  # type: ignore[attr-defined]


def test_trust_list_is_public_signed_and_cacheable(
    pki: TrustService, client: FlaskClient, clock: FakeClock
) -> None:
    response = client.get("/trust-list")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    signed = verify_trust_list(response.data, signer_pin(pki))
    assert response.headers["X-Trust-List-Sequence"] == str(signed.document.sequence) == "1"
    assert response.cache_control.public
    due = signed.document.issued_at + timedelta(hours=24)  # until re-signing is due
    assert response.cache_control.max_age == int((due - clock()).total_seconds())
    assert response.last_modified == signed.document.issued_at
    assert response.expires == signed.document.next_update
    etag = response.headers["ETag"]

    clock.advance(hours=1)
    again = client.get("/trust-list", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.cache_control.max_age == int((due - clock()).total_seconds())

    issue_new_tsa(pki)  # the content changes: a new document, a new validator
    changed = client.get("/trust-list", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["X-Trust-List-Sequence"] == "2"


def test_ecdsa_variant_is_served_by_query(pki: TrustService, client: FlaskClient) -> None:
    response = client.get("/trust-list?alg=ecdsa")
    assert response.status_code == 200
    ecdsa = verify_trust_list(response.data, signer_pin(pki, "ecdsa"))
    sm2 = verify_trust_list(client.get("/trust-list?alg=sm2").data, signer_pin(pki))
    assert ecdsa.document.payload == sm2.document.payload
    _problem(client.get("/trust-list?alg=rsa"), 404, "not-found")
    _problem(client.get("/trust-list?alg=%2e%2e"), 400, "invalid-input")


def test_trust_list_api_needs_admin_or_auditor(pki: TrustService, client: FlaskClient) -> None:
    _problem(client.get("/api/v1/trust-lists"), 401, "unauthorized")
    _problem(client.get("/api/v1/trust-lists", headers=_token(pki, "clerk")), 403, "forbidden")
    auditor = _token(pki, "auditor")
    assert client.get("/api/v1/trust-lists", headers=auditor).get_json() == {"own": None, "lists": []}
    body = {"name": "b", "document": "{}", "signer_spki_sha256": "00" * 32}
    _problem(client.post("/api/v1/trust-lists", json=body, headers=auditor), 403, "forbidden")


def test_import_refresh_list_and_remove_over_the_api(
    pki: TrustService, client: FlaskClient, crafter: Crafter
) -> None:
    admin = _token(pki, "admin")
    signer_pem = pem.armor("CERTIFICATE", crafter.signer.certificate.dump()).decode()
    documents = {"http://b.example/trust-list": crafter.document(1)}
    pki.trust.fetch = documents.__getitem__
    body = {"name": "province-b", "url": "http://b.example/trust-list", "signer_certificate": signer_pem}
    created = client.post("/api/v1/trust-lists", json=body, headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"].endswith("/api/v1/trust-lists/province-b")
    data = created.get_json()
    assert (data["outcome"], data["sequence"], data["status"]) == ("imported", 1, "fresh")
    assert data["territory"] == {"code": "440000", "name": "乙省"}

    detail = client.get("/api/v1/trust-lists/province-b", headers=admin).get_json()
    assert [e["kind"] for e in detail["entries_detail"]] == ["ca"]

    documents["http://b.example/trust-list"] = crafter.document(2)
    refreshed = client.post("/api/v1/trust-lists/province-b/refresh", headers=admin)
    assert refreshed.status_code == 200
    assert (refreshed.get_json()["outcome"], refreshed.get_json()["sequence"]) == ("updated", 2)

    def unreachable(url: str) -> bytes:
        raise TrustListFetchFailed(f"{url}: connection refused")

    pki.trust.fetch = unreachable
    _problem(
        client.post("/api/v1/trust-lists/province-b/refresh", headers=admin), 502, "trust-list-unavailable"
    )
    listed = client.get("/api/v1/trust-lists", headers=admin).get_json()
    assert [(i["name"], i["sequence"], i["status"]) for i in listed["lists"]] == [("province-b", 2, "stale")]

    pki.trust.fetch = documents.__getitem__
    documents["http://b.example/trust-list"] = crafter.document(1)
    _problem(client.post("/api/v1/trust-lists/province-b/refresh", headers=admin), 409, "trust-list-rollback")

    assert client.delete("/api/v1/trust-lists/province-b", headers=admin).status_code == 204
    _problem(client.get("/api/v1/trust-lists/province-b", headers=admin), 404, "not-found")


def test_import_by_document_with_a_key_pin_and_refusals(
    pki: TrustService, client: FlaskClient, crafter: Crafter, clock: FakeClock
) -> None:
    admin = _token(pki, "admin")
    spki = crafter.pin.spki_sha256
    document = crafter.document(3).decode()
    body = {"name": "b", "document": document, "signer_spki_sha256": f"sha256:{spki}"}
    created = client.post("/api/v1/trust-lists", json=body, headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["pin"] == f"key sha256:{spki}"
    again = client.post("/api/v1/trust-lists", json=body, headers=admin)
    assert again.status_code == 200 and again.get_json()["outcome"] == "unchanged"

    wrong = {**body, "name": "c", "signer_spki_sha256": "11" * 32}
    _problem(client.post("/api/v1/trust-lists", json=wrong, headers=admin), 422, "invalid-signature")
    both = {**body, "url": "http://b.example/x"}
    _problem(client.post("/api/v1/trust-lists", json=both, headers=admin), 400, "invalid-input")
    no_pin = {"name": "c", "document": document}
    _problem(client.post("/api/v1/trust-lists", json=no_pin, headers=admin), 400, "invalid-input")
    expired = {
        **body,
        "name": "d",
        "document": crafter.document(1, issued_at=clock() - timedelta(days=8)).decode(),
    }
    _problem(client.post("/api/v1/trust-lists", json=expired, headers=admin), 409, "trust-list-expired")
    file_url = {**body, "name": "e", "document": None, "url": "file:///etc/passwd"}
    del file_url["document"]
    _problem(client.post("/api/v1/trust-lists", json=file_url, headers=admin), 400, "invalid-input")
    _problem(
        client.post("/api/v1/trust-lists", data="x", headers={**admin, "Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    )
