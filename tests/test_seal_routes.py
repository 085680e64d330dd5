"""Seals over HTTP: making, reading, lifecycle, grants and signers with API keys; the public signed status."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from asn1crypto import pem, x509
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.pki import csr_from_signer, sm2_signer
from trustsvc.auth import create_api_key
from trustsvc.ca.profiles import ID_KP_SEAL_MAKING
from trustsvc.errors import PROBLEM_BASE
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import verify
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses
from trustsvc.service import TrustService

PROBLEM_JSON = "application/problem+json"
ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    return service


def _key(service: TrustService, *roles: str) -> tuple[dict[str, str], str]:
    with service.session() as session, session.begin():
        key, token = create_api_key(session, "test", list(roles))
        return {"Authorization": f"Bearer {token}"}, f"apikey:{key.prefix}"


@pytest.fixture
def admin(pki: TrustService) -> dict[str, str]:
    return _key(pki, "seal-admin")[0]


def _problem(response: object, status: int, problem: str) -> dict[str, object]:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM_JSON  # type: ignore[attr-defined]
    body: dict[str, object] = response.get_json()  # type: ignore[attr-defined]
    assert body["type"] == PROBLEM_BASE + problem
    assert body["status"] == status
    return body


def _create(client: FlaskClient, headers: dict[str, str], **extra: object) -> dict[str, object]:
    body = {"org_uscc": ORG, "org_name": ORG_NAME, "kind": "contract", **extra}
    response = client.post("/api/v1/seals", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    data: dict[str, object] = response.get_json()
    return data


def _statement(answer: bytes) -> dict[str, object]:
    """Verify a signed status answer with the certificate it carries; return the statement."""
    envelope = json.loads(answer)
    payload = base64.b64decode(envelope["payload"])
    signature = base64.b64decode(envelope["signature"])
    _, _, der = pem.unarmor(envelope["certificates"][0].encode())
    certificate = x509.Certificate.load(der)
    assert envelope["signature_algorithm"] == "sm2-sm3"
    verify(
        certificate.public_key,
        SignatureAlgorithm.SM2_SM3,
        payload,
        signature,
        uid=envelope["sm2_user_id"].encode(),
    )
    assert ID_KP_SEAL_MAKING in [p.dotted for p in certificate.extended_key_usage_value]
    statement: dict[str, object] = json.loads(payload)
    return statement


# --- making and reading ---------------------------------------------------------------------------


def test_create_answers_201_with_the_seal_and_its_location(
    client: FlaskClient, admin: dict[str, str], pki: TrustService
) -> None:
    _, clerk = _key(pki, "business-system")
    made = _create(client, admin, name="合同章", validity_days=100, cert_list_type=2, grants=[clerk])
    es_id = str(made["es_id"])
    assert made["status"] == "active" and made["kind"] == 4 and made["kind_name"] == "contract"
    assert made["name"] == "合同章" and made["cert_list_type"] == 2
    assert made["grants"] == [{"principal": clerk, "role": "sign", "granted_at": made["created_at"]}]
    assert len(made["signers"]) == 1  # type: ignore[arg-type]
    assert made["links"]["status"] == f"/seals/{es_id}/status"  # type: ignore[index]

    got = client.get(f"/api/v1/seals/{es_id}", headers=admin)
    assert got.status_code == 200
    body = got.get_json()
    png = base64.b64decode(body["picture"]["data"])
    assert png.startswith(b"\x89PNG") and body["picture"]["width_mm"] == 40
    picture = client.get(f"/api/v1/seals/{es_id}/picture.png", headers=admin)
    assert picture.mimetype == "image/png" and picture.data == png
    esl = client.get(f"/api/v1/seals/{es_id}/seal.esl", headers=admin)
    assert esl.status_code == 200 and esl.mimetype == "application/octet-stream"
    parsed = ses.parse_seal(esl.data, lenient=False)
    assert parsed.es_id == es_id and parsed.picture.data == png
    assert ses.verify_seal(parsed) == ()
    assert sm3(esl.data).hex() == body["seal_sm3"]


def test_create_with_a_given_signer_certificate_in_pem(
    client: FlaskClient, admin: dict[str, str], pki: TrustService
) -> None:
    issued = pki.ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "seal-signer",
        subject={"organization": ORG_NAME, "uscc": ORG, "common_name": "UKey"},
        actor="test",
    )
    certificate = pem.armor("CERTIFICATE", issued.der).decode()
    made = _create(client, admin, signer_certificate=certificate)
    signer = made["signers"][0]  # type: ignore[index]
    assert signer["certificate"] == certificate
    assert signer["issued_by_us"] is True and signer["key_in_store"] is False


def test_create_refuses_bad_bodies(client: FlaskClient, admin: dict[str, str]) -> None:
    _problem(client.post("/api/v1/seals", data="x", headers=admin), 415, "unsupported-media-type")
    _problem(client.post("/api/v1/seals", json={"org_uscc": ORG}, headers=admin), 400, "invalid-input")
    _problem(
        client.post(
            "/api/v1/seals", json={"org_uscc": ORG, "org_name": "x", "kind": "x", "y": 1}, headers=admin
        ),
        400,
        "invalid-input",
    )
    _problem(
        client.post(
            "/api/v1/seals",
            json={"org_uscc": ORG, "org_name": ORG_NAME, "kind": 4, "signer_certificate": "nope"},
            headers=admin,
        ),
        400,
        "invalid-input",
    )


def test_list_filters_and_shows_other_keys_only_their_granted_seals(
    client: FlaskClient, admin: dict[str, str], pki: TrustService
) -> None:
    clerk_headers, clerk = _key(pki, "business-system")
    a = _create(client, admin, grants=[clerk])["es_id"]
    b = _create(client, admin, org_uscc="11330105002500287C", org_name="某某大学", kind="finance")["es_id"]
    listed = client.get("/api/v1/seals", headers=admin).get_json()["seals"]
    assert [s["es_id"] for s in listed] == [b, a]
    assert [
        s["es_id"] for s in client.get(f"/api/v1/seals?org={ORG}", headers=admin).get_json()["seals"]
    ] == [a]
    assert [s["es_id"] for s in client.get("/api/v1/seals?kind=2", headers=admin).get_json()["seals"]] == [b]
    assert [s["es_id"] for s in client.get("/api/v1/seals", headers=clerk_headers).get_json()["seals"]] == [a]
    assert client.get(f"/api/v1/seals/{a}", headers=clerk_headers).status_code == 200
    _problem(client.get(f"/api/v1/seals/{b}", headers=clerk_headers), 403, "forbidden")
    _problem(client.get(f"/api/v1/seals/{b}/seal.esl", headers=clerk_headers), 403, "forbidden")
    _problem(client.get("/api/v1/seals?status=lost", headers=admin), 400, "invalid-input")


def test_seal_routes_need_a_key_and_the_right_role(
    client: FlaskClient, admin: dict[str, str], pki: TrustService
) -> None:
    es_id = _create(client, admin)["es_id"]
    auditor = _key(pki, "auditor")[0]
    ca_operator = _key(pki, "ca-operator")[0]
    _problem(client.get("/api/v1/seals"), 401, "unauthorized")
    _problem(client.get(f"/api/v1/seals/{es_id}"), 401, "unauthorized")
    _problem(client.post("/api/v1/seals", json={}), 401, "unauthorized")
    _problem(client.post(f"/api/v1/seals/{es_id}/revoke", json={"reason": "x"}), 401, "unauthorized")
    _problem(client.post("/api/v1/seals", json={}, headers=auditor), 403, "forbidden")
    _problem(
        client.post(f"/api/v1/seals/{es_id}/suspend", json={"reason": "x"}, headers=auditor), 403, "forbidden"
    )
    _problem(client.post("/api/v1/seals", json={}, headers=ca_operator), 403, "forbidden")
    assert client.get(f"/api/v1/seals/{es_id}", headers=auditor).status_code == 200
    _problem(client.get(f"/api/v1/seals/{es_id}", headers=ca_operator), 403, "forbidden")
    _problem(client.get("/api/v1/seals/110000000000017", headers=admin), 404, "not-found")


# --- lifecycle -----------------------------------------------------------------------------------


def test_suspend_resume_revoke_over_http(
    client: FlaskClient, admin: dict[str, str], clock: FakeClock
) -> None:
    es_id = _create(client, admin)["es_id"]
    clock.advance(minutes=1)
    suspended = client.post(f"/api/v1/seals/{es_id}/suspend", json={"reason": "调查"}, headers=admin)
    assert suspended.status_code == 200
    assert suspended.get_json()["status"] == "suspended" and suspended.get_json()["reason"] == "调查"
    _problem(client.post(f"/api/v1/seals/{es_id}/suspend", json={}, headers=admin), 400, "invalid-input")
    resumed = client.post(f"/api/v1/seals/{es_id}/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    revoked = client.post(f"/api/v1/seals/{es_id}/revoke", json={"reason": "注销"}, headers=admin)
    assert revoked.get_json()["status"] == "revoked"
    body = _problem(client.post(f"/api/v1/seals/{es_id}/resume", headers=admin), 409, "invalid-state")
    assert body["seal_status"] == "revoked" and "revocation is final" in str(body["detail"])
    events = client.get(f"/api/v1/seals/{es_id}", headers=admin).get_json()["events"]
    assert [e["to_status"] for e in events] == ["active", "suspended", "active", "revoked"]


def test_grants_and_signers_over_http(client: FlaskClient, admin: dict[str, str], pki: TrustService) -> None:
    _, clerk = _key(pki, "clerk")
    es_id = _create(client, admin)["es_id"]
    granted = client.post(f"/api/v1/seals/{es_id}/grants", json={"principal": clerk}, headers=admin)
    assert granted.status_code == 200
    assert granted.get_json()["grants"] == [
        {"principal": clerk, "role": "sign", "granted_at": granted.get_json()["grants"][0]["granted_at"]}
    ]
    assert pki.seals.signing_key_for(str(es_id), clerk).seal_der
    withdrawn = client.delete(f"/api/v1/seals/{es_id}/grants/{clerk}", headers=admin)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["grants"] == []
    _problem(client.delete(f"/api/v1/seals/{es_id}/grants/{clerk}", headers=admin), 404, "not-found")

    added = client.post(
        f"/api/v1/seals/{es_id}/signers", json={"department": "财务部"}, headers=admin
    ).get_json()
    assert added["version"] == 2 and len(added["signers"]) == 2
    second = added["signers"][1]["cert_sm3"]
    removed = client.delete(
        f"/api/v1/seals/{es_id}/signers/{second}?revoke_certificate=true", headers=admin
    ).get_json()
    assert removed["version"] == 3 and len(removed["signers"]) == 1
    assert [v["superseded_at"] is None for v in removed["versions"]] == [False, False, True]


# --- public status -------------------------------------------------------------------------------


def test_public_status_is_signed_verifiable_and_cacheable(
    client: FlaskClient, admin: dict[str, str], pki: TrustService, clock: FakeClock
) -> None:
    made = _create(client, admin)
    es_id = made["es_id"]
    response = client.get(f"/seals/{es_id}/status")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.cache_control.public and 0 < response.cache_control.max_age <= 60
    statement = _statement(response.data)
    assert statement["es_id"] == es_id and statement["status"] == "active"
    assert statement["since"] == made["since"] and statement["seal"] == {
        "version": 1,
        "sm3": made["seal_sm3"],
    }
    etag = response.headers["ETag"]
    again = client.get(f"/seals/{es_id}/status", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""

    when = clock.advance(seconds=5).replace(microsecond=0)
    client.post(f"/api/v1/seals/{es_id}/revoke", json={"reason": "印章遗失"}, headers=admin)
    after = client.get(f"/seals/{es_id}/status", headers={"If-None-Match": etag})
    assert after.status_code == 200
    statement = _statement(after.data)
    assert statement["status"] == "revoked"
    assert statement["since"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "印章遗失" not in after.get_data(as_text=True)


def test_public_status_with_a_nonce_is_fresh_and_not_cacheable(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    es_id = _create(client, admin)["es_id"]
    response = client.get(f"/seals/{es_id}/status?nonce=n-0001")
    assert response.cache_control.no_store
    assert _statement(response.data)["nonce"] == "n-0001"
    _problem(client.get(f"/seals/{es_id}/status?nonce=bad%20nonce"), 400, "invalid-input")


def test_public_status_reports_expiry(client: FlaskClient, admin: dict[str, str], clock: FakeClock) -> None:
    made = _create(client, admin, validity_days=1)
    clock.advance(timedelta(days=2))
    statement = _statement(client.get(f"/seals/{made['es_id']}/status").data)
    assert statement["status"] == "expired" and statement["since"] == made["valid_end"]


def test_status_of_an_unknown_seal_is_a_404_problem(client: FlaskClient, pki: TrustService) -> None:
    _problem(client.get("/seals/110000000000017/status"), 404, "not-found")


def test_openapi_documents_the_seal_routes(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "get" in paths["/seals/{es_id}/status"]
    assert {"get", "post"} <= set(paths["/api/v1/seals"])
    for suffix in ("suspend", "resume", "revoke", "grants", "signers"):
        assert "post" in paths[f"/api/v1/seals/{{es_id}}/{suffix}"]
